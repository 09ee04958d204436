"""The paper exchange: a deterministic simulated venue implementing :class:`Exchange`, for tests, the
demo and paper trading (``taxreport rebalance run --paper``).

Model (one price level per market, a simulated clock, no real sleeping):

* ``set_price(symbol_or_asset, mid)`` sets the mid price; the touch is ``bid``/``ask`` at
  ``spread_bps`` around it, on the market's tick. ``advance(seconds)`` moves the clock and runs one
  matching round over resting orders.
* A limit order that crosses the touch fills at once as **taker** at the touch. A resting order fills
  as **maker** at its own price when the market moves through it, or — when it sits *at* the touch —
  ``touch_fill_ratio`` of its remainder per matching round (1 = all; 0.5 gives partial fills).
  Market orders fill at once at the touch.
* Fees follow OKX spot: a buy's fee is charged in the **base** asset, a sell's in the **quote**; a
  negative maker fee is a rebate. Funds of open orders are reserved; ``fetch_balances`` returns
  free balances, ``total_balances`` free + reserved.
* Order and trade ids are deterministic counters (after ``id_prefix``, which the CLI sets per paper
  basket so two paper states never produce the same trade id in one ledger).
* At least as hostile as OKX (the local OKX venue, :mod:`taxreport.venue`, follows the same rules):

  - client order ids are unique only among PENDING orders: OKX v5, Place order: "clOrdId must be
    unique among all pending orders and the current request" (a finished order's id may be sent
    again, and then makes a second order);
  - a look-up by client order id returns the latest order with that id: OKX v5, Get order details:
    "if there are multiple orders with the same clOrdId, only the latest one will be returned";
  - a request carrying ``expires_at`` (OKX's ``expTime`` header) that is carried out after it is
    refused: OKX v5, REST request headers: "expTime: request effective deadline ... the request will
    not be processed if the current time is later than this deadline";
  - ``fill_lag`` seconds: fills show in ``fetch_fills``/``fetch_my_fills`` only that long after the
    order's filled status (OKX's fills endpoints lag the order endpoint);
  - canceled orders without any fill vanish from the look-up after ``order_history_seconds``.
* Faults: :meth:`inject` schedules ``timeout`` (not landed), ``timeout_after`` (the order landed but
  the response timed out), ``delay`` (the client times out now and the request reaches the matching
  engine ``delay`` seconds later, unless its ``expires_at`` has passed by then), ``unknown`` /
  ``unknown_after`` (an unclassifiable answer before / after carrying the request out, like a 5xx
  JSON without ``code``), ``network``, ``rate_limit``, ``reject`` and ``insufficient_funds`` on any
  API operation. ``on_step`` is called at ``exchange.accepted`` / ``exchange.canceled`` (the request
  was carried out, the response not yet returned): a :class:`CrashAt` there simulates the process
  dying while waiting for the answer.
* State can be saved to and loaded from a JSON file (Decimals as exact text), so a paper basket keeps
  its balances and orders across processes; with ``state_path`` every change is saved atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from taxreport.errors import InputError
from taxreport.exchanges.base import (
    DuplicateClientOrderId,
    Exchange,
    ExchangeError,
    Fill,
    InsufficientFunds,
    InvalidOrder,
    Market,
    NetworkError,
    Order,
    OrderRequest,
    RateLimitExceeded,
    RequestTimeout,
    Ticker,
    UnknownResult,
)

ZERO = Decimal(0)
OPS = ("create_order", "cancel_order", "fetch_order", "fetch_fills", "fetch_my_fills", "fetch_balances",
       "fetch_tickers", "load_markets")
FAULT_KINDS = ("timeout", "timeout_after", "delay", "unknown", "unknown_after", "network", "rate_limit", "reject",
               "insufficient_funds")
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

class SimulatedCrash(BaseException):
    """The process "dies" at a named step. A BaseException, so no ``except Exception`` swallows it."""

    def __init__(self, step: str) -> None:
        super().__init__(f"simulated crash at {step}")
        self.step = step


class CrashAt:
    """A step hook that raises :class:`SimulatedCrash` the ``occurrence``-th time ``step`` is reached."""

    def __init__(self, step: str, occurrence: int = 1) -> None:
        self.step, self.occurrence, self.seen, self.fired = step, occurrence, 0, False
        self.steps: list[str] = []

    def __call__(self, step: str) -> None:
        self.steps.append(step)
        if step == self.step and not self.fired:
            self.seen += 1
            if self.seen == self.occurrence:
                self.fired = True
                raise SimulatedCrash(step)


def default_markets(assets: list[str], quote: str = "USDT") -> dict[str, Market]:
    """Spot markets ``ASSET/QUOTE``: the bundled OKX table (:mod:`taxreport.exchanges.markets`) where
    it has the market, else a generic one (step 1e-8, tick 0.0001, no minimum, OKX regular fees)."""
    from taxreport.exchanges.markets import default_markets as okx_markets

    known = okx_markets()
    out = {}
    for asset in assets:
        if asset == quote:
            continue
        symbol = f"{asset}/{quote}"
        out[symbol] = known.get(symbol) or Market(symbol, asset, quote, Decimal("0.00000001"), Decimal("0.0001"),
                                                  None, None, Decimal("0.0008"), Decimal("0.001"))
    return out


@dataclass
class _Fault:
    op: str
    kind: str
    skip: int
    times: int
    message: str
    delay: float = 0.0


@dataclass
class _Delayed:
    """A create request still travelling to the matching engine (fault ``delay``)."""

    request: OrderRequest
    arrives: datetime


@dataclass
class _PaperOrder:
    id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    amount: Decimal
    price: Decimal | None
    time: datetime
    filled: Decimal = ZERO
    status: str = "open"
    reserved: Decimal = ZERO  # funds still locked (quote for buys, base for sells)
    updated: datetime | None = None

    def snapshot(self) -> Order:
        return Order(self.id, self.client_order_id, self.symbol, self.side, self.type, self.amount, self.price,
                     self.filled, self.status, self.time)


PRICE_LOG_KEPT = timedelta(days=3)


@dataclass
class PaperExchange(Exchange):
    markets: dict[str, Market] = field(default_factory=dict)
    balances: dict[str, Decimal] = field(default_factory=dict)  # totals (free + reserved)
    prices: dict[str, Decimal] = field(default_factory=dict)  # symbol -> mid
    name: str = "paper"
    spread_bps: Decimal = Decimal(2)
    touch_fill_ratio: Decimal = Decimal(1)
    latency: Decimal = ZERO  # seconds of simulated clock per API call
    now: datetime = EPOCH
    order_history_seconds: int | None = None  # closed orders older than this are no longer found by id
    state_path: Path | None = None
    on_step: Callable[[str], None] | None = None
    orders: dict[str, _PaperOrder] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=lambda: {"order": 0, "trade": 0})
    id_prefix: str = ""  # makes order/trade ids unique across paper states writing to one ledger
    fundings: list[dict[str, Any]] = field(default_factory=list)  # deposits made with a ``ref``
    faults: list[_Fault] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    fill_lag: Decimal = ZERO  # seconds between an order's filled status and its fills being listed
    delayed: list[_Delayed] = field(default_factory=list)
    #: symbol -> [(time, mid)] every price set in the last PRICE_LOG_KEPT (and the one in effect before):
    #: the paper prices at 00:00 UTC for today's P&L (:meth:`fetch_day_open`)
    price_log: dict[str, list[tuple[datetime, Decimal]]] = field(default_factory=dict)
    #: what of the orders and fills the state file's archive already holds (taxreport.exchanges.paper_state)
    archived: Any = field(default=None, repr=False, compare=False)

    # --- simulation controls ----------------------------------------------------------------
    def set_price(self, symbol_or_asset: str, mid: Decimal) -> None:
        symbol = self._symbol(symbol_or_asset)
        if mid <= 0:
            raise ValueError(f"price of {symbol} must be positive, got {mid}")
        self.prices[symbol] = Decimal(mid)
        log = [x for x in self.price_log.get(symbol, []) if x[0] < self.now]
        cutoff = self.now - PRICE_LOG_KEPT
        older = [x for x in log if x[0] <= cutoff]
        self.price_log[symbol] = older[-1:] + [x for x in log if x[0] > cutoff] + [(self.now, Decimal(mid))]
        self._save()

    def fetch_day_open(self, symbols: list[str], day_start: datetime) -> dict[str, Decimal] | None:
        """The paper price in effect at ``day_start`` (the last one set at or before it), per base
        asset; a symbol whose price was first set after ``day_start`` is left out (unknown)."""
        out: dict[str, Decimal] = {}
        for symbol in symbols:
            before = [p for t, p in self.price_log.get(symbol, []) if t <= day_start]
            if before:
                out[symbol.split("/")[0]] = before[-1]
        return out

    def advance(self, seconds: float | Decimal = 0) -> None:
        """Move the simulated clock (also the executor's ``sleep`` in paper mode) and match."""
        self.now += timedelta(seconds=float(seconds))
        self._arrive()
        self._match_resting()
        self._save()

    tick = advance

    def deposit(self, asset: str, quantity: Decimal, *, ref: str | None = None) -> None:
        """Add funds. With ``ref`` the deposit is remembered (see :attr:`fundings`) so that the
        caller can write it to the ledger idempotently, even after a crash in between."""
        if quantity <= 0:
            raise ValueError(f"deposit of {asset} must be positive, got {quantity}")
        self.balances[asset] = self.balances.get(asset, ZERO) + quantity
        if ref is not None:
            self.fundings.append({"ref": ref, "asset": asset, "quantity": quantity, "time": self.now})
        self._save()

    def clock(self) -> datetime:
        return self.now

    def inject(self, op: str, kind: str, *, times: int = 1, skip: int = 0, message: str = "",
               delay: float = 0.0) -> None:
        """Make the next ``times`` calls of ``op`` (after ``skip`` good ones) fail with ``kind``
        (``delay``: seconds the request travels before the matching engine sees it)."""
        if op not in OPS:
            raise ValueError(f"unknown operation {op!r}; one of {', '.join(OPS)}")
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        if kind in ("timeout_after", "unknown_after") and op not in ("create_order", "cancel_order"):
            raise ValueError(f"{kind} applies to create_order and cancel_order")
        if kind == "delay" and op != "create_order":
            raise ValueError("delay applies to create_order")
        self.faults.append(_Fault(op, kind, skip, times, message or f"injected {kind} on {op}", delay))

    def total_balances(self) -> dict[str, Decimal]:
        return {a: q for a, q in sorted(self.balances.items()) if q != 0}

    def open_orders(self) -> list[Order]:
        return [o.snapshot() for o in self.orders.values() if o.status == "open"]

    def all_orders(self) -> list[Order]:
        return [o.snapshot() for o in self.orders.values()]

    # --- Exchange interface -----------------------------------------------------------------
    def load_markets(self) -> dict[str, Market]:
        self._api("load_markets")
        return dict(self.markets)

    def amount_to_precision(self, symbol: str, amount: Decimal) -> Decimal:
        step = self._market(symbol).amount_step
        return (amount / step).to_integral_value(rounding=ROUND_DOWN) * step

    def price_to_precision(self, symbol: str, price: Decimal) -> Decimal:
        tick = self._market(symbol).price_tick
        return (price / tick).to_integral_value(rounding=ROUND_HALF_UP) * tick

    def fetch_balances(self) -> dict[str, Decimal]:
        self._api("fetch_balances")
        locked = self._locked()
        return {a: q - locked.get(a, ZERO) for a, q in sorted(self.balances.items()) if q - locked.get(a, ZERO) != 0}

    def fetch_tickers(self, symbols: list[str]) -> dict[str, Ticker]:
        self._api("fetch_tickers")
        out = {}
        for symbol in symbols:
            bid, ask = self._touch(symbol)
            out[symbol] = Ticker(symbol, bid, ask, self.prices[symbol], self.now)
        return out

    def create_order(self, request: OrderRequest) -> Order:
        after = self._api("create_order")
        if after == "delay":
            fault_delay = self._last_delay
            self.delayed.append(_Delayed(request, self.now + timedelta(seconds=fault_delay)))
            self._save()
            raise RequestTimeout(f"{self.name}: create_order timed out (the request is still on its way)")
        order = self._carry_out(request)
        self._step("exchange.accepted")
        if after == "timeout_after":
            raise RequestTimeout(f"{self.name}: create_order timed out (the order landed)")
        if after == "unknown_after":
            raise UnknownResult(f"{self.name}: create_order answered HTTP 500 with a JSON body without code")
        return order

    def _arrive(self) -> None:
        """Carry out the delayed requests whose time has come (dropped when past their expiry)."""
        due = [d for d in self.delayed if d.arrives <= self.now]
        self.delayed = [d for d in self.delayed if d.arrives > self.now]
        for d in due:
            if d.request.expires_at is not None and d.arrives > d.request.expires_at:
                continue  # "the request will not be processed" (expTime)
            try:
                self._carry_out(d.request, at=d.arrives)
            except ExchangeError:
                pass  # refused (duplicate pending id, funds...): nobody hears the answer

    def _carry_out(self, request: OrderRequest, at: datetime | None = None) -> Order:
        r = request
        if r.expires_at is not None and (at or self.now) > r.expires_at:
            raise InvalidOrder(f"{self.name}: request expired at {r.expires_at:%H:%M:%S} (expTime): not processed")
        market = self._market(r.symbol)
        if any(o.client_order_id == r.client_order_id and o.status == "open" for o in self.orders.values()):
            raise DuplicateClientOrderId(f"{self.name}: duplicated client order id {r.client_order_id} "
                                         "(51016: unique among pending orders)")
        if not r.client_order_id.isalnum() or not 1 <= len(r.client_order_id) <= 32 or not r.client_order_id.isascii():
            raise InvalidOrder(f"{self.name}: client order id {r.client_order_id!r} must be 1-32 letters/digits")
        if r.side not in ("buy", "sell") or r.type not in ("limit", "market"):
            raise InvalidOrder(f"{self.name}: bad side/type {r.side}/{r.type}")
        if r.amount <= 0 or self.amount_to_precision(r.symbol, r.amount) != r.amount:
            raise InvalidOrder(f"{self.name}: amount {r.amount} is not a positive multiple of {market.amount_step}")
        if market.min_amount is not None and r.amount < market.min_amount:
            raise InvalidOrder(f"{self.name}: amount {r.amount} below minimum {market.min_amount} {market.base}")
        if r.type == "limit":
            if r.price is None or r.price <= 0 or (r.price / market.price_tick) % 1 != 0:
                raise InvalidOrder(f"{self.name}: limit price {r.price} is not a positive multiple of "
                                   f"{market.price_tick}")
        bid, ask = self._touch(r.symbol)
        reserve_price = r.price if r.type == "limit" else ask
        need_asset, need = (market.quote, r.amount * reserve_price) if r.side == "buy" else (market.base, r.amount)
        free = self.balances.get(need_asset, ZERO) - self._locked().get(need_asset, ZERO)
        if need > free:
            raise InsufficientFunds(f"{self.name}: {r.side} {r.amount} {r.symbol} needs {need} {need_asset}, "
                                    f"{free} free")
        self.counters["order"] += 1
        order = _PaperOrder(f"{self.id_prefix}PO{self.counters['order']:07d}", r.client_order_id, r.symbol, r.side, r.type,
                            r.amount, r.price, self.now, reserved=need, updated=self.now)
        self.orders[order.id] = order
        crosses = r.type == "market" or (r.side == "buy" and r.price >= ask) or (r.side == "sell" and r.price <= bid)
        if crosses:
            self._fill(order, order.amount, ask if r.side == "buy" else bid, "taker")
        self._save()
        return order.snapshot()

    def fetch_order_by_client_id(self, symbol: str, client_order_id: str) -> Order | None:
        self._api("fetch_order")
        for order in reversed(list(self.orders.values())):  # the latest order with this id
            if order.client_order_id == client_order_id and order.symbol == symbol:
                if (self.order_history_seconds is not None and order.status != "open"
                        and (self.now - (order.updated or order.time)).total_seconds() > self.order_history_seconds):
                    return None
                return order.snapshot()
        return None

    def cancel_order(self, symbol: str, order_id: str) -> Order:
        after = self._api("cancel_order")
        order = self.orders.get(order_id)
        if order is None or order.symbol != symbol:
            raise InvalidOrder(f"{self.name}: order {order_id} does not exist")
        if order.status != "open":
            raise InvalidOrder(f"{self.name}: cancellation failed: order {order_id} is already {order.status}")
        order.status, order.reserved, order.updated = "canceled", ZERO, self.now
        self._save()
        self._step("exchange.canceled")
        if after == "timeout_after":
            raise RequestTimeout(f"{self.name}: cancel_order timed out (the order was canceled)")
        if after == "unknown_after":
            raise UnknownResult(f"{self.name}: cancel_order answered HTTP 500 with a JSON body without code")
        return order.snapshot()

    def _listed(self, fill: Fill) -> bool:
        return fill.time + timedelta(seconds=float(self.fill_lag)) <= self.now

    def fetch_fills(self, symbol: str, order_id: str) -> list[Fill]:
        self._api("fetch_fills")
        return [f for f in self.fills if f.order_id == order_id and f.symbol == symbol and self._listed(f)]

    def fetch_my_fills(self, symbol: str, since: datetime | None = None) -> list[Fill]:
        """Every fill of ``symbol`` (the "by trades" lookup of recovery)."""
        self._api("fetch_my_fills")
        return [f for f in self.fills if f.symbol == symbol and (since is None or f.time >= since) and self._listed(f)]

    # --- internals --------------------------------------------------------------------------
    _last_delay: float = 0.0

    def _api(self, op: str) -> str | None:
        self.calls[op] = self.calls.get(op, 0) + 1
        if self.latency:
            self.now += timedelta(seconds=float(self.latency))
        self._arrive()
        for fault in self.faults:
            if fault.op != op or fault.times <= 0:
                continue
            if fault.skip > 0:
                fault.skip -= 1
                continue
            fault.times -= 1
            kind, msg = fault.kind, f"{self.name}: {fault.message}"
            if kind == "timeout":
                raise RequestTimeout(msg)
            if kind == "network":
                raise NetworkError(msg)
            if kind == "unknown":
                raise UnknownResult(msg)
            if kind == "delay":
                self._last_delay = fault.delay
            if kind == "rate_limit":
                raise RateLimitExceeded(msg)
            if kind == "reject":
                raise InvalidOrder(msg)
            if kind == "insufficient_funds":
                raise InsufficientFunds(msg)
            return kind  # timeout_after, unknown_after, delay: handled by the operation
        return None

    def _step(self, name: str) -> None:
        if self.on_step is not None:
            self.on_step(name)

    def _symbol(self, symbol_or_asset: str) -> str:
        if "/" in symbol_or_asset:
            return symbol_or_asset
        for symbol, market in self.markets.items():
            if market.base == symbol_or_asset.upper():
                return symbol
        raise InputError(f"no paper market for {symbol_or_asset}", field="asset")

    def _market(self, symbol: str) -> Market:
        try:
            return self.markets[symbol]
        except KeyError:
            raise InvalidOrder(f"{self.name}: unknown market {symbol}") from None

    def _touch(self, symbol: str) -> tuple[Decimal, Decimal]:
        market = self._market(symbol)
        mid = self.prices.get(symbol)
        if mid is None:
            raise ExchangeError(f"{self.name}: no price for {symbol} (set one with --prices)")
        half = mid * self.spread_bps / Decimal(20000)
        tick = market.price_tick
        bid = ((mid - half) / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
        ask = ((mid + half) / tick).to_integral_value(rounding=ROUND_CEILING) * tick
        if ask <= bid:
            ask = bid + tick
        return max(bid, tick), ask

    def _locked(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for o in self.orders.values():
            if o.status == "open" and o.reserved:
                m = self.markets[o.symbol]
                asset = m.quote if o.side == "buy" else m.base
                out[asset] = out.get(asset, ZERO) + o.reserved
        return out

    def _fill(self, order: _PaperOrder, amount: Decimal, price: Decimal, role: str) -> None:
        m = self.markets[order.symbol]
        rate = m.maker_fee if role == "maker" else m.taker_fee
        gross = amount * price
        self.counters["trade"] += 1
        if order.side == "buy":
            fee, fee_asset = amount * rate, m.base
            self.balances[m.quote] = self.balances.get(m.quote, ZERO) - gross
            self.balances[m.base] = self.balances.get(m.base, ZERO) + amount - fee
            order.reserved -= amount * (order.price if order.type == "limit" else price)
        else:
            fee, fee_asset = gross * rate, m.quote
            self.balances[m.base] = self.balances.get(m.base, ZERO) - amount
            self.balances[m.quote] = self.balances.get(m.quote, ZERO) + gross - fee
            order.reserved -= amount
        order.filled += amount
        order.updated = self.now
        if order.filled >= order.amount:
            order.status, order.reserved = "closed", ZERO
        self.fills.append(Fill(f"{self.id_prefix}PT{self.counters['trade']:07d}", order.id, order.client_order_id, order.symbol,
                               order.side, amount, price, fee, fee_asset, self.now, role))

    def _match_resting(self) -> None:
        for order in list(self.orders.values()):
            if order.status != "open" or order.type != "limit":
                continue
            bid, ask = self._touch(order.symbol)
            remaining = order.amount - order.filled
            through = (order.side == "buy" and ask <= order.price) or (order.side == "sell" and bid >= order.price)
            at_touch = (order.side == "buy" and order.price >= bid) or (order.side == "sell" and order.price <= ask)
            if through:
                qty = remaining
            elif at_touch and self.touch_fill_ratio > 0:
                qty = self.amount_to_precision(order.symbol, remaining * self.touch_fill_ratio)
                qty = min(max(qty, self.markets[order.symbol].amount_step), remaining)
            else:
                continue
            self._fill(order, qty, order.price, "maker")

    # --- persistence (the JSON form lives in :mod:`taxreport.exchanges.paper_state`) ---------
    def to_state(self) -> dict[str, Any]:
        from taxreport.exchanges.paper_state import to_state

        return to_state(self)

    @classmethod
    def from_state(cls, state: dict[str, Any], *, state_path: Path | None = None) -> PaperExchange:
        from taxreport.exchanges.paper_state import from_state

        ex = from_state(cls, state)
        ex.state_path = state_path
        return ex

    def save(self, path: Path | str | None = None) -> None:
        """Write the state atomically (temp file + rename) to ``path`` or :attr:`state_path`."""
        from taxreport.exchanges.paper_state import save_state

        save_state(self, Path(path or self.state_path))  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path | str) -> PaperExchange:
        from taxreport.exchanges.paper_state import load_state

        return load_state(cls, Path(path))

    def _save(self) -> None:
        if self.state_path is not None:
            self.save(self.state_path)
