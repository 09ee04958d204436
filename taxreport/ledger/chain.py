"""The audit trail's hash chain (pure functions).

Each event row carries ``hash = SHA-256(prev_hash || canonical row content)``, where the content is
the canonical JSON of ``seq``, ``natural_key``, ``kind``, ``time``, ``payload``, ``actor``,
``reason`` and ``recorded_at``. Editing any of those fields, deleting a row or reordering rows
breaks the chain at that row; ``ledger_head`` holds the last ``seq`` and ``hash`` so a deleted tail
is caught too. :func:`verify_rows` names the first bad row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Callable, Iterable, Mapping, Sequence

GENESIS = "0" * 64
HASHED_FIELDS = ("seq", "natural_key", "kind", "time", "payload", "actor", "reason", "recorded_at")


def row_hash(prev_hash: str, row: Mapping[str, object]) -> str:
    """The row's hash: the reference definition (:func:`row_hasher` computes the same, faster)."""
    content = json.dumps({k: row[k] for k in HASHED_FIELDS}, sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False)
    return hashlib.sha256((prev_hash + content).encode()).hexdigest()


_text = encode_basestring  # JSON text of a str exactly as json.dumps(..., ensure_ascii=False) writes it


def row_hasher(actor: str, reason: str, recorded_at: str) -> Callable[[str, int, str, str, str, str], str]:
    """``hash(prev_hash, seq, natural_key, kind, time, payload)`` for rows that share ``actor``, ``reason``
    and ``recorded_at`` (one append): :func:`row_hash`'s canonical JSON written directly, in its sorted key
    order (actor, kind, natural_key, payload, reason, recorded_at, seq, time), without building a dict."""
    head = '{"actor":' + _text(actor) + ',"kind":'
    middle = ',"reason":' + _text(reason) + ',"recorded_at":' + _text(recorded_at) + ',"seq":'
    sha256 = hashlib.sha256

    def hash_row(prev_hash: str, seq: int, natural_key: str, kind: str, time: str, payload: str) -> str:
        content = (f'{prev_hash}{head}{_text(kind)},"natural_key":{_text(natural_key)},"payload":{_text(payload)}'
                   f'{middle}{int(seq)},"time":{_text(time)}}}')
        return sha256(content.encode()).hexdigest()

    return hash_row


def _chunk_hashes(actor: str, reason: str, recorded_at: str, prevs: Sequence[str], seqs: Sequence[int],
                  keys: Sequence[str], kinds: Sequence[str], times: Sequence[str], payloads: Sequence[str]
                  ) -> tuple[str, ...]:
    """:func:`row_hasher`'s hash of each row of one append (same actor, reason and time of recording), given
    column by column: the same text, hashed in one comprehension instead of a call per row."""
    head = '{"actor":' + _text(actor) + ',"kind":'
    middle = ',"reason":' + _text(reason) + ',"recorded_at":' + _text(recorded_at) + ',"seq":'
    sha256, text = hashlib.sha256, _text
    quoted: dict[str, str] = {}  # the few kinds, quoted once
    return tuple(
        sha256(f'{prev}{head}{quoted.get(kind) or quoted.setdefault(kind, text(kind))},"natural_key":{text(key)},'
               f'"payload":{text(payload)}{middle}{int(seq)},"time":{text(time)}}}'.encode()).hexdigest()
        for prev, seq, key, kind, time, payload in zip(prevs, seqs, keys, kinds, times, payloads))


def chain_hashes(actor: str, reason: str, recorded_at: str, prev_hash: str, first_seq: int, keys: Sequence[str],
                 kinds: Sequence[str], times: Sequence[str], payloads: Sequence[str]) -> list[str]:
    """The hashes of new rows of one append, numbered from ``first_seq`` and linked after ``prev_hash``:
    :func:`row_hasher`'s text, each row's hash the next row's ``prev_hash``, in one loop (no call per row: the
    write path of a million-row import)."""
    head = '{"actor":' + _text(actor) + ',"kind":'
    middle = ',"reason":' + _text(reason) + ',"recorded_at":' + _text(recorded_at) + ',"seq":'
    sha256, text = hashlib.sha256, _text
    quoted: dict[str, str] = {}  # the few kinds, quoted once
    out: list[str] = []
    append = out.append
    prev, seq = prev_hash, int(first_seq)
    for key, kind, time, payload in zip(keys, kinds, times, payloads):
        prev = sha256(f'{prev}{head}{quoted.get(kind) or quoted.setdefault(kind, text(kind))},"natural_key":'
                      f'{text(key)},"payload":{text(payload)}{middle}{seq},"time":{text(time)}}}'.encode()).hexdigest()
        append(prev)
        seq += 1
    return out


class _RowHasher:
    """:func:`row_hash` of stored rows (strings and an integer ``seq``) through :func:`row_hasher`, reusing
    the hasher while consecutive rows share actor, reason and time of recording (one append)."""

    def __init__(self) -> None:
        self._shared: tuple[object, object, object] | None = None
        self._hash: Callable[[str, int, str, str, str, str], str] | None = None

    def __call__(self, prev_hash: str, row: Mapping[str, object]) -> str:
        seq, key, kind, time, payload = row["seq"], row["natural_key"], row["kind"], row["time"], row["payload"]
        actor, reason, recorded_at = row["actor"], row["reason"], row["recorded_at"]
        if not (type(seq) is int and type(key) is str and type(kind) is str and type(time) is str
                and type(payload) is str and type(actor) is str and type(reason) is str
                and type(recorded_at) is str):
            return row_hash(prev_hash, row)
        if self._hash is None or self._shared != (actor, reason, recorded_at):
            self._shared, self._hash = (actor, reason, recorded_at), row_hasher(actor, reason, recorded_at)
        return self._hash(prev_hash, seq, key, kind, time, payload)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str = ""


def verify_rows(rows: Iterable[Mapping[str, object]], head_seq: int, head_hash: str, *,
                after_seq: int = 0, after_hash: str = GENESIS) -> VerifyResult:
    """Walk rows in ``seq`` order and check numbering, links and hashes; then the head. With ``after_seq``
    and ``after_hash`` (a row already verified), ``rows`` are the rows after it: the chain is checked from
    there on (an incremental reader)."""
    count, prev, bad = _check_rows(rows, after_seq, after_hash)
    return bad or _check_head(count, prev, head_seq, head_hash)


def _check_rows(rows: Iterable[Mapping[str, object]], after_seq: int, after_hash: str
                ) -> tuple[int, str, VerifyResult | None]:
    """THE rules of the chain, row by row (the reference; :class:`ChainWalk` accepts a chunk faster only when
    it would pass here): ``(rows verified, the last one's hash, the first bad row's result or None)``."""
    prev = after_hash
    expected_seq = after_seq + 1
    hash_of = _RowHasher()
    count = after_seq
    for row in rows:
        seq = int(row["seq"])  # type: ignore[call-overload]
        if seq != expected_seq:
            return count, prev, VerifyResult(False, count, prev, expected_seq,
                                             f"row {expected_seq} is missing (next row found is {seq}): deleted")
        if row["prev_hash"] != prev:
            return count, prev, VerifyResult(False, count, prev, seq,
                                             f"row {seq} does not link to row {seq - 1}: rows deleted or reordered")
        computed = hash_of(prev, row)
        if computed != row["hash"]:
            return count, prev, VerifyResult(False, count, prev, seq,
                                             f"row {seq} was edited: its content does not match its hash")
        prev = computed
        expected_seq += 1
        count += 1
    return count, prev, None


def _check_head(count: int, prev: str, head_seq: int, head_hash: str) -> VerifyResult:
    """The chain head (``ledger_head``) against the last row verified: catches a deleted tail."""
    if head_seq != count:
        return VerifyResult(False, count, prev, count + 1 if head_seq > count else head_seq,
                            f"the chain head says {head_seq} rows but {count} exist: rows deleted at the end")
    if head_hash != prev:
        return VerifyResult(False, count, prev, count, f"the chain head hash does not match row {count}")
    return VerifyResult(True, count, prev)


#: The columns a :class:`ChainWalk` reads, in this order (``SELECT`` them so).
WALK_COLUMNS = ("seq", "natural_key", "kind", "time", "payload", "actor", "reason", "recorded_at", "prev_hash", "hash")


class ChainWalk:
    """:func:`verify_rows` fed a chunk of rows at a time, each row a tuple in :data:`WALK_COLUMNS` order (what
    the database cursor gives; no dict per row), so a reader can decode each chunk as it is verified.

    A chunk is accepted at once when its numbering runs on, each row's ``prev_hash`` is the hash before it and
    every hash recomputes (:func:`row_hasher`, column by column over the chunk); anything else (a bad row, a
    value of an unexpected type) is walked row by row by :func:`_check_rows`, the reference, which names the
    first bad row with the same one-line reason. Once a bad row is found, later chunks are ignored."""

    def __init__(self, *, after_seq: int = 0, after_hash: str = GENESIS) -> None:
        self.count = after_seq
        self.prev = after_hash
        self.bad: VerifyResult | None = None

    @property
    def ok(self) -> bool:
        """No bad row so far."""
        return self.bad is None

    def feed(self, part: Sequence[Sequence[object]]) -> bool:
        """Verify the next rows; False once a bad row has been found (in this chunk or an earlier one)."""
        if self.bad is not None:
            return False
        if not part:
            return True
        if self._fast(part):
            return True
        self.count, self.prev, self.bad = _check_rows((dict(zip(WALK_COLUMNS, r)) for r in part), self.count,
                                                      self.prev)
        return self.bad is None

    def _fast(self, part: Sequence[Sequence[object]]) -> bool:
        seqs, keys, kinds, times, payloads, actors, reasons, recorded, prevs, hashes = zip(*part)
        n = len(part)
        if actors.count(actors[0]) == n and reasons.count(reasons[0]) == n and recorded.count(recorded[0]) == n:
            return self.fast_shared(actors[0], reasons[0], recorded[0], seqs, keys, kinds, times, payloads,  # type: ignore[arg-type]
                                    prevs, hashes)
        if not self._runs_on(seqs, prevs, hashes):
            return False
        try:  # the chunk spans several appends
            shared: tuple[object, object, object] | None = None
            out = []
            for i in range(n):
                if shared != (actors[i], reasons[i], recorded[i]):
                    shared = (actors[i], reasons[i], recorded[i])
                    hash_row = row_hasher(*shared)  # type: ignore[arg-type]
                out.append(hash_row(prevs[i], seqs[i], keys[i], kinds[i], times[i], payloads[i]))  # type: ignore[arg-type]
            computed = tuple(out)
        except TypeError:  # a value not of the types written: the reference decides
            return False
        return self._accept(computed, hashes)

    def fast_shared(self, actor: str, reason: str, recorded_at: str, seqs: Sequence[object], keys: Sequence[object],
                    kinds: Sequence[object], times: Sequence[object], payloads: Sequence[object],
                    prevs: Sequence[object], hashes: Sequence[object]) -> bool:
        """Accept the next rows, given column by column, when they are of one append (``actor``, ``reason`` and
        ``recorded_at`` shared by every row) and pass :meth:`feed`'s fast test; False (nothing changed) when they
        do not: the caller then feeds the rows themselves (:meth:`feed`), whose reference walk decides. A reader
        that knows every row of a chunk shares those three values (the file walk's query compares them in SQLite)
        need not fetch them for each row."""
        if self.bad is not None or not seqs:
            return False
        seqs, prevs, hashes = tuple(seqs), tuple(prevs), tuple(hashes)
        if not self._runs_on(seqs, prevs, hashes):
            return False
        try:
            computed = _chunk_hashes(actor, reason, recorded_at, prevs, seqs, keys, kinds, times, payloads)  # type: ignore[arg-type]
        except TypeError:  # a value not of the types written: the reference decides
            return False
        return self._accept(computed, hashes)

    def _runs_on(self, seqs: tuple[object, ...], prevs: tuple[object, ...], hashes: tuple[object, ...]) -> bool:
        """Whether a chunk is numbered on from the rows walked and each row's ``prev_hash`` is the hash before it."""
        first = self.count + 1
        return seqs == tuple(range(first, first + len(seqs))) and prevs[0] == self.prev and prevs[1:] == hashes[:-1]

    def _accept(self, computed: tuple[str, ...], hashes: Sequence[object]) -> bool:
        if computed != hashes:
            return False
        self.count += len(computed)
        self.prev = computed[-1]
        return True

    def result(self, head_seq: int, head_hash: str) -> VerifyResult:
        """The walk's verdict: the first bad row, else the head checked against the last row."""
        return self.bad or _check_head(self.count, self.prev, head_seq, head_hash)
