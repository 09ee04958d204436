"""The jurisdiction contract: one small policy object per country, and the report every country's
computation returns. Adding a country means adding one module ``taxreport/jurisdictions/<code>.py``
that defines ``JURISDICTION`` (found by :func:`get`), and its tests; nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from decimal import Decimal
from typing import Any, Protocol, Sequence
from zoneinfo import ZoneInfo

from taxreport.errors import InputError
from taxreport.lots.types import LotMatch, Movement, OpenLot


@dataclass(frozen=True, slots=True)
class DisposalResult:
    """One disposal as the jurisdiction computes it (all amounts tax currency, unrounded)."""

    time: datetime
    account: str
    asset: str
    quantity: Decimal
    proceeds: Decimal  # as the country's form wants it (net of disposal fees unless stated)
    cost: Decimal  # allowable cost incl. acquisition fees
    gain: Decimal  # proceeds - cost + adjustment (negative = loss)
    lots: tuple[LotMatch, ...]
    rule: str  # how it was matched: fifo, same-day, 30-day, s104, acb, mixed …
    term: str | None = None  # "short" | "long" where the country distinguishes
    exempt: bool = False  # DE: held > 1 year; the gain is not taxable
    adjustment: Decimal = Decimal(0)  # e.g. CA superficial loss denied (added back)
    adjustment_code: str = ""  # Form 8949 column (f) style code
    event_key: str = ""
    role: str = "trade"
    notes: tuple[str, ...] = ()
    # Country-specific figures a form/export needs, keyed by name (values Decimal/str/int/tuple), e.g.
    # UK: gross_proceeds, disposal_costs, allowable_costs, pool_quantity_after, pool_cost_after;
    # CA: gross_proceeds, outlays, superficial_loss_denied; AU: discount_eligible, gross_proceeds.
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class YearSummary:
    jurisdiction: str
    currency: str
    method: str
    year: str  # the label as the country writes it: "2024", "2024-25"
    year_start: datetime  # inclusive, UTC
    year_end: datetime  # exclusive, UTC
    disposals: list[DisposalResult]
    proceeds: Decimal
    cost: Decimal
    gain: Decimal  # net
    gains: Decimal  # sum of positive gains
    losses: Decimal  # sum of losses as a positive number
    allowance: Decimal  # UK annual exempt amount, DE Freigrenze; 0 where none
    taxable_gain: Decimal
    breakdown: dict[str, Any] = field(default_factory=dict)  # short/long, exempt/taxable, discount…
    open_lots: list[OpenLot] = field(default_factory=list)  # holdings at year end
    notes: list[str] = field(default_factory=list)  # price sources, assumptions (peg), rounding
    income: Any = None  # events helper (issue #12): taxreport.jurisdictions.income.IncomeReport of the year
    # The IANA zone whose local dates decided the year and the holding periods; every report shows
    # dates in it (set by taxreport.gains from --timezone or the country's zone).
    timezone: str = "UTC"

    def local_date(self, moment: datetime) -> date:
        """``moment``'s date in :attr:`timezone`: the one date convention of every report."""
        return moment.astimezone(_zone(self.timezone)).date()


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


class Jurisdiction(Protocol):
    code: str  # "us", "uk", "de", "au", "ca"
    name: str
    currency: str  # "USD", "GBP", "EUR", "AUD", "CAD"
    methods: tuple[str, ...]  # allowed lot methods; methods[0] is the default
    timezone: str  # IANA zone whose local date decides the tax year and holding periods

    def year_bounds(self, label: str) -> tuple[datetime, datetime]:
        """UTC ``[start, end)`` of the tax year written ``label`` (raise InputError if malformed)."""
        ...

    def compute(self, movements: Sequence[Movement], *, year: str, method: str | None = None,
                options: dict[str, Any] | None = None) -> YearSummary:
        """Match all ``movements`` (every year, time order) and summarise the tax year ``year``."""
        ...


def codes() -> list[str]:
    import taxreport.jurisdictions as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__)
                  if not m.name.startswith("_") and m.name not in ("base",) and not m.ispkg
                  and hasattr(importlib.import_module(f"taxreport.jurisdictions.{m.name}"), "JURISDICTION"))


def get(code: str) -> Jurisdiction:
    name = code.strip().lower()
    if not name.isidentifier() or name == "base":
        raise InputError(f"unknown jurisdiction {code!r}", field="--jurisdiction")
    try:
        module = importlib.import_module(f"taxreport.jurisdictions.{name}")
    except ModuleNotFoundError:
        raise InputError(f"unknown jurisdiction {code!r}; known: {', '.join(codes())}",
                         field="--jurisdiction") from None
    jurisdiction = getattr(module, "JURISDICTION", None)
    if jurisdiction is None:
        raise InputError(f"unknown jurisdiction {code!r}; known: {', '.join(codes())}", field="--jurisdiction")
    return jurisdiction
