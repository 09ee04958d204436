"""Lot identification recorded AT THE TIME OF SALE, in the ledger, so ``gains --method specific`` uses
exactly those lots without a ``--lots`` file.

Why: US specific identification only holds if the units are identified no later than the sale
(Treas. Reg. §1.1012-1(j)(3) as amended by T.D. 10000: "identifies ... no later than the date and time
of the sale"; IRS virtual-currency FAQ Q39-Q40: "you may choose which units ... are deemed sold ... if
you can specifically identify which unit ... is involved in the transaction"); otherwise FIFO (Q41).
AU allows choosing the units sold where records identify them (ATO, crypto "Keeping crypto records").

The record is an ordinary audit :class:`~taxreport.model.events.Record` (it moves no money; hash-chained
with everything else) of type :data:`RECORD_TYPE`, written next to the sale::

    data = {"disposal": "trade:okx:okx:main/123#0",          # the sale's disposal ref (as --lots names it)
            "lots": [{"lot": "trade:okx:okx:main/77#0", "quantity": "0.01"}, …],
            "policy": "tax-minimising", "jurisdiction": "us"}

:func:`identify_lots` picks the lots for a sale through the real engine (its open lots just before the
sale, :func:`taxreport.rebalance.tax_policy.tax_minimising_selection`); :func:`identification_records`
makes the records; :func:`recorded_selections` turns a ledger's records back into the ``selections``
the engine's ``specific`` method reads (:mod:`taxreport.lots.selections` has the same shape). A later
``--lots`` file row for the same disposal overrides the record (and the report says so).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Sequence

from taxreport.errors import InputError, TaxreportError
from taxreport.model.events import Event, Record, Trade
from taxreport.prices.rates import RateTable

RECORD_TYPE = "lots.identified"
Selections = dict[str, list[tuple[str, Decimal | None]]]


def identify_lots(events: Sequence[Event], rates: RateTable | Sequence[tuple], sells: Sequence[Trade], *,
                  jurisdiction: str, quote: str, now: datetime | None = None,
                  resume_store: str | None = None) -> Selections:
    """The tax-minimising lots for each of ``sells`` (trades not yet in ``events``), keyed by the
    sale's disposal ref. Raises the engine's error when a sale has no lots to identify. ``resume_store``: the
    engine resumes from the state saved there at an earlier call (:mod:`taxreport.rebalance.tax_resume`: the
    same lots, in a time that does not grow with the ledger)."""
    from taxreport.gains import compute_request
    from taxreport.jurisdictions.base import get
    from taxreport.rebalance.tax_policy import CHOOSE_LOTS
    from taxreport.rebalance.tax_preview import ledger_at, minimising_selections, rows_of

    j = get(jurisdiction)
    if j.code not in CHOOSE_LOTS:
        raise InputError(f"{j.name} does not let you choose lots", field="tax.choose_lots")
    if not sells:
        return {}
    moment = now or max(t.time for t in sells)
    base_rows = rows_of(rates) if isinstance(rates, RateTable) else list(rates)
    table = RateTable.from_rows(base_rows + [(t.base, t.quote, t.time, t.price, "fill price") for t in sells])
    request = _request(j.code, quote, moment, _simulated(events, sells, resume_store))
    resumed = None
    if resume_store is not None:
        from taxreport.rebalance import tax_resume

        listed = events if isinstance(events, (list, tax_resume.ChainEvents)) else list(events)
        resumed = tax_resume.resume(listed, base_rows, table, request, moment, store=resume_store,
                                    extras_from=min(t.time for t in sells))
    if resumed is not None:  # every event is at or before the moment
        before, after = resumed.summary(), resumed.summary(list(sells))
    else:
        past: list[Event] = ledger_at(list(events), moment)
        before = compute_request(past, table, request)
        after = compute_request(past + list(sells), table, request)
    keys = {t.natural_key: _Sold(t.base) for t in sells}
    accounts = {t.account for t in sells}
    if len(accounts) != 1:
        raise InputError("identify the lots of one account's sales at a time", field="sells")
    return minimising_selections(before, after, keys, accounts.pop(), moment, j.timezone)


class _Sold:
    """What :func:`taxreport.rebalance.tax_preview.minimising_selections` reads of a sale: its asset."""

    def __init__(self, asset: str) -> None:
        self.asset = asset


def identification_records(selections: Mapping[str, list[tuple[str, Decimal | None]]], sells: Sequence[Trade], *,
                           jurisdiction: str, source: str, basket: str | None = None) -> list[Record]:
    """One :data:`RECORD_TYPE` record per identified sale, timed AT the sale (same time, same account)."""
    by_key = {t.natural_key: t for t in sells}
    out = []
    for ref, lots in selections.items():
        trade = by_key.get(ref.split("#")[0])
        if trade is None:
            raise InputError(f"{ref} is not one of these sales", field="selections")
        out.append(Record(time=trade.time, source=source, external_id=f"lots:{ref}", record_type=RECORD_TYPE,
                          account=trade.account, order_id=trade.order_id,
                          data={"disposal": ref, "jurisdiction": jurisdiction, "policy": "tax-minimising",
                                **({"basket": basket} if basket else {}),
                                "lots": [{"lot": lot, "quantity": str(q) if q is not None else None}
                                         for lot, q in lots]}))
    return out


def _request(code: str, quote: str, moment: datetime, include_simulated: bool) -> Any:
    """The engine request an identification at ``moment`` runs."""
    from taxreport.gains import GainsRequest
    from taxreport.model.assets import STABLECOINS
    from taxreport.rebalance.tax_preview import year_of

    peg = {quote: "USD"} if quote in STABLECOINS and quote != "EURC" else {}
    # method specific: the lots identified at earlier sales (recorded) are gone; unnamed sales are FIFO (FAQ Q41)
    return GainsRequest(jurisdiction=code, year=year_of(code, moment), method="specific",
                        via=tuple(dict.fromkeys(["USD", quote])), peg=peg, rate_lookback_days=7,
                        include_simulated=include_simulated)


def keep_identification_state(events: Sequence[Event], rates: RateTable | Sequence[tuple], *, account: str,
                              jurisdiction: str, quote: str, now: datetime, store: str) -> None:
    """Bring the engine state an identification at ``now`` resumes from (:func:`identify_lots`) up to
    ``events``, so that it is saved with the check's (:func:`taxreport.rebalance.tax_resume.save_states`): a sale
    identified later in a new process (``basket stop``, a fill recovered after a crash) then reads only the events
    since. Errors are left to the identification itself."""
    from taxreport.jurisdictions.base import get
    from taxreport.rebalance import tax_resume
    from taxreport.rebalance.tax_preview import rows_of

    base_rows = rows_of(rates) if isinstance(rates, RateTable) else list(rates)
    request = _request(get(jurisdiction).code, quote, now, account in tax_resume.simulated_in(events, store=store))
    listed = events if isinstance(events, (list, tax_resume.ChainEvents)) else list(events)
    try:
        tax_resume.resume(listed, base_rows, RateTable.from_rows(base_rows), request, now, store=store)
    except TaxreportError:
        pass


def _simulated(events: Sequence[Event], sells: Sequence[Trade], store: str | None) -> bool:
    """Whether a sale's account is declared simulated (read on from the previous call under ``store``)."""
    from taxreport.rebalance.tax_preview import is_simulated

    if store is None:
        return any(is_simulated(events, t.account) for t in sells)
    from taxreport.rebalance import tax_resume

    declared = tax_resume.simulated_in(events, store=store)
    return any(t.account in declared for t in sells)


def recorded_selections(events: Iterable[Event], *, until: datetime | None = None) -> Selections:
    """The ledger's recorded identifications (reversed records dropped) as engine ``selections``; with
    ``until``, only those of sales before it (a tax year's computation does not read later sales)."""
    from taxreport.model.legs import effective_events, has_kind

    out: Selections = {}
    items = events if isinstance(events, list) else list(events)
    if not has_kind(items, Record):
        return out  # no record at all (a history of trades): nothing to walk
    for e in effective_events(items):
        if isinstance(e, Record) and e.record_type == RECORD_TYPE and (until is None or e.time < until):
            ref = str(e.data["disposal"])
            out[ref] = [(str(row["lot"]), Decimal(row["quantity"]) if row.get("quantity") is not None else None)
                        for row in e.data["lots"]]
    return out


CONTEXT_WINDOW = timedelta(minutes=30)  # a check's fills come within its fill timeouts of its preview


def identify_in_context(ctx: Any, trade: Trade, used: dict[str, Decimal]) -> Selections | None:
    """The tax-minimising lots of one sell fill from the lots the check's preview saw
    (:class:`taxreport.rebalance.tax_preview.PreviewContext`: the year before the plan, through the engine)
    less the units this check's earlier fills took (``used``, updated): no re-read of the ledger, so the
    identification's cost does not grow with its age. None when the context does not apply (another day,
    a fee paid in the coin sold, no rate to the tax currency): the caller then runs the engine."""
    from zoneinfo import ZoneInfo

    from taxreport.jurisdictions.base import get
    from taxreport.model.assets import STABLECOINS
    from taxreport.rebalance.tax_policy import HeldLot, tax_minimising_selection

    j = get(ctx.settings.jurisdiction)
    if (ctx.before is None or trade.fee_asset == trade.base
            or not ctx.now - CONTEXT_WINDOW <= trade.time <= ctx.now + CONTEXT_WINDOW
            or trade.account != ctx.basket.account):
        return None
    zone = ZoneInfo(j.timezone)
    if trade.time.astimezone(zone).date() != ctx.now.astimezone(zone).date():
        return None
    if j.currency == "USD" and trade.quote in STABLECOINS and trade.quote != "EURC":
        price = trade.price  # the quote is pegged to USD in the preview's request
    else:  # the sale's price in the tax currency, as the preview's engine values it (its rates and peg)
        from taxreport.gains import make_pricer

        rate = make_pricer(ctx.table, j.currency, ctx.request.engine_options()).rate(trade.quote, trade.time)
        if rate is None:
            return None
        price = trade.price * rate
    held = []
    for lot in ctx.held(trade.base):
        left = lot.quantity - used.get(str(lot.lot_ref), Decimal(0))
        if left > 0:
            held.append(HeldLot(lot.lot_ref, lot.acquired, left, lot.cost * left / lot.quantity))
    chosen = tax_minimising_selection(held, trade.quantity, price, trade.time.astimezone(zone).date())
    for ref, q in chosen:
        used[ref] = used.get(ref, Decimal(0)) + q
    return {f"{trade.natural_key}#0": [(ref, q) for ref, q in chosen]}


def fill_identifier(ledger: Any, basket: Any, *, context: Any = None) -> Callable[[Trade], list[Event]]:
    """For :attr:`taxreport.rebalance.journal.Journal.lot_identifier`: the identification records of one
    sell fill, from the ledger's events and rates as they are just before it (or, with the check's
    preview ``context``, from the lots it saw: :func:`identify_in_context`). If the engine cannot
    identify (no lots, a rate missing) the fill is still written, with a ``lots.unidentified`` record
    saying why: the sale then falls back to FIFO (IRS FAQ Q41), never to a guess."""
    from taxreport.rebalance.journal import RECORD_SOURCE

    used: dict[str, Decimal] = {}

    def identify(trade: Trade) -> list[Event]:
        try:
            chosen = identify_in_context(context, trade, used) if context is not None else None
            if chosen is None:
                from taxreport.rebalance import tax_resume
                from taxreport.rebalance.tax_run import check_inputs

                events, rates, head = check_inputs(ledger)  # a new process: the events since the saved state
                chosen = identify_lots(events, rates, [trade], jurisdiction=basket.tax.jurisdiction,
                                       quote=trade.quote, now=trade.time, resume_store=str(ledger.url))
                if head is not None:
                    tax_resume.save_states(str(ledger.url), head, events)
            return list(identification_records(chosen, [trade], jurisdiction=basket.tax.jurisdiction,
                                               source=RECORD_SOURCE, basket=basket.name))
        except TaxreportError as exc:
            why = " ".join(line.strip() for line in str(exc).splitlines()[:2])
            return [Record(time=trade.time, source=RECORD_SOURCE, external_id=f"lots-unidentified:{trade.natural_key}",
                           record_type="lots.unidentified", account=trade.account, order_id=trade.order_id,
                           data={"sale": trade.natural_key, "reason": why, "basket": basket.name})]

    return identify
