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

The module is the country's :data:`POLICY` (data) and :class:`AuRules` (hooks of the one engine,
:mod:`taxreport.jurisdictions.engine`); per parcel :class:`AuDetail`, per year :class:`AuBreakdown`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from taxreport.jurisdictions.base import Breakdown, Detail, DisposalResult, Note, Policy, Pooling
from taxreport.jurisdictions.calendar import TaxYear, local_date
from taxreport.jurisdictions.engine import Assessment, Context, Jurisdiction, LotRules
from taxreport.jurisdictions.holding import Holding, HoldingEffect
from taxreport.jurisdictions.income import RULES as INCOME_RULES
from taxreport.lots.matching import ref_of
from taxreport.lots.split import allocate
from taxreport.lots.types import MatchedDisposal
from taxreport.lots.valuation import SwapCost

ZERO = Decimal(0)

# CGT discount percentage by entity (ITAA 1997 s115-100): only individuals are modelled.
DISCOUNT: dict[str, Decimal] = {"individual": Decimal("0.5")}

# ITAA 1997 s115-25(1): at least 12 months, excluding the days of acquisition and of the CGT event.
HOLDING = Holding(1, HoldingEffect.DISCOUNT)


def discount_eligible(acquired: datetime | None, sold: datetime, tz: str) -> bool:
    """At least 12 months between acquisition and CGT event, excluding both days."""
    return acquired is not None and HOLDING.long(local_date(acquired, tz), local_date(sold, tz))


@dataclass(frozen=True)
class AuDetail(Detail):
    """One parcel of a disposal (each parcel is a CGT asset)."""

    discount_eligible: bool
    gross_proceeds: Decimal  # capital proceeds before the costs of disposal
    costs_of_disposal: Decimal
    acquired: str | None  # local date (ISO) of the parcel's acquisition


@dataclass(frozen=True)
class NetCapitalGain(Breakdown):
    """The ATO method statement's steps."""

    current_year_losses_applied: Decimal
    current_year_losses_unused: Decimal
    prior_year_losses_applied: Decimal
    prior_year_losses_unused: Decimal
    non_discount_gains_after_losses: Decimal
    discount_gains_after_losses: Decimal
    discount_amount: Decimal
    net_capital_gain: Decimal
    net_capital_loss_carried_forward: Decimal


@dataclass(frozen=True)
class AuBreakdown(Breakdown):
    non_discount_gains: Decimal
    discount_gains: Decimal
    capital_losses: Decimal
    losses_brought_forward: Decimal
    discount_rate: Decimal
    steps: NetCapitalGain = field(metadata={"inline": True})  # written at this level in the JSON
    timezone: str = "Australia/Sydney"


def net_capital_gain(non_discount_gains: Decimal, discount_gains: Decimal, losses: Decimal,
                     losses_brought_forward: Decimal, discount: Decimal) -> NetCapitalGain:
    """The ATO steps: current-year losses, then prior-year losses, each to non-discount gains first;
    then the discount on what is left of the discount gains."""
    nd, dg = non_discount_gains, discount_gains
    applied: list[Decimal] = []
    unused: list[Decimal] = []
    for amount in (losses, losses_brought_forward):
        on_nd = min(amount, nd)
        nd -= on_nd
        on_dg = min(amount - on_nd, dg)
        dg -= on_dg
        applied.append(on_nd + on_dg)
        unused.append(amount - on_nd - on_dg)
    discount_amount = dg * discount
    return NetCapitalGain(
        current_year_losses_applied=applied[0], current_year_losses_unused=unused[0],
        prior_year_losses_applied=applied[1], prior_year_losses_unused=unused[1],
        non_discount_gains_after_losses=nd, discount_gains_after_losses=dg, discount_amount=discount_amount,
        net_capital_gain=nd + dg - discount_amount, net_capital_loss_carried_forward=unused[0] + unused[1])


POLICY = Policy(
    code="au", name="Australia (ATO, individuals)", currency="AUD", timezone="Australia/Sydney",
    tax_year=TaxYear(7, 1), methods=("fifo", "specific"),
    pooling=Pooling.UNIVERSAL,  # parcels over all accounts unless option scope=account
    swap_cost=SwapCost.GIVEN,  # crypto/crypto cost: value given (s110-25(2))
    lookahead_days=0,  # nothing after the income year changes its gains
    holding=HOLDING,
    gift_is_disposal=True,  # ITAA 1997 s116-30: see jurisdictions/gifts.py
    income=INCOME_RULES["au"],
)


class AuRules(LotRules):
    def results(self, ctx: Context, md: MatchedDisposal) -> list[DisposalResult]:
        """One result per matched parcel, with the disposal's proceeds and costs of disposal shared by
        quantity (the last parcel takes the remainder, so the parcels add up exactly)."""
        d = md.disposal
        out = []
        qs = [lot.quantity for lot in md.lots]
        for lot, gross, fee in zip(md.lots, allocate(d.proceeds, qs), allocate(d.fee, qs)):
            eligible = lot.rule != "zero-cost" and ctx.held_long(lot.acquired_at, d.time)
            proceeds = gross - fee
            out.append(DisposalResult(
                time=d.time, account=d.account, asset=d.asset, quantity=lot.quantity, proceeds=proceeds,
                cost=lot.cost, gain=proceeds - lot.cost, lots=(lot,), rule=lot.rule,
                term="long" if eligible else "short", event_key=ref_of(d), role=d.role,
                detail=AuDetail(discount_eligible=eligible, gross_proceeds=gross, costs_of_disposal=fee,
                                acquired=ctx.local_day(lot.acquired_at).isoformat() if lot.acquired_at else None)))
        return out

    def assess(self, ctx: Context, reported: list[DisposalResult], whole_year: list[DisposalResult]) -> Assessment:
        results = reported
        bf = ctx.amount("losses_brought_forward")
        nd_gains = sum((r.gain for r in results if r.gain > 0 and r.term == "short"), ZERO)
        d_gains = sum((r.gain for r in results if r.gain > 0 and r.term == "long"), ZERO)
        losses = sum((-r.gain for r in results if r.gain < 0), ZERO)
        steps = net_capital_gain(nd_gains, d_gains, losses, bf, DISCOUNT["individual"])
        breakdown = AuBreakdown(non_discount_gains=nd_gains, discount_gains=d_gains, capital_losses=losses,
                                losses_brought_forward=bf, discount_rate=DISCOUNT["individual"],
                                steps=steps, timezone=ctx.tz)
        notes = [
            Note(f"parcels: {ctx.method}, tracked {'per account' if ctx.scope == 'account' else 'over all accounts'}; "
                 f"dates are local dates in {ctx.tz}", "method"),
            Note("CGT discount 50% for parcels held at least 12 months, excluding the days of acquisition and "
                 "disposal (ITAA 1997 s115-25); losses are applied before the discount, to non-discount gains first",
                 "rule"),
        ]
        if ctx.accounts is not None:
            notes.append(Note(f"net capital gain of the disposals in {', '.join(sorted(ctx.accounts))} only; the "
                              "return's net capital gain nets every account's gains and losses (run without "
                              "--account)", "warning"))
        return Assessment(ZERO, steps.net_capital_gain, breakdown, notes)


JURISDICTION = Jurisdiction(POLICY, AuRules())
