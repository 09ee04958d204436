"""A shortfall's zero-cost part (:func:`taxreport.lots.matching.match_lots_at`) printed with the exponent the
FIFO taker's arithmetic gives: what is still needed is ``quantity - part`` for one part and
``quantity - (0 + part + ...)`` for several, so quantities written ``3E+1`` give ``4E+1`` against ``30``. (Round 3
of issue 14 had an inline copy of ``take_fifo`` in the matching loop, tied to the general path by a differential
test here; it saved 0.026 s of 0.371 s CPU for the 100k-trade US matching, not worth a second copy of the pool's
logic, and was removed.)
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from taxreport.lots import matching
from taxreport.lots.pools import Pool, take_fifo
from taxreport.lots.types import Acquisition, Disposal

T0 = datetime(2022, 1, 1, tzinfo=timezone.utc)


def _slow_fifo(pool: Pool, quantity: Decimal) -> list:
    return take_fifo(pool, quantity)


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
