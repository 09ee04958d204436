"""Crash recovery and the retry policy of the rebalancer.

**Recovery** runs before anything else when the engine starts: for every ``order.intent`` of the
basket without a terminal ``order.update`` (see :mod:`taxreport.rebalance.journal`) it asks the
exchange what happened — first by client order id, then, if the exchange no longer lists the order,
by its trades — and records it: an open order is cancelled (its plan is stale; the next run plans
again from the real balances), every fill is written as a Trade, and a terminal update closes the
intent (``missing`` if the exchange never received it). Rebalances that started but never finished
get a ``rebalance.done`` record with status ``interrupted``. Recovery writes only records whose keys
are not in the ledger yet, so it can itself be interrupted and run again.

**Retries**: only :class:`~taxreport.exchanges.base.NetworkError` (timeouts, rate limits,
connection errors) is retried, a bounded number of times with exponential backoff; the sleep
function is injectable (tests and paper mode never really sleep). ``ExchangeError`` is raised at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Callable, TypeVar

from taxreport.errors import TaxreportError
from taxreport.exchanges.base import Exchange, ExchangeError, Fill, NetworkError, Order
from taxreport.rebalance.journal import Intent, Journal

T = TypeVar("T")
ZERO = Decimal(0)


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
class RecoveryReport:
    orders: list[tuple[str, str]] = field(default_factory=list)  # (client order id, outcome)
    fills_written: int = 0
    rebalances_closed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.orders and not self.rebalances_closed


def fills_by_trades(exchange: Exchange, retrier: Retrier, intent: Intent) -> list[Fill]:
    """The "by trades" lookup: fills carrying this client order id (when the venue can list trades)."""
    fetch = getattr(exchange, "fetch_my_fills", None)
    if fetch is None:
        return []
    since = intent.time - timedelta(minutes=5)
    return [f for f in retrier.call(f"fetch trades of {intent.symbol}", fetch, intent.symbol, since)
            if f.client_order_id == intent.client_order_id]


def cancel_if_open(exchange: Exchange, retrier: Retrier, order: Order, step: Callable[[str], None]) -> Order:
    """Cancel an open order; afterwards return its final state from the exchange. After a network
    error the order is looked up before any retry (the cancel may have gone through); a cancel
    refused because the order has just finished is fine; any other refusal is raised."""
    cid = order.client_order_id

    def lookup() -> Order | None:
        return retrier.call(f"look up {cid}", exchange.fetch_order_by_client_id, order.symbol, cid)

    if order.status == "open":
        step("before_cancel")
        for attempt in range(retrier.retries + 1):
            try:
                exchange.cancel_order(order.symbol, order.id)
                break
            except ExchangeError:
                latest = lookup()
                if latest is None or latest.status == "open":
                    raise
                break
            except NetworkError as exc:
                retrier.log.append(f"cancel {cid}: {exc.__class__.__name__}: {exc}")
                latest = lookup()
                if latest is not None and latest.status != "open":
                    break
                if attempt == retrier.retries:
                    raise ExchangeUnavailable(f"cancel {cid} failed {attempt + 1} times ({exc}); the next run "
                                              "recovers the order") from exc
                retrier.sleep(retrier.delay(attempt))
        step("after_cancel")
    return lookup() or order


def finish_order(journal: Journal, exchange: Exchange, retrier: Retrier, markets: dict, order: Order,
                 step: Callable[[str], None]) -> tuple[Order, list[Fill], int]:
    """Record every fill of a finished (closed/canceled) order, then its terminal update. An order
    the exchange still reports open gets no terminal update (it could still fill): the error asks
    for another run, whose recovery resolves it."""
    if order.status == "open":
        raise ExchangeUnavailable(f"order {order.client_order_id} is still open on {exchange.name} after "
                                  "cancelling; run again to recover it")
    fills = retrier.call(f"fills of {order.client_order_id}", exchange.fetch_fills, order.symbol, order.id)
    written = journal.fills(fills, markets, on_each=lambda: step("fill_recorded"))
    status = order.status if order.status in ("closed", "canceled", "rejected") else "canceled"
    journal.update(order.client_order_id, status, order, fills=len(fills),
                   filled_by_fills=sum((f.amount for f in fills), ZERO))
    step("order_finished")
    return order, fills, written


def recover(journal: Journal, exchange: Exchange, retrier: Retrier, markets: dict,
            step: Callable[[str], None] = lambda _s: None) -> RecoveryReport:
    report = RecoveryReport()
    _, accepted = journal.order_states()
    for intent in journal.unfinished_intents():
        cid = intent.client_order_id
        order = retrier.call(f"look up {cid}", exchange.fetch_order_by_client_id, intent.symbol, cid)
        if order is None:
            fills = fills_by_trades(exchange, retrier, intent)
            if fills:
                report.fills_written += journal.fills(fills, markets, on_each=lambda: step("fill_recorded"))
                filled = sum((f.amount for f in fills), ZERO)
                status = "closed" if filled >= intent.amount else "canceled"
                journal.update(cid, status, None, filled=filled, fills=len(fills),
                               note="order no longer listed by the exchange; fills found by trades")
                report.orders.append((cid, f"{status} (found by trades, {len(fills)} fills)"))
            elif "accepted" in accepted.get(cid, {}):
                journal.update(cid, "canceled", None, filled=ZERO, fills=0,
                               note="accepted earlier, no longer listed by the exchange, no fills among its trades")
                report.orders.append((cid, "canceled (no longer listed, no fills)"))
            else:
                journal.update(cid, "missing", None, note="the exchange never received this order")
                report.orders.append((cid, "missing: never reached the exchange"))
            step("recovered_order")
            continue
        journal.update(cid, "accepted", order)
        was_open = order.status == "open"
        order = cancel_if_open(exchange, retrier, order, step)
        order, fills, written = finish_order(journal, exchange, retrier, markets, order, step)
        report.fills_written += written
        report.orders.append((cid, f"{order.status}{' (cancelled by recovery)' if was_open else ''}, "
                                   f"{len(fills)} fills"))
        step("recovered_order")
    for rid in journal.unfinished_rebalances():
        summary = rebalance_summary(journal, rid)
        journal.rebalance_record(rid, "done", "rebalance.done", {
            "rebalance_id": rid, "status": "interrupted",
            "message": "the process stopped before this rebalance finished; recovery recorded what happened",
            **summary})
        report.rebalances_closed.append(rid)
    return report


def rebalance_summary(journal: Journal, rebalance_id: str) -> dict:
    """Per leg: what was filled (from the fills in the ledger), fees, orders sent."""
    intents, updates = journal.order_states()
    legs: dict[int, dict] = {}
    fees: dict[str, Decimal] = {}
    for intent in intents:
        if intent.rebalance_id != rebalance_id:
            continue
        leg = legs.setdefault(intent.leg, {"leg": intent.leg, "symbol": intent.symbol, "side": intent.side,
                                           "orders": 0, "filled": ZERO, "notional": ZERO})
        leg["orders"] += 1
        for t in journal.trades_of(intent.client_order_id):
            leg["filled"] += t.quantity
            leg["notional"] += t.quantity * t.price
            if t.fee:
                fees[t.fee_asset] = fees.get(t.fee_asset, ZERO) + t.fee
        states = updates.get(intent.client_order_id, {})
        leg.setdefault("statuses", []).append(next((s for s in ("closed", "canceled", "rejected", "missing")
                                                    if s in states), "open"))
    out_legs = []
    for leg in sorted(legs.values(), key=lambda x: x["leg"]):
        leg["average_price"] = leg["notional"] / leg["filled"] if leg["filled"] else None
        out_legs.append(leg)
    return {"legs": out_legs, "fees": fees,
            "bought": sum((x["notional"] for x in out_legs if x["side"] == "buy"), ZERO),
            "sold": sum((x["notional"] for x in out_legs if x["side"] == "sell"), ZERO)}
