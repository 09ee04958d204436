"""Australia: capital gains tax on crypto assets held as investments by an individual.

Rules and their sources:

* Each crypto asset is a CGT asset; disposing of it (sale, crypto-to-crypto swap) is CGT event A1
  (ATO, "Crypto asset investments"; ATO "Crypto to crypto exchange or swap").
* **Cost base** includes incidental costs such as brokerage and exchange fees (ITAA 1997 s110-25(3),
  s110-35); capital proceeds are net of the costs of disposal here (``proceeds`` in :mod:`.base`).
* **Parcels**: you may identify the parcel disposed of where your records allow; otherwise first in,
  first out is used (methods ``fifo`` (default) and ``specific``, the lots named with ``--lots``;
  disposals without named lots fall back to FIFO). Matching is :func:`taxreport.lots.matching.match_lots`;
  parcels are tracked over **all accounts** unless option ``scope="account"`` is given.
* **CGT discount** (ITAA 1997 Div 115, s115-25(1)): a capital gain is a discount capital gain when the
  asset was acquired **at least 12 months before** the CGT event, excluding the day of acquisition and
  the day of the event (ATO Guide to capital gains tax, "The discount method": acquired 2 Feb 2001 ->
  discount from 3 Feb 2002). So eligible when the sale date is after the anniversary date
  (a 29 February acquisition has its anniversary on 28 February). Dates are local dates in
  Australia/Sydney (option ``timezone``). Individuals: 50% (s115-100); data table :data:`DISCOUNT`.
* Each parcel matched to a disposal is a separate CGT asset, so gains and losses are worked out per
  parcel (one :class:`DisposalResult` per disposal and parcel).
* **Net capital gain** (ITAA 1997 s102-5; ATO method statement): capital gains - current-year capital
  losses - prior-year net capital losses (option ``losses_brought_forward``) - the discount on the
  discount gains that remain. Losses are applied **before** the discount, and in the order the taxpayer
  chooses: here to non-discount gains first (the best result; ATO Guide to CGT 2002-03, Step 9,
  "Kathleen" example). Unused losses carry forward as a net capital loss (s102-10), applied in later
  years in the order made (s102-15).
* Income year 1 July - 30 June, written ``2024-25``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Sequence

from taxreport.jurisdictions.base import DisposalResult, YearSummary
from taxreport.jurisdictions.calendar import local_date, split_year_bounds
from taxreport.jurisdictions.holding import anniversary
from taxreport.jurisdictions.summary import amount_option, choose_method, summarise
from taxreport.lots.split import allocate
from taxreport.lots.matching import match_kwargs, match_lots, ref_of
from taxreport.lots.valuation import SwapCost
from taxreport.lots.types import MatchedDisposal, Movement

ZERO = Decimal(0)

# CGT discount percentage by entity (ITAA 1997 s115-100): only individuals are modelled.
DISCOUNT: dict[str, Decimal] = {"individual": Decimal("0.5")}


def discount_eligible(acquired: datetime | None, sold: datetime, tz: str) -> bool:
    """At least 12 months between acquisition and CGT event, excluding both days."""
    if acquired is None:
        return False
    return local_date(sold, tz) > anniversary(local_date(acquired, tz))


def net_capital_gain(non_discount_gains: Decimal, discount_gains: Decimal, losses: Decimal,
                     losses_brought_forward: Decimal, discount: Decimal) -> dict[str, Decimal]:
    """The ATO steps: current-year losses, then prior-year losses, each to non-discount gains first;
    then the discount on what is left of the discount gains."""
    nd, dg = non_discount_gains, discount_gains
    steps: dict[str, Decimal] = {}
    for name, amount in (("current_year_losses", losses), ("prior_year_losses", losses_brought_forward)):
        on_nd = min(amount, nd)
        nd -= on_nd
        on_dg = min(amount - on_nd, dg)
        dg -= on_dg
        steps[f"{name}_applied"] = on_nd + on_dg
        steps[f"{name}_unused"] = amount - on_nd - on_dg
    discount_amount = dg * discount
    steps.update({
        "non_discount_gains_after_losses": nd,
        "discount_gains_after_losses": dg,
        "discount_amount": discount_amount,
        "net_capital_gain": nd + dg - discount_amount,
        "net_capital_loss_carried_forward": steps["current_year_losses_unused"] + steps["prior_year_losses_unused"],
    })
    return steps


class Australia:
    code = "au"
    name = "Australia (ATO, individuals)"
    currency = "AUD"
    methods = ("fifo", "specific")
    timezone = "Australia/Sydney"
    swap_cost = SwapCost.GIVEN  # crypto/crypto cost: value given (s110-25(2))
    lookahead_days = 0  # nothing after the income year changes its gains

    def year_bounds(self, label: str, tz: str | None = None) -> tuple[datetime, datetime]:
        return split_year_bounds(label, start_month=7, start_day=1, tz=tz or self.timezone)

    def compute(self, movements: Sequence[Movement], *, year: str, method: str | None = None,
                options: dict[str, Any] | None = None) -> YearSummary:
        opts = dict(options or {})
        method = choose_method(self, method)
        tz = opts.get("timezone") or self.timezone
        start, end = self.year_bounds(year, tz)
        first = int(year.strip()[:4])
        label = f"{first}-{(first + 1) % 100:02d}"
        bf = amount_option(opts, "losses_brought_forward")
        kwargs = match_kwargs(opts)
        kwargs["scope"] = opts.get("scope", "universal")
        matched = match_lots(movements, method=method, until=end, **kwargs)
        accounts = set(opts["accounts"]) if opts.get("accounts") else None
        results: list[DisposalResult] = []
        for md in matched.disposals:
            if md.disposal.time >= start and (accounts is None or md.disposal.account in accounts):
                results.extend(_parcels(md, tz))
        nd_gains = sum((r.gain for r in results if r.gain > 0 and r.term == "short"), ZERO)
        d_gains = sum((r.gain for r in results if r.gain > 0 and r.term == "long"), ZERO)
        losses = sum((-r.gain for r in results if r.gain < 0), ZERO)
        steps = net_capital_gain(nd_gains, d_gains, losses, bf, DISCOUNT["individual"])
        breakdown: dict[str, Any] = {
            "non_discount_gains": nd_gains, "discount_gains": d_gains, "capital_losses": losses,
            "losses_brought_forward": bf, "discount_rate": DISCOUNT["individual"], **steps, "timezone": tz,
        }
        notes = list(matched.notes) + [
            f"parcels: {method}, tracked {'per account' if kwargs['scope'] == 'account' else 'over all accounts'}; "
            f"dates are local dates in {tz}",
            "CGT discount 50% for parcels held at least 12 months, excluding the days of acquisition and "
            "disposal (ITAA 1997 s115-25); losses are applied before the discount, to non-discount gains first",
        ]
        if accounts is not None:
            notes.append(f"net capital gain of the disposals in {', '.join(sorted(accounts))} only; the return's "
                         "net capital gain nets every account's gains and losses (run without --account)")
        return summarise(self.code, self.currency, method, label, start, end, results, ZERO,
                         steps["net_capital_gain"], breakdown, matched.open_lots, notes)


def _parcels(md: MatchedDisposal, tz: str) -> list[DisposalResult]:
    """One result per matched parcel, with the disposal's proceeds and costs of disposal shared by
    quantity (the last parcel takes the remainder, so the parcels add up exactly)."""
    d = md.disposal
    out = []
    qs = [lot.quantity for lot in md.lots]
    for lot, gross, fee in zip(md.lots, allocate(d.proceeds, qs), allocate(d.fee, qs)):
        eligible = lot.rule != "zero-cost" and discount_eligible(lot.acquired_at, d.time, tz)
        proceeds = gross - fee
        out.append(DisposalResult(
            time=d.time, account=d.account, asset=d.asset, quantity=lot.quantity, proceeds=proceeds,
            cost=lot.cost, gain=proceeds - lot.cost, lots=(lot,), rule=lot.rule,
            term="long" if eligible else "short", event_key=ref_of(d), role=d.role,
            detail={"discount_eligible": eligible, "gross_proceeds": gross, "costs_of_disposal": fee,
                    "acquired": local_date(lot.acquired_at, tz).isoformat() if lot.acquired_at else None}))
    return out


JURISDICTION = Australia()
