"""OKX's clock is not the bot's (QA round 12, helper qavenue).

The executor never concludes "that request was not carried out" before the request's ``expTime``
plus a 2-second margin has passed (executor safety argument C), but it measures that instant on
ITS clock, while OKX judges ``expTime`` on OKX's: OKX v5, REST authentication: "It's recommended to
use the time endpoint to query for the API server time if you believe there may be time skew
between your server and the API servers." OKX accepts requests whose timestamp is up to 30 s off,
so a machine whose clock is ahead of OKX's by more than the margin concluded "missing" while OKX
could still carry the request out: the next attempt (a new id) doubled the order. The ccxt adapter
now measures the venue's clock (``public/time``) with the markets and sends ``expTime`` on it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

pytest.importorskip("ccxt")

from taxreport.exchanges import base
from taxreport.exchanges.base import OrderRequest
from taxreport.exchanges.ccxt_exchange import CcxtExchange, Credentials
from taxreport.venue.faults import parse_faults
from taxreport.venue.okx import OkxVenue
from taxreport.venue.server import serve


def _venue(tmp_path, faults: str):
    spec = parse_faults(faults)
    books = OkxVenue(tmp_path / "venue", seed=3, fill_lag=spec.fill_lag, fund={"USDT": D(10000)},
                     clock_skew=spec.clock_skew)
    server = serve(books, 0, spec, 3)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    k = books.keys
    client = CcxtExchange("okx", credentials=Credentials(k["api_key"], k["secret"], k["passphrase"]),
                          api_url=server.url, timeout=2)
    return books, server, client


def test_parse_clock_skew():
    assert parse_faults("clock_skew=-6").clock_skew == -6.0
    assert parse_faults("clock_skew=-6,fill_lag=1").text == "fill_lag=1,clock_skew=-6"
    with pytest.raises(Exception, match="at most 25 seconds"):
        parse_faults("clock_skew=40")


def test_the_venue_clock_answers_public_time(tmp_path):
    books, server, client = _venue(tmp_path, "clock_skew=-8")
    try:
        client.load_markets()
        assert abs(client.clock_offset + timedelta(seconds=8)) < timedelta(seconds=1)
    finally:
        server.shutdown()
        server.server_close()


def test_a_late_request_is_not_carried_out_after_the_bots_own_deadline_when_the_venue_clock_is_behind(tmp_path):
    # The venue's clock is 6 s behind this machine's; every create reaches its engine 5 s late
    # (fault delay: the client's connection is dropped now).
    books, server, client = _venue(tmp_path, "delay=1,delay_seconds=5,clock_skew=-6")
    try:
        client.load_markets()
        ask = client.fetch_tickers(["BTC/USDT"])["BTC/USDT"].ask
        deadline = datetime.now(UTC) + timedelta(seconds=2)  # the bot's expTime, on its own clock
        with pytest.raises(base.NetworkError):
            client.create_order(OrderRequest("trclock1", "BTC/USDT", "buy", "limit", D("0.001"), ask + 100,
                                             deadline))
        # The executor would look again at deadline + 2 s (margin) and, finding nothing, conclude
        # "missing" and send the remainder under a new id. The late request reaches the engine 5 s
        # after it left, i.e. after that conclusion.
        time.sleep(5.6)
        books.sync()
        # Before: expTime went out on this machine's clock, 6 s ahead of the venue's, so the venue
        # (its clock 1 s before that expTime when the request arrived) carried it out: an order the
        # bot had already written off. Now expTime is on the venue's clock and the request is refused.
        assert books.ex.orders == {}
    finally:
        server.shutdown()
        server.server_close()
