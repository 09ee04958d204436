"""Rate store, rate files, the lookup rule (same UTC day, inversion, crossing, peg) and fetching."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from taxreport.errors import InputError, MissingDataError
from taxreport.importers.base import ImportRefused
from taxreport.prices.csv_import import parse_rate_file
from taxreport.prices.fetch import fetch_rates
from taxreport.prices.rates import Pricer, RateTable
from taxreport.prices.store import RateRow, load_table, stored_pairs, write_rates

D = Decimal
UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if "+" not in text else datetime.fromisoformat(text)


def table(*rows: tuple[str, str, str, str]) -> RateTable:
    return RateTable.from_rows((b, q, at(t), D(r), "test") for t, b, q, r in rows)


# --- files -----------------------------------------------------------------------------------

def test_generic_csv_dates_timestamps_and_comments(tmp_path):
    f = tmp_path / "rates.csv"
    f.write_text("# synthetic\ndate,base,quote,rate\n2024-01-02,USD,GBP,0.79\n"
                 "2024-01-02T15:00:00+01:00,usdt,usd,1.0002\n")
    layout, rows, gaps = parse_rate_file(str(f))
    assert layout == "csv" and gaps == 0
    assert rows[0].time == datetime(2024, 1, 2, tzinfo=UTC) and rows[0].rate == D("0.79")
    assert (rows[1].base, rows[1].quote, rows[1].time) == ("USDT", "USD", datetime(2024, 1, 2, 14, tzinfo=UTC))
    assert rows[0].source == "file:rates.csv"


def test_generic_csv_reports_every_bad_row(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("timestamp,base,quote,rate\n2024-13-01,USD,GBP,0.79\n2024-01-02,USD,GBP,0\n"
                 "2024-01-03,USD,GBP,abc\n2024-01-04,USD,GBP,0.8\n")
    with pytest.raises(ImportRefused) as err:
        parse_rate_file(str(f))
    text = str(err.value)
    assert f"{f}:2: timestamp:" in text and f"{f}:3: rate:" in text and f"{f}:4: rate:" in text
    assert len(err.value.problems) == 3


def test_ecb_layout_na_cells_are_gaps(tmp_path):
    # ECB eurofxref-hist.csv: trailing comma -> empty last header; N/A = no rate that day
    f = tmp_path / "eurofxref-hist.csv"
    f.write_text("Date,USD,JPY,GBP,\n2024-01-03,1.0919,155.72,0.86518,\n2024-01-02,1.0956,N/A,0.86690,\n")
    layout, rows, gaps = parse_rate_file(str(f))
    assert layout == "ecb" and gaps == 1
    assert len(rows) == 5
    usd = [r for r in rows if r.quote == "USD"]
    assert {(r.base, r.time.date().isoformat(), r.rate) for r in usd} == {
        ("EUR", "2024-01-03", D("1.0919")), ("EUR", "2024-01-02", D("1.0956"))}
    assert all(r.source == "ecb" for r in rows)
    assert not any(r.quote == "JPY" and r.time.day == 2 for r in rows)  # the N/A is not a zero


def test_unknown_header_is_refused(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("when,price\n2024-01-01,1\n")
    with pytest.raises(InputError, match="unrecognised header"):
        parse_rate_file(str(f))


def test_store_is_idempotent_and_refuses_conflicts(ledger):
    t = datetime(2024, 1, 2, tzinfo=UTC)
    s = write_rates(ledger, [RateRow("USD", "GBP", t, D("0.79"), "x")])
    assert (s.added, s.duplicates) == (1, 0)
    s = write_rates(ledger, [RateRow("USD", "GBP", t, D("0.790"), "x")])  # same number, other text
    assert (s.added, s.duplicates) == (0, 1)
    with pytest.raises(InputError, match="already stored as 0.79"):
        write_rates(ledger, [RateRow("USD", "GBP", t + timedelta(days=1), D("0.8"), "x"),
                             RateRow("USD", "GBP", t, D("0.8"), "x")])
    assert stored_pairs(ledger)[0][:3] == ("USD", "GBP", 1)  # the batch wrote nothing
    tbl = load_table(ledger)
    assert tbl.direct("USD", "GBP", t + timedelta(hours=5)) == (D("0.79"), "x", t)


# --- lookup rule -----------------------------------------------------------------------------

def test_latest_rate_same_utc_day_only():
    tbl = table(("2024-01-02T00:00:00", "USD", "GBP", "0.79"), ("2024-01-02T12:00:00", "USD", "GBP", "0.80"))
    p = Pricer(tbl, "GBP")
    assert p.rate("USD", at("2024-01-02T11:59:59")) == D("0.79")
    assert p.rate("USD", at("2024-01-02T12:00:00")) == D("0.80")  # at or before: the 12:00 rate
    assert p.rate("USD", at("2024-01-03T09:00:00")) is None  # yesterday's rate is not used
    assert p.rate("USD", at("2024-01-01T23:00:00")) is None  # never a future rate
    with pytest.raises(MissingDataError, match="USD->GBP on 2024-01-01"):
        p.raise_if_missing()


def test_lookback_only_when_asked():
    tbl = table(("2024-01-05", "EUR", "USD", "1.10"))  # Friday; nothing on the weekend
    sunday = at("2024-01-07T10:00:00")
    assert Pricer(tbl, "USD").rate("EUR", sunday) is None
    p = Pricer(tbl, "USD", lookback_days=2)
    assert p.rate("EUR", sunday) == D("1.10")
    assert any("2 day(s) old" in n for n in p.notes())


def test_inversion():
    # only EUR->USD 1.25 stored; USD->EUR = 1 / 1.25 = 0.8
    p = Pricer(table(("2024-01-02", "EUR", "USD", "1.25")), "EUR")
    assert p.value("USD", D("100"), at("2024-01-02T10:00:00")) == D("80")
    assert any("1/(EUR/USD from test)" in n for n in p.notes())


def test_cross_via_named_intermediate_and_sources_in_notes():
    # USDT->USD 1.001 and USD->GBP 0.8 (stored as GBP->USD 1.25): USDT->GBP = 1.001 * 0.8 = 0.8008
    tbl = table(("2024-01-02", "USDT", "USD", "1.001"), ("2024-01-02", "GBP", "USD", "1.25"))
    assert Pricer(tbl, "GBP").rate("USDT", at("2024-01-02T10:00:00")) is None  # no crossing unless named
    p = Pricer(tbl, "GBP", via=("USD",))
    assert p.value("USDT", D("1000"), at("2024-01-02T10:00:00")) == D("800.8")
    assert any("crossed via USD" in n and "USDT/USD from test" in n for n in p.notes())


def test_peg_only_when_asked():
    tbl = table(("2024-01-02", "USD", "GBP", "0.8"))
    moment = at("2024-01-02T10:00:00")
    plain = Pricer(tbl, "GBP")
    assert plain.value("USDT", D("10"), moment) == 0
    with pytest.raises(MissingDataError, match="USDT->GBP on 2024-01-02"):
        plain.raise_if_missing()
    pegged = Pricer(tbl, "GBP", peg={"USDT": "USD"})
    assert pegged.value("USDT", D("10"), moment) == D("8.0")  # 10 USDT = 10 USD = 10 * 0.8 GBP
    assert "assumed peg (asked for by the user): 1 USDT = 1 USD" in pegged.notes()
    assert Pricer(tbl, "USD", peg={"USDT": "USD"}).value("USDT", D("10"), moment) == D("10")


def test_missing_rates_are_all_listed_at_once():
    p = Pricer(table(("2024-01-02", "USD", "GBP", "0.8")), "GBP", via=("USD",))
    for day in ("2024-01-03", "2024-01-04"):
        p.value("USD", D(1), at(day + "T10:00:00"))
        p.value("ETH", D(1), at(day + "T10:00:00"))
    with pytest.raises(MissingDataError) as err:
        p.raise_if_missing()
    text = str(err.value)
    for gap in ("USD->GBP on 2024-01-03", "USD->GBP on 2024-01-04", "ETH->GBP on 2024-01-03",
                "ETH->USD on 2024-01-04"):
        assert gap in text
    assert text.startswith("6 missing rate(s)")  # USD->GBP x2, ETH->GBP x2, ETH->USD x2


# --- fetch (a fake exchange: tests never touch the network) ---------------------------------

class FakeExchange:
    id = "fake"

    def __init__(self, closes: dict[int, float]) -> None:
        self.closes = closes  # open time (s) -> close
        self.calls: list[tuple[str, str, int, int]] = []

    def fetch_ohlcv(self, symbol, timeframe, since=None, limit=None):  # noqa: ANN001, ANN201
        self.calls.append((symbol, timeframe, since, limit))
        opens = sorted(t for t in self.closes if t * 1000 >= since)[:limit]
        return [[t * 1000, 1.0, 2.0, 0.5, self.closes[t], 10.0] for t in opens]


def test_fetch_pages_and_caches(ledger):
    day = 86400
    start = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
    closes = {start + i * day: 1.0 + i / 1000 for i in range(10)}
    ex = FakeExchange(closes)
    since, until = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 11, tzinfo=UTC)
    now = datetime(2024, 2, 1, tzinfo=UTC)
    s = fetch_rates(ledger, ex, "USDT/USD", since=since, until=until, limit=3, now=now)
    assert (s.fetched, s.added, s.cached) == (10, 10, 0)
    assert s.requests == 4  # pages of 3, 3, 3, 1
    tbl = load_table(ledger)
    # the close of 1 Jan (open 00:00, close 1.0) is stored at 2 Jan 00:00 and values 2 Jan moments
    assert tbl.direct("USDT", "USD", datetime(2024, 1, 2, 9, tzinfo=UTC))[0] == D("1.0")
    assert tbl.direct("USDT", "USD", datetime(2024, 1, 3, 9, tzinfo=UTC))[0] == D("1.001")
    assert tbl.direct("USDT", "USD", datetime(2024, 1, 1, 9, tzinfo=UTC)) is None
    ex.calls.clear()
    s = fetch_rates(ledger, ex, "USDT/USD", since=since, until=until, limit=3, now=now)
    assert (s.requests, s.added, s.cached) == (0, 0, 10) and ex.calls == []


def test_fetch_skips_unclosed_candle(ledger):
    start = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
    ex = FakeExchange({start: 1.0, start + 86400: 2.0})
    s = fetch_rates(ledger, ex, "BTC/USD", since=datetime(2024, 1, 1, tzinfo=UTC),
                    until=datetime(2024, 1, 5, tzinfo=UTC), now=datetime(2024, 1, 2, 12, tzinfo=UTC))
    assert s.added == 1  # the 2 Jan candle has not closed at 12:00


def test_ecb_daily_file_layout(tmp_path):
    # eurofxref.csv (latest day): spaces after commas and a spelled-out date
    f = tmp_path / "eurofxref.csv"
    f.write_text("Date, USD, JPY, GBP, \n24 November 2025, 1.1519, 180.29, 0.87945, \n")
    layout, rows, gaps = parse_rate_file(str(f))
    assert layout == "ecb" and gaps == 0
    assert [(r.quote, r.rate, r.time) for r in rows] == [
        ("USD", D("1.1519"), datetime(2025, 11, 24, tzinfo=UTC)), ("JPY", D("180.29"), datetime(2025, 11, 24, tzinfo=UTC)),
        ("GBP", D("0.87945"), datetime(2025, 11, 24, tzinfo=UTC))]


def test_prices_cli_import_ecb_and_list(tmp_path):
    import json

    from click.testing import CliRunner

    from taxreport.cli.main import root

    f = tmp_path / "eurofxref-hist.csv"
    f.write_text("Date,USD,JPY,\n2024-01-03,1.0919,N/A,\n2024-01-02,1.0956,155.72,\n")
    db = str(tmp_path / "p.sqlite3")
    r = CliRunner().invoke(root, ["--db", db, "prices", "import", str(f)], catch_exceptions=False)
    assert r.exit_code == 0 and "(ecb): 3 rates, 3 added, 0 duplicates, 1 N/A gaps skipped" in r.output
    r = CliRunner().invoke(root, ["--db", db, "prices", "list", "--format", "json"], catch_exceptions=False)
    assert [(p["base"], p["quote"], p["count"]) for p in json.loads(r.output)] == [("EUR", "JPY", 1), ("EUR", "USD", 2)]
    bad = tmp_path / "bad.csv"
    bad.write_text("date,base,quote,rate\n2024-01-02,USD,GBP,-1\n")
    r = CliRunner().invoke(root, ["--db", db, "prices", "import", str(bad)])
    assert r.exit_code == 1 and "bad.csv:2: rate:" in r.output and "nothing was written" in r.output


def test_prices_fetch_cli_with_a_fake_exchange(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import taxreport.prices.candles_fetch as candles_fetch
    from taxreport.cli.main import root

    start = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
    fake = FakeExchange({start + i * 86400: 1.0 for i in range(5)})
    # the one ccxt client factory (shared with `prices candles fetch`) is replaced: no network
    monkeypatch.setattr(candles_fetch, "ccxt_client", lambda exchange_id: fake)
    db = str(tmp_path / "f.sqlite3")
    args = ["--db", db, "prices", "fetch", "--exchange", "fake", "--symbol", "USDT/USD", "--since", "2024-01-01",
            "--until", "2024-01-06"]
    r = CliRunner().invoke(root, args, catch_exceptions=False)
    assert r.exit_code == 0 and "USDT/USD (ccxt:fake:1d): 5 fetched in 1 request(s), 5 added, 0 already stored" in r.output
    r = CliRunner().invoke(root, args, catch_exceptions=False)
    assert "0 fetched in 0 request(s), 0 added, 5 already stored" in r.output
