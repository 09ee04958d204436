"""Australia: FIFO / specific identification parcels, the 12-month discount boundary (local dates,
leap years), net capital gain with losses before the discount, income year 1 July - 30 June."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from taxreport.errors import InputError, MissingDataError
from taxreport.jurisdictions import base
from taxreport.jurisdictions.au import JURISDICTION as AU
from taxreport.jurisdictions.au import discount_eligible, net_capital_gain
from taxreport.lots.types import Acquisition, Disposal

D = Decimal
SYD = "Australia/Sydney"


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def buy(when, qty, cost, key, asset="BTC", account="okx"):
    return Acquisition(time=t(when), account=account, asset=asset, quantity=D(qty), cost=D(cost),
                       event_key=key, leg_index=0)


def sell(when, qty, proceeds, key, asset="BTC", account="okx", fee="0"):
    return Disposal(time=t(when), account=account, asset=asset, quantity=D(qty), proceeds=D(proceeds),
                    fee=D(fee), event_key=key, leg_index=0)


def test_discount_after_losses_ato_kathleen_example():
    # ATO Guide to CGT 2002-03, step 9 ("Kathleen"): a $520 gain not eligible for the discount (held
    # < 12 months), a $3,000 discount gain, a $600 current-year loss and a $400 prior-year loss.
    #   520 - 600 = -80 ; 3,000 - 80 = 2,920 ; 2,920 - 400 = 2,520 ; 2,520 x 50% = $1,260.
    moves = [buy("2023-01-10T02:00:00", "1", "1000", "a1", "AAA"),
             buy("2024-07-15T02:00:00", "1", "1000", "b1", "BBB"),
             buy("2024-07-20T02:00:00", "1", "2000", "c1", "CCC"),
             sell("2024-08-01T02:00:00", "1", "4000", "a2", "AAA"),  # held > 12 months: +3,000 discount
             sell("2024-09-01T02:00:00", "1", "1520", "b2", "BBB"),  # +520 non-discount
             sell("2024-10-01T02:00:00", "1", "1400", "c2", "CCC")]  # -600
    s = AU.compute(moves, year="2024-25", options={"losses_brought_forward": D("400")})
    assert [(r.asset, r.term, r.gain) for r in s.disposals] == [
        ("AAA", "long", D("3000")), ("BBB", "short", D("520")), ("CCC", "short", D("-600"))]
    b = s.breakdown
    assert (b.non_discount_gains, b.discount_gains, b.capital_losses) == (D("520"), D("3000"), D("600"))
    assert (b.steps.non_discount_gains_after_losses, b.steps.discount_gains_after_losses) == (D("0"), D("2520"))
    assert b.steps.discount_amount == D("1260")
    assert s.taxable_gain == D("1260")
    assert b.steps.net_capital_loss_carried_forward == D("0")
    assert (s.year, s.currency, s.allowance) == ("2024-25", "AUD", D("0"))


def test_losses_go_to_non_discount_gains_first_and_carry_forward():
    # Non-discount 1,000, discount 10,000, losses 3,000: 1,000 - 1,000 = 0; 10,000 - 2,000 = 8,000;
    # x 50% -> net $4,000 (losses on the discount gain first would give 1,000 + 7,000 x 50% = $4,500).
    steps = net_capital_gain(D("1000"), D("10000"), D("3000"), D("0"), D("0.5"))
    assert (steps.discount_gains_after_losses, steps.net_capital_gain) == (D("8000"), D("4000"))
    # Losses larger than all gains: 100 + 200 gains, 500 current losses, 50 prior: gains absorbed by 300 of
    # the current losses; carried forward (500 - 300) + 50 = $250; net 0.
    steps = net_capital_gain(D("100"), D("200"), D("500"), D("50"), D("0.5"))
    assert (steps.net_capital_gain, steps.net_capital_loss_carried_forward) == (D("0"), D("250"))


def test_discount_boundary_excludes_both_days_on_sydney_dates():
    # Acquired 2023-06-14T15:00Z = 15 Jun 2023 01:00 AEST. Anniversary 15 Jun 2024 (a 366-day year).
    # Sold 2024-06-15T13:59Z = 15 Jun 23:59 AEST -> only 12 months including the sale day: no discount.
    # Sold 2024-06-15T14:00Z = 16 Jun 00:00 AEST -> eligible.
    acquired = t("2023-06-14T15:00:00")
    assert not discount_eligible(acquired, t("2024-06-15T13:59:00"), SYD)
    assert discount_eligible(acquired, t("2024-06-15T14:00:00"), SYD)
    # Leap day: acquired 29 Feb 2024 (Sydney) -> anniversary 28 Feb 2025; sold 28 Feb: no; 1 Mar: yes.
    leap = t("2024-02-29T01:00:00")
    assert not discount_eligible(leap, t("2025-02-28T01:00:00"), SYD)
    assert discount_eligible(leap, t("2025-03-01T01:00:00"), SYD)
    # ATO's own example: acquired 2 Feb 2001 -> discount from 3 Feb 2002.
    assert not discount_eligible(t("2001-02-02T01:00:00"), t("2002-02-02T01:00:00"), SYD)
    assert discount_eligible(t("2001-02-02T01:00:00"), t("2002-02-03T01:00:00"), SYD)


def two_lots():
    return [buy("2022-01-10T02:00:00", "1", "30000", "b1", account="A"),
            buy("2024-03-01T02:00:00", "1", "90000", "b2", account="B"),
            sell("2024-09-01T02:00:00", "1.5", "150000", "s", account="A", fee="150")]


def test_fifo_over_all_accounts_splits_a_disposal_into_parcels():
    # FIFO over both accounts: 1 BTC of b1 (2022, discount) then 0.5 of b2 (2024, no discount).
    # Proceeds shared by quantity: b1 gets 150,000 x 1/1.5 = 100,000 less fee 100 = 99,900 -> gain 69,900;
    # b2 gets the rest 50,000 less 50 = 49,950, cost 90,000 x 0.5 = 45,000 -> gain 4,950.
    # Net capital gain = 4,950 + 69,900 x 50% = 4,950 + 34,950 = $39,900.
    s = AU.compute(two_lots(), year="2024-25")
    r1, r2 = s.disposals
    assert (r1.lots[0].lot_ref, r1.term, r1.proceeds, r1.cost, r1.gain) == (
        "b1#0", "long", D("99900"), D("30000"), D("69900"))
    assert (r2.lots[0].lot_ref, r2.term, r2.proceeds, r2.cost, r2.gain) == (
        "b2#0", "short", D("49950"), D("45000"), D("4950"))
    assert s.taxable_gain == D("39900")
    [left] = s.open_lots
    assert (left.lot_ref, left.quantity, left.cost) == ("b2#0", D("0.5"), D("45000"))


def test_specific_identification_names_the_parcels():
    # Named: all of b2 first (1 BTC, cost 90,000, short), then 0.5 of b1 (cost 15,000, long).
    # b2: 99,900 - 90,000 = 9,900; b1: 49,950 - 15,000 = 34,950. Net = 9,900 + 34,950 x 50% = $27,375.
    sel = {"s#0": [("b2#0", None), ("b1#0", None)]}
    s = AU.compute(two_lots(), year="2024-25", method="specific", options={"selections": sel})
    assert [(r.lots[0].lot_ref, r.term, r.gain) for r in s.disposals] == [
        ("b2#0", "short", D("9900")), ("b1#0", "long", D("34950"))]
    assert s.taxable_gain == D("27375")
    with pytest.raises(MissingDataError, match="cover only"):
        AU.compute(two_lots(), year="2024-25", method="specific", options={"selections": {"s#0": [("b2#0", None)]}})


def test_income_year_runs_1_july_to_30_june_on_sydney_dates():
    # 2024-06-30T13:30Z = 30 Jun 23:30 AEST -> 2023-24; 2024-06-30T14:30Z = 1 Jul 00:30 AEST -> 2024-25.
    moves = [buy("2024-01-10T02:00:00", "2", "2000", "b"),
             sell("2024-06-30T13:30:00", "1", "1500", "late"), sell("2024-06-30T14:30:00", "1", "1700", "early")]
    assert [r.event_key for r in AU.compute(moves, year="2023-24").disposals] == ["late#0"]
    s = AU.compute(moves, year="2024-25")
    assert [r.event_key for r in s.disposals] == ["early#0"]
    assert s.year_start == t("2024-06-30T14:00:00")  # midnight AEST
    assert s.taxable_gain == D("700")  # 1,700 - 1,000, held under 12 months


def test_errors_and_registration():
    with pytest.raises(InputError, match="method"):
        AU.compute([], year="2024-25", method="hifo")
    with pytest.raises(InputError):
        AU.compute([], year="2024")
    with pytest.raises(MissingDataError, match="short by 1"):
        AU.compute([buy("2024-08-01T02:00:00", "1", "10", "b"), sell("2024-09-01T02:00:00", "2", "30", "s")],
                   year="2024-25")
    assert base.get("au") is AU and (AU.currency, AU.timezone) == ("AUD", SYD)


def test_account_filter_is_respected():
    # Two accounts, parcels pooled over both (scope universal). In 2024-25: A sells 1 BTC bought for
    # $100 at $300 (gain $200, held < 12 months); B sells 1 BTC bought for $100 at $60 (loss $40).
    # --account A: only A's disposal, net capital gain $200 (the note says the return nets every account).
    from datetime import datetime, timezone
    from decimal import Decimal

    from taxreport.gains import compute_gains_from_events
    from taxreport.model.events import Trade
    from taxreport.prices.rates import RateTable

    def tr(when, side, price, acct, tid):  # noqa: ANN001, ANN202
        return Trade(time=datetime.fromisoformat(when).replace(tzinfo=timezone.utc), source="t", external_id=tid,
                     account=acct, side=side, base="BTC", quote="AUD", quantity=Decimal(1), price=Decimal(price))

    events = [tr("2024-08-01T02:00:00", "buy", "100", "A", "1"), tr("2024-08-01T02:00:00", "buy", "100", "B", "2"),
              tr("2024-10-01T02:00:00", "sell", "300", "A", "3"), tr("2024-10-02T02:00:00", "sell", "60", "B", "4")]
    s = compute_gains_from_events(events, RateTable(), jurisdiction="au", year="2024-25", accounts=["A"])
    assert [(d.account, d.gain) for d in s.disposals] == [("A", Decimal(200))]
    assert s.taxable_gain == Decimal(200)
    assert any("run without --account" in n for n in s.notes)
    whole = compute_gains_from_events(events, RateTable(), jurisdiction="au", year="2024-25")
    assert whole.taxable_gain == Decimal(160)  # 200 - 40
