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
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Sequence

from taxreport.jurisdictions.base import DisposalResult, YearSummary
from taxreport.jurisdictions.calendar import calendar_year_bounds
from taxreport.jurisdictions.holding import held_more_than_one_year, local_day_cache
from taxreport.jurisdictions.summary import choose_method, summarise, totals
from taxreport.lots.matching import match_kwargs, match_lots, ref_of
from taxreport.lots.split import split_disposal
from taxreport.lots.valuation import SwapCost
from taxreport.lots.types import Movement
from taxreport.model.money import money_str

ZERO = Decimal(0)

# first Veranlagungszeitraum -> Freigrenze in EUR (§ 23 Abs. 3 Satz 5 EStG)
FREIGRENZE: tuple[tuple[int, Decimal], ...] = (
    (0, Decimal("600")),
    (2024, Decimal("1000")),
)


def freigrenze(year: int) -> Decimal:
    found = FREIGRENZE[0][1]
    for first, amount in FREIGRENZE:
        if year >= first:
            found = amount
    return found


def taxable_after_freigrenze(net: Decimal, threshold: Decimal) -> Decimal:
    """Whole net gain if it reaches the threshold, else 0 (a loss is never taxable)."""
    if net <= 0 or net < threshold:
        return ZERO
    return net


class Germany:
    code = "de"
    name = "Germany"
    currency = "EUR"
    methods = ("fifo", "lifo")
    timezone = "Europe/Berlin"
    swap_cost = SwapCost.GIVEN  # crypto/crypto cost: value given (§ 6 Abs. 6 EStG)
    lookahead_days = 0  # nothing after the year changes its gains

    def year_bounds(self, label: str, tz: str | None = None):  # noqa: ANN201
        return calendar_year_bounds(label, tz or self.timezone)

    def compute(self, movements: Sequence[Movement], *, year: str, method: str | None = None,
                options: dict[str, Any] | None = None) -> YearSummary:
        opts = options or {}
        method = choose_method(self, method)
        tz = opts.get("timezone") or self.timezone
        start, end = self.year_bounds(year, tz)
        matched = match_lots(movements, method=method, until=end, **match_kwargs(opts))
        accounts = set(opts["accounts"]) if opts.get("accounts") else None
        day_of = local_day_cache(tz)
        results: list[DisposalResult] = []
        for md in matched.disposals:
            d = md.disposal
            if d.time < start:
                continue
            sold = day_of(d.time)

            def exempt(lm, sold=sold) -> bool:  # noqa: ANN001
                return lm.acquired_at is not None and held_more_than_one_year(day_of(lm.acquired_at), sold)

            for part in split_disposal(md, exempt):
                proceeds = part.net_proceeds
                rules = {lm.rule for lm in part.lots}
                results.append(DisposalResult(
                    time=d.time, account=d.account, asset=d.asset, quantity=part.quantity, proceeds=proceeds,
                    cost=part.cost, gain=proceeds - part.cost, lots=part.lots,
                    rule=rules.pop() if len(rules) == 1 else "mixed", term="long" if part.key else "short",
                    exempt=bool(part.key), event_key=ref_of(d), role=d.role))
        # The Freigrenze is a euro amount: never compared with an amount in another currency.
        foreign = str(opts.get("currency") or self.currency).upper() != self.currency
        threshold = ZERO if foreign else freigrenze(int(year))
        # The Freigrenze is tested on the taxpayer's whole year (every account), even when only some
        # accounts are reported: then the taxable part is those accounts' net § 23 gain, or 0.
        person_net = totals(r for r in results if not r.exempt)["gain"]
        if accounts is not None:
            results = [r for r in results if r.account in accounts]
        taxable = totals(r for r in results if not r.exempt)
        exempt_t = totals(r for r in results if r.exempt)
        taxable_gain = taxable_after_freigrenze(person_net, threshold)
        if accounts is not None and taxable_gain:
            taxable_gain = max(taxable["gain"], ZERO)
        breakdown = {"taxable": taxable, "exempt": exempt_t, "freigrenze": threshold,
                     "below_freigrenze": person_net < threshold, "timezone": tz}
        if accounts is not None:
            breakdown["net_section23_all_accounts"] = person_net
        notes = list(matched.notes) + [
            f"lot method {method}; dates are local dates in {tz}; held more than one year = not taxable "
            "(§ 23 Abs. 1 Satz 1 Nr. 2 EStG)",
            f"amounts are in {opts.get('currency')}: the Freigrenze (€ {freigrenze(int(year))}) is a euro amount and "
            "is not tested; taxable_gain is the whole net § 23 gain (report in EUR to apply it)" if foreign else
            f"Freigrenze € {threshold} (§ 23 Abs. 3 Satz 5 EStG): net § 23 gain {money_str(person_net)}"
            + (" (all accounts)" if accounts is not None else "") + " is "
            + ("below it: tax-free" if person_net < threshold else "at or above it: all taxable")
            + "; the threshold covers all private sales of the year, not only these",
        ]
        if taxable["gain"] < 0:
            notes.append("net § 23 loss: only deductible from § 23 gains (carry-back/-forward, § 23 Abs. 3 EStG)")
        if method == "lifo":
            notes.append("LIFO differs from the BMF letter of 6 Mar 2025 (FIFO); FG Nürnberg 22 Jan 2025 accepted it")
        return summarise(self.code, self.currency, method, year, start, end, results, threshold, taxable_gain,
                         breakdown, matched.open_lots, notes)


JURISDICTION = Germany()
