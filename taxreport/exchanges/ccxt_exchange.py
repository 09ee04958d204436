"""The ccxt adapter: :class:`~taxreport.exchanges.base.Exchange` over any ccxt exchange (OKX default).

* ccxt is imported only when an adapter is built (CLI start-up stays fast).
* Markets are loaded ONCE (``load_markets``) or given offline (``markets=`` a list of ccxt market
  dicts, e.g. ``tests/fixtures/okx_markets.json``, handed to ccxt's ``set_markets``).
* Capabilities are checked through ccxt's ``has``; venue specifics go through ``params`` (OKX: the
  client order id is ``clOrdId``; market buys are sized in the base coin with ``tgtCcy=base_ccy``).
* Numbers become Decimal here and nowhere else: ccxt's precision helpers return strings, other ccxt
  numbers go through their text (:func:`~taxreport.exchanges.markets.ccxt_decimal`), never
  ``Decimal(float)``. Amounts are sent to ccxt as exact strings.
* Every ccxt error class is mapped (:data:`ERROR_MAP`, first match wins) to a DEFINITE refusal
  (:class:`~taxreport.exchanges.base.ExchangeError` and subclasses) or an AMBIGUOUS outcome
  (:class:`~taxreport.exchanges.base.NetworkError` and subclasses); see :mod:`taxreport.exchanges.base`.
  Anything ccxt cannot classify — a plain ``ExchangeError`` (an OKX code it does not know, or a 5xx
  JSON body without ``code``, which ccxt's okx ``handle_errors`` raises as ``ExchangeError``), a
  ``BadResponse`` — is AMBIGUOUS (:class:`UnknownResult`), never a refusal: the order may exist.
  ``DDoSProtection`` (HTTP 418/5xx from a protection layer) is ambiguous too; only
  ``RateLimitExceeded`` (OKX ``50011`` / HTTP 429) means "not processed".
* Every OKX ``create_order`` carries the ``expTime`` header (Unix ms) of the request's
  ``expires_at``: OKX does not process a request that reaches it later. ``expires_at`` is on this
  machine's clock, OKX judges ``expTime`` on its own: the venue's clock is measured with the markets
  (``public/time``, :attr:`CcxtExchange.clock_offset`) and ``expTime`` sent on it, so the instant after
  which the executor concludes "not carried out" is the venue's deadline whatever the skew (OKX v5, REST
  authentication: "It's recommended to use the time endpoint to query for the API server time if you
  believe there may be time skew between your server and the API servers.").
* Fills are paginated: OKX returns at most 100 per page, newest first; the next page is the one
  ``after`` the smallest ``billId`` seen ("after: Pagination of data to return records earlier than
  the requested billId", OKX v5 Get transaction details).
* ``api_url`` replaces the REST base URL (OKX regional domains, the local venue
  ``http://127.0.0.1:PORT``); it survives ``set_sandbox_mode``, which swaps ``urls['api']`` for
  ``urls['test']``. ``timeout`` is the HTTP timeout in seconds. Without them, the environment
  variables ``TAXREPORT_EXCHANGE_URL`` / ``TAXREPORT_EXCHANGE_TIMEOUT`` apply.
* Keys (``sandbox`` adds ``SANDBOX_``): environment ``TAXREPORT_<EXCHANGE>_API_KEY``, ``_SECRET`` and
  ``_PASSWORD`` (OKX's passphrase), else ``[<exchange>]`` (``[<exchange>_sandbox]``) with ``api_key``,
  ``secret``, ``password`` in ``<config dir>/secrets.toml``, which is refused when group/world
  readable. Keys live only inside the ccxt client: never in a repr, an error message, a log line
  (ccxt's own debug log of request headers is silenced) or the ledger.
* ``sandbox=True`` calls ccxt's ``set_sandbox_mode(True)`` (OKX demo trading).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from taxreport.errors import InputError, MissingDataError, TaxreportError
from taxreport.exchanges import base
from taxreport.exchanges.base import Exchange, Fill, Market, Order, OrderRequest, Ticker
from taxreport.exchanges.markets import ccxt_decimal, markets_from_ccxt

ZERO = Decimal(0)
#: see CcxtExchange.history_window
OKX_HISTORY_WINDOW = timedelta(days=90)
# venue error codes for "this client order id exists already" (ccxt maps them to InvalidOrder)
_DUPLICATE_ID_CODES = {"okx": ("51016",)}
_STATUS = {"open": "open", "closed": "closed", "canceled": "canceled", "cancelled": "canceled",
           "expired": "canceled", "rejected": "rejected"}


@dataclass(frozen=True)
class Credentials:
    """API keys. The repr never shows them."""

    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    password: str | None = field(default=None, repr=False)
    source: str = "environment"

    def __repr__(self) -> str:
        return f"Credentials(source={self.source!r}, api_key=***, secret=***, password={'***' if self.password else None})"

    def values(self) -> list[str]:
        return [v for v in (self.api_key, self.secret, self.password) if v]


def load_credentials(exchange_id: str, *, sandbox: bool = False,
                     environ: dict[str, str] | None = None) -> Credentials | None:
    """Keys from the environment, else from ``secrets.toml`` in the config directory; None if neither."""
    env = os.environ if environ is None else environ
    prefix = f"TAXREPORT_{exchange_id.upper()}_{'SANDBOX_' if sandbox else ''}"
    names = {"api_key": prefix + "API_KEY", "secret": prefix + "SECRET", "password": prefix + "PASSWORD"}
    found = {k: env.get(v) for k, v in names.items() if env.get(v)}
    if found:
        missing = [names[k] for k in ("api_key", "secret") if k not in found]
        if missing:
            raise TaxreportError(f"incomplete {exchange_id} keys in the environment: {', '.join(missing)} not set")
        return Credentials(found["api_key"], found["secret"], found.get("password"), source="environment")
    from taxreport.config import read_secrets

    secrets = read_secrets()
    if secrets is None:
        return None
    path, data = secrets
    section = data.get(f"{exchange_id}_sandbox" if sandbox else exchange_id)
    if section is None:
        return None
    if not isinstance(section, dict) or not all(isinstance(section.get(k), str) and section.get(k)
                                                for k in ("api_key", "secret")):
        raise InputError("needs api_key and secret (strings)", file=str(path), field=exchange_id)
    password = section.get("password")
    return Credentials(section["api_key"], section["secret"], password if isinstance(password, str) else None,
                       source=str(path))


def error_map(ccxt: Any) -> list[tuple[Any, type[Exception]]]:
    """Every ccxt error class -> ours, most specific first (ccxt's hierarchy: ``ccxt.base.errors``)."""
    return [
        (ccxt.RequestTimeout, base.RequestTimeout),  # includes OKX 50004 "does not indicate success or failure"
        (ccxt.RateLimitExceeded, base.RateLimitExceeded),  # OKX 50011, HTTP 429: not processed
        (ccxt.NetworkError, base.NetworkError),  # DDoSProtection, ExchangeNotAvailable (5xx, HTML pages),
                                                 # OnMaintenance, InvalidNonce: may or may not have landed
        (ccxt.CancelPending, base.CancelPending),  # OKX 51410
        (ccxt.BadResponse, base.UnknownResult),  # NullResponse, unparsable answers
        (ccxt.InsufficientFunds, base.InsufficientFunds),  # OKX 51008
        (ccxt.DuplicateOrderId, base.DuplicateClientOrderId),
        (ccxt.OrderNotFound, base.OrderNotFound),  # OKX 51603, 51400, 51401
        (ccxt.InvalidOrder, base.InvalidOrder),  # OKX 51020, 51121, OrderNotCached, OrderImmediatelyFillable...
        (ccxt.AuthenticationError, base.AuthenticationError),  # PermissionDenied, AccountSuspended...
        ((ccxt.BadRequest, ccxt.ArgumentsRequired, ccxt.NotSupported, ccxt.OperationRejected,
          ccxt.InvalidAddress, ccxt.InvalidProxySettings, ccxt.ExchangeClosedByUser), base.ExchangeError),
        (ccxt.BaseError, base.UnknownResult),  # plain ExchangeError (unknown code, JSON without code), others
    ]


def map_error(ccxt: Any, exc: Exception) -> type[Exception]:
    for source, target in error_map(ccxt):
        if isinstance(exc, source):
            return target
    return base.UnknownResult  # pragma: no cover - BaseError above catches everything from ccxt


def _ms_time(value: Any) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def _text(value: Decimal) -> str:
    return format(value, "f")


class CcxtExchange(Exchange):
    """A ccxt exchange behind the :class:`Exchange` interface."""

    def __init__(self, exchange_id: str = "okx", *, sandbox: bool = False, credentials: Credentials | None = None,
                 public_only: bool = False, markets: list[dict] | None = None, client: Any = None,
                 config: dict | None = None, api_url: str | None = None, timeout: float | None = None) -> None:
        import ccxt

        self._ccxt = ccxt
        if client is None and exchange_id not in ccxt.exchanges:
            raise InputError(f"{exchange_id!r} is not a ccxt exchange id (e.g. okx, binance, kraken)",
                             field="exchange")
        self.name = exchange_id
        self.sandbox = sandbox
        creds = None if public_only else (credentials or load_credentials(exchange_id, sandbox=sandbox))
        self._secrets = creds.values() if creds else []
        self._key_source = creds.source if creds else None
        options = {"enableRateLimit": True, **(config or {})}
        if creds:
            options.update(apiKey=creds.api_key, secret=creds.secret)
            if creds.password:
                options["password"] = creds.password
        self._client = client or getattr(ccxt, exchange_id)(options)
        self._client.verbose = False
        quiet = logging.getLogger("taxreport.exchanges.ccxt_wire")  # ccxt logs request headers (keys) at DEBUG
        quiet.setLevel(logging.WARNING)
        self._client.logger = quiet
        # Callers without their own option (the live `rebalance plan`, market checks) still follow the
        # environment: TAXREPORT_EXCHANGE_URL / TAXREPORT_EXCHANGE_TIMEOUT.
        api_url = api_url or os.environ.get("TAXREPORT_EXCHANGE_URL") or None
        if timeout is None and os.environ.get("TAXREPORT_EXCHANGE_TIMEOUT"):
            try:
                timeout = float(os.environ["TAXREPORT_EXCHANGE_TIMEOUT"])
            except ValueError:
                raise InputError(f"{os.environ['TAXREPORT_EXCHANGE_TIMEOUT']!r} is not a number of seconds",
                                 field="TAXREPORT_EXCHANGE_TIMEOUT") from None
        self.timeout = timeout
        if timeout is not None:
            self._client.timeout = int(timeout * 1000)  # ccxt: milliseconds
        if sandbox:
            self._call("set_sandbox_mode", self._client.set_sandbox_mode, True)
        self.api_url = api_url
        if api_url:
            self._set_api_url(api_url)
        self._markets: dict[str, Market] | None = None
        #: the venue's clock minus this machine's (measured by load_markets; 0 with offline markets)
        self.clock_offset = timedelta(0)
        if markets is not None:
            self._client.set_markets(markets)
            self._markets = markets_from_ccxt(self._client.markets, precision_mode=self._client.precisionMode)

    def _set_api_url(self, url: str) -> None:
        """Point every REST call at ``url`` (after sandbox mode, which swaps urls['api'] for urls['test'])."""
        from urllib.parse import urlparse

        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InputError(f"exchange URL {url!r} must look like https://host or http://127.0.0.1:PORT",
                             field="--exchange-url")
        base_url = url.rstrip("/")
        urls = self._client.urls
        api = urls.get("api")
        if isinstance(api, dict):
            urls["api"] = {k: base_url for k in api}
        else:
            urls["api"] = base_url
        urls["test"] = urls["api"]
        self._client.hostname = parsed.netloc

    @property
    def history_window(self) -> timedelta | None:  # type: ignore[override]
        """OKX v5, Get transaction details (last 3 months), ``GET /api/v5/trade/fills-history`` (what
        ccxt's fetch_my_trades reads): "Retrieve recently-filled transaction details in the last 3
        months." (90 days, as ccxt's okx option ``daysBack: 90  # 3 months``). Other venues: unknown."""
        return OKX_HISTORY_WINDOW if self.name == "okx" else None

    def __repr__(self) -> str:
        keys = f"keys from {self._key_source}" if self._key_source else "no keys"
        return f"CcxtExchange({self.name!r}, sandbox={self.sandbox}, {keys})"

    __str__ = __repr__

    @property
    def has(self) -> dict:
        return self._client.has

    # --- errors --------------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    #: Reads have no side effect: a transient failure is retried here (twice, 0.25 s then 0.5 s), so a
    #: read-only command (``basket status``) survives one dropped answer. Never create or cancel.
    READS = frozenset({"load_markets", "fetch_time", "fetch_balance", "fetch_tickers", "fetch_ticker", "fetch_order",
                       "fetch_order_trades", "fetch_my_trades", "fetch_ohlcv"})
    read_retries = 2

    def _call(self, what: str, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        import time

        tries = self.read_retries + 1 if what in self.READS else 1
        for attempt in range(tries):
            try:
                return self._call_once(what, fn, *args, **kwargs)
            except base.NetworkError:
                if attempt == tries - 1:
                    raise
                time.sleep(0.25 * 2 ** attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _call_once(self, what: str, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        ccxt = self._ccxt
        try:
            return fn(*args, **kwargs)
        except ccxt.BaseError as exc:
            message = self._scrub(f"{self.name} {what}: {exc.__class__.__name__}: {exc}")[:500]
            if isinstance(exc, ccxt.InvalidOrder) and any(code in str(exc) for code in
                                                          _DUPLICATE_ID_CODES.get(self.name, ())):
                raise base.DuplicateClientOrderId(message) from None
            raise map_error(ccxt, exc)(message) from None

    def _require_keys(self, what: str) -> None:
        if not self._secrets:
            prefix = f"TAXREPORT_{self.name.upper()}_{'SANDBOX_' if self.sandbox else ''}"
            raise TaxreportError(f"{self.name} {what} needs API keys: set {prefix}API_KEY, {prefix}SECRET"
                                 f"{' and ' + prefix + 'PASSWORD' if self.name == 'okx' else ''}, or add a "
                                 f"[{self.name}{'_sandbox' if self.sandbox else ''}] section to secrets.toml")

    def _check(self, capability: str) -> None:
        if not self._client.has.get(capability):
            raise base.ExchangeError(f"{self.name} does not support {capability} through ccxt")

    # --- markets and precision -----------------------------------------------------------------
    def load_markets(self) -> dict[str, Market]:
        if self._markets is None:
            self._call("load_markets", self._client.load_markets)
            self._measure_clock()
            self._markets = markets_from_ccxt(self._client.markets, precision_mode=self._client.precisionMode)
        return self._markets

    def _measure_clock(self) -> None:
        """:attr:`clock_offset` from the venue's time (OKX ``GET /api/v5/public/time``), taken as the
        middle of the round trip (error at most half of it, inside the executor's expiry margin)."""
        import time

        if not self._client.has.get("fetchTime"):
            return
        before = time.time()
        server_ms = self._call("fetch_time", self._client.fetch_time)
        after = time.time()
        if server_ms is not None:
            self.clock_offset = timedelta(milliseconds=int(server_ms) - round((before + after) / 2 * 1000))

    def _market(self, symbol: str) -> Market:
        markets = self.load_markets()
        if symbol not in markets:
            raise InputError(f"no spot market {symbol} on {self.name}", field="symbol")
        return markets[symbol]

    def amount_to_precision(self, symbol: str, amount: Decimal) -> Decimal:
        """ccxt's amount_to_precision (TRUNCATE). An amount below one step is 0 (ccxt would raise)."""
        if amount < self._market(symbol).amount_step:
            return ZERO
        return Decimal(self._call("amount_to_precision", self._client.amount_to_precision, symbol, _text(amount)))

    def price_to_precision(self, symbol: str, price: Decimal) -> Decimal:
        self._market(symbol)
        return Decimal(self._call("price_to_precision", self._client.price_to_precision, symbol, _text(price)))

    # --- reading -------------------------------------------------------------------------------
    def fetch_balances(self) -> dict[str, Decimal]:
        self._require_keys("fetch_balances")
        raw = self._call("fetch_balance", self._client.fetch_balance)
        free = raw.get("free") or {}
        return {asset: amount for asset, value in free.items()
                if (amount := ccxt_decimal(value, what=f"{asset} balance")) is not None}

    def fetch_day_open(self, symbols: list[str], day_start: datetime) -> dict[str, Decimal] | None:
        """Today's daily candle open of each symbol: ccxt ``fetch_ohlcv(symbol, '1d', since=00:00 UTC,
        limit=1)`` (on OKX ccxt asks ``GET /api/v5/market/candles`` with ``bar=1Dutc``, "UTC+0 opening
        price k-line", ``before=since-1`` and ``after=since+1 day``). None when the exchange has no
        candles or no candle opening exactly at ``day_start`` (a market listed later that day)."""
        if not self._client.has.get("fetchOHLCV"):
            return None
        since = int(day_start.timestamp() * 1000)
        out: dict[str, Decimal] = {}
        for symbol in symbols:
            rows = self._call("fetch_ohlcv", self._client.fetch_ohlcv, symbol, "1d", since, 1)
            row = next((r for r in rows or [] if int(r[0]) == since), None)
            price = None if row is None else ccxt_decimal(row[1], what=f"{symbol} daily open")
            if price is None or price <= 0:
                return None
            out[symbol.split("/")[0]] = price
        return out

    def fetch_tickers(self, symbols: list[str]) -> dict[str, Ticker]:
        if self._client.has.get("fetchTickers"):
            raw = self._call("fetch_tickers", self._client.fetch_tickers, symbols)
        else:
            self._check("fetchTicker")
            raw = {s: self._call("fetch_ticker", self._client.fetch_ticker, s) for s in symbols}
        out: dict[str, Ticker] = {}
        for symbol in symbols:
            t = raw.get(symbol)
            if not t:
                continue
            bid, ask = ccxt_decimal(t.get("bid"), what="bid"), ccxt_decimal(t.get("ask"), what="ask")
            if bid is None or ask is None:
                continue  # no book: the caller reports the symbol as missing
            last = ccxt_decimal(t.get("last"), what="last") or (bid + ask) / 2
            out[symbol] = Ticker(symbol, bid, ask, last, _ms_time(t.get("timestamp")))
        return out

    # --- orders --------------------------------------------------------------------------------
    def _client_id_params(self, client_order_id: str) -> dict:
        return {"clOrdId": client_order_id} if self.name == "okx" else {"clientOrderId": client_order_id}

    def create_order(self, request: OrderRequest) -> Order:
        self._require_keys("create_order")
        self._check("createOrder")
        params = self._client_id_params(request.client_order_id)
        if self.name == "okx" and request.type == "market" and request.side == "buy":
            params["tgtCcy"] = "base_ccy"  # size a market buy in the coin bought, not in USDT
        price = _text(request.price) if request.price is not None else None
        headers = self._client.headers
        if self.name == "okx" and request.expires_at is not None:
            # OKX v5 REST headers: "expTime: Request effective deadline. Unix timestamp format in
            # milliseconds" - a request reaching OKX after it is not processed.
            deadline = request.expires_at + self.clock_offset  # on the venue's clock
            self._client.headers = {**(headers or {}), "expTime": str(int(deadline.timestamp() * 1000))}
        try:
            raw = self._call("create_order", self._client.create_order, request.symbol, request.type,
                             request.side, _text(request.amount), price, params)
        finally:
            self._client.headers = headers
        return self._order(raw, fallback=request)

    def fetch_order_by_client_id(self, symbol: str, client_order_id: str) -> Order | None:
        self._require_keys("fetch_order")
        if self.name == "okx" or self._client.has.get("fetchOrder"):
            def lookup() -> dict | None:
                try:
                    return self._client.fetch_order(None, symbol, self._client_id_params(client_order_id))
                except self._ccxt.OrderNotFound:
                    return None  # the exchange never received it

            raw = self._call("fetch_order", lookup)
            return None if raw is None else self._order(raw)
        for capability, fn in (("fetchOpenOrders", self._client.fetch_open_orders),
                               ("fetchClosedOrders", self._client.fetch_closed_orders)):
            if self._client.has.get(capability):
                for raw in self._call(capability, fn, symbol):
                    if raw.get("clientOrderId") == client_order_id:
                        return self._order(raw)
        return None

    def cancel_order(self, symbol: str, order_id: str) -> Order:
        self._require_keys("cancel_order")
        self._check("cancelOrder")
        self._call("cancel_order", self._client.cancel_order, order_id, symbol)
        return self._order(self._call("fetch_order", self._client.fetch_order, order_id, symbol))

    def check_connection(self) -> None:
        """Fail early with one line when the venue cannot be reached (public time/markets)."""
        self.load_markets()

    def _okx_pages(self, what: str, fn: Callable, *args: Any, params: dict,
                   since_ms: int | None = None) -> list[dict]:
        """Every page of an OKX fills listing: 100 per page, newest first, the next page ``after``
        the smallest billId seen; stops at an incomplete page or one older than ``since_ms``."""
        out: dict[str, dict] = {}
        after: str | None = None
        for _ in range(10_000):
            page = self._call(what, fn, *args, None, 100, {**params, **({"after": after} if after else {})})
            for t in page:
                out[str(t["id"])] = t
            bills = [int(b) for t in page if (b := (t.get("info") or {}).get("billId")) is not None]
            if len(page) < 100 or not bills:
                break
            oldest = min(int(t.get("timestamp") or 0) for t in page)
            if since_ms is not None and oldest < since_ms:
                break
            after = str(min(bills))
        trades = sorted(out.values(), key=lambda t: (int(t.get("timestamp") or 0), str(t["id"])))
        return [t for t in trades if since_ms is None or int(t.get("timestamp") or 0) >= since_ms]

    def fetch_fills(self, symbol: str, order_id: str) -> list[Fill]:
        self._require_keys("fetch_fills")
        if self.name == "okx":
            trades = self._okx_pages("fetch_order_trades", self._client.fetch_my_trades, symbol,
                                     params={"ordId": order_id})
            return [self._fill(t) for t in trades if str(t.get("order")) == str(order_id)]
        if self._client.has.get("fetchOrderTrades"):
            trades = self._call("fetch_order_trades", self._client.fetch_order_trades, order_id, symbol)
        else:
            self._check("fetchMyTrades")
            trades = [t for t in self._call("fetch_my_trades", self._client.fetch_my_trades, symbol)
                      if str(t.get("order")) == str(order_id)]
        return [self._fill(t) for t in trades]

    def fetch_my_fills(self, symbol: str, since: datetime | None = None) -> list[Fill]:
        """Every own fill of ``symbol`` since ``since`` (recovery's "by trades" lookup). OKX's API
        keeps only about 3 months of fills; older history comes from the CSV export."""
        self._require_keys("fetch_my_trades")
        self._check("fetchMyTrades")
        ms = int(since.timestamp() * 1000) if since else None
        if self.name == "okx":
            return [self._fill(t) for t in self._okx_pages("fetch_my_trades", self._client.fetch_my_trades, symbol,
                                                           params={} if ms is None else {"begin": ms}, since_ms=ms)]
        return [self._fill(t) for t in self._call("fetch_my_trades", self._client.fetch_my_trades, symbol, ms)]

    # --- conversion ----------------------------------------------------------------------------
    def _order(self, raw: dict, fallback: OrderRequest | None = None) -> Order:
        def pick(key: str, default: Any = None) -> Any:
            value = raw.get(key)
            return default if value is None else value

        amount = ccxt_decimal(pick("amount"), what="order amount")
        price = ccxt_decimal(pick("price"), what="order price")
        status = _STATUS.get(str(pick("status", "open")), "open")
        if fallback is not None:  # OKX answers a new order with its ids only
            amount = amount if amount is not None else fallback.amount
            price = price if price is not None else fallback.price
        if amount is None:
            raise MissingDataError(f"{self.name} returned order {raw.get('id')} without an amount")
        return Order(id=str(pick("id", "")), client_order_id=str(pick("clientOrderId", fallback.client_order_id
                                                                        if fallback else "")),
                     symbol=pick("symbol", fallback.symbol if fallback else ""),
                     side=pick("side", fallback.side if fallback else ""),
                     type=pick("type", fallback.type if fallback else ""), amount=amount, price=price,
                     filled=ccxt_decimal(pick("filled", 0), what="filled") or ZERO, status=status,
                     time=_ms_time(raw.get("timestamp")))

    def _fill(self, trade: dict) -> Fill:
        fee = trade.get("fee") or {}
        if fee.get("cost") is None or not fee.get("currency"):
            raise MissingDataError(f"{self.name} fill {trade.get('id')} of order {trade.get('order')} has no fee "
                                   "information; refusing to record it with a guessed fee")
        info = trade.get("info") or {}
        return Fill(trade_id=str(trade["id"]), order_id=str(trade.get("order")),
                    client_order_id=str(trade.get("clientOrderId") or info.get("clOrdId") or ""),
                    symbol=trade["symbol"], side=trade["side"],
                    amount=ccxt_decimal(trade["amount"], what="fill amount"),
                    price=ccxt_decimal(trade["price"], what="fill price"),
                    fee=ccxt_decimal(fee["cost"], what="fee"), fee_asset=fee["currency"],
                    time=_ms_time(trade.get("timestamp")), taker_or_maker=trade.get("takerOrMaker") or "taker")
