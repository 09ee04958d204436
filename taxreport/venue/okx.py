"""The local OKX venue's books and OKX v5 semantics (no HTTP here: see :mod:`taxreport.venue.server`).

The matching engine is the paper exchange (:class:`~taxreport.exchanges.paper.PaperExchange`, one
place for fills, fees and reservations), driven by the real clock and a seeded price path, and
persisted after every change in ``<state dir>/books.json`` (orders, fills, balances, prices) next to
``venue.json`` (keys, seed, price-path position, pending cancels). Each behaviour reproduces OKX v5
(quoted from the OKX v5 API docs, https://www.okx.com/docs-v5/en/, beside the code):

* client order ids unique among pending orders only (``51016``), the latest order returned by a
  look-up by ``clOrdId``, ``expTime`` honoured, fills lagging the order (``--faults fill_lag=S``);
* canceled orders without fills vanish from look-ups after 2 hours;
* history windows: ``trade/fills`` lists the last 3 days, ``trade/fills-history`` the last 3
  months, ``trade/orders-history`` the last 7 days, ``-archive`` the last 3 months, ``trade/order``
  finished orders of the last 3 months (see :data:`FILLS_WINDOW` and its neighbours);
* fees in the base coin on buys and the quote coin on sells, maker 0.08% / taker 0.10% (regular tier);
* errors ``51008`` (insufficient balance), ``51020`` (below the minimum amount), ``51121`` (not a
  multiple of the lot size), ``51603`` (order does not exist), ``51400``/``51402`` (cancel),
  ``51410`` (cancel pending), ``50011`` (rate limit), ``50004`` (endpoint timeout), ``50102``
  (timestamp / expTime expired);
* partial fills: a resting order at the touch fills half its remainder per price step (seeded walk,
  one step per second), an order the price moves through fills completely at its limit.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from taxreport.errors import InputError
from taxreport.exchanges.base import (
    DuplicateClientOrderId,
    Fill,
    InsufficientFunds,
    InvalidOrder,
    Order,
    OrderRequest,
)
from taxreport.exchanges.markets import DATA_FILE, default_markets
from taxreport.exchanges.paper import PaperExchange
from taxreport.model.money import decimal_str

ZERO = Decimal(0)
DEFAULT_PRICES = {"BTC/USDT": "60000", "ETH/USDT": "3000", "SOL/USDT": "150", "XRP/USDT": "0.6",
                  "DOGE/USDT": "0.15", "USDC/USDT": "1", "ETH/BTC": "0.05"}
STEP_SECONDS = 1.0  # one price step per second
STEP_VOLATILITY = 0.0004  # each step moves a mid by up to +-4 bps
#: OKX v5, Get order history (last 7 days): "The incomplete orders that have been canceled are only
#: reserved for 2 hours."
CANCELED_UNFILLED_RETENTION = timedelta(hours=2)
#: OKX v5, Get transaction details (last 3 days), ``GET /api/v5/trade/fills``: "Retrieve
#: recently-filled transaction details in the last 3 days."
FILLS_WINDOW = timedelta(days=3)
#: OKX v5, Get transaction details (last 3 months), ``GET /api/v5/trade/fills-history``: "Retrieve
#: recently-filled transaction details in the last 3 months." (ccxt's okx class, the bot's client, reads only this one
#: for fetch_my_trades; 3 months = 90 days, as ccxt's own okx option ``daysBack: 90  # 3 months``)
FILLS_HISTORY_WINDOW = timedelta(days=90)
#: OKX v5, Get order history (last 7 days), ``GET /api/v5/trade/orders-history``: "Get completed orders
#: which are placed in the last 7 days, including those placed 7 days ago but completed in the last 7 days."
ORDERS_HISTORY_WINDOW = timedelta(days=7)
#: OKX v5, Get order history (last 3 months), ``GET /api/v5/trade/orders-history-archive``: "Get completed
#: orders which are placed in the last 3 months, including those placed 3 months ago but completed in the
#: last 3 months."
ORDERS_ARCHIVE_WINDOW = timedelta(days=90)
#: ``GET /api/v5/trade/order`` (Get order details): the docs give no retention; no OKX endpoint lists a
#: finished order older than the archive's 3 months, so the venue (at least as hostile as OKX) forgets
#: finished orders after that too ("51603 Order does not exist"). An assumption, not a quoted rule.
ORDER_DETAILS_WINDOW = ORDERS_ARCHIVE_WINDOW
PAGE_LIMIT = 100  # OKX v5: "limit: Number of results per request. The maximum is 100. The default is 100"


class OkxError(Exception):
    """An OKX error answer: ``code`` (and ``scode`` for an operation inside ``data``)."""

    def __init__(self, code: str, msg: str, *, http: int = 200, scode: str | None = None) -> None:
        super().__init__(msg)
        self.code, self.msg, self.http, self.scode = code, msg, http, scode


def ms(t: datetime) -> str:
    return str(int(t.timestamp() * 1000))


def inst_id(symbol: str) -> str:
    return symbol.replace("/", "-")


def symbol_of(inst: str) -> str:
    return inst.replace("-", "/")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class OkxVenue:
    """The books of one local OKX account, on disk in ``state_dir``. Thread-safe (one lock)."""

    def __init__(self, state_dir: Path, *, seed: int = 1, fill_lag: float = 0.0,
                 fund: dict[str, Decimal] | None = None, prices: dict[str, Decimal] | None = None,
                 clock: Callable[[], datetime] | None = None, clock_skew: float = 0.0) -> None:
        self.dir = Path(state_dir)
        #: how far the venue's wall clock is ahead of this machine's (fault ``clock_skew``): its
        #: ``public/time`` and the request-timestamp check; ``clock`` (default: that wall clock) is the
        #: books' time (expTime, order and fill times; tests give a simulated one)
        self.skew = timedelta(seconds=clock_skew)
        self.clock = clock or self.wall_clock
        self.lock = threading.RLock()
        self.dir.mkdir(parents=True, exist_ok=True)
        meta_path, books_path = self.dir / "venue.json", self.dir / "books.json"
        now = self.clock()
        if meta_path.is_file() and books_path.is_file():
            self.meta = json.loads(meta_path.read_text(encoding="utf-8"))
            self.ex = PaperExchange.load(books_path)
            if fund or prices:
                raise InputError("--fund and --prices apply only to a new venue state (this one exists)",
                                 file=str(self.dir))
        else:
            self.meta = {"version": 1, "seed": seed, "created": ms(now), "step": 0, "cancel_at": {},
                         "keys": {"api_key": secrets.token_hex(16), "secret": secrets.token_hex(32),
                                  "passphrase": "Tr" + secrets.token_hex(8)},
                         "history": {}}
            self.ex = PaperExchange(markets=default_markets(), now=now, touch_fill_ratio=Decimal("0.5"),
                                    id_prefix="", state_path=books_path)
            start = {**{k: Decimal(v) for k, v in DEFAULT_PRICES.items()}, **(prices or {})}
            for symbol, mid in start.items():
                if symbol not in self.ex.markets:
                    raise InputError(f"no OKX spot market {symbol} in the venue", field="--prices")
                self.ex.set_price(symbol, mid)
            for asset, qty in (fund or {}).items():
                self.ex.deposit(asset, qty, ref=f"fund:{asset}")  # remembered: the funding history export
        self.ex.state_path = books_path
        self.ex.fill_lag = Decimal(str(fill_lag))
        self._instruments = {m["id"]: m["info"] for m in json.loads(DATA_FILE.read_text(encoding="utf-8"))}
        self._save_meta()
        self._write_env()

    def wall_clock(self) -> datetime:
        return _utcnow() + self.skew

    # --- persistence ---------------------------------------------------------------------------
    def _save_meta(self) -> None:
        tmp = self.dir / "venue.json.tmp"
        tmp.write_text(json.dumps(self.meta, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.dir / "venue.json")

    def _write_env(self) -> None:
        """``okx.env``: the keys as the bot reads them (``source`` it). Readable only by the owner."""
        k = self.meta["keys"]
        path = self.dir / "okx.env"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"export TAXREPORT_OKX_API_KEY={k['api_key']}\nexport TAXREPORT_OKX_SECRET={k['secret']}\n"
                     f"export TAXREPORT_OKX_PASSWORD={k['passphrase']}\n")

    @property
    def keys(self) -> dict[str, str]:
        return dict(self.meta["keys"])

    # --- time and the price path -----------------------------------------------------------------
    def sync(self) -> None:
        """Bring the books to the current time: price steps, delayed requests, matching, cancels."""
        with self.lock:
            now = self.clock()
            created = datetime.fromtimestamp(int(self.meta["created"]) / 1000, tz=UTC)
            target = int((now - created).total_seconds() / STEP_SECONDS)
            ex = self.ex
            for k in range(self.meta["step"] + 1, min(target, self.meta["step"] + 3600) + 1):
                rng = random.Random(f"{self.meta['seed']}:{k}")
                for symbol in sorted(ex.prices):
                    move = Decimal(str(round(rng.uniform(-STEP_VOLATILITY, STEP_VOLATILITY), 8)))
                    ex.prices[symbol] = ex.price_to_precision(symbol, ex.prices[symbol] * (1 + move)) or ex.prices[symbol]
                ex.now = max(ex.now, created + timedelta(seconds=k * STEP_SECONDS))
                ex._arrive()
                ex._match_resting()
                if k % 60 == 0:
                    for symbol in ex.prices:
                        hist = self.meta["history"].setdefault(symbol, [])
                        hist.append([ms(ex.now), decimal_str(ex.prices[symbol])])
                        del hist[:-1440]
            self.meta["step"] = max(self.meta["step"], target)
            ex.now = max(ex.now, now)
            due = [oid for oid, at in self.meta["cancel_at"].items() if int(at) <= int(ms(now))]
            for oid in due:
                del self.meta["cancel_at"][oid]
                order = ex.orders.get(oid)
                if order is not None and order.status == "open":
                    ex.cancel_order(order.symbol, oid)
            ex.advance(0)  # arrivals, matching and one save
            self._save_meta()

    # --- public market data ----------------------------------------------------------------------
    def instruments(self, inst_type: str, inst: str | None) -> list[dict[str, Any]]:
        if inst_type != "SPOT":
            return []
        return [info for i, info in self._instruments.items()
                if symbol_of(i) in self.ex.markets and (inst is None or i == inst)]

    def _market_or_error(self, inst: str | None) -> str:
        symbol = symbol_of(inst or "")
        if symbol not in self.ex.markets:
            raise OkxError("51001", "Instrument ID does not exist", scode=None)
        return symbol

    def ticker(self, symbol: str) -> dict[str, Any]:
        bid, ask = self.ex._touch(symbol)
        mid = self.ex.prices[symbol]
        ts = ms(self.ex.now)
        return {"instType": "SPOT", "instId": inst_id(symbol), "last": decimal_str(mid), "lastSz": "0.1",
                "askPx": decimal_str(ask), "askSz": "1000", "bidPx": decimal_str(bid), "bidSz": "1000",
                "open24h": decimal_str(mid), "high24h": decimal_str(mid), "low24h": decimal_str(mid),
                "volCcy24h": "0", "vol24h": "0", "sodUtc0": decimal_str(mid), "sodUtc8": decimal_str(mid), "ts": ts}

    def tickers(self, inst: str | None = None) -> list[dict[str, Any]]:
        self.sync()
        with self.lock:
            if inst is not None:
                return [self.ticker(self._market_or_error(inst))]
            return [self.ticker(s) for s in sorted(self.ex.markets)]

    def book(self, inst: str, size: int) -> dict[str, Any]:
        self.sync()
        with self.lock:
            symbol = self._market_or_error(inst)
            bid, ask = self.ex._touch(symbol)
            tick = self.ex.markets[symbol].price_tick
            levels = max(1, min(size, 400))
            return {"asks": [[decimal_str(ask + tick * i), "1000", "0", "1"] for i in range(levels)],
                    "bids": [[decimal_str(bid - tick * i), "1000", "0", "1"] for i in range(levels) if bid - tick * i > 0],
                    "ts": ms(self.ex.now)}

    def candles(self, inst: str, bar: str, limit: str | None, after: str | None = None,
                before: str | None = None) -> list[list[str]]:
        """``GET /api/v5/market/candles`` and ``history-candles`` from the venue's 1-minute price path
        (the last 1,440 minutes are kept, as OKX's recent-candles endpoint: "This endpoint can retrieve
        the latest 1,440 data entries"). OKX v5, Get candlesticks, quoted:

        * ``bar``: "Bar size, the default is `1m` e.g. [1m/3m/5m/15m/30m/1H/2H/4H] UTC+8 opening price
          k-line: [6H/12H/1D/2D/3D/1W/1M/3M] UTC+0 opening price k-line: [6Hutc/12Hutc/1Dutc/2Dutc/
          3Dutc/1Wutc/1Mutc/3Mutc]" — served: every fixed-length bar up to a day (the 6H/12H/1D bars
          open at 00:00 UTC+8, the ``utc`` ones at 00:00 UTC); multi-day, week and month bars and
          ``1s`` answer ``51000`` (Parameter bar error);
        * ``after``: "Pagination of data to return records earlier than the requested `ts`";
          ``before``: "Pagination of data to return records newer than the requested `ts`";
        * ``limit``: "Number of results per request. The maximum is `300`. The default is `100`.";
        * the rows: "The data returned will be arranged in an array like this:
          [ts,o,h,l,c,vol,volCcy,volCcyQuote,confirm]", newest first, ``ts`` the "Opening time of
          the candlestick", ``confirm`` "`0`: K line is uncompleted `1`: K line is completed" (the
          bar still open now is ``0``). Volumes are ``0``: the venue's price path has no volume."""
        self.sync()
        hours = {"6H": 6, "12H": 12, "1D": 24}
        fixed = {"1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1H": 3600, "2H": 7200, "4H": 14400}
        if bar in fixed:
            seconds, shift = fixed[bar], 0
        elif bar in hours:
            seconds, shift = hours[bar] * 3600, 8 * 3600  # UTC+8 opening
        elif bar.endswith("utc") and bar[:-3] in hours:
            seconds, shift = hours[bar[:-3]] * 3600, 0
        else:
            raise OkxError("51000", "Parameter bar error")
        try:
            count = 100 if limit in (None, "") else int(limit)
            after_ms = int(after) if after else None
            before_ms = int(before) if before else None
        except ValueError:
            raise OkxError("51000", "Parameter limit error") from None
        count = max(1, min(count, 300))
        size, offset = seconds * 1000, shift * 1000
        with self.lock:
            symbol = self._market_or_error(inst)
            groups: dict[int, list[Decimal]] = {}
            now = int(ms(self.ex.now))
            # the price now closes the bar still open (OKX always lists the current bar)
            points = [*self.meta["history"].get(symbol, []), [str(now), decimal_str(self.ex.prices[symbol])]]
            for t, px in points:
                start = (int(t) + offset) // size * size - offset
                groups.setdefault(start, []).append(Decimal(px))
            rows = []
            for start in sorted(groups, reverse=True):
                if (after_ms is not None and start >= after_ms) or (before_ms is not None and start <= before_ms):
                    continue
                p = groups[start]
                rows.append([str(start), decimal_str(p[0]), decimal_str(max(p)), decimal_str(min(p)),
                             decimal_str(p[-1]), "0", "0", "0", "1" if start + size <= now else "0"])
                if len(rows) == count:
                    break
            return rows

    def currencies(self) -> list[dict[str, Any]]:
        assets = sorted({m.base for m in self.ex.markets.values()} | {m.quote for m in self.ex.markets.values()})
        return [{"ccy": a, "name": a, "chain": f"{a}-{a}", "canDep": True, "canWd": True, "canInternal": True,
                 "minWd": "0", "maxWd": "1000000000", "wdTickSz": "8", "minFee": "0", "maxFee": "0",
                 "mainNet": True, "needTag": False, "logoLink": "", "minDep": "0"} for a in assets]

    # --- account -----------------------------------------------------------------------------------
    def balance(self) -> dict[str, Any]:
        self.sync()
        with self.lock:
            totals = self.ex.total_balances()
            free = self.ex.fetch_balances()
            ts = ms(self.ex.now)
            details = [{"ccy": a, "eq": decimal_str(q), "cashBal": decimal_str(q),
                        "availBal": decimal_str(free.get(a, ZERO)), "frozenBal": decimal_str(q - free.get(a, ZERO)),
                        "ordFrozen": decimal_str(q - free.get(a, ZERO)), "uTime": ts} for a, q in totals.items()]
            return {"uTime": ts, "totalEq": "", "adjEq": "", "details": details}

    # --- orders ------------------------------------------------------------------------------------
    def place(self, args: dict[str, Any], exp_time: str | None) -> dict[str, Any]:
        """One order of ``POST /api/v5/trade/order`` or ``batch-orders``: its ``data`` entry, or
        :class:`OkxError` with the entry's sCode."""
        self.sync()
        with self.lock:
            cid = str(args.get("clOrdId") or "")
            now = self.clock()
            # OKX v5 REST authentication, request headers: "expTime: Request effective deadline. Unix
            # timestamp format in milliseconds" - a request arriving after it is not processed.
            if exp_time and int(exp_time) < int(ms(now)):
                raise OkxError("1", "Request timestamp expired", scode="50102")
            try:
                req = self._request(args, exp_time)
                order = self.ex._carry_out(req)
            except DuplicateClientOrderId:
                # OKX v5, Place order: "clOrdId ... must be unique among all pending orders and the current request"
                raise OkxError("1", "Duplicated clOrdId", scode="51016") from None
            except InsufficientFunds:
                raise OkxError("1", "Order failed. Insufficient balance in account.", scode="51008") from None
            except InvalidOrder as exc:
                text = str(exc)
                if "below minimum" in text:
                    raise OkxError("1", "Order amount should be greater than the min available amount.",
                                   scode="51020") from None
                if "amount" in text and "multiple" in text:
                    raise OkxError("1", "Order quantity must be a multiple of the lot size.", scode="51121") from None
                if "letters/digits" in text:
                    raise OkxError("1", "clOrdId error", scode="51000") from None
                raise OkxError("1", "Parameter px error", scode="51000") from None
            self.ex._save()
            return {"clOrdId": cid, "ordId": order.id, "sCode": "0", "sMsg": "Order placed", "tag": "",
                    "ts": ms(now)}

    def _request(self, args: dict[str, Any], exp_time: str | None) -> OrderRequest:
        symbol = self._market_or_error(args.get("instId"))
        side, ord_type = args.get("side"), args.get("ordType")
        if side not in ("buy", "sell"):
            raise OkxError("1", "Parameter side error", scode="51000")
        if ord_type not in ("limit", "market"):
            raise OkxError("1", f"ordType {ord_type} is not supported by the local venue", scode="51000")
        if ord_type == "market" and side == "buy" and args.get("tgtCcy") != "base_ccy":
            raise OkxError("1", "the local venue sizes market buys in the base coin only (tgtCcy=base_ccy)",
                           scode="51000")
        try:
            amount = Decimal(str(args.get("sz")))
            price = Decimal(str(args["px"])) if ord_type == "limit" else None
        except (ArithmeticError, KeyError, ValueError):
            raise OkxError("1", "Parameter sz or px error", scode="51000") from None
        expires = datetime.fromtimestamp(int(exp_time) / 1000, tz=UTC) if exp_time else None
        return OrderRequest(str(args.get("clOrdId") or ""), symbol, side, ord_type, amount, price, expires)

    def delay(self, args: dict[str, Any], exp_time: str | None, seconds: float) -> None:
        """Fault ``delay``: the request reaches the matching engine ``seconds`` later (never if its
        expTime has passed by then)."""
        with self.lock:
            try:
                req = self._request(args, exp_time)
            except OkxError:
                return
            from taxreport.exchanges.paper import _Delayed

            self.ex.delayed.append(_Delayed(req, self.clock() + timedelta(seconds=seconds)))
            self.ex._save()

    def _find(self, inst: str | None, ord_id: str | None, cl_ord_id: str | None) -> Order:
        symbol = self._market_or_error(inst)
        now = self.clock()
        if ord_id:
            o = self.ex.orders.get(ord_id)
            found = o.snapshot() if o is not None and o.symbol == symbol else None
        elif cl_ord_id:
            # OKX v5, Get order details: "If the clOrdId is associated with multiple orders, only the
            # latest one will be returned."
            found = next((o.snapshot() for o in reversed(list(self.ex.orders.values()))
                          if o.client_order_id == cl_ord_id and o.symbol == symbol), None)
        else:
            raise OkxError("51000", "Either ordId or clOrdId is required")
        if found is None or self._forgotten(found, now):
            raise OkxError("51603", "Order does not exist")
        return found

    def _forgotten(self, order: Order, now: datetime, window: timedelta | None = None) -> bool:
        """Canceled without any fill and older than 2 hours, or finished before ``window`` (placed and
        completed before it): OKX no longer lists it."""
        updated = self.ex.orders[order.id].updated or order.time
        if order.status != "open" and now - max(updated, order.time) > (window or ORDER_DETAILS_WINDOW):
            return True
        return order.status == "canceled" and order.filled == 0 and now - updated > CANCELED_UNFILLED_RETENTION

    def order(self, inst: str | None, ord_id: str | None, cl_ord_id: str | None) -> dict[str, Any]:
        self.sync()
        with self.lock:
            return self._order_json(self._find(inst, ord_id, cl_ord_id))

    def cancel(self, inst: str | None, ord_id: str | None, cl_ord_id: str | None,
               pending: bool = False) -> dict[str, Any]:
        self.sync()
        with self.lock:
            try:
                order = self._find(inst, ord_id, cl_ord_id)
            except OkxError:
                raise OkxError("1", "Cancellation failed as the order does not exist.", scode="51400") from None
            if order.id in self.meta["cancel_at"]:
                raise OkxError("1", "Cancellation failed as the order is already under cancelling status.",
                               scode="51410")
            if order.status == "canceled":
                raise OkxError("1", "Cancellation failed as the order has been canceled.", scode="51401")
            if order.status != "open":
                raise OkxError("1", "Cancellation failed as the order has been completed.", scode="51402")
            if pending:  # fault cancel_pending: the cancel completes one second later
                self.meta["cancel_at"][order.id] = str(int(ms(self.clock())) + 1000)
                self._save_meta()
                raise OkxError("1", "Cancellation failed as the order is already under cancelling status.",
                               scode="51410")
            self.ex.cancel_order(order.symbol, order.id)
            return {"clOrdId": order.client_order_id, "ordId": order.id, "sCode": "0", "sMsg": "", "ts": ms(self.clock())}

    def orders(self, *, pending: bool, inst: str | None, after: str | None, before: str | None,
               limit: int, state: str | None = None,
               window: timedelta = ORDERS_HISTORY_WINDOW) -> list[dict[str, Any]]:
        """Pending orders, or finished ones (history: those finished within ``window``, 7 days for
        ``orders-history``, 3 months for ``-archive``), newest first, paged by ordId."""
        self.sync()
        with self.lock:
            now = self.clock()
            rows = [o.snapshot() for o in reversed(list(self.ex.orders.values()))
                    if (o.status == "open") == pending and (inst is None or inst_id(o.symbol) == inst)]
            rows = [o for o in rows if not self._forgotten(o, now, window)]
            keys = list(self.ex.orders)
            pos = {oid: i for i, oid in enumerate(keys)}
            if after:
                rows = [o for o in rows if pos[o.id] < pos.get(after, len(keys))]
            if before:
                rows = [o for o in rows if pos[o.id] > pos.get(before, -1)]
            out = [self._order_json(o) for o in rows]
            return [o for o in out if state is None or o["state"] == state][:limit]

    def _fills_of(self, order_id: str) -> list[Fill]:
        return [f for f in self.ex.fills if f.order_id == order_id]

    def _order_json(self, o: Order) -> dict[str, Any]:
        fills = self._fills_of(o.id)
        m = self.ex.markets[o.symbol]
        fee = sum((f.fee for f in fills), ZERO)
        notional = sum((f.amount * f.price for f in fills), ZERO)
        state = {"open": "partially_filled" if o.filled > 0 else "live", "closed": "filled",
                 "canceled": "canceled", "rejected": "canceled"}[o.status]
        last = fills[-1] if fills else None
        updated = self.ex.orders[o.id].updated or o.time
        return {"instType": "SPOT", "instId": inst_id(o.symbol), "ordId": o.id, "clOrdId": o.client_order_id,
                "tag": "", "px": "" if o.price is None else decimal_str(o.price), "sz": decimal_str(o.amount),
                "ordType": o.type, "side": o.side, "tdMode": "cash", "tgtCcy": "base_ccy" if o.type == "market" else "",
                "accFillSz": decimal_str(o.filled), "avgPx": decimal_str(notional / o.filled) if o.filled else "",
                "fillPx": decimal_str(last.price) if last else "", "fillSz": decimal_str(last.amount) if last else "",
                "tradeId": last.trade_id if last else "", "fillTime": ms(last.time) if last else "",
                "state": state, "fee": decimal_str(-fee) if fills else "0",
                "feeCcy": (m.base if o.side == "buy" else m.quote), "rebate": "0", "rebateCcy": m.quote,
                "category": "normal", "source": "", "cancelSource": "", "posSide": "", "lever": "",
                "reduceOnly": "false", "stpMode": "", "cTime": ms(o.time), "uTime": ms(updated)}

    def fills(self, *, inst: str | None, ord_id: str | None, after: str | None, before: str | None,
              begin: str | None, end: str | None, limit: int,
              window: timedelta = FILLS_HISTORY_WINDOW) -> list[dict[str, Any]]:
        """``GET /api/v5/trade/fills`` (``window`` 3 days) and ``fills-history`` (3 months): newest first;
        ``after``/``before`` are billIds ("after: Pagination of data to return records earlier than the
        requested billId"). A fill older than the window is not listed, whatever the parameters."""
        self.sync()
        with self.lock:
            oldest = self.clock() - window
            listed = [(i + 1, f) for i, f in enumerate(self.ex.fills) if self.ex._listed(f)]
            rows = []
            for bill, f in reversed(listed):
                if inst is not None and inst_id(f.symbol) != inst:
                    continue
                if ord_id and f.order_id != ord_id:
                    continue
                if after and bill >= int(after):
                    continue
                if before and bill <= int(before):
                    continue
                if f.time < oldest:
                    continue
                t = int(ms(f.time))
                if begin and t < int(begin):
                    continue
                if end and t > int(end):
                    continue
                rows.append((bill, f))
            return [self._fill_json(bill, f) for bill, f in rows[:limit]]

    @staticmethod
    def _fill_json(bill: int, f: Fill) -> dict[str, Any]:
        return {"instType": "SPOT", "instId": inst_id(f.symbol), "tradeId": f.trade_id, "ordId": f.order_id,
                "clOrdId": f.client_order_id, "billId": str(bill), "subType": "1" if f.side == "buy" else "2",
                "tag": "", "fillPx": decimal_str(f.price), "fillSz": decimal_str(f.amount), "side": f.side,
                "posSide": "net", "execType": "M" if f.taker_or_maker == "maker" else "T", "feeCcy": f.fee_asset,
                # OKX: "fee: negative number represents the user transaction fee charged by the platform"
                "fee": decimal_str(-f.fee), "ts": ms(f.time), "fillTime": ms(f.time)}

    def backdate(self, delta: timedelta) -> int:
        """Move every time in the books ``delta`` into the past, as if all of it had happened that long
        ago (``taxreport venue okx --backdate DAYS``, on a stopped venue): order, fill, funding and price
        times, pending cancels and delayed requests alike, so a rehearsal can ask what the bot finds
        after being down for longer than one of OKX's history windows. The price path does not replay
        the skipped time. Returns the number of orders and fills moved."""
        from dataclasses import replace

        if delta <= timedelta(0):
            raise InputError(f"--backdate must be a positive number of days, got {delta}", field="--backdate")
        secs = int(delta.total_seconds())
        with self.lock:
            ex = self.ex
            for o in ex.orders.values():
                o.time -= delta
                if o.updated is not None:
                    o.updated -= delta
            ex.fills = [replace(f, time=f.time - delta) for f in ex.fills]
            for f in ex.fundings:
                f["time"] -= delta
            for d in ex.delayed:  # a request still travelling: its arrival and its expTime alike
                d.arrives -= delta
                if d.request.expires_at is not None:
                    d.request = replace(d.request, expires_at=d.request.expires_at - delta)
            ex.now -= delta
            self.meta["created"] = str(int(self.meta["created"]) - secs * 1000)
            self.meta["step"] += int(secs / STEP_SECONDS)  # no replay of the skipped price steps
            for hist in self.meta["history"].values():
                for row in hist:
                    row[0] = str(int(row[0]) - secs * 1000)
            self.meta["cancel_at"] = {k: str(int(v) - secs * 1000) for k, v in self.meta["cancel_at"].items()}
            self._save_meta()
            ex.archived = None  # the append-only archive holds the old times: write it anew
            ex.save()
            return len(ex.orders) + len(ex.fills)

    # --- the books, for the campaign's checks and `taxreport venue okx --show` ----------------------
    def snapshot(self) -> dict[str, Any]:
        self.sync()
        with self.lock:
            return {"balances": {a: decimal_str(q) for a, q in self.ex.total_balances().items()},
                    "orders": [{"ordId": o.id, "clOrdId": o.client_order_id, "symbol": o.symbol, "side": o.side,
                                "amount": decimal_str(o.amount), "filled": decimal_str(o.filled), "status": o.status}
                               for o in self.ex.all_orders()],
                    "fills": [{"tradeId": f.trade_id, "ordId": f.order_id, "clOrdId": f.client_order_id,
                               "symbol": f.symbol, "side": f.side, "amount": decimal_str(f.amount),
                               "price": decimal_str(f.price), "fee": decimal_str(f.fee), "feeCcy": f.fee_asset}
                              for f in self.ex.fills],
                    "delayed": len(self.ex.delayed), "pending_cancels": len(self.meta["cancel_at"])}



def _deposits(venue: OkxVenue) -> list[Any]:
    """The venue's ``--fund`` deposits as ledger Deposits (states made before they were remembered: none)."""
    from taxreport.model.events import Deposit

    return [Deposit(time=f["time"], source="okx-venue", external_id=f["ref"], account="okx:venue",
                    asset=f["asset"], quantity=f["quantity"]) for f in venue.ex.fundings]


def export_funding_history(venue: OkxVenue, path: Path, *, hours: int = 8) -> int:
    """The venue's ``--fund`` deposits as OKX's "Funding history" CSV (the F2 layout ``taxreport import
    okx`` reads: a Deposit, then the move to the trading account), so a rehearsal's ledger gets the
    cash the basket spends with its date (without it, ``gains`` finds quote sold that was never
    acquired). Written by the one F2 writer (:func:`taxreport.reconcile.synthetic.write_f2`)."""
    from taxreport.reconcile.synthetic import write_f2

    with venue.lock:
        return write_f2(path, _deposits(venue), hours=hours)


def export_trading_history(venue: OkxVenue, path: Path, *, hours: int = 8) -> int:
    """The venue's own fills as OKX's "Trading history" CSV export (the T4 layout that ``taxreport
    import okx`` and ``reconcile okx`` read; Time column in UTC+``hours``, newest first, two rows per
    fill, after the ``Transfer in`` of the funded cash), so a rehearsal can be reconciled against the
    venue's books as a real account is against OKX's export. Rows are written by the one T4 writer (:func:`taxreport.reconcile.synthetic.write_t4`)
    with the venue's own order ids; returns the rows written. Like ``--show``, for a stopped venue."""
    from taxreport.model.events import Side, Trade
    from taxreport.reconcile.synthetic import write_t4

    with venue.lock:  # the books as saved (the venue stopped: run_venue syncs them on its way out)
        fills = list(venue.ex.fills)
        markets = venue.ex.markets
        moves = _deposits(venue)  # "Transfer in" rows: the funded cash reaching the trading account
    trades = [Trade(time=f.time, source="okx-venue", external_id=f.trade_id, account="okx:venue",
                    side=Side(f.side), base=markets[f.symbol].base, quote=markets[f.symbol].quote, quantity=f.amount,
                    price=f.price, fee=f.fee, fee_asset=f.fee_asset, order_id=f.order_id) for f in fills]
    return write_t4(path, trades, {f.order_id: f.order_id for f in fills}, hours=hours, transfers_in=moves)
