"""The hash chain verified on the machine's second core while the reader decodes (issue 14).

A verified read (:meth:`taxreport.ledger.store.Ledger.verified_events`) spends about a third of its time
rebuilding each row's canonical text and hashing it (:class:`~taxreport.ledger.chain.ChainWalk`), work that is
independent of decoding the payloads. :class:`ChainWorker` hands it to a child Python process, in one of two ways:

* **the child reads the file** (a SQLite ledger stored in a file): the child opens the database itself, read-only,
  and walks every row up to the head the reader read (``seq <= head_seq``; never a row appended after it) in its
  own read transaction, while the reader fetches only ``seq, payload`` in its transaction and decodes. Both sides
  hash every ``(seq, payload)`` they read, in order (:class:`RowsDigest`: one SHA-256); the reader uses what it decoded
  only if the child's walk verifies, ends at the reader's head (its ``seq`` and hash) and saw exactly the
  ``(seq, payload)`` bytes the reader decoded. Anything else (the child found a bad row, a write or an edit made
  between the two reads, the child failed) makes the reader walk the chain again in its own transaction, so the
  answer, the one-line reason and the row it names are always those of a walk over the reader's snapshot. (A
  row's other hashed columns are not compared between the two reads: an edit of those alone, made while the
  child runs, and undone before it reads that row, is the one change the child does not see; the events the
  reader returns are then the verified ones all the same.)
* **the rows go through a pipe** (PostgreSQL: a child would need the database's credentials, which never leave
  this process; an in-memory SQLite database): the reader, in its one read transaction, sends each chunk of rows
  exactly as the database gave them (``marshal`` over a pipe), then decodes the same chunk while the child runs
  :class:`~taxreport.ledger.chain.ChainWalk` over it. The child's walk is over the reader's own rows: its verdict
  is the answer (the same one-line reasons naming the same first bad row).

Either way the reader uses nothing it decoded until the child's verdict on every row has come back; any failure
of the child (it cannot start, cannot open the file, dies, answers garbage, a value it cannot be sent) makes the
reader walk the chain again in its own process, as before.

The child is a fresh interpreter (``subprocess``, not ``os.fork``: the reader may hold threads, locks and
database connections that a forked copy must not touch), run ``python -S -E``; it imports only
:mod:`taxreport.ledger.chain`, :mod:`taxreport.ledger.sqlite_ro` and the standard library (``sqlite3`` to read a
file), and talks only through its two pipes (the file's path is sent through the pipe, not in its arguments).

Frames, both ways: a 4-byte big-endian length, then that many bytes of ``marshal`` data. To the child: first
the request, ``("file", path, last_seq)`` or ``("pipe", after_seq, after_hash)``; for a pipe, then one list of
row tuples (:data:`~taxreport.ledger.chain.WALK_COLUMNS` order) per frame, then an empty frame (the end). From
the child: one verdict ``(count, prev, bad)`` (a pipe) or ``(count, prev, bad, digest)`` (a file), where ``bad``
is None or the fields of the first bad row's :class:`~taxreport.ledger.chain.VerifyResult` and ``digest`` is the
hex :class:`RowsDigest` digest of the rows walked. A pipe's verdict is sent as soon as a bad row is found (the child then
only drains its input), else after the end frame; a file's once the walk ends.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import select
import sqlite3
import struct
import subprocess
import sys
from array import array
from pathlib import Path
from typing import IO, Any, Sequence

from taxreport.ledger.chain import GENESIS, ChainWalk, VerifyResult
from taxreport.ledger.sqlite_ro import connect_read_only

_LEN = struct.Struct(">I")

#: Below this many rows a verified read walks the chain in its own process (starting the child, ~20 ms, would
#: cost more than the hashing it saves). Tests set it to 0 to run every read through the child.
MIN_ROWS = 20_000

#: Rows the child fetches at a time from a file.
CHUNK = 5000


class WorkerFailed(Exception):
    """The child could not give a verdict the reader may use (the caller walks the chain itself)."""


class RowsDigest:
    """One SHA-256 over a sequence of payload texts, given chunk by chunk (:meth:`update`): the same digest however
    they are chunked. Two streams, each hashed as it comes: each payload's length in characters (8 bytes each) and
    the payloads' UTF-8 text; :meth:`hexdigest` hashes the two digests. Together they name the sequence exactly
    (the lengths split the text back into the payloads). Of rows numbered ``1..n`` on both sides, what the reader
    decoded and what the child verified are the same ``(seq, payload)`` iff the digests are equal."""

    def __init__(self) -> None:
        self._lengths, self._text = hashlib.sha256(), hashlib.sha256()

    def update(self, payloads: Sequence[str]) -> None:
        """Add the next payloads. Raises ``TypeError`` for a value the ledger does not write (not a str)."""
        self._lengths.update(array("q", map(len, payloads)).tobytes())
        self._text.update("".join(payloads).encode("utf-8", "surrogatepass"))

    def hexdigest(self) -> str:
        return hashlib.sha256(self._lengths.digest() + self._text.digest()).hexdigest()


# The child's query, a chunk at a time: each row's hashed columns, its links, and whether its ``actor``, ``reason``
# and ``recorded_at`` are the ones given (``IS``: the same type and the same bytes, SQLite's BINARY comparison).
# The rows of one append share those three; a million-row import is one append. Compared in SQLite, they are
# fetched (three new Python strings per row: a third of the fetch) only for a row where they differ.
_SAME = "actor IS :actor AND reason IS :reason AND recorded_at IS :recorded_at"
_CHUNK_SQL = (f"SELECT seq, natural_key, kind, time, payload, prev_hash, hash, {_SAME}, "
              f"CASE WHEN {_SAME} THEN NULL ELSE actor END, CASE WHEN {_SAME} THEN NULL ELSE reason END, "
              f"CASE WHEN {_SAME} THEN NULL ELSE recorded_at END "
              "FROM events WHERE seq > :after AND seq <= :last ORDER BY seq LIMIT :size")


def _connect(path: str) -> sqlite3.Connection:
    """The ledger file opened read-only as the reader opens a read-only ledger
    (:func:`taxreport.ledger.sqlite_ro.connect_read_only`: ``mode=ro``; a file in a folder this process cannot write
    and no pending write-ahead log, as ``immutable``; with one, :class:`~taxreport.ledger.sqlite_ro.PendingLog`).

    ``readonly_shm``: the child never writes the ``-shm`` wal-index either. SQLite resets (truncates) that shared file
    when it opens a database no other process holds a lock on; a POSIX lock is dropped when its process closes
    *any* descriptor of the file, so a reader that had opened and closed the ``-shm`` file itself would hold none,
    and a child resetting the file under its mapping would kill it (``SIGBUS``). The derived cache's witness keeps
    its descriptors open for that reason (:func:`taxreport.ledger.derived._kept_fd`); this is the second guard.
    A short busy timeout: a child that cannot read at once gives up (the reader then walks the chain itself) rather
    than wait on a writer that waits on the reader."""
    return connect_read_only(path, timeout=2, readonly_shm=True)


def walk_file(path: str, last_seq: int) -> tuple[ChainWalk, str]:
    """The child's walk of a ledger file: every row ``seq <= last_seq``, in one read transaction, fed to a
    :class:`ChainWalk` :data:`CHUNK` rows at a time and :class:`RowsDigest`-ed as it verifies. Returns the walk and the
    hex digest of the rows it verified.

    Each chunk is read by :data:`_CHUNK_SQL` with the ``actor``, ``reason`` and ``recorded_at`` of the last row
    before it: a chunk whose rows all share them is walked column by column (:meth:`ChainWalk.fast_shared`) without
    fetching them; any other chunk (a new append begins, or the fast test fails) is fed as whole rows
    (:meth:`ChainWalk.feed`, the values SQLite said are the same filled in), exactly as a walk of every row's
    :data:`~taxreport.ledger.chain.WALK_COLUMNS` would feed it."""
    digest = RowsDigest()
    walk = ChainWalk()
    conn = _connect(path)
    try:
        conn.execute("BEGIN")
        params: dict[str, object] = {"actor": None, "reason": None, "recorded_at": None, "after": 0,
                                     "last": int(last_seq), "size": CHUNK}
        while part := conn.execute(_CHUNK_SQL, params).fetchall():
            seqs, keys, kinds, times, payloads, prevs, hashes, same, actors, reasons, recorded = zip(*part)
            given = (params["actor"], params["reason"], params["recorded_at"])
            if not (same.count(1) == len(part) and walk.fast_shared(*given, seqs, keys, kinds, times,  # type: ignore[arg-type]
                                                                     payloads, prevs, hashes)):
                rows = [(seqs[i], keys[i], kinds[i], times[i], payloads[i],
                         *(given if same[i] else (actors[i], reasons[i], recorded[i])), prevs[i], hashes[i])
                        for i in range(len(part))]
                if not walk.feed(rows):
                    break
            if not same[-1]:
                params["actor"], params["reason"], params["recorded_at"] = actors[-1], reasons[-1], recorded[-1]
            params["after"] = part[-1][0]
            digest.update(payloads)  # numbered 1, 2, 3… (the walk verified it)
        conn.execute("ROLLBACK")
    finally:
        conn.close()
    return walk, digest.hexdigest()


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if data is None or len(data) != size:
        raise WorkerFailed("the verifying process stopped")
    return data


def _read_frame(stream: IO[bytes]) -> Any:
    (size,) = _LEN.unpack(_read_exact(stream, _LEN.size))
    return marshal.loads(_read_exact(stream, size)) if size else None


def _write_frame(stream: IO[bytes], data: bytes) -> None:
    stream.write(_LEN.pack(len(data)))
    stream.write(data)


def serve(inp: IO[bytes], out: IO[bytes]) -> None:
    """The child's loop: read the file, or walk the chunks it is sent; answer once (see the module docstring)."""
    request = _read_frame(inp)
    if request[0] == "file":
        _, path, last_seq = request
        walk, digest = walk_file(path, last_seq)
        _answer(out, walk, digest)
        return
    _, after_seq, after_hash = request
    walk = ChainWalk(after_seq=after_seq, after_hash=after_hash)
    answered = False
    while True:
        (size,) = _LEN.unpack(_read_exact(inp, _LEN.size))
        if not size:
            break
        data = _read_exact(inp, size)
        if answered:
            continue  # a bad row was reported: drain until the reader stops sending
        if not walk.feed(marshal.loads(data)):
            _answer(out, walk)
            answered = True
    if not answered:
        _answer(out, walk)


def _answer(out: IO[bytes], walk: ChainWalk, *digest: str) -> None:
    bad = walk.bad
    verdict = (walk.count, walk.prev,
               None if bad is None else (bad.ok, bad.rows, bad.head_hash, bad.first_bad_seq, bad.problem), *digest)
    _write_frame(out, marshal.dumps(verdict))
    out.flush()


def main() -> None:
    """Entry point of the child process (stdin/stdout are the pipes)."""
    serve(sys.stdin.buffer, sys.stdout.buffer)


# The child's command: no site packages, no user environment; the taxreport being run is put on the path.
_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from taxreport.ledger.verify_worker import main; main()")


class ChainWorker:
    """The reader's side. Through a pipe (no ``database``): ``send`` each chunk (before using it), ``verdict`` once
    every chunk was sent. Reading a file (``database``, the child walks rows ``seq <= last_seq``): ``read`` the
    ``seq`` and ``payload`` of each chunk the reader fetched (before using it), ``verdict`` once all were read.

    ``WorkerFailed`` says the reader must walk the chain itself (nothing the child said is then used)."""

    def __init__(self, *, after_seq: int = 0, after_hash: str = GENESIS, database: str | None = None,
                 last_seq: int = 0) -> None:
        self.after_seq = 0 if database is not None else after_seq
        self.database = database
        self.sent = 0
        self._early: tuple[Any, ...] | None = None
        self._digest = RowsDigest()
        self._unnumbered = False  # rows read that are not numbered 1, 2, 3…
        root = str(Path(__file__).resolve().parents[2])
        try:
            self._proc = subprocess.Popen([sys.executable, "-S", "-E", "-c", _BOOT, root], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True)
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            raise WorkerFailed(str(exc)) from exc
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in: IO[bytes] = self._proc.stdin
        self._out: IO[bytes] = self._proc.stdout
        try:
            if database is None:
                self._send_frame(marshal.dumps(("pipe", int(after_seq), str(after_hash))))
            else:
                self._send_frame(marshal.dumps(("file", str(database), int(last_seq))))
                self._close_input()  # the child needs nothing more
        except WorkerFailed:
            self.close()
            raise

    def _send_frame(self, data: bytes) -> None:
        try:
            _write_frame(self._in, data)
        except (OSError, ValueError) as exc:
            raise WorkerFailed(str(exc)) from exc

    def _close_input(self) -> None:
        try:
            self._in.close()  # flushed (the child sees its end even if it reads on)
        except (OSError, ValueError) as exc:
            raise WorkerFailed(str(exc)) from exc

    def send(self, part: Sequence[Sequence[object]]) -> bool:
        """Send the next rows to be verified; False once the child has reported a bad row (stop reading)."""
        if self._early is not None:
            return False
        try:
            data = marshal.dumps(part)  # type: ignore[arg-type]
        except ValueError as exc:  # a value marshal cannot carry (not what the ledger writes)
            raise WorkerFailed(str(exc)) from exc
        self._send_frame(data)
        self.sent += len(part)
        if self._answered():  # the child answered early: a bad row
            return False
        return True

    def read(self, first_seq: object, last_seq: object, payloads: Sequence[str]) -> bool:
        """Record the next rows the reader fetched, in ``seq`` order: the first and last ``seq`` of the chunk and
        every ``payload`` (:class:`RowsDigest`). False when the reader should stop: the child has reported a bad
        row, or these rows do not run on from the last ones (``seq`` is the table's key, unique: a chunk whose
        first and last numbers run on from the rows before is numbered 1, 2, 3… throughout), in which case
        :meth:`verdict` trusts no walk that verifies. Raises :class:`WorkerFailed` when the child has stopped
        without a verdict, or for a value the ledger does not write."""
        if not (type(first_seq) is int and type(last_seq) is int and first_seq == self.sent + 1
                and last_seq == self.sent + len(payloads)):
            self._unnumbered = True
            return False
        try:
            self._digest.update(payloads)
        except (TypeError, ValueError) as exc:
            raise WorkerFailed(f"a row the child cannot be compared with: {exc}") from exc
        self.sent += len(payloads)
        if self._early is None:
            self._answered()
        return self._early is None or self._early[2] is None  # no answer yet, or all verified

    def _answered(self) -> bool:
        """Whether the child has answered (its verdict is then kept); never blocks."""
        if self._early is None and select.select([self._out], [], [], 0)[0]:
            self._early = self._receive()
        return self._early is not None

    def _receive(self) -> tuple[Any, ...]:
        try:
            verdict = _read_frame(self._out)
        except (OSError, ValueError, EOFError, TypeError, struct.error) as exc:
            raise WorkerFailed(str(exc)) from exc
        size = 3 if self.database is None else 4
        if not (isinstance(verdict, tuple) and len(verdict) == size and type(verdict[0]) is int
                and type(verdict[1]) is str and (verdict[2] is None or (isinstance(verdict[2], tuple)
                                                                         and len(verdict[2]) == 5))
                and (size == 3 or type(verdict[3]) is str)):
            raise WorkerFailed(f"unexpected answer {verdict!r:.80}")
        return verdict

    def verdict(self) -> ChainWalk:
        """The child's walk (a :class:`ChainWalk` in the state the reader's own walk over the same rows would end
        in): waits for it. Through a pipe: over every row sent. Reading a file: over the rows the child read, which
        were exactly the rows the reader :meth:`read` (same ``seq`` and ``payload``) when it verifies; a walk with a
        bad row is over the child's rows (the caller decides). Raises :class:`WorkerFailed` if there is none to
        trust."""
        if self._early is None and self.database is None:
            self._send_frame(b"")
            self._close_input()
        count, prev, bad, *digest = self._early or self._receive()
        walk = ChainWalk(after_seq=count, after_hash=prev)
        if bad is not None:
            walk.bad = VerifyResult(*bad)
        elif self._unnumbered:
            raise WorkerFailed(f"row {self.sent + 1} read is not numbered {self.sent + 1}")
        elif count != self.after_seq + self.sent:  # every row sent (read) was walked, none more
            raise WorkerFailed(f"verified {count - self.after_seq} of {self.sent} rows")
        elif digest and digest[0] != self._digest.hexdigest():
            raise WorkerFailed("the rows the child verified are not the rows read (written meanwhile)")
        return walk

    def close(self) -> None:
        """Stop the child (whatever state it is in) and reap it."""
        for stream in (self._in, self._out):
            try:
                stream.close()
            except OSError:
                pass
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()

    def __enter__(self) -> "ChainWorker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def available() -> bool:
    """Whether a child is worth starting here: a real interpreter (not a frozen build) and a second core."""
    if not sys.executable or getattr(sys, "frozen", False):
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores >= 2  # on one core the child would only take turns with the reader
