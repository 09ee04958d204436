"""Tax preview of a rebalance plan: what each sell leg would realise, under the basket's country rules,
BEFORE it is traded. Pure: events, rates and a plan in; a :class:`TaxPreview` out.

How (the REAL tax engine, no second copy of any rule): every planned sell becomes a hypothetical ledger
:class:`~taxreport.model.events.Trade` at ``now`` at its limit price (its fee at ``fee_rate``, in the
quote asset); the engine (:func:`taxreport.gains.compute_request`: legs, valuation, the jurisdiction's
lot matching, holding period, pools, allowances) computes the tax year containing ``now`` twice, without
and with those trades. The legs' disposals are the preview; the **estimated tax** is the marginal rate
times the increase of the year's taxable gain (so the DE Freigrenze, the UK annual exempt amount, the
AU discount and US loss netting all come from the engine); it is negative when the sales LOWER the
year's taxable gain (a loss realised against the year's gains). Labelled an estimate everywhere.

What it does not foresee: sales after ``now`` (UK 30-day rule, CA superficial loss look forward: a
rebuy within 30 days would change the matching), and income or other gains outside this ledger.

With ``choose_lots`` (US specific identification per account; AU), each sell consumes the lots
:func:`taxreport.rebalance.tax_policy.tax_minimising_selection` picks, passed to the engine as the same
selections ``gains --method specific --lots FILE`` uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Mapping, Sequence

from taxreport.errors import TaxreportError
from taxreport.jurisdictions.base import DisposalResult, Note, YearSummary, get
from taxreport.model.assets import STABLECOINS
from taxreport.model.events import Event, Side, Trade, as_of
from taxreport.model.money import decimal_str
from taxreport.prices.rates import RateTable
from taxreport.rebalance.tax_policy import (
    AllowanceCheck, HeldLot, TaxSettings, allowance_check, band_of, deferrable_quantity, tax_budget_factor,
    tax_minimising_selection,
)
from taxreport.rebalance.types import Basket, Plan
from taxreport.simulated import SIMULATED_CODE

ZERO = Decimal(0)
SOURCE = "tax-preview"


@dataclass(frozen=True)
class PreviewLot:
    acquired: date | None  # local date in the country's zone; None for a pool (UK s104, CA ACB)
    quantity: Decimal
    cost: Decimal
    gain: Decimal  # this lot's share of the net proceeds - its cost
    term: str | None  # "short" | "long" (US, AU), "taxable" | "exempt" (DE), None (pooled: UK, CA)
    rule: str  # fifo, specific, s104, same-day, acb …
    lot_ref: str | None


@dataclass(frozen=True)
class PreviewLeg:
    asset: str
    quantity: Decimal
    proceeds: Decimal  # net of the sale fee, tax currency
    cost: Decimal
    gain: Decimal
    lots: tuple[PreviewLot, ...]
    deferrable: Decimal = ZERO  # units turning long-term/tax-free within defer_short_term days


@dataclass
class TaxPreview:
    jurisdiction: str
    currency: str
    year: str
    method: str
    rate: Decimal
    rate_is_default: bool
    legs: list[PreviewLeg] = field(default_factory=list)
    realised_gain: Decimal = ZERO
    taxable_before: Decimal = ZERO  # the year's taxable gain without the plan
    taxable_after: Decimal = ZERO  # … with it
    estimated_tax: Decimal = ZERO
    moved: Decimal = ZERO  # value of every order of the plan, tax currency
    budget_factor: Decimal | None = None  # tax-budget policy: fraction of the plan to keep
    allowance: AllowanceCheck | None = None
    advice: list[str] = field(default_factory=list)  # what the policies say
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def is_simulated(events: Sequence[Event], account: str) -> bool:
    """Whether ``account`` is declared simulated in ``events`` (:mod:`taxreport.simulated`): a paper
    basket's preview and lot identification then include simulated accounts (and say so), since
    simulated money is otherwise left out of every tax figure."""
    from taxreport.simulated import simulated_accounts

    return account in simulated_accounts(events)


def ledger_at(events: Sequence[Event], moment: datetime) -> list[Event]:
    """The ledger as it stood at ``moment`` for a sale then (:func:`taxreport.model.events.as_of`: events up
    to then and every timeless correction), less the corrections of events that had not happened yet (a
    basis supplied for a later deposit, a link to a later deposit, a reversal of either): a plan previewed
    at a past moment (``--at``, a paper basket in simulated time) sees no correction without its event."""
    from taxreport.model.events import BasisSupplement, Reversal, TransferLink

    def known(e: Event, present: set[str]) -> bool:
        if isinstance(e, (Reversal, BasisSupplement)):
            return e.target_key in present
        if isinstance(e, TransferLink):
            return e.withdrawal_key in present and e.deposit_key in present
        return True

    past = as_of(events, moment)
    for _ in range(2):  # a reversal of a dropped correction goes in the second pass
        present = {e.natural_key for e in past}
        past = [e for e in past if not e.timeless or known(e, present)]
    return past


def rows_of(table: RateTable) -> list[tuple[str, str, datetime, Decimal, str]]:
    """A rate table's rows (to extend it with the plan's prices)."""
    rows = []
    for pair, times in table._times.items():  # noqa: SLF001 (RateTable has no row iterator)
        for moment, (rate, source) in zip(times, table._values[pair]):  # noqa: SLF001
            rows.append((pair[0], pair[1], moment, rate, source))
    return rows


def year_of(code: str, moment: datetime) -> str:
    """The label of ``code``'s tax year containing ``moment`` ("2025", "2025-26")."""
    j = get(code)
    for year in (moment.year - 1, moment.year):
        for label in (str(year), f"{year}-{(year + 1) % 100:02d}"):
            try:
                lo, hi = j.year_bounds(label)
            except TaxreportError:
                continue
            if lo <= moment < hi:
                return label
    raise TaxreportError(f"no {code} tax year contains {moment.isoformat()}")


@dataclass
class PreviewContext:
    """What every preview of one check shares (one engine run of the year WITHOUT the plan): the events
    as of ``now``, the rate table with the plan's prices, the request, and the year's summary before the
    plan. :func:`prepare` makes it once; :func:`preview_in` previews any plan of that check against it
    (the tax-aware policies preview several shrunk plans of the same check)."""

    basket: Basket
    settings: TaxSettings
    now: datetime
    year: str
    method: str
    fee_rate: Decimal
    fx: Mapping[str, Decimal] | None
    table: RateTable
    request: Any  # taxreport.gains.GainsRequest
    past: Sequence[Event]  # the ledger as of now (a ChainEvents: read whole only when a step needs it)
    simulated: bool
    before: YearSummary | None = None
    error: str | None = None
    engine: Any = None  # taxreport.rebalance.tax_resume.Resumed: the engine resumed at now (None: full runs)

    def summary(self, hypothetical: Sequence[Event], request: Any) -> YearSummary:
        """The year's summary with the ``hypothetical`` sales after the ledger's events: resumed from the
        engine's state after them (:mod:`taxreport.rebalance.tax_resume`), else over every event."""
        if self.engine is not None:
            return self.engine.summary(hypothetical, request)  # type: ignore[no-any-return]
        from taxreport.gains import compute_request

        return compute_request(list(self.past) + list(hypothetical), self.table, request)

    def held(self, asset: str) -> list[HeldLot]:
        """The open lots of ``asset`` in the basket's account before the plan (tax currency)."""
        if self.before is None:
            return []
        b = self.before
        return [HeldLot(lot.lot_ref, b.local_date(lot.acquired_at) if lot.acquired_at else None, lot.quantity, lot.cost)
                for lot in b.open_lots if lot.asset == asset and lot.account in (self.basket.account, None)]


def _error_text(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:2])


def prepare(events: Sequence[Event], rates: RateTable | Sequence[tuple], plan: Plan, basket: Basket,
            settings: TaxSettings, now: datetime, *, fee_rate: Decimal = ZERO,
            fx: Mapping[str, Decimal] | None = None,
            cache: Callable[[Mapping[str, Any], Callable[[], YearSummary]], YearSummary] | None = None,
            resume_store: str | None = None) -> PreviewContext:
    """The shared part of every preview of ``plan``'s check (:class:`PreviewContext`). ``cache(key,
    compute)`` may return the year's summary before the plan without computing it (a cache keyed by the
    ledger's state, :class:`taxreport.ledger.derived.DerivedCache`): ``key`` names everything else it
    depends on (country, year, method, the events as of now, the assumed rates). ``resume_store`` (a name,
    e.g. the ledger's URL): resume the engine from the state saved there at an earlier check
    (:mod:`taxreport.rebalance.tax_resume`; the same figures, in a time that does not grow with the ledger)."""
    from taxreport.gains import GainsRequest, compute_request

    j = get(settings.jurisdiction)
    # choose_lots: the earlier sales' recorded identifications apply (method specific; the rest FIFO)
    method = "specific" if settings.choose_lots and "specific" in j.methods else settings.method or j.methods[0]
    year = year_of(j.code, now)
    base_rows = rows_of(rates) if isinstance(rates, RateTable) else list(rates)
    extra = [(a, basket.quote, now, p.limit_price, "plan price") for a, p in
             {o.asset: o for o in plan.orders}.items()]
    extra += [(r.asset, basket.quote, now, r.price, "plan price") for r in plan.rows
              if r.asset != basket.quote and r.asset not in {o.asset for o in plan.orders}]
    extra += [("USD", cur.upper(), now, rate, "assumed flat rate (--fx)") for cur, rate in (fx or {}).items()]
    table = RateTable.from_rows(base_rows + extra)
    peg = {basket.quote: "USD"} if basket.quote in STABLECOINS and basket.quote != "EURC" else {}
    if resume_store is not None:
        from taxreport.rebalance import tax_resume

        simulated = basket.account in tax_resume.simulated_in(events, store=resume_store)
    else:
        simulated = is_simulated(events, basket.account)
    request = GainsRequest(jurisdiction=j.code, year=year, method=method,
                           via=tuple(dict.fromkeys(["USD", "EUR", basket.quote])), peg=peg, rate_lookback_days=7,
                           include_simulated=simulated)
    resumed = None
    if resume_store is not None:
        listed = events if isinstance(events, (list, tax_resume.ChainEvents)) else list(events)
        resumed = tax_resume.resume(listed, base_rows, table, request, now, store=resume_store)
    if resumed is not None:  # every event is at or before now (the ledger as it stood then)
        ctx = PreviewContext(basket, settings, now, year, method, fee_rate, fx, table, request, listed, simulated,
                             engine=resumed)
        try:
            ctx.before = resumed.summary()
        except TaxreportError as exc:
            ctx.error = _error_text(exc)
        return ctx
    ctx = PreviewContext(basket, settings, now, year, method, fee_rate, fx, table, request, ledger_at(events, now),
                         simulated)
    try:
        def compute() -> YearSummary:
            return compute_request(ctx.past, table, request)

        key = {"jurisdiction": j.code, "year": year, "method": method, "simulated": simulated,
               "events_as_of_now": len(ctx.past), "quote": basket.quote,
               "fx": {c: str(r) for c, r in sorted((fx or {}).items())}}
        ctx.before = cache(key, compute) if cache is not None else compute()
    except TaxreportError as exc:
        ctx.error = _error_text(exc)
    return ctx


def preview(events: Sequence[Event], rates: RateTable | Sequence[tuple], plan: Plan, basket: Basket,
            settings: TaxSettings, now: datetime, *, fee_rate: Decimal = ZERO,
            fx: Mapping[str, Decimal] | None = None) -> TaxPreview:
    """The tax preview of ``plan``'s sell orders at ``now`` (module doc). Errors of the engine (no lots,
    missing rates) are reported in :attr:`TaxPreview.error`, never raised."""
    return preview_in(prepare(events, rates, plan, basket, settings, now, fee_rate=fee_rate, fx=fx), plan)


def preview_in(ctx: PreviewContext, plan: Plan) -> TaxPreview:
    """The tax preview of ``plan`` (one plan of ``ctx``'s check: same prices, same moment)."""
    basket, settings, now, fee_rate, fx = ctx.basket, ctx.settings, ctx.now, ctx.fee_rate, ctx.fx
    j = get(settings.jurisdiction)
    year, request = ctx.year, ctx.request
    out = TaxPreview(j.code, j.currency, year, "specific" if settings.choose_lots else ctx.method, settings.rate,
                     settings.rate_is_default)
    sells = [o for o in plan.orders if o.side == "sell"]
    trades = [Trade(time=now, source=SOURCE, external_id=f"{plan.basket}:{n}", account=basket.account, side=Side.SELL,
                    base=o.asset, quote=basket.quote, quantity=o.quantity, price=o.limit_price,
                    fee=o.notional * fee_rate, fee_asset=basket.quote)
              for n, o in enumerate(sells)]
    keys = {t.natural_key: o for t, o in zip(trades, sells)}
    hypothetical: list[Event] = list(trades)
    if ctx.before is None:
        out.error = ctx.error or "the tax engine gave no result"
        return _explained(out, basket)
    before = ctx.before
    try:
        if settings.harvest_losses is not None:
            out.advice += harvest_advice(before, plan, basket, settings, fx)
        if not sells:
            out.taxable_before = out.taxable_after = before.taxable_gain
            out.notes.append("no sell orders: the plan realises nothing")
            return out
        if settings.choose_lots:
            direct = direct_selections(ctx, trades)  # no engine pass to find the disposals
            if direct is None:
                first = ctx.summary(hypothetical, request)
                direct = minimising_selections(before, first, keys, basket.account, now, j.timezone)
            after = ctx.summary(hypothetical, replace(request, method="specific", selections=direct))
        else:
            after = ctx.summary(hypothetical, request)
    except TaxreportError as exc:
        out.error = _error_text(exc)
        return _explained(out, basket)
    out.taxable_before, out.taxable_after = before.taxable_gain, after.taxable_gain
    mine = [d for d in after.disposals if d.event_key.split("#")[0] in keys and d.asset != basket.quote]
    for o in sells:
        key = next(k for k, v in keys.items() if v is o)
        parts = [d for d in mine if d.event_key.split("#")[0] == key]
        lots = tuple(lot for d in parts for lot in _lots(d, after))
        leg = PreviewLeg(o.asset, sum((d.quantity for d in parts), ZERO), sum((d.proceeds for d in parts), ZERO),
                         sum((d.cost for d in parts), ZERO), sum((d.gain for d in parts), ZERO), lots)
        if settings.defer_short_term:
            held = [HeldLot(lot.lot_ref, lot.acquired, lot.quantity, lot.cost) for lot in lots]
            today = after.local_date(now)
            units = deferrable_quantity(held, today, settings.defer_short_term)
            leg = PreviewLeg(leg.asset, leg.quantity, leg.proceeds, leg.cost, leg.gain, leg.lots, units)
            if units:
                out.advice.append(f"defer-short-term {settings.defer_short_term}: {decimal_str(units)} {o.asset} of this "
                                  "sale turn "
                                  f"{'tax-free' if j.code == 'de' else 'long-term'} within "
                                  f"{settings.defer_short_term} days; sell other members or less to wait")
        out.legs.append(leg)
    out.realised_gain = sum((leg.gain for leg in out.legs), ZERO)
    # negative when the sales lower the year's taxable gain (a realised loss against the year's gains)
    out.estimated_tax = (out.taxable_after - out.taxable_before) * out.rate
    usd_to = _usd_rate(j.currency, fx)
    out.moved = sum((o.notional for o in plan.orders), ZERO) * usd_to if usd_to is not None else ZERO
    if settings.tax_budget is not None and usd_to is None:
        out.advice.append(f"tax-budget: not applied: the value moved needs --fx {j.currency}=RATE (1 USD = RATE "
                          f"{j.currency})")
    if settings.tax_budget is not None and out.moved:
        band = band_of(basket)
        k, why = tax_budget_factor(out.estimated_tax, out.moved, settings.tax_budget, plan.max_drift, band)
        out.budget_factor = k
        if why:
            out.advice.append(f"tax-budget {settings.tax_budget}%: {why}")
    if settings.use_allowance:
        before_gain = _allowance_basis(j.code, before)
        after_gain = _allowance_basis(j.code, after)
        out.allowance = allowance_check(j.code, year, before_gain, after_gain)
        if out.allowance is not None:
            out.advice.append(out.allowance.warning or
                              f"use-allowance: {max(out.allowance.headroom, ZERO):.2f} {j.currency} of the "
                              f"{out.allowance.allowance} {'Freigrenze' if j.code == 'de' else 'annual exempt amount'} "
                              f"left in {year} after this plan")
    out.notes = ([Note(f"SIMULATED: {basket.account} holds simulated money (paper or a local venue); this preview "
                       "includes simulated accounts, as if the money were real", SIMULATED_CODE)]
                 if ctx.simulated else []) + [
        f"ESTIMATE: {out.rate * 100}% {'illustrative' if out.rate_is_default else 'marginal'} rate x the increase of "
        f"the {year} taxable gain the engine computes with these sales ({out.taxable_before} -> {out.taxable_after})",
        "sales after now are not foreseen (a rebuy within 30 days changes UK/CA matching)",
        "rates up to 7 days old are accepted where none is stored for the moment (as gains --rate-lookback 7)",
    ]
    return out


def _explained(out: TaxPreview, basket: Basket) -> TaxPreview:
    if out.error and "short by" in out.error:
        out.error += (f" -- the ledger holds fewer lots in {basket.account} than the plan sells: import the "
                      "account's history (or record the basket's fills) first")
    return out


def harvest_advice(before: YearSummary, plan: Plan, basket: Basket, settings: TaxSettings,
                   fx: Mapping[str, Decimal] | None) -> list[str]:
    """``harvest-losses Y``: per member, the lots in the basket's account down more than Y% at the plan's
    price, and whether selling and rebuying them may realise the loss in the country
    (:func:`taxreport.rebalance.tax_policy.harvest_losses`, which names the rule when it refuses)."""
    from taxreport.rebalance.tax_policy import harvest_losses

    assert settings.harvest_losses is not None
    usd_to = _usd_rate(before.currency, fx)
    if usd_to is None:
        return [f"harvest-losses: needs --fx {before.currency}=RATE to value the lots in {before.currency}"]
    out = []
    for row in plan.rows:
        if row.asset == basket.quote:
            continue
        held = [HeldLot(lot.lot_ref, before.local_date(lot.acquired_at) if lot.acquired_at else None, lot.quantity,
                        lot.cost) for lot in before.open_lots if lot.asset == row.asset and lot.account in (basket.account, None)]
        decision = harvest_losses(settings.jurisdiction, held, row.price * usd_to, settings.harvest_losses)
        if decision.lots:
            units = sum((lot.quantity for lot in decision.lots), ZERO)
            out.append(f"harvest-losses {settings.harvest_losses}%: {decimal_str(units)} {row.asset} in "
                       f"{len(decision.lots)} lot(s) "
                       f"would realise a loss of {decision.loss:.2f} {before.currency}; {decision.reason}")
    return out


def _usd_rate(currency: str, fx: Mapping[str, Decimal] | None) -> Decimal | None:
    if currency == "USD":
        return Decimal(1)
    return {k.upper(): v for k, v in (fx or {}).items()}.get(currency)


def _allowance_basis(code: str, summary: YearSummary) -> Decimal:
    """The gain the UK allowance / DE Freigrenze is measured against, as the engine reports it."""
    from taxreport.jurisdictions.de import DeBreakdown

    if isinstance(summary.breakdown, DeBreakdown):
        return summary.breakdown.taxable.gain
    return summary.gain


def _lots(d: DisposalResult, summary: YearSummary) -> list[PreviewLot]:
    out = []
    term = "exempt" if d.exempt else ("taxable" if summary.jurisdiction == "de" else d.term)
    for lm in d.lots:
        share = d.proceeds * lm.quantity / d.quantity if d.quantity else ZERO
        out.append(PreviewLot(summary.local_date(lm.acquired_at) if lm.acquired_at else None, lm.quantity, lm.cost,
                              share - lm.cost, term, lm.rule, lm.lot_ref))
    return out


def direct_selections(ctx: PreviewContext, sells: Sequence[Trade]) -> dict[str, list[tuple[str, Decimal | None]]] | None:
    """The tax-minimising lots of the plan's sells straight from the lots the year before the plan holds
    (what :func:`taxreport.rebalance.lot_identification.identify_in_context` does for each fill at the
    run, so the preview names the lots the run will record): each sale's disposal is its trade's first
    leg (``#0``), its price the limit price in the tax currency. None where that shortcut does not hold (no
    rate to the tax currency at hand): the caller then finds the disposals with one engine pass."""
    from taxreport.rebalance.lot_identification import identify_in_context

    out: dict[str, list[tuple[str, Decimal | None]]] = {}
    used: dict[str, Decimal] = {}
    for t in sells:
        try:
            chosen = identify_in_context(ctx, t, used)
        except TaxreportError:
            return None  # fewer units in the lots than sold: let the engine say so
        if chosen is None:
            return None
        out.update(chosen)
    return out


def minimising_selections(before: YearSummary, after: YearSummary, keys: Mapping[str, Any], account: str, now: datetime,
                tz: str) -> dict[str, list[tuple[str, Decimal | None]]]:
    """The tax-minimising lots for each hypothetical sale, keyed by its disposal ref."""
    from zoneinfo import ZoneInfo

    today = now.astimezone(ZoneInfo(tz)).date()
    out: dict[str, list[tuple[str, Decimal | None]]] = {}
    used: dict[str, Decimal] = {}  # units of each lot named by an earlier sale of the same batch
    for d in after.disposals:
        key = d.event_key.split("#")[0]
        if key not in keys or d.event_key in out:
            continue
        order = keys[key]
        if d.asset != order.asset:
            continue
        held = []
        for lot in before.open_lots:
            if lot.asset != d.asset or lot.account not in (account, None):  # None: a taxpayer-wide pool (AU)
                continue
            left = lot.quantity - used.get(str(lot.lot_ref), ZERO)
            if left > 0:
                held.append(HeldLot(lot.lot_ref, before.local_date(lot.acquired_at) if lot.acquired_at else None, left,
                                    lot.cost * left / lot.quantity))
        total = sum((x.quantity for x in after.disposals if x.event_key == d.event_key), ZERO)
        price = d.proceeds / d.quantity if d.quantity else ZERO
        out[d.event_key] = [(ref, q) for ref, q in tax_minimising_selection(held, total, price, today)]
        for ref, q in out[d.event_key]:
            used[ref] = used.get(ref, ZERO) + (q or ZERO)
    return out


def preview_to_dict(p: TaxPreview) -> dict[str, Any]:
    """The ``tax`` object of ``rebalance plan --format json`` (Decimals kept; echo_json writes them exactly)."""
    return {
        "jurisdiction": p.jurisdiction, "currency": p.currency, "year": p.year, "method": p.method,
        "realised_gain": p.realised_gain, "estimated_tax": p.estimated_tax, "estimate": True,
        "marginal_rate": p.rate, "rate_is_default": p.rate_is_default,
        "taxable_gain_before": p.taxable_before, "taxable_gain_after": p.taxable_after,
        "orders": [{"asset": leg.asset, "side": "sell", "quantity": leg.quantity, "proceeds": leg.proceeds,
                    "cost": leg.cost, "gain": leg.gain, "deferrable": leg.deferrable,
                    "lots": [{"acquired": lot.acquired.isoformat() if lot.acquired else None, "quantity": lot.quantity,
                              "cost": lot.cost, "gain": lot.gain, "term": lot.term, "rule": lot.rule,
                              "lot": lot.lot_ref} for lot in leg.lots]} for leg in p.legs],
        "budget_factor": p.budget_factor,
        "allowance": None if p.allowance is None else {
            "amount": p.allowance.allowance, "before": p.allowance.before, "after": p.allowance.after,
            "headroom": p.allowance.headroom, "warning": p.allowance.warning},
        "advice": list(p.advice), "notes": list(p.notes), "error": p.error,
    }


def preview_from_ledger(ledger: Any, plan: Plan, basket: Basket, now: datetime, *, fee_rate: Decimal = ZERO,
                        fx: Mapping[str, Decimal] | None = None) -> TaxPreview | None:
    """:func:`preview` over a ledger's events and rate store (``rebalance plan``, and the plan record a
    run writes to the audit trail). None when the basket has no ``[tax]`` table."""
    if basket.tax is None:
        return None
    from taxreport.gains import load_events
    from taxreport.prices.store import load_table

    return preview(load_events(ledger), load_table(ledger), plan, basket, basket.tax, now, fee_rate=fee_rate, fx=fx)


def liquidation_preview(run: Any, grid: Any, code: str, *, rows: Sequence[tuple], markets: Mapping[str, Any],
                        method: str | None = None, fee_rate: Decimal | None = None,
                        fx: Mapping[str, Decimal] | None = None, bar: int | None = None) -> TaxPreview:
    """A backtest run's tax if everything it holds were sold at the last close (or at the close of
    ``bar``: what it held then): the :func:`~taxreport.rebalance.planner.plan_liquidation` of its holdings
    (what ``basket stop`` would sell), previewed like any plan (:func:`preview`) over the run's own trades
    up to then. So buy-and-hold is not flattered by gains it never realised."""
    from taxreport.rebalance.backtest_tax import run_events
    from taxreport.rebalance.planner import plan_liquidation

    basket = run.strategy.basket
    last = len(grid.times) - 1 if bar is None else bar
    _, qty, cash = [p for p in run.positions if p[0] <= last][-1]
    assets = [s.split("/")[0] for s in grid.symbols]
    balances = dict(zip(assets, qty))
    balances[basket.quote] = balances.get(basket.quote, ZERO) + cash
    plan = plan_liquidation(basket, balances, dict(zip(assets, grid.closes[last])), markets, fee_rate=fee_rate)
    settings = TaxSettings(code, method=method)
    return preview(run_events(run, grid), rows, plan, basket, settings, grid.close_time(last),
                   fee_rate=fee_rate or ZERO, fx=fx)
