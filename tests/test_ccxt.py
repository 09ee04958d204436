"""The ccxt adapter with the REAL ccxt OKX class, offline: markets from the fixture via set_markets,
precision helpers, and the HTTP session replaced by canned OKX v5 answers (so ccxt's own request
building, signing and error mapping run)."""

from __future__ import annotations

import json
import logging
import os
import sys
from decimal import Decimal as D
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

pytest.importorskip("ccxt")
import requests  # noqa: E402  (a ccxt dependency)

from taxreport.errors import InputError, MissingDataError, TaxreportError  # noqa: E402
from taxreport.exchanges import base  # noqa: E402
from taxreport.exchanges.ccxt_exchange import CcxtExchange, Credentials, load_credentials  # noqa: E402
from taxreport.exchanges.markets import load_fixture, markets_from_fixture  # noqa: E402
from taxreport.rebalance.basket import parse_basket  # noqa: E402
from taxreport.rebalance.planner import plan, truncate_to_step  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "okx_markets.json"
KEYS = Credentials("key-AAAA1111", "secret-BBBB2222", "pass-CCCC3333")
CID = "tr3a8b2eec54f0712bca00feb9b82658"


class FakeResponse:
    def __init__(self, status: int, body: dict) -> None:
        self.status_code, self.reason = status, "OK" if status < 400 else "Error"
        self.text = json.dumps(body)
        self.content = self.text.encode()
        self.headers = {"Content-Type": "application/json"}
        self.encoding = None

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise requests.HTTPError(f"{self.status_code}")


class FakeSession(requests.Session):
    """Stands in for ccxt's requests.Session (no network); ``routes`` maps an API path to an answer."""

    def __init__(self, routes: dict) -> None:
        super().__init__()
        self.routes, self.calls = routes, []

    def request(self, method, url, data=None, headers=None, **kwargs):  # noqa: ANN001, ANN003, ANN201
        parsed = urlparse(url)
        self.calls.append({"method": method, "path": parsed.path, "query": parse_qs(parsed.query),
                           "body": json.loads(data) if data else None, "headers": dict(headers or {})})
        # ccxt's okx reads fills from /trade/fills-history (3 months) or /trade/fills (3 days)
        answer = self.routes.get(parsed.path) or self.routes[parsed.path.replace("fills-history", "fills")]
        if isinstance(answer, Exception):
            raise answer
        status, body = answer if isinstance(answer, tuple) else (200, answer)
        if callable(body):
            body = body(self.calls[-1])
        if isinstance(body, str):  # an HTML error page
            response = FakeResponse(status, {})
            response.text, response.content = body, body.encode()
            response.headers = {"Content-Type": "text/html"}
            return response
        return FakeResponse(status, body)


def okx(routes: dict | None = None, *, credentials=KEYS, sandbox=False) -> tuple[CcxtExchange, FakeSession]:
    ex = CcxtExchange("okx", credentials=credentials, sandbox=sandbox, markets=load_fixture(FIXTURE))
    session = FakeSession(routes or {})
    ex._client.session = session
    return ex, session


def test_fixture_loads_into_the_real_ccxt_okx_class_and_markets_are_decimal():
    ex, _ = okx()
    markets = ex.load_markets()
    btc, eth = markets["BTC/USDT"], markets["ETH/USDT"]
    assert (btc.amount_step, btc.min_amount, btc.price_tick, btc.min_cost) == (D("0.00000001"), D("0.00001"), D("0.1"), None)
    assert (eth.amount_step, eth.min_amount, eth.price_tick) == (D("0.000001"), D("0.0001"), D("0.01"))
    assert btc.taker_fee == D("0.001") and btc.maker_fee == D("0.0008")
    assert markets == markets_from_fixture(FIXTURE)  # the paper table and ccxt agree


def test_amount_to_precision_truncates_with_ccxt():
    ex, _ = okx()
    assert ex.amount_to_precision("BTC/USDT", D("0.123456789")) == D("0.12345678")  # never rounds up
    assert ex.amount_to_precision("BTC/USDT", D("0.999999999")) == D("0.99999999")
    assert ex.amount_to_precision("ETH/USDT", D("1.2345679")) == D("1.234567")
    assert ex.amount_to_precision("ETH/USDT", D("0.0000009")) == 0  # below one step: 0, not an error
    assert isinstance(ex.amount_to_precision("ETH/USDT", D("1")), D)


def test_price_to_precision_on_tick_with_ccxt():
    ex, _ = okx()
    assert ex.price_to_precision("BTC/USDT", D("55000.06")) == D("55000.1")
    assert ex.price_to_precision("BTC/USDT", D("55000.04")) == D("55000")
    assert ex.price_to_precision("ETH/USDT", D("2375.005")) == D("2375.01")
    with pytest.raises(InputError, match="no spot market PEPE/USDT on okx"):
        ex.price_to_precision("PEPE/USDT", D(1))


@pytest.mark.parametrize("symbol,amount", [
    ("BTC/USDT", "0.00890909090909"), ("BTC/USDT", "1.000000009"), ("ETH/USDT", "0.2063157894"),
    ("SOL/USDT", "12.3456789"), ("DOGE/USDT", "1234.5678919"), ("XRP/USDT", "0.1000009"),
])
def test_planner_step_arithmetic_agrees_with_ccxt(symbol, amount):
    ex, _ = okx()
    market = ex.load_markets()[symbol]
    assert truncate_to_step(D(amount), market.amount_step) == ex.amount_to_precision(symbol, D(amount))


def test_planner_with_ccxt_precision_reproduces_the_worked_example():
    ex, _ = okx()
    basket = parse_basket('name="core"\n[weights]\nBTC=50\nETH=30\nSOL=20\n')
    p = plan(basket, {"BTC": D("0.1"), "ETH": D(1), "SOL": D("10.5")}, {"BTC": D(55000), "ETH": D(2850), "SOL": D(200)},
             ex.load_markets(), fee_rate=D(0), amount_to_precision=ex.amount_to_precision,
             price_to_precision=ex.price_to_precision)
    assert [(o.side, o.asset, o.quantity, o.notional) for o in p.orders] == [
        ("sell", "BTC", D("0.005"), D(275)), ("sell", "SOL", D("0.05"), D(10)), ("buy", "ETH", D("0.1"), D(285))]


def test_create_order_sends_clordid_and_exact_strings():
    ex, session = okx({"/api/v5/trade/batch-orders": {"code": "0", "msg": "", "data": [
        {"clOrdId": CID, "ordId": "312269865356374016", "sCode": "0", "sMsg": "", "tag": ""}]}})
    order = ex.create_order(base.OrderRequest(CID, "BTC/USDT", "sell", "limit", D("0.00500000"), D("55000.1")))
    sent = session.calls[-1]["body"][0]
    assert sent["clOrdId"] == CID and sent["instId"] == "BTC-USDT" and sent["side"] == "sell"
    assert sent["ordType"] == "limit" and sent["sz"] == "0.005" and sent["px"] == "55000.1"
    assert order.id == "312269865356374016" and order.client_order_id == CID
    assert order.amount == D("0.005") and order.price == D("55000.1") and order.status == "open"


def test_market_buy_is_sized_in_the_base_coin():
    ex, session = okx({"/api/v5/trade/batch-orders": {"code": "0", "data": [
        {"clOrdId": CID, "ordId": "7", "sCode": "0", "sMsg": ""}]}})
    ex.create_order(base.OrderRequest(CID, "ETH/USDT", "buy", "market", D("0.1"), None))
    sent = session.calls[-1]["body"][0]
    assert sent["tgtCcy"] == "base_ccy" and sent["sz"] == "0.1" and sent["ordType"] == "market"


@pytest.mark.parametrize("answer,error", [
    ({"code": "1", "msg": "", "data": [{"clOrdId": CID, "ordId": "", "sCode": "51008",
                                        "sMsg": "Order failed. Insufficient USDT balance in account."}]},
     base.InsufficientFunds),
    ({"code": "1", "msg": "", "data": [{"clOrdId": CID, "ordId": "", "sCode": "51016",
                                        "sMsg": "Duplicated clOrdId"}]}, base.DuplicateClientOrderId),
    ((429, {"code": "50011", "msg": "Too Many Requests", "data": []}), base.RateLimitExceeded),
    (requests.exceptions.Timeout("read timed out"), base.RequestTimeout),
    (requests.exceptions.ConnectionError("ECONNRESET"), base.NetworkError),
    ((401, {"code": "50111", "msg": "Invalid OK-ACCESS-KEY", "data": []}), base.AuthenticationError),
    # ambiguous answers (issue 10): never a refusal
    ((500, {"msg": "Internal Server Error"}), base.UnknownResult),  # JSON without "code"
    ((502, "<html><body><h1>502 Bad Gateway</h1></body></html>"), base.NetworkError),  # HTML page
    ((503, "<html><title>503 Service Temporarily Unavailable</title></html>"), base.NetworkError),
    ({"code": "50004", "msg": "Endpoint request timeout", "data": []}, base.RequestTimeout),
    ({"code": "1", "msg": "", "data": [{"clOrdId": CID, "ordId": "", "sCode": "59999",
                                        "sMsg": "something new"}]}, base.UnknownResult),
    ({"code": "1", "msg": "", "data": [{"clOrdId": CID, "ordId": "", "sCode": "51020",
                                        "sMsg": "Order amount should be greater than the min available amount"}]},
     base.InvalidOrder),
    ({"code": "1", "msg": "", "data": [{"clOrdId": CID, "ordId": "", "sCode": "51121",
                                        "sMsg": "Order quantity must be a multiple of the lot size"}]},
     base.InvalidOrder),
])
def test_ccxt_errors_are_mapped(answer, error):
    ex, _ = okx({"/api/v5/trade/batch-orders": answer})
    with pytest.raises(error) as info:
        ex.create_order(base.OrderRequest(CID, "BTC/USDT", "buy", "limit", D("0.001"), D(50000)))
    retryable = issubclass(error, base.NetworkError)
    assert isinstance(info.value, base.NetworkError) == retryable
    assert isinstance(info.value, base.ExchangeError) != retryable
    for secret in KEYS.values():
        assert secret not in str(info.value)


def test_lookup_by_client_order_id_found_and_not_found():
    detail = {"code": "0", "msg": "", "data": [{
        "instType": "SPOT", "instId": "BTC-USDT", "ordId": "123", "clOrdId": CID, "px": "55000", "sz": "0.005",
        "ordType": "limit", "side": "sell", "state": "partially_filled", "accFillSz": "0.002", "avgPx": "55000",
        "fee": "-0.11", "feeCcy": "USDT", "cTime": "1764043200000", "uTime": "1764043260000", "tgtCcy": ""}]}
    ex, session = okx({"/api/v5/trade/order": detail})
    order = ex.fetch_order_by_client_id("BTC/USDT", CID)
    assert session.calls[-1]["query"]["clOrdId"] == [CID]
    assert (order.id, order.client_order_id, order.status) == ("123", CID, "open")
    assert (order.amount, order.filled, order.price) == (D("0.005"), D("0.002"), D(55000))
    ex, _ = okx({"/api/v5/trade/order": {"code": "51603", "msg": "Order does not exist", "data": []}})
    assert ex.fetch_order_by_client_id("BTC/USDT", CID) is None


def test_fills_are_decimal_with_fee_in_the_coin_bought():
    ex, _ = okx({"/api/v5/trade/fills": {"code": "0", "msg": "", "data": [
        {"instType": "SPOT", "instId": "ETH-USDT", "tradeId": "901", "ordId": "123", "clOrdId": CID,
         "billId": "1", "fillPx": "2850.01", "fillSz": "0.1", "side": "buy", "execType": "M",
         "feeCcy": "ETH", "fee": "-0.00008", "ts": "1764043200000"}]}})
    [fill] = ex.fetch_fills("ETH/USDT", "123")
    assert (fill.trade_id, fill.order_id, fill.client_order_id) == ("901", "123", CID)
    assert (fill.amount, fill.price, fill.fee, fill.fee_asset) == (D("0.1"), D("2850.01"), D("0.00008"), "ETH")
    assert fill.taker_or_maker == "maker" and fill.time.isoformat() == "2025-11-25T04:00:00+00:00"


def test_balances_and_tickers_are_decimal():
    ex, _ = okx({"/api/v5/account/balance": {"code": "0", "data": [{"uTime": "1764043200000", "details": [
        {"ccy": "USDT", "availBal": "50.5", "cashBal": "50.5", "eq": "50.5", "frozenBal": "0"},
        {"ccy": "BTC", "availBal": "0.10000001", "cashBal": "0.10000001", "eq": "0.10000001", "frozenBal": "0"}]}]},
        "/api/v5/market/tickers": {"code": "0", "data": [
            {"instType": "SPOT", "instId": "BTC-USDT", "last": "55000.1", "bidPx": "55000", "askPx": "55000.2",
             "ts": "1764043200000"}]}})
    balances = ex.fetch_balances()
    assert balances["USDT"] == D("50.5") and balances["BTC"] == D("0.10000001")
    tickers = ex.fetch_tickers(["BTC/USDT"])
    assert (tickers["BTC/USDT"].bid, tickers["BTC/USDT"].ask) == (D(55000), D("55000.2"))


def test_sandbox_sends_okx_demo_trading_header():
    ex, session = okx({"/api/v5/account/balance": {"code": "0", "data": [{"details": []}]}}, sandbox=True)
    ex.fetch_balances()
    assert session.calls[-1]["headers"].get("x-simulated-trading") == "1"


def test_keys_never_in_repr_logs_or_errors(caplog):
    ex, session = okx({"/api/v5/account/balance": {"code": "0", "data": [{"details": []}]}})
    with caplog.at_level(logging.DEBUG):
        ex.fetch_balances()
    assert session.calls[-1]["headers"]["OK-ACCESS-KEY"] == KEYS.api_key  # the keys were sent…
    text = repr(ex) + str(ex) + repr(KEYS) + caplog.text
    for secret in KEYS.values():  # …but appear nowhere else
        assert secret not in text
    assert repr(ex) == "CcxtExchange('okx', sandbox=False, keys from environment)"


def test_private_calls_need_keys():
    ex, _ = okx(credentials=None)
    with pytest.raises(TaxreportError, match="TAXREPORT_OKX_API_KEY, TAXREPORT_OKX_SECRET and TAXREPORT_OKX_PASSWORD"):
        ex.fetch_balances()


def test_credentials_from_environment_and_secrets_file(monkeypatch):
    env = {"TAXREPORT_OKX_API_KEY": "k", "TAXREPORT_OKX_SECRET": "s", "TAXREPORT_OKX_PASSWORD": "p"}
    creds = load_credentials("okx", environ=env)
    assert (creds.api_key, creds.secret, creds.password, creds.source) == ("k", "s", "p", "environment")
    assert load_credentials("okx", sandbox=True, environ=env) is None  # demo keys are separate
    with pytest.raises(TaxreportError, match="TAXREPORT_OKX_SECRET not set"):
        load_credentials("okx", environ={"TAXREPORT_OKX_API_KEY": "k"})
    from taxreport.config import config_dir

    path = config_dir() / "secrets.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[okx]\napi_key = "fk"\nsecret = "fs"\npassword = "fp"\n[okx_sandbox]\napi_key = "dk"\nsecret = "ds"\n')
    os.chmod(path, 0o644)
    with pytest.raises(TaxreportError, match="readable by other users"):
        load_credentials("okx", environ={})
    os.chmod(path, 0o600)
    assert load_credentials("okx", environ={}).api_key == "fk"
    assert load_credentials("okx", sandbox=True, environ={}).api_key == "dk"
    assert load_credentials("kraken", environ={}) is None


def test_unknown_exchange_id_and_missing_fee_are_refused():
    with pytest.raises(InputError, match="not a ccxt exchange id"):
        CcxtExchange("nosuchexchange", public_only=True)
    ex, _ = okx({"/api/v5/trade/fills": {"code": "0", "data": [
        {"instId": "ETH-USDT", "tradeId": "9", "ordId": "1", "fillPx": "1", "fillSz": "1", "side": "buy",
         "ts": "1764043200000"}]}})
    with pytest.raises(MissingDataError, match="no fee information"):
        ex.fetch_fills("ETH/USDT", "1")


def test_cli_modules_do_not_import_ccxt_at_top_level():
    import subprocess
    import sys

    code = ("import sys, taxreport.cli.main, taxreport.cli.basket_define, taxreport.cli.rebalance_plan, "
            "taxreport.rebalance.planner, taxreport.rebalance.basket, taxreport.exchanges.markets; "
            "print('ccxt' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cli_live_plan_is_read_only_and_prices_at_the_touch(monkeypatch):
    from click.testing import CliRunner

    from taxreport.cli.main import root

    routes = {
        "/api/v5/account/balance": {"code": "0", "data": [{"details": [
            {"ccy": "BTC", "availBal": "0.1"}, {"ccy": "ETH", "availBal": "1"}, {"ccy": "SOL", "availBal": "10.5"},
            {"ccy": "USDT", "availBal": "0"}]}]},
        "/api/v5/market/tickers": {"code": "0", "data": [
            {"instId": "BTC-USDT", "last": "55000", "bidPx": "54999.9", "askPx": "55000.1", "ts": "1764043200000"},
            {"instId": "ETH-USDT", "last": "2850", "bidPx": "2849.99", "askPx": "2850.01", "ts": "1764043200000"},
            {"instId": "SOL-USDT", "last": "200", "bidPx": "199.99", "askPx": "200.01", "ts": "1764043200000"}]},
    }
    sessions = []

    def factory(exchange_id, **kwargs):  # noqa: ANN001, ANN003, ANN202
        assert exchange_id == "okx" and kwargs == {"sandbox": False}
        ex, session = okx(routes)
        sessions.append(session)
        return ex

    monkeypatch.setattr("taxreport.exchanges.ccxt_exchange.CcxtExchange", factory)
    runner = CliRunner()
    runner.invoke(root, ["basket", "create", "core", "--weights", "BTC=50,ETH=30,SOL=20"], catch_exceptions=False)
    r = runner.invoke(root, ["rebalance", "plan", "--basket", "core", "--fee-rate", "0", "--format", "json"],
                      catch_exceptions=False)
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    # valued at the mid (55,000 / 2,850 / 200): the worked example; limits at bid for sells, ask for buys
    assert [(o["side"], o["asset"], o["quantity"], o["limit_price"]) for o in data["orders"]] == [
        ("sell", "BTC", "0.005", "54999.9"), ("sell", "SOL", "0.05", "199.99"), ("buy", "ETH", "0.099999", "2850.01")]
    assert data["source"] == "okx (read-only)"
    assert {c["method"] for c in sessions[0].calls} == {"GET"}  # nothing was sent but reads


def test_cancel_pending_and_unknown_order_are_mapped():
    ex, _ = okx({"/api/v5/trade/cancel-order": {"code": "1", "msg": "", "data": [
        {"clOrdId": CID, "ordId": "123", "sCode": "51410", "sMsg": "Cancellation failed as the order is already "
                                                                   "under cancelling status"}]}})
    with pytest.raises(base.CancelPending):
        ex.cancel_order("BTC/USDT", "123")
    ex, _ = okx({"/api/v5/trade/cancel-order": {"code": "1", "msg": "", "data": [
        {"clOrdId": CID, "ordId": "123", "sCode": "51400", "sMsg": "Cancellation failed as the order does not exist"}]}})
    with pytest.raises(base.OrderNotFound):
        ex.cancel_order("BTC/USDT", "123")


def test_every_ccxt_error_class_has_a_mapping():
    import ccxt

    from taxreport.exchanges.ccxt_exchange import map_error

    errors = sys.modules["ccxt.base.errors"]

    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, ccxt.BaseError)]
    assert len(classes) > 30
    for cls in classes:
        target = map_error(ccxt, cls("x"))
        assert issubclass(target, (base.ExchangeError, base.NetworkError)), cls
    assert map_error(ccxt, ccxt.ExchangeError("x")) is base.UnknownResult
    assert map_error(ccxt, ccxt.DDoSProtection("x")) is base.NetworkError


def test_create_carries_exptime_header():
    from datetime import datetime, timezone

    ex, session = okx({"/api/v5/trade/batch-orders": {"code": "0", "data": [
        {"clOrdId": CID, "ordId": "7", "sCode": "0", "sMsg": ""}]}})
    expires = datetime(2026, 3, 2, 0, 0, 10, tzinfo=timezone.utc)
    ex.create_order(base.OrderRequest(CID, "ETH/USDT", "buy", "limit", D("0.1"), D(3000), expires))
    assert session.calls[-1]["headers"]["expTime"] == str(int(expires.timestamp() * 1000)) == "1772409610000"
    assert "expTime" not in ex._client.headers  # only on that request


def test_fills_are_paginated_by_bill_id():
    def page(call):
        after = int(call["query"].get("after", ["1000"])[0])
        ids = [i for i in range(after - 1, after - 101, -1) if i >= 750]  # 250 fills: 999..750
        return {"code": "0", "msg": "", "data": [
            {"instType": "SPOT", "instId": "ETH-USDT", "tradeId": f"t{i}", "ordId": "123", "clOrdId": CID,
             "billId": str(i), "fillPx": "2850", "fillSz": "0.001", "side": "buy", "execType": "T",
             "feeCcy": "ETH", "fee": "-0.000001", "ts": str(1764043200000 + i)} for i in ids]}

    ex, session = okx({"/api/v5/trade/fills": (200, page)})
    fills = ex.fetch_fills("ETH/USDT", "123")
    assert len(fills) == len({f.trade_id for f in fills}) == 250
    assert sum((f.amount for f in fills), D(0)) == D("0.25")
    assert [c["query"].get("after") for c in session.calls] == [None, ["900"], ["800"]]


def test_exchange_url_survives_sandbox_mode():
    ex, session = okx({"/api/v5/account/balance": {"code": "0", "data": [{"details": []}]}}, sandbox=True)
    ex._set_api_url("http://127.0.0.1:8765")
    ex.fetch_balances()
    assert session.calls[-1]["headers"].get("x-simulated-trading") == "1"
    ex2 = CcxtExchange("okx", credentials=KEYS, sandbox=True, api_url="http://127.0.0.1:8765/",
                       markets=load_fixture(FIXTURE), timeout=3)
    ex2._client.session = session
    ex2.fetch_balances()
    assert ex2._client.timeout == 3000
    with pytest.raises(InputError, match="exchange URL"):
        CcxtExchange("okx", credentials=KEYS, api_url="127.0.0.1:8765")
