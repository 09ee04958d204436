"""The tax-aware rebalance: ONE pure function, :func:`tax_adjusted_plan`, turns the plan the planner made
into the plan a tax-aware basket trades, applies the basket's ``[tax]`` policies in a fixed order, and says
what each changed and why (:class:`Decision`, citing the rule). ``rebalance plan`` shows its result,
``rebalance run`` (paper, local venue, live; once and ``--loop``) trades it and records it with the plan in
the audit trail, and ``backtest …+tax-aware`` replays it at every rebalance: plan, run and backtest cannot
disagree.

Every figure comes from the real tax engine through :mod:`taxreport.rebalance.tax_preview` (one engine
run of the year without the plan per check, :class:`~taxreport.rebalance.tax_preview.PreviewContext`, then
one per candidate plan); the policies themselves are the pure rules of :mod:`taxreport.rebalance.tax_policy`.

The policies, in the order they apply (each off unless the ``[tax]`` table sets it):

1. ``defer_short_term N`` (US, DE, AU): units a sell would consume that turn long-term (US IRC §1222: held
   more than one year), tax-free (DE § 23 Abs. 1 Satz 1 Nr. 2 EStG) or discount-eligible (AU ITAA 1997
   s115-25) within N days are not sold, as far as the member stays inside the band: the sell is cut by
   ``min(deferrable, sell, band)`` (pp of the basket) and the buys are made smaller by the same value, in
   proportion to their size, no buy left more than the band short.
2. ``tax_budget X``: a plan whose estimated tax is over X% of the value it moves is shrunk so the largest
   drift is left on the band's edge (``k = 1 - band/max_drift`` of the way to the TARGETS; a deferral
   before it is superseded), or skipped when every member is inside the band
   (:func:`~taxreport.rebalance.tax_policy.tax_budget_factor`).
3. ``use_allowance`` (UK annual exempt amount, TCGA92 s1K; DE Freigrenze, § 23 Abs. 3 Satz 5 EStG): a plan
   that would take the year's gain over the allowance is shrunk (never below the band edge) so the year
   stays within it — for DE strictly below, since reaching the Freigrenze makes the WHOLE gain taxable —
   and a warning is recorded when even the band-edge trade crosses it; a plan an earlier policy shrank is
   traded in full again when the full plan keeps the year within the allowance (the gain is free: realise
   it while the rebalance is due anyway). No sale is added just to realise gains: a UK rebuy within 30 days
   is matched with the sale (TCGA92 s106A) and a DE rebuy restarts the one-year holding period.
4. ``harvest_losses Y``: a member the plan does not sell whose lots in the basket's account are down more
   than Y% is sold and bought back (two legs, the rebuy sized to the sale's net proceeds) where the country
   has no rule against it (US: IRC §1091 covers "stock or securities", not crypto that is not one); refused
   with the rule's name in the UK (TCGA92 s106A(5)), CA (ITA s54 superficial loss) and AU (TR 2008/1).
   It needs ``choose_lots`` (US) so the sale consumes the losing lots — the executor records that
   identification at the sale (:mod:`taxreport.rebalance.lot_identification`); without it the harvest is
   not made and the decision says why. Only on a plan that trades or is on target (never on a skipped one).

A preview that cannot be made (no lots in the ledger, a rate missing) leaves the plan as the planner made
it, and a decision says so: the run then trades like a basket without policies, never blind to that fact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from taxreport.model.events import Event
from taxreport.model.money import decimal_str
from taxreport.prices.rates import RateTable
from taxreport.rebalance.tax_policy import (
    band_of, harvest_losses, partial_weights, tax_budget_factor,
)
from taxreport.rebalance.tax_preview import (
    PreviewContext, TaxPreview, _usd_rate, prepare, preview_in, preview_to_dict,
)
from taxreport.rebalance.types import Basket, DustLeg, Plan, PlannedOrder

ZERO, ONE, HUNDRED = Decimal(0), Decimal(1), Decimal(100)
CENT = Decimal("0.01")
Replan = Callable[[Basket], Plan]  # the planner with the same balances and prices, other weights
MakeLeg = Callable[[str, str, Decimal], "tuple[PlannedOrder | DustLeg, Decimal]"]  # planner.order_leg
HOLDING_RULE = {"us": "IRC §1222 (long-term after more than one year)",
                "de": "§ 23 Abs. 1 Satz 1 Nr. 2 EStG (tax-free after more than one year)",
                "au": "ITAA 1997 s115-25 (50% discount after at least 12 months)"}
ALLOWANCE_RULE = {"uk": "annual exempt amount, TCGA92 s1K (s3 before 6 April 2019)", "de": "Freigrenze, § 23 Abs. 3 Satz 5 EStG"}


@dataclass(frozen=True)
class Decision:
    """What one policy did to one plan (or one member), and why, citing the rule."""

    policy: str  # defer_short_term | tax_budget | use_allowance | harvest_losses | preview
    action: str  # deferred | superseded | shrunk | skipped | restored | warned | harvested | refused | kept | not_applied
    asset: str | None
    reason: str
    # the policy could not be evaluated at all (no tax preview; a value that needs --fx): `rebalance plan`
    # shows it, `rebalance run` trades no sale rather than trade blind (rebalance/tax_run.py)
    blocks_run: bool = False

    def text(self) -> str:
        return f"{self.policy.replace('_', '-')}: {self.action}{' ' + self.asset if self.asset else ''}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "action": self.action, "asset": self.asset, "reason": self.reason}


@dataclass
class TaxedPlan:
    """The plan to trade, its tax preview, what the policies decided, and the plan before them."""

    plan: Plan
    preview: TaxPreview | None
    decisions: list[Decision] = field(default_factory=list)
    full: Plan | None = None
    drift_after: Decimal | None = None  # largest |weight - target| (pp) once every order fills

    @property
    def changed(self) -> bool:
        return self.full is not None and _legs(self.full) != _legs(self.plan)

    def record(self) -> dict[str, Any]:
        """The ``tax`` object of the plan (``rebalance plan --format json`` and the ``rebalance.plan``
        audit record): the preview, the decisions and the orders the planner wanted before the policies."""
        out: dict[str, Any] = preview_to_dict(self.preview) if self.preview is not None else {}
        out["decisions"] = [d.to_dict() for d in self.decisions]
        out["changed_by_policies"] = self.changed
        out["drift_after"] = self.drift_after
        if self.changed and self.full is not None:
            out["orders_before_policies"] = [{"asset": o.asset, "side": o.side, "quantity": o.quantity,
                                              "notional": o.notional} for o in self.full.orders]
        return out


def _legs(p: Plan) -> list[tuple[str, str, Decimal]]:
    return [(o.asset, o.side, o.quantity) for o in p.orders]


def drift_after(plan: Plan, basket: Basket) -> Decimal | None:
    """Largest |weight - target| (pp) once every order of ``plan`` fills at its limit (fees left out)."""
    if not plan.rows:
        return None
    qty = {r.asset: r.quantity for r in plan.rows}
    price = {r.asset: r.price for r in plan.rows}
    for o in plan.orders:
        qty[o.asset] = qty.get(o.asset, ZERO) + (o.quantity if o.side == "buy" else -o.quantity)
    cash_row = basket.quote in qty
    value = {a: qty[a] * price[a] for a in qty}
    total = plan.total_value
    if total <= 0:
        return None
    if not cash_row:
        total = sum(value.values(), ZERO) + max(plan.quote_after, ZERO)
    return max(abs(value[r.asset] / total * HUNDRED - r.target) for r in plan.rows)


def tax_adjusted_plan(events: Sequence[Event], rates: RateTable | Sequence[tuple], plan: Plan, basket: Basket,
                      now: datetime, *, replan: Replan, make_leg: MakeLeg | None = None,
                      fee_rate: Decimal = ZERO, fx: Mapping[str, Decimal] | None = None,
                      context: PreviewContext | None = None) -> TaxedPlan:
    """The plan a basket with a ``[tax]`` table trades (module doc: the policies and their order).

    ``replan(basket')`` must plan the same balances and prices with other weights (gate off);
    ``make_leg(asset, side, quantity)`` makes one leg as the planner does (``planner.order_leg``), for the
    loss harvest. ``context`` may carry the check's :class:`PreviewContext` already made (a cache)."""
    s = basket.tax
    if s is None:
        return TaxedPlan(plan, None, [], plan, drift_after(plan, basket))
    ctx = context or prepare(events, rates, plan, basket, s, now, fee_rate=fee_rate, fx=fx)
    taxed = preview_in(ctx, plan)
    out = TaxedPlan(plan, taxed, [], plan)
    if plan.skipped or not plan.rows:
        out.drift_after = drift_after(plan, basket)
        return out
    if taxed.error:
        out.decisions.append(Decision("preview", "not_applied", None, f"no tax preview ({taxed.error}): the "
                                      "policies cannot apply; `rebalance run` sells nothing until this is fixed",
                                      blocks_run=True))
        out.drift_after = drift_after(plan, basket)
        return out
    code, cur = taxed.jurisdiction, taxed.currency
    band = band_of(basket)
    current = {r.asset: r.weight for r in plan.rows}
    targets = dict(basket.weights)
    k_min = ONE - band / plan.max_drift if plan.max_drift > band else ZERO
    goal, k = targets, ONE
    p = plan

    def make(goal_: dict[str, Decimal], k_: Decimal, why: str) -> tuple[Plan, TaxPreview]:
        if k_ <= 0:
            skipped = replace(plan, orders=(), dust=(), skipped=why, quote_after=plan.quote_balance)
            return skipped, preview_in(ctx, skipped)
        if k_ == ONE and goal_ == targets:
            return plan, preview_in(ctx, plan)
        smaller = replan(replace(basket, weights=partial_weights(current, goal_, k_)))
        made = replace(smaller, rows=plan.rows, max_drift=plan.max_drift, skipped=None,
                       notes=(*smaller.notes, f"tax policies: {why}"))
        return made, preview_in(ctx, made)

    # 1. defer_short_term N ---------------------------------------------------------------------------
    if s.defer_short_term and any(leg.deferrable for leg in taxed.legs):
        goal = _deferred_goal(plan, taxed, targets, band, s.defer_short_term, code, out.decisions)
        if goal != targets:
            p, taxed = make(goal, ONE, "sells of lots turning long-term/tax-free soon deferred")
    # 2. tax_budget X ---------------------------------------------------------------------------------
    if s.tax_budget is not None and any(o.side == "sell" for o in p.orders):  # no sale: nothing realised
        if not taxed.moved:
            out.decisions.append(Decision("tax_budget", "not_applied", None, f"the value moved needs --fx "
                                          f"{cur}=RATE (1 USD = RATE {cur}) to compare with the budget",
                                          blocks_run=True))
        else:
            kb, why = tax_budget_factor(taxed.estimated_tax, taxed.moved, s.tax_budget, plan.max_drift, band)
            if kb < ONE and why:
                if goal != targets:
                    out.decisions.append(Decision("defer_short_term", "superseded", None, "the tax budget shrinks "
                                                  "every leg to the band edge instead"))
                goal, k = targets, kb
                out.decisions.append(Decision("tax_budget", "skipped" if kb == 0 else "shrunk", None, why))
                p, taxed = make(goal, k, f"tax budget {s.tax_budget}%: " + (why if kb == 0 else
                                         f"trades {k * 100:.2f}% of the full rebalance"))
    # 3. use_allowance ----------------------------------------------------------------------------------
    if s.use_allowance and code in ALLOWANCE_RULE and taxed.allowance is not None:
        p, taxed, goal, k = _use_allowance(p, taxed, plan, targets, goal, k, k_min, make, code, cur, out.decisions)
    # 4. harvest_losses Y -------------------------------------------------------------------------------
    if s.harvest_losses is not None and not p.skipped:
        harvested = _harvest(p, ctx, taxed, make_leg, out.decisions)
        if harvested is not p:
            p, taxed = harvested, preview_in(ctx, harvested)
    if p is not plan:
        taxed.budget_factor = k
        taxed.advice = [a for a in taxed.advice if not a.startswith("tax-budget")] + [
            d.text() for d in out.decisions if d.action not in ("refused",)]
    out.plan, out.preview = p, taxed
    out.drift_after = drift_after(p, basket)
    return out


def _deferred_goal(plan: Plan, taxed: TaxPreview, targets: dict[str, Decimal], band: Decimal, days: int,
                   code: str, decisions: list[Decision]) -> dict[str, Decimal]:
    """Targets with each deferrable sell cut (pp of the basket) and the buys made smaller to match."""
    rows = {r.asset: r for r in plan.rows}
    total = plan.total_value
    cuts: dict[str, Decimal] = {}
    units: dict[str, Decimal] = {}
    for leg in taxed.legs:
        row = rows.get(leg.asset)
        if not leg.deferrable or row is None or row.drift <= 0:
            continue
        defer_pp = leg.deferrable * row.price / total * HUNDRED
        cut = min(defer_pp, row.drift, band)
        if cut > 0:
            cuts[leg.asset], units[leg.asset] = cut, leg.deferrable
    buys = {r.asset: r.target - r.weight for r in plan.rows if r.target > r.weight}
    if not cuts:
        return targets
    whole = sum(cuts.values(), ZERO)
    room = sum(buys.values(), ZERO)
    if room <= 0:
        decisions.append(Decision("defer_short_term", "not_applied", None, "no member to buy less of: the sells "
                                  "fund nothing that could be made smaller"))
        return targets
    most = band * room / max(buys.values())  # no buy is left more than the band short of its target
    scale = min(ONE, most / whole)
    goal = dict(targets)
    for asset, cut in cuts.items():
        goal[asset] += cut * scale
        decisions.append(Decision(
            "defer_short_term", "deferred", asset,
            f"{decimal_str(units[asset])} {asset} of this sale turn {'tax-free' if code == 'de' else 'long-term'} "
            f"within {days} days ({HOLDING_RULE.get(code, 'holding period')}): the sale is cut by "
            f"{cut * scale:.2f}pp of the basket, leaving {asset} that much over "
            f"target (inside the {decimal_str(band)}pp band) until they do"))
    for asset, short in buys.items():
        goal[asset] -= whole * scale * short / room
    if scale < ONE:
        decisions.append(Decision("defer_short_term", "shrunk", None, "the deferral is limited so no member is "
                                  f"left more than the {decimal_str(band)}pp band below its target"))
    return goal


def _use_allowance(p: Plan, taxed: TaxPreview, plan: Plan, targets: dict[str, Decimal], goal: dict[str, Decimal],
                   k: Decimal, k_min: Decimal, make: Callable[..., tuple[Plan, TaxPreview]], code: str, cur: str,
                   decisions: list[Decision]) -> tuple[Plan, TaxPreview, dict[str, Decimal], Decimal]:
    a = taxed.allowance
    assert a is not None
    name = ALLOWANCE_RULE[code]

    def crosses(check: Any) -> bool:
        if code == "de":  # a Freigrenze: tax-free only while the year's gain stays BELOW it
            return check.before < check.allowance <= check.after
        return check.before <= check.allowance < check.after

    if not crosses(a):
        if (p is not plan) and k > 0:  # an earlier policy traded less: is the full plan free anyway?
            full_taxed = preview_in_full(make, targets)
            fa = full_taxed[1].allowance
            if fa is not None and not crosses(fa) and fa.after < fa.allowance and full_taxed[1].error is None:
                decisions.append(Decision("use_allowance", "restored", None, (
                    f"the full rebalance keeps the {taxed.year} gain at {fa.after:.2f} {cur}, "
                    f"within the {decimal_str(fa.allowance)} {cur} {name}: realised while the rebalance is due anyway")))
                return full_taxed[0], full_taxed[1], targets, ONE
        return p, taxed, goal, k
    if k <= k_min:
        decisions.append(Decision("use_allowance", "warned", None, (a.warning or "") + (
            "; this is already the smallest trade that brings every member back inside the band")))
        return p, taxed, goal, k
    goal = targets  # shrink toward the band edge of the real targets
    limit = a.allowance - (CENT if code == "de" else ZERO)
    for _ in range(4):
        span = a.after - a.before
        guess = k * (limit - a.before) / span if span > 0 else k_min
        k_new = max(k_min, min(guess, k * Decimal("0.98")))
        p, taxed = make(goal, k_new, f"{name}: trades {k_new * 100:.2f}% of the full "
                                     "rebalance to stay within it")
        k = k_new
        if taxed.allowance is None or taxed.error or not crosses(taxed.allowance) or k <= k_min:
            break
        a = taxed.allowance
    after = taxed.allowance
    if after is not None and crosses(after):
        decisions.append(Decision("use_allowance", "warned", None, (after.warning or "") + (
            f"; shrunk to the smallest trade that restores the band ({k * 100:.2f}%)")))
    else:
        skipped = k <= 0
        decisions.append(Decision("use_allowance", "skipped" if skipped else "shrunk", None, (
            f"the full rebalance would take the {taxed.year} gain from {a.before:.2f} over the "
            f"{decimal_str(a.allowance)} {cur} {name}"
            + (" (the WHOLE gain becomes taxable)" if code == "de" else "")
            + (": skipped, every member is inside the band" if skipped else
               f": trades {k * 100:.2f}% of it, the year's gain "
               f"{after.after if after else ZERO:.2f} {cur}"))))
    return p, taxed, goal, k


def preview_in_full(make: Callable[..., tuple[Plan, TaxPreview]], targets: dict[str, Decimal]) -> tuple[Plan, TaxPreview]:
    return make(targets, ONE, "full rebalance")


def _harvest(p: Plan, ctx: PreviewContext, taxed: TaxPreview, make_leg: MakeLeg | None,
             decisions: list[Decision]) -> Plan:
    """``harvest_losses Y``: add a sell and a rebuy leg for each member the plan does not sell whose lots
    are down more than Y% where the country allows it; refusals name the rule (module doc, step 4)."""
    s, basket = ctx.settings, ctx.basket
    assert s.harvest_losses is not None
    cur = taxed.currency
    usd_to = _usd_rate(cur, ctx.fx)
    if usd_to is None:
        decisions.append(Decision("harvest_losses", "not_applied", None, f"needs --fx {cur}=RATE to value the lots",
                                  blocks_run=True))
        return p
    sold = {o.asset for o in p.orders if o.side == "sell"}
    sells, buys = [o for o in p.orders if o.side == "sell"], [o for o in p.orders if o.side == "buy"]
    quote_after = p.quote_after
    changed = False
    for row in p.rows:
        if row.asset == basket.quote or row.quantity <= 0:
            continue
        d = harvest_losses(s.jurisdiction, ctx.held(row.asset), row.price * usd_to, s.harvest_losses)
        if not d.lots or abs(d.loss) < Decimal("0.005"):  # no lot, or dust whose loss is not a cent: nothing to say
            continue
        units = sum((lot.quantity for lot in d.lots), ZERO)
        what = (f"{decimal_str(units)} {row.asset} in {len(d.lots)} lot(s) down more than "
                f"{decimal_str(s.harvest_losses)}% (a loss of {d.loss:.2f} {cur})")
        if not d.allowed:
            decisions.append(Decision("harvest_losses", "refused", row.asset, f"{what}: {d.reason}"))
            continue
        if row.asset in sold:
            decisions.append(Decision("harvest_losses", "kept", row.asset, f"{what}: the rebalance sells {row.asset} "
                                      "already" + ("; its sale takes the losing lots first" if s.choose_lots else "")))
            continue
        if not s.choose_lots or make_leg is None:
            decisions.append(Decision("harvest_losses", "not_applied", row.asset, f"{what}: needs choose_lots = true "
                                      "so the sale consumes the losing lots (without it the oldest lots are sold, "
                                      "FIFO, IRS FAQ Q41)"))
            continue
        sell, fee = make_leg(row.asset, "sell", min(units, row.quantity))
        if isinstance(sell, DustLeg):
            decisions.append(Decision("harvest_losses", "not_applied", row.asset, f"{what}: the sale is {sell.reason}"))
            continue
        probe, _ = make_leg(row.asset, "buy", sell.quantity)
        ask = probe.notional / probe.quantity if probe.quantity else sell.limit_price
        net = sell.notional * (ONE - max(fee, ZERO))
        existing = next((o for o in buys if o.asset == row.asset), None)
        wanted = net / (ask * (ONE + max(fee, ZERO))) + (existing.quantity if existing else ZERO)
        buy, _ = make_leg(row.asset, "buy", wanted)
        if isinstance(buy, DustLeg):
            decisions.append(Decision("harvest_losses", "not_applied", row.asset, f"{what}: the rebuy is {buy.reason}"))
            continue
        buys = [o for o in buys if o is not existing] + [buy]
        sells.append(sell)
        quote_after += net - (buy.notional - (existing.notional if existing else ZERO)) * (ONE + max(fee, ZERO))
        changed = True
        decisions.append(Decision("harvest_losses", "harvested", row.asset, (
            f"{what}: sell {decimal_str(sell.quantity)} and buy back {decimal_str(buy.quantity - (existing.quantity if existing else ZERO))} "
            f"(two legs; the lots are identified at the sale, Treas. Reg. §1.1012-1(j)); {d.reason} "
            "(IRC §1091 covers stock or securities)")))
    if not changed:
        return p
    return replace(p, orders=(*sells, *buys), quote_after=quote_after,
                   notes=(*p.notes, "tax policies: loss harvest legs added (sell and buy back)"))
