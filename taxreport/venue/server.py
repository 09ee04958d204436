"""The local OKX venue's HTTP server: the OKX v5 REST endpoints ccxt's ``okx`` class calls for spot
trading, on 127.0.0.1, with OKX's request signature and injectable faults.

Endpoints (what ccxt 4.5's ``okx.py`` calls): ``GET /api/v5/public/instruments`` and ``public/time``
(load_markets), ``asset/currencies`` (private, load_markets with keys), ``account/balance``
(fetch_balance), ``POST trade/order`` and ``trade/batch-orders`` (create_order), ``GET trade/order``
(fetch_order by ``ordId`` or ``clOrdId``), ``trade/orders-pending``, ``trade/orders-history`` and
``-archive`` (open / closed orders), ``trade/fills`` and ``trade/fills-history`` (fetch_my_trades,
fetch_order_trades; 100 per page), ``POST trade/cancel-order``, ``market/ticker(s)``,
``market/books``, ``market/candles`` and ``history-candles``. Each endpoint is rate-limited as on OKX
(:mod:`taxreport.venue.ratelimit`: ``50011``, HTTP 429, not carried out).

Signature (OKX v5, REST authentication): "The OK-ACCESS-SIGN header is generated as follows: create a
prehash string of timestamp + method + requestPath + body (where + represents String concatenation)
... sign the prehash string with the SecretKey using the HMAC SHA256 ... encode the signature in the
Base64 format", with OK-ACCESS-KEY, OK-ACCESS-PASSPHRASE and OK-ACCESS-TIMESTAMP ("the request will be
considered expired and rejected if the timestamp is more than 30 seconds" from the server time:
``50102``). Wrong key ``50111``, wrong passphrase ``50105``, wrong signature ``50113`` (HTTP 401).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import sys
import threading
from datetime import UTC, datetime
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from taxreport.venue.faults import Dice, FaultSpec
from taxreport.venue.okx import (
    FILLS_HISTORY_WINDOW,
    FILLS_WINDOW,
    ORDERS_ARCHIVE_WINDOW,
    ORDERS_HISTORY_WINDOW,
    PAGE_LIMIT,
    OkxError,
    OkxVenue,
    ms,
)
from taxreport.venue.ratelimit import RateLimits

PRIVATE_FAULTY = ("/api/v5/trade/", "/api/v5/account/balance")
HTML_5XX = {502: "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway"
                 "</h1></center>\r\n</body>\r\n</html>\r\n",
            503: "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 "
                 "Service Temporarily Unavailable</h1></center></body></html>"}


class _Drop(Exception):
    """Close the connection without an answer."""


class VenueServer(ThreadingHTTPServer):
    """One thread per connection (a client keeps its connection open between requests: HTTP/1.1 keep-alive, as
    ccxt's requests session does). :meth:`server_close` ends them all: each open connection is shut for reading
    (its thread, waiting for the next request, sees the end; one answering a request finishes its answer) and
    every thread is joined, so after it no request reaches the books (``run_venue`` then syncs and saves them)
    and no thread is left behind. (socketserver's own ``server_close`` joins no daemon thread.)"""

    daemon_threads = True
    allow_reuse_address = True
    CLOSE_WAIT = 10.0  # seconds server_close waits for a connection's thread (one answering a request)

    def __init__(self, venue: OkxVenue, port: int, faults: FaultSpec, seed: int, *, quiet: bool = True,
                 rate_limits: bool = True) -> None:
        self.venue, self.faults, self.dice, self.quiet = venue, faults, Dice(faults, seed), quiet
        self.limits = RateLimits(enabled=rate_limits)
        self._connections: dict[threading.Thread, socket.socket] = {}
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """ThreadingMixIn's thread for the connection, remembered until it ends."""
        thread = threading.Thread(target=self._serve_connection, args=(request, client_address),
                                  name=f"venue-connection-{client_address[1]}", daemon=True)
        with self._connections_lock:
            self._connections[thread] = request
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.pop(threading.current_thread(), None)

    def server_close(self) -> None:
        """Stop listening, end every open connection and wait for its thread (class docstring)."""
        super().server_close()
        with self._connections_lock:
            still_open = list(self._connections.items())
        for _thread, conn in still_open:
            try:
                conn.shutdown(socket.SHUT_RD)
            except OSError:  # closed meanwhile
                pass
        for thread, _conn in still_open:
            thread.join(self.CLOSE_WAIT)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: VenueServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            sys.stderr.write("venue: " + (format % args) + "\n")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    # --- plumbing ----------------------------------------------------------------------------------
    def _send(self, status: int, body: str, content_type: str = "application/json") -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json(self, data: Any, *, code: str = "0", msg: str = "", status: int = 200) -> None:
        self._send(status, json.dumps({"code": code, "msg": msg, "data": data}))

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def _handle(self, method: str) -> None:
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        path, query = url.path, {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            private = not path.startswith(("/api/v5/public/", "/api/v5/market/"))
            if private:
                self._authenticate(method, raw)
            self._throttle(method, path, query, raw)
            fault = None
            if private and path.startswith(PRIVATE_FAULTY):
                fault = self.server.dice.roll(cancel=path.endswith("cancel-order"))
            self._dispatch(method, path, query, raw, fault)
        except _Drop:
            self._drop()
        except OkxError as exc:
            if exc.scode is not None:
                self._json([{"sCode": exc.scode, "sMsg": exc.msg, "ordId": "", "clOrdId": "", "tag": ""}],
                           code=exc.code, msg="All operations failed" if exc.code == "1" else exc.msg,
                           status=exc.http)
            else:
                self._json([], code=exc.code, msg=exc.msg, status=exc.http)
        except (ValueError, KeyError, TypeError) as exc:
            self._json([], code="50014", msg=f"Parameter error: {exc}", status=400)

    def _throttle(self, method: str, path: str, query: dict[str, str], raw: str) -> None:
        """OKX's per-endpoint limits (:mod:`taxreport.venue.ratelimit`): over it, ``50011`` and HTTP 429,
        not carried out ("Rate limit reached. Please refer to API documentation and throttle requests
        accordingly")."""
        inst, weight = query.get("instId", ""), 1
        if method == "POST" and path in ("/api/v5/trade/order", "/api/v5/trade/batch-orders"):
            try:
                body = json.loads(raw or "{}")
            except ValueError:
                body = {}
            if isinstance(body, list):
                weight = max(len(body), 1)
            elif isinstance(body, dict):
                inst = str(body.get("instId") or "")
        if not self.server.limits.admit(method, path, inst, weight):
            raise OkxError("50011", "Rate limit reached. Please refer to API documentation and throttle "
                                    "requests accordingly", http=429)

    def _authenticate(self, method: str, raw: str) -> None:
        keys = self.server.venue.keys
        h = self.headers
        key, sign, stamp, phrase = (h.get("OK-ACCESS-KEY"), h.get("OK-ACCESS-SIGN"), h.get("OK-ACCESS-TIMESTAMP"),
                                    h.get("OK-ACCESS-PASSPHRASE"))
        if not key or not sign or not stamp or not phrase:
            raise OkxError("50103", "Request header OK-ACCESS-KEY, OK-ACCESS-SIGN, OK-ACCESS-TIMESTAMP or "
                                    "OK-ACCESS-PASSPHRASE cannot be empty", http=401)
        if not hmac.compare_digest(key, keys["api_key"]):
            raise OkxError("50111", "Invalid OK-ACCESS-KEY", http=401)
        if not hmac.compare_digest(phrase, keys["passphrase"]):
            raise OkxError("50105", "Invalid OK-ACCESS-PASSPHRASE", http=401)
        try:
            when = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        except ValueError:
            raise OkxError("50112", "Invalid OK-ACCESS-TIMESTAMP", http=401) from None
        if abs((self.server.venue.wall_clock() - when).total_seconds()) > 30:
            raise OkxError("50102", "Timestamp request expired", http=401)
        prehash = stamp + method + self.path + raw
        expected = base64.b64encode(hmac.new(keys["secret"].encode(), prehash.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected.decode(), sign):
            raise OkxError("50113", "Invalid Sign", http=401)

    # --- routes -----------------------------------------------------------------------------------
    def _dispatch(self, method: str, path: str, q: dict[str, str], raw: str, fault: str | None) -> None:
        v = self.server.venue
        limit = min(int(q.get("limit") or PAGE_LIMIT), PAGE_LIMIT)
        is_create = method == "POST" and path in ("/api/v5/trade/order", "/api/v5/trade/batch-orders")
        carried_out = True
        if fault in ("drop_request",) or (fault == "delay" and not is_create):
            raise _Drop()
        if fault == "rate_limit":
            raise OkxError("50011", "Too Many Requests", http=429)
        if fault == "delay":
            body = json.loads(raw or "{}")
            for args in (body if isinstance(body, list) else [body]):
                v.delay(args, self.headers.get("expTime"), self.server.faults.delay_seconds)
            raise _Drop()
        if fault in ("html_5xx", "json_5xx", "code_50004"):
            carried_out = self.server.dice.coin()
            if not carried_out:
                self._fail(fault)
                return
        if method == "GET" and path == "/api/v5/public/time":
            answer: Any = [{"ts": ms(v.wall_clock())}]  # the venue's own clock (fault clock_skew)
        elif method == "GET" and path == "/api/v5/public/instruments":
            answer = v.instruments(q.get("instType", ""), q.get("instId"))
        elif method == "GET" and path == "/api/v5/market/tickers":
            answer = v.tickers() if q.get("instType", "SPOT") == "SPOT" else []
        elif method == "GET" and path == "/api/v5/market/ticker":
            answer = v.tickers(q.get("instId"))
        elif method == "GET" and path in ("/api/v5/market/books", "/api/v5/market/books-full"):
            answer = [v.book(q.get("instId", ""), int(q.get("sz") or 1))]
        elif method == "GET" and path in ("/api/v5/market/candles", "/api/v5/market/history-candles"):
            answer = v.candles(q.get("instId", ""), q.get("bar") or "1m", q.get("limit"), q.get("after"),
                               q.get("before"))
        elif method == "GET" and path == "/api/v5/asset/currencies":
            answer = v.currencies()
        elif method == "GET" and path == "/api/v5/account/balance":
            answer = [v.balance()]
        elif is_create:
            body = json.loads(raw or "{}")
            batch = body if isinstance(body, list) else [body]
            results, failed = [], 0
            for args in batch:
                try:
                    results.append(v.place(args, self.headers.get("expTime")))
                except OkxError as exc:
                    failed += 1
                    results.append({"clOrdId": str(args.get("clOrdId") or ""), "ordId": "", "tag": "",
                                    "sCode": exc.scode or exc.code, "sMsg": exc.msg})
            if fault is not None:
                self._fail(fault)
                return
            code = "0" if not failed else ("1" if failed == len(batch) else "2")
            self._json(results, code=code, msg="" if code == "0" else "All operations failed")
            return
        elif method == "POST" and path == "/api/v5/trade/cancel-order":
            body = json.loads(raw or "{}")
            answer = [v.cancel(body.get("instId"), body.get("ordId"), body.get("clOrdId"),
                               pending=fault == "cancel_pending")]
        elif method == "GET" and path == "/api/v5/trade/order":
            answer = [v.order(q.get("instId"), q.get("ordId"), q.get("clOrdId"))]
        elif method == "GET" and path in ("/api/v5/trade/orders-pending", "/api/v5/trade/orders-history",
                                          "/api/v5/trade/orders-history-archive"):
            answer = v.orders(pending=path.endswith("pending"), inst=q.get("instId"), after=q.get("after"),
                              before=q.get("before"), limit=limit, state=q.get("state"),
                              window=ORDERS_ARCHIVE_WINDOW if path.endswith("archive") else ORDERS_HISTORY_WINDOW)
        elif method == "GET" and path in ("/api/v5/trade/fills", "/api/v5/trade/fills-history"):
            if path.endswith("history") and not q.get("instType"):
                # OKX v5, Get transaction details (last 3 months): instType is required there (optional
                # for the last-3-days `fills`); a missing parameter: "50014 Parameter {0} can not be empty"
                raise OkxError("50014", "Parameter instType can not be empty.", http=400)
            answer = v.fills(inst=q.get("instId"), ord_id=q.get("ordId"), after=q.get("after"),
                             before=q.get("before"), begin=q.get("begin"), end=q.get("end"), limit=limit,
                             window=FILLS_HISTORY_WINDOW if path.endswith("history") else FILLS_WINDOW)
        else:
            if not self.server.quiet:
                sys.stderr.write(f"venue: no such endpoint {method} {path}\n")
            self._json([], code="50000", msg=f"the local venue does not serve {method} {path}", status=404)
            return
        if fault is not None and fault != "cancel_pending":
            self._fail(fault)
            return
        self._json(answer)

    def _fail(self, fault: str) -> None:
        """The answer of a fault after the request was (or was not) carried out."""
        if fault == "drop_response":
            raise _Drop()
        if fault == "html_5xx":
            status = 502 if self.server.dice.coin() else 503
            self._send(status, HTML_5XX[status], "text/html")
        elif fault == "json_5xx":
            self._send(500, json.dumps({"msg": "Internal Server Error"}))
        elif fault == "code_50004":
            # OKX: "50004 Endpoint request timeout (does not indicate success or failure of order, please
            # check order status)"
            self._json([], code="50004", msg="Endpoint request timeout. ")
        else:  # pragma: no cover - every fault is handled above
            raise _Drop()


def serve(venue: OkxVenue, port: int, faults: FaultSpec, seed: int, *, quiet: bool = True,
          rate_limits: bool = True) -> VenueServer:
    """A bound server (``port`` 0 picks a free one); call ``serve_forever()`` on it. ``rate_limits``:
    OKX's per-endpoint request limits (on unless turned off)."""
    return VenueServer(venue, port, faults, seed, quiet=quiet, rate_limits=rate_limits)


def run_venue(books: OkxVenue, *, port: int, faults: FaultSpec, seed: int, quiet: bool = True,
              on_ready: Callable[[str], None] | None = None, poll_interval: float = 0.2,
              rate_limits: bool = True) -> None:
    """Serve ``books`` on 127.0.0.1 until SIGINT or SIGTERM: the one way a venue runs (``taxreport
    venue okx`` and the fault campaign's venue process). The URL is written atomically to
    ``<state dir>/url`` before ``on_ready(url)``; on the way out the server closes and the books are
    brought up to date (``sync``) and saved."""
    import os
    import signal

    server = serve(books, port, faults, seed, quiet=quiet, rate_limits=rate_limits)
    tmp = books.dir / "url.tmp"
    tmp.write_text(server.url + "\n", encoding="utf-8")
    os.replace(tmp, books.dir / "url")
    if on_ready is not None:
        on_ready(server.url)

    def stop(_sig: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever(poll_interval=poll_interval)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        books.sync()
