"""The executor on the paper exchange: what it writes, timeouts that landed, retries, rejects,
partial fills with re-pricing, a market finish, and the OKX fee convention reaching the lots."""

from __future__ import annotations

import pytest

from taxreport.exchanges.paper import CrashAt
from taxreport.model.events import Record, Trade
from taxreport.model.legs import LegKind, legs_of
from taxreport.rebalance.executor import ExecConfig
from taxreport.rebalance.ids import client_order_id
from taxreport.rebalance.recovery import ExchangeUnavailable, ExecutionError

from test_executor_support import D, assert_consistent, basket, executor, fund_ledger, paper, plan_now, run_once


def records(ledger, record_type=None):
    return [e for e in ledger.events(kinds=["record"])
            if isinstance(e, Record) and (record_type is None or e.record_type == record_type)]


def test_a_run_writes_trigger_plan_intent_before_order_fills_and_done(ledger):
    ex = paper()
    fund_ledger(ledger, ex)
    result = run_once(ledger, ex, invest=D(10000))
    assert result.status == "completed"
    assert [leg.status for leg in result.legs] == ["filled", "filled", "filled"]
    types = [r.record_type for r in records(ledger)]
    assert types[:2] == ["rebalance.trigger", "rebalance.plan"] and types[-1] == "rebalance.done"
    rid = result.rebalance_id
    # Deterministic ids: leg 0 attempt 0 of this rebalance.
    assert result.legs[0].orders == [client_order_id("core", rid, 0, 0)]
    # For every order: intent is written before the exchange order exists (seq order in the ledger),
    # then "accepted", then fills, then the terminal update.
    for cid in (c for leg in result.legs for c in leg.orders):
        kinds = [(e.kind, getattr(e, "record_type", None), (e.data.get("status") if isinstance(e, Record) else None))
                 for e in ledger.events(order_ref=cid)]
        assert kinds[0] == ("record", "order.intent", None)
        assert kinds[1] == ("record", "order.update", "accepted")
        assert kinds[-1] == ("record", "order.update", "closed")
        assert all(k[0] == "trade" for k in kinds[2:-1]) and len(kinds) >= 4
    done = records(ledger, "rebalance.done")[0].data
    assert done["status"] == "completed" and done["rebalance_id"] == rid
    assert_consistent(ledger, ex)


def test_okx_buy_fee_in_base_makes_the_lot_net_of_the_fee(ledger):
    ex = paper()
    fund_ledger(ledger, ex)
    run_once(ledger, ex, invest=D(10000))
    btc = [t for t in ledger.events(kinds=["trade"]) if isinstance(t, Trade) and t.base == "BTC"]
    [trade] = btc
    # Plan: 50% of 10000 = 5000 USDT at the valuation price 60000 -> 0.08333333 BTC (truncated to 1e-8).
    # Resting at the bid 59994, filled as maker: fee 0.08% of 0.08333333 = 0.000066666664 BTC.
    assert (trade.quantity, trade.price, trade.fee, trade.fee_asset) == (
        D("0.08333333"), D("59994"), D("0.000066666664"), "BTC")
    acquire = [leg for leg in legs_of([trade]) if leg.kind is LegKind.ACQUIRE][0]
    assert acquire.quantity == D("0.08333333") - D("0.000066666664")  # lot net of the fee
    assert acquire.value_quantity == D("0.08333333") * D("59994")  # cost = what was paid


def test_timeout_after_the_order_landed_is_looked_up_not_resent(ledger):
    ex = paper()
    fund_ledger(ledger, ex)
    ex.inject("create_order", "timeout_after")
    result = run_once(ledger, ex, invest=D(10000))
    orders = [c for leg in result.legs for c in leg.orders]
    assert ex.calls["create_order"] == len(orders) == 3  # no second create for the timed-out one
    assert len(ex.all_orders()) == 3
    assert_consistent(ledger, ex)


def test_timeout_before_landing_is_never_resent_a_new_id_follows_after_expiry(ledger):
    # Safety argument A/C: a timed-out create is never sent again under its id; after its expTime
    # (10 s) + margin (2 s) the look-ups of the order and of fills find nothing: "missing", new id.
    ex = paper()
    fund_ledger(ledger, ex)
    ex.inject("create_order", "timeout", times=2)
    start = ex.now
    result = run_once(ledger, ex, invest=D(10000))
    assert ex.calls["create_order"] == 3 + 2
    assert [len(leg.orders) for leg in result.legs] == [3, 1, 1]
    first, second = result.legs[0].orders[:2]
    missing = {r.order_id: r.data["note"] for r in records(ledger, "order.update") if r.data["status"] == "missing"}
    assert set(missing) == {first, second} and "expTime" in missing[first]
    assert (ex.now - start).total_seconds() >= 2 * 12  # waited past each expTime before concluding
    assert_consistent(ledger, ex)


def test_rate_limits_are_retried_with_bounded_exponential_backoff(ledger):
    ex = paper()
    fund_ledger(ledger, ex)
    slept = []
    ex.inject("fetch_order", "rate_limit", times=3)
    ex_ = executor(ledger, ex, config=ExecConfig(fill_timeout=20, poll_interval=5, backoff=0.5))
    ex_.sleep = ex_.retrier.sleep = lambda s: (slept.append(s), ex.advance(s))
    ex_.recover()
    ex_.execute(plan_now(ex, invest=D(10000)))
    assert [s for s in slept if s != 5] == [0.5, 1.0, 2.0]
    assert len(ex_.retrier.log) == 3
    assert_consistent(ledger, ex)


def test_reject_fails_fast_with_a_clear_message_and_is_recorded(ledger):
    ex = paper()
    fund_ledger(ledger, ex)
    ex.inject("create_order", "reject", message="51121 order quantity must be a multiple of the lot size")
    with pytest.raises(ExecutionError, match=r"paper refused buy 0\.08333333 BTC/USDT \(order tr\w+\): .*51121"):
        run_once(ledger, ex, invest=D(10000))
    assert ex.calls["create_order"] == 1  # no retry of a refusal
    [done] = records(ledger, "rebalance.done")
    assert done.data["status"] == "failed" and "51121" in done.data["error"]
    assert [u.data["status"] for u in records(ledger, "order.update")] == ["rejected"]
    assert_consistent(ledger, ex)


def test_network_errors_on_every_create_never_resend_an_id(ledger):
    ex = paper()
    fund_ledger(ledger, ex)
    ex.inject("create_order", "network", times=10)
    result = run_once(ledger, ex, invest=D(10000), config=ExecConfig(retries=2, backoff=0.1, reprices=3))
    sent = [c for leg in result.legs for c in leg.orders]
    assert ex.calls["create_order"] == len(sent) == len(set(sent)) == 4 + 4 + 3  # 10 lost, the 11th lands
    assert [leg.status for leg in result.legs] == ["unfilled", "unfilled", "filled"]
    statuses = {r.order_id: r.data["status"] for r in records(ledger, "order.update") if r.data["status"] != "accepted"}
    assert sorted(statuses.values()).count("missing") == 10
    assert executor(ledger, ex).recover().empty
    assert_consistent(ledger, ex)


def test_cancel_that_timed_out_after_cancelling_is_confirmed_by_lookup(ledger):
    ex = paper(touch_fill_ratio=D(0))
    fund_ledger(ledger, ex)
    ex.inject("cancel_order", "timeout_after")
    result = run_once(ledger, ex, invest=D(10000), config=ExecConfig(fill_timeout=10, poll_interval=5, reprices=0))
    assert [leg.status for leg in result.legs] == ["unfilled"] * 3
    assert ex.calls["cancel_order"] == 3
    assert_consistent(ledger, ex)


def test_order_filling_just_before_the_cancel_is_recorded_as_closed(ledger):
    ex = paper(touch_fill_ratio=D(0))
    fund_ledger(ledger, ex)

    def fill_first(step):
        if step == "before_cancel" and not ex.fills:
            ex.set_price("BTC", D("59000"))  # the market moves through the resting buy
            ex.advance(0)

    result = run_once(ledger, ex, invest=D(10000), hook=fill_first,
                      config=ExecConfig(fill_timeout=10, poll_interval=5, reprices=0))
    assert result.legs[0].status == "filled"
    closed = [u for u in records(ledger, "order.update") if u.data["status"] == "closed"]
    assert len(closed) == 1
    assert_consistent(ledger, ex)


def test_partial_fills_are_repriced_at_the_new_touch_with_new_ids(ledger):
    ex = paper(touch_fill_ratio=D("0.5"))
    fund_ledger(ledger, ex)

    def move(step):
        if step == "order_finished":
            ex.set_price("BTC", ex.prices["BTC/USDT"] + 100)

    config = ExecConfig(fill_timeout=5, poll_interval=5, reprices=2)
    result = run_once(ledger, ex, invest=D(10000), hook=move, config=config)
    btc = result.legs[0]
    assert len(btc.orders) == 3 and len(set(btc.orders)) == 3
    intents = [r for r in records(ledger, "order.intent") if r.data["asset"] == "BTC"]
    # bids: 60000 -> 59994, then mid 60100 -> 60093.9, then 60200 -> 60193.9 (tick 0.1, 2 bps spread)
    assert [D(r.data["price"]) for r in intents] == [D("59994"), D("60093.9"), D("60193.9")]
    # Each attempt fills half of its remainder: 0.08333333 -> 0.04166666 (1e-8 step, truncated) ...
    amounts = [D(r.data["amount"]) for r in intents]
    assert amounts == [D("0.08333333"), D("0.04166667"), D("0.02083334")]
    assert btc.filled == D("0.04166666") + D("0.02083333") + D("0.01041667")
    assert btc.status == "partial"
    assert_consistent(ledger, ex)


def test_market_finish_fills_the_remainder(ledger):
    ex = paper(touch_fill_ratio=D(0))
    fund_ledger(ledger, ex)
    # (invest 9900 of the 10000: market buys pay the ask, above the valuation price of the plan)
    result = run_once(ledger, ex, invest=D(9900),
                      config=ExecConfig(fill_timeout=5, poll_interval=5, reprices=1, market_finish=True))
    assert [leg.status for leg in result.legs] == ["filled"] * 3
    market = [r for r in records(ledger, "order.intent") if r.data["type"] == "market"]
    assert len(market) == 3 and all(r.data["attempt"] == 2 for r in market)
    assert all(f.taker_or_maker == "taker" for f in ex.fills)
    assert_consistent(ledger, ex)


def test_remainder_below_the_minimum_is_dust_not_retried(ledger):
    ex = paper(touch_fill_ratio=D("0.99"))
    fund_ledger(ledger, ex)
    result = run_once(ledger, ex, invest=D(10000), config=ExecConfig(fill_timeout=5, poll_interval=5, reprices=3))
    btc = result.legs[0]
    # 99% of 0.08333333 fills (0.08249999, truncated); the remainder 0.00083334 BTC is worth ~50 USDT,
    # above the 5 USDT minimum, so it is re-priced once; 1% of that is below the 0.00001 BTC minimum.
    assert len(btc.orders) == 2
    assert "below minimum amount" in btc.note
    assert_consistent(ledger, ex)


def test_crash_hook_sees_every_step_of_a_normal_run(ledger):
    ex = paper(touch_fill_ratio=D("0.5"))
    fund_ledger(ledger, ex)
    seen = CrashAt("none")
    run_once(ledger, ex, invest=D(10000), hook=seen, config=ExecConfig(fill_timeout=10, poll_interval=5, reprices=1))
    from taxreport.rebalance.executor import STEPS

    assert set(STEPS) <= set(seen.steps)


def test_basket_account_is_the_ledger_account(ledger):
    ex = paper()
    fund_ledger(ledger, ex, account="okx:sub1")
    run_once(ledger, ex, invest=D(10000), b=basket(account="okx:sub1"))
    assert {t.account for t in ledger.events(kinds=["trade"])} == {"okx:sub1"}
    assert_consistent(ledger, ex, account="okx:sub1")


def test_order_still_open_after_cancel_gets_no_final_state_until_recovered(ledger, monkeypatch):
    ex = paper(touch_fill_ratio=D(0))
    fund_ledger(ledger, ex)
    real_cancel = ex.cancel_order
    monkeypatch.setattr(ex, "cancel_order", lambda symbol, order_id: ex.fetch_order_by_client_id(
        symbol, next(o.client_order_id for o in ex.all_orders() if o.id == order_id)))  # "accepted", not done
    with pytest.raises(ExchangeUnavailable, match="still open"):
        run_once(ledger, ex, invest=D(10000), config=ExecConfig(fill_timeout=5, poll_interval=5, reprices=0))
    assert [u.data["status"] for u in records(ledger, "order.update")] == ["accepted"]
    ex.advance(1)
    monkeypatch.setattr(ex, "cancel_order", real_cancel)
    executor(ledger, ex).recover()
    assert_consistent(ledger, ex)
