"""The ledger: one exact, append-only, hash-chained record of events (see :mod:`.store`).

The names below load their module on first use (PEP 562), so importing :mod:`taxreport.ledger.derived` alone
(the stored-result read of a repeated ``gains --format json``) does not import SQLAlchemy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taxreport.ledger.chain import VerifyResult
    from taxreport.ledger.store import AppendResult, Ledger, StoredEvent

__all__ = ["AppendResult", "Ledger", "StoredEvent", "VerifyResult"]


def __getattr__(name: str) -> Any:
    if name == "VerifyResult":
        from taxreport.ledger.chain import VerifyResult

        return VerifyResult
    if name in ("AppendResult", "Ledger", "StoredEvent"):
        from taxreport.ledger import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
