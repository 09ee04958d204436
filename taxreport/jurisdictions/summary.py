"""Shared summary arithmetic for the jurisdiction engine: one place that adds up a tax year.

:func:`totals` sums disposals (:class:`~taxreport.jurisdictions.base.Totals`); :func:`summarise` builds
the :class:`YearSummary` from the year's disposals and what only the country knows (allowance, taxable
gain, its typed breakdown, its notes). All exact (unrounded, see :mod:`taxreport.model.money`).

No tax rule lives here, so this module cites no source.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from taxreport.errors import InputError
from taxreport.jurisdictions.base import Breakdown, DisposalResult, Note, Totals, YearSummary, notes_of
from taxreport.lots.types import OpenLot

ZERO = Decimal(0)


def totals(disposals: Iterable[DisposalResult]) -> Totals:
    """Proceeds, cost, net gain, the sum of positive gains, the sum of losses (positive) and the count."""
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
    return Totals(proceeds, cost, gains - losses, gains, losses, count)


def summarise(jurisdiction: str, currency: str, method: str, year: str, year_start: datetime,
              year_end: datetime, disposals: Sequence[DisposalResult], allowance: Decimal,
              taxable_gain: Decimal, breakdown: Breakdown | None = None,
              open_lots: Sequence[OpenLot] | None = None, notes: Sequence[str] | None = None) -> YearSummary:
    """Build the year's :class:`YearSummary` from the disposals *of that year* (the engine keeps them).
    ``gain`` = proceeds - cost + adjustments, i.e. the sum of the disposals' gains."""
    t = totals(disposals)
    return YearSummary(
        jurisdiction=jurisdiction, currency=currency, method=method, year=year,
        year_start=year_start, year_end=year_end, disposals=list(disposals),
        proceeds=t.proceeds, cost=t.cost, gain=t.gain, gains=t.gains, losses=t.losses,
        allowance=allowance, taxable_gain=taxable_gain, breakdown=breakdown or Breakdown(),
        open_lots=list(open_lots or []), notes=notes_of(notes or []),
    )


def amount_option(options: Mapping[str, Any], key: str) -> Decimal:
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


__all__ = ["Note", "amount_option", "summarise", "totals"]
