"""Shared summary arithmetic for the jurisdiction modules: one place that adds up a tax year.

Every country computes its per-disposal results (:class:`~taxreport.jurisdictions.base.DisposalResult`)
its own way and then calls :func:`summarise` to build the :class:`YearSummary`: proceeds, cost, net
gain, the sum of positive gains and the sum of losses (as a positive number), all exact (unrounded,
see :mod:`taxreport.model.money`). The country passes in what only it knows: the allowance it applies
and the taxable gain after its rules, plus a free-form ``breakdown`` (short/long, exempt/taxable…).

No tax rule lives here, so this module cites no source.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable, Sequence

from taxreport.errors import InputError
from taxreport.jurisdictions.base import DisposalResult, YearSummary
from taxreport.lots.types import OpenLot

ZERO = Decimal(0)


def totals(disposals: Iterable[DisposalResult]) -> dict[str, Decimal]:
    """``proceeds``, ``cost``, ``gain`` (net), ``gains`` (sum of positive gains) and ``losses``
    (sum of negative gains as a positive number) of ``disposals``; also ``count``."""
    proceeds = cost = gains = losses = ZERO
    count = 0
    for d in disposals:
        count += 1
        proceeds += d.proceeds
        cost += d.cost
        if d.gain > 0:
            gains += d.gain
        elif d.gain < 0:
            losses -= d.gain
    return {"proceeds": proceeds, "cost": cost, "gain": gains - losses, "gains": gains, "losses": losses,
            "count": Decimal(count)}


def in_year(disposals: Iterable[DisposalResult], year_start: datetime, year_end: datetime) -> list[DisposalResult]:
    """The disposals with ``year_start <= time < year_end`` (UTC), in their order."""
    return [d for d in disposals if year_start <= d.time < year_end]


def summarise(jurisdiction: str, currency: str, method: str, year: str, year_start: datetime,
              year_end: datetime, disposals: Sequence[DisposalResult], allowance: Decimal,
              taxable_gain: Decimal, breakdown: dict[str, Any] | None = None,
              open_lots: Sequence[OpenLot] | None = None, notes: Sequence[str] | None = None) -> YearSummary:
    """Build the year's :class:`YearSummary` from the disposals *of that year* (filter first with
    :func:`in_year`). ``gain`` = proceeds - cost + adjustments, i.e. the sum of the disposals' gains."""
    t = totals(disposals)
    return YearSummary(
        jurisdiction=jurisdiction, currency=currency, method=method, year=year,
        year_start=year_start, year_end=year_end, disposals=list(disposals),
        proceeds=t["proceeds"], cost=t["cost"], gain=t["gain"], gains=t["gains"], losses=t["losses"],
        allowance=allowance, taxable_gain=taxable_gain, breakdown=dict(breakdown or {}),
        open_lots=list(open_lots or []), notes=list(notes or []),
    )


def choose_method(jurisdiction: Any, method: str | None, why: str = "") -> str:
    """The lot method to use: ``method`` (case-insensitive) or the country's default
    (``jurisdiction.methods[0]``); a method the country does not allow is an InputError that names the
    allowed ones and, if given, ``why``."""
    chosen = (method or jurisdiction.methods[0]).lower()
    if chosen not in jurisdiction.methods:
        reason = f" ({why})" if why else ""
        raise InputError(f"method {chosen!r} is not allowed for {jurisdiction.name}{reason}; use "
                         f"{' or '.join(repr(m) for m in jurisdiction.methods)}", field="--method")
    return chosen


def amount_option(options: dict[str, Any], key: str) -> Decimal:
    """A non-negative exact amount from the options (e.g. ``losses_brought_forward``); floats refused."""
    value = options.get(key, ZERO)
    if isinstance(value, (float, bool)) or not isinstance(value, (Decimal, int, str)):
        raise InputError(f"{value!r} is not an exact amount", field=key)
    try:
        amount = Decimal(value)
    except ArithmeticError:
        raise InputError(f"{value!r} is not a number", field=key) from None
    if not amount.is_finite() or amount < 0:
        raise InputError(f"{value!r} must be a non-negative amount", field=key)
    return amount
