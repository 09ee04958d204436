"""The rate store: reads and writes the ledger database's ``rates`` table (schema in
:mod:`taxreport.ledger.schema`). Rates are stored as canonical decimal text, never floats.

Writing is idempotent: a row already stored with the same (base, quote, time, source) and the same
rate is a duplicate; the same key with a *different* rate is refused (nothing of the batch is written).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Iterable, Sequence

from sqlalchemy import and_, or_, select

from taxreport.errors import InputError
from taxreport.ledger import schema
from taxreport.model.events import format_time, parse_time
from taxreport.model.money import decimal_str
from taxreport.prices.rates import RateTable


@dataclass(frozen=True, slots=True)
class RateRow:
    base: str
    quote: str
    time: datetime
    rate: Decimal
    source: str
    origin: str = ""  # "file:line" for error messages


@dataclass(frozen=True)
class WriteSummary:
    rows: int
    added: int
    duplicates: int


def write_rates(ledger, rows: Sequence[RateRow]) -> WriteSummary:  # noqa: ANN001 - Ledger
    """Store ``rows`` in one transaction (see the module docstring for duplicates and conflicts)."""
    c = schema.rates.c
    added = dups = 0
    seen: dict[tuple[str, str, str, str], tuple[str, str]] = {}
    with ledger.engine.begin() as conn:
        pending = []
        by_pair: dict[tuple[str, str, str], list[RateRow]] = {}
        for r in rows:
            by_pair.setdefault((r.base, r.quote, r.source), []).append(r)
        for (base, quote, source), items in by_pair.items():
            stored = {t: rate for t, rate in conn.execute(
                select(c.time, c.rate).where(and_(c.base == base, c.quote == quote, c.source == source)))}
            for r in items:
                t, text = format_time(r.time), decimal_str(r.rate)
                key = (base, quote, t, source)
                old = stored.get(t)
                if old is None and key in seen:
                    old = seen[key][0]
                if old is not None:
                    if old != text:
                        where = f"{r.origin}: " if r.origin else ""
                        raise InputError(f"{where}{base}/{quote} at {t} from {source} is already stored as "
                                         f"{old}, not {text}; nothing was written", field="rate")
                    dups += 1
                    continue
                seen[key] = (text, r.origin)
                pending.append({"base": base, "quote": quote, "time": t, "rate": text, "source": source})
        for start in range(0, len(pending), 1000):
            conn.execute(schema.rates.insert(), pending[start:start + 1000])
        added = len(pending)
    return WriteSummary(rows=len(rows), added=added, duplicates=dups)


def load_table(ledger, pairs: Iterable[tuple[str, str]] | None = None) -> RateTable:  # noqa: ANN001
    """All stored rates (or only those of ``pairs``, in either direction) as a :class:`RateTable`."""
    c = schema.rates.c
    stmt = select(c.base, c.quote, c.time, c.rate, c.source)
    if pairs is not None:
        wanted = set()
        for b, q in pairs:
            wanted.add((b, q))
            wanted.add((q, b))
        if not wanted:
            return RateTable()
        stmt = stmt.where(or_(*[and_(c.base == b, c.quote == q) for b, q in sorted(wanted)]))
    with ledger.engine.connect() as conn:
        rows = [(b, q, parse_time(t), Decimal(r), s) for b, q, t, r, s in conn.execute(stmt)]
    return RateTable.from_rows(rows)


def stored_pairs(ledger) -> list[tuple[str, str, int, str, str]]:  # noqa: ANN001
    """``(base, quote, count, first time, last time)`` of every stored pair."""
    from sqlalchemy import func

    c = schema.rates.c
    stmt = select(c.base, c.quote, func.count(), func.min(c.time), func.max(c.time)).group_by(c.base, c.quote)
    with ledger.engine.connect() as conn:
        return sorted((b, q, int(n), lo, hi) for b, q, n, lo, hi in conn.execute(stmt))
