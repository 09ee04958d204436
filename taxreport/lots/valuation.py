"""Valuation: ledger legs -> :mod:`taxreport.lots.types` movements in the tax currency.

Follows the fee attribution of :mod:`taxreport.model.legs` (read its docstring), the only place a
trade, fee or transfer is given meaning; this module only puts prices on its legs:

* ``ACQUIRE``  -> :class:`Acquisition`, cost = value(consideration) + value(fee)
* ``DISPOSE``  -> :class:`Disposal`, proceeds = value(consideration), fee = value(fee)
  (``Disposal.net_proceeds`` = proceeds - fee)
* ``MOVE_OUT`` of a transfer -> one :class:`Move` between the two accounts (its ``MOVE_IN`` twin is
  the same move and is skipped); ``MOVE_OUT`` of a withdrawal to an own wallet -> :class:`Move` to the
  outside pool (``to_account=None``)
* ``MOVE_IN`` of a deposit with a cost -> :class:`Acquisition` (role ``deposit``), valued at its
  ``acquired_at`` (else the deposit time) and keeping ``acquired_at``; without a cost -> :class:`Move`
  from the outside pool (``from_account=None``): it draws the lots withdrawn earlier.
* A consideration given as ``None`` is the market value of the leg's own asset at the leg's time.

**Crypto-to-crypto swaps** (legs carrying a :class:`~taxreport.model.legs.Swap`) are valued by the
country's :class:`SwapCost`, whichever token the pair lists as quote. In the formulas above the gross
amount exchanged is replaced by:

* disposal proceeds: the market value of what is **received**, in every country -
  US: IRS virtual-currency FAQ, "How do I calculate my gain or loss when I exchange my virtual
  currency for other property?" ("Your gain or loss is the difference between the fair market
  value of the property you received and your adjusted basis in the virtual currency exchanged");
  UK: HMRC Cryptoassets Manual CRYPTO22257 (Elina's swaps: proceeds are the value of the tokens
  received); DE: § 23 Abs. 3 Satz 1 EStG, Veräußerungspreis beim Tausch = gemeiner Wert der
  empfangenen Gegenleistung; AU: ATO "Crypto to crypto exchange or swap" ("market value of new asset
  determines old asset's disposal proceeds", ITAA 1997 s116-20); CA: CRA Guide for cryptoasset
  users (barter: "convert the value of cryptocurrency received into Canadian dollars").
* acquisition cost: ``SwapCost.RECEIVED`` - the market value of what is received (US: IRS FAQ, "How do I determine my basis in property I've received in exchange for virtual
  currency?": "your basis in that property is its fair market value at the time of the exchange");
  ``SwapCost.GIVEN`` - the market value of what is given (UK: TCGA92 s38(1)(a) "the amount or value
  of the consideration ... given ... wholly and exclusively for the acquisition", as CRYPTO22257
  applies it; DE: Tauschgrundsätze, § 6 Abs. 6 Satz 1 EStG, gemeiner Wert des hingegebenen
  Wirtschaftsguts; AU: ITAA 1997 s110-25(2), "the market value of any other property you gave";
  CA: cost = the value of the consideration given, the barter rule of IT-490).

Where no rate is stored for the side the rule names, the other side's market value is used (the two
sides of an arm's-length exchange are presumed equal in value; the ATO states this fallback for the
received side) and the report's notes count such legs (:class:`SwapStats`); where neither side has a
rate, both gaps are reported as missing rates.

Any fee part of a leg's consideration (units of the quote paid or received as a fee) keeps its own
market value, as for every other trade.

**Fiat legs are skipped**: fiat (:data:`taxreport.model.assets.FIAT`) has no lots. A foreign fiat
amount is only *valued* (as any currency, via the rate store) where it is the counter side of a crypto
leg, e.g. a BTC/EUR sale valued in USD. Currency gains on holding foreign fiat are out of scope.

:func:`value_events` is the entry point for ledger events: it applies reversals and values the legs
of each event (``event_legs``) with :func:`value_legs`.

Values are computed through a :class:`taxreport.prices.rates.Pricer`, which collects every missing
rate; call ``pricer.raise_if_missing()`` before using the movements.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Iterable

from taxreport.lots.types import Acquisition, Move, Movement, make_acquisition, make_disposal, make_move
from taxreport.model.assets import FIAT
from taxreport.model.events import Event, Reversal, Side, Trade
from taxreport.model.legs import Leg, LegKind, _require_positive, effective_events, event_legs
from taxreport.prices.rates import UTC, Pricer, RateSpan

ZERO = Decimal(0)
ACQUIRE, DISPOSE, MOVE_OUT, MOVE_IN = LegKind.ACQUIRE, LegKind.DISPOSE, LegKind.MOVE_OUT, LegKind.MOVE_IN


class SwapCost(enum.StrEnum):
    """What a crypto-to-crypto acquisition costs (see the module docstring for each country's source)."""

    RECEIVED = "received"  # market value of what is received (US)
    GIVEN = "given"  # market value of what is given up (UK, DE, AU, CA)


@dataclass
class SwapStats:
    """How the crypto-to-crypto swaps of one valuation were valued (for the report's notes)."""

    by_rule: int = 0
    by_fallback: int = 0  # legs valued by the other side: no rate for the side the rule names
    fallback_times: list[datetime] = field(default_factory=list)  # the moment of each such leg (few: rates missing)

    def notes(self, within: tuple[datetime, datetime] | None = None) -> list[str]:
        """The note on the legs valued by the other side; ``within``: a tax year's UTC ``[start, end)``, whose own
        legs it counts (a year's computation values every event from the ledger's first to its cutoff)."""
        count = self.by_fallback if within is None else sum(within[0] <= t < within[1] for t in self.fallback_times)
        if not count:
            return []
        return [f"{count} crypto-to-crypto swap leg(s) valued at the market value of the other side "
                "of the swap because no rate was stored for the side the rule names (an ASSUMPTION that the "
                "two sides of an arm's-length exchange are equal in value: of the five countries only the ATO "
                "states it, 'Crypto to crypto exchange or swap'); import that asset's rates to value it directly"]


def _consideration(leg: Leg, pricer: Pricer, swap_cost: SwapCost, stats: SwapStats) -> Decimal:
    """The value of the leg's consideration (before its fee)."""
    va, vq, t = leg.value_asset, leg.value_quantity, leg.time
    if va is None:
        return pricer.value(leg.asset, leg.quantity if vq is None else vq, t)
    assert vq is not None
    swap = leg.swap
    if swap is None:
        return pricer.value(va, vq, t)
    received = (swap.received_asset, swap.received_quantity)
    given = (swap.given_asset, swap.given_quantity)
    first, other = (received, given) if leg.kind is DISPOSE or swap_cost is SwapCost.RECEIVED else (given, received)
    exchanged = pricer.known_value(first[0], first[1], t)
    if exchanged is None:
        exchanged = pricer.known_value(other[0], other[1], t)
        if exchanged is None:  # neither side can be valued: name both gaps
            exchanged = pricer.value(first[0], first[1], t) + pricer.value(other[0], other[1], t)
        else:
            stats.by_fallback += 1
            stats.fallback_times.append(t)
    else:
        stats.by_rule += 1
    rest = vq - swap.gross_of(va)  # fee units of the quote inside the consideration (+ or -)
    return exchanged + pricer.value(va, rest, t) if rest else exchanged


def value_legs(legs: Iterable[Leg], pricer: Pricer, swap_cost: SwapCost = SwapCost.RECEIVED,
               stats: SwapStats | None = None) -> list[Movement]:
    """The valued movements of ``legs`` (ledger order kept), fiat legs skipped.

    An amount already in the pricer's currency (the consideration of a leg that is not a swap, or a fee) is
    taken as it is, without a call to the pricer: exactly what :meth:`Pricer.value` returns for it (the amount,
    or ``Decimal(0)`` for a zero amount; ``tests/test_valuation_fast.py`` checks both ways agree)."""
    stats = stats if stats is not None else SwapStats()
    out: list[Movement] = []
    append = out.append
    value = pricer.value
    currency = pricer.currency
    fiat = FIAT
    for leg in legs:
        asset = leg.asset
        if asset in fiat:
            continue
        kind = leg.kind
        if kind is DISPOSE:
            t = leg.time
            vq = leg.value_quantity
            if leg.value_asset == currency and leg.swap is None and vq is not None:
                gross = vq if vq else ZERO
            else:
                gross = _consideration(leg, pricer, swap_cost, stats)
            fa = leg.fee_asset
            if not fa:
                fee = ZERO
            elif fa == currency:
                fee = leg.fee_quantity or ZERO
            else:
                fee = value(fa, leg.fee_quantity, t)
            append(make_disposal(t, leg.account, asset, leg.quantity, gross, fee, leg.event_key, leg.index, leg.role))
        elif kind is ACQUIRE:
            t = leg.time
            vq = leg.value_quantity
            if leg.value_asset == currency and leg.swap is None and vq is not None:
                cost = vq if vq else ZERO
            else:
                cost = _consideration(leg, pricer, swap_cost, stats)
            fa = leg.fee_asset
            if fa:
                cost += (leg.fee_quantity or ZERO) if fa == currency else value(fa, leg.fee_quantity, t)
            append(make_acquisition(t, leg.account, asset, leg.quantity, cost, leg.event_key, leg.index, leg.role,
                                    None))
        elif kind is MOVE_OUT:
            to = leg.counter_account if leg.role == "transfer" else None
            append(make_move(leg.time, asset, leg.quantity, leg.account, to, leg.event_key, leg.index))
        elif kind is MOVE_IN:
            if leg.role == "transfer":
                continue  # the MOVE_OUT twin already moved the lots
            t = leg.time
            if leg.value_quantity is not None and leg.value_asset is not None:
                at = leg.acquired_at or t
                cost = value(leg.value_asset, leg.value_quantity, at)
                append(Acquisition(t, leg.account, asset, leg.quantity, cost, leg.event_key, leg.index,
                                   "deposit", leg.acquired_at))
            else:
                append(Move(t, asset, leg.quantity, None, leg.account, leg.event_key, leg.index))
    return out


def value_event_list(events: Iterable[Event], pricer: Pricer, swap_cost: SwapCost = SwapCost.RECEIVED,
                     stats: SwapStats | None = None) -> list[Movement]:
    """``value_legs(chain.from_iterable(map(event_legs, events)), ...)`` (reversals **not** applied), with a fast
    path for the usual event, a trade of a token against fiat with its fee in one of the two (issue 14, round 3):
    its one crypto movement is built from the trade itself, without building its two legs
    (:func:`taxreport.model.legs._trade_legs`, whose fiat branch it follows line by line) and without valuing
    them one by one. The pricer is asked the same questions in the same order (the consideration, then the fee),
    a trade whose fee leaves nothing received raises the same error at the same point, and every other event goes
    through its legs (``tests/test_valuation_fused.py`` compares both ways on seeded random ledgers).

    A fast trade whose quote is not the pricer's currency (a USD trade reported in GBP) takes its rate from a
    :class:`~taxreport.prices.rates.RateSpan` (issue 14, round 6): the span of moments, on one UTC day, over which
    the pricer's resolution of that quote gives the same rate with the same side effects, opened by a real call
    to :meth:`Pricer.rate` (which records the route, the peg and any gap) and then replayed here, one count per
    question the pricer's one-entry cache would not have answered, the counts handed to the pricer at the end
    (``tests/test_valuation_spans.py`` compares it with the code it replaces, kept verbatim there)."""
    stats = stats if stats is not None else SwapStats()
    out: list[Movement] = []
    append = out.append
    currency = pricer.currency
    # module names and an enum member read once (``Side.BUY`` is a lookup on the enum's class: ~0.2 s per million)
    fiat, zero, buy_side, trade_type, utc = FIAT, ZERO, Side.BUY, Trade, UTC
    acquisition, disposal = make_acquisition, make_disposal
    t: Trade
    pending: list[Leg] = []  # legs of the events in between, valued in order before the next fast trade
    spans = pricer.spans()  # the rate of each quote over a span of moments, as the pricer gives it
    span: RateSpan | None = None  # the quote's span last used (a trade's quote is nearly always the last one)
    last_asset, last_moment, last_rate = spans.last()  # the pricer's one-entry cache, kept here until the end
    try:
        for e in events:
            if type(e) is trade_type:
                t = e
                base, quote, fee, fa = t.base, t.quote, t.fee, t.fee_asset
                fast = quote in fiat and base not in fiat and (fee == zero or fa == base or fa == quote)
            else:
                fast = False
            if not fast:  # a swap, a fiat base, a fee in a third asset, any other event: through its legs
                try:
                    pending.extend(event_legs(e))
                except BaseException:  # as the lazy chain: the legs before it are valued before its error is raised
                    if pending:
                        spans.hand_over(last_asset, last_moment, last_rate)
                        last_asset = None  # the pricer holds its cache (whatever value_legs raises)
                        value_legs(pending, pricer, swap_cost, stats)
                        last_asset, last_moment, last_rate = spans.last()
                    raise
                continue
            if pending:
                spans.hand_over(last_asset, last_moment, last_rate)
                last_asset = None
                out.extend(value_legs(pending, pricer, swap_cost, stats))
                last_asset, last_moment, last_rate = spans.last()
                pending = []
            k, tm, qty = t.natural_key, t.time, t.quantity
            gross_quote = qty * t.price
            own_base = fee if fa == base else zero
            own_quote = fee if fa == quote else zero
            buy = t.side is buy_side
            if buy:  # the checks of _trade_legs, before anything is valued
                if own_quote:
                    gross_quote + own_quote  # noqa: B018 - the quote leg's quantity, computed as _trade_legs does
                units = qty - own_base
                if units <= zero:
                    _require_positive(units, t, "the base received after the fee")
            else:
                units = qty + own_base
                quote_in = gross_quote - own_quote
                if quote_in <= zero:
                    _require_positive(quote_in, t, "the quote received after the fee")
            # the crypto leg's consideration (quote, gross_quote) and its fee (quote, own_quote), valued as
            # value_legs values them: an amount in the currency as it is, anything else at the quote's rate
            if quote == currency:
                worth = gross_quote if gross_quote else zero
                if buy:
                    if own_quote:
                        worth += own_quote
                    append(acquisition(tm, t.account, base, units, worth, k, 1, "trade", None))
                else:
                    append(disposal(tm, t.account, base, units, worth, own_quote if own_quote else zero, k, 0, "trade"))
                continue
            # Pricer.value(quote, amount, tm) for each non-zero amount: one Pricer.rate(quote, tm), whose second
            # question (the fee) its one-entry cache answers without a side effect
            if gross_quote or own_quote:
                if quote == last_asset and tm == last_moment:
                    rate = last_rate
                else:
                    if span is None or span.asset != quote or tm.tzinfo is not utc \
                            or not (span.lo <= tm < span.hi):
                        span = spans.get(quote, tm)  # a span of this quote holding tm, else None
                    if span is not None:
                        span.count += 1
                        rate = span.rate
                    else:  # no span holds tm: the pricer's own resolution (which opens one when it can)
                        spans.hand_over(last_asset, last_moment, last_rate)
                        last_asset = None
                        rate = pricer.rate(quote, tm)
                        span = spans.opened(quote, tm)
                    last_asset, last_moment, last_rate = quote, tm, rate
                if rate is None:
                    worth = fee_value = Decimal(0)
                else:
                    worth = gross_quote * rate if gross_quote else Decimal(0)
                    fee_value = own_quote * rate if own_quote else zero
            else:
                worth, fee_value = Decimal(0), zero
            if buy:
                if own_quote:
                    worth += fee_value
                append(acquisition(tm, t.account, base, units, worth, k, 1, "trade", None))
            else:
                append(disposal(tm, t.account, base, units, worth, fee_value, k, 0, "trade"))
        if pending:
            spans.hand_over(last_asset, last_moment, last_rate)
            last_asset = None
            out.extend(value_legs(pending, pricer, swap_cost, stats))
            last_asset, last_moment, last_rate = spans.last()
    finally:
        spans.hand_over(last_asset, last_moment, last_rate)
        spans.close()
    return out


def value_events(events: Iterable[Event], pricer: Pricer, *, until: datetime | None = None,
                 swap_cost: SwapCost = SwapCost.RECEIVED, stats: SwapStats | None = None) -> list[Movement]:
    """The valued movements of ``events`` (reversals applied; only events before ``until``)."""
    items = events if isinstance(events, list) else list(events)
    if any(type(e) is Reversal for e in items):
        items = effective_events(items)
    stats = stats if stats is not None else SwapStats()
    if until is not None:
        items = [e for e in items if e.time < until]
    return value_event_list(items, pricer, swap_cost, stats)
