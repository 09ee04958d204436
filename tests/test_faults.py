"""The fault suite: for every step boundary of the executor, crash -> restart (a new process: new
Ledger connection, new Executor, the exchange state reloaded from its JSON form, and the market
moving on while we were down) -> recover -> assert the ledger and the exchange agree exactly:
orders by client order id, no duplicate orders, every fill recorded once, balances reconciled."""

from __future__ import annotations

import pytest

from taxreport.exchanges.paper import CrashAt, PaperExchange, SimulatedCrash
from taxreport.ledger import Ledger
from taxreport.model.events import Record
from taxreport.rebalance.executor import STEPS, ExecConfig

from test_executor_support import D, assert_consistent, executor, fund_ledger, paper, run_once

CONFIG = ExecConfig(fill_timeout=10, poll_interval=5, reprices=1)
REPEATED = ("intent_written", "exchange.accepted", "order_acknowledged", "ack_recorded", "fill_recorded",
            "before_cancel", "exchange.canceled", "after_cancel", "order_finished", "leg_finished")
CASES = ([(s, 1) for s in STEPS] + [(s, 2) for s in REPEATED]
         + [("fill_recorded", 7), ("order_finished", 5), ("exchange.accepted", 6)])


def _restart(tmp_path, ex: PaperExchange) -> tuple[Ledger, PaperExchange]:
    """A new process: the ledger reopened, the exchange reloaded from its persisted state; the
    market keeps trading while the bot is down (resting orders may fill)."""
    led = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    again = PaperExchange.from_state(ex.to_state())
    again.advance(30)
    return led, again


def _crashing_run(tmp_path, step: str, occurrence: int):
    led = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    ex = paper(touch_fill_ratio=D("0.5"))
    fund_ledger(led, ex)
    crash = CrashAt(step, occurrence)
    with pytest.raises(SimulatedCrash):
        run_once(led, ex, hook=crash, config=CONFIG, invest=D(10000))
    assert crash.fired
    led.close()
    return ex


@pytest.mark.parametrize(("step", "occurrence"), CASES)
def test_crash_at_every_step_then_recover(tmp_path, step, occurrence):
    ex = _crashing_run(tmp_path, step, occurrence)
    orders_before = {o.client_order_id for o in ex.all_orders()}
    led, ex = _restart(tmp_path, ex)
    report = executor(led, ex, config=CONFIG).recover()
    assert_consistent(led, ex)
    # Recovery placed no order of its own.
    assert {o.client_order_id for o in ex.all_orders()} == orders_before
    done = [e for e in led.events(kinds=["record"]) if isinstance(e, Record) and e.record_type == "rebalance.done"]
    assert len(done) == 1
    assert done[0].data["status"] == ("completed" if step == "done_written" else "interrupted")
    assert (report.rebalances_closed != []) == (step != "done_written")
    # Recovery is idempotent: a second one writes nothing.
    count = led.count()
    assert executor(led, ex, config=CONFIG).recover().empty
    assert led.count() == count
    # And the basket trades on normally afterwards.
    ex.set_price("BTC", D("63000"))
    result = run_once(led, ex, config=CONFIG, invest=ex.fetch_balances()["USDT"])
    assert result.status == "completed"
    assert_consistent(led, ex)
    led.close()


@pytest.mark.parametrize("recovery_step", ["fill_recorded", "before_cancel", "exchange.canceled", "after_cancel",
                                           "order_finished", "recovered_order"])
def test_crash_during_recovery_then_recover_again(tmp_path, recovery_step):
    # Crash with an order resting (after its acknowledgement) so recovery has to cancel and record it.
    ex = _crashing_run(tmp_path, "ack_recorded", 2)
    led, ex = _restart(tmp_path, ex)
    if recovery_step in ("before_cancel", "exchange.canceled", "after_cancel"):
        ex.touch_fill_ratio = D(0)  # keep the order open so recovery must cancel it
    crash = CrashAt(recovery_step)
    with pytest.raises(SimulatedCrash):
        executor(led, ex, hook=crash, config=CONFIG).recover()
    led.close()
    led, ex = _restart(tmp_path, ex)
    executor(led, ex, config=CONFIG).recover()
    assert_consistent(led, ex)
    led.close()


def test_crash_after_landing_with_expired_order_history_is_found_by_trades(tmp_path):
    """The exchange no longer lists the order by client id (OKX keeps canceled orders for a short
    time): recovery finds its fills by trades and records them."""
    ex = _crashing_run(tmp_path, "exchange.accepted", 1)
    led, ex = _restart(tmp_path, ex)
    ex.touch_fill_ratio = D(1)
    ex.advance(1)  # the resting buy fills completely while the bot is down...
    ex.order_history_seconds = 0
    ex.advance(1)  # ...and then drops out of the exchange's order history
    assert ex.fetch_order_by_client_id("BTC/USDT", ex.all_orders()[0].client_order_id) is None
    report = executor(led, ex, config=CONFIG).recover()
    assert any("found by trades" in outcome for _, outcome in report.orders)
    assert report.fills_written >= 1
    ex.order_history_seconds = None
    assert_consistent(led, ex)


def test_crash_before_sending_marks_intent_missing_and_never_sends_it(tmp_path):
    ex = _crashing_run(tmp_path, "intent_written", 1)
    assert ex.all_orders() == []
    led, ex = _restart(tmp_path, ex)
    report = executor(led, ex, config=CONFIG).recover()
    assert [outcome for _, outcome in report.orders] == ["missing: never reached the exchange"]
    assert ex.all_orders() == []
    assert ex.calls.get("create_order", 0) == 0
    assert_consistent(led, ex)


def test_recovery_of_one_venue_leaves_another_venues_books_alone(tmp_path):
    """Paper, sandbox and live runs of one basket keep separate books (accounts): recovering the
    paper basket must not close a live rebalance or mark a live order missing."""
    ex = _crashing_run(tmp_path, "ack_recorded", 1)  # paper:core has an unfinished order and rebalance
    led, ex = _restart(tmp_path, ex)
    from test_executor_support import basket

    other = executor(led, ex, config=CONFIG, b=basket(account="okx:main"))
    assert other.journal.unfinished_intents() == [] and other.journal.unfinished_rebalances() == []
    assert other.recover().empty
    mine = executor(led, ex, config=CONFIG)
    assert len(mine.journal.unfinished_intents()) == 1
    mine.recover()
    assert_consistent(led, ex)


def test_crash_on_the_resend_after_a_timeout_leaves_one_order(tmp_path):
    led = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    ex = paper()
    fund_ledger(led, ex)
    ex.inject("create_order", "timeout")  # first send lost; the resend lands, then the process dies
    with pytest.raises(SimulatedCrash):
        run_once(led, ex, hook=CrashAt("exchange.accepted"), config=CONFIG, invest=D(10000))
    assert ex.calls["create_order"] == 2 and len(ex.all_orders()) == 1
    led.close()
    led, ex = _restart(tmp_path, ex)
    executor(led, ex, config=CONFIG).recover()
    assert len(ex.all_orders()) == 1
    assert_consistent(led, ex)


def test_accepted_order_that_vanished_without_fills_is_not_called_missing(tmp_path):
    ex = _crashing_run(tmp_path, "ack_recorded", 1)
    led, ex = _restart(tmp_path, ex)
    order = ex.open_orders()[0]
    ex.cancel_order(order.symbol, order.id)  # cancelled by someone else, then forgotten by the venue
    ex.orders[order.id].filled = D(0)
    ex.fills = [f for f in ex.fills if f.order_id != order.id]
    ex.order_history_seconds = 0
    ex.advance(1)
    report = executor(led, ex, config=CONFIG).recover()
    assert [o for _, o in report.orders] == ["canceled (no longer listed, no fills)"]


@pytest.mark.parametrize("step", ["intent_written", "exchange.accepted", "fill_recorded", "exchange.canceled"])
def test_crash_and_recovery_on_every_ledger_backend(any_ledger, step):
    ex = paper(touch_fill_ratio=D("0.5"))
    fund_ledger(any_ledger, ex)
    with pytest.raises(SimulatedCrash):
        run_once(any_ledger, ex, hook=CrashAt(step), config=CONFIG, invest=D(10000))
    ex = PaperExchange.from_state(ex.to_state())
    ex.advance(30)
    executor(any_ledger, ex, config=CONFIG).recover()
    assert_consistent(any_ledger, ex)
    run_once(any_ledger, ex, config=CONFIG, invest=ex.fetch_balances()["USDT"])
    assert_consistent(any_ledger, ex)
    assert any_ledger.verify().ok
