"""Properties of every plan, over random baskets, balances, prices and fees (hypothesis)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from taxreport.exchanges.markets import markets_from_fixture
from taxreport.rebalance.basket import basket_from_mapping
from taxreport.rebalance.planner import plan

MARKETS = markets_from_fixture(Path(__file__).parent / "fixtures" / "okx_markets.json")
ASSETS = ["BTC", "ETH", "SOL", "XRP", "DOGE", "USDC"]
PRICE = {"BTC": (20000, 120000), "ETH": (1000, 6000), "SOL": (10, 400), "XRP": (0.2, 4), "DOGE": (0.05, 1),
         "USDC": (0.99, 1.01)}


def decimals(low: float, high: float, places: int) -> st.SearchStrategy[D]:
    scale = 10 ** places
    return st.integers(int(low * scale), int(high * scale)).map(lambda n: D(n) / scale)


@st.composite
def cases(draw):  # noqa: ANN001, ANN201
    members = draw(st.lists(st.sampled_from(ASSETS), min_size=2, max_size=5, unique=True))
    cuts = sorted(draw(st.lists(st.integers(1, 99), min_size=len(members) - 1, max_size=len(members) - 1,
                                unique=True)))
    bounds = [0, *cuts, 100]
    weights = {a: D(bounds[i + 1] - bounds[i]) for i, a in enumerate(members)}
    basket = basket_from_mapping({"name": "p", "weights": weights,
                                  "min_notional": draw(st.sampled_from(["0", "1", "5", "50"]))})
    prices = {a: draw(decimals(*PRICE[a], 6)) for a in members}
    balances = {a: draw(st.one_of(st.just(D(0)), decimals(0, 20000 / float(PRICE[a][0]), 8))) for a in members}
    balances["USDT"] = draw(st.one_of(st.just(D(0)), decimals(0, 500, 2)))
    fee = draw(st.sampled_from([D(0), D("0.0008"), D("0.001"), D("0.002")]))
    fee_in = draw(st.sampled_from(["quote", "base"]))
    offset = draw(st.sampled_from([D(0), D("0.0005"), D("0.003")]))
    return basket, balances, prices, fee, fee_in, offset


@settings(max_examples=300, deadline=None)
@given(cases())
def test_every_plan_is_executable_and_never_overdraws(case):
    basket, balances, prices, fee, fee_in, offset = case
    if sum(balances[a] * prices[a] for a in basket.weights) == 0:
        return
    p = plan(basket, balances, prices, MARKETS, fee_rate=fee, buy_fee_in=fee_in, price_offset=offset)
    sides = [o.side for o in p.orders]
    assert sides == sorted(sides, key=lambda s: s != "sell")  # every sell before every buy
    assert len({o.asset for o in p.orders}) == len(p.orders)
    cash = balances["USDT"]
    for o in p.orders:
        m = MARKETS[o.symbol]
        assert o.quantity > 0 and o.quantity % m.amount_step == 0 and o.limit_price % m.price_tick == 0
        assert m.min_amount is None or o.quantity >= m.min_amount
        assert o.notional == o.quantity * o.limit_price and o.notional >= basket.min_notional
        if o.side == "sell":
            assert o.quantity <= balances[o.asset]
            assert o.limit_price >= prices[o.asset] * (1 - offset) - m.price_tick
            cash += o.notional * (1 - fee)
        else:
            assert o.limit_price <= prices[o.asset] * (1 + offset) + m.price_tick
    for o in p.orders:  # buys run after the sells have filled
        if o.side == "buy":
            cash -= o.notional * (1 + fee) if fee_in == "quote" else o.notional
            assert cash >= 0
    assert cash == p.quote_after and p.quote_after >= 0
    # every member is either traded, dust, or already on target
    legs = {o.asset for o in p.orders} | {d.asset for d in p.dust}
    for row in p.rows:
        assert row.asset in legs or row.target_value == row.value
    assert sum(r.target for r in p.rows) == 100 and sum(r.target_value for r in p.rows) == p.total_value
