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
(the contract in :mod:`.base`), so ``gain = proceeds - cost``; the SA108 layout is in ``detail``:
``gross_proceeds`` (SA108 "disposal proceeds"), ``disposal_costs``, ``allowable_costs`` (matched cost plus
disposal costs), and the Section 104 pool after the day: ``pool_quantity_after``, ``pool_cost_after``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Sequence

from taxreport.errors import InputError
from taxreport.jurisdictions.base import DisposalResult, YearSummary
from taxreport.jurisdictions.calendar import local_date, split_year_bounds
from taxreport.jurisdictions.summary import amount_option, choose_method, in_year, summarise
from taxreport.jurisdictions.uk_matching import THIRTY_DAYS, PoolState, UkDisposal, match_uk, person_level
from taxreport.lots.valuation import SwapCost
from taxreport.lots.types import Movement, OpenLot

ZERO = Decimal(0)
# The 30-day rule looks 30 days past a disposal; nothing later affects a tax year.
LOOKAHEAD_DAYS = THIRTY_DAYS.days

# Tax years in which the CGT rates changed part-way, keyed like the AEA table: the first day (UK local
# date) of the new rates. 2024-25: the main rates rose from 10%/20% to 18%/24% for disposals on or after
# 30 October 2024 (Autumn Budget 2024; SA108 2024-25 asks for those gains and losses separately).
RATE_CHANGE_DAYS: dict[int, date] = {2024: date(2024, 10, 30)}

# Annual exempt amount (individuals), GBP, keyed by the first calendar year of the tax year
# (2024 = 2024-25). Source: gov.uk Capital Gains Tax allowances; shared/REFERENCE.md §4a.
ANNUAL_EXEMPT_AMOUNT: dict[int, Decimal] = {
    2020: Decimal("12300"),
    2021: Decimal("12300"),
    2022: Decimal("12300"),
    2023: Decimal("6000"),
    2024: Decimal("3000"),
    2025: Decimal("3000"),
}


def _label(label: str) -> tuple[str, int]:
    """``"2024-25"`` or ``"2024-2025"`` -> (``"2024-25"``, 2024). Validation is in year_bounds."""
    first = int(re.match(r"\s*(\d{4})", label).group(1))  # type: ignore[union-attr]
    return f"{first}-{(first + 1) % 100:02d}", first


@dataclass(frozen=True)
class UnitedKingdom:
    code: str = "uk"
    name: str = "United Kingdom (HMRC, individuals)"
    currency: str = "GBP"
    methods: tuple[str, ...] = ("hmrc",)  # same day, 30 days, s104 pool: the only lawful order
    timezone: str = "Europe/London"
    swap_cost = SwapCost.GIVEN  # crypto/crypto cost: value given (s38, CRYPTO22257)
    lookahead_days: int = LOOKAHEAD_DAYS  # read by taxreport.gains: legs this far past the year are valued
    pools_per_person = True  # read by taxreport.gains: --account is refused (same-day groups mix accounts)

    def year_bounds(self, label: str, tz: str | None = None) -> tuple[datetime, datetime]:
        return split_year_bounds(label, start_month=4, start_day=6, tz=tz or self.timezone)

    def annual_exempt_amount(self, label: str) -> Decimal:
        self.year_bounds(label)  # validates the label
        text, first = _label(label)
        amount = ANNUAL_EXEMPT_AMOUNT.get(first)
        if amount is None:
            known = ", ".join(f"{y}-{(y + 1) % 100:02d}" for y in sorted(ANNUAL_EXEMPT_AMOUNT))
            raise InputError(f"no UK annual exempt amount on file for tax year {text} (known: {known})",
                             field="--year")
        return amount

    def compute(self, movements: Sequence[Movement], *, year: str, method: str | None = None,
                options: dict[str, Any] | None = None) -> YearSummary:
        options = dict(options or {})
        method = choose_method(self, method, "the UK has one matching order: same day, 30 days, s104 pool")
        tz = options.get("timezone") or self.timezone
        start, end = self.year_bounds(year, tz)
        label, first = _label(year)
        # The allowance is a sterling amount: never subtracted from (or compared with) another currency.
        foreign = str(options.get("currency") or self.currency).upper() != self.currency
        aea = ZERO if foreign else self.annual_exempt_amount(year)
        bf_losses = amount_option(options, "losses_brought_forward")

        zero_cost = tuple(options.get("zero_cost_assets", ()))
        own, deposit_notes = person_level(movements, zero_cost)
        horizon = end + timedelta(days=LOOKAHEAD_DAYS + 1)  # nothing later can change this year
        own = [m for m in own if m.time < horizon]
        groups, history = match_uk(own, tz=tz, zero_cost_assets=zero_cost)
        results = in_year([_result(g) for g in groups], start, end)

        net = sum((r.gain for r in results), ZERO)
        over = net - aea
        bf_used = min(bf_losses, over) if over > 0 else ZERO
        taxable = over - bf_used if over > 0 else ZERO
        allowance_used = min(aea, net) if net > 0 else ZERO
        carried = bf_losses - bf_used + (-net if net < 0 else ZERO)

        split = RATE_CHANGE_DAYS.get(first)
        if split is not None:  # SA108 2024-25 asks for the gains and losses on or after the rate change apart
            before = [r for r in results if local_date(r.time, tz) < split]
            after = [r for r in results if local_date(r.time, tz) >= split]
            period_split = {
                f"before {split:%d %b %Y}": {"gains": sum((r.gain for r in before if r.gain > 0), ZERO),
                                             "losses": sum((-r.gain for r in before if r.gain < 0), ZERO),
                                             "net": sum((r.gain for r in before), ZERO), "count": len(before)},
                f"on or after {split:%d %b %Y}": {"gains": sum((r.gain for r in after if r.gain > 0), ZERO),
                                                  "losses": sum((-r.gain for r in after if r.gain < 0), ZERO),
                                                  "net": sum((r.gain for r in after), ZERO), "count": len(after)},
            }
        cost_by_rule: dict[str, Decimal] = {}
        for r in results:
            for lot in r.lots:
                cost_by_rule[lot.rule] = cost_by_rule.get(lot.rule, ZERO) + lot.cost
        breakdown = {
            "annual_exempt_amount": aea,
            "allowance_used": allowance_used,
            "losses_brought_forward": bf_losses,
            "losses_brought_forward_used": bf_used,
            "losses_carried_forward": carried,
            "sa108_number_of_disposals": len(results),
            "sa108_disposal_proceeds": sum((r.detail["gross_proceeds"] for r in results), ZERO),
            "sa108_allowable_costs": sum((r.detail["allowable_costs"] for r in results), ZERO),
            "sa108_gains_before_losses": sum((r.gain for r in results if r.gain > 0), ZERO),
            "sa108_losses_in_year": sum((-r.gain for r in results if r.gain < 0), ZERO),
            "cost_by_rule": cost_by_rule,
        }
        if split is not None:
            breakdown["sa108_rate_change_split"] = period_split
        end_day = date(first + 1, 4, 6)
        last: dict[str, PoolState] = {}
        for h in history:  # one pass: the pool of each token at the end of the tax year
            if h.day < end_day:
                last[h.asset] = h
        open_lots = []
        for asset, state in sorted(last.items()):
            if state.quantity > 0:
                open_lots.append(OpenLot(account=None, asset=asset, quantity=state.quantity, cost=state.cost,
                                         acquired_at=None, lot_ref=None, extra={"rule": "s104"}))
        notes = deposit_notes + [
            f"UK dates are local dates in {tz}; the tax year runs 6 April to 5 April.",
            "Matching: same day, then the next 30 days, then the Section 104 pool, per token across "
            "all accounts (HMRC CRYPTO22200 onward; TCGA92 s104, s105, s106A).",
            "Proceeds are net of disposal costs; SA108 gross proceeds and allowable costs are in the "
            "breakdown (sa108_*).",
            (f"Annual exempt amount {label}: £{aea}." if not foreign else
             f"Amounts are in {options.get('currency')}: the annual exempt amount "
             f"(£{self.annual_exempt_amount(year)}) is in GBP and is not applied; taxable_gain is before it "
             "(report in GBP for the taxable gain)."),
        ]
        return summarise("uk", self.currency, method, label, start, end, results, aea, taxable,
                         breakdown, open_lots, notes)


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
        detail={
            "local_date": g.day.isoformat(),
            "gross_proceeds": gross,
            "disposal_costs": fees,
            "allowable_costs": cost + fees,
            "pool_quantity_after": g.pool_quantity_after,
            "pool_cost_after": g.pool_cost_after,
            "event_keys": tuple(f"{d.event_key}#{d.leg_index}" for d in g.items),
        },
    )


JURISDICTION = UnitedKingdom()
