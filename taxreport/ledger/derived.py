"""Derived state computed once per ledger state: a file cache of results (a tax year's summary, anything
picklable) keyed by what the ledger holds, so a second export, a re-run or a repeated ``gains`` on an
unchanged ledger reuses the work instead of redoing it from the beginning of time.

:func:`taxreport.gains.gains_for` keeps each tax year's summary here (:meth:`DerivedCache.lookup` and
:meth:`DerivedCache.put` inside :meth:`Ledger.pinned`, so every entry, including the other years a one-year
miss computes, is keyed by the state read before the one walk); ``ledger verify`` never uses this cache.

**The key** of an entry is the ledger state read *before* the computation, plus the caller's ``name`` and
request. The ledger state is:

* the chain head (last ``seq`` and its hash) and the row count: any append, by anyone, changes them;
* the rate store's row count and largest id (rates are only ever inserted);
* a **storage witness** that changes with any committed write to the database, made by any program:
  SQLite: device, inode, size and modification time (ns) of the database file (and its status-change
  time) and of its ``-wal`` and ``-journal`` files when they hold anything, and the ``-wal`` header (its
  salts change whenever the log restarts); PostgreSQL: the count and the sum of the
  ``xmin`` (the writing transaction's id) of every row version in ``events`` and ``rates``;
* the code: taxreport's version and the size and mtime of every module, and Python's version, so an upgrade
  or an edited rule never reads a result an older rule computed.

**Why a hit needs no walk of the hash chain.** An entry is stored only when its computation returned, and
the computation (``gains_for``) begins by walking the whole chain: a chain that does not verify raises and
nothing is stored. The state in the key was read *before* that walk, so the walk saw the database as it was
then or later; if anything was written in between, the witness read at the next call differs from the key
and the entry is never found. So an entry found under the current state means: the database holds the very
rows a full walk verified, and serving the result is what a fresh walk and computation would give. This
includes an edit made behind the chain's back that keeps the row count and the head (editing an earlier
row's payload): SQLite writes the change to the ``-wal`` file or the database file, so the modification
time changes (and the size or the ``-wal`` header, unless the new frames overwrite old ones of the same log;
the database file's status-change time cannot be set back by any user tool); PostgreSQL
gives the updated row version the new transaction's id, so the ``xmin`` sum changes. Such a state was never
verified, so it is a miss, the walk runs and the ledger is refused as before.

Two limits, both stated: file times have a coarse clock (a few ms), so a SQLite state that no wal-index
change counter covers (no open connection holds a log) is only stored when its files were last written at
least :data:`SETTLE_SECONDS` before the state was read (a later write then carries a later time); and a forger who sets a file's times back after editing it (or recomputes
every hash of the chain, which ``ledger verify`` cannot catch either) is out of reach of both. A ledger
with no witness (an in-memory SQLite, another database) is never cached. Entries are pickles in the user's
cache folder (created private, 0700): as with any file in the user's home, whoever can write it can run
code as the user.

Entries live in the user cache directory (``$TAXREPORT_HOME/cache`` when set), one folder per ledger URL;
writing an entry removes that ledger's entries of other states, so the folder holds one state's results.
A cache that cannot be written (read-only home) or read (corrupt file) is ignored: the result is computed.
``TAXREPORT_CACHE=0`` turns the cache off.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from taxreport.ledger import schema

T = TypeVar("T")
_PACKAGE = Path(__file__).resolve().parent.parent
_code_version: str | None = None


def code_version() -> str:
    """taxreport's version plus the size and mtime of each of its modules (computed once per process)."""
    global _code_version
    if _code_version is None:
        from taxreport import __version__

        h = hashlib.sha256(f"{__version__} {sys.version}".encode())
        for path in sorted(_PACKAGE.rglob("*.py")):
            st = path.stat()
            h.update(f"{path.relative_to(_PACKAGE)}:{st.st_size}:{st.st_mtime_ns};".encode())
        _code_version = h.hexdigest()
    return _code_version


def cache_root() -> Path:
    home = os.environ.get("TAXREPORT_HOME")
    if home:
        return Path(home) / "cache"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("taxreport", appauthor=False))


# A SQLite state is stored only when its files were last written at least this long before it was read (see
# the module docstring: file times have a clock of a few milliseconds).
SETTLE_SECONDS = 1.0


def _now() -> float:
    return time.time()


def _file_witness(path: Path) -> tuple[list[Any], float] | None:
    """The SQLite files' identity, size and modification time (and the database file's status-change time),
    the ``-wal`` file's header (checkpoint sequence and salts: new on every restart of the log) and, while
    the log holds frames, the ``-shm`` wal-index header (its change counter and last valid frame move with
    every committed transaction); and the time to compare with :data:`SETTLE_SECONDS`: the latest file time
    when no wal-index counter covers the state (0 when one does). None when the database file does not
    exist. An empty ``-wal`` (every process that opens the file creates one) says nothing about the content
    and is left out. The ``-wal`` file's status-change time is left out too: SQLite run as root gives it the
    database file's owner on every open (``fchown``), which changes that time without any write."""
    out: list[Any] = []
    latest = 0.0
    counted = False
    for suffix in ("", "-wal", "-journal"):
        file = path.with_name(path.name + suffix)
        try:
            st = file.stat()
            if suffix and st.st_size:
                with file.open("rb") as fh:
                    header = fh.read(32).hex()
        except FileNotFoundError:
            if not suffix:
                return None
            out.append(None)
            continue
        if suffix and st.st_size == 0:
            out.append(0)
            continue
        if suffix:
            out.append([st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, header])
            latest = max(latest, st.st_mtime_ns / 1e9)
            if suffix == "-wal":
                try:
                    with path.with_name(path.name + "-shm").open("rb") as fh:
                        index = fh.read(48)  # WalIndexHdr: iVersion, unused, iChange, ..., mxFrame, ...
                    if len(index) == 48:
                        out.append(index.hex())
                        counted = True
                except OSError:
                    pass
        else:
            out.append([st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns])
            latest = max(latest, st.st_mtime_ns / 1e9, st.st_ctime_ns / 1e9)
    return out, 0.0 if counted else latest


def wait_until_settled(ledger: Any) -> None:
    """Wait (at most :data:`SETTLE_SECONDS`) until a SQLite ledger's files were last written long enough ago
    for its state to be stored: the first ``gains`` right after an ``import`` would otherwise find a state too
    young to store and could not keep the other years it computes (taxreport/gains.py). Only file times are
    read; nothing is waited for when the cache is off or a wal-index counter covers the state."""
    from taxreport.ledger.store import sqlite_path

    if os.environ.get("TAXREPORT_CACHE", "1").strip() == "0" or ledger.engine.dialect.name != "sqlite":
        return
    path = sqlite_path(str(ledger.url))
    files = _file_witness(path) if path is not None else None
    if files is not None and files[1]:
        young = files[1] + SETTLE_SECONDS - _now()
        if 0 < young <= SETTLE_SECONDS:
            time.sleep(young + 0.01)


def _row_versions(conn: Connection) -> list[Any]:
    """PostgreSQL: the count and the sum of ``xmin`` of the rows of ``events`` and ``rates`` (an update or a
    delete-and-insert gives a row a new transaction id)."""
    return [[int(n), int(total)] for table in ("events", "rates")
            for n, total in [conn.execute(text(f"SELECT count(*), coalesce(sum(xmin::text::bigint), 0) "
                                               f"FROM {table}")).one()]]


def ledger_state(ledger: Any) -> str | None:
    """The fingerprint described in the module docstring (None: this ledger cannot be cached now)."""
    from taxreport.ledger.store import sqlite_path

    events, rates = schema.events, schema.rates
    witness: list[Any] | None = None
    if ledger.engine.dialect.name == "sqlite":
        path = sqlite_path(str(ledger.url))
        files = _file_witness(path) if path is not None else None
        if files is None or files[1] > _now() - SETTLE_SECONDS:
            return None
        witness = files[0]
    with ledger.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            witness = _row_versions(conn)
        elif witness is None:
            return None
        head = conn.execute(select(schema.ledger_head.c.seq, schema.ledger_head.c.hash)
                            .where(schema.ledger_head.c.id == 1)).one()
        count = conn.execute(select(func.count()).select_from(events)).scalar_one()
        rate_count, rate_max = conn.execute(select(func.count(), func.max(rates.c.id))).one()
    return hashlib.sha256(json.dumps([int(head[0]), str(head[1]), int(count), int(rate_count), rate_max, witness,
                                      code_version()]).encode()).hexdigest()


def _rebuild(cls: type, names: tuple[str, ...], values: tuple[Any, ...]) -> Any:
    """A dataclass instance from its field values without running ``__init__`` (frozen or with
    ``__post_init__``: the values were already checked when the instance was first made)."""
    obj: Any = object.__new__(cls)
    for name, value in zip(names, values):
        object.__setattr__(obj, name, value)
    return obj


_SHAPES: dict[type, tuple[bool, tuple[str, ...]]] = {}


def _shape(cls: type) -> tuple[bool, tuple[str, ...]]:
    """(whether ``cls(*values)`` rebuilds an instance exactly, the field names) of a dataclass."""
    shape = _SHAPES.get(cls)
    if shape is None:
        fields = dataclasses.fields(cls)
        positional = (cls.__dataclass_params__.init and not hasattr(cls, "__post_init__")  # type: ignore[attr-defined]
                      and all(f.init and not f.kw_only for f in fields))
        shape = _SHAPES[cls] = (positional, tuple(f.name for f in fields))
    return shape


def _reduce(obj: Any) -> Any:
    positional, names = _shape(type(obj))
    values = tuple(getattr(obj, n) for n in names)
    return (type(obj), values) if positional else (_rebuild, (type(obj), names, values))


def _dispatch_table() -> dict[Any, Any]:
    """``copyreg``'s table plus every taxreport dataclass loaded: pickled as their field values. The default
    for a slotted frozen dataclass goes through ``dataclasses``' ``__getstate__``/``__setstate__``, which look
    the fields up again for every instance (a 100,000-trade year's summary took ~3 s each way, 2-3x this);
    a table lookup (not ``reducer_override``) keeps Decimals and datetimes on pickle's C path."""
    import copyreg

    table: dict[Any, Any] = dict(copyreg.dispatch_table)
    for name, module in list(sys.modules.items()):
        if name == "taxreport" or name.startswith("taxreport."):
            for value in list(vars(module).values()):
                if isinstance(value, type) and hasattr(value, "__dataclass_fields__") \
                        and value.__module__ == name:
                    table[value] = _reduce
    return table


class DerivedCache:
    """``DerivedCache(ledger).get_or_compute(name, key, compute)``: ``compute()`` once per ledger state."""

    def __init__(self, ledger: Any, folder: Path | None = None) -> None:
        self.ledger = ledger
        url_id = hashlib.sha256(str(ledger.url).encode()).hexdigest()[:24]
        self.folder = (folder or cache_root()) / "derived" / url_id
        self.enabled = os.environ.get("TAXREPORT_CACHE", "1").strip() != "0"
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, name: str, key: Mapping[str, Any], compute: Callable[[], T]) -> T:
        """``compute()``'s value, pickled (dataclasses field by field, see :func:`_dispatch_table`)."""
        return self._cached(name, key, compute, ".pickle", _read_pickle, _write_pickle)

    def get_or_compute_bytes(self, name: str, key: Mapping[str, Any], compute: Callable[[], bytes]) -> bytes:
        """A document (e.g. the ``gains --format json`` text) stored as its bytes: nothing to unpickle."""
        return self._cached(name, key, compute, ".bytes", lambda fh: fh.read(), lambda value, fh: fh.write(value))

    def pinned_state(self) -> str | None:
        """The state entries are stored under while the ledger is pinned (:meth:`Ledger.pinned`: read before
        the walk); None when the cache is off, the ledger is not pinned or its state cannot be cached."""
        pin = getattr(self.ledger, "_pin", None)
        return pin.state if self.enabled and pin is not None else None

    def _path(self, state: str, name: str, key: Mapping[str, Any], suffix: str) -> Path:
        entry = hashlib.sha256(json.dumps([name, key], sort_keys=True, default=repr).encode()).hexdigest()
        return self.folder / f"{state[:32]}-{entry[:32]}{suffix}"

    def lookup(self, name: str, key: Mapping[str, Any]) -> Any | None:
        """The stored value of ``(name, key)`` under the pinned state (None: not stored, or not pinned)."""
        state = self.pinned_state()
        if state is None:
            return None
        try:
            with self._path(state, name, key, ".pickle").open("rb") as fh:
                value = _read_pickle(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError):
            return None
        self.hits += 1
        return value

    def put(self, name: str, key: Mapping[str, Any], value: Any) -> bool:
        """Store ``value`` as what :meth:`get_or_compute` of ``(name, key)`` would compute, under the pinned
        state. Only for a value computed inside the pin, from the walk made there (the reason a hit needs no
        walk, see the module docstring). False when nothing was stored (not pinned, cache off)."""
        state = self.pinned_state()
        if state is None:
            return False
        self._store(self._path(state, name, key, ".pickle"), state[:32], value, _write_pickle)
        return True

    def put_bytes(self, name: str, key: Mapping[str, Any], value: bytes) -> bool:
        """:meth:`put` for what :meth:`get_or_compute_bytes` of ``(name, key)`` would compute."""
        state = self.pinned_state()
        if state is None:
            return False
        self._store(self._path(state, name, key, ".bytes"), state[:32], value, lambda v, fh: fh.write(v))
        return True

    def _cached(self, name: str, key: Mapping[str, Any], compute: Callable[[], T], suffix: str,
                read: Callable[[Any], T], write: Callable[[T, Any], object]) -> T:
        if not self.enabled:
            return compute()
        pin = getattr(self.ledger, "_pin", None)
        state = pin.state if pin is not None else ledger_state(self.ledger)
        if state is None:
            self.misses += 1
            return compute()
        path = self._path(state, name, key, suffix)
        try:
            with path.open("rb") as fh:
                value = read(fh)
            self.hits += 1
            return value
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError):
            pass
        self.misses += 1
        value = compute()
        self._store(path, state[:32], value, write)
        return value

    def _store(self, path: Path, state: str, value: T, write: Callable[[T, Any], object]) -> None:
        tmp: str | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            for old in self.folder.iterdir():
                if old.suffix in (".pickle", ".bytes") and not old.name.startswith(state):
                    old.unlink(missing_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                write(value, fh)
            os.replace(tmp, path)
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            if tmp is not None:  # a cache that cannot be written only costs the recomputation next time
                Path(tmp).unlink(missing_ok=True)


def _read_pickle(fh: Any) -> Any:
    return pickle.load(fh)


def _write_pickle(value: Any, fh: Any) -> None:
    pickler = pickle.Pickler(fh, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _dispatch_table()  # type: ignore[misc]
    pickler.dump(value)


def cache_for(ledger: Any) -> DerivedCache:
    """The ledger's one :class:`DerivedCache` (kept on the ``Ledger`` object: one per command)."""
    cache = getattr(ledger, "_derived_cache", None)
    if cache is None:
        cache = DerivedCache(ledger)
        try:
            ledger._derived_cache = cache
        except AttributeError:  # an object that takes no attributes: a new cache each call
            pass
    return cache
