"""The engine's fast paths (issue 14, round 2) give exactly what the general paths give, to the last digit and
exponent (``Decimal('0.00')`` and ``Decimal('0')`` print differently, so equality of values is not enough: the
``str`` of every amount is compared too):

* :func:`taxreport.lots.valuation.value_legs` takes an amount already in the pricer's currency as it is; the
  reference below is the valuation as it was (every amount through :meth:`Pricer.value`);
* :func:`taxreport.lots.pools.take_fifo` inlines :meth:`Lot.take`; the reference is the loop over ``Lot.take``;
* :meth:`LotRules.results` builds the one result of a disposal whose lots are in one holding group directly;
  the reference is :meth:`LotRules.general_results` (the split by holding group).

Random inputs (seeded): amounts with varied exponents, zeros written ``0``, ``0.00`` and ``0E-8``, fees in the
currency, in another asset or absent, swaps, lots long and short held.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from zoneinfo import ZoneInfo

from taxreport.jurisdictions.de import JURISDICTION as DE
from taxreport.jurisdictions.us import JURISDICTION as US
from taxreport.lots.pools import Lot, Pool, share, take_fifo
from taxreport.lots.types import Acquisition, Disposal, LotMatch, MatchedDisposal, Move
from taxreport.lots.valuation import SwapCost, SwapStats, _consideration, value_legs
from taxreport.model.assets import FIAT
from taxreport.model.legs import Leg, LegKind, Swap
from taxreport.prices.rates import Pricer, RateTable

ZERO = Decimal(0)
T0 = datetime(2023, 1, 1, tzinfo=timezone.utc)
ZEROS = [Decimal("0"), Decimal("0.00"), Decimal("0E-8"), Decimal("-0")]


def _amount(rng: random.Random) -> Decimal:
    if rng.random() < 0.15:
        return rng.choice(ZEROS)
    return Decimal(rng.randint(1, 10**9)).scaleb(-rng.randint(0, 12))


def _reference_value_legs(legs: list[Leg], pricer: Pricer, swap_cost: SwapCost, stats: SwapStats) -> list:
    """main's value_legs before the fast path (every amount through the pricer)."""
    out: list = []
    for leg in legs:
        asset = leg.asset
        if asset in FIAT:
            continue
        kind, t = leg.kind, leg.time
        if kind is LegKind.DISPOSE:
            gross = _consideration(leg, pricer, swap_cost, stats)
            fee = pricer.value(leg.fee_asset, leg.fee_quantity, t) if leg.fee_asset else ZERO
            out.append(Disposal(t, leg.account, asset, leg.quantity, gross, fee, leg.event_key, leg.index, leg.role))
        elif kind is LegKind.ACQUIRE:
            cost = _consideration(leg, pricer, swap_cost, stats)
            if leg.fee_asset:
                cost += pricer.value(leg.fee_asset, leg.fee_quantity, t)
            out.append(Acquisition(t, leg.account, asset, leg.quantity, cost, leg.event_key, leg.index, leg.role))
        elif kind is LegKind.MOVE_OUT:
            to = leg.counter_account if leg.role == "transfer" else None
            out.append(Move(t, asset, leg.quantity, leg.account, to, leg.event_key, leg.index))
        elif kind is LegKind.MOVE_IN:
            if leg.role == "transfer":
                continue
            if leg.value_quantity is not None and leg.value_asset is not None:
                cost = pricer.value(leg.value_asset, leg.value_quantity, leg.acquired_at or t)
                out.append(Acquisition(t, leg.account, asset, leg.quantity, cost, leg.event_key, leg.index,
                                       "deposit", leg.acquired_at))
            else:
                out.append(Move(t, asset, leg.quantity, None, leg.account, leg.event_key, leg.index))
    return out


def _random_leg(rng: random.Random, i: int) -> Leg:
    t = T0 + timedelta(hours=rng.randint(0, 24 * 30))
    kind = rng.choice([LegKind.DISPOSE, LegKind.ACQUIRE, LegKind.DISPOSE, LegKind.ACQUIRE, LegKind.MOVE_OUT,
                       LegKind.MOVE_IN])
    asset = rng.choice(["BTC", "ETH", "USDT", "USD", "EUR"])
    va = rng.choice(["USD", "USD", "EUR", "ETH", "USDT", None])
    vq = None if va is None and rng.random() < 0.5 else _amount(rng)
    fa = rng.choice(["USD", "EUR", "BTC", None])
    fq = _amount(rng) if fa else ZERO
    swap = None
    if va not in (None, "USD", "EUR") and rng.random() < 0.5:
        swap = Swap(asset, _amount(rng), va, vq if vq is not None else _amount(rng))
    role = rng.choice(["trade", "fee", "transfer", "deposit"])
    return Leg(kind, role, t, "a", asset, _amount(rng) or Decimal(1), va, vq, fa if fq else None, fq, f"k{i}", i % 3,
               "b", t - timedelta(days=3) if rng.random() < 0.3 else None, swap)


def _table() -> RateTable:
    rows = []
    for day in range(31):
        t = T0 + timedelta(days=day)
        rows += [("BTC", "USD", t, Decimal("30000.5"), "s"), ("ETH", "USD", t, Decimal("2000.25"), "s"),
                 ("EUR", "USD", t, Decimal("1.08"), "s")]
    return RateTable.from_rows(rows)  # no USDT rate: swaps fall back, plain USDT amounts are missing


def _fields(movements: list) -> list[tuple]:
    return [(type(m).__name__, *(str(getattr(m, f)) for f in m.__slots__)) for m in movements]


@pytest.mark.parametrize("seed", range(6))
def test_value_legs_fast_path_equals_the_pricer_path(seed: int) -> None:
    rng = random.Random(seed)
    legs = [_random_leg(rng, i) for i in range(400)]
    for swap_cost in SwapCost:
        fast_pricer, slow_pricer = Pricer(_table(), "USD"), Pricer(_table(), "USD")
        fast_stats, slow_stats = SwapStats(), SwapStats()
        fast = value_legs(legs, fast_pricer, swap_cost, fast_stats)
        slow = _reference_value_legs(legs, slow_pricer, swap_cost, slow_stats)
        assert fast == slow
        assert _fields(fast) == _fields(slow)
        assert (fast_stats, fast_pricer.missing, fast_pricer.notes()) == \
            (slow_stats, slow_pricer.missing, slow_pricer.notes())


def test_value_legs_zero_in_the_currency_is_decimal_zero() -> None:
    """Pricer.value gives Decimal(0) for a zero amount (``0.00`` comes back as ``0``); the fast path too."""
    leg = Leg(LegKind.DISPOSE, "trade", T0, "a", "BTC", Decimal(1), "USD", Decimal("0.00"), "USD", Decimal("0E-2"),
              "k", 0)
    (d,) = value_legs([leg], Pricer(_table(), "USD"))
    assert (str(d.proceeds), str(d.fee)) == ("0", "0")


def _reference_take_fifo(pool: Pool, quantity: Decimal) -> list:
    """main's take_fifo (the loop over Lot.take)."""
    parts = []
    lots, i, need = pool.lots, pool.head, quantity
    while need > 0 and i < len(lots):
        lot = lots[i]
        if lot.quantity > 0:
            q = need if need < lot.quantity else lot.quantity
            parts.append((lot, q, lot.take(q)))
            need -= q
        if lot.quantity == 0:
            i += 1
    pool.head = i
    if i > 4096 and i * 2 > len(lots):
        del lots[:i]
        pool.head = 0
    pool.quantity -= quantity - need
    return parts


@pytest.mark.parametrize("seed", range(6))
def test_take_fifo_equals_the_lot_take_loop(seed: int) -> None:
    rng = random.Random(seed)
    fast, slow = Pool(), Pool()
    for step in range(600):
        if rng.random() < 0.5:
            q, c = _amount(rng) or Decimal("0.5"), _amount(rng)
            for p in (fast, slow):
                p.add(Lot(f"r{step}", "a", T0 + timedelta(minutes=step), q, c, step))
        else:
            want = _amount(rng) or Decimal("0.25")
            got = take_fifo(fast, want)
            ref = _reference_take_fifo(slow, want)
            assert [(lot.ref, str(q), str(c)) for lot, q, c in got] == [(lot.ref, str(q), str(c)) for lot, q, c in ref]
            assert str(fast.quantity) == str(slow.quantity) and fast.head == slow.head
            assert [(lot.ref, str(lot.quantity), str(lot.cost)) for lot in fast.lots] == \
                [(lot.ref, str(lot.quantity), str(lot.cost)) for lot in slow.lots]
    assert share(Decimal("10.00"), Decimal(1), Decimal(3)) == Decimal("3.33333333333333333333")


def _result_fields(results: list) -> list[tuple]:
    return [tuple(str(getattr(r, f)) for f in r.__slots__) for r in results]


@pytest.mark.parametrize("jurisdiction", [US, DE], ids=["us", "de"])
@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Europe/Berlin", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_results_fast_path_equals_the_split_path(jurisdiction, tz: str) -> None:
    rng = random.Random(tz + jurisdiction.code)
    ctx = jurisdiction.context("2023", None, {"timezone": tz})
    for i in range(500):
        sold = datetime(2023, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.randint(0, 365 * 86400))
        if i % 7 == 0:  # a moment not in timezone.utc: the fast path dates it in the zone
            sold = sold.astimezone(ZoneInfo("Asia/Kolkata"))
        lots = []
        for j in range(rng.choice([1, 1, 2, 3])):
            acquired = None if rng.random() < 0.1 else sold - timedelta(
                seconds=rng.choice([rng.randint(0, 800 * 86400), 365 * 86400 + rng.randint(-86400, 86400)]))
            rule = rng.choice(["fifo", "fifo", "zero-cost"])
            lots.append(LotMatch(_amount(rng) or Decimal("0.1"), _amount(rng), acquired, "a", f"r{j}", rule))
        d = Disposal(sold, "a", "BTC", sum((lm.quantity for lm in lots), ZERO) or Decimal(1), _amount(rng),
                     _amount(rng), f"k{i}", 1, rng.choice(["trade", "fee"]))
        md = MatchedDisposal(d, tuple(lots))
        fast = jurisdiction.rules.results(ctx, md)
        slow = jurisdiction.rules.general_results(ctx, md)
        assert fast == slow
        assert _result_fields(fast) == _result_fields(slow)


def test_positional_makers_build_what_the_dataclass_builds() -> None:
    """Each positional maker gives the object the class itself gives: equal, same hash, same repr and pickle;
    a class it cannot build exactly (a default factory) is refused."""
    import pickle
    from dataclasses import dataclass, field

    from taxreport.jurisdictions.base import DisposalResult, make_result
    from taxreport.lots.types import (make_acquisition, make_disposal, make_lot_match, make_matched_disposal,
                                      make_move, positional_maker)

    lm = LotMatch(Decimal("1.5"), Decimal("2.00"), T0, "a", "k#1", "fifo")
    d = Disposal(T0, "a", "BTC", Decimal("1.5"), Decimal("3"), Decimal("0.1"), "k", 0, "fee")
    cases = [
        (Acquisition, make_acquisition, (T0, "a", "BTC", Decimal("1"), Decimal("2.5"), "k", 1, "income", T0)),
        (Disposal, make_disposal, (T0, "a", "BTC", Decimal("1.5"), Decimal("3"), Decimal("0.1"), "k", 0, "fee")),
        (Move, make_move, (T0, "BTC", Decimal("1"), None, "b", "k", 2)),
        (LotMatch, make_lot_match, (Decimal("1.5"), Decimal("2.00"), None, None, None, "s104")),
        (MatchedDisposal, make_matched_disposal, (d, (lm, lm))),
        (DisposalResult, make_result, (T0, "a", "BTC", Decimal(1), Decimal(2), Decimal(3), Decimal(-1), (lm,),
                                       "fifo", "long", True, Decimal("0.5"), "W", "k#0", "trade", ("n",), None)),
    ]
    for cls, make, values in cases:
        built, made = cls(*values), make(*values)
        assert type(made) is cls
        assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
        assert pickle.dumps(made) == pickle.dumps(built)

    @dataclass(frozen=True, slots=True)
    class WithFactory:
        items: list = field(default_factory=list)

    with pytest.raises(TypeError):
        positional_maker(WithFactory)


def _reference_fiat_quote_legs(t) -> list[Leg]:
    """main's legs of a trade against fiat (each leg through ``_leg``), before they were built inline."""
    from taxreport.model.events import Side
    from taxreport.model.legs import _ACQUIRE, _DISPOSE, _leg, _require_positive, _third_asset_fee_leg

    gross_quote = t.quantity * t.price
    k, tm, account, base, quote = t.natural_key, t.time, t.account, t.base, t.quote
    fee, fa = t.fee, t.fee_asset
    third = fee != 0 and fa not in (base, quote)
    own_base = fee if fa == base else ZERO
    own_quote = fee if fa == quote else ZERO
    if t.side is Side.BUY:
        quote_out = gross_quote + own_quote
        base_in = t.quantity - own_base
        if base_in <= 0:
            _require_positive(base_in, t, "the base received after the fee")
        legs = [_leg(k, tm, 0, _DISPOSE, "trade", account, quote, quote_out, quote, quote_out, None, ZERO, None,
                     None, None, own_quote),
                _leg(k, tm, 1, _ACQUIRE, "trade", account, base, base_in, quote, gross_quote, fa,
                     fee if fa == quote or third else ZERO, None, None, None, own_base)]
    else:
        base_out = t.quantity + own_base
        quote_in = gross_quote - own_quote
        if quote_in <= 0:
            _require_positive(quote_in, t, "the quote received after the fee")
        legs = [_leg(k, tm, 0, _DISPOSE, "trade", account, base, base_out, quote, gross_quote, fa,
                     fee if fa == quote or third else ZERO, None, None, None, own_base),
                _leg(k, tm, 1, _ACQUIRE, "trade", account, quote, quote_in, quote, quote_in, None, ZERO, None, None,
                     None, own_quote)]
    if third:
        legs.append(_third_asset_fee_leg(t, k))
    return legs


@pytest.mark.parametrize("seed", range(4))
def test_fiat_quote_trade_legs_equal_the_leg_by_leg_build(seed: int) -> None:
    from taxreport.model.events import Trade
    from taxreport.model.legs import FeeError, event_legs

    rng = random.Random(seed)
    checked = 0
    for i in range(500):
        fa = rng.choice(["BTC", "USD", "OKB", None])
        fee = ZERO if fa is None else rng.choice([_amount(rng), -_amount(rng), Decimal("0.00")])
        t = Trade(time=T0 + timedelta(seconds=i), source="test", external_id=str(i), account="a",
                  side=rng.choice(["buy", "sell"]), base="BTC", quote=rng.choice(["USD", "GBP"]),
                  quantity=_amount(rng) or Decimal("0.1"), price=_amount(rng) or Decimal("30000"), fee=fee,
                  fee_asset=fa)
        try:
            ref = _reference_fiat_quote_legs(t)
        except FeeError:
            with pytest.raises(FeeError):
                event_legs(t)
            continue
        got = event_legs(t)
        assert got == ref
        assert [tuple(map(str, leg)) for leg in got] == [tuple(map(str, leg)) for leg in ref]
        checked += 1
    assert checked > 400
