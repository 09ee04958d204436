"""What the XLSX workbook and the PDF summary show besides the tax figures: per-asset totals, the
rebalance history, the allocation and portfolio-value series for the charts, the audit trail and
the reconciliation status. Pure functions over a :class:`YearSummary` and stored ledger rows.

No tax rule lives here (the figures come from the jurisdiction modules), so no source is cited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Iterable, Sequence

from taxreport.jurisdictions.base import Breakdown, YearSummary
from taxreport.model.events import Record
from taxreport.model.money import decimal_str

ZERO = Decimal(0)
NOT_MONEY = frozenset({"rate", "ratio", "percent", "fraction", "count"})  # words of a breakdown key
REBALANCE_TYPES = ("rebalance.trigger", "rebalance.plan", "order.intent", "order.update", "rebalance.done",
                   "basket.invest", "basket.stop")


@dataclass(frozen=True)
class AssetTotals:
    asset: str
    disposals: int
    quantity: Decimal
    proceeds: Decimal
    cost: Decimal
    gain: Decimal


@dataclass(frozen=True)
class RecordRow:
    time: datetime
    record_type: str
    account: str
    order_id: str
    details: str  # compact JSON of the record's data (user-visible text: goes through safe cells)
    key: str


@dataclass(frozen=True)
class Rebalance:
    """One rebalance, assembled from its trigger, plan and done records."""

    rebalance_id: str
    time: datetime
    basket: str
    reason: str
    max_drift: Decimal | None
    orders: int
    status: str
    total_value: Decimal | None
    quote: str


@dataclass(frozen=True)
class AuditRow:
    seq: int
    recorded_at: str
    time: datetime
    actor: str
    reason: str
    kind: str
    key: str
    hash: str


@dataclass
class ReportData:
    summary: YearSummary
    per_asset: list[AssetTotals]
    records: list[RecordRow] = field(default_factory=list)
    rebalances: list[Rebalance] = field(default_factory=list)
    allocation: list[tuple[str, Decimal, Decimal]] = field(default_factory=list)  # asset, weight %, target %
    allocation_time: datetime | None = None
    values: list[tuple[datetime, Decimal]] = field(default_factory=list)  # portfolio value series
    value_currency: str = ""
    audit: list[AuditRow] = field(default_factory=list)
    reconciliation: Any = None  # a taxreport.reconcile ReconcileReport, when one was run
    reconciliation_note: str = "not run for this report"
    generated_at: datetime | None = None
    chain_verified: bool = False  # the caller verified the ledger's hash chain for this report (the CLI does)

    def generated_time(self) -> datetime:
        """When the report says it was generated (the PDF's "Generated … UTC" line, the workbook's created
        property), in UTC: ``generated_at``, else :func:`taxreport.clock.generation_time` (``SOURCE_DATE_EPOCH``
        when set, else now)."""
        from taxreport.clock import generation_time

        return (self.generated_at or generation_time()).astimezone(timezone.utc)


def per_asset(summary: YearSummary) -> list[AssetTotals]:
    acc: dict[str, list[Any]] = {}
    for d in summary.disposals:
        row = acc.setdefault(d.asset, [0, ZERO, ZERO, ZERO, ZERO])
        row[0] += 1
        row[1] += d.quantity
        row[2] += d.proceeds
        row[3] += d.cost
        row[4] += d.gain
    return [AssetTotals(a, *v) for a, v in sorted(acc.items())]


def breakdown_lines(breakdown: Breakdown | dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """The jurisdiction's typed breakdown (its fields, :meth:`Breakdown.as_dict`) or a nested dict of
    it as ``(label, value)`` lines: Decimal amounts stay
    Decimal, counts are ``int`` (a number in the workbook, not text), rates/ratios become text, nested
    dicts are flattened as ``"short: gain"`` (at any depth: ``"sa108 rate change split: before 30 Oct
    2024: gains"``), a dict of plain settings becomes ``k=v`` text, other values become text."""
    out: list[tuple[str, Any]] = []
    items = breakdown.as_dict() if isinstance(breakdown, Breakdown) else breakdown
    for key, value in items.items():
        name = prefix + str(key).replace("_", " ")
        if isinstance(value, dict):
            if any(isinstance(v, (Decimal, dict)) and k != "count" for k, v in value.items()):
                for sub, v in value.items():
                    if str(sub) == "count" and isinstance(v, (Decimal, int)) and not isinstance(v, bool):
                        out.append((f"{name}: count", int(v)))
                    else:
                        out.extend(breakdown_lines({sub: v}, prefix=f"{name}: "))
            else:
                out.append((name, ", ".join(f"{k}={v}" for k, v in value.items())))
        elif isinstance(value, Decimal) and NOT_MONEY.intersection(str(key).replace("_", " ").split()):
            out.append((name, decimal_str(value)))  # a rate or ratio, not an amount of money
        elif isinstance(value, Decimal):
            out.append((name, value))
        elif isinstance(value, int) and not isinstance(value, bool):
            out.append((name, value))  # a count
        elif isinstance(value, (list, tuple)):
            out.append((name, ", ".join(str(v) for v in value)))
        else:
            out.append((name, str(value)))
    return out


@dataclass(frozen=True)
class BreakdownView:
    """The jurisdiction's breakdown as the PDF shows it: category rows (``(name, count, proceeds, cost,
    gain)``, e.g. short-term/long-term) and the other figures as ``(label, value)`` lines."""

    groups: list[tuple[str, Any, Any, Any, Decimal]]
    lines: list[tuple[str, Any]]


def breakdown_view(breakdown: Any) -> BreakdownView:
    """The one reader of the summary's ``breakdown`` for the PDF (with :func:`breakdown_lines`): entries
    that carry a ``gain`` are categories, the rest are figures and settings. A typed breakdown (a record
    with ``as_dict()``) is read through its fields."""
    items: dict[str, Any] = breakdown if isinstance(breakdown, dict) else breakdown.as_dict()
    groups = {k: v for k, v in items.items() if isinstance(v, dict) and isinstance(v.get("gain"), Decimal)}
    rows = [(str(k).replace("_", " "), v.get("count"), v.get("proceeds"), v.get("cost"), v["gain"])
            for k, v in groups.items()]
    return BreakdownView(rows, breakdown_lines({k: v for k, v in items.items() if k not in groups}))


@dataclass(frozen=True)
class AuditSummary:
    """The ledger events of the period in a few lines: how many, which sequence numbers, the last chain
    hash, and counts per kind of event and per actor (the workbook lists every one)."""

    count: int
    first_seq: int | None
    last_seq: int | None
    head: str
    by_kind: list[tuple[str, int]]
    by_actor: list[tuple[str, int]]


def audit_summary(audit: Sequence[AuditRow]) -> AuditSummary:
    from collections import Counter

    kinds = Counter(a.kind for a in audit)
    actors = Counter(a.actor for a in audit)
    seqs = [a.seq for a in audit]
    return AuditSummary(len(audit), min(seqs) if seqs else None, max(seqs) if seqs else None,
                        max(audit, key=lambda a: a.seq).hash if audit else "",
                        sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])),
                        sorted(actors.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass(frozen=True)
class RebalanceSummary:
    count: int
    first: datetime | None
    last: datetime | None
    by_status: list[tuple[str, int]]
    by_reason: list[tuple[str, int]]
    orders: int


def rebalance_summary(items: Sequence[Rebalance]) -> RebalanceSummary:
    from collections import Counter

    return RebalanceSummary(
        len(items), items[0].time if items else None, items[-1].time if items else None,
        sorted(Counter(r.status for r in items).items(), key=lambda kv: (-kv[1], kv[0])),
        sorted(Counter(r.reason or "(none)" for r in items).items(), key=lambda kv: (-kv[1], kv[0])),
        sum(r.orders for r in items))


def _dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except Exception:  # noqa: BLE001 - record data is free-form; a non-number is shown as missing
        return None


def record_rows(stored: Iterable[Any], start: datetime | None = None, end: datetime | None = None) -> list[RecordRow]:
    """Rebalancer and basket records (``StoredEvent`` rows) with ``start <= time < end``."""
    out = []
    for row in stored:
        ev = row.event if hasattr(row, "event") else row
        if not isinstance(ev, Record) or ev.record_type not in REBALANCE_TYPES:
            continue
        if (start and ev.time < start) or (end and ev.time >= end):
            continue
        out.append(RecordRow(ev.time, ev.record_type, ev.account or "", ev.order_id or "",
                             json.dumps(dict(ev.data), sort_keys=True, ensure_ascii=False, separators=(",", ":")),
                             ev.natural_key))
    out.sort(key=lambda r: r.time)
    return out


def rebalances(records: Sequence[RecordRow]) -> list[Rebalance]:
    """Group trigger/plan/done records by ``rebalance_id`` into one line per rebalance."""
    groups: dict[str, dict[str, Any]] = {}
    for r in records:
        data = json.loads(r.details)
        rid = data.get("rebalance_id")
        if not rid or not r.record_type.startswith("rebalance."):
            continue
        g = groups.setdefault(rid, {"time": r.time})
        g[r.record_type] = data
    out = []
    for rid, g in groups.items():
        trig, plan, done = g.get("rebalance.trigger", {}), g.get("rebalance.plan", {}), g.get("rebalance.done", {})
        out.append(Rebalance(
            rebalance_id=rid, time=g["time"], basket=str(trig.get("basket") or plan.get("basket") or ""),
            reason=str(trig.get("reason") or trig.get("trigger") or ""),
            max_drift=_dec(trig.get("max_drift", plan.get("max_drift"))),
            orders=len(plan.get("orders") or []), status=str(done.get("status") or "unfinished"),
            total_value=_dec(plan.get("total_value")), quote=str(plan.get("quote") or "")))
    out.sort(key=lambda r: r.time)
    return out


def allocation_and_values(records: Sequence[RecordRow]) -> tuple[list[tuple[str, Decimal, Decimal]],
                                                                 datetime | None, list[tuple[datetime, Decimal]], str]:
    """From the plans: the last allocation (weight vs target per asset) and the portfolio value series."""
    allocation: list[tuple[str, Decimal, Decimal]] = []
    when = None
    values: list[tuple[datetime, Decimal]] = []
    currency = ""
    for r in records:
        if r.record_type != "rebalance.plan":
            continue
        data = json.loads(r.details)
        total = _dec(data.get("total_value"))
        if total is not None:
            values.append((r.time, total))
            currency = str(data.get("quote") or currency)
        rows = []
        for row in data.get("rows") or []:
            weight, target = _dec(row.get("weight")), _dec(row.get("target"))
            if row.get("asset") and weight is not None and target is not None:
                rows.append((str(row["asset"]), weight, target))
        if rows:
            allocation, when = rows, r.time
    return allocation, when, values, currency


def audit_rows(stored: Iterable[Any], start: datetime | None = None, end: datetime | None = None) -> list[AuditRow]:
    out = []
    for row in stored:
        ev = row.event
        if (start and ev.time < start) or (end and ev.time >= end):
            continue
        out.append(AuditRow(row.seq, row.recorded_at, ev.time, row.actor, row.reason, ev.kind, ev.natural_key,
                            row.hash))
    return out


def collect(summary: YearSummary, stored: Sequence[Any], *, reconciliation: Any = None,
            reconciliation_note: str | None = None, now: datetime | None = None,
            chain_verified: bool = False) -> ReportData:
    """Everything the workbook and the PDF need, from the summary and the ledger's stored rows."""
    records = record_rows(stored, summary.year_start, summary.year_end)
    allocation, when, values, currency = allocation_and_values(records)
    return ReportData(
        summary=summary, per_asset=per_asset(summary), records=records, rebalances=rebalances(records),
        allocation=allocation, allocation_time=when, values=values, value_currency=currency,
        audit=audit_rows(stored, summary.year_start, summary.year_end), reconciliation=reconciliation,
        reconciliation_note=reconciliation_note or ("see below" if reconciliation is not None
                                                    else "not run for this report"),
        generated_at=now, chain_verified=chain_verified)


__all__ = ["ReportData", "collect", "per_asset", "breakdown_lines", "breakdown_view", "audit_summary",
           "rebalance_summary", "record_rows", "rebalances", "allocation_and_values",
           "audit_rows"]
