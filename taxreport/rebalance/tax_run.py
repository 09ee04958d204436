"""The tax-aware step of a basket check (``rebalance run``, once or ``--loop``): the edges around the pure
:func:`taxreport.rebalance.tax_plan.tax_adjusted_plan` — read the ledger's events and rates, build the
planner callbacks from the check's balances and prices, log every policy decision, and attach the preview
and decisions to the plan so the executor records them in its ``rebalance.plan`` audit record.

Cost (issue #11: the per-check cost must not grow with the basket's age): the ledger's events and rates
are read once per ledger state and the year's summary before the plan once per (ledger state, moment)
through :class:`taxreport.ledger.derived.DerivedCache`, keyed by the chain head; a check previews its
candidate plans against that one summary (:class:`~taxreport.rebalance.tax_preview.PreviewContext`). In a new
process per check (cron), the engine state the previous check saved is resumed and only the events appended
since its chain head are read (:func:`check_inputs`, :mod:`taxreport.rebalance.tax_resume`).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any, Callable, Sequence

from taxreport.errors import MissingDataError, TaxreportError
from taxreport.rebalance.tax_plan import TaxedPlan, tax_adjusted_plan
from taxreport.rebalance.types import Basket, Plan

ZERO = Decimal(0)


# ledger URL -> (head seq, head hash, verified events up to it): a long-running bot (``--loop``) reads and
# verifies only the rows appended since its previous check
_VERIFIED: dict[str, tuple[int, str, list[Any]]] = {}


def verified_events(ledger: Any) -> list[Any]:
    """The ledger's events, the chain verified (as ``gains`` reads them), incrementally within a process:
    rows already verified by an earlier call are not read again; the rows appended since are verified
    from the last verified row's hash on (:func:`taxreport.ledger.chain.verify_rows`). A chain that does
    not continue (rows deleted, a head that went back) is read and verified whole, which names the bad row.
    A row edited in place behind the chain's back after it was read is what ``ledger verify`` finds."""
    from taxreport.gains import load_events

    url = str(ledger.url)
    cached = _VERIFIED.get(url)
    if cached is not None:
        seq, digest, events = cached
        appended = ledger.appended_since(seq, digest)
        if appended is not None:
            head_seq, head_hash, new = appended
            if new:
                events = events + new
                _VERIFIED[url] = (head_seq, head_hash, events)
            return list(events)
    events = load_events(ledger)  # whole: verified (raises naming the bad row)
    head_seq, head_hash = ledger.head()
    if len(events) == head_seq:  # nothing appended between the walk and the head read
        _VERIFIED[url] = (head_seq, head_hash, list(events))
    return events


def ledger_inputs(ledger: Any) -> tuple[list[Any], Any]:
    """The ledger's events (verified, :func:`verified_events`) and rate table (what ``gains`` reads)."""
    from taxreport.prices.store import load_table

    return verified_events(ledger), load_table(ledger)


def check_inputs(ledger: Any) -> tuple[Sequence[Any], Any, tuple[int, str] | None]:
    """A check's events, rates and the chain head the events end at (None: not known). In a process that
    has not read the ledger yet (cron ``rebalance run --if-due``), the events are those of the engine state
    saved by the previous check (:func:`taxreport.rebalance.tax_resume.chain_events`: only the events
    appended since its head are read, verified to continue the chain); otherwise :func:`verified_events`."""
    from taxreport.prices.store import load_table
    from taxreport.rebalance import tax_resume

    url = str(ledger.url)
    if url not in _VERIFIED:
        chain = tax_resume.chain_events(ledger, lambda: verified_events(ledger))
        if chain is not None:
            return chain, load_table(ledger), chain.head
    events = verified_events(ledger)
    cached = _VERIFIED.get(url)
    head = (cached[0], cached[1]) if cached is not None and len(cached[2]) == len(events) else None
    return events, load_table(ledger), head


def cached_context(ledger: Any, events: Sequence[Any], rates: Any, plan: Plan, basket: Basket, now: Any, *,
                   fee_rate: Decimal, fx: Any) -> Any:
    """The check's :class:`~taxreport.rebalance.tax_preview.PreviewContext`, the year's summary before the
    plan read from :class:`taxreport.ledger.derived.DerivedCache` when the ledger has not changed since it
    was computed (``rebalance plan`` then ``rebalance run``; a check the policies left without trades)."""
    from taxreport.ledger.derived import DerivedCache
    from taxreport.rebalance.tax_preview import prepare

    assert basket.tax is not None
    cache = DerivedCache(ledger)
    return prepare(events, rates, plan, basket, basket.tax, now, fee_rate=fee_rate, fx=fx,
                   cache=lambda key, compute: cache.get_or_compute("tax-preview-before", key, compute),
                   resume_store=str(ledger.url))


def preview_fee(fee_rate: Decimal | None, markets: Any, basket: Basket) -> Decimal:
    """The sell fee rate the tax preview deducts from proceeds: the one given (``--fee-rate``), else the
    highest taker fee among the members' markets (what the planner charges when none is given)."""
    if fee_rate is not None:
        return fee_rate
    fees = [markets[f"{a}/{basket.quote}"].taker_fee for a in basket.weights
            if a != basket.quote and f"{a}/{basket.quote}" in markets]
    return max([f for f in fees if f is not None] or [ZERO])


def _not_traded(basket: str, why: str) -> MissingDataError:
    """The check trades nothing; the daemon logs it and retries with its backoff, a single run exits non-zero."""
    return MissingDataError(f"basket {basket}: its tax policies cannot be applied ({why}); nothing was traded. "
                            "Record the account's history in the ledger (import, or --fx for a non-USD country), "
                            "or remove the basket's [tax] table to trade without tax policies")


def adjust_check(engine: Any, view: Any, plan: Plan, *, replan: Callable[[Basket], Plan],
                 log: Callable[[Any], None] | None = None) -> Plan:
    """The check's plan after the basket's tax policies, with ``plan.tax`` set (preview + decisions) for
    the audit trail; every decision is logged (a warning for warnings and refusals)."""
    from taxreport.rebalance.planner import order_leg
    from taxreport.rebalance.runner import LogLine

    b = engine.basket
    ex = engine.exchange
    basket = replace(b, account=engine.account)
    events, rates, head = check_inputs(engine.journal.ledger)

    def make_leg(asset: str, side: str, quantity: Decimal) -> Any:
        return order_leg(b, engine.markets, view.mids, asset, side, quantity, tickers=view.tickers,
                         amount_to_precision=ex.amount_to_precision, price_to_precision=ex.price_to_precision)

    assert b.tax is not None
    fx, fee = engine.tax_fx, preview_fee(None, engine.markets, b)
    ledger = engine.journal.ledger
    try:
        ctx = cached_context(ledger, events, rates, plan, basket, engine.clock(), fee_rate=fee, fx=fx)
        if head is not None and ctx.engine is not None:  # for the next check, in whatever process it runs
            from taxreport.rebalance import tax_resume

            if b.tax.choose_lots:  # and for a sale identified outside a check (basket stop)
                from taxreport.rebalance.lot_identification import keep_identification_state

                keep_identification_state(events, rates, account=basket.account, jurisdiction=b.tax.jurisdiction,
                                          quote=b.quote, now=engine.clock(), store=str(ledger.url))
            tax_resume.save_states(str(ledger.url), head, events)
        taxed: TaxedPlan = tax_adjusted_plan(events, rates, plan, basket, engine.clock(), replan=replan,
                                             make_leg=make_leg, fx=fx, fee_rate=fee, context=ctx)
    except TaxreportError as exc:
        raise _not_traded(b.name, str(exc).splitlines()[0]) from None
    blocked = [d for d in taxed.decisions if d.blocks_run]
    if blocked and any(o.side == "sell" for o in plan.orders):  # a sale the policies could not weigh: a
        # tax-aware basket never trades it blind (the user asked for these policies); buys realise nothing
        error = taxed.preview.error if taxed.preview is not None else None
        raise _not_traded(b.name, "; ".join(f"no tax preview: {error}" if d.policy == "preview" and error
                                            else f"{d.policy.replace('_', '-')}: {d.reason}" for d in blocked))
    if b.tax.choose_lots:  # this check's sales are identified from the lots the preview saw (no re-read)
        from taxreport.rebalance.lot_identification import fill_identifier

        engine.journal.lot_identifier = fill_identifier(ledger, basket, context=ctx)
    if log is not None:
        now = engine.clock()
        for d in taxed.decisions:
            level = "warning" if d.action in ("warned", "refused", "not_applied") else "info"
            log(LogLine(now, level, "tax", f"{b.name}: tax policy {d.text()}", {"basket": b.name, **d.to_dict()}))
    return replace(taxed.plan, tax=taxed.record())
