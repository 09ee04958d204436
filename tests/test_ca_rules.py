"""Canada: average-cost ACB over all accounts, superficial losses (full, partial, not superficial),
the 1/2 inclusion rate, and local calendar dates (America/Toronto). Arithmetic by hand in comments."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxreport.errors import InputError, MissingDataError
from taxreport.jurisdictions import base
from taxreport.jurisdictions.ca import JURISDICTION as CA
from taxreport.jurisdictions.ca import SuperficialTest, match_ca
from taxreport.lots.types import Acquisition, Disposal

D = Decimal


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def buy(when, qty, cost, key, asset="ETH", account="okx"):
    return Acquisition(time=t(when), account=account, asset=asset, quantity=D(qty), cost=D(cost),
                       event_key=key, leg_index=0)


def sell(when, qty, proceeds, key, asset="ETH", account="okx", fee="0"):
    return Disposal(time=t(when), account=account, asset=asset, quantity=D(qty), proceeds=D(proceeds),
                    fee=D(fee), event_key=key, leg_index=0)


def test_plain_average_cost_across_accounts():
    # Buy 2 BTC for $80,000 (fee included) in A and 1 BTC for $55,000 in B: one pool, 3 BTC / $135,000,
    # ACB $45,000 per BTC.
    # Sell 1.5 BTC from A for $90,000 with $90 outlays: ACB 1.5 x 45,000 = $67,500;
    #   gain = 90,000 - 67,500 - 90 = $22,410. Pool 1.5 / $67,500: still $45,000 per BTC.
    # Buy 0.5 for $30,000: pool 2 / $97,500, ACB $48,750 per BTC.
    # Sell 1 at 2025-01-01T03:00Z (22:00 on 31 Dec 2024 in Toronto -> tax year 2024) for $50,000:
    #   ACB $48,750, gain $1,250.
    # 2024: net gain 22,410 + 1,250 = $23,660; taxable capital gain 1/2 = $11,830.
    moves = [buy("2024-01-10T15:00:00", "2", "80000", "b1", "BTC", "A"),
             buy("2024-03-05T15:00:00", "1", "55000", "b2", "BTC", "B"),
             sell("2024-06-01T15:00:00", "1.5", "90000", "s1", "BTC", "A", fee="90"),
             buy("2024-09-01T15:00:00", "0.5", "30000", "b3", "BTC", "B"),
             sell("2025-01-01T03:00:00", "1", "50000", "s2", "BTC", "B")]
    s = CA.compute(moves, year="2024")
    r1, r2 = s.disposals
    assert (r1.proceeds, r1.cost, r1.gain) == (D("89910"), D("67500"), D("22410"))
    assert (r1.detail.gross_proceeds, r1.detail.outlays, r1.detail.acb_per_unit) == (
        D("90000"), D("90"), D("45000"))
    assert (r1.detail.pool_quantity_after, r1.detail.pool_cost_after) == (D("1.5"), D("67500"))
    assert (r2.event_key, r2.cost, r2.gain) == ("s2#0", D("48750"), D("1250"))
    assert (s.gain, s.taxable_gain, s.breakdown.inclusion_rate) == (D("23660"), D("11830"), D("0.5"))
    assert s.breakdown.schedule3_proceeds == D("140000")
    assert s.breakdown.schedule3_outlays == D("90")
    [pool] = s.open_lots
    assert (pool.asset, pool.quantity, pool.cost) == ("BTC", D("1"), D("48750"))
    assert CA.compute(moves, year="2025").disposals == []  # 31 Dec local, not 1 Jan


def test_full_superficial_loss_is_added_to_the_repurchased_units():
    # Buy 10 ETH for $40,000 (ACB $4,000). Sell all 10 on 1 May for $30,000: loss $10,000.
    # Buy 10 back on 20 May for $31,000 (within 30 days) and still hold them on 31 May (day 30).
    # S = 10, P = 10 (window 1 Apr - 31 May), B = 10 -> min 10 -> denied 10,000 x 10/10 = $10,000: gain 0.
    # The 20 May units get ACB 31,000 + 10,000 = $41,000. Sell them on 1 Aug for $45,000: gain $4,000.
    # 2024: net 0 + 4,000 = $4,000; taxable 1/2 = $2,000; denied $10,000.
    moves = [buy("2024-01-10T15:00:00", "10", "40000", "b1"),
             sell("2024-05-01T15:00:00", "10", "30000", "s1"),
             buy("2024-05-20T15:00:00", "10", "31000", "b2"),
             sell("2024-08-01T15:00:00", "10", "45000", "s2")]
    s = CA.compute(moves, year="2024")
    r1, r2 = s.disposals
    assert (r1.cost, r1.adjustment, r1.gain, r1.adjustment_code) == (D("40000"), D("10000"), D("0"),
                                                                      "superficial loss")
    assert r1.detail.superficial_test == SuperficialTest(sold=D("10"), acquired_in_period=D("10"),
                                                         held_at_period_end=D("10"))
    assert (r2.cost, r2.gain) == (D("41000"), D("4000"))
    assert (s.gain, s.taxable_gain, s.breakdown.superficial_losses_denied) == (D("4000"), D("2000"), D("10000"))
    assert s.losses == 0


def test_partial_superficial_loss_it456r_proportions():
    # CRA IT-456R para. 12 proportions: hold 50, sell 20 at a loss, reacquire 15 in the period, 45 held.
    # Buy 50 for $5,000 (ACB $100). Sell 20 on 1 Mar for $1,400: ACB $2,000, loss $600.
    # Buy 15 on 15 Mar for $1,200. Window 31 Jan - 31 Mar: P = 15, B = 30 + 15 = 45, S = 20.
    # Denied = 600 x min(20, 15, 45)/20 = 600 x 15/20 = $450; allowed loss 600 - 450 = $150.
    # Pool after 15 Mar: 30 units / $3,000 + 15 / $1,200 + $450 = 45 units / $4,650.
    moves = [buy("2024-01-10T15:00:00", "50", "5000", "b1"),
             sell("2024-03-01T15:00:00", "20", "1400", "s1"),
             buy("2024-03-15T15:00:00", "15", "1200", "b2")]
    s = CA.compute(moves, year="2024")
    [r] = s.disposals
    assert (r.cost, r.adjustment, r.gain) == (D("2000"), D("450"), D("-150"))
    [pool] = s.open_lots
    assert (pool.quantity, pool.cost) == (D("45"), D("4650"))
    assert (s.gain, s.losses, s.taxable_gain, s.breakdown.allowable_capital_loss) == (
        D("-150"), D("150"), D("0"), D("75"))


def test_loss_not_superficial_when_the_units_are_sold_again_before_day_30():
    # Buy 10 for $40,000; sell 10 on 1 May for $30,000 (loss $10,000); buy 10 on 10 May for $31,000;
    # sell those 10 on 25 May for $32,000. Held at the end of 31 May (day 30): 0 -> B = 0, not superficial:
    # the $10,000 loss stands. Second sale: ACB $31,000, gain $1,000. Net -10,000 + 1,000 = -$9,000.
    moves = [buy("2024-01-10T15:00:00", "10", "40000", "b1"),
             sell("2024-05-01T15:00:00", "10", "30000", "s1"),
             buy("2024-05-10T15:00:00", "10", "31000", "b2"),
             sell("2024-05-25T15:00:00", "10", "32000", "s2")]
    s = CA.compute(moves, year="2024")
    r1, r2 = s.disposals
    assert (r1.adjustment, r1.gain) == (D("0"), D("-10000"))
    assert r1.detail.superficial_test.held_at_period_end == 0
    assert (r2.cost, r2.gain) == (D("31000"), D("1000"))
    assert (s.gain, s.taxable_gain, s.breakdown.superficial_losses_denied) == (D("-9000"), D("0"), D("0"))


def test_repurchase_on_day_31_is_outside_the_period():
    # Sell 10 on 1 May at a $10,000 loss (as above), buy 10 back on 1 June = day 31: P = 0 -> loss allowed.
    # Bought on 31 May (day 30) instead: denied in full.
    base_moves = [buy("2024-01-10T15:00:00", "10", "40000", "b1"), sell("2024-05-01T15:00:00", "10", "30000", "s1")]
    [r] = CA.compute(base_moves + [buy("2024-06-01T15:00:00", "10", "31000", "b2")], year="2024").disposals
    assert (r.adjustment, r.gain) == (D("0"), D("-10000"))
    [r] = CA.compute(base_moves + [buy("2024-05-31T15:00:00", "10", "31000", "b2")], year="2024").disposals
    assert (r.adjustment, r.gain) == (D("10000"), D("0"))


def test_bought_in_the_30_days_before_and_partly_sold_is_superficial():
    # Hold nothing; buy 10 on 1 Apr for $40,000 (ACB $4,000); sell 5 on 1 May for $15,000: ACB $20,000,
    # loss $5,000. S = 5, P = 10 (1 Apr is day -30, inside), B = 5 -> min 5 -> all $5,000 denied, added
    # at once to the 5 units still held (no purchase after the sale): pool 5 / 20,000 + 5,000 = $25,000.
    moves = [buy("2024-04-01T15:00:00", "10", "40000", "b1"), sell("2024-05-01T15:00:00", "5", "15000", "s1")]
    s = CA.compute(moves, year="2024")
    [r] = s.disposals
    assert (r.adjustment, r.gain) == (D("5000"), D("0"))
    assert (r.detail.pool_quantity_after, r.detail.pool_cost_after) == (D("5"), D("25000"))


def test_errors_and_registration():
    with pytest.raises(InputError, match="2000"):
        CA.compute([], year="2000")
    with pytest.raises(InputError, match="acb"):
        CA.compute([], year="2024", method="fifo")
    with pytest.raises(InputError):
        CA.compute([], year="2024-25")
    with pytest.raises(MissingDataError, match=r"s1#0.*shortfall 2"):
        CA.compute([buy("2024-01-10T15:00:00", "1", "100", "b1"), sell("2024-02-10T15:00:00", "3", "600", "s1")],
                   year="2024")
    # Zero cost allowed: 1 unit at $100 + 2 at $0 -> ACB $100, gain 600 - 100 = $500.
    [r] = CA.compute([buy("2024-01-10T15:00:00", "1", "100", "b1"), sell("2024-02-10T15:00:00", "3", "600", "s1")],
                     year="2024", options={"zero_cost_assets": ["ETH"]}).disposals
    assert (r.cost, r.gain) == (D("100"), D("500"))
    assert base.get("ca") is CA and (CA.currency, CA.timezone) == ("CAD", "America/Toronto")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 90), st.booleans(), st.integers(1, 40), st.integers(1, 9999)),
                min_size=1, max_size=30))
def test_acb_is_conserved_including_denied_losses(evs):
    # For any sequence (zero cost allowed for oversells): ACB of all disposals + ACB left in the pool
    # == cost of all acquisitions + superficial losses denied (they move into the pool's ACB);
    # each disposal's gain == proceeds - ACB + denied.
    start = t("2024-01-01T15:00:00")
    moves = []
    for i, (day, is_buy, qty, amount) in enumerate(sorted(evs, key=lambda e: e[0])):
        when = start + timedelta(days=day, minutes=i)
        if is_buy:
            moves.append(Acquisition(time=when, account="x", asset="ETH", quantity=D(qty) / 3, cost=D(amount),
                                     event_key=f"e{i}", leg_index=0))
        else:
            moves.append(Disposal(time=when, account="x", asset="ETH", quantity=D(qty) / 7, proceeds=D(amount),
                                  fee=D(0), event_key=f"e{i}", leg_index=0))
    matched, history = match_ca(moves, tz="America/Toronto", zero_cost_assets=["ETH"])
    acquired = sum((m.cost for m in moves if isinstance(m, Acquisition)), D(0))
    disposed = sum((r.cost for r in matched), D(0))
    denied = sum((r.denied for r in matched), D(0))
    left = history[-1].cost if history else D(0)
    assert abs(disposed + left - acquired - denied) < D("1e-30")
    for r in matched:
        assert r.denied >= 0
        assert r.denied <= max(r.cost - (r.disposal.proceeds - r.disposal.fee), D(0)) + D("1e-30")


def test_schedule3_figures_foot_when_a_superficial_loss_is_denied():
    # The partial case above (IT-456R para. 12): proceeds $1,400, ACB $2,000, outlays $0, denied $450,
    # reported loss -$150. Schedule 3 must foot: proceeds - ACB - outlays = gain, so the ACB reported on
    # this line is 2,000 - 450 = $1,550 (the denied $450 went to the substituted units' ACB):
    # 1,400 - 1,550 - 0 = -150.
    moves = [buy("2024-01-10T15:00:00", "50", "5000", "b1"),
             sell("2024-03-01T15:00:00", "20", "1400", "s1"),
             buy("2024-03-15T15:00:00", "15", "1200", "b2")]
    b = CA.compute(moves, year="2024").breakdown
    assert (b.schedule3_proceeds, b.schedule3_acb, b.schedule3_outlays, b.schedule3_gain) == (
        D("1400"), D("1550"), D("0"), D("-150"))
    assert b.schedule3_proceeds - b.schedule3_acb - b.schedule3_outlays == b.schedule3_gain
