"""The reconciliation result as plain data: what the terminal table, the CSV and the PDF report
(``taxreport export pdf``) all render. Immutable; Decimals exact; times UTC.

Fields are documented in README.md, section "Importing OKX history", table "ReconcileReport".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from taxreport.errors import TaxreportError


class NotReconciled(TaxreportError):
    """The exchange history and the ledger disagree (exit code 2, so scripts can gate a filing)."""

    exit_code = 2


@dataclass(frozen=True)
class FillRef:
    """One side's view of a fill."""

    side_of: str  # "okx" | "ledger"
    key: str  # ledger natural key (ledger side) or the key the import would give it (okx side)
    origin: str  # "file.csv:12,13" (okx) or "ledger #42 rebalancer:core" (ledger)
    time: datetime
    side: str  # buy | sell
    base: str
    quote: str
    quantity: Decimal
    price: Decimal
    fee: Decimal  # positive = charged
    fee_asset: str | None
    order_id: str | None  # OKX order id (okx side); client order id or OKX order id (ledger side)

    @property
    def pair(self) -> str:
        return f"{self.base}/{self.quote}"


@dataclass(frozen=True)
class Difference:
    field: str  # quantity | price | fee | fee_asset | side | time
    okx: str
    ledger: str
    delta: Decimal | None  # okx - ledger, when numeric


@dataclass(frozen=True)
class FillMatch:
    okx: FillRef
    ledger: FillRef
    how: str  # "same key" (imported from OKX) | "order id" | "same fill" (side, pair, time, quantity)
    differences: tuple[Difference, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.differences


@dataclass(frozen=True)
class BalanceRow:
    """Running balance of one asset over the period, from OKX's history and from the ledger."""

    asset: str
    okx: Decimal  # net change over the period according to the OKX files
    ledger: Decimal  # net change over the period according to the ledger
    first_divergence: date | None  # first UTC day whose closing balances differ beyond tolerance
    okx_at_divergence: Decimal | None = None
    ledger_at_divergence: Decimal | None = None

    @property
    def ok(self) -> bool:
        return self.first_divergence is None


@dataclass(frozen=True)
class ReconcileReport:
    account: str
    files: tuple[str, ...]
    variants: tuple[str, ...]
    start: datetime  # inclusive
    end: datetime  # exclusive
    tolerance: Decimal  # relative tolerance for quantity, price and fee
    matched: tuple[FillMatch, ...] = ()
    mismatched: tuple[FillMatch, ...] = ()
    only_in_okx: tuple[FillRef, ...] = ()
    only_in_ledger: tuple[FillRef, ...] = ()
    balances: tuple[BalanceRow, ...] = ()
    not_compared: tuple[tuple[str, str], ...] = field(default=())  # OKX rows set aside, with reason
    okx_gaps: tuple[tuple[str, str], ...] = field(default=())  # breaks in OKX's own balance chain
    okx_rounding: tuple[tuple[str, str], ...] = field(default=())  # OKX's ≤1e-8 roundings, accepted
    time_zones: tuple[str, ...] = field(default=())  # per file: the zone its Time column was read in, and why
    zone_assumed: tuple[str, ...] = field(default=())  # files naming no zone, read as UTC (no --time-zone given)

    @property
    def diverging_balances(self) -> tuple[BalanceRow, ...]:
        return tuple(b for b in self.balances if not b.ok)

    @property
    def ok(self) -> bool:
        """True only when every fill matches within tolerance and every balance agrees."""
        return not (self.mismatched or self.only_in_okx or self.only_in_ledger or self.diverging_balances)

    def counts(self) -> dict[str, int]:
        return {"matched": len(self.matched), "mismatched": len(self.mismatched),
                "only_in_okx": len(self.only_in_okx), "only_in_ledger": len(self.only_in_ledger),
                "diverging_balances": len(self.diverging_balances)}
