"""DE § 23 EStG: holding period (anniversary vs day after), Freigrenze thresholds. Worked examples."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from taxreport.errors import InputError, MissingDataError
from taxreport.gains import compute_gains_from_events
from taxreport.jurisdictions.de import FREIGRENZE, freigrenze
from taxreport.jurisdictions.holding import anniversary
from taxreport.model.events import Trade
from taxreport.prices.rates import RateTable

D = Decimal
UTC = timezone.utc


def trade(when: str, side: str, qty: str, price: str, fee: str = "0", tid: str | None = None) -> Trade:
    return Trade(time=datetime.fromisoformat(when).replace(tzinfo=UTC), source="t", external_id=tid or when + side,
                 account="bitvavo:main", side=side, base="BTC", quote="EUR", quantity=D(qty), price=D(price),
                 fee=D(fee), fee_asset="EUR" if fee != "0" else None)


def de(events, year, **kw):  # noqa: ANN001, ANN003, ANN201
    return compute_gains_from_events(events, RateTable(), jurisdiction="de", year=year, **kw)


@pytest.mark.parametrize("sold, exempt", [("2024-04-10T10:00:00", False), ("2024-04-11T10:00:00", True)])
def test_sale_on_anniversary_is_taxable_day_after_is_not(sold, exempt):
    # §§ 187(1), 188(2) BGB: bought 10 Apr 2023 -> the year ends at the end of 10 Apr 2024
    events = [trade("2023-04-10T10:00:00", "buy", "1", "25000"), trade(sold, "sell", "1", "60000")]
    s = de(events, "2024")
    [d] = s.disposals
    assert d.exempt is exempt
    # gain 60000 - 25000 = 35000: fully taxable within the year (>= 1000 Freigrenze), else tax-free
    assert d.gain == D(35000)
    assert s.taxable_gain == (D(0) if exempt else D(35000))
    assert (s.breakdown.exempt if exempt else s.breakdown.taxable).gain == D(35000)


def test_anniversary_of_29_february():
    assert anniversary(datetime(2024, 2, 29).date()).isoformat() == "2025-02-28"


@pytest.mark.parametrize("year, sell_price, taxable", [
    # VZ 2023, Freigrenze 600: gain 599.99 is below -> 0; gain 600.00 reaches it -> all 600 taxable
    ("2023", "10599.99", "0"), ("2023", "10600", "600"),
    # VZ 2024, Freigrenze 1000: 999.99 -> 0; 1000.00 -> all 1000 taxable
    ("2024", "10999.99", "0"), ("2024", "11000", "1000"),
])
def test_freigrenze(year, sell_price, taxable):
    # buy 1 BTC for 10000 EUR on 1 Feb, sell on 1 Jun the same year: gain = price - 10000
    events = [trade(f"{year}-02-01T10:00:00", "buy", "1", "10000"), trade(f"{year}-06-01T10:00:00", "sell", "1", sell_price)]
    s = de(events, year)
    assert s.gain == D(sell_price) - D(10000)
    assert s.taxable_gain == D(taxable)
    assert s.allowance == freigrenze(int(year))


def test_freigrenze_table():
    assert list(FREIGRENZE.rows) == [(0, D(600)), (2024, D(1000))]
    assert freigrenze(2017) == D(600) and freigrenze(2023) == D(600) and freigrenze(2030) == D(1000)


def test_losses_offset_taxable_gains_and_exempt_losses_do_not_count():
    events = [trade("2022-01-05T10:00:00", "buy", "1", "40000", tid="old"),
              trade("2024-01-05T10:00:00", "buy", "2", "30000", tid="new"),
              # FIFO: 1 old (exempt, 20000 - 40000 = -20000 does not count) + 1 new (taxable, 20000 - 30000)
              trade("2024-03-05T10:00:00", "sell", "2", "20000", tid="s1"),
              trade("2024-09-05T10:00:00", "sell", "1", "42000", "20", tid="s2")]
    s = de(events, "2024")
    exempt = [d for d in s.disposals if d.exempt]
    taxable = [d for d in s.disposals if not d.exempt]
    assert [d.gain for d in exempt] == [D(-20000)]
    # taxable: -10000 (s1) + (42000 - 20 - 30000 = 11980) (s2) = 1980 >= 1000 -> all taxable
    assert [d.gain for d in taxable] == [D(-10000), D(11980)]
    assert s.breakdown.taxable.gain == D(1980)
    assert s.taxable_gain == D(1980)


def test_method_and_currency_rules():
    events = [trade("2024-02-01T10:00:00", "buy", "1", "10000"), trade("2024-06-01T10:00:00", "sell", "1", "12000")]
    with pytest.raises(InputError, match="not allowed for Germany"):
        de(events, "2024", method="hifo")
    s = de(events, "2024", method="lifo")
    assert any("FG Nürnberg" in n for n in s.notes)


def test_usd_trades_valued_with_inverted_ecb_rates(tmp_path, ledger):
    from taxreport.gains import compute_gains
    from taxreport.prices.csv_import import parse_rate_file
    from taxreport.prices.store import write_rates

    ecb = tmp_path / "eurofxref-hist.csv"
    # Friday 5 Jan 2024 EUR/USD 1.25; Monday 8 Jan 1.20 (no weekend rates, as in the ECB file)
    ecb.write_text("Date,USD,JPY,\n2024-01-08,1.2000,N/A,\n2024-01-05,1.2500,160.00,\n")
    write_rates(ledger, parse_rate_file(str(ecb))[1])
    usd = [Trade(time=datetime(2024, 1, 5, 10, tzinfo=UTC), source="t", external_id="b", account="kraken:main",
                 side="buy", base="BTC", quote="USD", quantity=D(1), price=D(40000)),
           Trade(time=datetime(2024, 1, 7, 10, tzinfo=UTC), source="t", external_id="s", account="kraken:main",
                 side="sell", base="BTC", quote="USD", quantity=D("0.5"), price=D(45000))]
    ledger.append(usd, actor="manual:test", reason="test")
    # Sunday 7 Jan has no ECB rate: an error unless the user accepts older rates
    with pytest.raises(MissingDataError, match="USD->EUR on 2024-01-07"):
        compute_gains(ledger, jurisdiction="de", year="2024")
    s = compute_gains(ledger, jurisdiction="de", year="2024", options={"rate_lookback_days": 3})
    [d] = s.disposals
    # cost 0.5 x 40000 USD / 1.25 = 16000 EUR; proceeds 22500 USD / 1.25 (Friday's rate) = 18000 EUR
    assert (d.cost, d.proceeds, d.gain) == (D(16000), D(18000), D(2000))
    assert s.taxable_gain == D(2000)  # >= 1000 Freigrenze: all taxable
