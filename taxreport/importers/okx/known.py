"""Fills the rebalancer already recorded must not be counted twice when the user later imports
OKX's CSV containing them.

The rebalancer (``taxreport.rebalance.journal``) writes each fill as a ``Trade`` (actor
``rebalancer:<basket>``, ``external_id`` = exchange trade id, ``order_id`` = *client* order id) and an
``order.update`` :class:`Record` whose ``data.exchange_order_id`` is OKX's order id. OKX's CSV has
neither the trade id nor the client order id, only OKX's ``Order id`` and its own row ids, so an
imported fill would get a different natural key and the ledger could not catch the duplicate itself.

The rule (applied per account, to Trade events only, before writing):

1. **Order id**: a CSV trade whose OKX ``Order id`` is an ``exchange_order_id`` recorded by the
   rebalancer (or equals one of its trades' ``order_id``) is *already recorded by the rebalancer*; the
   whole order is skipped, even if OKX shows a fill the bot missed — ``taxreport reconcile okx``
   is the tool that finds such differences (a "fill only in OKX" or a quantity mismatch).
2. **Same fill**: otherwise a CSV trade with the same side, base, quote, exactly the same quantity and
   price, within :data:`TIME_WINDOW` of a rebalancer trade not yet claimed is skipped too (covers
   orders whose ``order.update`` record is missing, e.g. a crash between fill and record).

The same care applies to money moving in and out: a ``Deposit``, ``Withdrawal`` or ``Income`` row
whose kind, asset and exact quantity match an event already in the account (written by anyone, e.g.
``basket invest`` or a manual entry) within :data:`FUNDING_WINDOW` is *already recorded* too.

Skipped rows are listed in the import summary with the key they match, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from taxreport.importers.okx.common import OkxBatch
from taxreport.model.events import Event, Record, Trade

TIME_WINDOW = timedelta(seconds=2)
FUNDING_WINDOW = timedelta(minutes=10)
FUNDING_KINDS = ("deposit", "withdrawal", "income")
ORDER_ID_KEYS = ("exchange_order_id", "ordId", "okx_order_id")


@dataclass
class RebalancerIndex:
    order_ids: dict[str, str] = field(default_factory=dict)  # exchange order id -> client order id
    client_ids: set[str] = field(default_factory=set)
    trades: list[Trade] = field(default_factory=list)
    funding: list[Event] = field(default_factory=list)  # deposits/withdrawals/income in the account


def rebalancer_index(ledger, account: str | None = None) -> RebalancerIndex:  # noqa: ANN001
    """What the rebalancer recorded in ``account`` (every account when None)."""
    index = RebalancerIndex()
    for row in ledger.rows(kinds=["trade", "record"], account=account, actor_prefix="rebalancer"):
        ev = row.event
        if isinstance(ev, Record) and ev.record_type.startswith("order."):
            for key in ORDER_ID_KEYS:
                value = ev.data.get(key)
                if value not in (None, ""):
                    index.order_ids[str(value)] = ev.order_id or ""
        elif isinstance(ev, Trade):
            index.trades.append(ev)
            if ev.order_id:
                index.client_ids.add(ev.order_id)
    if account is not None:
        index.funding = [r.event for r in ledger.rows(kinds=list(FUNDING_KINDS), account=account)]
    return index


def split_known(batch: OkxBatch, index: RebalancerIndex) -> None:
    """Move events already recorded under another key (see the module docstring) from
    ``batch.events`` to ``batch.already_recorded``, each with the reason."""
    if not index.order_ids and not index.trades and not index.funding:
        return
    claimed: set[str] = set()
    keep_events, keep_origins = [], []
    by_shape: dict[tuple, list[Event]] = {}
    for t in index.trades:
        by_shape.setdefault((t.account, t.side, t.base, t.quote, t.quantity, t.price), []).append(t)
    for e in index.funding:
        by_shape.setdefault((e.kind, e.account, e.asset, e.quantity), []).append(e)  # type: ignore[attr-defined]
    batch_keys = {e.natural_key for e in batch.events}
    for ev, origin in zip(batch.events, batch.origins):
        reason = None
        if isinstance(ev, Trade):
            if ev.order_id and ev.order_id in index.order_ids:
                reason = (f"already recorded by the rebalancer: OKX order {ev.order_id} is its order "
                          f"{index.order_ids[ev.order_id] or '(client id unknown)'}")
            elif ev.order_id and ev.order_id in index.client_ids:
                reason = f"already recorded by the rebalancer: order {ev.order_id}"
            else:
                for t in by_shape.get((ev.account, ev.side, ev.base, ev.quote, ev.quantity, ev.price), []):
                    if t.natural_key not in claimed and abs(t.time - ev.time) <= TIME_WINDOW:
                        claimed.add(t.natural_key)
                        reason = f"already recorded by the rebalancer: same fill as {t.natural_key}"
                        break
        elif ev.kind in FUNDING_KINDS:
            for e in by_shape.get((ev.kind, ev.account, ev.asset, ev.quantity), []):  # type: ignore[attr-defined]
                if (e.natural_key not in claimed and e.natural_key not in batch_keys
                        and abs(e.time - ev.time) <= FUNDING_WINDOW):
                    claimed.add(e.natural_key)
                    reason = f"already recorded: same {ev.kind} as {e.natural_key} ({e.time:%Y-%m-%d %H:%M:%S}Z)"
                    break
        if reason:
            batch.already_recorded.append((origin, reason))
        else:
            keep_events.append(ev)
            keep_origins.append(origin)
    batch.events, batch.origins = keep_events, keep_origins
