"""OHLCV candles: CSV import (errors name file:line:field, idempotent), the store, and the ccxt fetch
with paging, retries and the cache (driven by a fake exchange object; no network)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxreport.errors import TaxreportError
from taxreport.importers.base import ImportRefused
from taxreport.prices.candles import CandleStore, parse_ohlcv_csv
from taxreport.prices.candles_fetch import fetch_candles

SAMPLE = Path(__file__).parent.parent / "sample_exports" / "prices" / "synthetic_ohlcv_1d.csv"
GOOD = """timestamp,symbol,open,high,low,close,volume
2024-01-01T00:00:00Z,BTC/USDT,42000.1,43000,41000,42500.5,12.5
2024-01-01,ETH/USDT,2300,2400,2250,2350.25,100
1704153600000,BTC/USDT,42500.5,44000,42000,43900,10
"""


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def write(tmp_path: Path, text: str, name: str = "ohlcv.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_parse_exact_decimals_and_timestamp_forms(tmp_path):
    rows = parse_ohlcv_csv(write(tmp_path, GOOD))
    assert [(k.symbol, k.time) for k in rows] == [
        ("BTC/USDT", utc(2024, 1, 1)), ("ETH/USDT", utc(2024, 1, 1)), ("BTC/USDT", utc(2024, 1, 2))]
    assert rows[0].close == Decimal("42500.5") and rows[1].close == Decimal("2350.25")
    assert isinstance(rows[2].volume, Decimal) and rows[2].volume == 10


@pytest.mark.parametrize("line, field", [
    ("2024-01-03T00:00:00Z,BTC/USDT,1,2,0.5,abc,1", "close"),
    ("2024-01-03T00:00:00Z,BTCUSDT,1,2,0.5,1.5,1", "symbol"),
    ("2024-01-03T05:00:00Z,BTC/USDT,1,2,0.5,1.5,1", "timestamp"),  # not on a 1d boundary
    ("1704240000,BTC/USDT,1,2,0.5,1.5,1", "timestamp"),  # seconds, not milliseconds
    ("2024-01-03T00:00:00,BTC/USDT,1,2,0.5,1.5,1", "timestamp"),  # naive time refused
    ("2024-01-03T00:00:00Z,BTC/USDT,1,1.2,0.5,1.5,1", "high"),  # high below close
    ("2024-01-03T00:00:00Z,BTC/USDT,1,2,1.2,1.5,1", "low"),  # low above open
    ("2024-01-03T00:00:00Z,BTC/USDT,0,2,0.5,1.5,1", "open"),
    ("2024-01-03T00:00:00Z,BTC/USDT,1,2,0.5,1.5,-1", "volume"),
    ("2024-01-01T00:00:00Z,BTC/USDT,1,2,0.5,1.5,1", "timestamp"),  # duplicate of line 2
])
def test_bad_row_is_named_and_file_refused(tmp_path, line, field):
    path = write(tmp_path, GOOD + line + "\n")
    with pytest.raises(ImportRefused) as err:
        parse_ohlcv_csv(path)
    assert len(err.value.problems) == 1
    problem = err.value.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(path), 5, field)
    assert f"{path}:5: {field}:" in str(err.value)


def test_wrong_header_and_cell_count(tmp_path):
    with pytest.raises(TaxreportError, match=r"ohlcv.csv:1: header: .*expected timestamp,symbol"):
        parse_ohlcv_csv(write(tmp_path, "time,symbol,open,high,low,close\n"))
    with pytest.raises(ImportRefused, match=r"ohlcv.csv:2: 6 cells, expected 7"):
        parse_ohlcv_csv(write(tmp_path, "timestamp,symbol,open,high,low,close,volume\n2024-01-01,BTC/USDT,1,2,1,1\n"))


def test_daily_rows_imported_as_hourly_are_refused(tmp_path):
    with pytest.raises(TaxreportError, match=r"timeframe: no two BTC/USDT rows are 1h apart .*1 day"):
        parse_ohlcv_csv(write(tmp_path, GOOD), timeframe="1h")


def test_every_problem_reported_and_nothing_written(tmp_path, ledger):
    path = write(tmp_path, GOOD + "2024-01-05,BTC/USDT,x,2,1,1,1\n2024-01-06,ETH/USDT,1,2,1,1,y\n")
    with pytest.raises(ImportRefused) as err:
        parse_ohlcv_csv(path)
    assert [(p.line, p.field) for p in err.value.problems] == [(5, "open"), (6, "volume")]
    assert CandleStore.of(ledger).summary() == []


def test_store_is_idempotent_and_refuses_conflicts(tmp_path, ledger):
    store = CandleStore.of(ledger)
    rows = parse_ohlcv_csv(write(tmp_path, GOOD))
    first = store.save(rows, source="csv")
    again = store.save(rows, source="csv")
    assert (first.added, first.unchanged) == (3, 0)
    assert (again.added, again.unchanged) == (0, 3)
    changed = parse_ohlcv_csv(write(tmp_path, GOOD.replace("2350.25", "2350.26"), "b.csv"))
    with pytest.raises(TaxreportError, match="already stored with different values"):
        store.save(changed, source="csv")
    assert store.load(["ETH/USDT"], "1d")["ETH/USDT"][0].close == Decimal("2350.25")  # nothing written
    assert store.save(changed, source="csv", replace=True).replaced == 1
    assert store.load(["ETH/USDT"], "1d")["ETH/USDT"][0].close == Decimal("2350.26")
    store.save(rows, source="other")
    with pytest.raises(TaxreportError, match="several sources"):
        store.load(["BTC/USDT"], "1d")
    loaded = store.load(["BTC/USDT"], "1d", source="other", start=utc(2024, 1, 2))
    assert [k.close for k in loaded["BTC/USDT"]] == [Decimal("43900")]


def test_cli_import_twice_adds_nothing(tmp_path):
    from taxreport.cli.prices_candles import candles

    db = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    runner = CliRunner()
    res = runner.invoke(candles, ["import", str(SAMPLE), "--source", "synthetic"], obj={"db": db})
    assert res.exit_code == 0, res.output
    assert "2193 candles of BTC/USDT, ETH/USDT, SOL/USDT" in res.output and "2193 added" in res.output
    res = runner.invoke(candles, ["import", str(SAMPLE), "--source", "synthetic", "--format", "json"], obj={"db": db})
    assert '"added": 0' in res.output and '"unchanged": 2193' in res.output


class FakeOkx:
    """Serves 1d candles from 2024-01-01 for ``days`` days, ``page`` per call, with scripted failures."""

    def __init__(self, days: int, page: int = 3, failures: list[Exception] | None = None) -> None:
        self.days, self.page, self.failures, self.calls = days, page, list(failures or []), []

    def fetch_ohlcv(self, symbol, timeframe, since, limit):  # noqa: ANN001
        self.calls.append((symbol, since, limit))
        if self.failures:
            raise self.failures.pop(0)
        start = 1704067200000  # 2024-01-01
        out = []
        for i in range(self.days):
            ts = start + i * 86_400_000
            if ts >= since and len(out) < min(limit, self.page):
                out.append([ts, 100.0 + i, 110.5, 90.1, 100.1 + i, 5.0])  # floats, as ccxt returns
        return out


def test_fetch_pages_retries_and_caches(ledger):
    import ccxt

    store = CandleStore.of(ledger)
    sleeps: list[float] = []
    fake = FakeOkx(days=7, failures=[ccxt.RequestTimeout("t"), ccxt.RateLimitExceeded("r")])
    now = utc(2024, 1, 7, 12)  # the 2024-01-07 candle is still forming
    [res] = fetch_candles(fake, ["BTC/USDT"], "1d", utc(2024, 1, 1), store=store, source="okx", now=now,
                          sleep=sleeps.append, base_delay=1.0, max_delay=1.5)
    assert sleeps == [1.0, 1.5]  # 1, then min(1.5, 2)
    assert (res.added, res.retries, res.incomplete) == (6, 2, 1)
    stored = store.load(["BTC/USDT"], "1d")["BTC/USDT"]
    assert [k.close for k in stored] == [Decimal("100.1") + i for i in range(6)]
    assert stored[0].low == Decimal("90.1")  # float 90.1 became exactly Decimal("90.1")
    # Cached: a second fetch starts after the last stored candle (2024-01-06 -> 2024-01-07).
    fake.calls.clear()
    [res2] = fetch_candles(fake, ["BTC/USDT"], "1d", utc(2024, 1, 1), store=store, source="okx",
                           now=utc(2024, 1, 8, 1), sleep=sleeps.append)
    assert fake.calls[0][1] == 1704585600000  # 2024-01-07
    assert (res2.added, res2.unchanged) == (1, 0)


def test_fetch_gives_up_and_fails_fast(ledger):
    import ccxt

    store = CandleStore.of(ledger)
    fake = FakeOkx(days=3, failures=[ccxt.NetworkError("down")] * 3)
    with pytest.raises(TaxreportError, match="gave up after 3 attempts"):
        fetch_candles(fake, ["BTC/USDT"], "1d", utc(2024, 1, 1), store=store, source="okx",
                      now=utc(2024, 2, 1), sleep=lambda s: None, max_attempts=3)
    fake = FakeOkx(days=3, failures=[ccxt.BadSymbol("okx does not have market symbol FOO/USDT")])
    with pytest.raises(TaxreportError, match="BadSymbol"):
        fetch_candles(fake, ["FOO/USDT"], "1d", utc(2024, 1, 1), store=store, source="okx",
                      now=utc(2024, 2, 1), sleep=lambda s: pytest.fail("must not retry"))
    assert len(fake.calls) == 1
