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

import gc
import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import repeat
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from sqlalchemy import Engine, and_, create_engine, event, func, pool, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from taxreport import progress
from taxreport.clock import recorded_at as pinned_recorded_at
from taxreport.errors import LedgerError
from taxreport.ledger import schema, verify_worker
from taxreport.ledger.chain import WALK_COLUMNS, ChainWalk, VerifyResult, chain_hashes
from taxreport.ledger.migrate import head_revision
from taxreport.ledger.sqlite_ro import HotJournal, PendingLog, connect_read_only
from taxreport.model.codec import decode_payloads, encode_event, index_text  # noqa: F401 - index_text: the write's API too
from taxreport.model.events import Event, Reversal, format_time

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
    """What one append wrote: rows ``first`` .. ``first + added_count - 1`` (an append's rows are numbered in turn;
    a duplicate is skipped, it takes no number), and the duplicates it skipped. Kept as a run, not a list of a
    million numbers (a large import's), made into a list only when asked (:attr:`added`)."""

    first: int = 0  # the first row written (0: none)
    added_count: int = 0
    duplicates: int = 0

    @property
    def added(self) -> list[int]:
        """The seq numbers written, in order."""
        return list(range(self.first, self.first + self.added_count))


def _check_actor(actor: str) -> None:
    kind = actor.split(":", 1)[0]
    if kind not in ACTOR_KINDS:
        raise ValueError(f"actor {actor!r} must start with one of {', '.join(ACTOR_KINDS)}")


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///path`` URL (None for in-memory and other databases)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:" \
            or u.database.startswith("file:"):
        return None
    return Path(u.database)


def _read_only_file(path: Path | None) -> bool:
    """True for an existing SQLite file that this process cannot write (or whose folder it cannot write:
    SQLite needs to create its ``-wal``/``-shm``/journal files beside it)."""
    if path is None or not path.exists():
        return False
    return not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


def _sqlite_read_only_connect(path: Path) -> sqlite3.Connection:
    """Open ``path`` read-only (:func:`taxreport.ledger.sqlite_ro.connect_read_only`); a copy whose write-ahead log
    holds changes and that cannot be opened ``mode=ro`` is refused with one line saying what to do."""
    try:
        return connect_read_only(str(path.resolve()), timeout=30, check_same_thread=False)
    except PendingLog:
        raise LedgerError(f"cannot open the read-only ledger {path}: its write-ahead log {path.name}-wal holds "
                          "changes not yet in the file and cannot be read without write access to the folder; "
                          "open it once where it can be written (or copy it with `sqlite3 .backup`)") from None
    except HotJournal:
        raise LedgerError(f"cannot open the read-only ledger {path}: its rollback journal {path.name}-journal holds a "
                          "write that is under way or did not finish (SQLite rolls a killed one back on the next open "
                          "with write access); try again once it is done, or open it once where it can be written"
                          ) from None


#: The page size of a ledger file this taxreport creates: 16 KiB, not SQLite's default 4 KiB. "The page_size pragma
#: will only cause an immediate change in the page size if it is issued while the database is still empty, prior to
#: the first CREATE TABLE statement" (https://www.sqlite.org/pragma.html#pragma_page_size), and it must come before
#: the switch to WAL ("it is not possible to change the page size after entering WAL mode", same page): so it is set
#: on every connection, first, and a file that already holds anything keeps its own page size (every SQLite reader
#: reads any page size: it is in the file's header). Fewer, fuller pages for the ledger's ~775-byte rows: SQLite's
#: insert CPU 7-11% lower for a 1M-trade import (issue 14, round 7).
PAGE_SIZE = 16384


def create_ledger_engine(url: str, *, readonly: bool = False) -> Engine:
    """A SQLAlchemy engine for the ledger. SQLite: WAL mode and ``BEGIN IMMEDIATE`` for writers; read-only:
    the file opened ``mode=ro`` (never written, no journal switched), plain ``BEGIN`` snapshots.
    PostgreSQL read-only: every transaction ``READ ONLY``."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if readonly and path is not None:
            engine = create_engine("sqlite://", creator=lambda: _sqlite_read_only_connect(path),
                                   poolclass=pool.SingletonThreadPool)
        else:
            engine = create_engine(url, connect_args={"isolation_level": None, "timeout": 30})

            @event.listens_for(engine, "connect")
            def _on_connect(dbapi_conn, _record):  # noqa: ANN001
                dbapi_conn.execute("PRAGMA foreign_keys=ON")
                if path is not None:
                    dbapi_conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # a new file only (see PAGE_SIZE)
                    dbapi_conn.execute("PRAGMA journal_mode=WAL")

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # noqa: ANN001
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine
    if readonly:
        return create_engine(url, pool_pre_ping=True, execution_options={"postgresql_readonly": True})
    return create_engine(url, pool_pre_ping=True)


# Events are encoded, hashed and inserted this many at a time: memory stays bounded however large the batch
# (a 1,000,000-trade import holds one chunk of rows, not a million), and a progress bar can advance.
CHUNK = 5000


#: A chunk's chain hashed beforehand: ``(seq, prev_hash, actor, reason, recorded_at, hashes)`` (:class:`Encoded`).
Chained = tuple[int, str, str, str, str, list[str]]


class Encoded:
    """A chunk of events encoded for the write, column by column (no object per event): everything their rows
    need besides ``seq``, the chain hashes and what the whole append shares (actor, reason, time of recording).
    Built from events by :func:`_prepare_all`, or straight from a file's cells by an importer's fused path
    (:mod:`taxreport.importers.fast_csv`, which writes the same bytes, tested); ``events`` is then None (such a
    chunk holds no reversal). ``chained``, when given, is the chunk's chain computed beforehand (in another process,
    by the same :func:`~taxreport.ledger.chain.chain_hashes`) on one assumption, stated with it: the whole chunk is
    written right after row ``seq`` whose hash is ``prev_hash``, by an append of ``actor``, ``reason`` and
    ``recorded_at``: ``(seq, prev_hash, actor, reason, recorded_at, hashes)``. The writer takes the hashes only
    when that is exactly what it writes (:func:`_chain`); otherwise it hashes the rows itself."""

    __slots__ = ("start", "keys", "payloads", "content_hashes", "times", "kinds", "accounts", "assets", "order_refs",
                 "origins", "events", "chained")

    def __init__(self, start: int, keys: list[str], payloads: list[str], content_hashes: list[str], times: list[str],
                 kinds: list[str], accounts: list[str], assets: list[str], order_refs: list[str | None],
                 origins: Any, events: list[Event] | None = None,
                 chained: Chained | None = None) -> None:
        self.start = start  # the batch index of the first event
        self.keys, self.payloads, self.content_hashes, self.times = keys, payloads, content_hashes, times
        self.kinds, self.accounts, self.assets, self.order_refs = kinds, accounts, assets, order_refs
        self.origins = origins  # [i]: e.g. "trades.csv:12", for errors (None: its place in the batch)
        self.events, self.chained = events, chained

    def __len__(self) -> int:
        return len(self.keys)

    def where(self, i: int) -> str:
        """The prefix naming event ``i`` of the chunk in an error: its origin, else its place in the batch."""
        origin = self.origins[i]
        return f"{origin}: " if origin else f"event {self.start + i + 1} of the batch: "


def _prepare_all(part: list[tuple[int, Event, str | None]]) -> Encoded:
    keys, payloads, hashes, times, kinds, accounts, assets, refs = map(list, zip(*[encode_event(ev) for _, ev, _ in part]))
    return Encoded(part[0][0], keys, payloads, hashes, times, kinds, accounts, assets, refs,
                   [origin for _, _, origin in part], [ev for _, ev, _ in part])


class Ledger:
    """An open ledger database. Cheap to create; migrates the schema on first use.

    ``readonly=True`` opens it for reading only (commands that only read; an archive or an accountant's
    copy): nothing is migrated or written, and :meth:`append` is refused. ``readonly=None`` (the default)
    opens a SQLite file read-only when this process cannot write it or its folder, else read-write.
    """

    def __init__(self, url: str, *, migrate: bool = True, readonly: bool | None = False) -> None:
        self.url = url
        path = sqlite_path(url)
        if readonly is None:
            readonly = _read_only_file(path)
        elif readonly and path is not None and not path.exists():
            readonly = False  # nothing to read yet: created (empty) as before, so reading shows nothing
        self.readonly = readonly
        self._events_cache: tuple[tuple[int, str, int], list[Event]] | None = None
        self._pin: _Pin | None = None
        if migrate and (not readonly or not _read_only_file(path)):
            from taxreport.ledger.migrate import current_revision, upgrade

            writer = self.engine = create_ledger_engine(url)
            if not readonly or current_revision(writer) != head_revision():
                upgrade(writer)  # a writable ledger opened to read is still brought up to date first
            if readonly:
                writer.dispose()
        if readonly:
            self.engine = create_ledger_engine(url, readonly=True)
            self._check_schema()

    def _check_schema(self) -> None:
        from taxreport.ledger.migrate import current_revision

        found = current_revision(self.engine)
        if found is None:
            raise LedgerError(f"{self._name()} is not a taxreport ledger (no schema), and it is open read-only")
        if found != head_revision():
            raise LedgerError(f"{self._name()} has schema revision {found}, this taxreport needs "
                              f"{head_revision()}; it is open read-only, so it cannot be upgraded here: open it "
                              "once with write access (or a copy of it)")

    def _name(self) -> str:
        path = sqlite_path(self.url)
        return f"the ledger {path}" if path is not None else "the ledger"

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
        Events are encoded, hashed and inserted :data:`CHUNK` at a time inside that transaction.
        """
        _check_actor(actor)
        if not reason.strip():
            raise ValueError("reason: every write must say why")
        if not isinstance(events, Sequence):
            events = list(events)  # any iterable of events is accepted, as before
        if origins is not None and len(origins) != len(events):
            raise ValueError("origins must match events one to one")
        if self.readonly:
            raise LedgerError(f"{self._name()} is open read-only; nothing was written")
        total = len(events)
        # a reversal may target any event of the batch, before or after it
        in_batch = {e.natural_key for e in events} if any(isinstance(e, Reversal) for e in events) else None
        chunks = ([(i, events[i], origins[i] if origins else None) for i in range(start, min(start + CHUNK, total))]
                  for start in range(0, total, CHUNK))
        return self._write(map(_prepare_all, chunks), actor=actor, reason=reason,
                           label=f"Writing {total:,} events to the ledger", total=total, in_batch=in_batch,
                           bulk=total > CHUNK)

    def append_stream(self, items: Iterable[tuple[Event, str | None]], *, actor: str, reason: str,
                      label: str = "Writing events to the ledger", total: int | None = None) -> AppendResult:
        """:meth:`append` for a stream of ``(event, origin)`` too large to hold (a million-row import): read,
        encoded, hashed and inserted :data:`CHUNK` at a time, **in one transaction**. If ``items`` raises (a
        bad row found further on), nothing is written: the transaction is rolled back. ``total`` (an
        estimate) only sizes the progress bar. A reversal in the stream may target an event already stored or
        earlier in the stream (not a later one)."""
        _check_actor(actor)
        if not reason.strip():
            raise ValueError("reason: every write must say why")
        if self.readonly:
            raise LedgerError(f"{self._name()} is open read-only; nothing was written")

        def chunks() -> Iterator[list[tuple[int, Event, str | None]]]:
            part: list[tuple[int, Event, str | None]] = []
            for i, (ev, origin) in enumerate(items):
                part.append((i, ev, origin))
                if len(part) == CHUNK:
                    yield part
                    part = []
            if part:
                yield part

        return self._write(map(_prepare_all, chunks()), actor=actor, reason=reason, label=label, total=total,
                           in_batch=None, bulk=True)

    def append_encoded(self, chunks: Iterable[Encoded], *, actor: str, reason: str,
                       label: str = "Writing events to the ledger", total: int | None = None) -> AppendResult:
        """:meth:`append_stream` for events an importer has already encoded (:class:`Encoded` chunks of
        :data:`CHUNK` events, the last one shorter, e.g. straight from a file's cells:
        :mod:`taxreport.importers.fast_csv`), in one transaction; the same rules, the same rows. If ``chunks``
        raises, nothing is written."""
        _check_actor(actor)
        if not reason.strip():
            raise ValueError("reason: every write must say why")
        if self.readonly:
            raise LedgerError(f"{self._name()} is open read-only; nothing was written")
        return self._write(chunks, actor=actor, reason=reason, label=label, total=total, in_batch=None, bulk=True)

    def _write(self, chunks: Iterable[Encoded], *, actor: str, reason: str,
               label: str, total: int | None, in_batch: set[str] | None, bulk: bool = False) -> AppendResult:
        """:meth:`_write_once`; ``bulk`` (a stream, or more than one chunk): into an empty SQLite ledger file, in a
        rollback journal (:func:`_bulk_journal`), and again in the write-ahead log (nothing read from ``chunks``
        yet) if the ledger turns out not to be empty once the write has locked it (another writer came first)."""
        if bulk:
            try:
                return self._write_once(chunks, actor=actor, reason=reason, label=label, total=total,
                                        in_batch=in_batch, bulk=True)
            except _NotEmpty:
                pass  # rolled back, back in WAL, nothing read from chunks: the write as always
        return self._write_once(chunks, actor=actor, reason=reason, label=label, total=total, in_batch=in_batch,
                                bulk=False)

    def _write_once(self, chunks: Iterable[Encoded], *, actor: str, reason: str,
                    label: str, total: int | None, in_batch: set[str] | None, bulk: bool) -> AppendResult:
        """The one write path: :class:`Encoded` chunks in one transaction (module docstring).
        ``in_batch``: the keys of the whole batch when it is known and holds a reversal; None for a stream
        (a reversal's target is then looked up in the database, which holds the earlier chunks). The chunks are
        read, encoded, hashed and inserted in this one thread: a worker thread reading ahead (round 1) was
        measured slower, not faster (README, "Import: one lean pass"); ``import csv`` reads, encodes and hashes in a
        second *process* instead (:mod:`taxreport.importers.fast_csv`): a stream with a ``chain_from`` method is
        told where the chain stands before its first chunk is read, and a chunk it hashed ahead
        (:attr:`Encoded.chained`) is taken only where that holds (:func:`_chain`)."""
        result = AppendResult()
        # _no_gc: a stream builds millions of small acyclic objects (cells, Decimals, events, rows), freed by
        # their reference counts; the cyclic collector's passes over them would only cost time
        # (the cache is set back after the commit: never shrunk while the transaction holds dirty pages)
        # (_bulk_journal is entered before the transaction begins and left after it has ended: the journal mode can
        # be changed only outside a transaction)
        with progress.task(label, total) as bar, self.engine.connect() as conn, _write_cache(conn), \
                _bulk_journal(conn, bulk) as rollback_journal, conn.begin(), _no_gc():
            seq, prev = self._lock_head(conn)
            if rollback_journal and not _empty(conn, seq):
                raise _NotEmpty  # (checked again under the write lock: only an empty ledger is written this way)
            now = format_time(pinned_recorded_at() or datetime.now(timezone.utc))  # taxreport.clock: pinned for a demo only
            reversals = _ReversalCheck(self, conn, in_batch) if in_batch is not None else None
            insert = _Insert(conn, actor, reason, now)
            chain_from = getattr(chunks, "chain_from", None)
            if chain_from is not None:  # a stream that hashes ahead (fast_csv): where the chain stands
                chain_from(actor, reason, now, seq, prev)
            for chunk in chunks:
                events = chunk.events
                has_reversal = events is not None and any(isinstance(e, Reversal) for e in events)
                if has_reversal and in_batch is None:
                    reversals = reversals or _ReversalCheck(self, conn, set())
                    reversals.in_batch = set(chunk.keys)
                # Optimistic: only duplicates inside the chunk are looked for first; a key already stored (by
                # an earlier append or an earlier chunk of this one) makes the insert fail on the unique
                # natural key, and the chunk is then checked against the database and written again.
                lookup = reversals is not None and has_reversal
                stored = self._existing(conn, chunk.keys) if lookup else {}
                pending, dups = _dedupe(chunk, stored)
                if reversals is not None and events is not None:
                    reversals.check(chunk, [i for i in (range(len(chunk)) if pending is None else pending)
                                            if isinstance(events[i], Reversal)])
                sql, rows = insert.rows(chunk, pending, seq, prev)
                try:
                    with conn.begin_nested():
                        if rows:
                            insert.execute(sql, rows)
                except (IntegrityError, _KeyStored):
                    if lookup:
                        raise
                    stored = self._existing(conn, chunk.keys)
                    pending, dups = _dedupe(chunk, stored)
                    sql, rows = insert.rows(chunk, pending, seq, prev)
                    if rows:
                        insert.execute(sql, rows)
                if rows:
                    result.first = result.first or seq + 1
                    result.added_count += len(rows)
                    seq, prev = rows[-1][0], rows[-1][-1]
                result.duplicates += dups
                bar.advance(len(chunk))
            if result.added_count:
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

    # --- reading ----------------------------------------------------------------------------
    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(schema.events)).scalar_one())

    def rows(self, *, kinds: Sequence[str] | None = None, account: str | None = None,
             asset: str | None = None, start: datetime | None = None, end: datetime | None = None,
             order_ref: str | None = None, actor_prefix: str | None = None) -> Iterator[StoredEvent]:
        """Stored events in ``seq`` order, filtered in SQL. ``end`` is exclusive."""
        c = schema.events.c
        conds: list[Any] = []
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
            result = conn.execution_options(yield_per=CHUNK).execute(stmt)
            for part in result.partitions():
                decoded = decode_payloads([row[1] for row in part])
                for row, ev in zip(part, decoded):
                    yield StoredEvent(row[0], ev, row[2], row[3], row[4], row[5])

    def events(self, **filters) -> list[Event]:  # noqa: ANN003
        """The events themselves (see :meth:`rows` for filters), reversals included.

        Without filters (what the tax engine reads), the decoded events are kept for this ``Ledger``'s
        lifetime, keyed by the chain head (last ``seq`` and its hash) and the row count, both read in the
        same transaction as the rows: any append (from any process) changes the head, so the events are
        decoded again; rows deleted or inserted behind the chain's back change the count. (A row edited in
        place behind the chain's back is what ``ledger verify`` finds; it never reads from this cache.)
        """
        if filters:
            return [r.event for r in self.rows(**filters)]
        with self.engine.connect() as conn:
            head = self._head(conn)
            rows = int(conn.execute(select(func.count()).select_from(schema.events)).scalar_one())
            key = (head[0], head[1], rows)
            cached = self._events_cache
            if cached is not None and cached[0] == key:
                return list(cached[1])
            out: list[Event] = []
            with progress.task("Reading the ledger", rows) as bar, _no_gc():
                # the driver's cursor directly: one column, no SQLAlchemy row objects
                for part in _parts(conn, "SELECT payload FROM events ORDER BY seq"):
                    out.extend(decode_payloads([row[0] for row in part]))
                    bar.advance(len(part))
        self._events_cache = (key, out)
        return list(out)

    def time_span(self) -> tuple[datetime, datetime] | None:
        """The times of the earliest and the latest event that moves something (None: none). Events that move
        nothing (:data:`taxreport.model.legs.MOVES_NOTHING`: a reversal, a basis supplement, a link, a record)
        are dated when they were written, so a correction made today would otherwise stretch the span to today's
        tax year (``gains -y all`` then listed empty years up to today, and for the UK refused the whole command
        for a year without an annual exempt amount on file)."""
        from taxreport.model.events import parse_time
        from taxreport.model.legs import MOVES_NOTHING

        time, moving = schema.events.c.time, schema.events.c.kind.not_in(sorted(MOVES_NOTHING))
        with self.engine.connect() as conn:  # one subquery each, walking the time index from either end to the
            # first row that moves something (a min()/max() of both in one SELECT scans every row: 0.47 s at 1M)
            first, last = conn.execute(select(
                select(time).where(moving).order_by(time.asc()).limit(1).scalar_subquery(),
                select(time).where(moving).order_by(time.desc()).limit(1).scalar_subquery())).one()
        return None if first is None else (parse_time(first), parse_time(last))

    def head(self) -> tuple[int, str]:
        """The chain head: the last ``seq`` and its hash (``(0, GENESIS)`` when empty). Any append changes it."""
        with self.engine.connect() as conn:
            return self._head(conn)

    def appended_since(self, seq: int, digest: str) -> tuple[int, str, list[Event]] | None:
        """The head and the events appended after row ``seq`` (whose hash is ``digest``), read in one
        connection and verified to continue the chain from that row (:func:`verify_rows`): what a long-running
        reader that has verified up to ``seq`` needs to stay verified without walking the whole chain again.
        ``None`` when the chain does not continue from there (rows deleted, a head that went back, a bad new
        row): the caller then walks it whole, which names the bad row."""
        with self.engine.connect() as conn:
            head_seq, head_hash = self._head(conn)
            if (head_seq, head_hash) == (seq, digest):
                return head_seq, head_hash, []
            if head_seq <= seq:
                return None
            rows = [row for part in _parts(conn, f"SELECT {', '.join(WALK_COLUMNS)} FROM events WHERE seq > {int(seq)} "
                                                 "ORDER BY seq") for row in part]
        walk = ChainWalk(after_seq=seq, after_hash=digest)
        walk.feed(rows)
        if not walk.result(head_seq, head_hash).ok:
            return None
        return head_seq, head_hash, decode_payloads([r[4] for r in rows])

    @staticmethod
    def _head(conn: Connection) -> tuple[int, str]:
        row = conn.execute(select(schema.ledger_head.c.seq, schema.ledger_head.c.hash)
                           .where(schema.ledger_head.c.id == 1)).one()
        return int(row[0]), str(row[1])

    def has_key(self, natural_key: str) -> bool:
        with self.engine.connect() as conn:
            return bool(self._existing(conn, [natural_key]))

    def existing_keys(self, keys: Sequence[str]) -> set[str]:
        with self.engine.connect() as conn:
            return set(self._existing(conn, keys))

    # --- audit ------------------------------------------------------------------------------
    def verify(self) -> VerifyResult:
        """Walk the whole chain (never from a cache): see :func:`taxreport.ledger.chain.verify_rows`."""
        return self._walk(decode=False)[0]

    def verified_events(self) -> tuple[VerifyResult, list[Event]]:
        """:meth:`verify` and :meth:`events` in one pass over the rows (what a report that refuses a tampered
        ledger needs): the events are returned, and kept as :meth:`events` keeps them, only when the chain
        verifies; otherwise the list is empty and the result says which row is bad. Inside :meth:`pinned`,
        the first walk's answer is the answer of every later call.

        Inside :meth:`pinned`, a walk that verifies is recorded in the derived cache under the pinned state
        (:meth:`~taxreport.ledger.derived.DerivedCache.record_verified`); when the pinned state already has such
        a record (an earlier command verified this very state: the first UK call after the US ones, an
        ``export`` after ``gains``), the events are read without hashing (:meth:`_read_recorded`): the payloads
        only, the row count and head checked against the record, the state checked unchanged after the read
        (why that is enough: "A verified state" in :mod:`taxreport.ledger.derived`). :meth:`verify` never
        does this."""
        if self._pin is not None and self._pin.verified is not None:
            result, events = self._pin.verified
            return result, list(events)
        cache = self._pinned_cache()
        read = self._read_recorded(cache) if cache is not None else None
        if read is not None:
            result, events = read
        else:
            result, events = self._walk(decode=True)
            if cache is not None and result.ok and events is not None:
                cache.record_verified(result.rows, result.head_hash)
        if self._pin is not None:
            first = self._pin.forgotten
            if first is not None and (first.ok, first.rows, first.head_hash) != (result.ok, result.rows,
                                                                                   result.head_hash):
                raise LedgerError(f"{self._name()} changed while it was being reported on; run the command again")
            self._pin.verified = (result, events or [])
        if not result.ok or events is None:
            return result, []
        self._events_cache = ((result.rows, result.head_hash, result.rows), events)
        return result, list(events)

    def _pinned_cache(self) -> Any:
        """The derived cache of a pinned ledger whose state can be cached (None otherwise: walk as always)."""
        if self._pin is None or self._pin.state is None:
            return None
        from taxreport.ledger.derived import cache_for

        cache = cache_for(self)
        return cache if cache.pinned_state() is not None else None

    def _read_recorded(self, cache: Any) -> tuple[VerifyResult, list[Event]] | None:
        """The events of the pinned state read trusting its verified-state record (no hashing): None when there
        is no record, or the rows read are not the ones recorded (row count, head, or the state changed meanwhile),
        and the caller walks the chain as always. A payload that does not decode is the walk's error."""
        recorded = cache.verified_chain()
        if recorded is None:
            return None
        with self.engine.connect() as conn:
            head = self._head(conn)
            if head != recorded:
                return None
            read = _read_payloads(conn, head[0])
        if read is None or not cache.unchanged():
            return None
        events, undecodable = read
        if undecodable is not None:
            seq, exc = undecodable
            raise LedgerError(f"{self._name()}: row {seq} verifies but its event cannot be read ({exc}); "
                              "a newer taxreport may have written it")
        return VerifyResult(True, head[0], head[1]), events

    def forget_events(self) -> None:
        """Drop the events this ledger keeps from its last walk (a caller done with them, e.g. a computation that
        has valued them, lets them be freed; a 1M-trade ledger's events are ~600 MB). Inside :meth:`pinned`, a
        later :meth:`verified_events` walks the chain again and must find the chain the first walk verified
        (same rows, same head), else it is an error: the ledger changed meanwhile."""
        self._events_cache = None
        if self._pin is not None and self._pin.verified is not None:
            self._pin.forgotten = self._pin.verified[0]
            self._pin.verified = None

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """One snapshot for a command that reports several things (``gains --year all``, ``export all``):
        the chain is walked once, on the first :meth:`verified_events`, and that answer is reused; the derived
        cache (:mod:`taxreport.ledger.derived`) keys every result computed inside by the state read here,
        *before* that walk (so a write made meanwhile can only make its entries unreachable, never stale)."""
        from taxreport.ledger.derived import ledger_state

        if self._pin is not None:  # already pinned by the caller
            yield
            return
        self._pin = _Pin(ledger_state(self))
        try:
            yield
        finally:
            self._pin = None

    def _walk(self, *, decode: bool) -> tuple[VerifyResult, list[Event] | None]:
        """The chain walked whole, :data:`CHUNK` rows at a time straight from the driver's cursor
        (:class:`ChainWalk`); with ``decode``, each chunk's payloads are decoded as it passes (the rows are
        never all held). Events are returned only when the whole chain verifies; a payload that does not
        decode in a chain that verifies (an event kind this taxreport does not know) is an error naming its row,
        never dropped."""
        with self.engine.connect() as conn:
            head_seq, head_hash = self._head(conn)
            if decode and head_seq >= verify_worker.MIN_ROWS and verify_worker.available():
                try:
                    walk, decoded, undecodable = _walk_beside(conn, head_seq)
                except verify_worker.WorkerFailed:
                    walk, decoded, undecodable = _walk_here(conn, head_seq, decode)  # same transaction, same rows
            else:
                walk, decoded, undecodable = _walk_here(conn, head_seq, decode)
        result = walk.result(head_seq, head_hash)
        if not result.ok or decoded is None:
            return result, None
        if undecodable is not None:
            seq, exc = undecodable
            if not isinstance(exc, _UNDECODABLE):
                raise exc  # what the walk in this process raises for it (never a payload it has not verified)
            raise LedgerError(f"{self._name()}: row {seq} verifies but its event cannot be read ({exc}); "
                              "a newer taxreport may have written it")
        return result, decoded


_UNDECODABLE = (ValueError, TypeError, KeyError)
_WALK_SQL = f"SELECT {', '.join(WALK_COLUMNS)} FROM events ORDER BY seq"


def _walk_here(conn: Connection, head_seq: int, decode: bool
               ) -> tuple[ChainWalk, list[Event] | None, tuple[int, Exception] | None]:
    """The chain walked in this process, chunk by chunk; with ``decode``, each chunk's payloads decoded once it
    has verified. Returns the walk, the events (None without ``decode``) and the first undecodable row."""
    walk = ChainWalk()
    decoded: list[Event] | None = [] if decode else None
    undecodable: tuple[int, Exception] | None = None
    with progress.task("Verifying the ledger", head_seq) as bar, _no_gc():
        for part in _parts(conn, _WALK_SQL):
            if not walk.feed(part):
                break
            if decoded is not None and undecodable is None:
                try:
                    decoded.extend(decode_payloads([r[4] for r in part]))
                except _UNDECODABLE as exc:
                    undecodable = (_first_undecodable(part), exc)
            bar.advance(len(part))
    return walk, decoded, undecodable


def _payload_sql(head_seq: int) -> str:
    """The ``seq, payload`` of rows ``1..head_seq`` in order: what a read that does not hash fetches (the
    verifying child walks the other columns itself, or a verified-state record stands for the walk)."""
    return f"SELECT seq, payload FROM events WHERE seq <= {int(head_seq)} ORDER BY seq"


def _sqlite_file(conn: Connection) -> str | None:
    """The file of the SQLite database ``conn`` reads (None for PostgreSQL, an in-memory or temporary database)."""
    if conn.dialect.name != "sqlite":
        return None
    cursor = conn.connection.cursor()
    try:
        files = {name: file for _, name, file in cursor.execute("PRAGMA database_list").fetchall()}
    finally:
        cursor.close()
    return files.get("main") or None


#: The share of a ledger file's rows the verifying child walks (rows ``1..m``); the reader walks the rest itself,
#: in its own transaction, once it has decoded every payload and while the child still hashes. Measured at 1M rows
#: (issue 14, round 6): the reader's fetch and decode ~4.3 s of CPU, a walk ~7.3 us per row in either process, so a
#: child walking four fifths ends with the reader (~5.8 s) where a child walking every row (~7.3 s) kept it waiting.
CHILD_SHARE = 0.8


def _walk_reading_file(conn: Connection, head_seq: int, path: str
                       ) -> tuple[ChainWalk, list[Event], tuple[int, Exception] | None]:
    """:func:`_walk_beside` for a ledger file: the child reads and walks rows ``1..m`` itself
    (:class:`~taxreport.ledger.verify_worker.ChainWorker` with ``database``; ``m`` is :data:`CHILD_SHARE` of the
    rows) while this process fetches only ``seq, payload`` in ``conn``'s transaction, hands those of rows ``1..m``
    to the worker (its digest of them) and decodes them all; then this process walks rows ``m+1..head_seq`` itself
    in the same transaction, from the ``prev_hash`` row ``m+1`` holds, while the child finishes. Returns only a walk
    that verifies over the whole chain: the child's over ``1..m`` over exactly the rows read here, ending in the hash
    row ``m+1`` links to, and this process's over the rest, ending at this transaction's head (``seq`` and hash);
    raises :class:`~taxreport.ledger.verify_worker.WorkerFailed` for anything else (a bad row on either side, a link
    that breaks at the split, rows that differ between the two reads, a child that failed): the caller then walks
    the chain in ``conn``'s transaction, which names the bad row of this snapshot."""
    head_hash = Ledger._head(conn)[1]  # the same transaction as head_seq: the same head
    split = min(head_seq, max(1, int(head_seq * CHILD_SHARE)))
    decoded: list[Event] = []
    undecodable: tuple[int, Exception] | None = None
    with verify_worker.ChainWorker(database=path, last_seq=split) as worker, \
            progress.task("Verifying the ledger", head_seq) as bar, _no_gc():
        for part in _parts(conn, _payload_sql(head_seq)):
            payloads = [r[1] for r in part]
            mine = [r for r in part if r[0] <= split]  # (seq is the key, in order: a prefix of the chunk)
            if mine and not worker.read(mine[0][0], mine[-1][0], payloads[:len(mine)]):
                break  # the child found a bad row, or the rows are not numbered 1, 2, 3…
            if undecodable is None:
                try:
                    decoded.extend(decode_payloads(payloads))
                except Exception as exc:  # noqa: BLE001 - unverified text: judged once the verdict is in
                    undecodable = (_first_undecodable(part, Exception, payload_at=1), exc)
            bar.advance(len(part))
        tail = _walk_tail(conn, split, head_seq)
        walk = worker.verdict()
    if not walk.ok or walk.count != split or (tail is not None and walk.prev != tail[0]):
        raise verify_worker.WorkerFailed(f"the child's walk ({walk.count}, {walk.prev[:12]}…, "
                                         f"{'ok' if walk.ok else walk.bad}) is not this snapshot's first {split} rows")
    if tail is not None:
        walk = tail[1]
    if not walk.ok or (walk.count, walk.prev) != (head_seq, head_hash):
        raise verify_worker.WorkerFailed(f"the walk ({walk.count}, {walk.prev[:12]}…) is not this snapshot's")
    return walk, decoded, undecodable


def _walk_tail(conn: Connection, split: int, head_seq: int) -> tuple[str, ChainWalk] | None:
    """This process's walk of rows ``split+1..head_seq`` (None when there are none), from the ``prev_hash`` row
    ``split+1`` holds: ``(that prev_hash, the walk)``. The caller accepts it only if the child's walk of rows
    ``1..split`` ends in that very hash (the chain links at the split) and it ends at the head."""
    if split >= head_seq:
        return None
    sql = (f"SELECT {', '.join(WALK_COLUMNS)} FROM events WHERE seq > {int(split)} AND seq <= {int(head_seq)} "
           "ORDER BY seq")
    walk: ChainWalk | None = None
    start = ""
    for part in _parts(conn, sql):
        if walk is None:
            start = part[0][WALK_COLUMNS.index("prev_hash")]
            if part[0][0] != split + 1 or type(start) is not str:
                raise verify_worker.WorkerFailed(f"row {split + 1} is not where the child's walk ends")
            walk = ChainWalk(after_seq=split, after_hash=start)
        if not walk.feed(part):
            raise verify_worker.WorkerFailed("a bad row after the child's share")  # the caller's walk names it
    if walk is None:
        raise verify_worker.WorkerFailed(f"no row {split + 1}")
    return start, walk


def _walk_beside(conn: Connection, head_seq: int
                 ) -> tuple[ChainWalk, list[Event], tuple[int, Exception] | None]:
    """:func:`_walk_here` with the hashing done by a :class:`~taxreport.ledger.verify_worker.ChainWorker` on the
    second core. A SQLite ledger in a file: the child reads the rows itself (:func:`_walk_reading_file`). Otherwise
    (PostgreSQL, whose credentials never go to a child; an in-memory database) through a pipe: each chunk, read once
    in this transaction, is sent to the child and then decoded here. The events are returned only with the child's
    walk over every row (the caller uses them only if it verifies); a payload that fails to decode is recorded
    whatever it raises (it may not have verified yet). Raises
    :class:`~taxreport.ledger.verify_worker.WorkerFailed` when the caller must walk the chain itself."""
    path = _sqlite_file(conn)
    if path is not None:
        return _walk_reading_file(conn, head_seq, path)
    decoded: list[Event] = []
    undecodable: tuple[int, Exception] | None = None
    with verify_worker.ChainWorker() as worker, progress.task("Verifying the ledger", head_seq) as bar, _no_gc():
        for part in _parts(conn, _WALK_SQL):
            if not worker.send(part):
                break  # a bad row: its reason is in the verdict
            if undecodable is None:
                try:
                    decoded.extend(decode_payloads([r[4] for r in part]))
                except Exception as exc:  # noqa: BLE001 - unverified text: judged once the verdict is in
                    undecodable = (_first_undecodable(part, Exception), exc)
            bar.advance(len(part))
        walk = worker.verdict()
    return walk, decoded, undecodable


@dataclass
class _Pin:
    state: str | None  # the derived cache's key state, read before the walk (None: not cacheable)
    verified: tuple[VerifyResult, list[Event]] | None = None
    forgotten: VerifyResult | None = None  # the first walk's answer, once its events were forgotten


def _read_payloads(conn: Connection, head_seq: int) -> tuple[list[Event], tuple[int, Exception] | None] | None:
    """The events of rows ``1..head_seq`` read from their payloads alone (``seq, payload``, no hashing), in
    ``conn``'s transaction, decoded chunk by chunk, the collector paused: for a state whose chain a full walk has
    verified (:meth:`Ledger._read_recorded`). None when the rows read are not exactly ``1..head_seq`` (the caller
    then walks, which names what is wrong). Returns the events (up to the first undecodable row) and that row."""
    decoded: list[Event] = []
    undecodable: tuple[int, Exception] | None = None
    count, first, last = 0, 1, head_seq
    with progress.task("Reading the ledger", head_seq) as bar, _no_gc():
        for part in _parts(conn, _payload_sql(head_seq)):
            if not count:
                first = int(part[0][0])
            count += len(part)
            last = int(part[-1][0])
            if undecodable is None:
                try:
                    decoded.extend(decode_payloads([r[1] for r in part]))
                except _UNDECODABLE as exc:
                    undecodable = (_first_undecodable(part, payload_at=1), exc)
            bar.advance(len(part))
    if (count, first, last) != (head_seq, 1, head_seq):  # seq is the key: exactly 1..head_seq
        return None
    return decoded, undecodable


@contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic garbage collector paused while a walk builds hundreds of thousands of small acyclic objects
    (rows, events, Decimals): its passes over them would only cost time (a third of a walk's)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


#: SQLite's page cache while a write runs, in KiB (SQLite's default is 2,000 KiB). A large import inserts into the
#: unique natural-key index at places spread over the whole index; with the default cache each insert reads its
#: pages back from the OS. The cache is only memory: what is written, and when it is synced, is unchanged.
WRITE_CACHE_KIB = 65536


@contextmanager
def _write_cache(conn: Connection) -> Iterator[None]:
    """SQLite: the page cache raised to :data:`WRITE_CACHE_KIB` for the write, then set back."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.dbapi_connection
    before = raw.execute("PRAGMA cache_size").fetchone()[0]  # type: ignore[union-attr]
    raw.execute(f"PRAGMA cache_size=-{int(WRITE_CACHE_KIB)}")  # type: ignore[union-attr]
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size={int(before)}")  # type: ignore[union-attr]


#: ``PRAGMA synchronous`` while a bulk append is written in a rollback journal (:func:`_bulk_journal`): EXTRA (3).
SYNCHRONOUS_EXTRA = 3


class _KeyStored(LedgerError):
    """An INSERT on PostgreSQL skipped events whose natural key is already stored (:class:`_Insert`)."""


class _NotEmpty(Exception):
    """A write begun in a rollback journal for an empty ledger found rows once it held the write lock."""


@contextmanager
def _bulk_journal(conn: Connection, bulk: bool) -> Iterator[bool]:
    """A bulk append (``bulk``) into an **empty** SQLite ledger file written with a rollback journal
    (``journal_mode=DELETE``) instead of the write-ahead log, and the file put back in WAL mode afterwards, whatever
    happened. Yields whether it switched (the caller's transaction runs inside: the mode can be changed only outside
    a transaction); anything else (PostgreSQL, a ledger that holds anything, a file another connection holds open,
    a small append) is written in WAL exactly as before (yields False, changes nothing).

    **Why.** In WAL mode every page of a transaction is written twice: appended to the ``-wal`` file, then copied
    into the database by a checkpoint, which the commit runs itself once the log is large ("Moving the WAL file
    transactions back into the database is called a "checkpoint"." ... "By default, SQLite does a checkpoint
    automatically when the WAL file reaches a threshold size of 1000 pages.", https://www.sqlite.org/wal.html). The
    first import of 1,000,000 trades is a ~775 MB log copied again: raw inserts of those rows took 11.1 s in WAL
    mode, 3.75 s of it the commit, against 7.0 s with ``journal_mode=DELETE`` (README, "Speed (issue 14)"). With a
    rollback journal the new pages of an empty database are written once, into the file; the journal holds only the
    original content of the few pages that existed (the schema). (wal.html's "writing the content once (versus twice
    for rollback-journal transactions)" is about changing pages that exist: the pages of an empty ledger's first
    import are all new, and it is WAL that writes them twice.)

    **Only when this connection can switch.** "The new journal mode is returned. If the journal mode could not be
    changed, the original journal mode is returned." (https://www.sqlite.org/pragma.html#pragma_journal_mode).
    Leaving WAL needs the file to this connection alone (an EXCLUSIVE lock, "no other locks of any kind are allowed
    to coexist with an EXCLUSIVE lock", https://www.sqlite.org/lockingv3.html): measured on SQLite 3.40, while any
    other connection, in this process or another, holds the file open in WAL mode the pragma fails at once with
    SQLITE_BUSY ("database is locked", no busy wait). Either answer (not ``delete``, or that error) keeps WAL.

    **Only for an empty ledger** (head ``seq`` 0, no event row): read here before switching, and checked again by the
    caller under the write lock (:class:`_NotEmpty`: rolled back and written again in WAL). While the write runs,
    another process opening the ledger waits for it (its own switch to WAL, the engine's connect hook, needs the
    file; up to the 30 s busy timeout): accepted only when there is nothing to read yet. An append to a ledger that
    holds anything is always written in WAL, where readers are never blocked.

    **Atomic.** A write killed midway leaves a hot journal: "Before reading from a database file, SQLite always
    checks to see if that database file has a hot journal. If the file does have a hot journal, then the journal is
    rolled back before the file is read." (https://www.sqlite.org/lockingv3.html, "Dealing with hot journals"): the
    next open finds the empty ledger it was (and its connect hook puts it back in WAL). A read-only open cannot roll
    it back ("The SQLITE_READONLY_ROLLBACK error code indicates that a database cannot be opened because it has a
    hot journal that needs to be rolled back but cannot because the database is readonly.",
    https://www.sqlite.org/rescode.html) and refuses the file with one line
    (:class:`~taxreport.ledger.sqlite_ro.HotJournal`), never reading it ``immutable``.

    **As durable as in WAL.** The ledger's connections run ``synchronous=FULL`` (SQLite's default, never lowered
    here): "Writers sync the WAL on every transaction commit if PRAGMA synchronous is set to FULL"
    (https://www.sqlite.org/wal.html). In DELETE mode the commit is the journal's deletion, which FULL does not
    sync: a power loss right after it could bring the journal back and roll the committed import back. So the write
    runs with ``synchronous=EXTRA``: "EXTRA synchronous is like FULL with the addition that the directory containing
    a rollback journal is synced after that journal is unlinked to commit a transaction in DELETE mode. EXTRA
    provides additional durability if the commit is followed closely by a power loss."
    (https://www.sqlite.org/pragma.html#pragma_synchronous). Never ``synchronous=OFF``, never ``journal_mode``
    OFF or MEMORY.

    **Back to WAL always**, once the transaction has committed or rolled back (a refused import leaves the file as it
    was, in WAL): "The WAL journaling mode is persistent; after being set it stays in effect across multiple database
    connections and after closing and reopening the database." (pragma.html). Should that switch fail (a process
    that opened the file meanwhile still holds it after the busy timeout), the file stays in DELETE mode, which holds
    and reads the same rows, and the next writable open puts it back in WAL (the connect hook). The rows are the
    same bytes either way: only the journal differs."""
    raw: Any = conn.connection.dbapi_connection if conn.dialect.name == "sqlite" else None
    if not bulk or raw is None or not _empty_wal_file(raw):
        yield False
        return
    synchronous = int(raw.execute("PRAGMA synchronous").fetchone()[0])
    try:
        mode = str(raw.execute("PRAGMA journal_mode=DELETE").fetchone()[0]).lower()
    except sqlite3.OperationalError:  # SQLITE_BUSY: another connection holds the file open
        mode = "wal"
    if mode != "delete":
        yield False  # (still WAL: "the original journal mode is returned")
        return
    try:
        raw.execute(f"PRAGMA synchronous={max(synchronous, SYNCHRONOUS_EXTRA)}")
        yield True
    finally:
        try:
            raw.execute("PRAGMA journal_mode=WAL").fetchone()
        except sqlite3.OperationalError:
            pass  # (see the docstring: the next writable open switches it; the rows are committed or rolled back)
        raw.execute(f"PRAGMA synchronous={synchronous}")


def _empty_wal_file(raw: sqlite3.Connection) -> bool:
    """A SQLite database file in WAL mode whose chain head is at ``seq`` 0 and that holds no event row (read
    outside any transaction, before the write: the write checks it again under its lock, :func:`_empty`)."""
    if str(raw.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        return False  # (an in-memory database, or a file someone put in another mode: left as it is)
    head = raw.execute("SELECT seq FROM ledger_head WHERE id = 1").fetchone()
    return head is not None and int(head[0]) == 0 and raw.execute("SELECT 1 FROM events LIMIT 1").fetchone() is None


def _empty(conn: Connection, seq: int) -> bool:
    """The ledger, as ``conn``'s write transaction sees it (head ``seq`` read under the lock), holds nothing."""
    return seq == 0 and conn.exec_driver_sql("SELECT 1 FROM events LIMIT 1").first() is None


def _parts(conn: Connection, sql: str) -> Iterator[list[Any]]:
    """The rows of ``sql`` (no parameters), :data:`CHUNK` at a time, from the driver's own cursor inside
    ``conn``'s transaction (the one that read the head: the same snapshot), without SQLAlchemy's row objects."""
    if not conn.in_transaction():
        conn.begin()  # the ledger's transaction (BEGIN on SQLite, READ ONLY on a read-only PostgreSQL)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
        while part := cursor.fetchmany(CHUNK):
            yield part
    finally:
        cursor.close()


def _first_undecodable(part: Sequence[Sequence[Any]],
                       errors: type[Exception] | tuple[type[Exception], ...] = _UNDECODABLE, *,
                       payload_at: int = 4) -> int:
    """The ``seq`` (column 0) of the first row of ``part`` whose payload (column ``payload_at``: 4 in a walk's
    :data:`WALK_COLUMNS` rows, 1 in ``seq, payload`` rows) does not decode; ``errors``: what counts as not
    decoding (``Exception`` for a payload not verified yet, which may raise anything)."""
    for row in part:
        try:
            decode_payloads([row[payload_at]])
        except errors:
            return int(row[0])
    return int(part[0][0])


_INSERT_COLUMNS = ("seq", "natural_key", "kind", "time", "accounts", "assets", "order_ref", "payload",
                   "content_hash", "actor", "reason", "recorded_at", "prev_hash", "hash")


class _Insert:
    """The INSERT of one append's rows. On SQLite, what every row of the append shares (actor, reason, time of
    recording) and what every row of a chunk shares (one kind, no order_ref: an import's trades) is written into
    the statement as a literal instead of being bound again for each row: the same values stored (TEXT or NULL,
    byte for byte), ~20% less of SQLite's insert work (fewer bindings, each a copy). A text holding a NUL (which a
    literal cannot) and PostgreSQL get every column bound, as before.

    On PostgreSQL the statement skips a row whose natural key is already stored (``ON CONFLICT (natural_key) DO
    NOTHING``) and :meth:`execute` raises :class:`_KeyStored` when any was skipped (the chunk's savepoint is then
    rolled back and the chunk written again without its stored events, as after SQLite's IntegrityError): the
    same rows in the end. The duplicate is not left to fail the insert there: psycopg sends ``executemany`` in
    pipeline mode, and an error inside the pipeline makes psycopg log "error ignored terminating
    <psycopg.Pipeline …>: pipeline aborted" on stderr (``Pipeline.__exit__`` in psycopg/_pipeline.py) at every
    re-import."""

    def __init__(self, conn: Connection, actor: str, reason: str, recorded_at: str) -> None:
        self.conn = conn
        self.mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        self.actor, self.reason, self.recorded_at = actor, reason, recorded_at
        self.literal = conn.dialect.name == "sqlite" and not any("\0" in t for t in (actor, reason, recorded_at))
        self.skip_stored = conn.dialect.name == "postgresql"
        self.statements: dict[tuple[str, ...], str] = {}

    def execute(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Insert ``rows`` with ``sql`` (:meth:`rows`); on PostgreSQL, :class:`_KeyStored` if a row was skipped."""
        written = self.conn.exec_driver_sql(sql, rows).rowcount
        if self.skip_stored and written != len(rows):
            raise _KeyStored(f"{len(rows) - written} of {len(rows)} event(s) to write are already in the ledger; "
                             "nothing was written")

    def rows(self, chunk: Encoded, pending: list[int] | None, seq: int, prev: str) -> tuple[str, list[tuple[Any, ...]]]:
        """The statement and its rows for the events of ``chunk`` at ``pending`` (:func:`_chain`)."""
        shared: dict[str, str | None] = {}
        if self.literal:
            shared = {"actor": self.actor, "reason": self.reason, "recorded_at": self.recorded_at}
            kinds, n = chunk.kinds, len(chunk)
            if n and kinds.count(kinds[0]) == n and "\0" not in kinds[0] and chunk.order_refs.count(None) == n:
                shared.update(kind=kinds[0], order_ref=None)
        rows = _chain(chunk, pending, seq, prev, self.actor, self.reason, self.recorded_at, tuple(shared))
        key = tuple(f"{k}={v}" for k, v in shared.items())
        sql = self.statements.get(key)
        if sql is None:
            values = ", ".join(_sql_literal(shared[c]) if c in shared else self.mark for c in _INSERT_COLUMNS)
            sql = f"INSERT INTO events ({', '.join(_INSERT_COLUMNS)}) VALUES ({values})"
            if self.skip_stored:
                sql += " ON CONFLICT (natural_key) DO NOTHING"
            self.statements[key] = sql
        return sql, rows


def _sql_literal(value: str | None) -> str:
    """SQLite's literal of a text without NUL (quotes doubled: SQLite has no other escape in a string literal)."""
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def _dedupe(chunk: Encoded, stored: Mapping[str, str]) -> tuple[list[int] | None, int]:
    """The positions in ``chunk`` of the events to write (None: all of them, the usual chunk) and the number of
    duplicates (same key, same content) skipped; the same key with different content is refused."""
    keys = chunk.keys
    if not stored and len(set(keys)) == len(keys):
        return None, 0
    seen: dict[str, tuple[str, int]] = {}  # key -> (content hash, position) of its first event in this chunk
    pending: list[int] = []
    dups = 0
    for i, (key, content_hash) in enumerate(zip(keys, chunk.content_hashes)):
        previous = stored.get(key)
        earlier = seen.get(key) if previous is None else None
        if previous is not None or earlier is not None:
            if (previous or earlier[0]) != content_hash:  # type: ignore[index]
                where = ("is already in the ledger" if earlier is None else
                         f"appears earlier in this import ({chunk.where(earlier[1]).rstrip(': ')})")
                raise LedgerError(
                    f"{chunk.where(i)}{key} {where} with different content; "
                    "events are never edited: reverse the old one and write a corrected one "
                    "with a new id")
            dups += 1
            continue
        seen[key] = (content_hash, i)
        pending.append(i)
    return pending, dups


def _chain(chunk: Encoded, pending: list[int] | None, seq: int, prev: str, actor: str, reason: str,
           recorded_at: str, shared: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    """Insert rows (in ``_INSERT_COLUMNS`` order) for the events of ``chunk`` at ``pending`` (None: all),
    numbered after ``seq`` and linked after ``prev`` (hashes: :func:`~taxreport.ledger.chain.chain_hashes`, or the
    chunk's own :attr:`Encoded.chained` when they were computed for exactly these rows after exactly this row).
    ``shared``: the names of the columns written as literals in the statement (:class:`_Insert`), left out of the
    rows (``seq`` and ``hash``, the first and last of a row, never are)."""
    columns = (chunk.keys, chunk.kinds, chunk.times, chunk.accounts, chunk.assets, chunk.order_refs, chunk.payloads,
               chunk.content_hashes)
    ahead = chunk.chained
    if pending is not None:
        if not pending:
            return []
        columns = tuple([c[i] for i in pending] for c in columns)  # type: ignore[assignment]
        ahead = None  # (hashed for the whole chunk)
    keys, kinds, times, accounts, assets, refs, payloads, content_hashes = columns
    if ahead is not None and ahead[:5] == (seq, prev, actor, reason, recorded_at) and len(ahead[5]) == len(keys):
        hashes = ahead[5]  # hashed beforehand for exactly these rows after exactly this row
    else:
        hashes = chain_hashes(actor, reason, recorded_at, prev, seq + 1, keys, kinds, times, payloads)
    n = len(hashes)
    column = {"seq": range(seq + 1, seq + 1 + n), "natural_key": keys, "kind": kinds, "time": times,
              "accounts": accounts, "assets": assets, "order_ref": refs, "payload": payloads,
              "content_hash": content_hashes, "actor": repeat(actor, n), "reason": repeat(reason, n),
              "recorded_at": repeat(recorded_at, n), "prev_hash": [prev, *hashes[:-1]], "hash": hashes}
    return list(zip(*(column[name] for name in _INSERT_COLUMNS if name not in shared)))


class _ReversalCheck:
    """The rules of reversals in one append: the target exists (stored or in the batch), is not itself a
    reversal, and is not reversed twice."""

    def __init__(self, ledger: "Ledger", conn: Connection, in_batch: set[str]) -> None:
        self.ledger, self.conn = ledger, conn
        self.in_batch = in_batch
        self.already = {
            json.loads(p)["target_key"]
            for (p,) in conn.execute(select(schema.events.c.payload).where(schema.events.c.kind == "reversal"))
        }

    def check(self, chunk: Encoded, pending: list[int]) -> None:
        if not pending:
            return
        events = chunk.events or []
        existing = self.ledger._existing(self.conn, [events[i].target_key for i in pending])  # type: ignore[attr-defined]
        for i in pending:
            target = events[i].target_key  # type: ignore[attr-defined]
            if target not in existing and target not in self.in_batch:
                raise LedgerError(f"{chunk.where(i)}reversal targets {target}, which is not in the ledger")
            if target.startswith("reversal:"):
                raise LedgerError(f"{chunk.where(i)}a reversal cannot be reversed; write the event again instead")
            if target in self.already:
                raise LedgerError(f"{chunk.where(i)}{target} is already reversed")
            self.already.add(target)
