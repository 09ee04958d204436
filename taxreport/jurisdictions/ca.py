"""Canada: capital gains on crypto assets held as capital property by an individual (Schedule 3).

Rules and their sources:

* **Adjusted cost base = average cost of identical property** (CRA, "Identical properties",
  https://www.canada.ca/en/revenue-agency/services/tax/individuals/topics/about-your-tax-return/tax-return/completing-a-tax-return/personal-income/line-12700-capital-gains/shares-funds-other-units/identical-properties.html;
  ITA s47): the ACB per unit is the total cost (price plus acquisition expenses) divided by the units
  owned; **dispositions do not change the per-unit ACB**. Units of one coin are identical property, so
  the pool is per coin **across all the taxpayer's accounts**; transfers between own accounts change
  nothing.
* **Gain** = proceeds of disposition - ACB - outlays and expenses (Schedule 3 columns). Here
  ``proceeds`` is net of the outlays (the contract in :mod:`.base`); ``detail`` has the Schedule 3
  layout: ``gross_proceeds``, ``outlays``.
* **Superficial loss** (ITA s54 "superficial loss", s40(2)(g)(i), s53(1)(f); CRA "Superficial loss",
  https://www.canada.ca/en/revenue-agency/services/tax/individuals/topics/about-your-tax-return/tax-return/completing-a-tax-return/personal-income/line-12700-capital-gains/capital-losses-deductions/what-a-superficial-loss.html):
  a loss is denied when identical property is acquired in the period from 30 calendar days before to
  30 calendar days after the disposition **and** is still owned at the end of that period (30 days
  after). The denied loss is added to the ACB of the substituted property.
* **Partial denial**: denied = loss x min(S, P, B) / S, with S = units disposed of, P = units acquired
  in the 61-day period, B = units held at the end of the period. This formula is **practitioner
  material**, not CRA text: adjustedcostbase.ca, "Applying the Superficial Loss Rule for a Partial
  Disposition of Shares", which bases it on CRA Interpretation Bulletin IT-456R para. 12 (archived):
  "having initially 50 identical properties on hand sells 20 items at a loss and reacquires 15 in the
  relevant period ... the superficial loss will be limited to the 15 properties" (min(20, 15, 45) = 15).
* **When the denied loss joins the pool** (our choice, documented): at the acquisition made *after*
  the sale, within the period, that completes the substituted units (min(S, P, B), earliest first);
  when no unit was acquired after the sale, right after the sale (the substitutes are already held).
  Affiliated persons (spouse, controlled corporation, RRSP/TFSA) are outside the ledger and ignored.
* **Inclusion rate** 1/2 (ITA s38(a)); the proposed 2/3 rate (Budget 2024) was never enacted and was
  cancelled on 21 March 2025. Data table :data:`INCLUSION_RATES`; a year outside it is an error.
* Tax year: the calendar year; dates are local dates in America/Toronto (option ``timezone``).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Sequence

from taxreport.errors import InputError, MissingDataError
from taxreport.jurisdictions.base import DisposalResult, YearSummary
from taxreport.jurisdictions.calendar import calendar_year_bounds, local_date
from taxreport.jurisdictions.summary import choose_method, summarise
from taxreport.jurisdictions.uk_matching import person_level
from taxreport.lots.valuation import SwapCost
from taxreport.lots.types import Acquisition, Disposal, LotMatch, Movement, OpenLot

ZERO = Decimal(0)
WINDOW = timedelta(days=30)

# (first year, last year, inclusion rate): ITA s38(a). 2001 is the first full year at 1/2 (the rate
# changed twice in 2000). Extend the last year once a year has passed without a change in law.
INCLUSION_RATES: tuple[tuple[int, int, Decimal], ...] = (
    (2001, 2026, Decimal("0.5")),
)


def inclusion_rate(year: int) -> Decimal:
    for first, last, rate in INCLUSION_RATES:
        if first <= year <= last:
            return rate
    raise InputError(f"no Canadian capital gains inclusion rate on file for {year}", field="--year")


@dataclass(frozen=True)
class CaDisposal:
    disposal: Disposal
    cost: Decimal  # ACB of the units disposed of
    denied: Decimal  # superficial loss denied (positive), 0 if none
    counts: tuple[Decimal, Decimal, Decimal] | None  # (S, P, B) when the loss was tested
    pool_after: tuple[Decimal, Decimal]
    zero_cost: Decimal  # units given zero cost (user allowed)


@dataclass(frozen=True)
class PoolPoint:
    time: datetime
    asset: str
    quantity: Decimal
    cost: Decimal


class _Timeline:
    """Quantities of one coin over local dates: units held at the end of a day, units acquired between
    two days (inclusive). Independent of costs, so it can look ahead of the ACB walk."""

    def __init__(self, items: Sequence[Acquisition | Disposal], days: Sequence[date]) -> None:
        self.days: list[date] = []
        self.held: list[Decimal] = []
        self.acq_days: list[date] = []
        self.acq_cum: list[Decimal] = []
        held = acq = ZERO
        for m, day in zip(items, days):
            if isinstance(m, Acquisition):
                held += m.quantity
                acq += m.quantity
                self.acq_days.append(day)
                self.acq_cum.append(acq)
            else:
                held -= m.quantity
            self.days.append(day)
            self.held.append(held)

    def held_at_end_of(self, day: date) -> Decimal:
        i = bisect_right(self.days, day)
        return self.held[i - 1] if i else ZERO

    def acquired_between(self, first: date, last: date) -> Decimal:
        hi = bisect_right(self.acq_days, last)
        lo = bisect_right(self.acq_days, first - timedelta(days=1))
        top = self.acq_cum[hi - 1] if hi else ZERO
        bottom = self.acq_cum[lo - 1] if lo else ZERO
        return top - bottom


def _when(m: Acquisition | Disposal) -> datetime:
    return m.date_acquired if isinstance(m, Acquisition) else m.time


def match_ca(items: Sequence[Acquisition | Disposal], *, tz: str, zero_cost_assets: Sequence[str] = ()
             ) -> tuple[list[CaDisposal], list[PoolPoint]]:
    """Average-cost ACB with superficial losses, per coin over all accounts (``items``: the person's
    acquisitions and disposals, any order). Returns the disposals in time order and the pool history."""
    by_asset: dict[str, list[Acquisition | Disposal]] = {}
    for m in sorted(items, key=_when):
        by_asset.setdefault(m.asset, []).append(m)
    zero_ok = {a.upper() for a in zero_cost_assets}
    out: list[CaDisposal] = []
    history: list[PoolPoint] = []
    problems: list[str] = []
    for asset, seq in sorted(by_asset.items()):
        _match_coin(asset, seq, tz, asset in zero_ok, out, history, problems)
    if problems:
        raise MissingDataError(f"{len(problems)} disposal(s) sell more than is held:\n  " + "\n  ".join(problems))
    out.sort(key=lambda r: r.disposal.time)
    return out, history


def _match_coin(asset: str, seq: list[Acquisition | Disposal], tz: str, zero_ok: bool, out: list[CaDisposal],
                history: list[PoolPoint], problems: list[str]) -> None:
    days = [local_date(_when(m), tz) for m in seq]
    timeline = _Timeline(seq, days)
    pending: dict[int, Decimal] = {}  # index in seq -> denied loss to add once that acquisition is in
    pool_q = pool_c = ZERO
    for i, m in enumerate(seq):
        if isinstance(m, Acquisition):
            pool_q += m.quantity
            pool_c += m.cost + pending.pop(i, ZERO)
            history.append(PoolPoint(m.date_acquired, asset, pool_q, pool_c))
            continue
        q = m.quantity
        take = min(q, pool_q)
        cost = pool_c if take == pool_q else pool_c * take / pool_q
        short = q - take
        if short > 0 and not zero_ok:
            problems.append(f"disposal {m.event_key}#{m.leg_index} at {m.time.isoformat()} sells {q} {asset}; "
                            f"only {take} held (shortfall {short}); import the missing acquisitions or allow "
                            f"a zero cost basis for {asset}")
        pool_q -= take
        pool_c -= cost
        loss = m.proceeds - m.fee - cost
        denied, counts = ZERO, None
        if loss < 0:
            day = days[i]
            s = q
            p = timeline.acquired_between(day - WINDOW, day + WINDOW)
            b = timeline.held_at_end_of(day + WINDOW)
            counts = (s, p, b)
            units = min(s, p, b)
            if units > 0:
                denied = -loss if units == s else -loss * units / s
                target = _substitute_index(seq, days, i, day + WINDOW, units)
                if target is None:
                    pool_c += denied  # substitutes already held: their ACB goes up now
                else:
                    pending[target] = pending.get(target, ZERO) + denied
        history.append(PoolPoint(m.time, asset, pool_q, pool_c))
        out.append(CaDisposal(m, cost, denied, counts, (pool_q, pool_c), short if short > 0 else ZERO))


def _substitute_index(seq: list[Acquisition | Disposal], days: list[date], i: int, last_day: date,
                      units: Decimal) -> int | None:
    """The acquisition after ``seq[i]`` (within the period) that completes ``units`` substituted units,
    earliest first; the last one in the period if they add up to fewer; None if there is none."""
    got = ZERO
    found = None
    for j in range(i + 1, len(seq)):
        if days[j] > last_day:
            break
        m = seq[j]
        if isinstance(m, Acquisition):
            found = j
            got += m.quantity
            if got >= units:
                break
    return found


class Canada:
    code = "ca"
    name = "Canada (CRA, individuals)"
    currency = "CAD"
    methods = ("acb",)  # average cost of identical property: the only method the law allows
    timezone = "America/Toronto"
    swap_cost = SwapCost.GIVEN  # crypto/crypto cost: value given (barter, IT-490)
    lookahead_days = WINDOW.days  # a December loss is tested against holdings 30 days later (taxreport.gains)
    pools_per_person = True  # read by taxreport.gains: --account is refused (ACB and superficial loss per person)

    def year_bounds(self, label: str, tz: str | None = None) -> tuple[datetime, datetime]:
        return calendar_year_bounds(label, tz or self.timezone)

    def compute(self, movements: Sequence[Movement], *, year: str, method: str | None = None,
                options: dict[str, Any] | None = None) -> YearSummary:
        opts = dict(options or {})
        method = choose_method(self, method, "Canada uses the average cost (ACB) of identical property")
        tz = opts.get("timezone") or self.timezone
        start, end = self.year_bounds(year, tz)
        rate = inclusion_rate(int(year))
        zero_cost = tuple(opts.get("zero_cost_assets", ()))
        own, notes = person_level(movements, zero_cost)
        horizon = end + timedelta(days=self.lookahead_days + 1)  # the superficial-loss period's end
        own = [m for m in own if m.time < horizon]
        matched, history = match_ca(own, tz=tz, zero_cost_assets=zero_cost)
        results = [_result(r) for r in matched if start <= r.disposal.time < end]
        net = sum((r.gain for r in results), ZERO)
        denied = sum((r.adjustment for r in results), ZERO)
        breakdown = {
            "inclusion_rate": rate,
            "net_capital_gain": net,
            "taxable_capital_gain": net * rate if net > 0 else ZERO,
            "allowable_capital_loss": -net * rate if net < 0 else ZERO,
            "superficial_losses_denied": denied,
            "schedule3_proceeds": sum((r.detail["gross_proceeds"] for r in results), ZERO),
            # Schedule 3 columns foot: proceeds - ACB - outlays = gain (or loss). A denied superficial loss
            # is nil on this disposition (ITA s54 "superficial loss", s40(2)(g)(i)), so the ACB reported
            # for it is the ACB less the denied part (the denied part moves to the substituted units).
            "schedule3_acb": sum((r.cost - r.adjustment for r in results), ZERO),
            "schedule3_outlays": sum((r.detail["outlays"] for r in results), ZERO),
            "schedule3_gain": net,
        }
        last: dict[str, PoolPoint] = {}
        for h in history:
            if h.time < end:
                last[h.asset] = h
        open_lots = [OpenLot(None, a, p.quantity, p.cost, None, None, {"rule": "acb"})
                     for a, p in sorted(last.items()) if p.quantity > 0]
        notes += [
            f"ACB: average cost per coin over all accounts; dates are local dates in {tz}",
            "superficial losses: denied when the coin is bought within 30 days before or after the sale and "
            "still held 30 days after; denied part = loss x min(sold, bought in period, held at end) / sold "
            "(practitioner formula after CRA IT-456R para. 12); added to the ACB of the substituted units",
            "purchases by affiliated persons (spouse, RRSP, TFSA, controlled corporation) are not in the ledger "
            "and are not considered",
            f"inclusion rate {rate} (ITA s38(a)); net capital losses of other years are not applied",
        ]
        return summarise(self.code, self.currency, method, year.strip(), start, end, results, ZERO,
                         breakdown["taxable_capital_gain"], breakdown, open_lots, notes)


def _result(r: CaDisposal) -> DisposalResult:
    d = r.disposal
    proceeds = d.proceeds - d.fee
    notes = []
    if r.denied:
        s, p, b = r.counts  # type: ignore[misc]
        notes.append(f"superficial loss: {r.denied} of the loss denied (min(sold {s}, bought in period {p}, "
                     f"held at end {b}) / sold {s}) and added to the ACB of the substituted units")
    if r.zero_cost:
        notes.append(f"{r.zero_cost} {d.asset} had no acquisition: zero cost basis used because the user allowed it")
    lots = (LotMatch(quantity=d.quantity, cost=r.cost, acquired_at=None, account=None, lot_ref=None, rule="acb"),)
    s_p_b = {"sold": r.counts[0], "acquired_in_period": r.counts[1], "held_at_period_end": r.counts[2]} \
        if r.counts else {}
    return DisposalResult(
        time=d.time, account=d.account, asset=d.asset, quantity=d.quantity, proceeds=proceeds, cost=r.cost,
        gain=proceeds - r.cost + r.denied, lots=lots, rule="acb", adjustment=r.denied,
        adjustment_code="superficial loss" if r.denied else "", event_key=f"{d.event_key}#{d.leg_index}",
        role=d.role, notes=tuple(notes),
        detail={"gross_proceeds": d.proceeds, "outlays": d.fee, "acb_per_unit": r.cost / d.quantity,
                "superficial_loss_denied": r.denied, "superficial_test": s_p_b,
                "schedule3_acb": r.cost - r.denied,
                "pool_quantity_after": r.pool_after[0], "pool_cost_after": r.pool_after[1]})


JURISDICTION = Canada()
