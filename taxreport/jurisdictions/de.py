"""Germany: private sales of crypto assets (private Veräußerungsgeschäfte, § 23 EStG), individuals.

Rules and their sources:

* A sale or exchange within one year of acquisition is a private Veräußerungsgeschäft
  (§ 23 Abs. 1 Satz 1 Nr. 2 EStG); after **more than one year** it is not taxable, and its losses do
  not count. Counting (§§ 187 Abs. 1, 188 Abs. 2 BGB): the period starts the day after acquisition and
  ends at the end of the anniversary date, so bought 10 Apr 2023 -> sold 10 Apr 2024 is taxable, sold
  11 Apr 2024 is tax-free (:mod:`taxreport.jurisdictions.holding`). Dates are local dates in
  ``Europe/Berlin`` (option ``timezone``).
* **Method**: FIFO (BMF-Schreiben "Einzelfragen zur ertragsteuerrechtlichen Behandlung bestimmter
  Kryptowerte" of 6 Mar 2025, IV C 1 - S 2256/00042/064/043, replacing the letter of 10 May 2022;
  § 23 Abs. 1 Nr. 2 Satz 3 EStG). ``lifo`` is offered because FG Nürnberg (22 Jan 2025) accepted it
  against the BMF's view; using it adds a note. Lots are tracked per account (wallet) by default.
* **Freigrenze** (§ 23 Abs. 3 Satz 5 EStG), a threshold, not an allowance: if the year's total § 23
  gain is **below** it, it is tax-free; at or above it the **whole** gain is taxable. €600 up to VZ
  2023, €1,000 from VZ 2024 (Wachstumschancengesetz of 27 Mar 2024): data table :data:`FREIGRENZE`.
  The threshold applies to *all* of the taxpayer's § 23 gains (not only crypto) and per spouse; with
  an account filter (``options["accounts"]``) it is still tested on every account's disposals, and the
  taxable gain shown is the filtered accounts' net § 23 gain when the whole year reaches it.
* § 23 losses can only be set off against § 23 gains (§ 23 Abs. 3 Satz 7-8 EStG: carry-back one
  year, carry-forward); a net loss is reported, taxable gain 0, and not carried here.
* Fees (Werbungskosten / Veräußerungskosten) reduce the gain: disposal fees reduce proceeds,
  acquisition fees are part of the cost (Anschaffungskosten).
* Tax year: the calendar year (Veranlagungszeitraum).

The module is the country's :data:`POLICY` (data) and :class:`DeRules` (hooks of the one engine,
:mod:`taxreport.jurisdictions.engine`); the year's figures are :class:`DeBreakdown`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from taxreport.jurisdictions.base import Breakdown, DisposalResult, Note, Policy, Pooling, Totals, YearTable
from taxreport.jurisdictions.calendar import TaxYear
from taxreport.jurisdictions.engine import Assessment, Context, Jurisdiction, LotRules
from taxreport.jurisdictions.holding import Holding, HoldingEffect
from taxreport.jurisdictions.income import RULES as INCOME_RULES
from taxreport.jurisdictions.summary import totals
from taxreport.lots.valuation import SwapCost
from taxreport.model.money import money_str

ZERO = Decimal(0)

# first Veranlagungszeitraum -> Freigrenze in EUR (§ 23 Abs. 3 Satz 5 EStG)
FREIGRENZE: YearTable[Decimal] = YearTable("Freigrenze", (
    (0, Decimal("600")),
    (2024, Decimal("1000")),
))


def freigrenze(year: int) -> Decimal:
    return FREIGRENZE.at(year)


def taxable_after_freigrenze(net: Decimal, threshold: Decimal) -> Decimal:
    """Whole net gain if it reaches the threshold, else 0 (a loss is never taxable)."""
    if net <= 0 or net < threshold:
        return ZERO
    return net


@dataclass(frozen=True)
class DeBreakdown(Breakdown):
    taxable: Totals = field(default_factory=Totals)  # held one year or less: § 23
    exempt: Totals = field(default_factory=Totals)  # held more than one year: not taxable
    freigrenze: Decimal = ZERO
    below_freigrenze: bool = False
    timezone: str = "Europe/Berlin"
    net_section23_all_accounts: Decimal | None = None  # with an account filter: every account's net § 23 gain


POLICY = Policy(
    code="de", name="Germany", currency="EUR", timezone="Europe/Berlin", tax_year=TaxYear(),
    methods=("fifo", "lifo"), pooling=Pooling.ACCOUNT,
    swap_cost=SwapCost.GIVEN,  # crypto/crypto cost: value given (§ 6 Abs. 6 EStG)
    lookahead_days=0,  # nothing after the year changes its gains
    holding=Holding(1, HoldingEffect.EXEMPT), allowance=FREIGRENZE,
    gift_is_disposal=False,  # § 23 Abs. 1 Satz 3 EStG: see jurisdictions/gifts.py
    income=INCOME_RULES["de"],
)


class DeRules(LotRules):
    def assess(self, ctx: Context, reported: list[DisposalResult], whole_year: list[DisposalResult]) -> Assessment:
        year, accounts = ctx.first_year, ctx.accounts
        # The Freigrenze is a euro amount: never compared with an amount in another currency.
        threshold = ZERO if ctx.foreign else freigrenze(year)
        # The Freigrenze is tested on the taxpayer's whole year (every account), even when only some
        # accounts are reported: then the taxable part is those accounts' net § 23 gain, or 0.
        person_net = totals(r for r in whole_year if not r.exempt).gain
        taxable = totals(r for r in reported if not r.exempt)
        exempt_t = totals(r for r in reported if r.exempt)
        taxable_gain = taxable_after_freigrenze(person_net, threshold)
        if accounts is not None and taxable_gain:
            taxable_gain = max(taxable.gain, ZERO)
        breakdown = DeBreakdown(taxable=taxable, exempt=exempt_t, freigrenze=threshold,
                                below_freigrenze=person_net < threshold, timezone=ctx.tz,
                                net_section23_all_accounts=person_net if accounts is not None else None)
        notes = [
            Note(f"lot method {ctx.method}; dates are local dates in {ctx.tz}; held more than one year = not taxable "
                 "(§ 23 Abs. 1 Satz 1 Nr. 2 EStG)", "method"),
            Note(f"amounts are in {ctx.options.get('currency')}: the Freigrenze (€ {freigrenze(year)}) is a euro "
                 "amount and is not tested; taxable_gain is the whole net § 23 gain (report in EUR to apply it)"
                 if ctx.foreign else
                 f"Freigrenze € {threshold} (§ 23 Abs. 3 Satz 5 EStG): net § 23 gain {money_str(person_net)}"
                 + (" (all accounts)" if accounts is not None else "") + " is "
                 + ("below it: tax-free" if person_net < threshold else "at or above it: all taxable")
                 + "; the threshold covers all private sales of the year, not only these", "allowance"),
        ]
        if taxable.gain < 0:
            notes.append(Note("net § 23 loss: only deductible from § 23 gains (carry-back/-forward, § 23 Abs. 3 EStG)",
                              "rule"))
        if ctx.method == "lifo":
            notes.append(Note("LIFO differs from the BMF letter of 6 Mar 2025 (FIFO); FG Nürnberg 22 Jan 2025 "
                              "accepted it", "method"))
        return Assessment(threshold, taxable_gain, breakdown, notes)


JURISDICTION = Jurisdiction(POLICY, DeRules())
