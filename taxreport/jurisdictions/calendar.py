"""Tax-year boundaries and local dates, shared by the jurisdiction modules.

A tax year is a range of *local* dates in the jurisdiction's time zone (UK: Europe/London, AU:
Australia/Sydney…), converted here to a UTC ``[start, end)`` pair so that UTC-stamped ledger events can
be compared directly. Holding periods are also counted on local dates (:func:`local_date`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from taxreport.errors import InputError


def local_date(moment: datetime, tz: str) -> date:
    """The calendar date of ``moment`` in zone ``tz`` (e.g. 2024-04-05T23:30Z is 6 April in London BST)."""
    return moment.astimezone(ZoneInfo(tz)).date()


def local_midnight_utc(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


def calendar_year_bounds(label: str, tz: str) -> tuple[datetime, datetime]:
    """``"2024"`` -> [1 Jan 2024 00:00, 1 Jan 2025 00:00) local time, as UTC."""
    if not re.fullmatch(r"\d{4}", label.strip()):
        raise InputError(f"{label!r} is not a tax year here; write the calendar year, e.g. 2024", field="--year")
    year = int(label)
    return local_midnight_utc(date(year, 1, 1), tz), local_midnight_utc(date(year + 1, 1, 1), tz)


def split_year_bounds(label: str, *, start_month: int, start_day: int, tz: str) -> tuple[datetime, datetime]:
    """``"2024-25"`` -> [start_day/start_month/2024, same day 2025) local time, as UTC.

    Used for the UK (6 April) and Australia (1 July). ``"2024-2025"`` is accepted too.
    """
    m = re.fullmatch(r"(\d{4})-(\d{2}|\d{4})", label.strip())
    if not m:
        raise InputError(f"{label!r} is not a tax year here; write it like 2024-25", field="--year")
    first = int(m.group(1))
    second = int(m.group(2))
    if (second % 100) != (first + 1) % 100 or (len(m.group(2)) == 4 and second != first + 1):
        raise InputError(f"{label!r}: the second year must follow the first (e.g. 2024-25)", field="--year")
    return (local_midnight_utc(date(first, start_month, start_day), tz),
            local_midnight_utc(date(first + 1, start_month, start_day), tz))

