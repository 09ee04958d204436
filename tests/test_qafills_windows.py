"""OKX forgets: the local venue's history windows, and the bot's recovery across them (QA round 13,
helper qafills).

OKX v5 (https://www.okx.com/docs-v5/en/, Order book trading > Trade):

* Get transaction details (last 3 days), ``GET /api/v5/trade/fills``: "Retrieve recently-filled
  transaction details in the last 3 days."
* Get transaction details (last 3 months), ``GET /api/v5/trade/fills-history``: "Retrieve
  recently-filled transaction details in the last 3 months."
* Get order history (last 7 days), ``GET /api/v5/trade/orders-history``: "Get completed orders which
  are placed in the last 7 days, including those placed 7 days ago but completed in the last 7 days."
* Get order history (last 3 months), ``-archive``: "Get completed orders which are placed in the last
  3 months, including those placed 3 months ago but completed in the last 3 months."

Before this round the venue listed every fill and order forever. The bot (ccxt's okx class reads
``fills-history`` for fetch_my_trades, ``trade/order`` for fetch_order) copes with a crash 4 or 8
days old; a crash older than OKX's 3 months cannot be told from the API, and recovery then wrote
"canceled, no fills" for an order that had filled: a lost fill (a sale missing from the tax ledger).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

pytest.importorskip("ccxt")

from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.exchanges.base import OrderRequest
from taxreport.exchanges.ccxt_exchange import CcxtExchange, Credentials
from taxreport.ledger import Ledger
from taxreport.model.events import Trade
from taxreport.rebalance.journal import Journal
from taxreport.rebalance.recovery import ExecutionError, Patience, Retrier, recover
from taxreport.venue.faults import parse_faults
from taxreport.venue.okx import OkxVenue
from taxreport.venue.server import serve


@pytest.fixture
def venue(tmp_path):
    servers = []

    def start():
        books = OkxVenue(tmp_path / "venue", seed=5, fund={"USDT": D(10000)})
        server = serve(books, 0, parse_faults(""), 5, rate_limits=False)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        k = books.keys
        client = CcxtExchange("okx", credentials=Credentials(k["api_key"], k["secret"], k["passphrase"]),
                              api_url=server.url, timeout=2)
        client.load_markets()
        return books, client

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def _filled_buy(books: OkxVenue, client: CcxtExchange, cid: str) -> str:
    ask = client.fetch_tickers(["SOL/USDT"])["SOL/USDT"].ask
    order = client.create_order(OrderRequest(cid, "SOL/USDT", "buy", "limit", D(1), ask + 5,
                                             datetime.now(UTC) + timedelta(seconds=10)))
    for _ in range(50):
        if client.fetch_order_by_client_id("SOL/USDT", cid).status == "closed":  # type: ignore[union-attr]
            return order.id
        time.sleep(0.1)
    raise AssertionError("the marketable buy did not fill")


def _raw(client: CcxtExchange, endpoint: str, **params: str) -> list[dict]:
    return getattr(client._client, endpoint)({"instType": "SPOT", **params})["data"]


def test_fills_and_order_history_windows(venue):
    books, client = venue()
    oid = _filled_buy(books, client, "qafwin1")
    assert [r["ordId"] for r in _raw(client, "privateGetTradeFills")] == [oid]
    assert [r["ordId"] for r in _raw(client, "privateGetTradeOrdersHistory")] == [oid]
    books.backdate(timedelta(days=4))  # 4 days: out of `fills` (3 days), still in the others
    assert _raw(client, "privateGetTradeFills") == []
    assert [r["ordId"] for r in _raw(client, "privateGetTradeFillsHistory")] == [oid]
    assert [r["ordId"] for r in _raw(client, "privateGetTradeOrdersHistory")] == [oid]
    books.backdate(timedelta(days=4))  # 8 days: out of `orders-history` (7 days)
    assert _raw(client, "privateGetTradeOrdersHistory") == []
    assert [r["ordId"] for r in _raw(client, "privateGetTradeOrdersHistoryArchive")] == [oid]
    assert [r["ordId"] for r in _raw(client, "privateGetTradeFillsHistory")] == [oid]
    assert client.fetch_order_by_client_id("SOL/USDT", "qafwin1").status == "closed"  # type: ignore[union-attr]
    books.backdate(timedelta(days=83))  # 91 days: out of every window
    assert _raw(client, "privateGetTradeFillsHistory") == []
    assert _raw(client, "privateGetTradeOrdersHistoryArchive") == []
    assert client.fetch_order_by_client_id("SOL/USDT", "qafwin1") is None  # 51603


def _crashed_intent(tmp_path, books, client, cid: str) -> tuple[Ledger, Journal, str]:
    """A run that wrote its intent, sent the order (it filled) and died before recording anything else."""
    led = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    journal = Journal(led, "core", "okx:main", "okx", checkpoint=False)
    journal.rebalance_record("r1", "start", "rebalance.start", {"rebalance_id": "r1"})
    journal.intent(cid, "r1", 0, 1, "SOL", "SOL/USDT", "buy", "limit", D(1), None,
                   expires_at=datetime.now(UTC) + timedelta(seconds=10))
    return led, journal, _filled_buy(books, client, cid)


def _recover(journal: Journal, client: CcxtExchange):
    retrier = Retrier(sleep=lambda _s: None)
    return recover(journal, client, retrier, client.load_markets(),
                   patience=Patience(lambda _s: None, lambda: datetime.now(UTC) + timedelta(minutes=5)))


@pytest.mark.parametrize("days", [4, 8])
def test_recovery_of_a_crash_older_than_the_fills_and_order_history_windows(venue, tmp_path, days):
    books, client = venue()
    led, journal, _oid = _crashed_intent(tmp_path, books, client, f"qafrec{days}")
    try:
        books.backdate(timedelta(days=days))
        report = _recover(journal, client)
        assert [o for _c, o in report.orders] == ["closed, 1 fills"]
        assert report.fills_written == 1
        trades = [e for e in led.events(kinds=["trade"]) if isinstance(e, Trade)]
        assert [(t.external_id, t.quantity, t.time) for t in trades] == \
            [(f.trade_id, f.amount, f.time.replace(microsecond=f.time.microsecond // 1000 * 1000))
             for f in books.ex.fills]  # OKX times are in milliseconds
        assert journal.unfinished_intents() == []
        again = _recover(journal, client)  # nothing left to do, nothing written twice
        assert again.empty and again.fills_written == 0
        assert len([e for e in led.events(kinds=["trade"])]) == 1
    finally:
        led.close()


def test_recovery_refuses_to_guess_when_the_order_is_older_than_okx_keeps_it(venue, tmp_path):
    """100 days: neither the order nor its fills are listed any more. Before the fix recovery wrote
    "canceled (no longer listed, no fills)" for an order that had filled (a lost fill)."""
    books, client = venue()
    led, journal, _oid = _crashed_intent(tmp_path, books, client, "qafold")
    try:
        # the venue's books move 100 days back; the ledger's intent is dated now, so recovery runs on a
        # clock 100 days ahead of it (the crash was 100 days ago on both sides)
        books.backdate(timedelta(days=100))
        with pytest.raises(ExecutionError, match=r"qafold.*3 months.*import okx"):
            _recover_at(journal, client, datetime.now(UTC) + timedelta(days=100))
        assert [i.client_order_id for i in journal.unfinished_intents()] == ["qafold"]  # nothing concluded
        assert led.events(kinds=["trade"]) == []
    finally:
        led.close()


def _recover_at(journal: Journal, client: CcxtExchange, now: datetime):
    retrier = Retrier(sleep=lambda _s: None)
    return recover(journal, client, retrier, client.load_markets(), patience=Patience(lambda _s: None, lambda: now))


def test_cli_backdate(venue, tmp_path):
    books, client = venue()
    _filled_buy(books, client, "qafcli")
    books.sync()
    before = books.ex.fills[0].time
    result = CliRunner().invoke(root, ["venue", "okx", "--state", str(tmp_path / "venue"), "--backdate", "8"])
    assert result.exit_code == 0, result.output
    assert "8 day(s) back" in result.output
    after = OkxVenue(tmp_path / "venue").ex.fills[0].time
    assert before - after == timedelta(days=8)


def test_recovery_of_an_order_okx_still_shows_but_whose_fills_it_no_longer_lists(venue, tmp_path, monkeypatch):
    """OKX's docs give ``trade/order`` no retention: if it still shows the 100-day-old order as filled
    while ``fills-history`` (3 months) lists none of its fills, recovery left it ``fills_pending`` at
    every run, forever, without saying why. Now: the same one-line refusal, fills_pending kept."""
    import taxreport.venue.okx as okx_mod

    monkeypatch.setattr(okx_mod, "ORDER_DETAILS_WINDOW", timedelta(days=3650))
    books, client = venue()
    led, journal, _oid = _crashed_intent(tmp_path, books, client, "qafshown")
    try:
        books.backdate(timedelta(days=100))
        assert client.fetch_order_by_client_id("SOL/USDT", "qafshown").status == "closed"  # type: ignore[union-attr]
        ticks = iter(range(10**6))
        clock = lambda: datetime.now(UTC) + timedelta(days=100, seconds=10 * next(ticks))  # noqa: E731
        with pytest.raises(ExecutionError, match=r"qafshown.*3 months.*import okx"):
            recover(journal, client, Retrier(sleep=lambda _s: None), client.load_markets(),
                    patience=Patience(lambda _s: None, clock))
        assert [i.client_order_id for i in journal.unfinished_intents()] == ["qafshown"]
        assert led.events(kinds=["trade"]) == []
    finally:
        led.close()
