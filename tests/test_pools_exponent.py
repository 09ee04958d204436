""":func:`taxreport.lots.pools.exponent` (issue 14, round 5: :func:`share`'s exponent read from the Decimal's text)
equals ``Decimal.as_tuple().exponent`` for finite Decimals of every shape: zeros with any exponent, signs, plain and
scientific texts (``1E+3``, ``1.5E-25``), the 50-digit quotients the engine divides into, in both letter cases
(a context with ``capitals=0``); and :func:`share` gives what it gave with ``as_tuple``."""

from __future__ import annotations

import decimal
import random
from decimal import Decimal

import pytest

from taxreport.lots.pools import Q20, exponent, share


def _shapes(rng: random.Random) -> list[Decimal]:
    fixed = ["0", "-0", "0E-8", "0E+3", "0.00", "-0.000", "1", "-1", "10", "1E+2", "1.0E+2", "100", "1E-7",
             "0.000001", "0.0000001", "123.456", "-123.456E-30", "1E-20", "1E-21", "0.1E-19", "9.99999E+40",
             "35460", "0.29619967", "1E+999", "1E-999", "12345678901234567890.123456789012345678901234567890"]
    out = [Decimal(x) for x in fixed]
    for _ in range(3000):
        digits = str(rng.randint(0, 10 ** rng.randint(1, 50)))
        out.append(Decimal(f"{rng.choice(['', '-'])}{digits}E{rng.randint(-60, 40)}"))
        out.append(Decimal(rng.randint(1, 10**12)) / Decimal(rng.randint(1, 10**9)))  # 50-digit quotients
    return out


@pytest.mark.parametrize("capitals", [1, 0])
def test_exponent_is_as_tuple_exponent(capitals: int):
    rng = random.Random(capitals)
    with decimal.localcontext() as ctx:
        ctx.capitals = capitals
        for value in _shapes(rng):
            assert exponent(value) == value.as_tuple().exponent, str(value)


def _share_before(total: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """share as it was (the exponent by as_tuple)."""
    exp = int(total.as_tuple().exponent)
    quantum = Q20 if exp >= -20 else Decimal(1).scaleb(exp)
    return (total * part / whole).quantize(quantum)


def test_share_is_what_it_was():
    rng = random.Random(7)
    values = [v for v in _shapes(rng) if abs(v) < Decimal("1E+25") and abs(v) > Decimal("1E-40")]
    for total in values[:4000]:
        whole = Decimal(rng.randint(1, 10**9)).scaleb(-rng.randint(0, 10))
        part = whole * Decimal(rng.randint(1, 999)) / 1000
        got, want = share(total, part, whole), _share_before(total, part, whole)
        assert got == want and str(got) == str(want), (total, part, whole)
