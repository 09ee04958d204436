"""The local OKX venue rate-limits each endpoint as OKX does (QA round 12, helper qavenue).

OKX v5, Rate Limits: "If a request is rejected by our system due to rate limit, the system returns
error code 50011 (Rate limit reached. Please refer to API documentation and throttle requests
accordingly)"; Get transaction details (last 3 months): "Rate Limit: 10 requests per 2 seconds".
Before: the venue never limited by count (only the random ``rate_limit`` fault), kinder than OKX."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

pytest.importorskip("ccxt")

from taxreport.exchanges.ccxt_exchange import CcxtExchange, Credentials
from taxreport.venue.faults import parse_faults
from taxreport.venue.okx import OkxVenue
from taxreport.venue.ratelimit import RateLimits
from taxreport.venue.server import serve


@pytest.fixture
def running(tmp_path):
    servers = []

    def start(rate_limits: bool = True):
        books = OkxVenue(tmp_path / f"v{len(servers)}", seed=5, fund={"USDT": D(10000)})
        server = serve(books, 0, parse_faults(""), 5, rate_limits=rate_limits)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return books, server

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def _get(server, books, path: str) -> tuple[int, dict]:
    """One signed GET, as OKX's REST authentication describes (timestamp + method + path + body)."""
    k = books.keys
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{datetime.now(UTC).microsecond // 1000:03d}Z"
    sign = base64.b64encode(hmac.new(k["secret"].encode(), (stamp + "GET" + path).encode(),
                                     hashlib.sha256).digest()).decode()
    req = urllib.request.Request(server.url + path, headers={
        "OK-ACCESS-KEY": k["api_key"], "OK-ACCESS-SIGN": sign, "OK-ACCESS-TIMESTAMP": stamp,
        "OK-ACCESS-PASSPHRASE": k["passphrase"]})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_the_eleventh_fills_history_request_within_2_seconds_is_50011_http_429(running):
    books, server = running()
    path = "/api/v5/trade/fills-history?instType=SPOT"
    answers = [_get(server, books, path) for _ in range(11)]
    assert [a[0] for a in answers[:10]] == [200] * 10  # 10 requests per 2 seconds
    status, body = answers[10]
    assert status == 429 and body["code"] == "50011" and body["data"] == []
    assert body["msg"].startswith("Rate limit reached")
    # other endpoints have their own windows: the balance is still answered
    assert _get(server, books, "/api/v5/account/balance")[0] == 200


def test_rate_limits_can_be_turned_off(running):
    books, server = running(rate_limits=False)
    assert {_get(server, books, "/api/v5/trade/fills-history?instType=SPOT")[0] for _ in range(12)} == {200}


def test_window_slides_and_refused_requests_do_not_count():
    now = [0.0]
    limits = RateLimits(clock=lambda: now[0])
    assert all(limits.admit("GET", "/api/v5/account/balance") for _ in range(10))
    assert not limits.admit("GET", "/api/v5/account/balance")
    now[0] = 1.99
    assert not limits.admit("GET", "/api/v5/account/balance")
    now[0] = 2.0  # the first ten left the 2-second window; the refused ones never entered it
    assert all(limits.admit("GET", "/api/v5/account/balance") for _ in range(10))
    assert limits.refused == 2
    # place order is limited per instrument ("User ID + Instrument ID")
    assert all(limits.admit("POST", "/api/v5/trade/order", "BTC-USDT") for _ in range(60))
    assert not limits.admit("POST", "/api/v5/trade/order", "BTC-USDT")
    assert limits.admit("POST", "/api/v5/trade/order", "ETH-USDT")


def test_ccxt_client_stays_within_the_limits_its_reads_retry(running):
    """ccxt throttles itself by OKX's costs, and a read refused with 50011 is retried (RateLimitExceeded
    is "not processed"): twelve balance reads in a row all succeed against a 10-per-2-seconds limit."""
    books, server = running()
    k = books.keys
    ex = CcxtExchange("okx", credentials=Credentials(k["api_key"], k["secret"], k["passphrase"]),
                      api_url=server.url, timeout=5)
    ex.load_markets()
    assert [ex.fetch_balances()["USDT"] for _ in range(12)] == [D(10000)] * 12


def test_fills_history_requires_inst_type_as_okx(running):
    books, server = running()
    status, body = _get(server, books, "/api/v5/trade/fills-history")
    assert status == 400 and body["code"] == "50014" and "instType" in body["msg"]
    assert _get(server, books, "/api/v5/trade/fills")[0] == 200  # optional for the last 3 days' fills
