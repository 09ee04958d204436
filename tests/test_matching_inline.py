"""The matching loop's inline cases (issue 14, round 3, :func:`taxreport.lots.matching.match_lots_at`): a lot added
after the last one of a date-ordered pool is appended without :meth:`Pool.add`, and a FIFO disposal covered by
part of the first lot still held is taken without :func:`take_fifo`. Both must give exactly what the general
path gives: the same disposals (every lot match, compared as text too), open lots, notes and problems at every
cut.

The reference is the same loop with the inline cases switched off: a taker that is not ``take_fifo`` itself (it
calls it) and a pool class that is not ``Pool`` itself (a subclass), so every lot goes through ``Pool.add`` and
every disposal through the taker. Seeded random movements: several accounts and assets, lots acquired at the
same moment, deposits dated earlier than the last lot (``acquired_at``), moves between accounts and to the
outside, disposals taking exactly a lot, more than one lot and more than is held (zero cost allowed or not),
and a universal pool until a moment.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from taxreport.lots import matching
from taxreport.lots.pools import Pool, take_fifo
from taxreport.lots.types import Acquisition, Disposal, Move

T0 = datetime(2022, 1, 1, tzinfo=timezone.utc)


class _SlowPool(Pool):
    __slots__ = ()


def _slow_fifo(pool: Pool, quantity: Decimal) -> list:
    return take_fifo(pool, quantity)


def _movements(rng: random.Random, n: int) -> list:
    out: list = []
    held: dict[tuple[str, str], Decimal] = {}
    t = T0
    for i in range(n):
        if rng.random() < 0.7:
            t = t + timedelta(hours=rng.randint(0, 60))
        acct, asset = rng.choice(["a", "b", "c"]), rng.choice(["BTC", "ETH"])
        q = Decimal(rng.randint(1, 10**6)).scaleb(-rng.randint(-1, 8))  # 5E+1 too: the exponents must agree
        r = rng.random()
        have = held.get((acct, asset), Decimal(0))
        if r < 0.45 or have <= 0 and r < 0.9:
            acquired = t - timedelta(days=rng.randint(1, 400)) if rng.random() < 0.1 else None
            cost = Decimal(rng.randint(0, 10**9)).scaleb(-rng.randint(0, 30))
            out.append(Acquisition(t, acct, asset, q, cost, f"e{i}", rng.randint(0, 2),
                                   "deposit" if acquired else "trade", acquired))
            held[(acct, asset)] = have + q
        elif r < 0.85:
            choice = rng.random()
            if choice < 0.5 and have > 0:
                q = (have * Decimal(rng.random())).quantize(Decimal("1e-8")) or q  # part of what is held
            elif choice < 0.6 and have > 0:
                q = have  # exactly what is held
            elif choice < 0.65:
                q = have + q  # more than is held
            fee = Decimal(rng.randint(0, 100)).scaleb(-2)
            out.append(Disposal(t, acct, asset, q, Decimal(rng.randint(1, 10**7)).scaleb(-2), fee, f"e{i}", 0,
                                "trade"))
            held[(acct, asset)] = have - q
        else:
            to = rng.choice(["a", "b", "c", None])
            if to == acct or have <= 0:
                continue
            q = (have * Decimal(rng.random())).quantize(Decimal("1e-8")) or have
            out.append(Move(t, asset, q, acct, to, f"e{i}", 0))
            held[(acct, asset)] = have - q
            if to is not None:
                held[(to, asset)] = held.get((to, asset), Decimal(0)) + q
    return out


def _shown(cuts: list) -> list:
    out = []
    for c in cuts:
        r = c.result
        out.append(([(repr(md.disposal), [tuple(str(getattr(lm, f)) for f in lm.__slots__) for lm in md.lots])
                     for md in r.disposals],
                    [(lot.account, lot.asset, str(lot.quantity), str(lot.cost), lot.acquired_at, lot.lot_ref, lot.extra)
                     for lot in r.open_lots],
                    r.notes, c.problems, c.unused_selections))
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("method", ["fifo", "lifo", "hifo", "average", "specific"])
def test_inline_cases_equal_the_general_path(seed: int, method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    movements = _movements(rng, 500)
    ends = [T0 + timedelta(days=d) for d in (200, 400, 900)]
    options = [dict(scope="account"), dict(scope="universal"),
               dict(scope="universal", universal_until=T0 + timedelta(days=300)),
               dict(scope="account", zero_cost_assets=("BTC", "ETH"), move_order="method")]
    fast = [_shown(matching.match_lots_at(movements, ends=ends, method=method, **o)) for o in options]
    monkeypatch.setitem(matching.TAKERS, "fifo", _slow_fifo)
    monkeypatch.setattr(matching, "POOL_CLASSES", {**matching.POOL_CLASSES, method: _SlowPool}
                        if method != "average" else matching.POOL_CLASSES)
    slow = [_shown(matching.match_lots_at(movements, ends=ends, method=method, **o)) for o in options]
    assert fast == slow
    assert any(c[3] for cuts in fast for c in cuts) or method == "average"  # shortfalls were reached too


@pytest.mark.parametrize("lots", [1, 2])
def test_a_shortfall_s_zero_cost_part_has_the_general_path_s_exponent(lots: int, monkeypatch: pytest.MonkeyPatch
                                                                      ) -> None:
    """Quantities written with a positive exponent (``3E+1``): what is still needed is computed as the general path
    computes it (``quantity - part`` for one part, ``quantity - (0 + part + ...)`` for several), so the zero-cost
    part prints the same (``2E+1`` against ``20``)."""
    movements = [Acquisition(T0 + timedelta(days=d), "a", "BTC", Decimal("1E+1"), Decimal("7"), f"a{d}", 0)
                 for d in range(lots)]
    movements.append(Disposal(T0 + timedelta(days=5), "a", "BTC", Decimal("5E+1"), Decimal("9"), Decimal(0), "d", 0))

    def shown() -> list:
        cut = matching.match_lots_at(movements, ends=None, zero_cost_assets=("BTC",))[0]
        return [str(lm.quantity) for lm in cut.result.disposals[0].lots]

    fast = shown()
    monkeypatch.setitem(matching.TAKERS, "fifo", _slow_fifo)
    assert fast == shown() == (["1E+1", "4E+1"] if lots == 1 else ["1E+1", "1E+1", "30"])
