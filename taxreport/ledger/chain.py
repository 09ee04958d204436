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
from typing import Iterable, Mapping

GENESIS = "0" * 64
HASHED_FIELDS = ("seq", "natural_key", "kind", "time", "payload", "actor", "reason", "recorded_at")


def row_hash(prev_hash: str, row: Mapping[str, object]) -> str:
    content = json.dumps({k: row[k] for k in HASHED_FIELDS}, sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False)
    return hashlib.sha256((prev_hash + content).encode()).hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str = ""


def verify_rows(rows: Iterable[Mapping[str, object]], head_seq: int, head_hash: str) -> VerifyResult:
    """Walk rows in ``seq`` order and check numbering, links and hashes; then the head."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    for row in rows:
        seq = int(row["seq"])  # type: ignore[arg-type]
        if seq != expected_seq:
            return VerifyResult(False, count, prev, expected_seq,
                                f"row {expected_seq} is missing (next row found is {seq}): deleted")
        if row["prev_hash"] != prev:
            return VerifyResult(False, count, prev, seq,
                                f"row {seq} does not link to row {seq - 1}: rows deleted or reordered")
        computed = row_hash(prev, row)
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
