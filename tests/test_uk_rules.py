"""UK rules beyond HMRC's examples: all three rules in one year with fees and the annual exempt
amount, the 6 April boundary on UK local dates, pooling across accounts, errors, and conservation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxreport.errors import InputError, MissingDataError
from taxreport.jurisdictions import base
from taxreport.jurisdictions.uk import ANNUAL_EXEMPT_AMOUNT
from taxreport.jurisdictions.uk import JURISDICTION as UK
from taxreport.jurisdictions.uk_matching import match_uk
from taxreport.lots.types import Acquisition, Disposal, Move

D = Decimal


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def buy(when, qty, cost, key, asset="BTC", account="okx"):
    return Acquisition(time=t(when), account=account, asset=asset, quantity=D(qty), cost=D(cost),
                       event_key=key, leg_index=0)


def sell(when, qty, proceeds, key, asset="BTC", account="okx", fee="0"):
    return Disposal(time=t(when), account=account, asset=asset, quantity=D(qty), proceeds=D(proceeds),
                    fee=D(fee), event_key=key, leg_index=0)


def combined_year():
    return [
        buy("2024-05-01T12:00:00", "2", "60000", "b1", account="A"),
        buy("2024-06-10T12:00:00", "1", "33000", "b2", account="B"),
        sell("2024-07-01T10:00:00", "1.5", "54000", "s1", account="A", fee="54"),
        buy("2024-07-01T15:00:00", "0.5", "17500", "b3", account="B"),
        buy("2024-07-15T12:00:00", "0.25", "9000", "b4", account="A"),
        sell("2024-09-01T12:00:00", "1", "40000", "s2", account="B", fee="40"),
    ]


def test_same_day_thirty_day_and_pool_in_one_year_with_fees_and_allowance():
    # Pool before July (both accounts, one pool): 2 + 1 = 3 BTC, £60,000 + £33,000 = £93,000.
    # 1 Jul: sell 1.5 for £54,000, fee £54 -> net proceeds £53,946.
    #   same day: 0.5 bought that afternoon, £17,500
    #   30 days:  0.25 bought 15 Jul,        £9,000
    #   s104:     0.75 x 93,000/3 =          £23,250
    #   cost £49,750; gain 53,946 - 49,750 = £4,196; pool after 2.25 / £69,750.
    # 1 Sep: sell 1 for £40,000, fee £40 -> net £39,960; s104 cost 69,750 x 1/2.25 = £31,000;
    #   gain £8,960; pool after 1.25 / £38,750.
    # Year 2024-25: net gain 4,196 + 8,960 = £13,156; annual exempt amount £3,000; taxable £10,156.
    # SA108: proceeds 54,000 + 40,000 = £94,000; allowable costs 49,750 + 54 + 31,000 + 40 = £80,844.
    s = UK.compute(combined_year(), year="2024-25")
    r1, r2 = s.disposals
    assert [(m.rule, m.quantity, m.cost) for m in r1.lots] == [
        ("same-day", D("0.5"), D("17500")), ("30-day", D("0.25"), D("9000")), ("s104", D("0.75"), D("23250"))]
    assert (r1.proceeds, r1.cost, r1.gain) == (D("53946"), D("49750"), D("4196"))
    assert r1.rule == "same-day+30-day+s104"
    assert (r1.detail.gross_proceeds, r1.detail.disposal_costs, r1.detail.allowable_costs) == (
        D("54000"), D("54"), D("49804"))
    assert (r1.detail.pool_quantity_after, r1.detail.pool_cost_after) == (D("2.25"), D("69750"))
    assert (r2.cost, r2.gain) == (D("31000"), D("8960"))
    assert (r2.detail.pool_quantity_after, r2.detail.pool_cost_after) == (D("1.25"), D("38750"))
    assert (s.gain, s.allowance, s.taxable_gain) == (D("13156"), D("3000"), D("10156"))
    assert s.breakdown.sa108_disposal_proceeds == D("94000")
    assert s.breakdown.sa108_allowable_costs == D("80844")
    assert s.breakdown.sa108_number_of_disposals == 2
    # cost by rule: same day 17,500; 30 days 9,000; pool 23,250 + 31,000 = 54,250
    assert s.breakdown.cost_by_rule == {"same-day": D("17500"), "30-day": D("9000"), "s104": D("54250")}
    [pool] = s.open_lots
    assert (pool.asset, pool.quantity, pool.cost) == ("BTC", D("1.25"), D("38750"))
    assert (s.year, s.currency, s.method) == ("2024-25", "GBP", "hmrc")


def test_losses_brought_forward_only_down_to_the_annual_exempt_amount():
    # Same year: net £13,156 - AEA £3,000 = £10,156 above the AEA. £20,000 brought forward:
    # £10,156 used, taxable 0, carried forward 20,000 - 10,156 = £9,844.
    s = UK.compute(combined_year(), year="2024-25", options={"losses_brought_forward": D("20000")})
    assert s.taxable_gain == 0
    assert s.breakdown.losses_brought_forward_used == D("10156")
    assert s.breakdown.losses_carried_forward == D("9844")
    assert s.breakdown.allowance_used == D("3000")


def test_tax_year_boundary_uses_uk_local_date():
    # 2024-04-05T22:30Z is 23:30 BST on 5 April -> 2023-24.
    # 2024-04-05T23:30Z is 00:30 BST on 6 April -> 2024-25.
    # Both sell 1 of a pool of 4 bought for £4,000: cost 4,000 x 1/4 = £1,000, proceeds £1,500, gain £500.
    moves = [buy("2023-01-10T12:00:00", "4", "4000", "b1"),
             sell("2024-04-05T22:30:00", "1", "1500", "late-5-april"),
             sell("2024-04-05T23:30:00", "1", "1500", "early-6-april")]
    y1 = UK.compute(moves, year="2023-24")
    y2 = UK.compute(moves, year="2024-25")
    assert [r.event_key for r in y1.disposals] == ["late-5-april#0"]
    assert [r.event_key for r in y2.disposals] == ["early-6-april#0"]
    assert y1.disposals[0].detail.local_date == "2024-04-05"
    assert y2.disposals[0].detail.local_date == "2024-04-06"
    assert y1.year_end == y2.year_start == t("2024-04-05T23:00:00")  # midnight BST
    # 2023-24: gain £500 < AEA £6,000 -> nothing taxable; 2024-25: £500 < £3,000 -> nothing taxable.
    assert (y1.gain, y1.allowance, y1.taxable_gain) == (D("500"), D("6000"), D("0"))
    assert (y2.gain, y2.allowance) == (D("500"), D("3000"))


def test_same_day_is_the_uk_local_day_not_the_utc_day():
    # Sell at 2024-07-01T23:30Z (00:30 BST on 2 July) and buy at 2024-07-02T10:00Z (2 July): same UK day,
    # so the sale is matched with that buy (1 BTC, £30,000), not with the pool (cost £10,000).
    # Gain = 31,000 - 30,000 = £1,000.
    moves = [buy("2024-01-10T12:00:00", "1", "10000", "old"),
             sell("2024-07-01T23:30:00", "1", "31000", "s"),
             buy("2024-07-02T10:00:00", "1", "30000", "new")]
    [r] = UK.compute(moves, year="2024-25").disposals
    assert (r.rule, r.cost, r.gain) == ("same-day", D("30000"), D("1000"))


def test_thirty_day_window_ends_on_day_thirty():
    # Sale on 1 Jul 2024. A buy on 31 Jul (day 30) is matched; a buy on 1 Aug (day 31) is not.
    # Pool 1 BTC / £10,000. Sale of 1 BTC for £20,000 matched with 31 Jul buy (1 BTC, £25,000): loss £5,000.
    base_moves = [buy("2024-01-10T12:00:00", "1", "10000", "old"), sell("2024-07-01T12:00:00", "1", "20000", "s")]
    [r] = UK.compute(base_moves + [buy("2024-07-31T12:00:00", "1", "25000", "d30")], year="2024-25").disposals
    assert (r.rule, r.cost, r.gain) == ("30-day", D("25000"), D("-5000"))
    # With the buy on 1 Aug instead: pool cost £10,000, gain £10,000.
    [r] = UK.compute(base_moves + [buy("2024-08-01T12:00:00", "1", "25000", "d31")], year="2024-25").disposals
    assert (r.rule, r.cost, r.gain) == ("s104", D("10000"), D("10000"))


def test_transfers_between_own_accounts_do_not_change_the_pool():
    # Buy 2 in A for £2,000; move 2 to B; sell 1 from B for £1,500: pool cost 2,000 x 1/2 = £1,000.
    moves = [buy("2024-05-01T12:00:00", "2", "2000", "b", account="A"),
             Move(time=t("2024-05-02T12:00:00"), asset="BTC", quantity=D("2"), from_account="A",
                  to_account="B", event_key="m", leg_index=0),
             sell("2024-06-20T12:00:00", "1", "1500", "s", account="B")]
    [r] = UK.compute(moves, year="2024-25").disposals
    assert (r.account, r.cost, r.gain) == ("B", D("1000"), D("500"))


def test_selling_more_than_held_is_an_error_unless_zero_cost_is_allowed():
    # Hold 1, sell 1.5: shortfall 0.5.
    moves = [buy("2024-05-01T12:00:00", "1", "1000", "b"), sell("2024-06-01T12:00:00", "1.5", "3000", "s")]
    with pytest.raises(MissingDataError, match=r"s#0.*shortfall 0\.5"):
        UK.compute(moves, year="2024-25")
    # Allowed: 1 at £1,000 from the pool + 0.5 at zero cost -> gain 3,000 - 1,000 = £2,000.
    [r] = UK.compute(moves, year="2024-25", options={"zero_cost_assets": ["BTC"]}).disposals
    assert [(m.rule, m.quantity, m.cost) for m in r.lots] == [("s104", D("1"), D("1000")),
                                                               ("zero-cost", D("0.5"), D("0"))]
    assert r.gain == D("2000")
    assert any("zero cost" in n for n in r.notes)


def test_annual_exempt_amount_table_and_unknown_year():
    # Finance Act 2023 s.8(4)-(5): £3,000 "for the tax year 2024-25 and subsequent tax years"; known good to
    # 2026-27 (the tax year in progress), later years are refused until the table is reviewed
    assert {y: ANNUAL_EXEMPT_AMOUNT.at(y) for y in (2020, 2022, 2023, 2024, 2025, 2026)} == {
        2020: D("12300"), 2022: D("12300"), 2023: D("6000"), 2024: D("3000"), 2025: D("3000"), 2026: D("3000")}
    with pytest.raises(InputError, match="2019-20"):
        UK.compute([], year="2019-20")
    with pytest.raises(InputError, match="2027-28"):
        UK.compute([], year="2027-28")
    with pytest.raises(InputError, match="2024-25"):
        UK.compute([], year="2024")  # a UK year is written 2024-25
    with pytest.raises(InputError, match="method"):
        UK.compute([], year="2024-25", method="fifo")


def test_registered_as_a_jurisdiction():
    assert base.get("uk") is UK
    assert "uk" in base.codes()
    assert (UK.currency, UK.timezone) == ("GBP", "Europe/London")
    assert UK.year_bounds("2024-2025") == UK.year_bounds("2024-25") == (t("2024-04-05T23:00:00"),
                                                                       t("2025-04-05T23:00:00"))


events = st.lists(
    st.tuples(st.integers(0, 60), st.integers(0, 23), st.booleans(), st.integers(1, 50), st.integers(1, 9999),
              st.sampled_from(["BTC", "ETH"])),
    min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(events)
def test_cost_and_quantity_are_conserved(evs):
    # For any sequence: cost matched (excluding zero-cost fill-ins) + cost left in the pool
    # == cost acquired, and quantity matched == quantity disposed, per token.
    start = t("2024-05-01T00:00:00")
    moves = []
    for i, (day, hour, is_buy, qty, amount, asset) in enumerate(sorted(evs, key=lambda e: (e[0], e[1]))):
        when = start + timedelta(days=day, hours=hour)
        if is_buy:
            moves.append(Acquisition(time=when, account="x", asset=asset, quantity=D(qty) / 7, cost=D(amount),
                                     event_key=f"e{i}", leg_index=0))
        else:
            moves.append(Disposal(time=when, account="x", asset=asset, quantity=D(qty) / 3, proceeds=D(amount),
                                  fee=D(0), event_key=f"e{i}", leg_index=0))
    groups, history = match_uk(moves, zero_cost_assets=["BTC", "ETH"])
    for asset in ("BTC", "ETH"):
        acquired = sum((m.cost for m in moves if isinstance(m, Acquisition) and m.asset == asset), D(0))
        disposed = sum((m.quantity for m in moves if isinstance(m, Disposal) and m.asset == asset), D(0))
        matched_cost = sum((lot.cost for g in groups if g.asset == asset for lot in g.lots), D(0))
        matched_qty = sum((lot.quantity for g in groups if g.asset == asset for lot in g.lots), D(0))
        pool = [h for h in history if h.asset == asset]
        left = pool[-1].cost if pool else D(0)
        assert abs(matched_cost + left - acquired) < D("1e-30")
        assert abs(matched_qty - disposed) < D("1e-30")


def test_deposit_without_basis_is_an_error_unless_it_returns_from_own_wallet():
    # Buy 2 (£2,000), withdraw 1 to own wallet, deposit 1 back: covered, pool unchanged (2 / £2,000).
    # Sell 1 for £1,500: cost £1,000, gain £500.
    back = [buy("2024-05-01T12:00:00", "2", "2000", "b"),
            Move(time=t("2024-05-02T12:00:00"), asset="BTC", quantity=D("1"), from_account="okx", to_account=None,
                 event_key="w", leg_index=0),
            Move(time=t("2024-05-09T12:00:00"), asset="BTC", quantity=D("1"), from_account=None, to_account="okx",
                 event_key="dep", leg_index=0),
            sell("2024-06-20T12:00:00", "1", "1500", "s")]
    [r] = UK.compute(back, year="2024-25").disposals
    assert (r.cost, r.gain) == (D("1000"), D("500"))
    # A deposit of 1.5 with only 1 withdrawn before: 0.5 BTC has no known cost -> error naming it.
    unknown = back[:2] + [Move(time=t("2024-05-09T12:00:00"), asset="BTC", quantity=D("1.5"), from_account=None,
                               to_account="okx", event_key="dep", leg_index=0), back[3]]
    with pytest.raises(MissingDataError, match=r"dep#0.*0\.5 BTC without cost basis"):
        UK.compute(unknown, year="2024-25")
    # Allowed at zero cost: pool 2 + 0.5 = 2.5 BTC / £2,000; sell 1: cost 2,000 x 1/2.5 = £800, gain £700.
    s = UK.compute(unknown, year="2024-25", options={"zero_cost_assets": ["BTC"]})
    assert (s.disposals[0].cost, s.disposals[0].gain) == (D("800"), D("700"))
    assert any("zero cost" in n for n in s.notes)


def test_losses_brought_forward_hmrc_cg18202_pattern():
    # HMRC CG18202 (1998-99, exempt amount £6,800): gains 8,000, losses b/f 3,500 -> 1,200 used, 2,300
    # carried. Same pattern in 2023-24 (£6,000): one gain of £8,000 (pool 1 BTC / £2,000 sold for £10,000),
    # losses b/f £3,500 -> used 8,000 - 6,000 = £2,000, taxable 0, carried 3,500 - 2,000 = £1,500.
    moves = [buy("2023-05-01T12:00:00", "1", "2000", "b"), sell("2023-08-01T12:00:00", "1", "10000", "s")]
    s = UK.compute(moves, year="2023-24", options={"losses_brought_forward": "3500"})
    assert (s.gain, s.allowance, s.taxable_gain) == (D("8000"), D("6000"), D("0"))
    assert (s.breakdown.losses_brought_forward_used, s.breakdown.losses_carried_forward) == (D("2000"), D("1500"))
    with pytest.raises(InputError, match="losses_brought_forward"):
        UK.compute(moves, year="2023-24", options={"losses_brought_forward": "-1"})


def test_2024_25_gains_split_at_the_30_october_2024_rate_change():
    # SA108 2024-25 wants gains and losses on or after 30 Oct 2024 apart (rates 10/20% -> 18/24%).
    # Pool: 10 TOK for £1,000 (£100 each). 29 Oct 23:30 UTC is 29 Oct in London (GMT after 27 Oct):
    # sell 2 for £300 -> gain £100, before. 30 Oct 00:30 UTC: sell 2 for £150 -> loss £50, on/after;
    # 5 Feb 2025: sell 1 for £400 -> gain £300, on/after.
    from taxreport.jurisdictions.uk import JURISDICTION as UK
    from taxreport.lots.types import Acquisition, Disposal

    def at(s):  # noqa: ANN001, ANN202
        return datetime.fromisoformat(s).replace(tzinfo=timezone.utc)

    moves = [Acquisition(at("2023-01-10T12:00:00"), "okx", "TOK", Decimal(10), Decimal(1000), "a", 0),
             Disposal(at("2024-10-29T23:30:00"), "okx", "TOK", Decimal(2), Decimal(300), Decimal(0), "d1", 0),
             Disposal(at("2024-10-30T00:30:00"), "okx", "TOK", Decimal(2), Decimal(150), Decimal(0), "d2", 0),
             Disposal(at("2025-02-05T12:00:00"), "okx", "TOK", Decimal(1), Decimal(400), Decimal(0), "d3", 0)]
    s = UK.compute(moves, year="2024-25")
    split = s.breakdown.sa108_rate_change_split
    assert split["before 30 Oct 2024"].as_dict() == {"gains": Decimal(100), "losses": Decimal(0), "net": Decimal(100),
                                                     "count": 1}
    assert split["on or after 30 Oct 2024"].as_dict() == {"gains": Decimal(300), "losses": Decimal(50),
                                                          "net": Decimal(250), "count": 2}
    assert "sa108_rate_change_split" not in UK.compute(moves[:1], year="2023-24").breakdown.as_dict()
