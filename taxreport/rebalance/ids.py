"""Deterministic client order ids: the same (basket, rebalance id, leg, attempt) always gives the same
id, so a restarted executor can look an order up on the exchange before it ever re-sends it.

OKX accepts ``clOrdId`` of 1-32 letters and digits (no hyphens or underscores) and rejects a
duplicate; the id is ``"tr"`` + the first 30 hex digits of SHA-256 over the four parts (120 bits:
collisions between different legs are practically impossible). The parts are joined with a unit
separator that may not occur in a basket name or rebalance id, so ``("a1", "2")`` and ``("a", "12")``
never collide.
"""

from __future__ import annotations

import hashlib
import re

PREFIX = "tr"
LENGTH = 32
_VALID = re.compile(r"^[A-Za-z0-9]{1,32}$")


def client_order_id(basket: str, rebalance_id: str, leg: int | str, attempt: int) -> str:
    """The 32-character client order id of one attempt of one leg of one rebalance."""
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
        raise ValueError(f"attempt must be a whole number >= 0, got {attempt!r}")
    parts = [str(basket), str(rebalance_id), str(leg), str(attempt)]
    if any("\x1f" in p or not p for p in parts):
        raise ValueError("basket, rebalance id and leg must be non-empty and printable")
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return PREFIX + digest[: LENGTH - len(PREFIX)]


def is_valid_client_order_id(value: str) -> bool:
    """1-32 ASCII letters and digits (OKX's rule for clOrdId)."""
    return bool(_VALID.match(value or ""))
