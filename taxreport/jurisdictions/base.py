"""The jurisdiction contract: one declarative :class:`Policy` per country, the typed results every
country's computation returns, and :func:`get` (found by module name).

Adding a country means adding one module ``taxreport/jurisdictions/<code>.py`` that defines
``JURISDICTION = Jurisdiction(POLICY, rules)`` (see :mod:`taxreport.jurisdictions.engine` for the one
engine and its hooks, and the README's "Adding a country"), and its tests; nothing else.

Typed out: a :class:`YearSummary` whose disposals (:class:`DisposalResult`) carry their rule, term and
a typed per-country :class:`Detail`, whose ``breakdown`` is a typed per-country :class:`Breakdown` and
whose notes are :class:`Note` values (text with a code). ``Figures.as_dict`` gives the JSON layout
(``gains --format json``: field names are the keys).
"""

from __future__ import annotations

import enum
import importlib
import pkgutil
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from taxreport.errors import InputError
from taxreport.jurisdictions.calendar import TaxYear
from taxreport.jurisdictions.holding import Holding
from taxreport.lots.types import LotMatch, OpenLot, positional_maker
from taxreport.lots.valuation import SwapCost

if TYPE_CHECKING:  # pragma: no cover
    from taxreport.jurisdictions.engine import Jurisdiction
    from taxreport.jurisdictions.income import IncomeReport, IncomeRules

ZERO = Decimal(0)
T = TypeVar("T")


class Note(str):
    """One note of a report: its text (a ``str``, so it prints, compares and serialises as text) and a
    ``code`` saying what kind of note it is (``method``, ``dates``, ``rule``, ``allowance``, ``warning``,
    ``price``, ``simulated``, ``info``…), so a report can pick notes by kind instead of by wording."""

    __slots__ = ("code",)
    code: str

    def __new__(cls, text: str, code: str = "info") -> Note:
        note = super().__new__(cls, text)
        note.code = getattr(text, "code", code) if code == "info" else code
        return note

    @property
    def text(self) -> str:
        return str.__str__(self)


def notes_of(texts: Any, code: str = "info") -> list[Note]:
    """``texts`` (strings or notes) as notes; a note keeps its own code."""
    return [t if isinstance(t, Note) else Note(t, code) for t in texts]


class Figures:
    """A typed record of figures with :meth:`as_dict`: its fields in order, nested records and dict
    values converted, ``None`` fields left out (the ``gains --format json`` layout)."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not is_dataclass(self):  # the empty base breakdown
            return out
        for f in fields(self):
            value = _plain(getattr(self, f.name))
            if value is not None and f.metadata.get("inline"):
                out.update(value)  # a nested record whose fields are written at this level
            elif value is not None:
                out[f.name] = value
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, Figures):
        return value.as_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


class Breakdown(Figures):
    """What a country adds to a year's totals (short/long, exempt/taxable, SA108, Schedule 3…). A
    country defines a frozen dataclass subclass; the base itself is the empty breakdown."""


class Detail(Figures):
    """What a country adds to one disposal (UK: gross proceeds and the pool after; CA: outlays and the
    superficial-loss test; AU: discount eligibility). A country defines a frozen dataclass subclass."""


@dataclass(frozen=True, slots=True)
class Totals(Figures):
    """Sums over some disposals: ``gain`` is the net gain, ``gains`` the sum of positive gains and
    ``losses`` the sum of losses as a positive number."""

    proceeds: Decimal = ZERO
    cost: Decimal = ZERO
    gain: Decimal = ZERO
    gains: Decimal = ZERO
    losses: Decimal = ZERO
    count: int = 0


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
    detail: Detail | None = None  # the country's own figures (UkDetail, CaDetail, AuDetail), if any


# DisposalResult(...) with every field given positionally, built faster (one per disposal: taxreport.lots.types)
make_result = positional_maker(DisposalResult)


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
    breakdown: Breakdown = field(default_factory=Breakdown)  # the country's typed breakdown
    open_lots: list[OpenLot] = field(default_factory=list)  # holdings at year end
    notes: list[Note] = field(default_factory=list)  # price sources, assumptions (peg), rules applied
    income: IncomeReport | None = None  # income of the year (taxreport.jurisdictions.income)
    # The IANA zone whose local dates decided the year and the holding periods; every report shows
    # dates in it (set by taxreport.gains from --timezone or the country's zone).
    timezone: str = "UTC"

    def local_date(self, moment: datetime) -> date:
        """``moment``'s date in :attr:`timezone`: the one date convention of every report."""
        return moment.astimezone(_zone(self.timezone)).date()


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# --- the policy: what a country is, as data ---------------------------------------------------------

class Pooling(enum.StrEnum):
    """Where a country keeps its lots or pools, and so whether gains can be reported per account."""

    ACCOUNT = "account"  # lots per account by default (US from 2025, DE); --universal pools them
    UNIVERSAL = "universal"  # lots over all accounts by default (AU); --account still filters disposals
    PERSON = "person"  # one pool per token for the person (UK s104, CA ACB): --account is refused


@dataclass(frozen=True, slots=True)
class YearTable(Generic[T]):
    """A value that changes with the law, by first tax year: ``((first year, value), …)`` in order.
    ``last`` is the last year the table is known good for (None: open-ended); a year outside the
    table is an error naming ``what``, never a guess."""

    what: str
    rows: tuple[tuple[int, T], ...]
    last: int | None = None

    def at(self, year: int, tax_year: TaxYear | None = None) -> T:
        """The value for the tax year starting in ``year`` (``tax_year`` writes the labels of an error)."""
        found: tuple[int, T] | None = None
        for first, value in self.rows:
            if year >= first:
                found = (first, value)
        if found is None or (self.last is not None and year > self.last):
            name = tax_year.label_of if tax_year else str
            known = f"{name(self.rows[0][0])} to {name(self.last)}" if self.last else f"from {name(self.rows[0][0])}"
            raise InputError(f"no {self.what} on file for tax year {name(year)} (known: {known})", field="--year")
        return found[1]


@dataclass(frozen=True, slots=True)
class Policy:
    """What a country is, as data (the engine reads only this and the country's hooks)."""

    code: str  # "us": the module name and --jurisdiction value
    name: str
    currency: str  # "USD": amounts in another currency never meet the allowance tables
    timezone: str  # IANA zone whose local dates decide the tax year and holding periods
    tax_year: TaxYear
    methods: tuple[str, ...]  # allowed lot methods; methods[0] is the default
    pooling: Pooling
    swap_cost: SwapCost  # crypto/crypto acquisition cost: value received (US) or given
    lookahead_days: int = 0  # legs this many days past the year still change it (UK 30-day, CA superficial)
    holding: Holding | None = None  # "held more than N years": long-term (US), exempt (DE), discount (AU)
    forms: tuple[str, ...] = ()  # country forms offered by `taxreport export` (form8949, hmrc)
    allowance: YearTable[Decimal] | None = None  # UK annual exempt amount, DE Freigrenze
    gift_is_disposal: bool = True  # is a gift a disposal for the donor (see jurisdictions/gifts.py)
    income: IncomeRules | None = None  # how crypto income is taxed (see jurisdictions/income.py)
    method_reason: str = ""  # said when a method is refused

    def year_bounds(self, label: str, tz: str | None = None) -> tuple[datetime, datetime]:
        return self.tax_year.bounds(label, tz or self.timezone)

    def choose_method(self, method: str | None) -> str:
        """``method`` (case-insensitive) or the default; one the country does not allow is an error."""
        chosen = (method or self.methods[0]).lower()
        if chosen not in self.methods:
            reason = f" ({self.method_reason})" if self.method_reason else ""
            raise InputError(f"method {chosen!r} is not allowed for {self.name}{reason}; use "
                             f"{' or '.join(repr(m) for m in self.methods)}", field="--method")
        return chosen


def codes() -> list[str]:
    import taxreport.jurisdictions as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__)
                  if not m.name.startswith("_") and not m.ispkg
                  and hasattr(importlib.import_module(f"taxreport.jurisdictions.{m.name}"), "JURISDICTION"))


def get(code: str) -> Jurisdiction:
    from taxreport.jurisdictions.engine import Jurisdiction

    name = code.strip().lower()
    if not name.isidentifier() or name in ("base", "engine"):
        raise InputError(f"unknown jurisdiction {code!r}", field="--jurisdiction")
    try:
        module = importlib.import_module(f"taxreport.jurisdictions.{name}")
    except ModuleNotFoundError:
        raise InputError(f"unknown jurisdiction {code!r}; known: {', '.join(codes())}",
                         field="--jurisdiction") from None
    jurisdiction = getattr(module, "JURISDICTION", None)  # a module attribute, not a contract field
    if not isinstance(jurisdiction, Jurisdiction):
        raise InputError(f"unknown jurisdiction {code!r}; known: {', '.join(codes())}", field="--jurisdiction")
    return jurisdiction
