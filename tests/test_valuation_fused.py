"""The fused valuation of trades against fiat (issue 14, round 3: :func:`taxreport.lots.valuation.value_event_list`
builds a trade's one crypto movement without building its legs) gives exactly what valuing the legs gives
(``value_legs(chain.from_iterable(map(event_legs, events)))``, the path it replaces in ``gains``): the same
movements (every field, compared as text too, so ``0.00`` against ``0`` would fail), the same pricer state (route
counts, gaps, the one-entry cache), the same swap counts, and the same error, raised at the same point, for a trade
whose fee leaves nothing received.

Seeded random events: trades of tokens, stablecoins and fiat against fiat, stablecoins and tokens (buys and sells),
fees in the base, the quote, a third token, a third fiat, none, zeros written ``0``, ``0.00`` and ``0E-8``, rebates
(negative fees); deposits with and without basis, withdrawals, transfers and income in between; report currencies
USD (the quote's own currency: no pricer) and GBP/EUR (every amount through the daily rates, some days missing).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from itertools import chain

import pytest

from taxreport.errors import TaxreportError
from taxreport.lots.valuation import SwapCost, SwapStats, value_event_list, value_events, value_legs
from taxreport.model.events import Deposit, Income, Trade, Transfer, Withdrawal
from taxreport.model.legs import event_legs
from taxreport.model.money import in_money_context
from taxreport.prices.rates import Pricer, RateTable

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
ZEROS = [Decimal("0"), Decimal("0.00"), Decimal("0E-8")]
TOKENS = ["BTC", "ETH", "SOL"]
STABLE = ["USDT", "USDC"]
FIATS = ["USD", "EUR", "GBP"]


def _table(rng: random.Random) -> RateTable:
    rows = []
    for day in range(40):
        t = T0 + timedelta(days=day)
        for base in TOKENS + STABLE + ["BNB", "USD", "EUR"]:
            for quote in ("USD", "GBP", "EUR"):
                if base == quote or rng.random() < 0.04:  # some days without a rate
                    continue
                rows.append((base, quote, t, Decimal(rng.randint(1, 10**6)).scaleb(-rng.randint(0, 4)), "test"))
    return RateTable.from_rows(rows)


def _amount(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(1, 10**8)).scaleb(-rng.randint(0, 8))


def _fee(rng: random.Random) -> Decimal:
    r = rng.random()
    if r < 0.2:
        return rng.choice(ZEROS)
    if r < 0.27:
        return -_amount(rng) / 1000  # a rebate
    return _amount(rng) / 1000


def _events(rng: random.Random, n: int) -> list:
    out: list = []
    t = T0
    for i in range(n):
        if rng.random() < 0.6:
            t = t + timedelta(seconds=rng.randint(0, 40000))
        acct = rng.choice(["a", "b"])
        kind = rng.choices(["trade", "dep", "wd", "xfer", "inc"], [80, 5, 5, 5, 5])[0]
        try:
            if kind == "trade":
                base = rng.choice(TOKENS * 3 + STABLE + FIATS)
                quote = rng.choice(FIATS * 4 + STABLE + TOKENS)
                if base == quote:
                    continue
                quantity, price = _amount(rng), _amount(rng)
                fee = _fee(rng)
                fee_asset = rng.choice([base, quote, quote, "BNB", "EUR", None]) if fee or rng.random() < 0.5 else None
                if fee and fee_asset is None:
                    fee_asset = quote
                if fee and fee_asset == base:
                    fee = (fee * quantity / 10**9).quantize(Decimal("1e-12"))  # less than what is received
                elif fee and fee_asset == quote:
                    fee = (fee * quantity * price / 10**9).quantize(Decimal("1e-12"))
                out.append(Trade(time=t, source="s", external_id=f"t{i}", account=acct,
                                 side=rng.choice(["buy", "sell"]), base=base, quote=quote, quantity=quantity,
                                 price=price, fee=fee, fee_asset=fee_asset))
            elif kind == "dep":
                with_cost = rng.random() < 0.5
                out.append(Deposit(time=t, source="s", external_id=f"d{i}", account=acct, asset=rng.choice(TOKENS),
                                   quantity=_amount(rng), cost=_amount(rng) if with_cost else None,
                                   cost_currency="USD" if with_cost else None))
            elif kind == "wd":
                out.append(Withdrawal(time=t, source="s", external_id=f"w{i}", account=acct,
                                      asset=rng.choice(TOKENS), quantity=_amount(rng), purpose="own-wallet"))
            elif kind == "xfer":
                out.append(Transfer(time=t, source="s", external_id=f"x{i}", from_account=acct, to_account="c",
                                    asset=rng.choice(TOKENS), quantity=_amount(rng) + 1, fee=rng.choice(ZEROS)))
            else:
                out.append(Income(time=t, source="s", external_id=f"i{i}", account=acct, asset=rng.choice(TOKENS),
                                  quantity=_amount(rng), kind="staking"))
        except (TaxreportError, ValueError, TypeError):
            continue  # a combination the event model refuses: not a ledger row
    return out


def _fields(movements: list) -> list[tuple]:
    return [(type(m).__name__, *(str(getattr(m, f)) for f in m.__slots__)) for m in movements]


@in_money_context
def _both(events: list, table: RateTable, currency: str, swap_cost: SwapCost) -> tuple:
    results = []
    for fused in (True, False):
        pricer, stats = Pricer(table, currency), SwapStats()
        try:
            if fused:
                got: object = value_event_list(events, pricer, swap_cost, stats)
            else:
                got = value_legs(chain.from_iterable(map(event_legs, events)), pricer, swap_cost, stats)
            shown: object = _fields(got)  # type: ignore[arg-type]
        except TaxreportError as exc:
            got = shown = f"{type(exc).__name__}: {exc}"
        results.append((got, shown, stats, pricer.state(), sorted(pricer.missing), pricer.notes()))
    return tuple(results)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("currency", ["USD", "GBP", "EUR"])
def test_fused_valuation_equals_valuing_the_legs(seed: int, currency: str) -> None:
    rng = random.Random(seed)
    table = _table(rng)
    events = _events(rng, 600)
    assert sum(type(e) is Trade for e in events) > 300
    for swap_cost in SwapCost:
        fused, legs = _both(events, table, currency, swap_cost)
        assert fused == legs
        assert isinstance(fused[0], list) and len(fused[0]) > 400  # valued, not an early error


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_a_fee_leaving_nothing_raises_the_same_error_after_the_same_valuations(side: str) -> None:
    """The legs before the bad trade are valued (the pricer counts them) before its error, both ways."""
    rng = random.Random(5)
    table = _table(rng)
    events = _events(rng, 50)
    bad = Trade(time=events[-1].time, source="s", external_id="bad", account="a", side=side, base="BTC",
                quote="USD", quantity=Decimal("1"), price=Decimal("10"), fee=Decimal("1") if side == "buy" else
                Decimal("10"), fee_asset="BTC" if side == "buy" else "USD")
    for currency in ("USD", "GBP"):
        fused, legs = _both(events + [bad] + events[:5], table, currency, SwapCost.GIVEN)
        assert fused == legs
        assert fused[0].startswith("FeeError: ") and fused[0].endswith("would be 0 in trade trade:s:bad")


def test_value_events_goes_through_the_fused_path() -> None:
    """value_events (the one-year computation, the review, the rebalancer's resumed engine) gives the same too."""
    rng = random.Random(11)
    table = _table(rng)
    events = _events(rng, 300)
    a, b = Pricer(table, "GBP"), Pricer(table, "GBP")
    until = T0 + timedelta(days=10)
    fused = value_events(events, a, until=until, swap_cost=SwapCost.GIVEN)
    legs = value_legs(chain.from_iterable(map(event_legs, [e for e in events if e.time < until])), b, SwapCost.GIVEN)
    assert _fields(fused) == _fields(legs) and a.state() == b.state()
