"""Holding-period arithmetic on local calendar dates: the one holding-period test of every country.

"Held more than one year" (US IRC §1222 / Pub. 544; DE §23 Abs. 1 Satz 1 Nr. 2 EStG with §§187(1),
188(2) BGB): counting starts the day *after* acquisition, so the one-year period ends at the end of
the anniversary date. A sale **on** the anniversary is within the year; a sale on the **day after**
is more than one year. Worked example (Pub. 544, "Holding Period"): bought 15 Mar 2023, sold
15 Mar 2024 -> short-term; sold 16 Mar 2024 -> long-term.

AU's CGT discount test (ITAA 1997 s115-25(1): acquired "at least 12 months before", excluding the day
of acquisition and the day of the CGT event; ATO: acquired 2 Feb 2001 -> discount from 3 Feb 2002) is
the same comparison: the sale date is after the anniversary date.

An acquisition on 29 February has its anniversary on 28 February of the next year (§188(3) BGB:
when the month has no such day the period ends on its last day), so a sale on 1 March is more than
one year.

A country's policy names its rule as a :class:`Holding` (years, and what a long holding does: a
long-term term, an exemption, a discount).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable
from zoneinfo import ZoneInfo


def anniversary(day: date, years: int = 1) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February -> 28 February
        return day.replace(year=day.year + years, day=28)


class HoldingEffect(enum.StrEnum):
    TERM = "term"  # US: long-term capital gain (Schedule D Part II)
    EXEMPT = "exempt"  # DE: not taxable at all (§ 23 EStG)
    DISCOUNT = "discount"  # AU: CGT discount (Div 115)


@dataclass(frozen=True, slots=True)
class Holding:
    """A country's holding-period rule: units held more than ``years`` years (on local dates, counted
    as in the module docstring) are long, with ``effect``."""

    years: int
    effect: HoldingEffect

    def long(self, acquired: date | None, sold: date) -> bool:
        """Held more than :attr:`years` years (the one holding-period test; see the module docstring)."""
        return acquired is not None and sold > anniversary(acquired, self.years)


def held_more_than_one_year(acquired: date, sold: date) -> bool:
    """US long-term / DE tax-free: :meth:`Holding.long` with one year."""
    return ONE_YEAR.long(acquired, sold)


ONE_YEAR = Holding(1, HoldingEffect.TERM)


def local_day_cache(tz: str) -> Callable[[datetime], date]:
    """A memoised ``moment -> local date in tz`` (lots are dated many times as they are split)."""
    zone = ZoneInfo(tz)
    cache: dict[datetime, date] = {}

    def day_of(moment: datetime) -> date:
        found = cache.get(moment)
        if found is None:
            found = cache[moment] = moment.astimezone(zone).date()
        return found

    return day_of
