"""Tax-year boundaries and local dates, shared by the jurisdiction modules.

A tax year is a range of *local* dates in the jurisdiction's time zone (UK: Europe/London, AU:
Australia/Sydney…), converted here to a UTC ``[start, end)`` pair so that UTC-stamped ledger events can
be compared directly. Holding periods are also counted on local dates (:func:`local_date`).
:class:`TaxYear` is the one rule (a country's policy names its first day); the function below is
its calendar-year form (for a calendar year without a country).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from taxreport.errors import InputError


def local_date(moment: datetime, tz: str) -> date:
    """The calendar date of ``moment`` in zone ``tz`` (e.g. 2024-04-05T23:30Z is 6 April in London BST)."""
    return moment.astimezone(ZoneInfo(tz)).date()


def local_midnight_utc(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


@dataclass(frozen=True, slots=True)
class TaxYear:
    """A tax year starting on ``start_month``/``start_day`` (local date). 1 January: the calendar year,
    written ``2024``; another day: a split year, written ``2024-25`` (``2024-2025`` accepted)."""

    start_month: int = 1
    start_day: int = 1

    @property
    def calendar(self) -> bool:
        return (self.start_month, self.start_day) == (1, 1)

    def first_year(self, label: str) -> int:
        """The calendar year the tax year starts in (validates ``label``)."""
        text = label.strip()
        if self.calendar:
            if not re.fullmatch(r"\d{4}", text):
                raise InputError(f"{label!r} is not a tax year here; write the calendar year, e.g. 2024",
                                 field="--year")
            return int(text)
        m = re.fullmatch(r"(\d{4})-(\d{2}|\d{4})", text)
        if not m:
            raise InputError(f"{label!r} is not a tax year here; write it like 2024-25", field="--year")
        first, second = int(m.group(1)), int(m.group(2))
        if (second % 100) != (first + 1) % 100 or (len(m.group(2)) == 4 and second != first + 1):
            raise InputError(f"{label!r}: the second year must follow the first (e.g. 2024-25)", field="--year")
        return first

    def label(self, label: str) -> str:
        """The label as the country writes it: ``"2024"`` or ``"2024-25"``."""
        return self.label_of(self.first_year(label))

    def label_of(self, first: int) -> str:
        """The label of the tax year starting in the calendar year ``first``."""
        return str(first) if self.calendar else f"{first}-{(first + 1) % 100:02d}"

    def bounds(self, label: str, tz: str) -> tuple[datetime, datetime]:
        """UTC ``[start, end)`` of the tax year ``label`` (local midnights in ``tz``)."""
        first = self.first_year(label)
        return (local_midnight_utc(date(first, self.start_month, self.start_day), tz),
                local_midnight_utc(date(first + 1, self.start_month, self.start_day), tz))

    def first_day_after(self, label: str) -> date:
        first = self.first_year(label)
        return date(first + 1, self.start_month, self.start_day)



def calendar_year_bounds(label: str, tz: str) -> tuple[datetime, datetime]:
    """``"2024"`` -> [1 Jan 2024 00:00, 1 Jan 2025 00:00) local time, as UTC."""
    return TaxYear().bounds(label, tz)
