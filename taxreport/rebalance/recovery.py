"""Crash recovery, the resolution of ambiguous requests, and the retry policy of the rebalancer.

**Resolving an intent** (:func:`resolve_intent`) is the one way the rebalancer learns what became
of an order whose outcome it does not know: after a crash, after a timeout / 5xx / unknown answer to
``create_order``, and for an order whose fills were still pending. It

1. looks the order up by client order id; if the venue lists it, the order is settled (cancelled if
   still open, every fill written, see :func:`settle`);
2. otherwise WAITS until the request's ``expTime`` (recorded in the intent) plus a margin for clock
   skew has passed — from then on the venue can no longer carry the request out — and looks again,
   first for the order, then for fills carrying the client order id (by the venue order id when an
   update recorded it, else by listing the symbol's fills since the intent);
3. only then concludes: fills found -> written and the intent closed from them; accepted earlier but
   gone without fills -> ``canceled`` (OKX forgets canceled unfilled orders after 2 hours);
   nothing at all -> ``missing`` (the venue never carried it out, and now never will). It never
   concludes from absence for an intent older than the venue's API history
   (:attr:`~taxreport.exchanges.base.Exchange.history_window`, OKX: 3 months): it stops with a
   one-line error pointing at the account's trading history export instead.

**Settling** an order (:func:`settle`) writes its terminal state only when the fills written add up
to the venue's filled amount; otherwise the intent gets a non-terminal ``fills_pending`` update and
stays unfinished, so every later run (and every restart) resolves it again before trading.

**Recovery** (:func:`recover`) resolves every unfinished intent of the basket, then closes every
rebalance that started but never finished with a ``rebalance.done`` of status ``interrupted``.
Everything written is keyed, so recovery can itself be interrupted and run again.

**Retries**: reads are retried on :class:`~taxreport.exchanges.base.NetworkError` a bounded number
of times with exponential backoff (the sleep function is injectable: tests and paper mode never
really sleep). ``ExchangeError`` is raised at once. ``create_order`` is never retried here: see
:mod:`taxreport.rebalance.executor`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from taxreport.errors import TaxreportError
from taxreport.exchanges.base import Exchange, ExchangeError, Fill, NetworkError, Order
from taxreport.rebalance.journal import Intent, Journal

T = TypeVar("T")
ZERO = Decimal(0)
#: Intents written before the expiry was recorded: assume the request could arrive this long after.
LEGACY_EXPIRY = timedelta(seconds=120)


class ExchangeUnavailable(TaxreportError):
    """Retries of a transient failure ran out. Unfinished orders are recovered by the next run."""


class ExecutionError(TaxreportError):
    """The exchange refused a request (fail fast; the message says which order and why)."""


@dataclass
class Retrier:
    sleep: Callable[[float], None]
    retries: int = 5
    backoff: float = 0.5  # seconds, doubled per retry
    max_backoff: float = 30.0
    log: list[str] = field(default_factory=list)

    def delay(self, attempt: int) -> float:
        return min(self.backoff * (2 ** attempt), self.max_backoff)

    def call(self, what: str, fn: Callable[..., T], *args: object) -> T:
        for attempt in range(self.retries + 1):
            try:
                return fn(*args)
            except NetworkError as exc:
                self.log.append(f"{what}: {exc.__class__.__name__}: {exc}")
                if attempt == self.retries:
                    raise ExchangeUnavailable(f"{what} failed {self.retries + 1} times ({exc}); nothing is lost: "
                                              "run again to recover unfinished orders") from exc
                self.sleep(self.delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover


@dataclass
class Patience:
    """How long to wait for things the venue shows late: fills lagging the order status, a request
    that may still arrive before its ``expTime``. ``sleep`` and ``clock`` are the executor's."""

    sleep: Callable[[float], None]
    clock: Callable[[], datetime]
    fill_wait: float = 30.0  # seconds to wait for fills to add up before leaving them pending
    poll: float = 2.0
    expiry_margin: float = 2.0  # clock skew allowance beyond expTime

    def until(self, when: datetime) -> None:
        while (now := self.clock()) < when:
            self.sleep(max((when - now).total_seconds(), 0.001))


@dataclass
class RecoveryReport:
    orders: list[tuple[str, str]] = field(default_factory=list)  # (client order id, outcome)
    fills_written: int = 0
    rebalances_closed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.orders and not self.rebalances_closed

    def merge(self, other: RecoveryReport) -> None:
        self.orders += other.orders
        self.fills_written += other.fills_written
        self.rebalances_closed += other.rebalances_closed


@dataclass
class Resolution:
    """What became of one intent."""

    status: str  # closed | canceled | rejected | missing | fills_pending
    order: Order | None
    fills: list[Fill]
    written: int
    outcome: str  # one line for the report

    @property
    def filled(self) -> Decimal:
        if self.order is not None:
            return self.order.filled
        return sum((f.amount for f in self.fills), ZERO)


def beyond_history(exchange: Exchange, cid: str, what: str, sent: datetime, now: datetime) -> ExecutionError | None:
    """The refusal for an order older than the venue's API history (``exchange.history_window``), else None.

    OKX lists an account's fills (``trade/fills-history``) and finished orders (``orders-history-archive``)
    for the last 3 months only: past that, "not listed" says nothing about what became of the order.
    Concluding "canceled, no fills" drops a fill it may have had (a sale missing from the tax ledger), and
    waiting for fills that will never be listed again never ends; recovery refuses instead and names
    the way to the truth, the account's Trading history export."""
    window = exchange.history_window
    if window is None or now - sent <= window:
        return None
    return ExecutionError(
        f"order {cid} ({what}, sent {sent:%Y-%m-%d}) is older than {exchange.name}'s API keeps orders and "
        f"fills ({window.days} days, 3 months): recovery cannot tell what it filled and will not guess; "
        "download the account's Trading history export from OKX and check it with `taxreport reconcile okx "
        "FILE` / `taxreport import okx FILE`")


def fills_by_trades(exchange: Exchange, retrier: Retrier, intent: Intent, order_id: str | None = None) -> list[Fill]:
    """The look-up of fills by client order id: by the venue order id when known, else every fill
    of the symbol since shortly before the intent, filtered by client order id (all pages)."""
    if order_id:
        fills = retrier.call(f"fills of {order_id}", exchange.fetch_fills, intent.symbol, order_id)
    else:
        since = intent.time - timedelta(minutes=5)
        fills = retrier.call(f"fetch trades of {intent.symbol}", exchange.fetch_my_fills, intent.symbol, since)
    return [f for f in fills if f.client_order_id == intent.client_order_id]


def cancel_if_open(exchange: Exchange, retrier: Retrier, order: Order, step: Callable[[str], None],
                   sleep: Callable[[float], None] | None = None) -> Order:
    """Cancel an open order; afterwards return its final state from the exchange. After a network
    error or a refusal (already finished ``51400/51401``, being cancelled ``51410``) the order is
    looked up: finished is fine, still open is retried with backoff; then the next run recovers it."""
    cid = order.client_order_id
    pause = sleep or retrier.sleep

    def lookup() -> Order | None:
        return retrier.call(f"look up {cid}", exchange.fetch_order_by_client_id, order.symbol, cid)

    if order.status == "open":
        step("before_cancel")
        for attempt in range(retrier.retries + 1):
            try:
                exchange.cancel_order(order.symbol, order.id)
                break
            except (ExchangeError, NetworkError) as exc:
                retrier.log.append(f"cancel {cid}: {exc.__class__.__name__}: {exc}")
                latest = lookup()
                if latest is not None and latest.status != "open":
                    break
                if attempt == retrier.retries:
                    raise ExchangeUnavailable(f"cancel {cid} failed {attempt + 1} times ({exc}); the order is "
                                              "still open; the next run recovers it") from None
                pause(retrier.delay(attempt))
        step("after_cancel")
    return lookup() or order


def settle(journal: Journal, exchange: Exchange, retrier: Retrier, markets: dict, order: Order,
           step: Callable[[str], None], patience: Patience | None = None) -> Resolution:
    """Write every fill of a finished (closed/canceled) order; write its terminal state only when
    the fills add up to the venue's filled amount. Waits up to ``patience.fill_wait`` for lagging
    fills; if they still do not add up the intent gets ``fills_pending`` and stays unfinished.
    An order the venue still reports open gets no terminal update (it could still fill)."""
    cid = order.client_order_id
    if order.status == "open":
        raise ExchangeUnavailable(f"order {cid} is still open on {exchange.name} after cancelling; run again "
                                  "to recover it")
    deadline = patience.clock() + timedelta(seconds=patience.fill_wait) if patience else None
    written = 0
    while True:
        fills = retrier.call(f"fills of {cid}", exchange.fetch_fills, order.symbol, order.id)
        written += journal.fills(fills, markets, on_each=lambda: step("fill_recorded"))
        got = sum((f.amount for f in fills), ZERO)
        if got == order.filled:
            break
        if patience is None or deadline is None or patience.clock() >= deadline:
            journal.update(cid, "fills_pending", order, fills=len(fills), filled_by_fills=got,
                           note="the venue's fills do not add up to its filled amount yet")
            if patience is not None:
                too_old = beyond_history(exchange, cid, f"{order.side} {order.amount} {order.symbol}", order.time,
                                         patience.clock())
                if too_old is not None:
                    raise too_old
            return Resolution("fills_pending", order, fills, written,
                              f"fills pending ({got} of {order.filled} listed)")
        patience.sleep(patience.poll)
    status = order.status if order.status in ("closed", "canceled", "rejected") else "canceled"
    journal.update(cid, status, order, fills=len(fills), filled_by_fills=got)
    step("order_finished")
    return Resolution(status, order, fills, written, f"{status}, {len(fills)} fills")


def resolve_intent(journal: Journal, exchange: Exchange, retrier: Retrier, markets: dict, intent: Intent,
                   step: Callable[[str], None], patience: Patience, *, accepted: bool | None = None) -> Resolution:
    """What became of ``intent`` (see the module docstring): never concludes "not there" before
    the request's expTime has passed and both the order and its fills were looked up."""
    cid = intent.client_order_id

    def lookup() -> Order | None:
        return retrier.call(f"look up {cid}", exchange.fetch_order_by_client_id, intent.symbol, cid)

    order = lookup()
    if order is None:
        expires = journal.intent_expiry(cid) or intent.time + LEGACY_EXPIRY
        patience.until(expires + timedelta(seconds=patience.expiry_margin))
        order = lookup()
    if order is not None:
        journal.update(cid, "accepted", order)
        was_open = order.status == "open"
        order = cancel_if_open(exchange, retrier, order, step, patience.sleep)
        res = settle(journal, exchange, retrier, markets, order, step, patience)
        if was_open:
            head, _, tail = res.outcome.partition(", ")
            res.outcome = f"{head} (cancelled by recovery), {tail}" if tail else f"{head} (cancelled by recovery)"
        return res
    venue_id = journal.exchange_order_id(cid)
    too_old = beyond_history(exchange, cid, f"{intent.side} {intent.amount} {intent.symbol}", intent.time,
                             patience.clock())
    if too_old is not None:
        raise too_old
    fills = fills_by_trades(exchange, retrier, intent, venue_id)
    if accepted is None:
        accepted = venue_id is not None
    if fills:
        written = journal.fills(fills, markets, on_each=lambda: step("fill_recorded"))
        filled = sum((f.amount for f in fills), ZERO)
        status = "closed" if filled >= intent.amount else "canceled"
        journal.update(cid, status, None, filled=filled, fills=len(fills),
                       note="order no longer listed by the exchange; fills found by trades")
        return Resolution(status, None, fills, written, f"{status} (found by trades, {len(fills)} fills)")
    if accepted:
        journal.update(cid, "canceled", None, filled=ZERO, fills=0,
                       note="accepted earlier, no longer listed by the exchange, no fills among its trades")
        return Resolution("canceled", None, [], 0, "canceled (no longer listed, no fills)")
    journal.update(cid, "missing", None, note="not carried out: after its expTime the venue lists neither the "
                                              "order nor a fill with its client order id")
    return Resolution("missing", None, [], 0, "missing: never reached the exchange")


def recover(journal: Journal, exchange: Exchange, retrier: Retrier, markets: dict,
            step: Callable[[str], None] = lambda _s: None, patience: Patience | None = None) -> RecoveryReport:
    report = RecoveryReport()
    wait = patience or Patience(retrier.sleep, _utcnow)
    _, updates = journal.order_states()
    for intent in journal.unfinished_intents():
        cid = intent.client_order_id
        res = resolve_intent(journal, exchange, retrier, markets, intent, step, wait,
                             accepted="accepted" in updates.get(cid, {}))
        report.fills_written += res.written
        report.orders.append((cid, res.outcome))
        step("recovered_order")
    for rid in journal.unfinished_rebalances():
        summary = rebalance_summary(journal, rid)
        journal.rebalance_record(rid, "done", "rebalance.done", {
            "rebalance_id": rid, "status": "interrupted",
            "message": "the process stopped before this rebalance finished; recovery recorded what happened",
            **summary})
        report.rebalances_closed.append(rid)
    return report


def _utcnow() -> datetime:

    return datetime.now(UTC)


def rebalance_summary(journal: Journal, rebalance_id: str) -> dict:
    """Per leg: what was filled (from the fills in the ledger), fees, orders sent. An unfinished
    rebalance (the executor and recovery ask only about those) is read from the journal's
    incremental book and its fills by order id, so the cost does not grow with the journal."""
    book = journal.sync()
    if rebalance_id in book.run_intents:
        open_ids = set(book.open_intents)
        mine = [(i["cid"], i["leg"], i["symbol"], i["side"],
                 "open" if i["cid"] in open_ids else book.run_status.get(i["cid"], "open"))
                for i in book.run_intents[rebalance_id]]
    else:
        intents, updates = journal.all_order_states()
        mine = [(i.client_order_id, i.leg, i.symbol, i.side,
                 next((s for s in ("closed", "canceled", "rejected", "missing")
                       if s in updates.get(i.client_order_id, {})), "open"))
                for i in intents if i.rebalance_id == rebalance_id]
    legs: dict[int, dict] = {}
    fees: dict[str, Decimal] = {}
    for cid, index, symbol, side, state in mine:
        leg = legs.setdefault(index, {"leg": index, "symbol": symbol, "side": side,
                                      "orders": 0, "filled": ZERO, "notional": ZERO})
        leg["orders"] += 1
        for t in journal.trades_of(cid):
            leg["filled"] += t.quantity
            leg["notional"] += t.quantity * t.price
            if t.fee:
                fees[t.fee_asset] = fees.get(t.fee_asset, ZERO) + t.fee
        leg.setdefault("statuses", []).append(state)
    out_legs = []
    for leg in sorted(legs.values(), key=lambda x: x["leg"]):
        leg["average_price"] = leg["notional"] / leg["filled"] if leg["filled"] else None
        out_legs.append(leg)
    return {"legs": out_legs, "fees": fees,
            "bought": sum((x["notional"] for x in out_legs if x["side"] == "buy"), ZERO),
            "sold": sum((x["notional"] for x in out_legs if x["side"] == "sell"), ZERO)}
