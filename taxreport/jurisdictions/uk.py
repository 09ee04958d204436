"""United Kingdom: Capital Gains Tax on cryptoassets held by an individual.

Sources:

* Matching: HMRC Cryptoassets Manual CRYPTO22200 onward (same day, next 30 days, Section 104 pool);
  TCGA 1992 s104 (pool), s105 (same day), s106A (30 days). The matching itself is in
  :mod:`.uk_matching`; HMRC's worked examples CRYPTO22251-22256 are reproduced in the tests
  (https://www.gov.uk/hmrc-internal-manuals/cryptoassets-manual/crypto22250).
* Allowable costs include the incidental costs of acquisition and disposal (TCGA 1992 s38(1)(a), (c)):
  an acquisition's cost includes its fees; a disposal's fees are allowable costs.
* Tax year 6 April to 5 April (a disposal on 5 April 2023 is in 2022-23, one on 6 April 2023 in 2023-24).
  The date is the **UK local date** (Europe/London): 2024-04-05T23:30Z is 6 April 2024 BST, so 2024-25.
* Annual exempt amount for individuals (gov.uk "Capital Gains Tax allowances"): the data table
  :data:`ANNUAL_EXEMPT_AMOUNT`. A year that is not in the table is an error, never a guess.
* Losses of the year are set against gains of the year, even below the annual exempt amount; losses
  brought forward (option ``losses_brought_forward``) are used only to bring the net gain down to the
  annual exempt amount (HMRC Capital Gains Manual CG18032, CG21570, example CG18202; TCGA 1992
  s3(5)-(5C), rewritten for disposals from 6 April 2019).

Output: one :class:`DisposalResult` per token and UK local day (the same-day group is one disposal for
HMRC and on SA108). ``proceeds`` is net of disposal costs and ``cost`` is the matched acquisition cost
(the contract in :mod:`.base`), so ``gain = proceeds - cost``; the SA108 layout is in ``detail``
(:class:`UkDetail`): ``gross_proceeds`` (SA108 "disposal proceeds"), ``disposal_costs``,
``allowable_costs`` (matched cost plus disposal costs), and the Section 104 pool after the day:
``pool_quantity_after``, ``pool_cost_after``. The year's figures are :class:`UkBreakdown`.

The module is the country's :data:`POLICY` (data) and :class:`UkRules` (hooks of the one engine,
:mod:`taxreport.jurisdictions.engine`: the matching of :mod:`.uk_matching`, the allowance and SA108).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Sequence

from taxreport.jurisdictions.base import Breakdown, Detail, DisposalResult, Note, Policy, Pooling, YearTable
from taxreport.jurisdictions.calendar import TaxYear, local_date
from taxreport.jurisdictions.deposit_notes import year_notes
from taxreport.jurisdictions.engine import Assessment, Context, Jurisdiction, Matched, PersonRules
from taxreport.jurisdictions.income import RULES as INCOME_RULES
from taxreport.jurisdictions.uk_matching import THIRTY_DAYS, PoolState, UkDisposal, match_uk
from taxreport.lots.types import Acquisition, Disposal, OpenLot
from taxreport.lots.valuation import SwapCost

ZERO = Decimal(0)
# The 30-day rule looks 30 days past a disposal; nothing later affects a tax year.
LOOKAHEAD_DAYS = THIRTY_DAYS.days

# Tax years in which the CGT rates changed part-way, keyed like the AEA table: the first day (UK local
# date) of the new rates. 2024-25: the main rates rose from 10%/20% to 18%/24% for disposals on or after
# 30 October 2024 (Autumn Budget 2024; SA108 2024-25 asks for those gains and losses separately).
RATE_CHANGE_DAYS: dict[int, date] = {2024: date(2024, 10, 30)}

# Annual exempt amount (individuals), GBP, by the first calendar year of the tax year (2024 = 2024-25).
# Source: gov.uk Capital Gains Tax allowances; shared/REFERENCE.md §4a. Finance Act 2023 s.8(4)-(5) (TCGA 1992
# s.1K(2)): "for '£6,000' substitute '£3,000'. The amendment made by subsection (4) has effect for the tax year
# 2024-25 and subsequent tax years", and s.8(6) omits the CPI increase (s.1L); published 2026/27 tax tables
# give £3,000. Known good to 2026-27, the tax year in progress; a year outside it is an error, never a guess.
ANNUAL_EXEMPT_AMOUNT: YearTable[Decimal] = YearTable("UK annual exempt amount", (
    (2020, Decimal("12300")),
    (2021, Decimal("12300")),
    (2022, Decimal("12300")),
    (2023, Decimal("6000")),
    (2024, Decimal("3000")),
    (2025, Decimal("3000")),
    (2026, Decimal("3000")),
), last=2026)


@dataclass(frozen=True)
class UkDetail(Detail):
    """One same-day disposal group as SA108 and the HMRC computation need it."""

    local_date: str  # the UK local date (ISO) of the group
    gross_proceeds: Decimal  # SA108 "disposal proceeds"
    disposal_costs: Decimal
    allowable_costs: Decimal  # matched cost + disposal costs
    pool_quantity_after: Decimal  # the token's Section 104 pool after the day
    pool_cost_after: Decimal
    event_keys: tuple[str, ...]  # every ledger event of the same-day group


@dataclass(frozen=True)
class PeriodTotals(Breakdown):
    gains: Decimal
    losses: Decimal
    net: Decimal
    count: int


@dataclass(frozen=True)
class UkBreakdown(Breakdown):
    annual_exempt_amount: Decimal
    allowance_used: Decimal
    losses_brought_forward: Decimal
    losses_brought_forward_used: Decimal
    losses_carried_forward: Decimal
    sa108_number_of_disposals: int
    sa108_disposal_proceeds: Decimal
    sa108_allowable_costs: Decimal
    sa108_gains_before_losses: Decimal
    sa108_losses_in_year: Decimal
    cost_by_rule: dict[str, Decimal]
    sa108_rate_change_split: dict[str, PeriodTotals] | None = None  # "before 30 Oct 2024" / "on or after …"


def annual_exempt_amount(label: str) -> Decimal:
    """The annual exempt amount of the tax year written ``label`` (e.g. ``2024-25``)."""
    return ANNUAL_EXEMPT_AMOUNT.at(POLICY.tax_year.first_year(label), POLICY.tax_year)


def _period(results: Sequence[DisposalResult]) -> PeriodTotals:
    return PeriodTotals(gains=sum((r.gain for r in results if r.gain > 0), ZERO),
                        losses=sum((-r.gain for r in results if r.gain < 0), ZERO),
                        net=sum((r.gain for r in results), ZERO), count=len(results))


def _uk(r: DisposalResult) -> UkDetail:
    assert isinstance(r.detail, UkDetail)
    return r.detail


class UkRules(PersonRules):
    def match_person(self, ctx: Context, own: list[Acquisition | Disposal]) -> tuple[list[UkDisposal],
                                                                                       list[PoolState]]:
        return match_uk(own, tz=ctx.tz, zero_cost_assets=ctx.zero_cost_assets)

    def year_view(self, ctx: Context, state: tuple[list[UkDisposal], list[PoolState]], notes: list[Note]) -> Matched:
        groups, history = state
        end_day = ctx.policy.tax_year.first_day_after(ctx.year)
        last: dict[str, PoolState] = {}
        for h in history:  # one pass: the pool of each token at the end of the tax year
            if h.day < end_day:
                last[h.asset] = h
        open_lots = [OpenLot(account=None, asset=asset, quantity=state.quantity, cost=state.cost, acquired_at=None,
                             lot_ref=None, extra={"rule": "s104"})
                     for asset, state in sorted(last.items()) if state.quantity > 0]
        year = [g for g in groups if ctx.start <= g.items[0].time < ctx.end]
        # the zero-cost deposits of the year, and those of the 30 days after it its sales are matched to (s106A)
        used = {ref for g in year for lot in g.lots if lot.lot_ref for ref in lot.lot_ref.split(",")}
        return Matched([_result(g) for g in year], open_lots, year_notes(notes, ctx.start, ctx.end, used))

    def assess(self, ctx: Context, reported: list[DisposalResult], whole_year: list[DisposalResult]) -> Assessment:
        tz, first = ctx.tz, ctx.first_year
        # The allowance is a sterling amount: never subtracted from (or compared with) another currency.
        aea = ZERO if ctx.foreign else ANNUAL_EXEMPT_AMOUNT.at(first, ctx.policy.tax_year)
        bf_losses = ctx.amount("losses_brought_forward")
        results = reported
        net = sum((r.gain for r in results), ZERO)
        over = net - aea
        bf_used = min(bf_losses, over) if over > 0 else ZERO
        taxable = over - bf_used if over > 0 else ZERO
        allowance_used = min(aea, net) if net > 0 else ZERO
        carried = bf_losses - bf_used + (-net if net < 0 else ZERO)

        split = None
        day = RATE_CHANGE_DAYS.get(first)
        if day is not None:  # SA108 2024-25 asks for the gains and losses on or after the rate change apart
            split = {f"before {day:%d %b %Y}": _period([r for r in results if local_date(r.time, tz) < day]),
                     f"on or after {day:%d %b %Y}": _period([r for r in results if local_date(r.time, tz) >= day])}
        cost_by_rule: dict[str, Decimal] = {}
        for r in results:
            for lot in r.lots:
                cost_by_rule[lot.rule] = cost_by_rule.get(lot.rule, ZERO) + lot.cost
        breakdown = UkBreakdown(
            annual_exempt_amount=aea, allowance_used=allowance_used, losses_brought_forward=bf_losses,
            losses_brought_forward_used=bf_used, losses_carried_forward=carried,
            sa108_number_of_disposals=len(results),
            sa108_disposal_proceeds=sum((_uk(r).gross_proceeds for r in results), ZERO),
            sa108_allowable_costs=sum((_uk(r).allowable_costs for r in results), ZERO),
            sa108_gains_before_losses=sum((r.gain for r in results if r.gain > 0), ZERO),
            sa108_losses_in_year=sum((-r.gain for r in results if r.gain < 0), ZERO),
            cost_by_rule=cost_by_rule, sa108_rate_change_split=split)
        notes = [
            Note(f"UK dates are local dates in {tz}; the tax year runs 6 April to 5 April.", "dates"),
            Note("Matching: same day, then the next 30 days, then the Section 104 pool, per token across "
                 "all accounts (HMRC CRYPTO22200 onward; TCGA92 s104, s105, s106A).", "method"),
            Note("Proceeds are net of disposal costs; SA108 gross proceeds and allowable costs are in the "
                 "breakdown (sa108_*).", "rule"),
            Note(f"Annual exempt amount {ctx.year}: £{aea}." if not ctx.foreign else
                 f"Amounts are in {ctx.options.get('currency')}: the annual exempt amount "
                 f"(£{ANNUAL_EXEMPT_AMOUNT.at(first, ctx.policy.tax_year)}) is in GBP and is not applied; taxable_gain is before it "
                 "(report in GBP for the taxable gain).", "allowance"),
        ]
        return Assessment(aea, taxable, breakdown, notes)


def _result(g: UkDisposal) -> DisposalResult:
    gross = sum((d.proceeds for d in g.items), ZERO)
    fees = sum((d.fee for d in g.items), ZERO)
    cost = sum((m.cost for m in g.lots), ZERO)
    proceeds = gross - fees
    rules = list(dict.fromkeys(m.rule for m in g.lots))
    accounts = sorted({d.account for d in g.items})
    roles = list(dict.fromkeys(d.role for d in g.items))
    notes = list(g.notes)
    if len(g.items) > 1:
        notes.insert(0, f"{len(g.items)} disposals of {g.asset} on {g.day.isoformat()} are treated as "
                        f"one disposal (TCGA92 s105)")
    first = g.items[0]
    return DisposalResult(
        time=first.time, account=",".join(accounts), asset=g.asset, quantity=g.quantity,
        proceeds=proceeds, cost=cost, gain=proceeds - cost, lots=g.lots, rule="+".join(rules),
        event_key=f"{first.event_key}#{first.leg_index}", role=",".join(roles), notes=tuple(notes),
        detail=UkDetail(local_date=g.day.isoformat(), gross_proceeds=gross, disposal_costs=fees,
                        allowable_costs=cost + fees, pool_quantity_after=g.pool_quantity_after,
                        pool_cost_after=g.pool_cost_after,
                        event_keys=tuple(f"{d.event_key}#{d.leg_index}" for d in g.items)),
    )


POLICY = Policy(
    code="uk", name="United Kingdom (HMRC, individuals)", currency="GBP", timezone="Europe/London",
    tax_year=TaxYear(4, 6), methods=("hmrc",),  # same day, 30 days, s104 pool: the only lawful order
    method_reason="the UK has one matching order: same day, 30 days, s104 pool",
    pooling=Pooling.PERSON,  # --account is refused (same-day groups mix accounts)
    swap_cost=SwapCost.GIVEN,  # crypto/crypto cost: value given (s38, CRYPTO22257)
    lookahead_days=LOOKAHEAD_DAYS,  # legs this far past the year are valued
    forms=("hmrc",), allowance=ANNUAL_EXEMPT_AMOUNT,
    gift_is_disposal=True,  # TCGA 1992 s17(1): see jurisdictions/gifts.py
    income=INCOME_RULES["uk"],
)

JURISDICTION = Jurisdiction(POLICY, UkRules())
