"""Property tests (hypothesis): for every method and scope, cost and quantity are conserved:
cost matched + cost remaining == cost acquired, and units acquired == units disposed + units held."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from taxreport.lots.matching import METHODS, match_lots
from taxreport.lots.types import Acquisition, Disposal, Move

T0 = datetime(2023, 1, 1, tzinfo=timezone.utc)
ACCOUNTS = ("a", "b", "c")
qty = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1000"), places=8)
money = st.decimals(min_value=Decimal("0"), max_value=Decimal("1000000"), places=2)
step = st.tuples(st.sampled_from(["buy", "buy", "sell", "move"]), st.sampled_from(ACCOUNTS),
                 st.sampled_from(ACCOUNTS + (None,)), qty, money, st.floats(0, 1))


def build(steps):  # noqa: ANN001, ANN201
    """Movements that never sell or move more than the account holds (tracked here)."""
    held = {a: Decimal(0) for a in ACCOUNTS}
    outside = Decimal(0)
    out = []
    for i, (kind, acct, other, q, amount, frac) in enumerate(steps):
        time = T0 + timedelta(hours=i)
        if kind == "buy":
            out.append(Acquisition(time, acct, "BTC", q, amount, f"e{i}", 1,
                                   acquired_at=T0 - timedelta(days=i % 3) if i % 5 == 0 else None))
            held[acct] += q
        elif held[acct] > 0 or (other is None and outside > 0):
            if kind == "sell":
                take = (held[acct] * Decimal(str(round(frac, 3)))).quantize(Decimal("0.00000001")) or held[acct]
                out.append(Disposal(time, acct, "BTC", take, amount, Decimal(0), f"e{i}", 0))
                held[acct] -= take
            elif other is None and outside > 0 and frac < 0.3:  # deposit from the outside pool
                take = min(outside, q)
                out.append(Move(time, "BTC", take, None, acct, f"e{i}", 0))
                outside -= take
                held[acct] += take
            elif held[acct] > 0:
                take = min(held[acct], q)
                out.append(Move(time, "BTC", take, acct, other, f"e{i}", 0))
                held[acct] -= take
                if other is None:
                    outside += take
                else:
                    held[other] += take
    return out, held, outside


@settings(max_examples=150, deadline=None)
@given(st.lists(step, min_size=1, max_size=40), st.sampled_from(METHODS),
       st.sampled_from(["account", "universal", "universal-until"]), st.integers(0, 40))
def test_cost_and_quantity_conserved(steps, method, scope, switch_hour):
    movements, held, outside = build(steps)
    until = T0 + timedelta(hours=switch_hour) if scope == "universal-until" else None
    r = match_lots(movements, method=method, scope="universal" if until else scope, universal_until=until)
    acquired_cost = sum((m.cost for m in movements if isinstance(m, Acquisition)), Decimal(0))
    acquired_qty = sum((m.quantity for m in movements if isinstance(m, Acquisition)), Decimal(0))
    matched_cost = sum((md.cost for md in r.disposals), Decimal(0))
    matched_qty = sum((lm.quantity for md in r.disposals for lm in md.lots), Decimal(0))
    left_cost = sum((o.cost for o in r.open_lots), Decimal(0))
    left_qty = sum((o.quantity for o in r.open_lots), Decimal(0))
    assert matched_cost + left_cost == acquired_cost
    assert matched_qty + left_qty == acquired_qty
    if scope != "universal":  # lots sit where the coins are: per account, and outside
        for acct in ACCOUNTS:
            assert sum((o.quantity for o in r.open_lots if o.extra["pool"] == acct), Decimal(0)) == held[acct]
        assert sum((o.quantity for o in r.open_lots if o.extra["pool"] == "<outside>"), Decimal(0)) == outside
    for md in r.disposals:  # every disposal fully matched, never more
        assert sum((lm.quantity for lm in md.lots), Decimal(0)) == md.disposal.quantity
        assert all(lm.cost >= 0 for lm in md.lots)
