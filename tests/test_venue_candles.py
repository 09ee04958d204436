"""Today's P&L from the exchange's daily candle open: the local OKX venue serves
``GET /api/v5/market/candles`` / ``history-candles`` in OKX's shape (bars opening at 00:00 UTC+8 or, with
``utc``, 00:00 UTC; ``after``/``before`` pagination; ``confirm`` 0 for the open bar), ccxt's real okx
class reads them (``fetch_ohlcv(symbol, '1d', since=00:00 UTC, limit=1)``), and the paper exchange
answers the same question with the paper price in effect at 00:00 UTC."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

pytest.importorskip("ccxt")

from taxreport.exchanges.ccxt_exchange import CcxtExchange, Credentials
from taxreport.exchanges.paper import PaperExchange, default_markets
from taxreport.venue.faults import parse_faults
from taxreport.venue.okx import OkxError, OkxVenue
from taxreport.venue.server import serve

DAY = 86_400_000


@pytest.fixture
def midnight_venue(tmp_path):
    """A venue created 10 minutes before today's 00:00 UTC whose clock is now 00:30 UTC."""
    day_start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    clock = {"now": day_start - timedelta(minutes=10)}
    books = OkxVenue(tmp_path / "venue", seed=5, fund={"USDT": D(10000)}, clock=lambda: clock["now"])
    clock["now"] = day_start + timedelta(minutes=30)
    books.sync()
    server = serve(books, 0, parse_faults(""), 5)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield books, server, day_start
    server.shutdown()
    server.server_close()


def _history(books: OkxVenue, symbol: str) -> list[tuple[int, D]]:
    return [(int(t), D(p)) for t, p in books.meta["history"][symbol]]


def test_daily_candles_open_at_utc_midnight_or_utc_plus_8_with_okx_pagination(midnight_venue):
    books, _, day_start = midnight_venue
    since = int(day_start.timestamp() * 1000)
    hist = _history(books, "BTC/USDT")
    today = [(t, p) for t, p in hist if t >= since]
    assert len(hist) == 40 and len(today) == 31  # one price a minute since creation (00:00 is today's)
    # ccxt's request for today's UTC daily candle: bar=1Dutc, before=since-1, after=since+1 day
    [row] = books.candles("BTC-USDT", "1Dutc", "1", after=str(since + DAY), before=str(since - 1))
    assert row == [str(since), str(today[0][1]), str(max(p for _, p in today)), str(min(p for _, p in today)),
                   str(today[-1][1]), "0", "0", "0", "0"]  # the day is not over: confirm "0"
    # the bar before it (yesterday's UTC day) is complete: confirm "1"
    rows = books.candles("BTC-USDT", "1Dutc", None)
    assert [r[0] for r in rows] == [str(since), str(since - DAY)] and rows[1][8] == "1"
    assert rows[1][1] == str(hist[0][1])
    # "UTC+8 opening price k-line": the 1D bar holding 00:30 UTC opened at 16:00 UTC the day before
    [d8] = books.candles("BTC-USDT", "1D", "1")
    assert d8[0] == str(since - 8 * 3_600_000) and d8[1] == str(hist[0][1]) and d8[4] == str(hist[-1][1])
    # 1-minute bars, newest first, limit honoured, "after" = earlier than ts
    m = books.candles("BTC-USDT", "1m", "3", after=str(today[5][0] + 1))
    assert [int(r[0]) // 60000 for r in m] == [t // 60000 for t, _ in (today[5], today[4], today[3])]
    with pytest.raises(OkxError) as err:
        books.candles("BTC-USDT", "1W", None)
    assert err.value.code == "51000"


def test_ccxt_fetch_day_open_reads_the_venues_utc_daily_candle(midnight_venue):
    books, server, day_start = midnight_venue
    k = books.keys
    ex = CcxtExchange("okx", credentials=Credentials(k["api_key"], k["secret"], k["passphrase"]),
                      api_url=server.url, timeout=2)
    since = int(day_start.timestamp() * 1000)
    opens = ex.fetch_day_open(["BTC/USDT", "ETH/USDT"], day_start)
    first = {s.split("/")[0]: next(p for t, p in _history(books, s) if t >= since) for s in ("BTC/USDT", "ETH/USDT")}
    assert opens == first
    # no candle opens exactly at the asked moment (a day the venue never saw): unknown, not guessed
    assert ex.fetch_day_open(["BTC/USDT"], day_start + timedelta(days=1)) is None


def test_paper_day_open_is_the_paper_price_in_effect_at_midnight():
    t0 = datetime(2024, 1, 8, 0, 10, tzinfo=UTC)
    ex = PaperExchange(markets=default_markets(["BTC", "ETH"]), now=t0)
    ex.set_price("BTC", D(42000))
    ex.now = datetime(2024, 1, 8, 23, 59, tzinfo=UTC)
    ex.set_price("BTC", D(43000))
    ex.set_price("ETH", D(2300))  # first set after 00:00 on the 8th
    ex.now = datetime(2024, 1, 9, 0, 20, tzinfo=UTC)
    ex.set_price("BTC", D(41000))
    jan8, jan9 = datetime(2024, 1, 8, tzinfo=UTC), datetime(2024, 1, 9, tzinfo=UTC)
    assert ex.fetch_day_open(["BTC/USDT", "ETH/USDT"], jan9) == {"BTC": D(43000), "ETH": D(2300)}
    assert ex.fetch_day_open(["BTC/USDT", "ETH/USDT"], jan8) == {}  # nothing was priced before
    # kept across processes
    again = PaperExchange.from_state(ex.to_state())
    assert again.fetch_day_open(["BTC/USDT"], jan9) == {"BTC": D(43000)}


def test_paper_status_today_pnl_uses_the_paper_prices_at_midnight(tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from taxreport.cli.main import root

    monkeypatch.setenv("TAXREPORT_DB", str(tmp_path / "ledger.sqlite3"))
    runner = CliRunner()

    def cli(*args: str) -> str:
        result = runner.invoke(root, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    cli("basket", "create", "beta", "--weights", "ETH=50,SOL=50", "--gate", "0")
    cli("basket", "invest", "2000", "--basket", "beta", "--paper", "--prices", "ETH=2000,SOL=100",
        "--at", "2024-01-08T00:10:00Z", "--yes")
    # next day, 00:20 UTC, SOL has fallen to 90; nothing checked the basket near midnight: the paper
    # prices in effect at 00:00 UTC (ETH 2000, SOL 100, set the day before) are the day's open
    s = json.loads(cli("basket", "status", "--basket", "beta", "--paper", "--prices", "SOL=90",
                       "--at", "2024-01-09T00:20:00Z", "--format", "json"))
    assert s["day_start_prices_from"] == "paper prices"
    assert s["prices_at_day_start"] == {"ETH": "2000", "SOL": "100"}
    qty = {row["asset"]: D(row["quantity"]) for row in s["allocation"]}
    cash = D(s["cash"])
    # by hand: value at 00:00 = ETH qty x 2000 + SOL qty x 100 + cash; now = ETH x 2000 + SOL x 90 + cash;
    # today's P&L = SOL qty x (90 - 100) (nothing invested since midnight)
    assert D(s["value_at_day_start"]) == qty["ETH"] * 2000 + qty["SOL"] * 100 + cash
    assert D(s["today_pnl"]) == qty["SOL"] * (D(90) - D(100))
    assert D(s["total_pnl"]) == D(s["total_value"]) - D(2000)
    out = cli("basket", "status", "--basket", "beta", "--paper", "--at", "2024-01-09T00:21:00Z")
    assert "prices at 00:00 UTC: paper prices" in out
