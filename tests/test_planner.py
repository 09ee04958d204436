"""The pure planner: the issue's worked example, fees, precision, minimums, funding, liquidation."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D
from pathlib import Path

import pytest

from taxreport.errors import InputError, MissingDataError
from taxreport.exchanges.base import Market, Ticker
from taxreport.exchanges.markets import markets_from_fixture
from taxreport.rebalance.basket import parse_basket
from taxreport.rebalance.planner import plan, plan_liquidation, plan_to_dict, round_to_tick, truncate_to_step

MARKETS = markets_from_fixture(Path(__file__).parent / "fixtures" / "okx_markets.json")
CORE = parse_basket('name = "core"\n[weights]\nBTC = 50\nETH = 30\nSOL = 20\n')
# The worked example: BTC 0.1 x 55,000 = $5,500; ETH 1 x 2,850 = $2,850; SOL 10.5 x 200 = $2,100.
BALANCES = {"BTC": D("0.1"), "ETH": D(1), "SOL": D("10.5"), "USDT": D(0)}
PRICES = {"BTC": D(55000), "ETH": D(2850), "SOL": D(200)}


def legs(p):
    return [(o.side, o.asset, o.quantity, o.limit_price, o.notional) for o in p.orders]


def test_worked_example_without_fees():
    # total 10,450; targets 50% = 5,225, 30% = 3,135, 20% = 2,090
    # BTC 5,500 - 5,225 = sell 275 = 0.005 BTC; ETH 3,135 - 2,850 = buy 285 = 0.1 ETH;
    # SOL 2,100 - 2,090 = sell 10 = 0.05 SOL. Sells first (largest first), then buys.
    p = plan(CORE, BALANCES, PRICES, MARKETS, fee_rate=D(0))
    assert p.total_value == D(10450)
    assert [(r.asset, r.value, r.target_value) for r in p.rows] == [
        ("BTC", D(5500), D(5225)), ("ETH", D(2850), D(3135)), ("SOL", D(2100), D(2090))]
    assert legs(p) == [("sell", "BTC", D("0.005"), D(55000), D(275)),
                       ("sell", "SOL", D("0.05"), D(200), D(10)),
                       ("buy", "ETH", D("0.1"), D(2850), D(285))]
    assert p.dust == () and p.notes == () and p.skipped is None
    assert p.quote_balance == 0 and p.quote_after == 0  # 0 + 275 + 10 - 285
    # ETH weight 2,850 / 10,450 = 27.2727…% -> drift -2.7272…pp, the largest (BTC is +2.63pp)
    assert p.max_drift == 30 - D(2850) / D(10450) * 100
    assert str(p.max_drift).startswith("2.727272727272")


def test_worked_example_with_fees_charged_in_quote_scales_buys():
    # fee 0.1%: sells net 285 x 0.999 = 284.715 USDT; the buy would cost 285 x 1.001 = 285.285
    # -> factor 284.715 / 285.285 = 0.998002…; 0.1 ETH x factor = 0.0998002… -> truncated to the
    # 0.000001 step: 0.099800 ETH = 284.43 USDT, + fee 0.28443 = 284.71443; left 0.00057 USDT.
    p = plan(CORE, BALANCES, PRICES, MARKETS, fee_rate=D("0.001"), buy_fee_in="quote")
    assert legs(p)[:2] == [("sell", "BTC", D("0.005"), D(55000), D(275)),
                           ("sell", "SOL", D("0.05"), D(200), D(10))]
    assert legs(p)[2] == ("buy", "ETH", D("0.0998"), D(2850), D("284.43"))
    assert p.quote_after == D("0.00057")
    assert p.notes == ("buys scaled to 99.80% to fit the 284.715 USDT available after sells and fees "
                       "(they would cost 285.285)",)


def test_worked_example_with_okx_fees_in_the_coin_bought():
    # OKX charges a spot buy's fee in ETH, so the buy costs its notional: 285 > 284.715 available
    # -> factor 0.999 -> 0.0999 ETH = 284.715 USDT exactly; nothing left, never negative.
    p = plan(CORE, BALANCES, PRICES, MARKETS, fee_rate=D("0.001"), buy_fee_in="base")
    assert legs(p)[2] == ("buy", "ETH", D("0.0999"), D(2850), D("284.715"))
    assert p.quote_after == 0


def test_market_fees_are_used_when_no_fee_rate_is_given():
    # fixture taker fee 0.1% -> the same as fee_rate=0.001
    assert legs(plan(CORE, BALANCES, PRICES, MARKETS)) == legs(plan(CORE, BALANCES, PRICES, MARKETS,
                                                                    fee_rate=D("0.001")))


def test_quote_cash_funds_the_fees_without_scaling():
    # 1 USDT + 284.715 net = 285.715 >= 285.285: buy the full 0.1 ETH; left 285.715 - 285.285 = 0.43
    p = plan(CORE, {**BALANCES, "USDT": D(1)}, PRICES, MARKETS, fee_rate=D("0.001"))
    assert legs(p)[2] == ("buy", "ETH", D("0.1"), D(2850), D(285))
    assert p.quote_after == D("0.43") and p.notes == ()
    assert p.total_value == D(10450)  # non-member cash is funding, not part of the basket


def test_amount_truncated_to_step_never_rounded_up():
    # BTC 0.1 @ 30,001 = 3,000.1; ETH 3 @ 1,000 = 3,000: total 6,000.1, targets 3,000.05 ->
    # sell 0.05 USDT = 0.0000016666… BTC (truncated 0.00000166 < min 0.00001) and buy 0.05 USDT =
    # 0.00005 ETH (< min 0.0001): both dust even with no minimum notional.
    b = parse_basket('name="two"\nmin_notional = 0\n[weights]\nBTC = 50\nETH = 50\n')
    p = plan(b, {"BTC": D("0.1"), "ETH": D(3)}, {"BTC": D(30001), "ETH": D(1000)}, MARKETS, fee_rate=D(0))
    assert p.orders == ()
    assert [(d.asset, d.side, d.reason) for d in p.dust] == [
        ("BTC", "sell", "below minimum amount 0.00001 BTC"), ("ETH", "buy", "below minimum amount 0.0001 ETH")]
    # sell $100 of BTC at 30,000 = 0.00333333… BTC -> 0.00333333 (8 decimals, truncated)
    p = plan(b, {"BTC": D("0.2"), "ETH": D("5.8")}, {"BTC": D(30000), "ETH": D(1000)}, MARKETS, fee_rate=D(0))
    sell = next(o for o in p.orders if o.side == "sell")
    assert sell.quantity == D("0.00333333") and sell.notional == D("99.9999")
    # the ETH buy wants 100 USDT = 0.1 ETH but the truncated sell gave only 99.9999: scaled by
    # 0.999999 to 0.0999999 -> truncated 0.099999 ETH = 99.999; left 99.9999 - 99.999 = 0.0009
    buy = next(o for o in p.orders if o.side == "buy")
    assert buy.quantity == D("0.099999") and buy.notional == D("99.999")
    assert p.quote_after == D("0.0009")


def test_helpers_truncate_and_round_directionally():
    assert truncate_to_step(D("0.123456789"), D("0.00000001")) == D("0.12345678")
    assert truncate_to_step(D("7"), D("0.5")) == D(7) and truncate_to_step(D("7.49"), D("0.5")) == D(7)
    assert round_to_tick(D("54945.2997"), D("0.1"), "sell") == D("54945.3")
    assert round_to_tick(D("2852.92007"), D("0.01"), "buy") == D("2852.92")


def test_limit_prices_at_the_touch_with_offset_on_tick():
    now = datetime(2026, 1, 5, tzinfo=timezone.utc)
    tickers = {"BTC/USDT": Ticker("BTC/USDT", D("55000.3"), D("55000.4"), D(55000), now),
               "ETH/USDT": Ticker("ETH/USDT", D("2849.9"), D("2850.07"), D(2850), now),
               "SOL/USDT": Ticker("SOL/USDT", D("199.99"), D("200.01"), D(200), now)}
    at_touch = plan(CORE, BALANCES, PRICES, MARKETS, fee_rate=D(0), tickers=tickers)
    assert [o.limit_price for o in at_touch.orders] == [D("55000.3"), D("199.99"), D("2850.07")]
    # 0.1% through the touch: sell 55000.3 x 0.999 = 54945.2997 -> up to 54945.3; SOL 199.99 x 0.999
    # = 199.79001 -> 199.80; buy 2850.07 x 1.001 = 2852.92007 -> down to 2852.92
    crossed = plan(CORE, BALANCES, PRICES, MARKETS, fee_rate=D(0), tickers=tickers, price_offset=D("0.001"))
    assert [o.limit_price for o in crossed.orders] == [D("54945.3"), D("199.80"), D("2852.92")]
    # quantities come from the valuation price, notional from the limit price
    assert crossed.orders[0].quantity == D("0.005") and crossed.orders[0].notional == D("274.7265")


def test_legs_below_minimums_are_dust_with_reasons():
    # BTC 0.01 x 55,000 = 550; SOL 2.7525 x 200 = 550.5: total 1,100.5, targets 550.25 ->
    # buy 0.25 USDT of BTC = 0.0000045 BTC (< min amount 0.00001) and sell 0.25 USDT of SOL =
    # 0.00125 SOL (above SOL's min amount 0.001, but 0.25 USDT < min_notional 5): both dust
    b = parse_basket('name="d"\n[weights]\nBTC = 50\nSOL = 50\n')
    p = plan(b, {"BTC": D("0.01"), "SOL": D("2.7525")}, {"BTC": D(55000), "SOL": D(200)}, MARKETS, fee_rate=D(0))
    assert p.orders == ()
    reasons = {(d.asset, d.side): d.reason for d in p.dust}
    assert reasons == {("SOL", "sell"): "below minimum notional 5 USDT",
                       ("BTC", "buy"): "below minimum amount 0.00001 BTC"}
    assert any("dropped as dust" in n for n in p.notes)
    # the dust quantity is for reading: 0.25 / 55,000 = 0.0000045454… cut to 1/1000 of the step
    assert {d.asset: d.quantity for d in p.dust} == {"SOL": D("0.00125"), "BTC": D("0.00000454545")}


def test_exchange_min_cost_is_enforced_when_the_market_has_one():
    markets = dict(MARKETS)
    markets["SOL/USDT"] = Market("SOL/USDT", "SOL", "USDT", D("0.000001"), D("0.01"), D("0.001"), D(20),
                                 D(0), D(0))
    p = plan(CORE, BALANCES, PRICES, markets, fee_rate=D(0))
    assert [d.reason for d in p.dust] == ["below the exchange minimum cost 20 USDT"]
    assert [o.asset for o in p.orders] == ["BTC", "ETH"]
    # the SOL sell is dropped, so the ETH buy is funded by 275 only: 275 / 2850 -> 0.096491 ETH
    assert p.orders[1].quantity == D("0.096491") and p.quote_after == D("0.0006500")


def test_quote_stablecoin_member_is_never_traded():
    # BTC 0.2 x 50,000 = 10,000 and no USDT: target 90/10 -> sell 1,000 USDT of BTC = 0.02 BTC
    b = parse_basket('name="cash"\n[weights]\nBTC = 90\nUSDT = 10\n')
    p = plan(b, {"BTC": D("0.2")}, {"BTC": D(50000)}, MARKETS, fee_rate=D("0.001"))
    assert legs(p) == [("sell", "BTC", D("0.02"), D(50000), D(1000))]
    assert [r.asset for r in p.rows] == ["BTC", "USDT"] and p.rows[1].target_value == D(1000)
    assert p.quote_after == D(999)  # 1,000 less the 0.1% fee


def test_invest_buys_to_target_weights():
    # 1,000 USDT invested into an empty basket: 500 / 300 / 200 at 55,000 / 2,850 / 200
    # BTC 500/55000 = 0.00909090… -> 0.00909090; ETH 300/2850 = 0.105263… -> 0.105263; SOL 1
    p = plan(CORE, {"USDT": D(1000)}, PRICES, MARKETS, fee_rate=D(0), invest=D(1000))
    assert legs(p) == [("buy", "BTC", D("0.0090909"), D(55000), D("499.9995")),
                       ("buy", "ETH", D("0.105263"), D(2850), D("299.99955")),
                       ("buy", "SOL", D(1), D(200), D(200))]
    assert p.quote_after == D("0.00095")
    with pytest.raises(InputError, match="cannot invest 1000 USDT: only 999 USDT available"):
        plan(CORE, {"USDT": D(999)}, PRICES, MARKETS, invest=D(1000))


def test_refusals():
    with pytest.raises(MissingDataError, match="no price for SOL in USDT"):
        plan(CORE, BALANCES, {"BTC": D(1), "ETH": D(1)}, MARKETS)
    with pytest.raises(InputError, match="no market SOL/USDT on okx"):
        plan(CORE, BALANCES, PRICES, {k: v for k, v in MARKETS.items() if k != "SOL/USDT"})
    with pytest.raises(InputError, match="holds nothing to rebalance"):
        plan(CORE, {"USDT": D(50)}, PRICES, MARKETS)
    with pytest.raises(InputError, match="negative balance for ETH"):
        plan(CORE, {**BALANCES, "ETH": D(-1)}, PRICES, MARKETS)
    with pytest.raises(InputError, match="is not a Decimal"):
        plan(CORE, {**BALANCES, "ETH": 1.0}, PRICES, MARKETS)


def test_gate_check_skips_small_drift():
    # weekly basket, gate 3pp: the example's largest drift is BTC +2.63pp -> a scheduled run skips
    p = plan(CORE, BALANCES, PRICES, MARKETS, gate_check=True)
    assert p.orders == () and p.skipped == "no asset drifts more than the 3pp gate (largest: ETH -2.73pp)"
    assert p.quote_after == 0
    gate0 = parse_basket('name="g"\ngate = 0\n[weights]\nBTC = 50\nETH = 30\nSOL = 20\n')
    assert len(plan(gate0, BALANCES, PRICES, MARKETS, gate_check=True).orders) == 3


def test_liquidation_sells_everything_and_reports_remainders():
    p = plan_liquidation(CORE, {"BTC": D("0.123456789"), "ETH": D(1), "SOL": D("0.0004")}, PRICES, MARKETS,
                         fee_rate=D(0))
    assert legs(p) == [("sell", "BTC", D("0.12345678"), D(55000), D("6790.1229")),
                       ("sell", "ETH", D(1), D(2850), D(2850))]
    assert [(d.asset, d.reason) for d in p.dust] == [("SOL", "below minimum amount 0.001 SOL")]
    assert p.quote_after == D("9640.1229")


def test_plan_to_dict_is_json_ready():
    from taxreport.cli.common import to_jsonable

    data = to_jsonable(plan_to_dict(plan(CORE, BALANCES, PRICES, MARKETS, fee_rate=D(0))))
    assert data["orders"][0] == {"asset": "BTC", "symbol": "BTC/USDT", "side": "sell", "quantity": "0.005",
                                 "limit_price": "55000", "notional": "275.000"}
    assert data["total_value"] == "10450.0" and data["dust"] == []
