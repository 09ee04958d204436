"""Work that ends leaves no thread behind (a thread left running stops every later fork of the process:
:func:`taxreport.ledger.derived._threads`; tests/conftest.py fails any test that leaves one).

* The local venue's server: a client that keeps its connection open (HTTP/1.1 keep-alive, as ccxt's requests session
  does) had its connection's thread waiting for the next request for as long as the client lived, after
  ``shutdown()`` and ``server_close()`` (socketserver joins no daemon thread), so a request could still reach the
  books after ``run_venue`` had saved them.
* The bot's notifier: apprise 2 sent through a process-wide thread pool whose worker stayed after the call.
"""

from __future__ import annotations

import http.client
import json
import threading
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, HTTPServer

from taxreport.venue.faults import parse_faults
from taxreport.venue.okx import OkxVenue
from taxreport.venue.server import serve


def test_server_close_ends_the_threads_of_connections_kept_open(tmp_path) -> None:  # noqa: ANN001
    before = set(threading.enumerate())
    books = OkxVenue(tmp_path / "venue", seed=1, fund={"USDT": D(1000)})
    server = serve(books, 0, parse_faults(""), 1)
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    loop.start()
    clients = [http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5) for _ in range(2)]
    for client in clients:  # two connections, each answered once and kept open
        client.request("GET", "/api/v5/public/time")
        response = client.getresponse()
        assert response.status == 200 and json.loads(response.read())["code"] == "0"
    connections = [t for t in threading.enumerate() if t not in before and t is not loop]
    assert len(connections) == 2 and all(t.is_alive() for t in connections)  # waiting for the next request
    server.shutdown()
    server.server_close()
    loop.join(5)
    assert [t for t in threading.enumerate() if t not in before] == []
    for client in clients:  # the server ended the connection: the client sees it closed, not a hang
        client.request("GET", "/api/v5/public/time")
        try:
            got = client.getresponse().status
        except (http.client.RemoteDisconnected, ConnectionError):
            got = None
        assert got is None
        client.close()


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        _Hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def test_a_notification_is_sent_in_the_callers_thread_and_leaves_no_thread(monkeypatch) -> None:  # noqa: ANN001
    from taxreport.rebalance.notify import notifier_for

    server = HTTPServer(("127.0.0.1", 0), _Hook)
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    loop.start()
    before = set(threading.enumerate())
    try:
        monkeypatch.setenv("TAXREPORT_NOTIFY_CORE", f"json://127.0.0.1:{server.server_port}/hook")
        notify = notifier_for("core")
        assert notify is not None and notify("stop", "taxreport: core stopped", "sold everything")
        assert [t for t in threading.enumerate() if t not in before] == []
    finally:
        server.shutdown()
        server.server_close()
        loop.join(5)
    assert _Hook.received[-1]["title"] == "taxreport: core stopped" and _Hook.received[-1]["message"] == "sold everything"
