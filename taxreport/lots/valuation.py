"""Valuation: ledger legs -> :mod:`taxreport.lots.types` movements in the tax currency.

Follows the fee attribution of :mod:`taxreport.model.legs` (read its docstring):

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

**Fiat legs are skipped**: fiat (:data:`taxreport.model.assets.FIAT`) has no lots. A foreign fiat
amount is only *valued* (as any currency, via the rate store) where it is the counter side of a crypto
leg, e.g. a BTC/EUR sale valued in USD. Currency gains on holding foreign fiat are out of scope.

:func:`value_events` is the entry point for ledger events: it applies reversals, and values trades
through :func:`_trade_movements`, a fast path that gives exactly what ``value_legs(event_legs(trade))``
gives without building the legs (tests/test_lots_valuation.py checks the equivalence on random trades).

Values are computed through a :class:`taxreport.prices.rates.Pricer`, which collects every missing
rate; call ``pricer.raise_if_missing()`` before using the movements.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Iterable

from taxreport.lots.types import Acquisition, Disposal, Move, Movement
from taxreport.model.assets import FIAT
from taxreport.model.events import Event, Reversal, Side, Trade
from taxreport.model.legs import Leg, LegKind, effective_events, event_legs
from taxreport.prices.rates import Pricer

ZERO = Decimal(0)
ACQUIRE, DISPOSE, MOVE_OUT, MOVE_IN = LegKind.ACQUIRE, LegKind.DISPOSE, LegKind.MOVE_OUT, LegKind.MOVE_IN


def value_legs(legs: Iterable[Leg], pricer: Pricer) -> list[Movement]:
    """The valued movements of ``legs`` (ledger order kept), fiat legs skipped."""
    out: list[Movement] = []
    append = out.append
    value = pricer.value
    fiat = FIAT
    for leg in legs:
        asset = leg.asset
        if asset in fiat:
            continue
        kind = leg.kind
        t = leg.time
        if kind is DISPOSE:
            va = leg.value_asset
            gross = value(asset if va is None else va,
                          leg.quantity if leg.value_quantity is None else leg.value_quantity, t)
            fee = value(leg.fee_asset, leg.fee_quantity, t) if leg.fee_asset else ZERO
            append(Disposal(t, leg.account, asset, leg.quantity, gross, fee, leg.event_key, leg.index, leg.role))
        elif kind is ACQUIRE:
            va = leg.value_asset
            cost = value(asset if va is None else va,
                         leg.quantity if leg.value_quantity is None else leg.value_quantity, t)
            if leg.fee_asset:
                cost += value(leg.fee_asset, leg.fee_quantity, t)
            append(Acquisition(t, leg.account, asset, leg.quantity, cost, leg.event_key, leg.index, leg.role))
        elif kind is MOVE_OUT:
            to = leg.counter_account if leg.role == "transfer" else None
            append(Move(t, asset, leg.quantity, leg.account, to, leg.event_key, leg.index))
        elif kind is MOVE_IN:
            if leg.role == "transfer":
                continue  # the MOVE_OUT twin already moved the lots
            if leg.value_quantity is not None and leg.value_asset is not None:
                at = leg.acquired_at or t
                cost = value(leg.value_asset, leg.value_quantity, at)
                append(Acquisition(t, leg.account, asset, leg.quantity, cost, leg.event_key, leg.index,
                                   "deposit", leg.acquired_at))
            else:
                append(Move(t, asset, leg.quantity, None, leg.account, leg.event_key, leg.index))
    return out


def value_events(events: Iterable[Event], pricer: Pricer, *, until: datetime | None = None) -> list[Movement]:
    """The valued movements of ``events`` (reversals applied; only events before ``until``)."""
    items = events if isinstance(events, list) else list(events)
    if any(type(e) is Reversal for e in items):
        items = effective_events(items)
    out: list[Movement] = []
    extend = out.extend
    for event in items:
        if until is not None and event.time >= until:
            continue
        if type(event) is Trade:
            extend(_trade_movements(event, pricer))
        else:
            extend(value_legs(event_legs(event), pricer))
    return out


def _trade_movements(t: Trade, pricer: Pricer) -> list[Movement]:
    """Same result as ``value_legs(event_legs(t), pricer)`` (the fee table of
    :mod:`taxreport.model.legs`), computed directly."""
    base, quote, qty, fee, fa = t.base, t.quote, t.quantity, t.fee, t.fee_asset
    if base in FIAT and quote not in FIAT:
        return value_legs(event_legs(t), pricer)  # rare fiat-base pairs (USD/USDT): the model's legs
    gross = qty * t.price
    third = fee != 0 and fa != base and fa != quote
    base_fee = fee if (fa == quote or third) else ZERO
    value = pricer.value
    time, account = t.time, t.account
    key = t.natural_key
    out: list[Movement] = []
    if t.side is Side.BUY:
        base_in = qty - (fee if fa == base else ZERO)
        if base_in <= 0:
            return value_legs(event_legs(t), pricer)  # raises the model's error
        if quote not in FIAT:
            quote_out = gross + (fee if fa == quote else ZERO)
            out.append(Disposal(time, account, quote, quote_out, value(quote, quote_out, time), ZERO, key, 0, "trade"))
        if base not in FIAT:
            cost = value(quote, gross, time)
            if base_fee:
                cost += value(fa, base_fee, time)
            out.append(Acquisition(time, account, base, base_in, cost, key, 1, "trade"))
    else:
        quote_in = gross - (fee if fa == quote else ZERO)
        if quote_in <= 0:
            return value_legs(event_legs(t), pricer)
        if base not in FIAT:
            base_out = qty + (fee if fa == base else ZERO)
            out.append(Disposal(time, account, base, base_out, value(quote, gross, time),
                                value(fa, base_fee, time) if base_fee else ZERO, key, 0, "trade"))
        if quote not in FIAT:
            out.append(Acquisition(time, account, quote, quote_in, value(quote, quote_in, time), key, 1, "trade"))
    if third and fa not in FIAT:
        if fee > 0:
            out.append(Disposal(time, account, fa, fee, value(fa, fee, time), ZERO, key, 2, "fee"))
        else:
            out.append(Acquisition(time, account, fa, -fee, value(fa, -fee, time), key, 2, "rebate"))
    return out
