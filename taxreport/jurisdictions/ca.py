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

The module is the country's :data:`POLICY` (data) and :class:`CaRules` (hooks of the one engine,
:mod:`taxreport.jurisdictions.engine`); per disposal :class:`CaDetail`, per year :class:`CaBreakdown`.
The pool is the one average-cost pool, :class:`taxreport.lots.pools.AveragePool`.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Sequence
from zoneinfo import ZoneInfo

from taxreport.errors import MissingDataError
from taxreport.jurisdictions.base import Breakdown, Detail, DisposalResult, Note, Policy, Pooling, YearTable
from taxreport.jurisdictions.calendar import TaxYear
from taxreport.jurisdictions.deposit_notes import year_notes
from taxreport.jurisdictions.engine import Assessment, Context, Jurisdiction, Matched, PersonRules
from taxreport.jurisdictions.income import RULES as INCOME_RULES
from taxreport.lots.pools import AveragePool
from taxreport.lots.types import Acquisition, Disposal, LotMatch, OpenLot
from taxreport.lots.valuation import SwapCost

ZERO = Decimal(0)
WINDOW = timedelta(days=30)

# Inclusion rate by first year: ITA s38(a). 2001 is the first full year at 1/2 (the rate changed twice in
# 2000). Extend ``last`` once a year has passed without a change in law.
INCLUSION_RATES: YearTable[Decimal] = YearTable("Canadian capital gains inclusion rate", (
    (2001, Decimal("0.5")),
), last=2026)


def inclusion_rate(year: int) -> Decimal:
    return INCLUSION_RATES.at(year)


@dataclass(frozen=True)
class SuperficialTest(Detail):
    """The counts of the superficial-loss test (S, P, B)."""

    sold: Decimal
    acquired_in_period: Decimal
    held_at_period_end: Decimal


@dataclass(frozen=True)
class CaDetail(Detail):
    """One disposition as Schedule 3 lays it out."""

    gross_proceeds: Decimal  # proceeds of disposition
    outlays: Decimal  # outlays and expenses
    acb_per_unit: Decimal
    superficial_loss_denied: Decimal
    superficial_test: SuperficialTest | None  # when the loss was tested
    schedule3_acb: Decimal  # ACB less the denied superficial loss
    pool_quantity_after: Decimal
    pool_cost_after: Decimal


@dataclass(frozen=True)
class CaBreakdown(Breakdown):
    inclusion_rate: Decimal
    net_capital_gain: Decimal
    taxable_capital_gain: Decimal
    allowable_capital_loss: Decimal
    superficial_losses_denied: Decimal
    schedule3_proceeds: Decimal
    schedule3_acb: Decimal
    schedule3_outlays: Decimal
    schedule3_gain: Decimal


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
    zone = ZoneInfo(tz)  # local_date(moment, tz), with the zone looked up once
    days = [_when(m).astimezone(zone).date() for m in seq]
    timeline = _Timeline(seq, days)
    pending: dict[int, Decimal] = {}  # index in seq -> denied loss to add once that acquisition is in
    pool = AveragePool(quantize=False)
    for i, m in enumerate(seq):
        if isinstance(m, Acquisition):
            pool.add_units(m.quantity, m.cost + pending.pop(i, ZERO))
            history.append(PoolPoint(m.date_acquired, asset, pool.quantity, pool.cost))
            continue
        q = m.quantity
        take, cost = pool.take_units(q)
        short = q - take
        if short > 0 and not zero_ok:
            problems.append(f"disposal {m.event_key}#{m.leg_index} at {m.time.isoformat()} sells {q} {asset}; "
                            f"only {take} held (shortfall {short}); import the missing acquisitions or allow "
                            f"a zero cost basis for {asset}")
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
                    pool.add_cost(denied)  # substitutes already held: their ACB goes up now
                else:
                    pending[target] = pending.get(target, ZERO) + denied
        history.append(PoolPoint(m.time, asset, pool.quantity, pool.cost))
        out.append(CaDisposal(m, cost, denied, counts, (pool.quantity, pool.cost), short if short > 0 else ZERO))


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


class CaRules(PersonRules):
    def match_person(self, ctx: Context, own: list[Acquisition | Disposal]) -> tuple[list[CaDisposal],
                                                                                       list[PoolPoint]]:
        return match_ca(own, tz=ctx.tz, zero_cost_assets=ctx.zero_cost_assets)  # to the superficial-loss period's end

    def year_view(self, ctx: Context, state: tuple[list[CaDisposal], list[PoolPoint]], notes: list[Note]) -> Matched:
        matched, history = state
        last: dict[str, PoolPoint] = {}
        for h in history:
            if h.time < ctx.end:
                last[h.asset] = h
        open_lots = [OpenLot(None, a, p.quantity, p.cost, None, None, {"rule": "acb"})
                     for a, p in sorted(last.items()) if p.quantity > 0]
        # the zero-cost deposits of the year (the ACB pool averages every unit: no sale uses a deposit by name)
        return Matched([_result(r) for r in matched if ctx.start <= r.disposal.time < ctx.end], open_lots,
                       year_notes(notes, ctx.start, ctx.end))

    def assess(self, ctx: Context, reported: list[DisposalResult], whole_year: list[DisposalResult]) -> Assessment:
        rate = inclusion_rate(ctx.first_year)
        results = reported
        net = sum((r.gain for r in results), ZERO)
        details = [r.detail for r in results if isinstance(r.detail, CaDetail)]
        breakdown = CaBreakdown(
            inclusion_rate=rate, net_capital_gain=net,
            taxable_capital_gain=net * rate if net > 0 else ZERO,
            allowable_capital_loss=-net * rate if net < 0 else ZERO,
            superficial_losses_denied=sum((r.adjustment for r in results), ZERO),
            schedule3_proceeds=sum((d.gross_proceeds for d in details), ZERO),
            # Schedule 3 columns foot: proceeds - ACB - outlays = gain (or loss). A denied superficial loss
            # is nil on this disposition (ITA s54 "superficial loss", s40(2)(g)(i)), so the ACB reported
            # for it is the ACB less the denied part (the denied part moves to the substituted units).
            schedule3_acb=sum((r.cost - r.adjustment for r in results), ZERO),
            schedule3_outlays=sum((d.outlays for d in details), ZERO),
            schedule3_gain=net)
        notes = [
            Note(f"ACB: average cost per coin over all accounts; dates are local dates in {ctx.tz}", "method"),
            Note("superficial losses: denied when the coin is bought within 30 days before or after the sale and "
                 "still held 30 days after; denied part = loss x min(sold, bought in period, held at end) / sold "
                 "(practitioner formula after CRA IT-456R para. 12); added to the ACB of the substituted units",
                 "rule"),
            Note("purchases by affiliated persons (spouse, RRSP, TFSA, controlled corporation) are not in the ledger "
                 "and are not considered", "rule"),
            Note(f"inclusion rate {rate} (ITA s38(a)); net capital losses of other years are not applied", "allowance"),
        ]
        return Assessment(ZERO, breakdown.taxable_capital_gain, breakdown, notes)


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
    test = SuperficialTest(*r.counts) if r.counts else None
    return DisposalResult(
        time=d.time, account=d.account, asset=d.asset, quantity=d.quantity, proceeds=proceeds, cost=r.cost,
        gain=proceeds - r.cost + r.denied, lots=lots, rule="acb", adjustment=r.denied,
        adjustment_code="superficial loss" if r.denied else "", event_key=f"{d.event_key}#{d.leg_index}",
        role=d.role, notes=tuple(notes),
        detail=CaDetail(gross_proceeds=d.proceeds, outlays=d.fee, acb_per_unit=r.cost / d.quantity,
                        superficial_loss_denied=r.denied, superficial_test=test, schedule3_acb=r.cost - r.denied,
                        pool_quantity_after=r.pool_after[0], pool_cost_after=r.pool_after[1]))


POLICY = Policy(
    code="ca", name="Canada (CRA, individuals)", currency="CAD", timezone="America/Toronto", tax_year=TaxYear(),
    methods=("acb",),  # average cost of identical property: the only method the law allows
    method_reason="Canada uses the average cost (ACB) of identical property",
    pooling=Pooling.PERSON,  # --account is refused (ACB and superficial loss per person)
    swap_cost=SwapCost.GIVEN,  # crypto/crypto cost: value given (barter, IT-490)
    lookahead_days=WINDOW.days,  # a December loss is tested against holdings 30 days later
    gift_is_disposal=True,  # ITA s69(1)(b): see jurisdictions/gifts.py
    income=INCOME_RULES["ca"],
)

JURISDICTION = Jurisdiction(POLICY, CaRules())
