"""Many paper rebalances with seeded random prices, random injected faults and random crashes:
after every one the ledger and the exchange agree exactly (orders, fills, balances)."""

from __future__ import annotations

import random

from taxreport.exchanges.paper import CrashAt, SimulatedCrash
from taxreport.model.events import Record
from taxreport.rebalance.executor import STEPS, ExecConfig

from test_executor_support import D, assert_consistent, executor, fund_ledger, paper, plan_now

FAULTS = [("create_order", "timeout"), ("create_order", "timeout_after"), ("fetch_order", "rate_limit"),
          ("fetch_fills", "network"), ("cancel_order", "timeout_after"), ("fetch_tickers", "timeout"),
          ("fetch_balances", "rate_limit")]


def test_fifty_seeded_random_rebalances_with_faults_and_crashes_stay_consistent(ledger):
    rng = random.Random(20260302)
    ex = paper(touch_fill_ratio=D("0.5"))
    fund_ledger(ledger, ex)
    config = ExecConfig(fill_timeout=10, poll_interval=5, reprices=1, backoff=0.1)
    crashes = completed = 0
    for run in range(50):
        for symbol in list(ex.prices):
            step = D(rng.randint(-500, 500)) / D(10000)  # up to +/-5% per run
            ex.set_price(symbol, ex.price_to_precision(symbol, ex.prices[symbol] * (1 + step)))
        ex.touch_fill_ratio = D(rng.choice(["0.3", "0.5", "1"]))
        for _ in range(rng.randint(0, 2)):
            op, kind = rng.choice(FAULTS)
            ex.inject(op, kind, skip=rng.randint(0, 4))
        crash = CrashAt(rng.choice(STEPS), rng.randint(1, 3)) if rng.random() < 0.3 else None
        engine = executor(ledger, ex, hook=crash, config=config)
        try:
            engine.recover()
            cash = ex.total_balances().get("USDT", D(0))  # after recovery nothing is reserved
            invest = cash if cash > 50 else D(0)  # cash left over by a crashed run is invested again
            result = engine.execute(plan_now(ex, invest=invest), trigger={"reason": f"random run {run}"})
            completed += result.status == "completed"
        except SimulatedCrash:
            crashes += 1
            ex.on_step = None
            ex.advance(30)  # the market goes on while the bot is down
            executor(ledger, ex, config=config).recover()
        ex.faults.clear()
        assert_consistent(ledger, ex)
    assert crashes >= 5 and completed >= 30
    recs = [e for e in ledger.events(kinds=["record"]) if isinstance(e, Record)]
    started = [r.data["rebalance_id"] for r in recs if r.record_type == "rebalance.trigger"]
    done = [r.data["rebalance_id"] for r in recs if r.record_type == "rebalance.done"]
    assert sorted(started) == sorted(done) and len(set(done)) == len(done) >= 45  # each exactly one done
    assert ledger.verify().ok
