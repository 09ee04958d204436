"""The pricer's per-asset memo (issue 14, round 3: one resolution per asset and span of equal stored rates,
instead of one per leg) gives exactly what the resolution without it gives: the same rate (value and text), the
same route counts in the notes, the same pegs, the same gaps and the same missing-rate error listing every gap
in the same order.

The reference below is ``Pricer._resolve`` as it was on main (423411f) before the memo, run over the same
:class:`RateTable`. Random inputs (seeded): pairs stored directly, inverted and only through an intermediate,
several rates within one day (candle closes at odd times), days without a rate, a look-back of 0-2 days, a peg,
moments in and out of time order, repeated moments, moments exactly at a stored time and just before it.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from taxreport.errors import MissingDataError
from taxreport.prices.rates import ONE, Pricer, RateTable

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


class _Reference(Pricer):
    """main's resolution, without the memo (copied from taxreport/prices/rates.py at 423411f)."""

    def _resolve(self, asset: str, moment: datetime) -> Decimal | None:
        target = self.currency
        if asset in self.peg:
            self.pegs_used.add(asset)
            asset = self.peg[asset]
            if asset == target:
                return ONE
        hit = self._ref_pair(asset, target, moment)
        if hit is not None:
            rate, route = hit
            self.used[route] += 1
            return rate
        for mid in self.via:
            if mid in (asset, target):
                continue
            first = self._ref_pair(asset, mid, moment)
            second = self._ref_pair(mid, target, moment)
            if first is not None and second is not None:
                self.used[f"{asset}->{target} crossed via {mid}: {first[1]} x {second[1]}"] += 1
                return first[0] * second[0]
        self.missing.add((asset, target, moment.date()))
        for mid in self.via:
            if mid not in (asset, target):
                if self._ref_pair(asset, mid, moment) is None:
                    self.missing.add((asset, mid, moment.date()))
                if self._ref_pair(mid, target, moment) is None:
                    self.missing.add((mid, target, moment.date()))
        return None

    def _ref_pair(self, base: str, quote: str, moment: datetime) -> tuple[Decimal, str] | None:
        hit = self.table.direct(base, quote, moment, self.lookback_days)
        if hit is not None:
            return hit[0], self._route(base, quote, hit[1], False)
        hit = self.table.direct(quote, base, moment, self.lookback_days)
        if hit is not None:
            return ONE / hit[0], self._route(base, quote, hit[1], True)
        return None


def _table(rng: random.Random) -> RateTable:
    rows = []
    pairs = [("USD", "GBP"), ("BTC", "USD"), ("EUR", "GBP"), ("GBP", "ETH"), ("USDT", "USD"), ("SOL", "EUR")]
    for base, quote in pairs:
        for day in range(20):
            if rng.random() < 0.25:
                continue  # a day without a rate
            start = T0 + timedelta(days=day)
            times = [start] if rng.random() < 0.6 else sorted(
                start + timedelta(seconds=rng.randint(0, 86399)) for _ in range(rng.randint(1, 4)))
            for t in times:
                rate = Decimal(rng.randint(1, 10**7)).scaleb(-rng.randint(0, 6))
                rows.append((base, quote, t, rate, rng.choice(["ecb", "csv", "ccxt:okx:1d"])))
    return RateTable.from_rows(rows)


def _moments(rng: random.Random, table: RateTable, n: int) -> list[tuple[str, datetime]]:
    stored = [t for pair in table.pairs() for t in table._times[pair]]
    out = []
    t = T0 - timedelta(hours=3)
    for _ in range(n):
        r = rng.random()
        if r < 0.15 and stored:
            t = rng.choice(stored)  # exactly at a stored time
        elif r < 0.25 and stored:
            t = rng.choice(stored) - timedelta(microseconds=1)  # just before one
        elif r < 0.35:
            t = T0 + timedelta(seconds=rng.randint(-7200, 22 * 86400))  # out of order
        elif r < 0.75:
            pass  # the same moment again (several legs of one trade)
        else:
            t = t + timedelta(seconds=rng.randint(0, 30000))
        out.append((rng.choice(["BTC", "USD", "EUR", "ETH", "USDT", "SOL", "XRP", "GBP"]), t))
    return out


def _observed(p: Pricer) -> tuple:
    try:
        p.raise_if_missing()
        error = ""
    except MissingDataError as exc:
        error = str(exc)
    return dict(p.used), sorted(p.missing), sorted(p.pegs_used), p.notes(), error


@pytest.mark.parametrize("seed", range(12))
def test_memoised_pricer_equals_the_resolution_without_memo(seed: int) -> None:
    rng = random.Random(seed)
    table = _table(rng)
    via = rng.choice([(), ("USD",), ("EUR", "USD")])
    peg = rng.choice([None, {"USDT": "USD"}, {"USDT": "GBP"}])
    lookback = rng.choice([0, 0, 1, 2])
    fast = Pricer(table, "GBP", via=via, peg=peg, lookback_days=lookback)
    slow = _Reference(table, "GBP", via=via, peg=peg, lookback_days=lookback)
    for asset, moment in _moments(rng, table, 3000):
        quantity = Decimal(rng.randint(0, 10**6)).scaleb(-rng.randint(0, 8))
        if rng.random() < 0.3:
            a, b = fast.known_value(asset, quantity, moment), slow.known_value(asset, quantity, moment)
        else:
            a, b = fast.value(asset, quantity, moment), slow.value(asset, quantity, moment)
        assert str(a) == str(b), (asset, moment)
        assert fast.rate(asset, moment) == slow.rate(asset, moment)
    assert _observed(fast) == _observed(slow)
    assert fast.state()[:3] == slow.state()[:3]


def test_gaps_listed_in_order_with_the_memo() -> None:
    """Rates missing on some days: the one error lists every gap (pair and date), sorted, as before."""
    table = RateTable.from_rows([("USD", "GBP", T0 + timedelta(days=d), Decimal("0.79"), "csv")
                                 for d in range(10) if d not in (2, 5, 6)])
    p = Pricer(table, "GBP")
    for d in range(10):
        for h in (1, 5, 23):
            p.value("USD", Decimal("10"), T0 + timedelta(days=d, hours=h))
    with pytest.raises(MissingDataError) as err:
        p.raise_if_missing()
    assert str(err.value).splitlines()[1:] == [f"  USD->GBP on {date(2024, 1, d).isoformat()}" for d in (3, 6, 7)]
    assert p.notes()[0] == "rates: USD/GBP from csv (21 valuation(s))"  # 7 days x 3 moments valued


def test_memo_span_ends_at_the_next_stored_rate_of_the_day() -> None:
    """A candle close at 12:00 replaces the 00:00 rate for the rest of the day: the memo must not carry the
    morning's rate past it."""
    table = RateTable.from_rows([("BTC", "GBP", T0, Decimal("100"), "a"),
                                 ("BTC", "GBP", T0 + timedelta(hours=12), Decimal("200"), "a")])
    p = Pricer(table, "GBP")
    assert p.value("BTC", Decimal(1), T0 + timedelta(hours=11)) == Decimal("100")
    assert p.value("BTC", Decimal(1), T0 + timedelta(hours=12)) == Decimal("200")
    assert p.value("BTC", Decimal(1), T0 + timedelta(hours=1)) == Decimal("100")  # back in time
    assert p.value("BTC", Decimal(1), T0 + timedelta(days=1, hours=1)) == Decimal(0)  # next day: no rate
    assert p.missing == {("BTC", "GBP", date(2024, 1, 2))}
