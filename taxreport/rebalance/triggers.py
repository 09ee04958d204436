"""When a basket rebalances: the band, the gate, the cooldown and the calendar. Pure functions (the
caller passes ``now``; every time is timezone-aware UTC). Re-exported by :mod:`.planner`.

Modes (as OKX's Smart Portfolio bot):

* ``daily`` — due at ``daily_at`` UTC every day; ``weekly`` — due on ``weekly_on`` at ``daily_at``
  (Monday 00:00 UTC by default). A due scheduled run still SKIPS when no asset drifts more than the
  ``gate`` (percentage points, 3 by default; ``gate = 0`` always trades).
* ``threshold`` — checked no more often than ``cooldown_minutes`` (5 by default); trades when any
  asset deviates from its target by MORE than the band.
* ``hybrid`` — checked on the ``calendar`` (daily or weekly, as above), trades only beyond the band.
* ``interval`` — due every ``every`` (``4h``, ``30m``, ``2d``: 30 minutes to 28 days, as OKX's and
  Gate's fixed-interval rebalancing), on slots counted from 1970-01-01 00:00 UTC (``4h``: 00:00,
  04:00, 08:00 … UTC); gated like daily/weekly.

The band is ``threshold`` percentage points (``band = "absolute"``) or ``threshold`` percent of each
target (``band = "relative"``: a 15% band on a 20% target is 3pp, so it fires above 23% or below 17%).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Iterable

from taxreport.model.money import decimal_str
from taxreport.rebalance.types import AssetRow, Basket

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
HUNDRED = Decimal(100)


def band_width(basket: Basket, target: Decimal) -> Decimal:
    """The band around ``target`` in percentage points."""
    if basket.band == "relative":
        return target * basket.threshold / HUNDRED
    return basket.threshold


def outside_band(basket: Basket, rows: Iterable[AssetRow]) -> list[AssetRow]:
    """Members whose |drift| is strictly greater than their band."""
    return [r for r in rows if abs(r.drift) > band_width(basket, r.target)]


def _pp(value: Decimal) -> str:
    return f"{'+' if value > 0 else ''}{format(value.quantize(Decimal('0.01')), 'f')}pp"


def _largest(rows: Iterable[AssetRow]) -> AssetRow:
    """The row with the largest |drift|; on a tie the first in basket order."""
    rows = list(rows)
    return max(rows, key=lambda r: abs(r.drift))  # max() keeps the first of equals


def trade_needed(basket: Basket, rows: Iterable[AssetRow]) -> tuple[bool, str]:
    """Drift test only (no clock): the band for threshold/hybrid baskets, the gate for scheduled ones."""
    rows = list(rows)
    top = _largest(rows)
    if basket.mode in ("threshold", "hybrid"):
        beyond = outside_band(basket, rows)
        if beyond:
            worst = _largest(beyond)
            return True, (f"{worst.asset} drifts {_pp(worst.drift)} beyond its "
                          f"{decimal_str(band_width(basket, worst.target))}pp band")
        return False, (f"inside the band: largest drift {top.asset} {_pp(top.drift)} "
                       f"(band {decimal_str(band_width(basket, top.target))}pp)")
    if basket.gate == 0:
        return True, "gate 0: scheduled runs always trade"
    if abs(top.drift) > basket.gate:
        return True, f"{top.asset} drifts {_pp(top.drift)}, more than the {decimal_str(basket.gate)}pp gate"
    return False, (f"no asset drifts more than the {decimal_str(basket.gate)}pp gate "
                   f"(largest: {top.asset} {_pp(top.drift)})")


def _utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware (UTC)")
    return moment.astimezone(timezone.utc)


def _at(basket: Basket) -> time:
    hours, minutes = basket.daily_at.split(":")
    return time(int(hours), int(minutes), tzinfo=timezone.utc)


def next_run(basket: Basket, after: datetime) -> datetime:
    """The first scheduled moment strictly after ``after``: the next ``daily_at`` (daily, hybrid with
    a daily calendar), the next ``weekly_on`` at ``daily_at`` (weekly, hybrid weekly), or the end of
    the cooldown (threshold)."""
    after = _utc(after, "after")
    calendar = basket.mode if basket.mode in ("daily", "weekly") else getattr(basket, "calendar", "daily")
    if basket.mode == "threshold":
        return after + timedelta(minutes=basket.cooldown_minutes)
    if basket.mode == "interval":
        from taxreport.rebalance.runner import parse_every

        step_s = int(parse_every(basket.every or "").total_seconds())
        epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
        slots = int((after - epoch).total_seconds()) // step_s + 1
        return epoch + timedelta(seconds=slots * step_s)
    candidate = datetime.combine(after.date(), _at(basket))
    if calendar == "weekly":
        days = (WEEKDAYS.index(basket.weekly_on) - candidate.weekday()) % 7
        candidate += timedelta(days=days)
        step = timedelta(days=7)
    else:
        step = timedelta(days=1)
    while candidate <= after:
        candidate += step
    return candidate


def should_rebalance(basket: Basket, rows: Iterable[AssetRow], now: datetime, last_run: datetime | None, *,
                     last_check: datetime | None = None) -> tuple[bool, str]:
    """Whether a rebalance should trade now, and why (the reason goes into the audit trail).

    ``last_run`` is the last rebalance (None: never); ``last_check`` the last threshold check, which
    the cooldown counts from (falls back to ``last_run``).
    """
    now = _utc(now, "now")
    rows = list(rows)
    if basket.mode == "threshold":
        since = last_check or last_run
        if since is not None:
            ready = _utc(since, "last_check") + timedelta(minutes=basket.cooldown_minutes)
            if now < ready:
                return False, f"cooldown: next check at {ready.isoformat().replace('+00:00', 'Z')}"
        go, why = trade_needed(basket, rows)
        return go, f"threshold: {why}"
    if last_run is not None:
        due = next_run(basket, last_run)
        if now < due:
            return False, f"not due: next {basket.mode} run at {due.isoformat().replace('+00:00', 'Z')}"
    go, why = trade_needed(basket, rows)
    label = basket.mode if basket.mode != "hybrid" else f"hybrid ({getattr(basket, 'calendar', 'daily')})"
    return go, f"scheduled {label} run: {why}" if go else f"scheduled {label} run skipped: {why}"
