"""Backtest strategies: which rebalancing rule a replay follows, expressed as a variant of the basket
so that the SAME trigger functions (:mod:`taxreport.rebalance.triggers`) and the SAME planner
(:mod:`taxreport.rebalance.planner`) as the live engine decide when and what to trade.

Strategy specs (``--compare``, comma-separated):

============================  ====================================================================
``buy-and-hold``              buy the target weights once, never rebalance
``daily``                     basket mode ``daily`` (at ``daily_at`` UTC; skipped inside the gate)
``weekly``                    basket mode ``weekly`` (``weekly_on`` at ``daily_at``; gate applies)
``threshold:X``               trade whenever an asset drifts more than X (the basket's band kind)
``hybrid:X``                  check daily, trade only beyond X; ``hybrid:weekly:X`` checks weekly
``basket``                    exactly the basket file's own mode and settings
``<any>+tax-aware``           that strategy with the tax-aware policies on (``weekly+tax-aware``),
                              replayed once per tax country: every rebalance goes through
                              :func:`taxreport.rebalance.tax_plan.tax_adjusted_plan` (the code of
                              ``rebalance plan/run``) with the basket's ``[tax]`` policies, else
                              :func:`taxreport.rebalance.tax_policy.tax_aware_defaults`; lots
                              identified at each sale where the country allows it (US, AU)
============================  ====================================================================

The gate of scheduled modes (3pp by default) comes from the basket; ``gate`` overrides it for every
strategy (``--gate 0`` makes daily/weekly always trade). A cheap exact pre-check (:meth:`Scheduler.may_trade`)
skips bars on which the band or gate certainly cannot fire; the real decision is always
:func:`~taxreport.rebalance.triggers.should_rebalance` on the planner's rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Sequence

from taxreport.errors import InputError
from taxreport.model.money import decimal_str, parse_decimal
from taxreport.rebalance.triggers import next_run
from taxreport.rebalance.types import Basket

HUNDRED = Decimal(100)
KINDS = ("buy-and-hold", "daily", "weekly", "threshold", "hybrid", "basket")
# The pre-check may say "maybe" a hair early; never "no" when the planner would trade.
_MARGIN = Decimal("1e-30")


@dataclass(frozen=True)
class Strategy:
    label: str  # as written: "threshold:5"
    kind: str  # buy-and-hold | daily | weekly | threshold | hybrid
    basket: Basket  # the basket with this strategy's mode/threshold/calendar
    tax_aware: bool = False  # "+tax-aware": the country's tax policies at every rebalance (module doc)

    @property
    def rebalances(self) -> bool:
        return self.kind != "buy-and-hold"


def _band(text: str, spec: str) -> Decimal:
    try:
        value = parse_decimal(text.rstrip("%"), what="band")
    except ValueError:
        raise InputError(f"{spec!r}: the band {text!r} is not a number", field="--compare") from None
    if value <= 0 or value >= HUNDRED:
        raise InputError(f"{spec!r}: the band must be between 0 and 100 percentage points", field="--compare")
    return value


TAX_AWARE = "+tax-aware"


def parse_strategy(spec: str, basket: Basket, *, gate: Decimal | None = None) -> Strategy:
    text = spec.strip().lower()
    if text.endswith(TAX_AWARE):
        inner = parse_strategy(text[: -len(TAX_AWARE)], basket, gate=gate)
        if not inner.rebalances:
            raise InputError(f"{spec!r}: buy-and-hold never sells, there is nothing to make tax-aware",
                             field="--compare")
        return replace(inner, label=inner.label + TAX_AWARE, tax_aware=True)
    parts = text.split(":")
    kind = parts[0]
    base = basket if gate is None else replace(basket, gate=gate)
    if kind in ("buy-and-hold", "buyandhold", "hold") and len(parts) == 1:
        return Strategy("buy-and-hold", "buy-and-hold", base)
    if kind in ("daily", "weekly") and len(parts) == 1:
        return Strategy(kind, kind, replace(base, mode=kind))
    if kind == "basket" and len(parts) == 1:
        return Strategy(f"basket ({basket.mode})", basket.mode, base)
    if kind == "threshold" and len(parts) == 2:
        band = _band(parts[1], spec)
        return Strategy(f"threshold:{decimal_str(band)}", "threshold", replace(base, mode="threshold", threshold=band))
    if kind == "hybrid" and len(parts) in (2, 3):
        calendar = parts[1] if len(parts) == 3 else "daily"
        if calendar not in ("daily", "weekly"):
            raise InputError(f"{spec!r}: hybrid calendar must be daily or weekly", field="--compare")
        band = _band(parts[-1], spec)
        label = f"hybrid:{decimal_str(band)}" if calendar == "daily" else f"hybrid:weekly:{decimal_str(band)}"
        return Strategy(label, "hybrid", replace(base, mode="hybrid", threshold=band, calendar=calendar))
    raise InputError(f"unknown strategy {spec!r}; use buy-and-hold, daily, weekly, threshold:X, hybrid:X, "
                     "hybrid:weekly:X or basket", field="--compare")


def parse_strategies(specs: str | Sequence[str], basket: Basket, *, gate: Decimal | None = None) -> list[Strategy]:
    items = [s for s in (specs.split(",") if isinstance(specs, str) else specs) if s.strip()]
    if not items:
        raise InputError("name at least one strategy", field="--compare")
    out = [parse_strategy(s, basket, gate=gate) for s in items]
    labels = [s.label for s in out]
    dupes = sorted({label for label in labels if labels.count(label) > 1})
    if dupes:
        raise InputError(f"strategy listed twice: {', '.join(dupes)}", field="--compare")
    return out


class Scheduler:
    """When a strategy looks at the portfolio. ``due(now)`` is cheap and clock-only; after a check the
    caller reports it with ``checked(now)``."""

    def __init__(self, strategy: Strategy, start: datetime) -> None:
        self.strategy = strategy
        self.basket = strategy.basket
        self.last_check = start
        self.last_run: datetime | None = start
        self.next_due = self._next(start)
        # Pre-check bounds per member (basket order), as fractions of the total: the planner trades when
        # |value/total*100 - target| > band, i.e. value > (target+band)/100*total or < (target-band)/100*total.
        # The bounds are widened by _MARGIN so rounding can only make the pre-check say "maybe".
        b = self.basket
        scheduled = b.mode in ("daily", "weekly")
        self.always = scheduled and b.gate == 0
        self.bounds: list[tuple[Decimal, Decimal | None]] = []
        for target in b.weights.values():
            band = b.gate if scheduled else (target * b.threshold / HUNDRED if b.band == "relative" else b.threshold)
            upper = (target + band) / HUNDRED * (1 - _MARGIN)
            lower = (target - band) / HUNDRED * (1 + _MARGIN) if target > band else None
            self.bounds.append((upper, lower))

    def _next(self, after: datetime) -> datetime | None:
        if not self.strategy.rebalances:
            return None
        if self.basket.mode == "threshold":
            return after + timedelta(minutes=self.basket.cooldown_minutes)
        return next_run(self.basket, after)

    def due(self, now: datetime) -> bool:
        return self.next_due is not None and now >= self.next_due

    def may_trade(self, values: Sequence[Decimal], total: Decimal) -> bool:
        """Exact pre-check on member values (basket order): False only if every member is inside its
        band (threshold, hybrid) or the gate (daily, weekly), so the planner would not trade."""
        if self.always:
            return True
        for value, (upper, lower) in zip(values, self.bounds):
            if value > upper * total or (lower is not None and value < lower * total):
                return True
        return False

    def checked(self, now: datetime, *, traded: bool) -> None:
        self.last_check = now
        if traded or self.basket.mode != "threshold":
            self.last_run = now
        self.next_due = self._next(now)
