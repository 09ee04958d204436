"""A run killed mid-way (kill -9, power cut: a trigger and orders recorded, no outcome) is redone at
the very next check, `--if-due` included, not at the next calendar slot: its resting orders are
recovered (cancelled and recorded) first, then the basket is rebalanced again. An unfinished
`basket stop` sale is the exception: the bot never rebalances back into what the stop was selling."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_executor_support import D, basket, executor, fund_ledger, paper

from taxreport.exchanges.paper import CrashAt, SimulatedCrash
from taxreport.rebalance.runner import RunnerState, check_if_due, next_due, run_check


def test_a_run_killed_mid_way_is_due_at_once_and_redone_after_recovery(ledger):
    b = basket(mode="weekly", gate=D(0))
    ex = paper(balances={"USDT": D(10000)})
    ex.touch_fill_ratio = D(0)  # orders rest at the touch: the crash leaves them open on the exchange
    fund_ledger(ledger, ex)
    engine = executor(ledger, ex, b=b, hook=CrashAt("ack_recorded"))
    engine.journal.record("basket.invest", "core:test:invest", {"amount": D(10000), "quote": "USDT", "venue": "paper"})
    with pytest.raises(SimulatedCrash):
        run_check(engine, reason="invest 10000 USDT", venue="paper")
    assert len(ex.open_orders()) == 1
    # the restarted bot: the killed run is due now, whatever the weekly calendar says
    ex.touch_fill_ratio = D(1)
    ex.advance(60)
    again = executor(ledger, ex, b=b)
    book = again.journal.sync()
    [(rid, started)] = book.open_runs.items()
    due, why = next_due(b, book, RunnerState(), ex.now)
    assert due == started <= ex.now and f"redo: run {rid}" in why and "never finished" in why
    lines = []
    result = check_if_due(again, RunnerState(), venue="paper", log=lines.append)
    assert result is not None and result.status == "completed"
    assert [line.event for line in lines][:1] == ["recovered"] and rid in lines[0].data["closed"]
    assert not ex.open_orders()
    after = again.journal.sync()
    assert not after.open_runs and after.last_run is not None and after.last_run.status == "completed"
    # and now the calendar applies again: the next check is the next weekly slot, not a redo
    due, why = next_due(b, after, RunnerState(), ex.now)
    assert due is not None and due > ex.now and why == "scheduled weekly run"


def test_an_unfinished_stop_is_never_redone_as_a_rebalance_that_buys_back(ledger):
    from taxreport.rebalance.holdings import BasketBook

    b = basket(mode="weekly", gate=D(0))
    ex = paper(balances={"USDT": D(10000)})
    fund_ledger(ledger, ex)
    engine = executor(ledger, ex, b=b)
    engine.journal.record("basket.invest", "core:test:invest", {"amount": D(10000), "quote": "USDT", "venue": "paper"})
    assert run_check(engine, reason="invest", venue="paper").status == "completed"
    # `basket stop`: its sale does not fill (the book stops matching), so the stop is incomplete
    ex.touch_fill_ratio = D(0)
    stop = run_check(engine, reason="basket stop: sell every member", venue="paper", liquidate=True)
    assert stop.status == "incomplete"
    book = engine.journal.sync()
    assert book.stopping == stop.run.rebalance_id and book.state == "active"
    assert BasketBook.from_state(book.to_state()).stopping == book.stopping  # the checkpoint keeps it
    # cron / the daemon: an incomplete run is normally redone at once, but this one was a stop: the bot
    # must not rebalance back into the coins it was selling; it waits for `basket stop` again
    ex.touch_fill_ratio = D(1)
    held = ex.total_balances()
    due, why = next_due(b, book, RunnerState(), ex.now + timedelta(days=8))
    assert due is None and "`basket stop` of core did not finish" in why
    lines = []
    assert check_if_due(engine, RunnerState(), venue="paper", log=lines.append, force=True) is None
    assert ex.total_balances() == held and "did not finish" in lines[-1].message
    # `basket stop` again finishes the sale and writes basket.stop: the flag is gone
    again = run_check(engine, reason="basket stop: sell every member", venue="paper", liquidate=True)
    assert again.status == "completed"
    engine.journal.record("basket.stop", "core:test:stop", {"keep_assets": False, "venue": "paper", "released": {}})
    after = engine.journal.sync()
    assert after.stopping is None and after.state == "stopped"
