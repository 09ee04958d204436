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
from typing import Callable, Iterable, Mapping

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
    prev = after_hash
    expected_seq = after_seq + 1
    hash_of = _RowHasher()
    count = after_seq
    for row in rows:
        seq = int(row["seq"])  # type: ignore[call-overload]
        if seq != expected_seq:
            return VerifyResult(False, count, prev, expected_seq,
                                f"row {expected_seq} is missing (next row found is {seq}): deleted")
        if row["prev_hash"] != prev:
            return VerifyResult(False, count, prev, seq,
                                f"row {seq} does not link to row {seq - 1}: rows deleted or reordered")
        computed = hash_of(prev, row)
        if computed != row["hash"]:
            return VerifyResult(False, count, prev, seq, f"row {seq} was edited: its content does not match its hash")
        prev = computed
        expected_seq += 1
        count += 1
    if head_seq != count:
        return VerifyResult(False, count, prev, count + 1 if head_seq > count else head_seq,
                            f"the chain head says {head_seq} rows but {count} exist: rows deleted at the end")
    if head_hash != prev:
        return VerifyResult(False, count, prev, count, f"the chain head hash does not match row {count}")
    return VerifyResult(True, count, prev)
