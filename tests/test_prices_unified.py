"""One ccxt fetch_ohlcv implementation behind both `prices fetch` (rates) and `prices candles fetch`
(candles); `prices fetch --symbols A,B`; `prices import FILE` recognising OHLCV files by their header.
Exchanges are fake objects with ccxt's ``fetch_ohlcv`` signature: no network."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.errors import InputError, TaxreportError
from taxreport.prices.candles import CandleStore
from taxreport.prices.candles_fetch import fetch_candles
from taxreport.prices.csv_import import file_layout, parse_rate_file
from taxreport.prices.fetch import fetch_rates, split_symbols
from taxreport.prices.store import load_table, stored_pairs

D = Decimal
UTC = timezone.utc
DAY_MS = 86_400_000
JAN1_MS = 1704067200000  # 2024-01-01T00:00:00Z
SAMPLE = Path(__file__).parent.parent / "sample_exports" / "prices" / "synthetic_ohlcv_1d.csv"
OHLCV = """timestamp,symbol,open,high,low,close,volume
2024-01-01,BTC/USDT,42000.1,43000,41000,42500.5,12.5
2024-01-01,ETH/USDT,2300,2400,2250,2350.25,100
2024-01-02,BTC/USDT,42500.5,44000,42000,43900,10
"""


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class Fake:
    """Daily candles from 2024-01-01: close of day i = ``closes[symbol] + i`` (float, as ccxt gives);
    ``page`` candles per call; ``failures`` raised first, one per call."""

    id = "fake"

    def __init__(self, closes: dict[str, float], days: int, page: int = 100,
                 failures: list[Exception] | None = None) -> None:
        self.closes, self.days, self.page = closes, days, page
        self.failures = list(failures or [])
        self.calls: list[tuple[str, str, int, int]] = []

    def fetch_ohlcv(self, symbol, timeframe, since=None, limit=None):  # noqa: ANN001, ANN201
        self.calls.append((symbol, timeframe, since, limit))
        if self.failures:
            raise self.failures.pop(0)
        if symbol not in self.closes:
            raise ValueError(f"fake does not have market symbol {symbol}")
        out = []
        for i in range(self.days):
            ts = JAN1_MS + i * DAY_MS
            if ts >= since and len(out) < min(limit, self.page):
                close = self.closes[symbol] + i
                out.append([ts, close, close + 0.5, close - 0.5, close, 1.0])
        return out


# --- one fetch implementation ---------------------------------------------------------------

def test_prices_fetch_fills_the_candle_cache_and_rates_at_candle_end(ledger):
    fake = Fake({"BTC/USDT": 100.1}, days=4, page=2)
    s = fetch_rates(ledger, fake, "BTC/USDT", since=utc(2024, 1, 1), until=utc(2024, 1, 10), now=utc(2024, 2, 1))
    assert (s.requests, s.fetched, s.added, s.cached, s.source) == (3, 4, 4, 0, "ccxt:fake:1d")  # pages 2, 2, empty
    candles = CandleStore.of(ledger).load(["BTC/USDT"], "1d", source="fake")["BTC/USDT"]
    assert [(k.time, k.close) for k in candles] == [(utc(2024, 1, 1 + i), D("100.1") + i) for i in range(4)]
    tbl = load_table(ledger)
    # the 1 Jan candle (close 100.1) ends 2 Jan 00:00: it values 2 Jan, not 1 Jan
    assert tbl.direct("BTC", "USDT", utc(2024, 1, 1, 23)) is None
    assert tbl.direct("BTC", "USDT", utc(2024, 1, 2, 9)) == (D("100.1"), "ccxt:fake:1d", utc(2024, 1, 2))
    assert tbl.direct("BTC", "USDT", utc(2024, 1, 5, 9)) == (D("103.1"), "ccxt:fake:1d", utc(2024, 1, 5))


def test_prices_fetch_reuses_candles_cached_by_candles_fetch(ledger):
    fake = Fake({"ETH/USDT": 2000.5}, days=5)
    store = CandleStore.of(ledger)
    [c] = fetch_candles(fake, ["ETH/USDT"], "1d", utc(2024, 1, 1), store=store, source="fake",
                        until=utc(2024, 1, 6), now=utc(2024, 2, 1))
    assert (c.requests, c.added) == (1, 5)
    fake.calls.clear()
    s = fetch_rates(ledger, fake, "ETH/USDT", since=utc(2024, 1, 1), until=utc(2024, 1, 6), now=utc(2024, 2, 1))
    assert fake.calls == [] and (s.requests, s.fetched, s.added, s.cached) == (0, 0, 5, 0)
    assert stored_pairs(ledger) == [("ETH", "USDT", 5, "2024-01-02T00:00:00.000000Z", "2024-01-06T00:00:00.000000Z")]
    assert load_table(ledger).direct("ETH", "USDT", utc(2024, 1, 6, 1))[0] == D("2004.5")  # 2000.5 + 4


def test_a_hole_in_the_cache_is_fetched_not_skipped(ledger):
    fake = Fake({"BTC/USDT": 10.0}, days=20)
    now = utc(2024, 2, 1)
    fetch_rates(ledger, fake, "BTC/USDT", since=utc(2024, 1, 1), until=utc(2024, 1, 4), now=now)  # 1..3 Jan
    fetch_rates(ledger, fake, "BTC/USDT", since=utc(2024, 1, 10), until=utc(2024, 1, 12), now=now)  # 10, 11 Jan
    fake.calls.clear()
    s = fetch_rates(ledger, fake, "BTC/USDT", since=utc(2024, 1, 1), until=utc(2024, 1, 13), now=now)
    assert fake.calls[0][2] == JAN1_MS + 3 * DAY_MS  # from 4 Jan, the first candle not cached
    assert (s.cached, s.added) == (5, 7)  # 5 rates stored before; 4..9 Jan and 12 Jan are new
    candles = CandleStore.of(ledger).load(["BTC/USDT"], "1d", source="fake")["BTC/USDT"]
    assert [k.time for k in candles] == [utc(2024, 1, 1) + timedelta(days=i) for i in range(12)]
    assert load_table(ledger).direct("BTC", "USDT", utc(2024, 1, 8, 9))[0] == D("16")  # 7 Jan candle: 10 + 6
    # `prices candles fetch` fills holes the same way
    store = CandleStore.of(ledger)
    fake.closes["ETH/USDT"] = 1.0
    fetch_candles(fake, ["ETH/USDT"], "1d", utc(2024, 1, 1), store=store, source="fake", until=utc(2024, 1, 3), now=now)
    fetch_candles(fake, ["ETH/USDT"], "1d", utc(2024, 1, 6), store=store, source="fake", until=utc(2024, 1, 8), now=now)
    fake.calls.clear()
    [r] = fetch_candles(fake, ["ETH/USDT"], "1d", utc(2024, 1, 1), store=store, source="fake",
                        until=utc(2024, 1, 9), now=now)
    assert fake.calls[0][2] == JAN1_MS + 2 * DAY_MS and r.notes == ["cached up to 2024-01-02T00:00:00+00:00"]
    assert (r.added, r.unchanged) == (4, 2)  # 3, 4, 5, 8 Jan new; 6, 7 Jan already stored
    assert len(store.load(["ETH/USDT"], "1d", source="fake")["ETH/USDT"]) == 8


def test_prices_fetch_retries_with_bounded_backoff(ledger):
    import ccxt

    sleeps: list[float] = []
    fake = Fake({"BTC/USD": 50.25}, days=2, failures=[ccxt.RequestTimeout("t"), ccxt.DDoSProtection("d"),
                                                      ccxt.RateLimitExceeded("r")])
    s = fetch_rates(ledger, fake, "BTC/USD", since=utc(2024, 1, 1), until=utc(2024, 1, 3), now=utc(2024, 2, 1),
                    sleep=sleeps.append, base_delay=1.0, max_delay=3.0)
    assert sleeps == [1.0, 2.0, 3.0]  # 1, 2, min(3, 4)
    assert (s.retries, s.requests, s.added) == (3, 1, 2)
    assert load_table(ledger).direct("BTC", "USD", utc(2024, 1, 3))[0] == D("51.25")
    fake = Fake({"ETH/USD": 1.0}, days=2, failures=[ccxt.NetworkError("down")] * 2)
    with pytest.raises(TaxreportError, match="gave up after 2 attempts"):
        fetch_rates(ledger, fake, "ETH/USD", since=utc(2024, 1, 1), until=utc(2024, 1, 3), now=utc(2024, 2, 1),
                    sleep=lambda _s: None, max_attempts=2)
    assert [p[:3] for p in stored_pairs(ledger)] == [("BTC", "USD", 2)]  # nothing of ETH/USD written


def test_window_is_candles_ending_after_since_up_to_until(ledger):
    # since 1 Jan 12:00: the 1 Jan candle ends 2 Jan 00:00 > since, so it counts (as before);
    # until 4 Jan 12:00: the 4 Jan candle ends 5 Jan 00:00 > until, so no rate at 5 Jan.
    fake = Fake({"SOL/USDT": 10.5}, days=6)
    s = fetch_rates(ledger, fake, "SOL/USDT", since=utc(2024, 1, 1, 12), until=utc(2024, 1, 4, 12),
                    now=utc(2024, 2, 1))
    assert fake.calls[0][2] == JAN1_MS  # asked from the open of the candle containing `since`
    assert s.added == 3
    assert stored_pairs(ledger) == [("SOL", "USDT", 3, "2024-01-02T00:00:00.000000Z", "2024-01-04T00:00:00.000000Z")]


def test_bad_symbol_and_timeframe_fail_before_any_request(ledger):
    fake = Fake({"BTC/USDT": 1.0}, days=1)
    with pytest.raises(InputError, match="not a symbol like BTC/USD"):
        fetch_rates(ledger, fake, "BTCUSDT", since=utc(2024, 1, 1), until=utc(2024, 1, 2))
    with pytest.raises(InputError, match="unknown timeframe '7q'"):
        fetch_rates(ledger, fake, "BTC/USDT", since=utc(2024, 1, 1), until=utc(2024, 1, 2), timeframe="7q")
    assert fake.calls == []


def test_split_symbols():
    assert split_symbols(["BTC/USDT,ETH/USDT", " SOL/USDT ", "BTC/USDT", ""]) == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]


# --- CLI: prices fetch --symbols --------------------------------------------------------------

def _cli(db: str, *args: str):  # noqa: ANN202
    return CliRunner().invoke(root, ["--db", db, *args], catch_exceptions=False)


def test_cli_fetch_symbols_list_and_repeatable_symbol(tmp_path, monkeypatch):
    import taxreport.prices.candles_fetch as candles_fetch

    fake = Fake({"BTC/USDT": 100.0, "ETH/USDT": 20.0, "SOL/USDT": 3.0}, days=3)
    monkeypatch.setattr(candles_fetch, "ccxt_client", lambda exchange_id: fake)
    db = str(tmp_path / "f.sqlite3")
    r = _cli(db, "prices", "fetch", "--exchange", "okx", "--symbols", "BTC/USDT,ETH/USDT", "--symbol", "SOL/USDT",
             "--since", "2024-01-01", "--until", "2024-01-04", "--format", "json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert [(o["symbol"], o["fetched"], o["added"]) for o in out] == [
        ("BTC/USDT", 3, 3), ("ETH/USDT", 3, 3), ("SOL/USDT", 3, 3)]
    assert [c[0] for c in fake.calls] == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
    tbl_pairs = [(b, q, n) for b, q, n, _lo, _hi in stored_pairs(_ledger(db))]
    assert tbl_pairs == [("BTC", "USDT", 3), ("ETH", "USDT", 3), ("SOL", "USDT", 3)]
    # the same candles are in the cache that `prices candles list` shows
    r = _cli(db, "prices", "candles", "list", "--format", "json")
    assert [(x["source"], x["symbol"], x["count"]) for x in json.loads(r.output)] == [
        ("fake", "BTC/USDT", 3), ("fake", "ETH/USDT", 3), ("fake", "SOL/USDT", 3)]


def test_cli_fetch_needs_a_symbol_and_checks_before_the_network(tmp_path, monkeypatch):
    import taxreport.prices.candles_fetch as candles_fetch

    monkeypatch.setattr(candles_fetch, "ccxt_client", lambda exchange_id: pytest.fail("no exchange wanted"))
    db = str(tmp_path / "f.sqlite3")
    r = CliRunner().invoke(root, ["--db", db, "prices", "fetch", "--exchange", "okx", "--since", "2024-01-01"])
    assert r.exit_code != 0 and "--symbols" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(root, ["--db", db, "prices", "fetch", "--exchange", "okx", "--symbols", "BTC/USDT,ETHUSDT",
                                  "--since", "2024-01-01"])
    assert r.exit_code != 0 and "'ETHUSDT' is not a symbol" in r.output


def _ledger(db: str):  # noqa: ANN202
    from taxreport.ledger.store import Ledger

    return Ledger(f"sqlite:///{db}")


# --- prices import FILE: OHLCV by header ----------------------------------------------------

def test_file_layout_by_header(tmp_path):
    files = {"r.csv": "timestamp,base,quote,rate\n2024-01-01,USD,GBP,0.8\n",
             "ecb.csv": "Date,USD,\n2024-01-02,1.09,\n", "o.csv": OHLCV}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert [file_layout(str(tmp_path / n)) for n in files] == ["csv", "ecb", "ohlcv"]
    with pytest.raises(InputError, match="OHLCV candle file, not rates"):
        parse_rate_file(str(tmp_path / "o.csv"))


def test_cli_prices_import_ohlcv_is_idempotent_with_candles_import(tmp_path):
    db = str(tmp_path / "i.sqlite3")
    ohlcv = tmp_path / "o.csv"
    ohlcv.write_text(OHLCV)
    rates = tmp_path / "r.csv"
    rates.write_text("date,base,quote,rate\n2024-01-02,USD,GBP,0.79\n")
    r = _cli(db, "prices", "import", str(ohlcv), str(rates))
    assert r.exit_code == 0, r.output
    assert f"{ohlcv} (ohlcv): 3 candles of BTC/USDT, ETH/USDT (1d, source csv): 3 added, 0 already stored" in r.output
    assert f"{rates} (csv): 1 rates, 1 added, 0 duplicates" in r.output
    stored = CandleStore.of(_ledger(db)).load(["BTC/USDT", "ETH/USDT"], "1d", source="csv")
    assert [k.close for k in stored["BTC/USDT"]] == [D("42500.5"), D("43900")]
    assert stored["ETH/USDT"][0].close == D("2350.25")
    # the other command, same default source: nothing new
    r = _cli(db, "prices", "candles", "import", str(ohlcv), "--format", "json")
    assert '"added": 0' in r.output and '"unchanged": 3' in r.output
    r = _cli(db, "prices", "import", str(ohlcv), "--format", "json")
    [o] = json.loads(r.output)
    assert (o["layout"], o["rows"], o["added"], o["duplicates"], o["source"]) == ("ohlcv", 3, 0, 3, "csv")
    # a different close for a stored bar is refused, unless --replace
    changed = tmp_path / "c.csv"
    changed.write_text(OHLCV.replace("2350.25", "2350.26"))
    r = CliRunner().invoke(root, ["--db", db, "prices", "import", str(changed)])
    assert r.exit_code == 1 and "already stored with different values" in r.output
    r = _cli(db, "prices", "import", str(changed), "--replace")
    assert "1 replaced" in r.output
    assert CandleStore.of(_ledger(db)).load(["ETH/USDT"], "1d")["ETH/USDT"][0].close == D("2350.26")


def test_cli_prices_import_bad_ohlcv_row_writes_nothing(tmp_path):
    db = str(tmp_path / "b.sqlite3")
    rates = tmp_path / "r.csv"
    rates.write_text("date,base,quote,rate\n2024-01-02,USD,GBP,0.79\n")
    bad = tmp_path / "bad.csv"
    bad.write_text(OHLCV + "2024-01-03,BTC/USDT,1,1.2,0.5,1.5,1\n")  # high below close
    r = CliRunner().invoke(root, ["--db", db, "prices", "import", str(rates), str(bad)])
    assert r.exit_code == 1 and "bad.csv:5: high:" in r.output and "Traceback" not in r.output
    led = _ledger(db)
    assert stored_pairs(led) == [] and CandleStore.of(led).summary() == []  # the good rate file neither


def test_cli_prices_import_hourly_and_rate_only_flags(tmp_path):
    db = str(tmp_path / "h.sqlite3")
    hourly = tmp_path / "h.csv"
    start = utc(2024, 3, 1)
    hourly.write_text("timestamp,symbol,open,high,low,close,volume\n" + "".join(
        f"{(start + timedelta(hours=i)).isoformat().replace('+00:00', 'Z')},BTC/USDT,10,11,9,10.5,1\n"
        for i in range(3)))
    r = CliRunner().invoke(root, ["--db", db, "prices", "import", str(hourly)])  # default 1d: refused
    assert r.exit_code == 1 and "h.csv:3: timestamp:" in r.output
    r = _cli(db, "prices", "import", str(hourly), "--timeframe", "1h", "--source", "binance-export")
    assert "3 candles of BTC/USDT (1h, source binance-export): 3 added" in r.output
    rates = tmp_path / "r.csv"
    rates.write_text("date,base,quote,rate\n2024-01-02,USD,GBP,0.79\n")
    r = CliRunner().invoke(root, ["--db", db, "prices", "import", str(rates), "--timeframe", "1h"])
    assert r.exit_code == 1 and "--timeframe applies to OHLCV candle files only" in r.output
    assert stored_pairs(_ledger(db)) == []


def test_cli_prices_import_the_shipped_sample(tmp_path):
    db = str(tmp_path / "s.sqlite3")
    r = _cli(db, "prices", "import", str(SAMPLE), "--source", "synthetic")
    assert r.exit_code == 0 and "2193 candles of BTC/USDT, ETH/USDT, SOL/USDT (1d, source synthetic): 2193 added" \
        in r.output
