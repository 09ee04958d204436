"""The ledger store: the one door through which every writer (importers, the rebalancer, manual
entries) appends events, and from which every reader loads them.

* SQLite by default, PostgreSQL by URL (``postgresql+psycopg://…``); schema managed by Alembic.
* :meth:`Ledger.append` writes a batch in **one transaction**: all of it or nothing. Writers are
  serialised by locking the chain head row (``BEGIN IMMEDIATE`` on SQLite, ``FOR UPDATE`` on
  PostgreSQL), so the hash chain never forks.
* Idempotent: an event whose natural key is already stored with the same content is counted as a
  duplicate and not written again; the same key with *different* content is refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterator, Sequence

from sqlalchemy import Engine, and_, create_engine, event, func, select, update
from sqlalchemy.engine import Connection

from taxreport.errors import LedgerError
from taxreport.ledger import schema
from taxreport.ledger.chain import VerifyResult, row_hash, verify_rows
from taxreport.model.codec import event_from_payload
from taxreport.model.events import Event, Reversal, canonical_json, format_time

ACTOR_KINDS = ("importer", "rebalancer", "manual", "system")


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    event: Event
    actor: str
    reason: str
    recorded_at: str
    hash: str


@dataclass
class AppendResult:
    added: list[int] = field(default_factory=list)  # seq numbers written
    duplicates: int = 0

    @property
    def added_count(self) -> int:
        return len(self.added)


def _check_actor(actor: str) -> None:
    kind = actor.split(":", 1)[0]
    if kind not in ACTOR_KINDS:
        raise ValueError(f"actor {actor!r} must start with one of {', '.join(ACTOR_KINDS)}")


def create_ledger_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"isolation_level": None, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):  # noqa: ANN001
            dbapi_conn.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url and url != "sqlite://":
                dbapi_conn.execute("PRAGMA journal_mode=WAL")

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # noqa: ANN001
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


class Ledger:
    """An open ledger database. Cheap to create; migrates the schema on first use."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = create_ledger_engine(url)
        if migrate:
            from taxreport.ledger.migrate import upgrade

            upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing ----------------------------------------------------------------------------
    def append(self, events: Sequence[Event], *, actor: str, reason: str,
               origins: Sequence[str] | None = None) -> AppendResult:
        """Append ``events`` in one transaction; see the module docstring for the rules.

        ``origins`` (same length as ``events``, e.g. ``"trades.csv:12"``) name each event in errors.
        """
        _check_actor(actor)
        if not reason.strip():
            raise ValueError("reason: every write must say why")
        if origins is not None and len(origins) != len(events):
            raise ValueError("origins must match events one to one")
        where = (lambda i: f"{origins[i]}: ") if origins else (lambda i: f"event {i + 1} of the batch: ")
        result = AppendResult()
        with self.engine.begin() as conn:
            head = self._lock_head(conn)
            keys = [e.natural_key for e in events]
            stored = self._existing(conn, keys)
            seen: dict[str, str] = {}
            pending: list[tuple[Event, str, str, str]] = []
            for i, ev in enumerate(events):
                payload = canonical_json(ev.to_payload())
                key, chash = keys[i], hashlib.sha256(payload.encode()).hexdigest()
                previous = stored.get(key) or seen.get(key)
                if previous is not None:
                    if previous != chash:
                        raise LedgerError(
                            f"{where(i)}{key} is already in the ledger with different content; "
                            "events are never edited: reverse the old one and write a corrected one "
                            "with a new id")
                    result.duplicates += 1
                    continue
                seen[key] = chash
                pending.append((ev, key, chash, payload))
            self._check_reversals(conn, [p[0] for p in pending], where, events)
            seq, prev = head
            now = format_time(datetime.now(timezone.utc))
            rows = []
            for ev, key, chash, payload in pending:
                seq += 1
                row = {
                    "seq": seq, "natural_key": key, "kind": ev.kind, "time": format_time(ev.time),
                    "accounts": "," + ",".join(ev.accounts) + ",",
                    "assets": "," + ",".join(ev.assets) + ",",
                    "order_ref": ev.order_ref, "payload": payload,
                    "content_hash": chash, "actor": actor, "reason": reason, "recorded_at": now,
                    "prev_hash": prev,
                }
                row["hash"] = prev = row_hash(prev, row)
                rows.append(row)
                result.added.append(seq)
            if rows:
                for start in range(0, len(rows), 1000):
                    conn.execute(schema.events.insert(), rows[start:start + 1000])
                conn.execute(update(schema.ledger_head).where(schema.ledger_head.c.id == 1)
                             .values(seq=seq, hash=prev))
        return result

    def _lock_head(self, conn: Connection) -> tuple[int, str]:
        stmt = select(schema.ledger_head.c.seq, schema.ledger_head.c.hash).where(schema.ledger_head.c.id == 1)
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).one()
        return int(row.seq), str(row.hash)

    def _existing(self, conn: Connection, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(keys))
        c = schema.events.c
        for start in range(0, len(unique), 500):
            chunk = unique[start:start + 500]
            for key, chash in conn.execute(select(c.natural_key, c.content_hash).where(c.natural_key.in_(chunk))):
                found[key] = chash
        return found

    def _check_reversals(self, conn: Connection, pending: list[Event], where, events) -> None:  # noqa: ANN001
        reversals = [e for e in pending if isinstance(e, Reversal)]
        if not reversals:
            return
        targets = [r.target_key for r in reversals]
        existing = self._existing(conn, targets)
        in_batch = {e.natural_key for e in pending}
        already = {
            json.loads(p)["target_key"]
            for (p,) in conn.execute(select(schema.events.c.payload).where(schema.events.c.kind == "reversal"))
        }
        for r in reversals:
            i = list(events).index(r)
            if r.target_key not in existing and r.target_key not in in_batch:
                raise LedgerError(f"{where(i)}reversal targets {r.target_key}, which is not in the ledger")
            if r.target_key.startswith("reversal:"):
                raise LedgerError(f"{where(i)}a reversal cannot be reversed; write the event again instead")
            if r.target_key in already:
                raise LedgerError(f"{where(i)}{r.target_key} is already reversed")
            already.add(r.target_key)

    # --- reading ----------------------------------------------------------------------------
    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(schema.events)).scalar_one())

    def rows(self, *, kinds: Sequence[str] | None = None, account: str | None = None,
             asset: str | None = None, start: datetime | None = None, end: datetime | None = None,
             order_ref: str | None = None, actor_prefix: str | None = None) -> Iterator[StoredEvent]:
        """Stored events in ``seq`` order, filtered in SQL. ``end`` is exclusive."""
        c = schema.events.c
        conds = []
        if kinds:
            conds.append(c.kind.in_(list(kinds)))
        if account:
            conds.append(c.accounts.contains(f",{account},", autoescape=True))
        if asset:
            conds.append(c.assets.contains(f",{asset.upper()},", autoescape=True))
        if start is not None:
            conds.append(c.time >= format_time(start))
        if end is not None:
            conds.append(c.time < format_time(end))
        if order_ref is not None:
            conds.append(c.order_ref == order_ref)
        if actor_prefix:
            conds.append(c.actor.startswith(actor_prefix, autoescape=True))
        stmt = select(c.seq, c.payload, c.actor, c.reason, c.recorded_at, c.hash).order_by(c.seq)
        if conds:
            stmt = stmt.where(and_(*conds))
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=2000).execute(stmt):
                yield StoredEvent(row.seq, event_from_payload(json.loads(row.payload)), row.actor,
                                  row.reason, row.recorded_at, row.hash)

    def events(self, **filters) -> list[Event]:  # noqa: ANN003
        """The events themselves (see :meth:`rows` for filters), reversals included."""
        return [r.event for r in self.rows(**filters)]

    def has_key(self, natural_key: str) -> bool:
        with self.engine.connect() as conn:
            return bool(self._existing(conn, [natural_key]))

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        with self.engine.connect() as conn:
            return set(self._existing(conn, keys))

    # --- audit ------------------------------------------------------------------------------
    def verify(self) -> VerifyResult:
        c = schema.events.c
        with self.engine.connect() as conn:
            head_seq, head_hash = conn.execute(
                select(schema.ledger_head.c.seq, schema.ledger_head.c.hash).where(schema.ledger_head.c.id == 1)
            ).one()
            stmt = select(*[getattr(c, n) for n in ("seq", "natural_key", "kind", "time", "payload", "actor",
                                                      "reason", "recorded_at", "prev_hash", "hash")]).order_by(c.seq)
            rows = (r._mapping for r in conn.execution_options(yield_per=2000).execute(stmt))
            return verify_rows(rows, int(head_seq), str(head_hash))
