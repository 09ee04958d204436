"""Reconciliation of exchange history with the ledger. :func:`reconcile_okx` builds a
:class:`ReconcileReport` (pure data, reused by the PDF report); :mod:`taxreport.reconcile.output`
renders it as terminal tables, CSV or JSON."""

from __future__ import annotations

from taxreport.reconcile.okx import DEFAULT_TOLERANCE, reconcile_okx
from taxreport.reconcile.report import BalanceRow, Difference, FillMatch, FillRef, ReconcileReport

__all__ = ["DEFAULT_TOLERANCE", "BalanceRow", "Difference", "FillMatch", "FillRef", "ReconcileReport",
           "reconcile_okx"]
