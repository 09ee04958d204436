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

**A state read right after a write (no waiting).** File times have a coarse clock (a few ms; 2 s on FAT), so
a write made in the same tick as the last one may leave every file time as it was. A SQLite state whose files
were last written less than :data:`SETTLE_SECONDS` before it was read, and that no wal-index change counter
covers (no open connection holds a log), is therefore read together with a **digest of the files' content**
(SHA-256 of the database file and of its ``-wal``/``-journal`` when they hold anything), read right after
their times and before the walk. Its entries are stored at once, with that digest in the state's record
(``<state>.state`` beside them); an entry is served only when the digest read now is the same (the content is
byte for byte what the walk verified), and the record is marked settled, digest no longer needed, once a
read finds the same files written at least :data:`SETTLE_SECONDS` before it and the same content after it
(any later write then carries a later time). So the first ``gains`` right after an ``import`` waits for
nothing and its results are kept; an edit behind the chain in the same clock tick is still a miss (the walk
then refuses the ledger). Reading a 1,000,000-trade ledger's 773 MB costs ~0.9 s, and it is read twice (with the
state, then to settle the record); a settled state costs none. So when the time left until the files are
:data:`SETTLE_SECONDS` old is shorter than one read of their content (estimated from their sizes,
:data:`DIGEST_BYTES_PER_SECOND`), the state is read after that wait instead, settled (issue 14 round 5: the
first ``gains`` after a 1M-trade import starts a fraction of a second too early): every write made before that
read is in what the walk then reads, every write after it carries a later file time.

**A verified state.** Besides results, a state can hold one more record, ``<state>.verified``: the row count
and head hash of the chain a full walk verified inside :meth:`Ledger.pinned` under that state
(:meth:`DerivedCache.record_verified`, written by :meth:`Ledger.verified_events` once its walk verified). A later
command pinned in the same state (another computation: the first UK call after the US ones, an ``export``
after ``gains``, ``gains -y all`` of another country) finds it exactly as :meth:`DerivedCache.lookup` finds an entry
(same state, same content digest when young, same code) and reads the events from the payloads alone
(``SELECT seq, payload ... WHERE seq <= head``, decoded as the walk decodes them) without hashing: at 1,000,000
trades ~7.5 s of fetching (1.1 s) and decoding (5.9 s) instead of the 10.7-17 s walk and its child's CPU. The argument is the one above:
the record was written only after a walk that began after the state was read verified every row, so a record
found under the current state means the database holds the very rows that walk verified. Nothing else is
trusted: the head read in the read's transaction must be the recorded one and the rows exactly ``1..rows``, and
after the read the state is read again (:meth:`DerivedCache.unchanged`; for a young state its content digest
too, even if the files now look settled), so a write committed between the pin's read of the state and the
read of the rows (a SQLite ledger opened for writing holds ``BEGIN IMMEDIATE`` while it reads, so only before
that) drops what was read and the chain is walked. A payload that does not decode is the walk's error naming its row.
Its limits are the cache's: the forger described below (times set back, or content digest kept) would be read
without a walk, as their result would be served; ``taxreport ledger verify`` never uses the record (it always
walks), nor does a read outside a pin, with the cache off or unwritable, or of a ledger with no witness.

One limit, stated: a forger who sets a file's times back after editing it and keeps its content digest (or
recomputes every hash of the chain, which ``ledger verify`` cannot catch either) is out of reach. A ledger
with no witness (an in-memory SQLite, another database) is never cached. Entries are pickles in the user's
cache folder (created private, 0700): as with any file in the user's home, whoever can write it can run
code as the user. A year's summary (:meth:`DerivedCache.put`) is a pickle too, with its disposals encoded by
msgspec in C when they can be carried exactly (:func:`_write_summary`: issue 14 round 6).

Entries live in the user cache directory (``$TAXREPORT_HOME/cache`` when set), one folder per ledger URL;
writing an entry removes that ledger's entries of other states, so the folder holds one state's results.
A cache that cannot be written (read-only home) or read (corrupt file) is ignored: the result is computed.
``TAXREPORT_CACHE=0`` turns the cache off.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import io
import json
import os
import pickle
import struct
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain, islice
from functools import partial
from operator import attrgetter, is_not
from pathlib import Path
from typing import Any, TypeVar

# No SQLAlchemy here: a hit of ``gains --format json`` (:func:`stored_document`) reads the state with the
# sqlite3 module alone, and this module is imported on that path.

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


def cache_enabled() -> bool:
    return os.environ.get("TAXREPORT_CACHE", "1").strip() != "0"


# A SQLite state read at least this long after its files were last written is witnessed by their times alone;
# a younger one is witnessed by its content digest too (see the module docstring).
SETTLE_SECONDS = 1.0


def _now() -> float:
    return time.time()


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


# What reading a SQLite state's content for its digest costs (SHA-256 and the reads, this VM: 775 MB in ~0.9 s),
# to choose between reading it and waiting for the state to settle (:func:`_sqlite_read`).
DIGEST_BYTES_PER_SECOND = 800e6


def _digest_seconds(witness: list[Any]) -> float:
    """The estimated time :func:`_content_digest` takes for the files of ``witness`` (their sizes)."""
    return sum(entry[2] for entry in witness if isinstance(entry, list)) / DIGEST_BYTES_PER_SECOND


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
                header = os.pread(_kept_fd(file), 32, 0).hex()
        except FileNotFoundError:
            if not suffix:
                return None
            out.append(None)
            continue
        if suffix and st.st_size == 0:  # as if absent: the command's own connection may have made it
            out.append(None)
            continue
        if suffix:
            out.append([st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, header])
            latest = max(latest, st.st_mtime_ns / 1e9)
            if suffix == "-wal":
                try:  # WalIndexHdr: iVersion, unused, iChange, ..., mxFrame, ...
                    index = os.pread(_kept_fd(path.with_name(path.name + "-shm")), 48, 0)
                    if len(index) == 48:
                        out.append(index.hex())
                        counted = True
                except OSError:
                    pass
        else:
            out.append([st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns])
            latest = max(latest, st.st_mtime_ns / 1e9, st.st_ctime_ns / 1e9)
    return out, 0.0 if counted else latest


def _content_digest(path: Path) -> str | None:
    """SHA-256 of the database file and of its ``-wal`` and ``-journal`` files when they hold anything (each
    with its name and length). None when a file cannot be read."""
    h = hashlib.sha256()
    try:
        for suffix in ("", "-wal", "-journal"):
            file = path.with_name(path.name + suffix)
            try:
                fd = _kept_fd(file)
            except FileNotFoundError:
                continue
            size = os.fstat(fd).st_size
            h.update(f"{suffix}:{size};".encode())
            offset = 0
            while offset < size and (chunk := os.pread(fd, min(1 << 22, size - offset), offset)):
                h.update(chunk)
                offset += len(chunk)
    except OSError:
        return None
    return h.hexdigest()


#: Descriptors of the ledger's files this process has read (:func:`_kept_fd`), newest last.
_KEPT: dict[Path, int] = {}
#: How many files' descriptors are kept (a CLI call reads one ledger's 3-4 files; a test run reads hundreds of
#: ledgers, and the oldest are closed: their connections are long gone).
KEPT_FILES = 64


def _kept_fd(file: Path) -> int:
    """A read-only descriptor of ``file``, opened once and kept open while this process runs (read with
    ``os.pread``). Never opened and closed per read: closing *any* descriptor of a file drops every POSIX lock
    the process holds on it (fcntl(2): "If a process closes any file descriptor referring to a file, then all of
    the process's locks on that file are released"), and this process's SQLite connections hold their locks on
    the database, its ``-wal`` and its ``-shm`` (the wal-index) through their own descriptors. A reader whose
    ``-shm`` locks were dropped looks, to another process opening the ledger, like no reader at all: that process
    may reset the wal-index under the reader's mapping (the reader dies of ``SIGBUS``) or checkpoint over its
    snapshot. Reopened when the path now names another file (a new inode: the old descriptor is closed, as no
    connection can hold a lock through the name on the new file); the least recently read beyond
    :data:`KEPT_FILES` are closed. Raises ``FileNotFoundError`` (or another ``OSError``) when it cannot be
    opened."""
    fd = _KEPT.pop(file, None)
    if fd is not None:
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(file))
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            fd = None
    if fd is None:
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    _KEPT[file] = fd  # (re)inserted last: the most recently read
    while len(_KEPT) > KEPT_FILES:
        os.close(_KEPT.pop(next(iter(_KEPT))))
    return fd


def _young(latest: float, now: float) -> bool:
    return latest > now - SETTLE_SECONDS


@dataclasses.dataclass
class _Read:
    """How this process read a SQLite state: the files' witness, and the content digest read right after it
    when the state was young (None: the state was settled when read)."""

    path: Path
    witness: list[Any]
    digest: str | None


_READS: dict[str, _Read] = {}  # state -> how this process read it (the last read of each state)

_STATE_SQL = ("SELECT seq, hash FROM ledger_head WHERE id = 1", "SELECT count(*) FROM events",
              "SELECT count(*), max(id) FROM rates")


def _state_text(rows: list[Any], witness: list[Any]) -> str:
    (seq, digest), (count,), (rate_count, rate_max) = rows
    return hashlib.sha256(json.dumps([int(seq), str(digest), int(count), int(rate_count), rate_max, witness,
                                      code_version()]).encode()).hexdigest()


def _sqlite_read(path: Path, query: Callable[[], list[Any]]) -> str | None:
    """The state of the SQLite file ``path``: its files' witness (and content digest when young), then the
    counts ``query()`` reads from the database."""
    files = _file_witness(path)
    if files is None:
        return None
    witness, latest = files
    digest = None
    now = _now()
    if _young(latest, now):
        # Young: the content digest is read with the state, and read once more to settle the record after an
        # entry is stored (~0.9 s each for a 1M-trade ledger's 775 MB). Waiting until the files are
        # SETTLE_SECONDS old, then reading the state as usual, costs the time left instead (the first `gains`
        # after an import starts a fraction of a second before that): a state read then is settled, which
        # is the guarantee of any settled read (every write after it carries a later file time; the walk
        # comes after it and reads whatever was written before it), so no content is read at all. (A state
        # written again during the wait is read young, with its digest, as before: at most the wait lost.)
        wait = latest + SETTLE_SECONDS - now
        if 0 < wait <= SETTLE_SECONDS and wait < _digest_seconds(witness):
            _sleep(wait + 0.01)
            files = _file_witness(path)
            if files is None:
                return None
            witness, latest = files
            now = _now()
    if _young(latest, now):
        digest = _content_digest(path)
        if digest is None:
            return None
    state = _state_text(query(), witness)
    _READS[state] = _Read(path, witness, digest)
    return state


def _row_versions(conn: Any) -> list[Any]:
    """PostgreSQL: the count and the sum of ``xmin`` of the rows of ``events`` and ``rates`` (an update or a
    delete-and-insert gives a row a new transaction id)."""
    return [[int(n), int(total)] for table in ("events", "rates")
            for n, total in [conn.exec_driver_sql(f"SELECT count(*), coalesce(sum(xmin::text::bigint), 0) "
                                                  f"FROM {table}").one()]]


def _counts(conn: Any) -> list[Any]:
    return [tuple(conn.exec_driver_sql(sql).one()) for sql in _STATE_SQL]


def ledger_state(ledger: Any) -> str | None:
    """The fingerprint described in the module docstring (None: this ledger cannot be cached now)."""
    from taxreport.ledger.store import sqlite_path

    if ledger.engine.dialect.name == "sqlite":
        path = sqlite_path(str(ledger.url))
        if path is None:
            return None

        def query() -> list[Any]:
            with ledger.engine.connect() as conn:
                return _counts(conn)
        return _sqlite_read(path, query)
    with ledger.engine.connect() as conn:
        if conn.dialect.name != "postgresql":
            return None
        witness = _row_versions(conn)
        return _state_text(_counts(conn), witness)


def still(ledger: Any, state: str, digest: str | None = None) -> bool:
    """Whether ``ledger`` is in ``state`` now as this process last read it (:func:`ledger_state`): SQLite, the
    same files' witness, the same content digest (``digest``, else that read's own) when the state was stored or
    read young (read again now even if the files look settled, as an edit in the same clock tick leaves their
    times as they were), then the same counts; PostgreSQL, the same state read again. A ``True`` after some
    reading means no write was committed between the two reads of the state, so what was read in between is what
    ``state`` holds."""
    if ledger.engine.dialect.name != "sqlite":
        return ledger_state(ledger) == state
    read = _READS.get(state)
    if read is None:
        return False
    files = _file_witness(read.path)
    if files is None or files[0] != read.witness:
        return False
    wanted = digest if digest is not None else read.digest
    if wanted is not None and _content_digest(read.path) != wanted:
        return False
    with ledger.engine.connect() as conn:
        return _state_text(_counts(conn), files[0]) == state


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


# :meth:`DerivedCache.later` forks a writer only for work at least this big (e.g. a year's disposals): below it,
# forking (~5-20 ms, more with a large heap) costs more than it saves.
FORK_MIN = 2000


def _threads() -> int:
    """The threads of this process: with another one (a bot's worker; a terminal's progress bar refresher is stopped
    for the fork by :func:`taxreport.progress.suspended`), a lock it holds at the fork would stay held in the child
    for ever, so no child is made."""
    import threading

    return threading.active_count()


_LOADAVG = Path("/proc/loadavg")  # Linux: "1.05 0.70 0.52 2/136 27708": the 4th field's first number is the
# count of tasks runnable right now (this process, reading it, included)


def _idle_cores() -> int:
    """The CPUs this process may run on that nothing else is using right now, this process apart: the tasks
    runnable at this instant (Linux ``/proc/loadavg``; elsewhere the load average over the last minute). A
    child with no idle CPU to run on only adds the cost of forking (~25% more work: the pages both processes
    then write are copied) to a busy machine."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count() or 1
    try:
        others = int(_LOADAVG.read_text().split()[3].split("/")[0]) - 1
    except (OSError, IndexError, ValueError):
        try:
            others = int(os.getloadavg()[0] + 0.5)
        except (AttributeError, OSError):
            others = 0
    return cpus - 1 - others


#: At most this many writer children of :meth:`DerivedCache.later` run at once (more only add forks and copied pages).
MAX_WRITERS = 4
#: A writer child's niceness (added to this process's): while writers and this process share the cores, this process
#: runs first, as it computes what the next writers store (Linux CFS: nice 5 weighs about a third of nice 0).
WRITER_NICENESS = 5


def _each(calls: list[Callable[[], object]]) -> None:
    """Call each of ``calls``, in order."""
    for call in calls:
        call()


@dataclasses.dataclass
class _Writer:
    """A writer child of :meth:`DerivedCache.later`: its pid, the state it stores under, the work to run here if
    it fails, what it holds until then, whether it settles the state, what to run here once it ended well."""

    pid: int
    state: str
    work: Callable[[], object] | None  # None once it ended well and nothing is left to do here
    holds: Any
    settles: bool
    after: Callable[[], object] | None
    status: int | None = None  # its wait status once reaped (-1: not our child any more)

    def ended_well(self) -> bool:
        """Wait for the child (if not reaped yet); whether it ended with exit status 0."""
        if self.status is None:
            try:
                _, self.status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                self.status = -1
        return self.status != -1 and os.waitstatus_to_exitcode(self.status) == 0


_MISSING: Any = object()  # what DerivedCache._get returns when nothing servable is stored
_READ_ERRORS = (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError,
                ValueError)


class DerivedCache:
    """``DerivedCache(ledger).get_or_compute(name, key, compute)``: ``compute()`` once per ledger state."""

    def __init__(self, ledger: Any, folder: Path | None = None, *, url: str | None = None) -> None:
        self.ledger = ledger
        url_id = hashlib.sha256(str(url if url is not None else ledger.url).encode()).hexdigest()[:24]
        self.folder = (folder or cache_root()) / "derived" / url_id
        self.enabled = cache_enabled()
        self.hits = 0
        self.misses = 0
        self._valid: dict[str, bool] = {}  # state -> its record checked (see _servable)
        self._promoted: set[str] = set()
        self._children: list[_Writer] = []  # later(): the writer children not yet joined, oldest first
        self._batch: list[Any] | None = None  # the later() calls of one_writer()'s block

    def get_or_compute(self, name: str, key: Mapping[str, Any], compute: Callable[[], T]) -> T:
        """``compute()``'s value, pickled (dataclasses field by field, see :func:`_dispatch_table`)."""
        return self._cached(name, key, compute, ".pickle", _read_pickle, _write_pickle)

    def get_or_compute_bytes(self, name: str, key: Mapping[str, Any], compute: Callable[[], bytes]) -> bytes:
        """A document (e.g. the ``gains --format json`` text) stored as its bytes: nothing to unpickle."""
        return self._cached(name, key, compute, ".bytes", _read_bytes, _write_bytes)

    def pinned_state(self) -> str | None:
        """The state entries are stored under while the ledger is pinned (:meth:`Ledger.pinned`: read before
        the walk); None when the cache is off, the ledger is not pinned or its state cannot be cached."""
        pin = getattr(self.ledger, "_pin", None)
        return pin.state if self.enabled and pin is not None else None

    def _path(self, state: str, name: str, key: Mapping[str, Any], suffix: str) -> Path:
        entry = hashlib.sha256(json.dumps([name, key], sort_keys=True, default=repr).encode()).hexdigest()
        return self.folder / f"{state[:32]}-{entry[:32]}{suffix}"

    def _record(self, state: str) -> Path:
        return self.folder / f"{state[:32]}.state"

    def _verified_path(self, state: str) -> Path:
        return self.folder / f"{state[:32]}.verified"

    def _read_record(self, state: str) -> tuple[bool, str | None]:
        """(whether ``state`` has a record, the content digest it was stored with: None once settled)."""
        try:
            value = json.loads(self._record(state).read_text())
            return True, value["digest"]
        except (OSError, ValueError, KeyError, TypeError):
            return False, None

    def _servable(self, state: str) -> bool:
        """Whether entries stored under ``state`` may be served now: the state has a record and, when it was
        stored young, the content read now is the one it was stored with (then, when this process read the
        state settled, the record is marked settled). Checked once per state and instance."""
        known = self._valid.get(state)
        if known is not None:
            return known
        exists, stored = self._read_record(state)
        ok = exists
        if exists and stored is not None:
            read = _READS.get(state)
            current = read.digest if read is not None and read.digest is not None else (
                _content_digest(read.path) if read is not None else None)
            ok = current == stored
            if not ok:
                self._forget(state)  # the content changed under unchanged file times: nothing there is valid
            elif read is not None and read.digest is None:
                self._write_record(state, None)  # read settled, content as stored: settled from now on
        self._valid[state] = ok
        return ok

    def _prepare(self, state: str) -> bool:
        """Make ``state``'s record ready for a new entry (False: do not store)."""
        if self._valid.get(state):
            return True
        read = _READS.get(state)
        exists, stored = self._read_record(state)
        if exists and self._servable(state):
            return True
        if exists:  # stored with another content: those entries are gone (_servable), ours start afresh
            self._forget(state)
        ok = self._write_record(state, read.digest if read is not None else None)
        self._valid[state] = ok
        return ok

    def _settle(self, state: str) -> None:
        """After a store under a young state: once its files are as read and older than SETTLE_SECONDS, and
        the content is still the one read, mark the record settled (one more read of the content, once)."""
        read = _READS.get(state)
        if read is None or read.digest is None or state in self._promoted:
            return
        files = _file_witness(read.path)
        if files is None or files[0] != read.witness or _young(files[1], _now()):
            return
        self._promoted.add(state)
        if _content_digest(read.path) == read.digest and self._read_record(state) == (True, read.digest):
            self._write_record(state, None)

    def _write_record(self, state: str, digest: str | None) -> bool:
        return self._store(self._record(state), state[:32], json.dumps({"digest": digest}).encode(), _write_bytes)

    def _forget(self, state: str) -> None:
        try:
            for old in self.folder.glob(f"{state[:32]}*"):
                old.unlink(missing_ok=True)
        except OSError:
            pass

    def verified_chain(self) -> tuple[int, str] | None:
        """The verified-state record of the pinned state: ``(rows, head hash)`` of the chain a full walk verified
        under this very state (:meth:`record_verified`), found exactly as :meth:`lookup` finds an entry (same
        state, same content digest for a young one, same code); None when there is none, the cache is off or the
        ledger is not pinned. What it allows and why: "A verified state" in the module docstring."""
        state = self.pinned_state()
        if state is None:
            return None
        value = self._get_at(state, self._verified_path(state), _read_bytes)
        if value is _MISSING:
            return None
        try:
            rows, head = json.loads(value)
        except (ValueError, TypeError):
            return None
        if type(rows) is not int or type(head) is not str:
            return None
        return rows, head

    def record_verified(self, rows: int, head_hash: str) -> bool:
        """Record, under the pinned state (read before the walk), that a full walk of the chain made inside the
        pin verified ``rows`` rows ending in ``head_hash``. Only for a walk that verified (the reason a later read
        needs no walk: the module docstring). False when nothing was recorded (not pinned, cache off)."""
        state = self.pinned_state()
        if state is None:
            return False
        if not self._prepare(state):  # (not settled here: a young state is settled by what is stored next, as
            return False              # the writer child of :meth:`later` does, or by the next read's check)
        return self._store(self._verified_path(state), state[:32], json.dumps([int(rows), str(head_hash)]).encode(),
                           _write_bytes)

    def unchanged(self) -> bool:
        """Whether the ledger is still in its pinned state as this process read it: read again now, the state is
        the same and, when it was read young, so is its content digest (read again even if the files now look
        settled: an edit in the same clock tick leaves their times as they were), compared with the digest the
        state's record was stored with (not only with this process's last read of it). Called after rows were read
        trusting :meth:`verified_chain`: True means no write was committed between the pin's read of the state and
        this one, so the rows read in between are the pinned state's."""
        state = self.pinned_state()
        if state is None:
            return False
        exists, stored = self._read_record(state)  # the digest the state's entries were stored with (None: settled)
        return exists and still(self.ledger, state, stored)

    def lookup(self, name: str, key: Mapping[str, Any]) -> Any | None:
        """The stored value of ``(name, key)`` under the pinned state (None: not stored, or not pinned)."""
        state = self.pinned_state()
        if state is None:
            return None
        value = self._get(state, name, key, ".pickle", _read_summary)
        if value is _MISSING or value is None:
            return None
        self.hits += 1
        return value

    def lookup_bytes(self, name: str, key: Mapping[str, Any]) -> bytes | None:
        """:meth:`lookup` of a document stored with :meth:`put_bytes` (None: not stored, or not pinned)."""
        state = self.pinned_state()
        if state is None:
            return None
        value = self._get(state, name, key, ".bytes", _read_bytes)
        if value is _MISSING:
            return None
        self.hits += 1
        return value  # type: ignore[no-any-return]

    def _get(self, state: str, name: str, key: Mapping[str, Any], suffix: str, read: Callable[[Any], Any]) -> Any:
        """The stored value, or ``_MISSING``."""
        return self._get_at(state, self._path(state, name, key, suffix), read)

    def _get_at(self, state: str, path: Path, read: Callable[[Any], Any]) -> Any:
        try:
            if not path.is_file():
                return _MISSING
        except OSError:  # a cache folder this user cannot read (another user's, 0700)
            return _MISSING
        if not self._servable(state):
            return _MISSING
        try:
            with path.open("rb") as fh:
                return read(fh)
        except _READ_ERRORS:
            return _MISSING

    def put(self, name: str, key: Mapping[str, Any], value: Any) -> bool:
        """Store ``value`` as what :meth:`get_or_compute` of ``(name, key)`` would compute, under the pinned
        state. Only for a value computed inside the pin, from the walk made there (the reason a hit needs no
        walk, see the module docstring). False when nothing was stored (not pinned, cache off)."""
        state = self.pinned_state()
        if state is None:
            return False
        return self._put(state, self._path(state, name, key, ".pickle"), value, _write_summary)

    def put_bytes(self, name: str, key: Mapping[str, Any], value: bytes | Iterable[bytes]) -> bool:
        """:meth:`put` for what :meth:`get_or_compute_bytes` of ``(name, key)`` would compute (or its pieces:
        their concatenation is the document, written to its one file piece by piece as they come; pieces left
        unread when the cache is off or its file cannot be written)."""
        state = self.pinned_state()
        if state is None:
            return False
        return self._put(state, self._path(state, name, key, ".bytes"), value, _write_bytes)

    def _put(self, state: str, path: Path, value: Any, write: Callable[[Any, Any], object]) -> bool:
        if not self._prepare(state):
            return False
        stored = self._store(path, state[:32], value, write)
        self._settle(state)
        return stored

    def _cached(self, name: str, key: Mapping[str, Any], compute: Callable[[], T], suffix: str,
                read: Callable[[Any], T], write: Callable[[T, Any], object]) -> T:
        if not self.enabled:
            return compute()
        pin = getattr(self.ledger, "_pin", None)
        state = pin.state if pin is not None else ledger_state(self.ledger)
        if state is None:
            self.misses += 1
            return compute()
        value = self._get(state, name, key, suffix, read)
        if value is not _MISSING:
            self.hits += 1
            return value  # type: ignore[no-any-return]
        self.misses += 1
        value = compute()
        self._put(state, self._path(state, name, key, suffix), value, write)
        return value

    def later(self, work: Callable[[], object], *, size: int, holds: Any = None,
              here: Callable[[], object] | None = None, after: Callable[[], object] | None = None) -> None:
        """Run ``work()`` (entries to store: :meth:`put`, :meth:`put_bytes`, under the pinned state) in a forked
        child, on another core, while this process goes on (matching the next year, handing the next entries to
        children of their own); or here and now when that is not worth it (``size``, e.g. the disposals to write,
        below :data:`FORK_MIN`), not possible (no ``os.fork``), of no use (no idle CPU: :func:`_idle_cores`, this
        process's own running writers not counted as busy), not safe (another thread runs: a lock it holds would
        stay held in the child; a terminal's progress bar refresher is stopped for the fork,
        :func:`taxreport.progress.suspended`), too many writers already run (:data:`MAX_WRITERS`) or nothing would
        be stored (cache off, not pinned, the state's record cannot be written). Several writers may run at once:
        this process never waits for one before the end (:meth:`join`), so each entry is written as soon as it is
        ready and the cores stay busy until the last one is written (issue 14 round 7: one writer at a time held the
        parent for the previous one, and the parent wrote what it could have handed over).

        The child only writes files of this folder, each atomically (a temporary file, then ``os.replace``: a
        reader finds the whole entry or none), touches neither the database nor stdout, and leaves with
        ``os._exit`` (no buffer flushed, no connection closed). ``holds`` (e.g. the summary being stored) is kept
        until :meth:`join` has seen the child's exit status: when the child did not end with 0 (an exception, a
        signal, killed for memory), its temporary files are removed and the work is run here, as it was before
        there was a child (same entries, same errors). ``here``: what is run instead of ``work`` when it runs in
        this process (none: ``work``), e.g. storing a document while printing it; ``after``: run here by
        :meth:`join` once the child ended with 0 (e.g. printing the document the child stored). Anything ``work()``
        does besides storing runs in the child: keep it to storing. The first child also settles the state
        (:meth:`_settle`: one more read of the database's content when it was young when read), which this process
        and the later children then need not do."""
        if self._batch is not None:  # one writer for the batch (:meth:`one_writer`), made at its end
            self._batch.append((work, size, holds, here, after))
            return
        local = work if here is None else here
        state = self.pinned_state()
        fork = getattr(os, "fork", None)
        if state is None or fork is None or size < FORK_MIN or not self._prepare(state):
            local()
            return
        running = self._running()
        if running >= MAX_WRITERS or _idle_cores() + running < 1:
            local()
            return
        from taxreport import progress

        with progress.suspended():  # a terminal's progress bar refresher stops for the fork (and starts again)
            pid = None
            if _threads() == 1:
                try:
                    pid = fork()
                except OSError:
                    pid = None
            if pid == 0:  # the child: store, then leave without running anything of the parent's exit
                code = 1
                try:
                    import gc

                    gc.disable()  # a collection would touch (copy) every page of the parent's heap
                    try:  # this process (matching the next year, which more entries wait for) first, when the
                        os.nice(WRITER_NICENESS)  # writers outnumber the idle cores
                    except (AttributeError, OSError):
                        pass
                    work()
                    self._settle(state)  # the content digest read (~0.7 s at 1M trades) here too, if still to do
                    code = 0
                finally:
                    os._exit(code)  # never leaves the block: the display is started again by the parent alone
        if pid is None:
            local()
            return
        settles = state not in self._promoted  # the child settles the state, if it can: not this process meanwhile
        self._promoted.add(state)
        self._children.append(_Writer(pid, state, local, holds, settles, after))

    @contextlib.contextmanager
    def one_writer(self) -> Iterator[None]:
        """The :meth:`later` calls of the block are handed to one writer child, made at the block's end, which runs
        their work in order (as :meth:`later` of the whole: one fork for several entries of one year; when it is
        not worth it, they run here in order; when the child fails, each one's work is run here, in order; once it
        ended well, each one's ``after``). Handed over also when the block raises (as each :meth:`later` would have
        been). A block inside another adds to the outer one."""
        if self._batch is not None:
            yield
            return
        batch: list[tuple[Callable[[], object], int, Any, Callable[[], object] | None, Callable[[], object] | None]]
        self._batch = batch = []
        try:
            yield
        finally:
            self._batch = None
            if batch:
                self._hand_over(batch)

    def _hand_over(self, batch: list[tuple[Callable[[], object], int, Any, Callable[[], object] | None,
                                           Callable[[], object] | None]]) -> None:
        """:meth:`later` of the calls gathered by :meth:`one_writer` (see there)."""
        if len(batch) == 1:
            work, size, holds, here, after = batch.pop()
            self.later(work, size=size, holds=holds, here=here, after=after)
            return
        works = [b[0] for b in batch]
        locals_ = [b[0] if b[3] is None else b[3] for b in batch]
        afters = [b[4] for b in batch if b[4] is not None]
        size = max(b[1] for b in batch)
        holds = [b[2] for b in batch]
        batch.clear()
        self.later(partial(_each, works), size=size, holds=holds, here=partial(_each, locals_),
                   after=partial(_each, afters) if afters else None)

    def _running(self) -> int:
        """How many of this process's writer children still run (those that ended are reaped here, their exit
        status kept for :meth:`join`)."""
        count = 0
        for child in self._children:
            if child.status is None:
                try:
                    pid, status = os.waitpid(child.pid, os.WNOHANG)
                except ChildProcessError:
                    child.status = -1
                    continue
                if pid:
                    child.status = status
                    if child.after is None and child.ended_well():  # its entries are stored: what it holds (a
                        child.work = child.holds = None             # year's summary) is freed now, not at join
                else:
                    count += 1
        return count

    def join(self) -> None:
        """Wait for the children of :meth:`later` (if any), each in the order they were made; when one did not end
        with exit status 0, remove its temporary files and run its work here (see :meth:`later`), else run its
        ``after``. Every child is waited for, also when that work raises (nothing runs on after the command). Then
        settle the state as :meth:`_put` does, if the child that was to settle it did not."""
        children, self._children = self._children, []
        try:
            while children:
                child = children.pop(0)
                ok = child.ended_well()
                if child.settles:
                    self._promoted.discard(child.state)
                if not ok:
                    try:
                        for tmp in self.folder.glob(f"{child.pid}.*.tmp"):
                            tmp.unlink(missing_ok=True)
                    except OSError:
                        pass
                    assert child.work is not None  # (dropped only once it ended well)
                    child.work()
                elif child.after is not None:
                    child.after()
                if child.settles and self._read_record(child.state) != (True, None):  # the child did not settle it
                    self._settle(child.state)
                del child
        finally:
            for child in children:  # (only when the work above raised)
                child.ended_well()
                if child.settles:
                    self._promoted.discard(child.state)

    def copy_stored(self, name: str, key: Mapping[str, Any], out: Any) -> bool:
        """Write what :meth:`put_bytes` stored as ``(name, key)`` under the pinned state to the binary stream ``out``
        (read and written a megabyte at a time, never held whole), then a newline, and flush it: what
        ``click.echo`` of those bytes writes (e.g. the document a writer child stored, printed once it ended).
        False, with nothing written, when it is not stored (or cannot be opened); not counted as a hit. An error
        writing ``out`` is raised as it would be by ``click.echo``."""
        import shutil

        state = self.pinned_state()
        if state is None:
            return False
        path = self._path(state, name, key, ".bytes")
        try:
            if not path.is_file() or not self._servable(state):
                return False
            fh = path.open("rb")
        except OSError:
            return False
        with fh:
            shutil.copyfileobj(fh, out, 1 << 20)
        out.write(b"\n")
        out.flush()
        return True

    def _store(self, path: Path, state: str, value: T, write: Callable[[T, Any], object]) -> bool:
        import tempfile  # only when storing (a hit never imports it)

        tmp: str | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            for old in self.folder.iterdir():
                if old.suffix in (".pickle", ".bytes", ".state", ".verified") and not old.name.startswith(state):
                    old.unlink(missing_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f"{os.getpid()}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                write(value, fh)
            os.replace(tmp, path)
            return True
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            if tmp is not None:  # a cache that cannot be written only costs the recomputation next time
                Path(tmp).unlink(missing_ok=True)
            return False


def stored_document(url: str, name: str, key: Mapping[str, Any]) -> bytes | None:
    """The document stored as ``(name, key)`` for the current state of the SQLite ledger file at ``url``
    (``sqlite:///path``), read without opening a :class:`~taxreport.ledger.Ledger`: no SQLAlchemy, no schema
    check, the state read with the sqlite3 module (the same files, queries and fingerprint as
    :func:`ledger_state`). None on any miss: the caller then opens the ledger and runs the command as usual.
    Only for a file this process can write (a read-only copy is opened as the command opens it)."""
    if not cache_enabled() or not url.startswith("sqlite:///") or "?" in url or ":memory:" in url:
        return None
    path = Path(url.removeprefix("sqlite:///"))
    try:
        if not path.is_file() or not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
            return None
    except OSError:
        return None
    try:
        files = _file_witness(path)
    except OSError:
        return None
    if files is None or _young(files[1], _now()):  # just written: left to the command (no content read here)
        return None
    import sqlite3

    def query() -> list[Any]:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            return [tuple(conn.execute(sql).fetchone()) for sql in _STATE_SQL]
        finally:
            conn.close()
    try:
        state = _sqlite_read(path, query)
    except (sqlite3.Error, OSError, TypeError, ValueError):  # not a taxreport ledger, a schema to migrate, ...
        return None
    if state is None:
        return None
    cache = DerivedCache(None, url=url)
    value = cache._get(state, name, key, ".bytes", _read_bytes)
    return value if isinstance(value, bytes) else None


def _read_bytes(fh: Any) -> bytes:
    return fh.read()  # type: ignore[no-any-return]


def _write_bytes(value: bytes | Iterable[bytes], fh: Any) -> None:
    if isinstance(value, (bytes, bytearray)):
        fh.write(value)
    else:
        fh.writelines(value)


def _read_pickle(fh: Any) -> Any:
    return _unpack(pickle.load(fh))


def _write_pickle(value: Any, fh: Any) -> None:
    pickler = pickle.Pickler(fh, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _dispatch_table()  # type: ignore[misc]
    pickler.dump(_pack(value))


# --- columns: a long list of one dataclass (a year's disposals and their lots) stored field by field ----------

BLOCK_MIN = 32  # a list at least this long of instances of one dataclass is stored as columns


class _Col:
    """A column stored in a compact form (:func:`_column`), tagged by its own type (a plain column is the tuple
    of its values, whatever they are: a tag in a tuple could be a value)."""

    __slots__ = ("kind", "data", "extra")

    def __init__(self, kind: str, data: Any, extra: Any) -> None:
        self.kind, self.data, self.extra = kind, data, extra

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Col, (self.kind, self.data, self.extra))

    def values(self) -> list[Any]:
        from decimal import Decimal

        if self.kind == "decimal":
            return list(map(Decimal, self.data.split(","))) if self.extra else []
        items = iter(self.extra.objects())  # "tuples": the lengths, then a block of the items
        return [tuple(islice(items, n)) for n in self.data]


class _Block:
    """Instances of one dataclass as one column per field: a column of exact ``Decimal`` values is their text
    joined (one ``str`` and one ``Decimal()`` per value, in C), a column of tuples of one dataclass (each
    disposal's lots) is the tuples' lengths and a block of their items (each such column a :class:`_Col`), any
    other column the tuple of its values, pickled as usual. :meth:`objects` rebuilds the very values:
    ``Decimal(str(d))`` keeps the digits and exponent.

    Measured on a 1M-trade US year (148,900 disposals, 331,516 lots; issue 14 round 5): storing it takes
    ~1.0-1.7 s: these columns ~0.6 s (the Decimals' text ~0.2 s, reading the fields ~0.2 s), pickle's dump
    ~0.55 s, ~0.45 s of it the 333,000 distinct datetimes (disposal times and the acquisition times the lots
    share). Datetimes as microseconds since 1970 in one ``array('q')`` were tried: 0.24 s less to store, 0.18 s
    more to read back (a ``timedelta`` and a sum per value, where unpickling a datetime is one C call) and one
    object per lot instead of the shared ones: not kept."""

    __slots__ = ("cls", "kind", "columns")

    def __init__(self, cls: type, kind: type, columns: list[Any]) -> None:
        self.cls, self.kind, self.columns = cls, kind, columns

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Block, (self.cls, self.kind, self.columns))

    def objects(self) -> Any:
        columns = [column.values() if type(column) is _Col else column for column in self.columns]
        positional, names = _shape(self.cls)
        if positional:
            rebuilt = list(map(self.cls, *columns))
        else:
            rebuilt = [_rebuild(self.cls, names, values) for values in zip(*columns)]
        return rebuilt if self.kind is list else self.kind(rebuilt)


def _one_dataclass(values: Any) -> type | None:
    """The dataclass every item of ``values`` is an instance of (exactly), else None."""
    kinds = set(map(type, values))
    if len(kinds) != 1:
        return None
    (cls,) = kinds
    return cls if dataclasses.is_dataclass(cls) and hasattr(cls, "__slots__") else None


def _column(values: Any) -> Any:
    """One field's values (a tuple) as stored: Decimals as text, tuples of one dataclass as a block, else as
    they are."""
    from decimal import Decimal

    kinds = set(map(type, values))
    if kinds == {Decimal}:
        return _Col("decimal", ",".join(map(str, values)), len(values))
    if kinds == {tuple}:
        flat = [item for group in values for item in group]
        inner = _one_dataclass(flat) if flat else None
        if inner is not None and len(_shape(inner)[1]) > 1:
            return _Col("tuples", list(map(len, values)), _block(flat, list))
    return values


def _block(values: Any, kind: type) -> _Block:
    """``values`` as columns, one field at a time (no row tuples: a 1M-trade year's disposals as rows and as
    columns at once were ~100 MB more at the peak of the first ``gains`` call)."""
    cls = type(values[0])
    columns = [_column(tuple(map(attrgetter(name), values))) for name in _shape(cls)[1]] if values else []
    return _Block(cls, kind, columns)


def _pack(value: Any) -> Any:
    """``value`` (a dataclass instance, e.g. a YearSummary) with each long list of one slotted dataclass among
    its fields replaced by a :class:`_Block` (on a shallow copy: ``value`` itself is left as it is)."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type) or hasattr(value, "__slots__"):
        return value
    packed = None
    for f in dataclasses.fields(value):
        items = getattr(value, f.name)
        if type(items) in (list, tuple) and len(items) >= BLOCK_MIN and _one_dataclass(items) is not None \
                and len(_shape(type(items[0]))[1]) > 1:
            if packed is None:
                packed = copy.copy(value)
            object.__setattr__(packed, f.name, _block(items, type(items)))
    return value if packed is None else packed


def _unpack(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and not hasattr(value, "__slots__"):
        for f in dataclasses.fields(value):
            items = getattr(value, f.name)
            if isinstance(items, _Block):
                object.__setattr__(value, f.name, items.objects())
    return value


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



# --- a stored year's summary (put / lookup): its long lists of dataclasses as msgpack, encoded in C -----------

#: The first bytes of a summary entry in this form (the number is its format version); anything else is read as
#: the pickle of :func:`_write_pickle` (an entry written before this form, or one this form cannot carry).
SUMMARY_MAGIC = b"TXRSUM\x01\n"
_SUMMARY_HEAD = struct.Struct("<QQI")  # the header's length, the lists' length, CRC-32 of header and lists

# A list part of the header: (field, "list" | "tuple", items, bytes, the items' class, the fields whose concrete
# type differs from the declared one: (field, concrete class or NoneType, None allowed)).
_Part = tuple[str, str, int, int, type, tuple[tuple[str, type, bool], ...]]


def _write_summary(value: Any, fh: Any) -> None:
    """:func:`_store_summary` with the cyclic collector off (see :func:`_collector_off`)."""
    with _collector_off():
        _store_summary(value, fh)


def _read_summary(fh: Any) -> Any:
    """:func:`_load_summary` with the cyclic collector off (see :func:`_collector_off`)."""
    with _collector_off():
        return _load_summary(fh)


@contextlib.contextmanager
def _collector_off() -> Iterator[None]:
    """The block with Python's cyclic garbage collector paused (then as it was): storing or reading a summary
    makes or visits a few hundred thousand acyclic objects (freed by their reference counts), and each
    collection their making sets off would traverse the whole heap of a ``gains`` call (its events: ~0.5 s per
    1M-trade year's read, measured with a 3M-object heap beside)."""
    import gc

    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _store_summary(value: Any, fh: Any) -> None:
    """Store a summary (a :class:`~taxreport.jurisdictions.base.YearSummary`, or any plain dataclass) for
    :meth:`DerivedCache.put`. Each long list of one slotted dataclass among its fields (a year's disposals, their
    lots and details inside) whose every value msgpack carries exactly (:func:`_exact_fields`) is encoded by
    ``msgspec`` in C, one call for the whole list, instead of pickled object by object; the rest of the summary
    (its totals, notes, open lots...) is the pickle of :func:`_write_pickle`, as before. A summary with anything
    the fast form cannot carry exactly (a value of another type than its field declares, a time not in
    ``timezone.utc``, a ``str`` subclass, an integer beyond 64 bits...) is stored whole by :func:`_write_pickle`,
    as before. The entry (read by :func:`_read_summary`): :data:`SUMMARY_MAGIC`, the header's and the lists'
    lengths and their CRC-32, the header (a description of each list, then the pickled rest), then the lists."""
    try:
        import msgspec
    except ImportError:  # (a declared dependency; without it, the form of before)
        fast = []
    else:
        fast = _fast_lists(value)
    if fast:

        shell = copy.copy(value)
        parts: list[_Part] = []
        bodies: list[bytes] = []
        try:
            encoder = msgspec.msgpack.Encoder()
            for name, items, cls, overrides in fast:
                body = encoder.encode(items)
                _decoder(cls, overrides)  # the reader's decoder can be built (else: not this form)
                parts.append((name, "tuple" if type(items) is tuple else "list", len(items), len(body), cls,
                              overrides))
                bodies.append(body)
                object.__setattr__(shell, name, [])
            header = io.BytesIO()
            pickle.dump(parts, header, protocol=pickle.HIGHEST_PROTOCOL)
            _write_pickle(shell, header)
        except (TypeError, ValueError, OverflowError, AttributeError, NameError, RecursionError,
                msgspec.MsgspecError, pickle.PicklingError):
            pass  # stored whole as a pickle, below
        else:
            head = header.getvalue()
            crc = zlib.crc32(head)
            for body in bodies:
                crc = zlib.crc32(body, crc)
            fh.write(SUMMARY_MAGIC + _SUMMARY_HEAD.pack(len(head), sum(map(len, bodies)), crc))
            fh.write(head)
            fh.writelines(bodies)
            return
    _write_pickle(value, fh)


def _load_summary(fh: Any) -> Any:
    """What :func:`_write_summary` stored, in either form. Raises ``ValueError`` (a miss) when the entry is not
    whole (its lengths or its CRC-32 differ: truncated or damaged) or does not decode to what it describes."""
    if fh.read(len(SUMMARY_MAGIC)) != SUMMARY_MAGIC:
        fh.seek(0)
        return _read_pickle(fh)
    import msgspec

    fixed = fh.read(_SUMMARY_HEAD.size)
    if len(fixed) != _SUMMARY_HEAD.size:
        raise ValueError("a truncated summary entry")
    head_len, lists_len, crc = _SUMMARY_HEAD.unpack(fixed)
    data = fh.read()
    if len(data) != head_len + lists_len or zlib.crc32(data) != crc:
        raise ValueError("a damaged summary entry")
    view = memoryview(data)
    header = io.BytesIO(view[:head_len])
    parts: list[_Part] = pickle.load(header)
    value = _read_pickle(header)
    if header.tell() != head_len or sum(part[3] for part in parts) != lists_len \
            or not dataclasses.is_dataclass(value) or isinstance(value, type):
        raise ValueError("a damaged summary entry")
    offset = head_len
    for name, kind, count, size, cls, overrides in parts:
        decoder, twin = _decoder(cls, overrides)
        try:
            items = decoder.decode(view[offset:offset + size])
        except msgspec.MsgspecError as e:
            raise ValueError(f"a damaged summary entry: {e}") from None
        if len(items) != count:
            raise ValueError("a damaged summary entry")
        if twin is not None:  # decoded as the twin (the same slots, its fields' concrete types declared)
            set_class = object.__setattr__
            for item in items:
                set_class(item, "__class__", cls)
        object.__setattr__(value, name, items if kind == "list" else tuple(items))
        offset += size
    return value


def _fast_lists(value: Any) -> list[tuple[str, Any, type, tuple[tuple[str, type, bool], ...]]]:
    """The fields of the plain dataclass ``value`` that :func:`_write_summary` encodes with msgspec: (field, the
    list, its items' class, the concrete types of fields declared abstract). A list that cannot be is left in
    the summary, pickled as before; with none, the whole entry is the pickle of :func:`_write_pickle`."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type) or hasattr(value, "__slots__"):
        return []
    out = []
    for f in dataclasses.fields(value):
        items = getattr(value, f.name)
        if type(items) not in (list, tuple) or len(items) < BLOCK_MIN:
            continue
        cls = _one_dataclass(items)
        if cls is None or not hasattr(cls, "__slots__"):
            continue
        overrides: dict[type, dict[str, tuple[type, bool]]] = {}
        try:
            exact = _exact_fields(cls, items, overrides)
        except (TypeError, ValueError, AttributeError, NameError, RecursionError):
            exact = False
        if not exact or set(overrides) - {cls}:  # (only the list's own class can be decoded as a twin)
            continue  # pickled with the rest, as before (e.g. open lots, with their free-form ``extra``)
        out.append((f.name, items, cls, tuple(sorted((name, c, opt) for name, (c, opt)
                                                     in overrides.get(cls, {}).items()))))
    return out


_NONE = type(None)
_NOT_NONE = partial(is_not, None)
_ATOMS = (str, bool, int)  # carried by msgpack as themselves (an int within 64 bits, or the encoding fails)
_HINTS: dict[type, tuple[tuple[str, ...], tuple[Any, ...]]] = {}


def _field_hints(cls: type) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """The field names of the dataclass ``cls`` and their declared types (resolved)."""
    got = _HINTS.get(cls)
    if got is None:
        import typing

        if hasattr(cls, "__post_init__") or any(not f.init or f.name.startswith("_") for f in dataclasses.fields(cls)):
            raise TypeError(f"{cls.__name__}: not rebuilt from its fields alone")
        hints = typing.get_type_hints(cls)
        names = tuple(f.name for f in dataclasses.fields(cls))
        got = _HINTS[cls] = (names, tuple(hints[n] for n in names))
    return got


def _exact_fields(cls: type, objs: Any, overrides: dict[type, dict[str, tuple[type, bool]]]) -> bool:
    """Whether msgspec's encoding of the instances ``objs`` (all of class ``cls`` exactly) decodes, by their
    declared types, to the very values: each field's values are of exactly the declared type (no subclass, no
    ``bool`` for an ``int``, no list for a tuple), times are aware in ``timezone.utc`` with ``fold`` 0, nested
    dataclasses likewise, and an instance without slots holds its fields and nothing else. A field declared as
    an abstract class (``Detail | None``) whose values are all of one concrete dataclass is recorded in
    ``overrides`` (the decoder declares that class instead). The types are gathered a field at a time in C (one
    ``attrgetter`` of every field per instance, the types of each row as a tuple, a set of the rows)."""
    names, hints = _field_hints(cls)
    if not objs:
        return True
    if hasattr(objs[0], "__dict__"):
        if set(map(len, map(vars, objs))) != {len(names)}:
            return False
    width = len(names)
    getter = attrgetter(*names)
    if width == 1:
        rows = {(t,) for t in map(type, map(getter, objs))}
    else:
        flat_types = map(type, chain.from_iterable(map(getter, objs)))
        rows = set(zip(*[flat_types] * width))
    for i, (name, hint) in enumerate(zip(names, hints)):
        kinds = {row[i] for row in rows}

        def column(name: str = name) -> Iterable[Any]:
            return map(attrgetter(name), objs)
        declared = _exact_values(hint, kinds, column, overrides)
        if declared is None:
            return False
        if declared is not hint:
            overrides.setdefault(cls, {})[name] = declared
    return True


def _exact_values(hint: Any, kinds: set[type], column: Callable[[], Iterable[Any]],
                  overrides: dict[type, dict[str, tuple[type, bool]]]) -> Any:
    """For one field declared ``hint`` whose values have the types ``kinds`` (``column()``: the values): ``hint``
    itself when msgpack carries the values exactly by it, ``(concrete class, None allowed)`` when the values are of
    one concrete dataclass of an abstract declared class, None when they cannot be carried exactly."""
    import types
    import typing
    from datetime import datetime, timezone
    from decimal import Decimal

    inner, optional = hint, False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if len(args) != 2 or _NONE not in args:
            return None
        (inner,) = (a for a in args if a is not _NONE)
        optional = True
    if _NONE in kinds and not optional:
        return None
    values = kinds - {_NONE}

    def present() -> Iterable[Any]:
        return filter(_NOT_NONE, column()) if optional else column()
    if inner in _ATOMS or inner is Decimal:
        return hint if values <= {inner} else None
    if inner is datetime:  # (a datetime is never false: filter(None) drops the Nones)
        if not values <= {datetime}:
            return None
        times = filter(None, column()) if optional else column()
        return hint if set(map(attrgetter("tzinfo", "fold"), times)) <= {(timezone.utc, 0)} else None
    if typing.get_origin(inner) is tuple:
        args = typing.get_args(inner)
        if len(args) != 2 or args[1] is not Ellipsis or not values <= {tuple}:
            return None
        element = args[0]
        flat = list(chain.from_iterable(filter(None, column())))  # (an empty tuple, or None, adds nothing)
        element_kinds = set(map(type, flat))
        if isinstance(element, type) and dataclasses.is_dataclass(element):
            if not element_kinds <= {element} or not _exact_fields(element, flat, overrides):
                return None
            return hint
        return hint if _exact_values(element, element_kinds, lambda: iter(flat), {}) is element else None
    if isinstance(inner, type) and inner not in (float, bytes, list, dict, set, frozenset):
        if not values:  # every value None
            return hint if dataclasses.is_dataclass(inner) else (_NONE, True)
        if len(values) != 1:
            return None
        (concrete,) = values
        if not (dataclasses.is_dataclass(concrete) and issubclass(concrete, inner)):
            return None
        if not _exact_fields(concrete, list(present()), overrides):
            return None
        return hint if concrete is inner else (concrete, optional)
    return None


_DECODERS: dict[tuple[type, tuple[tuple[str, type, bool], ...]], tuple[Any, type | None]] = {}


def _decoder(cls: type, overrides: tuple[tuple[str, type, bool], ...]) -> tuple[Any, type | None]:
    """msgspec's decoder of a list of ``cls`` (and the twin class it decodes into, None when ``cls`` itself):
    with ``overrides``, a twin subclass of ``cls`` with no slots of its own (the same layout, so each item's
    class is set back to ``cls`` after decoding) that declares those fields' concrete types."""
    key = (cls, overrides)
    got = _DECODERS.get(key)
    if got is None:
        import msgspec

        twin: type | None = None
        target: type = cls
        if overrides:
            declared = {name: (concrete | None if optional and concrete is not _NONE else concrete)
                        for name, concrete, optional in overrides}
            twin = type(f"_Decoded{cls.__name__}", (cls,), {"__slots__": (), "__annotations__": declared,
                                                             "__module__": cls.__module__})
            target = twin
        got = _DECODERS[key] = (msgspec.msgpack.Decoder(list[target]), twin)  # type: ignore[valid-type]
    return got
