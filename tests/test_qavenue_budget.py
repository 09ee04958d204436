"""The executor spends only the basket's own quote cash (QA round 12, helper qavenue).

The planner funds a rebalance's buys with the basket's cash plus the proceeds of its sells. When a
sell leg brings in less than planned (it could not be funded, filled partly, was left pending), the
buys used to be capped only by the ACCOUNT's free quote, so they spent cash that is not the
basket's: the user's own USDT, or another basket's sharing the account. Now every buy is capped by
the basket's budget: its quote cash before the run + what its sells actually brought in - what its
buys already cost."""

from __future__ import annotations

from decimal import Decimal

from taxreport.exchanges.base import OrderRequest
from taxreport.model.events import Record, Trade
from taxreport.rebalance.executor import ExecConfig
from taxreport.rebalance.planner import plan

from test_executor_support import D, basket, executor, paper

MIDS = {"BTC": D("60000"), "ETH": D("3000")}


def _two_coin_basket():
    return basket(weights={"BTC": D(50), "ETH": D(50)})


def _intents(ledger):
    return [e for e in ledger.events(kinds=["record"])
            if isinstance(e, Record) and e.record_type == "order.intent"]


def test_buys_never_spend_cash_the_basket_does_not_own_when_its_sell_brings_nothing(ledger):
    # The account: 10,000 USDT of the user's own money and 1 ETH, the basket's only holding.
    ex = paper(balances={"USDT": D(10000), "ETH": D(1)}, prices=MIDS)
    # The user sold that ETH by hand in the app meanwhile (a resting order far above the market
    # locks it): the basket's sell leg cannot be funded and brings in nothing.
    ex.create_order(OrderRequest("manual1", "ETH/USDT", "sell", "limit", D(1), D(9000)))
    b = _two_coin_basket()
    # The basket's own balances: 1 ETH, no cash -> sell 0.5 ETH (~1,500 USDT), buy ~0.025 BTC with it.
    p = plan(b, {"ETH": D(1), "USDT": D(0)}, MIDS, ex.markets, buy_fee_in="base")
    assert [(o.side, o.asset) for o in p.orders] == [("sell", "ETH"), ("buy", "BTC")]
    assert p.quote_balance == 0
    engine = executor(ledger, ex, b=b, config=ExecConfig(fill_timeout=5, poll_interval=5, reprices=0))
    engine.recover()
    result = engine.execute(p, trigger={"reason": "test"})
    sell, buy = result.legs
    assert sell.filled == 0 and "cannot be funded" in sell.note
    # Before the fix: the BTC buy went out for the planned 0.024975 BTC (1,498.50 USDT of the
    # user's cash). Now no buy order is sent at all: the basket has no cash of its own.
    assert buy.orders == [] and buy.filled == 0
    assert "basket's own cash" in buy.note
    assert _intents(ledger) == []  # no order was sent for either leg
    assert ex.balances["USDT"] == D(10000)
    assert not [t for t in ledger.events(kinds=["trade"]) if isinstance(t, Trade)]


def test_a_partly_filled_sell_funds_only_what_it_brought_in(ledger):
    # Same basket, but 0.2 of its 1 ETH are free: the sell leg sells 0.2 ETH (taker at the bid
    # 2999.7: its limit 3000.3 - 100 ticks of 0.01 = 2999.3 crosses) and brings in 0.2 * 2999.7 - 0.1% fee = 599.34006 USDT.
    ex = paper(balances={"USDT": D(10000), "ETH": D(1)}, prices=MIDS)
    ex.create_order(OrderRequest("manual1", "ETH/USDT", "sell", "limit", D("0.8"), D(9000)))
    b = _two_coin_basket()
    p = plan(b, {"ETH": D(1), "USDT": D(0)}, MIDS, ex.markets, buy_fee_in="base")
    engine = executor(ledger, ex, b=b, config=ExecConfig(fill_timeout=5, poll_interval=5, reprices=0,
                                                          offset_ticks=100))
    engine.recover()
    result = engine.execute(p, trigger={"reason": "test"})
    sell, buy = result.legs
    assert sell.filled == D("0.2")
    trades = [t for t in ledger.events(kinds=["trade"]) if isinstance(t, Trade)]
    sold = [t for t in trades if t.side.value == "sell"]
    proceeds = sum((t.quantity * t.price - t.fee for t in sold), Decimal(0))
    bought = [t for t in trades if t.side.value == "buy"]
    spent = sum((t.quantity * t.price for t in bought), Decimal(0))
    assert proceeds == D("0.2") * D("2999.7") * (1 - D("0.001"))
    # The buy is capped by those proceeds (the planned 0.024975 BTC would have cost 1,498.50 USDT):
    # BTC bid 59994 + 100 ticks of 0.1 = limit 60004; 599.34006 / 60004 = 0.009988335..., truncated
    # to the 1e-8 step: 0.00998833 BTC, costing 599.33975332 USDT (filled as maker at its limit).
    assert [(t.quantity, t.price) for t in bought] == [(D("0.00998833"), D("60004"))]
    assert spent == D("599.33975332") <= proceeds == D("599.34006")
    assert buy.status == "partial" and buy.filled == D("0.00998833")
    assert ex.balances["USDT"] >= D(10000)  # the user's own cash is untouched
