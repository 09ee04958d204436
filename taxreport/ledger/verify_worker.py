"""The hash chain verified on the machine's second core while the reader decodes (issue 14).

A verified read (:meth:`taxreport.ledger.store.Ledger.verified_events`) spends about a third of its time
rebuilding each row's canonical text and hashing it (:class:`~taxreport.ledger.chain.ChainWalk`), work that is
independent of decoding the payloads. :class:`ChainWorker` hands it to a child Python process: the reader, in its
one read transaction, sends each chunk of rows exactly as the database gave them (``marshal`` over a pipe), then
decodes the same chunk while the child runs :class:`~taxreport.ledger.chain.ChainWalk` over it: the same walk,
the same one-line reasons naming the same first bad row. The reader uses nothing it decoded until the child's
verdict on every row it sent has come back; any failure of the child (it cannot start, dies, answers garbage, a
value it cannot be sent) makes the reader walk the chain again in its own process, as before.

The child is a fresh interpreter (``subprocess``, not ``os.fork``: the reader may hold threads, locks and
database connections that a forked copy must not touch); it imports only :mod:`taxreport.ledger.chain` and the
standard library, and talks only through its two pipes.

Frames, both ways: a 4-byte big-endian length, then that many bytes of ``marshal`` data. To the child: first
``(after_seq, after_hash)``, then one list of row tuples (:data:`~taxreport.ledger.chain.WALK_COLUMNS` order) per
frame, then an empty frame (the end). From the child: one verdict ``(count, prev, bad)`` where ``bad`` is None or
the fields of the first bad row's :class:`~taxreport.ledger.chain.VerifyResult`; sent as soon as a bad row is
found (the child then only drains its input), else after the end frame.
"""

from __future__ import annotations

import marshal
import os
import select
import struct
import subprocess
import sys
from pathlib import Path
from typing import IO, Any, Sequence

from taxreport.ledger.chain import GENESIS, ChainWalk, VerifyResult

_LEN = struct.Struct(">I")

#: Below this many rows a verified read walks the chain in its own process (starting the child, ~20 ms, would
#: cost more than the hashing it saves). Tests set it to 0 to run every read through the child.
MIN_ROWS = 20_000


class WorkerFailed(Exception):
    """The child could not give a verdict (the caller walks the chain itself)."""


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
    """The child's loop: walk the chunks it is sent; answer once (see the module docstring)."""
    after_seq, after_hash = _read_frame(inp)
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


def _answer(out: IO[bytes], walk: ChainWalk) -> None:
    bad = walk.bad
    verdict = (walk.count, walk.prev,
               None if bad is None else (bad.ok, bad.rows, bad.head_hash, bad.first_bad_seq, bad.problem))
    _write_frame(out, marshal.dumps(verdict))
    out.flush()


def main() -> None:
    """Entry point of the child process (stdin/stdout are the pipes)."""
    serve(sys.stdin.buffer, sys.stdout.buffer)


# The child's command: no site packages, no user environment; the taxreport being run is put on the path.
_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from taxreport.ledger.verify_worker import main; main()")


class ChainWorker:
    """The reader's side: ``send`` each chunk (before using it), ``verdict`` once every chunk was sent.

    ``failed`` says the reader must walk the chain itself (nothing the child said is then used)."""

    def __init__(self, *, after_seq: int = 0, after_hash: str = GENESIS) -> None:
        self.after_seq = after_seq
        self.sent = 0
        self._early: tuple[int, str, Any] | None = None
        root = str(Path(__file__).resolve().parents[2])
        try:
            self._proc = subprocess.Popen([sys.executable, "-S", "-E", "-c", _BOOT, root], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True)
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            raise WorkerFailed(str(exc)) from exc
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in: IO[bytes] = self._proc.stdin
        self._out: IO[bytes] = self._proc.stdout
        self._send_frame(marshal.dumps((int(after_seq), str(after_hash))))

    def _send_frame(self, data: bytes) -> None:
        try:
            _write_frame(self._in, data)
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
        if select.select([self._out], [], [], 0)[0]:  # the child answered early: a bad row
            self._early = self._receive()
            return False
        return True

    def _receive(self) -> tuple[int, str, Any]:
        try:
            verdict = _read_frame(self._out)
        except (OSError, ValueError, EOFError, TypeError, struct.error) as exc:
            raise WorkerFailed(str(exc)) from exc
        if not (isinstance(verdict, tuple) and len(verdict) == 3 and type(verdict[0]) is int
                and type(verdict[1]) is str and (verdict[2] is None or (isinstance(verdict[2], tuple)
                                                                         and len(verdict[2]) == 5))):
            raise WorkerFailed(f"unexpected answer {verdict!r:.80}")
        return verdict

    def verdict(self) -> ChainWalk:
        """The child's walk over every row sent (a :class:`ChainWalk` in the state the reader's own walk over the
        same rows would end in): waits for it. Raises :class:`WorkerFailed` if there is none to trust."""
        if self._early is None:
            self._send_frame(b"")
            try:
                self._in.close()  # flushed; the child needs nothing more (and sees its end even if it reads on)
            except (OSError, ValueError) as exc:
                raise WorkerFailed(str(exc)) from exc
        count, prev, bad = self._early or self._receive()
        walk = ChainWalk(after_seq=count, after_hash=prev)
        if bad is None:
            if count != self.after_seq + self.sent:  # every row sent was walked, none more
                raise WorkerFailed(f"verified {count - self.after_seq} of {self.sent} rows")
        else:
            walk.bad = VerifyResult(*bad)
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
