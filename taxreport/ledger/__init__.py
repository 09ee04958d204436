"""The ledger: one exact, append-only, hash-chained record of events (see :mod:`.store`)."""

from taxreport.ledger.chain import VerifyResult
from taxreport.ledger.store import AppendResult, Ledger, StoredEvent

__all__ = ["AppendResult", "Ledger", "StoredEvent", "VerifyResult"]
