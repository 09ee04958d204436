"""Every tax year of a ledger in one command: ``taxreport gains --year all`` (and ``export all --year all``).

The ledger is read and its hash chain walked **once** for all years (:meth:`Ledger.pinned`); each year is
then read from the derived cache or computed by :func:`taxreport.gains.gains_for_years` over the events and
rates loaded once, and stored there (:mod:`taxreport.ledger.derived`: a later ``gains --year 2023`` on the
unchanged ledger reads it). A one-year ``gains_for`` that misses the cache fills every year the same way. Each year
is matched from the beginning of the ledger to its end, exactly as a one-year call does, so a year's figures
here are the figures of ``gains --year YEAR`` to the cent.

The years are the country's tax years (calendar ``2024`` or split ``2024-25``) from the one holding the
ledger's first event to the one holding its last, in the request's time zone (the country's by default).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from taxreport import progress
from taxreport.errors import InputError
from taxreport.gains import GainsRequest, gains_for_years
from taxreport.jurisdictions.base import YearSummary, get

ALL = "all"


def ledger_years(ledger: Any, request: GainsRequest) -> list[str]:
    """The tax years of ``request``'s country that hold an event of the ledger, oldest first."""
    from taxreport.rebalance.backtest_tax import year_labels

    span = ledger.time_span()
    if span is None:
        return []
    first, last = span
    country = get(request.jurisdiction)
    tz = request.timezone or country.timezone
    years = []
    # candidates in the country's zone, then each kept when its bounds in the request's zone hold an event
    for label, _, _ in year_labels(country, first - timedelta(days=2), last + timedelta(days=2)):
        start, end = country.year_bounds(label, tz)  # type: ignore[call-arg]
        if start <= last and end > first:
            years.append(label)
    return years


def gains_all_years(ledger: Any, request: GainsRequest) -> list[YearSummary]:
    """:func:`gains_for` of every tax year of the ledger (``request.year`` is ignored), oldest first; one walk
    of the chain for all of them."""
    with ledger.pinned():
        years = ledger_years(ledger, request)
        if not years:
            raise InputError("the ledger holds no events, so it has no tax year; import your history first",
                             field="--year")
        with progress.task(f"Computing {len(years)} tax years", len(years), min_total=2) as bar:
            found = gains_for_years(ledger, request, years, advance=bar.advance)
    return [found[year] for year in years]


TOTALS = ("proceeds", "cost", "gains", "losses", "gain", "taxable_gain")


def totals(summaries: list[YearSummary]) -> dict[str, Decimal]:
    """The sums over the years of each amount in :data:`TOTALS` (exact; rounded only when shown)."""
    return {name: sum((getattr(s, name) for s in summaries), Decimal(0)) for name in TOTALS}
