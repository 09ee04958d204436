"""The movements an event implies, derived by pure functions: what the tax engine consumes.

A trade BTC->USDT is a *disposal of BTC and an acquisition of USDT*: stablecoins are assets with
their own lots, not cash. Only fiat legs (USD, EUR, GBP…) carry no lots; they are still emitted so
balances add up, and the tax engine ignores them.

Each leg carries its **consideration** (``value_asset``/``value_quantity``: what was given or received
for it, before fees) and the **fee attributed to it** (``fee_asset``/``fee_quantity``). The tax engine
values both in the tax currency at the leg's time:

* ``ACQUIRE``: cost = value(consideration) + value(fee)   (acquisition fees add to cost)
* ``DISPOSE``: proceeds = value(consideration) - value(fee)   (disposal fees reduce proceeds)

Fees are attributed once, never twice:

===========================  =================================================================
fee paid in…                 effect
===========================  =================================================================
the asset received           the acquisition's quantity is net of the fee (cost unchanged, so the
                             fee is capitalised); no separate disposal (OKX spot buys)
the asset given up           the extra units are part of that disposal/acquisition consideration
a third asset (e.g. OKB)     a separate ``DISPOSE`` of the fee asset (role ``fee``) at market value,
                             and the same fee is an allowable cost of the trade leg
a negative fee (rebate)      the same arithmetic with the sign; a rebate in a third asset is an
                             ``ACQUIRE`` (role ``rebate``) at market value
===========================  =================================================================

**Crypto-to-crypto trades** (neither side fiat; stablecoins are crypto) also carry a :class:`Swap` on
their two trade legs: the gross amounts given and received, before fees, *orientation-free* (BTC/ETH
bought and ETH/BTC sold are the same swap). The country decides how the swap is valued
(:class:`taxreport.lots.valuation.SwapCost`): the disposal's proceeds are always the market value of
what is **received**; the acquisition's cost is the market value of what is received (US) or of what
is given (UK, DE, AU, CA). Where one side is fiat the fiat amount is the value of both legs.

**Fees on crypto-to-crypto trades** are attributed by what is given and received, never by which token
the pair lists as quote (BTC/ETH sold and ETH/BTC bought give the same legs, whatever asset pays the fee):

* a **sale of a token** (the usual case; both sides tokens, or both stablecoins): the fee is a cost of the
  disposal of the token given, as in a sale for fiat: a fee in the asset received lowers the units
  received and is the disposal's fee (the acquisition costs the value of the units received net);
  a fee in the asset given is part of what is given (the disposal's units include it, its proceeds are
  what is received); a fee in a third asset is the disposal's fee (and itself a disposal, as above);
* a **purchase of a token with a stablecoin** (USDT given, BTC received): the stablecoin is spent like
  money and the fee is a cost of the acquisition, as in a purchase for fiat (a fee in the token received
  lowers the units received, cost unchanged; a fee in the stablecoin is more stablecoin disposed of and
  is added to the cost; a third-asset fee is added to the cost).

Incidental costs of a disposal reduce its proceeds and those of an acquisition are part of its cost in
every country here (TCGA92 s38(1)(a),(c) and s38(2); IRS virtual-currency FAQ on basis and amount
realised; § 23 Abs. 3 Satz 1 EStG Werbungskosten / Anschaffungsnebenkosten; ITAA 1997 s110-25(3) and
s116-20; ITA s40(1)(a)(i) outlays and expenses): either place is lawful, the rule above only makes the
choice once, orientation-free (``tests/test_swap_fees.py``).

Transfers between own accounts are ``MOVE_OUT``/``MOVE_IN`` pairs: lots move with their dates and
cost. A ``value_quantity`` of ``None`` means "at market value of the leg's own asset".
"""

from __future__ import annotations

import enum
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, NamedTuple

from taxreport.errors import InputError
from taxreport.model.assets import FIAT, STABLECOINS
from taxreport.model.events import (
    AccountDeclaration,
    BasisSupplement,
    Deposit,
    Event,
    GiftIn,
    Income,
    Record,
    Reversal,
    Side,
    Trade,
    Transfer,
    TransferLink,
    Withdrawal,
)

ZERO = Decimal(0)


class LegKind(enum.StrEnum):
    ACQUIRE = "acquire"
    DISPOSE = "dispose"
    MOVE_OUT = "move_out"
    MOVE_IN = "move_in"


class Swap(NamedTuple):
    """The two sides of a crypto-to-crypto trade, gross of fees (the same whichever side is the quote)."""

    given_asset: str
    given_quantity: Decimal
    received_asset: str
    received_quantity: Decimal

    def gross_of(self, asset: str) -> Decimal:
        return self.given_quantity if asset == self.given_asset else self.received_quantity


class Leg(NamedTuple):
    """One movement an event implies (immutable; a named tuple because millions are built per report)."""

    kind: LegKind
    role: str  # trade | fee | rebate | deposit | withdrawal | income | transfer | spend | gift…
    time: datetime
    account: str
    asset: str
    quantity: Decimal  # always > 0
    value_asset: str | None  # consideration asset; None = market value of ``asset`` itself
    value_quantity: Decimal | None
    fee_asset: str | None
    fee_quantity: Decimal
    event_key: str
    index: int  # type: ignore[assignment]  # position of the leg within its event (shadows tuple.index)
    counter_account: str | None = None  # transfers: the other account
    acquired_at: datetime | None = None  # deposits with a known original acquisition time
    swap: Swap | None = None  # crypto-to-crypto trade legs (see the module docstring)
    # Trade legs: the fee paid in this leg's own asset, already inside ``quantity`` (added to what was given,
    # taken from what was received; negative for a rebate); 0 when the fee is elsewhere. Exports that show
    # amounts before fees (Koinly, CoinTracker: reports/txrows.py) read it; the tax engine does not need it.
    own_fee: Decimal = ZERO

    @property
    def sign(self) -> int:
        return 1 if self.kind in (LegKind.ACQUIRE, LegKind.MOVE_IN) else -1


def effective_events(events: Iterable[Event]) -> list[Event]:
    """Drop reversed events and the reversals themselves (order preserved). A new list, always."""
    items = events if isinstance(events, list) else list(events)
    if not has_kind(items, Reversal):
        return list(items)  # nothing reversed: no natural key needs computing
    reversed_keys = {e.target_key for e in items if isinstance(e, Reversal)}
    return [e for e in items if not isinstance(e, Reversal) and e.natural_key not in reversed_keys]


def kinds_in(events: Iterable[Event]) -> set[type]:
    """The classes of ``events``, collected at C speed (``set(map(type, ...))``): a history of trades is not
    walked in Python to find it holds no reversal, declaration or supplement."""
    return set(map(type, events))


def any_kind(kinds: Iterable[type], *classes: type) -> bool:
    """True if one of ``kinds`` (:func:`kinds_in`) is one of ``classes`` or a subclass of one."""
    return any(issubclass(present, classes) for present in kinds)


def has_kind(events: Iterable[Event], *classes: type) -> bool:
    """True if any of ``events`` is an instance of one of ``classes``."""
    return any_kind(kinds_in(events), *classes)


def legs_of(events: Iterable[Event]) -> Iterator[Leg]:
    """All legs of the given events (reversals applied), in event order."""
    for event in effective_events(events):
        yield from event_legs(event)


def event_legs(event: Event) -> list[Leg]:
    """The legs of one event (reversals are *not* applied here)."""
    make = _LEGS_OF_TYPE.get(type(event))
    if make is None:
        make = _LEGS_OF_TYPE[type(event)] = _legs_function(type(event))
    return make(event)


def _legs_function(cls: type) -> Callable[[Any], list[Leg]]:
    """The function giving the legs of events of class ``cls`` (a subclass takes its base's: a deposit read with
    a basis supplied later is a deposit)."""
    for base, make in _LEGS_BY_BASE:
        if issubclass(cls, base):
            return make
    raise TypeError(f"no legs defined for {cls.__name__}")


def _no_legs(_event: Event) -> list[Leg]:
    return []


def _deposit_legs(d: Deposit) -> list[Leg]:
    return [_leg(d.natural_key, d.time, 0, LegKind.MOVE_IN, "deposit", d.account, d.asset, d.quantity,
                 d.cost_currency, d.cost, acquired_at=d.acquired_at)]


def _income_legs(i: Income) -> list[Leg]:
    return [_leg(i.natural_key, i.time, 0, LegKind.ACQUIRE, "income", i.account, i.asset, i.quantity,
                 i.value_currency, i.value)]


_tuple_new = tuple.__new__
_DISPOSE, _ACQUIRE = LegKind.DISPOSE, LegKind.ACQUIRE


def _leg(key: str, time: datetime, index: int, kind: LegKind, role: str, account: str, asset: str,
         quantity: Decimal, value_asset: str | None, value_quantity: Decimal | None,
         fee_asset: str | None = None, fee_quantity: Decimal = ZERO, counter_account: str | None = None,
         acquired_at: datetime | None = None, swap: Swap | None = None, own_fee: Decimal = ZERO) -> Leg:
    """One leg of the event whose natural key is ``key`` (computed once per event by the caller), built as the
    tuple it is (no keyword processing: millions are built per report)."""
    return _tuple_new(Leg, (kind, role, time, account, asset, quantity, value_asset, value_quantity,  # type: ignore[arg-type]
                            fee_asset if fee_quantity else None, fee_quantity, key, index, counter_account,
                            acquired_at, swap, own_fee))


def _trade_legs(t: Trade) -> list[Leg]:
    base_fiat, quote_fiat = t.base in FIAT, t.quote in FIAT
    if base_fiat and not quote_fiat:
        return _fiat_base_legs(t)
    gross_quote = t.quantity * t.price
    if not base_fiat and not quote_fiat:
        if t.side is Side.BUY:
            return _swap_legs(t, t.quote, gross_quote, t.base, t.quantity)
        return _swap_legs(t, t.base, t.quantity, t.quote, gross_quote)
    k, tm, account, base, quote = t.natural_key, t.time, t.account, t.base, t.quote
    fee, fa = t.fee, t.fee_asset
    third = fee != ZERO and fa not in (base, quote)
    own_base = fee if fa == base else ZERO  # the fee inside each leg's quantity (Leg.own_fee)
    own_quote = fee if fa == quote else ZERO
    fee_part = fee if fa == quote or third else ZERO  # the trade's fee attributed to the crypto leg
    fee_asset = fa if fee_part else None  # as _leg: no fee asset without a fee
    # the legs built as _leg builds them, inline (two per trade, millions per report)
    if t.side is Side.BUY:
        quote_out = gross_quote + own_quote
        base_in = t.quantity - own_base
        if base_in <= ZERO:
            _require_positive(base_in, t, "the base received after the fee")
        legs = [_tuple_new(Leg, (_DISPOSE, "trade", tm, account, quote, quote_out, quote, quote_out, None, ZERO, k, 0,
                                 None, None, None, own_quote)),  # type: ignore[arg-type]
                _tuple_new(Leg, (_ACQUIRE, "trade", tm, account, base, base_in, quote, gross_quote, fee_asset,
                                 fee_part, k, 1, None, None, None, own_base))]  # type: ignore[arg-type]
    else:
        base_out = t.quantity + own_base
        quote_in = gross_quote - own_quote
        if quote_in <= ZERO:
            _require_positive(quote_in, t, "the quote received after the fee")
        legs = [_tuple_new(Leg, (_DISPOSE, "trade", tm, account, base, base_out, quote, gross_quote, fee_asset,
                                 fee_part, k, 0, None, None, None, own_base)),  # type: ignore[arg-type]
                _tuple_new(Leg, (_ACQUIRE, "trade", tm, account, quote, quote_in, quote, quote_in, None, ZERO, k, 1,
                                 None, None, None, own_quote))]  # type: ignore[arg-type]
    if third:
        legs.append(_third_asset_fee_leg(t, k))
    return legs


def _swap_legs(t: Trade, given: str, gross_given: Decimal, received: str, gross_received: Decimal) -> list[Leg]:
    """A crypto-to-crypto trade, orientation-free: the legs depend only on what is given and received
    (gross), the fee and its asset, never on which token the pair lists as quote (rule and sources in
    the module docstring, "Fees on crypto-to-crypto trades")."""
    k, tm = t.natural_key, t.time
    fee, fa = t.fee, t.fee_asset
    third = fee != 0 and fa not in (given, received)
    swap = Swap(given, gross_given, received, gross_received)
    given_out = gross_given + (fee if fa == given else ZERO)
    received_in = gross_received - (fee if fa == received else ZERO)
    _require_positive(received_in, t, f"the {received} received after the fee")
    own_given = fee if fa == given else ZERO  # the fee inside each leg's quantity (Leg.own_fee)
    own_received = fee if fa == received else ZERO
    if given in STABLECOINS and received not in STABLECOINS:
        # a purchase of a token with a stablecoin: the fee is a cost of the acquisition (as with fiat)
        legs = [_leg(k, tm, 0, LegKind.DISPOSE, "trade", t.account, given, given_out, given, given_out, swap=swap,
                     own_fee=own_given),
                _leg(k, tm, 1, LegKind.ACQUIRE, "trade", t.account, received, received_in, given, gross_given, fa,
                     fee if fa == given or third else ZERO, swap=swap, own_fee=own_received)]
    else:
        # a sale of the token given: the fee is a cost of that disposal
        legs = [_leg(k, tm, 0, LegKind.DISPOSE, "trade", t.account, given, given_out, received, gross_received, fa,
                     fee if fa == received or third else ZERO, swap=swap, own_fee=own_given),
                _leg(k, tm, 1, LegKind.ACQUIRE, "trade", t.account, received, received_in, received, received_in,
                     swap=swap, own_fee=own_received)]
    if third:
        legs.append(_third_asset_fee_leg(t, k))
    return legs


def _third_asset_fee_leg(t: Trade, k: str) -> Leg:
    """A fee paid in an asset that is neither side of the trade: a disposal of it at market value, or
    (a negative fee) a rebate acquired at market value."""
    assert t.fee_asset is not None
    tm = t.time
    if t.fee > 0:
        return _leg(k, tm, 2, LegKind.DISPOSE, "fee", t.account, t.fee_asset, t.fee, None, None)
    return _leg(k, tm, 2, LegKind.ACQUIRE, "rebate", t.account, t.fee_asset, -t.fee, None, None)


def _fiat_base_legs(t: Trade) -> list[Leg]:
    """A pair whose *base* is fiat and quote is crypto (``USD/USDT``, ``EUR/USDC``): the crypto leg's
    consideration is the fiat amount itself (cash received or paid, IRS Pub. 544 "amount realized"),
    not the market value of the crypto; the fee is attributed to the crypto leg as in the table above."""
    gross_quote = t.quantity * t.price
    k, tm = t.natural_key, t.time
    fee, fa = t.fee, t.fee_asset
    third = fee != 0 and fa not in (t.base, t.quote)
    crypto_fee = fee if fa == t.base or third else ZERO
    legs: list[Leg] = []
    if t.side is Side.BUY:  # receive fiat, give crypto
        fiat_in = t.quantity - (fee if fa == t.base else ZERO)
        quote_out = gross_quote + (fee if fa == t.quote else ZERO)
        _require_positive(fiat_in, t, "the fiat received after the fee")
        legs.append(_leg(k, tm, 0, LegKind.DISPOSE, "trade", t.account, t.quote, quote_out, t.base, t.quantity,
                         fa, crypto_fee, own_fee=fee if fa == t.quote else ZERO))
        legs.append(_leg(k, tm, 1, LegKind.ACQUIRE, "trade", t.account, t.base, fiat_in, t.base, fiat_in,
                         own_fee=fee if fa == t.base else ZERO))
    else:  # give fiat, receive crypto
        fiat_out = t.quantity + (fee if fa == t.base else ZERO)
        quote_in = gross_quote - (fee if fa == t.quote else ZERO)
        _require_positive(quote_in, t, "the quote received after the fee")
        legs.append(_leg(k, tm, 0, LegKind.DISPOSE, "trade", t.account, t.base, fiat_out, t.base, fiat_out,
                         own_fee=fee if fa == t.base else ZERO))
        legs.append(_leg(k, tm, 1, LegKind.ACQUIRE, "trade", t.account, t.quote, quote_in, t.base, t.quantity,
                         fa, crypto_fee, own_fee=fee if fa == t.quote else ZERO))
    if third:
        legs.append(_third_asset_fee_leg(t, k))
    return legs


def _transfer_legs(t: Transfer) -> list[Leg]:
    k, tm = t.natural_key, t.time
    moved = t.quantity - t.fee
    legs = [
        _leg(k, tm, 0, LegKind.MOVE_OUT, "transfer", t.from_account, t.asset, moved, None, None,
             counter_account=t.to_account),
        _leg(k, tm, 1, LegKind.MOVE_IN, "transfer", t.to_account, t.asset, moved, None, None,
             counter_account=t.from_account),
    ]
    if t.fee:
        legs.append(_leg(k, tm, 2, LegKind.DISPOSE, "fee", t.from_account, t.asset, t.fee, None, None))
    return legs


def _withdrawal_legs(w: Withdrawal) -> list[Leg]:
    k, tm = w.natural_key, w.time
    if w.purpose == "own-wallet":
        legs = [_leg(k, tm, 0, LegKind.MOVE_OUT, "withdrawal", w.account, w.asset, w.quantity, None, None)]
    else:
        legs = [_leg(k, tm, 0, LegKind.DISPOSE, w.purpose, w.account, w.asset, w.quantity,
                     w.value_currency, w.value)]
    if w.fee:
        legs.append(_leg(k, tm, 1, LegKind.DISPOSE, "fee", w.account, w.asset, w.fee, None, None))
    return legs


def _gift_in_legs(g: GiftIn) -> list[Leg]:
    """A gift received (events helper, issue #12): with a stated basis, a lot with that cost and original
    date (like a deposit with basis); without one, an acquisition at market value on receipt."""
    k, tm = g.natural_key, g.time
    if g.cost is not None:
        return [_leg(k, tm, 0, LegKind.MOVE_IN, "gift-in", g.account, g.asset, g.quantity, g.cost_currency, g.cost,
                     acquired_at=g.acquired_at)]
    return [_leg(k, tm, 0, LegKind.ACQUIRE, "gift-in", g.account, g.asset, g.quantity, None, None)]


# The legs of each event class, most specific first (``event_legs`` caches the choice per concrete class).
_LEGS_BY_BASE: tuple[tuple[type[Event], Callable[[Any], list[Leg]]], ...] = (
    (Trade, _trade_legs), (Transfer, _transfer_legs), (Deposit, _deposit_legs), (Withdrawal, _withdrawal_legs),
    (Income, _income_legs), (Record, _no_legs), (Reversal, _no_legs),
    # events helper (issue #12): gifts received; basis supplements, links and account declarations move nothing
    # (read by taxreport.prepare before legs are taken)
    (GiftIn, _gift_in_legs), (BasisSupplement, _no_legs), (TransferLink, _no_legs), (AccountDeclaration, _no_legs),
)
_LEGS_OF_TYPE: dict[type, Callable[[Any], list[Leg]]] = {}
#: The kinds of event that move nothing (records, reversals, basis supplements, links, account declarations):
#: a correction is dated when it was made, not when what it corrects happened, so these never make a tax year.
MOVES_NOTHING: frozenset[str] = frozenset(cls.kind for cls, legs in _LEGS_BY_BASE if legs is _no_legs)


class FeeError(InputError, ValueError):
    """A stored trade whose fee leaves nothing received: a one-line error for the user (an
    :class:`~taxreport.errors.InputError`), still a ``ValueError`` for callers that catch malformed events."""


def _require_positive(value: Decimal, trade: Trade, what: str) -> None:
    if value <= 0:
        raise FeeError(f"{what} would be {value} in trade {trade.natural_key}", field="fee")


def balances_of(events: Iterable[Event], *, at: datetime | None = None) -> dict[tuple[str, str], Decimal]:
    """Net quantity per (account, asset) after all legs up to and including ``at``.

    Fiat balances are included and may be negative (fiat spent that was never deposited).
    """
    totals: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for leg in legs_of(events):
        if at is not None and leg.time > at:
            continue
        totals[(leg.account, leg.asset)] += leg.sign * leg.quantity
    return {k: v for k, v in sorted(totals.items()) if v != 0}
