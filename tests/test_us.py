"""US rules: holding period (Pub. 544), short/long split, Form 8949 boxes and rows. Worked examples."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from taxreport.errors import InputError
from taxreport.gains import compute_gains_from_events
from taxreport.jurisdictions import base
from taxreport.jurisdictions.us import form8949_boxes
from taxreport.reports import form8949
from taxreport.model.events import Trade
from taxreport.prices.rates import RateTable

D = Decimal
UTC = timezone.utc
NO_RATES = RateTable()


def trade(when: str, side: str, qty: str, price: str, fee: str = "0", tid: str | None = None,
          account: str = "kraken:main", base_asset: str = "BTC") -> Trade:
    return Trade(time=datetime.fromisoformat(when).replace(tzinfo=UTC), source="t", external_id=tid or when + side,
                 account=account, side=side, base=base_asset, quote="USD", quantity=D(qty), price=D(price),
                 fee=D(fee), fee_asset="USD" if fee != "0" else None)


def us(events, year, **kw):  # noqa: ANN001, ANN003, ANN201
    return compute_gains_from_events(events, NO_RATES, jurisdiction="us", year=year, **kw)


def test_registered():
    assert "us" in base.codes() and base.get("US").currency == "USD"


@pytest.mark.parametrize("sold, term", [("2024-03-15T17:00:00", "short"), ("2024-03-16T17:00:00", "long")])
def test_one_year_boundary(sold, term):
    # Pub. 544: bought 15 Mar 2023, sold 15 Mar 2024 -> held exactly one year -> short-term;
    # sold 16 Mar 2024 -> more than one year -> long-term. (17:00 UTC is midday in New York.)
    events = [trade("2023-03-15T17:00:00", "buy", "1", "20000", "10"), trade(sold, "sell", "1", "70000", "35")]
    s = us(events, "2024")
    [d] = s.disposals
    # proceeds 70000 - 35 = 69965; cost 20000 + 10 = 20010; gain 49955
    assert (d.term, d.proceeds, d.cost, d.gain) == (term, D(69965), D(20010), D(49955))
    assert getattr(s.breakdown, term).gain == D(49955)
    assert s.taxable_gain == D(49955) and s.allowance == 0


def test_local_date_decides():
    # 16 Mar 2024 02:00 UTC is still 15 Mar 22:00 in New York -> short-term by default;
    # with --timezone UTC it is 16 Mar -> long-term
    events = [trade("2023-03-15T17:00:00", "buy", "1", "100"), trade("2024-03-16T02:00:00", "sell", "1", "150")]
    assert us(events, "2024").disposals[0].term == "short"
    assert us(events, "2024", options={"timezone": "UTC"}).disposals[0].term == "long"


def test_disposal_split_into_short_and_long_rows():
    events = [trade("2023-01-10T17:00:00", "buy", "1", "10000", tid="b1"),
              trade("2023-09-10T17:00:00", "buy", "1", "30000", tid="b2"),
              trade("2024-03-01T17:00:00", "sell", "1.5", "60000", "90", tid="s1")]
    s = us(events, "2024")
    long_, short = s.disposals
    # net proceeds 1.5 x 60000 - 90 = 89910, shared by quantity: long 1/1.5 -> 59940, short 0.5/1.5 -> 29970
    # long: cost 10000 -> gain 49940; short: 0.5 x 30000 = 15000 -> gain 14970
    assert (long_.term, long_.quantity, long_.proceeds, long_.cost, long_.gain) == ("long", D(1), D(59940), D(10000), D(49940))
    assert (short.term, short.quantity, short.proceeds, short.cost, short.gain) == (
        "short", D("0.5"), D(29970), D(15000), D(14970))
    assert s.proceeds == D(89910) and s.gain == D(64910)
    assert long_.event_key == short.event_key == "trade:t:s1#0"


def test_loss_and_gain_totals_and_no_wash_sale():
    # sell at a loss and buy back the next day: no wash-sale disallowance for crypto
    events = [trade("2024-01-02T17:00:00", "buy", "1", "40000", tid="b1"),
              trade("2024-06-03T17:00:00", "sell", "1", "30000", tid="s1"),
              trade("2024-06-04T17:00:00", "buy", "1", "31000", tid="b2"),
              trade("2024-08-01T17:00:00", "sell", "0.5", "36000", tid="s2")]
    s = us(events, "2024")
    # s1: 30000 - 40000 = -10000 (allowed in full); s2: 18000 - 15500 = 2500
    assert [d.gain for d in s.disposals] == [D(-10000), D(2500)]
    assert (s.gains, s.losses, s.gain, s.taxable_gain) == (D(2500), D(10000), D(-7500), D(0))
    assert any("no wash-sale rule" in n for n in s.notes)


def test_hifo_and_lifo_allowed_average_refused():
    events = [trade("2024-01-02T17:00:00", "buy", "1", "100", tid="b1"),
              trade("2024-02-02T17:00:00", "buy", "1", "300", tid="b2"),
              trade("2024-03-02T17:00:00", "buy", "1", "200", tid="b3"),
              trade("2024-04-02T17:00:00", "sell", "1", "250", tid="s")]
    assert us(events, "2024", method="hifo").disposals[0].cost == D(300)
    assert us(events, "2024", method="lifo").disposals[0].cost == D(200)
    assert us(events, "2024").disposals[0].cost == D(100)
    with pytest.raises(InputError, match="not allowed for United States"):
        us(events, "2024", method="average")


def test_form8949_boxes_table():
    assert form8949_boxes(2024) == ("none", "C", "F")
    assert form8949_boxes(2025) == ("not-reported", "H", "K")
    assert form8949_boxes(2025, "reported") == ("reported", "G", "J")
    assert form8949_boxes(2026, "none") == ("none", "I", "L")
    with pytest.raises(InputError):
        form8949_boxes(2025, "maybe")


def test_form8949_rows():
    events = [trade("2023-01-10T17:00:00", "buy", "0.5", "20000", tid="b1"),
              trade("2024-11-10T17:00:00", "buy", "0.5", "60000", tid="b2"),
              trade("2025-02-01T17:00:00", "sell", "0.75", "100000", tid="s1")]
    s = us(events, "2025")
    rows = form8949.lines(s)
    # short first: 0.25 of the Nov 2024 lot (0.25 x 60000 = 15000); proceeds 75000 x 0.25/0.75 = 25000
    assert (rows[0].term, rows[0].box, rows[0].description, rows[0].acquired.isoformat(), rows[0].sold.isoformat(),
            rows[0].proceeds, rows[0].cost, rows[0].gain) == (
        "short", "H", "0.25 BTC", "2024-11-10", "2025-02-01", D(25000), D(15000), D(10000))
    # long: 0.5 of the Jan 2023 lot (10000); proceeds 50000
    assert (rows[1].term, rows[1].box, rows[1].description, rows[1].gain) == ("long", "K", "0.5 BTC", D(40000))


def test_form8949_box_per_account():
    # A broker that issued a 1099-DA with basis (coinbase:main -> G/J) and an exchange without one
    # (okx:main -> I/L) in the same year: each account's lines go in its own box.
    events = [trade("2025-01-10T17:00:00", "buy", "1", "100", tid="b1", account="coinbase:main"),
              trade("2025-01-10T17:00:00", "buy", "1", "100", tid="b2", account="okx:main"),
              trade("2025-03-01T17:00:00", "sell", "1", "150", tid="s1", account="coinbase:main"),
              trade("2025-03-01T17:00:00", "sell", "1", "160", tid="s2", account="okx:main")]
    s = us(events, "2025", options={"form8949_reporting": "none", "form8949_reporting@coinbase:main": "reported"})
    assert sorted((ln.box, ln.proceeds) for ln in form8949.lines(s)) == [("G", D(150)), ("I", D(160))]


def test_year_filter_and_bad_label():
    events = [trade("2023-05-01T17:00:00", "buy", "1", "100"), trade("2023-06-01T17:00:00", "sell", "0.5", "200"),
              trade("2024-06-01T17:00:00", "sell", "0.5", "300")]
    assert [d.time.year for d in us(events, "2024").disposals] == [2024]
    assert us(events, "2023").gain == D(50)  # 0.5 x 200 - 0.5 x 100
    with pytest.raises(InputError, match="calendar year"):
        us(events, "2024-25")


def test_universal_until_2025_switch():
    from taxreport.jurisdictions.calendar import local_midnight_utc

    events = [trade("2024-01-02T17:00:00", "buy", "1", "100", tid="b1", account="okx:main"),
              trade("2024-02-02T17:00:00", "buy", "1", "200", tid="b2", account="kraken:main"),
              trade("2024-06-02T17:00:00", "sell", "1", "150", tid="s1", account="kraken:main"),
              trade("2025-03-02T17:00:00", "sell", "1", "250", tid="s2", account="okx:main")]
    # 2024, universal FIFO: kraken's sale takes okx's older 100 lot -> gain 50
    s24 = us(events, "2024", options={"scope": "universal"})
    assert [(d.cost, d.gain) for d in s24.disposals] == [(D(100), D(50))]
    # from 1 Jan 2025 per account: the remaining 200 lot goes to okx (the only holder) -> gain 50
    switch = local_midnight_utc(datetime(2025, 1, 1).date(), "America/New_York")
    s25 = us(events, "2025", options={"scope": "universal", "universal_until": switch})
    assert [(d.account, d.cost, d.gain) for d in s25.disposals] == [("okx:main", D(200), D(50))]
    assert not any(n.startswith("WARNING") for n in s25.notes)
    assert any(n.startswith("WARNING: a universal lot pool") for n in us(events, "2025", options={"scope": "universal"}).notes)


# --- Schedule D: the $3,000 capital-loss limit and carryovers (IRC §1211(b), §1212(b); Schedule D
# instructions, Capital Loss Carryover Worksheet) -------------------------------------------------------
def test_schedule_d_loss_limit_and_carryover_by_hand():
    from taxreport.jurisdictions.us import LOSS_LIMIT, schedule_d

    # short -5,000, long +1,000: net -4,000; deduct 3,000; the rest (1,000) is a short-term carryover
    # (the long-term gain absorbed 1,000 of the short-term loss).
    s = schedule_d(D(-5000), D(1000), D(0), D(0), LOSS_LIMIT["single"])
    assert (s.net, s.loss_deduction, s.short_term_loss_carryover_out, s.long_term_loss_carryover_out) == (D(-4000), D(3000), D(1000), D(0))
    # short -2,000, long -4,000: net -6,000; the 3,000 deduction takes the 2,000 short-term loss first,
    # then 1,000 of the long-term loss: carry 0 short, 3,000 long.
    s = schedule_d(D(-2000), D(-4000), D(0), D(0), LOSS_LIMIT["single"])
    assert (s.loss_deduction, s.short_term_loss_carryover_out, s.long_term_loss_carryover_out) == (D(3000), D(0), D(3000))
    # carryovers in keep their character: short +500 - 2,000 in = -1,500; long +10,000: net 8,500, no limit
    s = schedule_d(D(500), D(10000), D(2000), D(0), LOSS_LIMIT["single"])
    assert (s.short_net_after_carryover, s.net, s.loss_deduction, s.short_term_loss_carryover_out) == (D(-1500), D(8500), D(0), D(0))
    # married filing separately: $1,500 (IRC §1211(b)(1)); long -4,000 -> deduct 1,500, carry 2,500 long
    s = schedule_d(D(0), D(-4000), D(0), D(0), LOSS_LIMIT["mfs"])
    assert (s.loss_deduction, s.long_term_loss_carryover_out) == (D(1500), D(2500))


def test_carryover_options_reach_the_summary():
    # one short-term sale at a $900 gain, with a $2,000 short-term carryover in: net -1,100, all deductible
    events = [trade("2024-01-10T15:00:00", "buy", "1", "1000", tid="b"),
              trade("2024-06-10T15:00:00", "sell", "1", "1900", tid="s")]
    s = us(events, "2024", options={"short_term_loss_carryover": "2000"})
    assert s.gain == D(900)  # the year's own disposals are unchanged
    sd = s.breakdown.schedule_d
    assert (sd.net, sd.loss_deduction, sd.short_term_loss_carryover_out) == (D(-1100), D(1100), D(0))
    assert s.taxable_gain == D(0)
    with pytest.raises(InputError, match="filing_status"):
        us(events, "2024", options={"filing_status": "joint"})
