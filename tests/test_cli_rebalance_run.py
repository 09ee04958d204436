"""``rebalance run``, ``basket status|invest|stop|history`` end to end on the paper exchange, through
the real CLI (click's runner), with the paper state file carrying the exchange across "processes"."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.exchanges.paper import CrashAt, PaperExchange, SimulatedCrash
from taxreport.ledger import Ledger
from taxreport.model.legs import balances_of
from taxreport.rebalance.basket import resolve_basket
from taxreport.rebalance.executor import ExecConfig, Executor
from taxreport.rebalance.runner import run_check

D = Decimal
START = ["--prices", "BTC=60000,ETH=3000,SOL=150", "--at", "2026-03-02T00:00:00Z"]


@pytest.fixture
def cli(tmp_path, monkeypatch):
    db = tmp_path / "ledger.sqlite3"
    monkeypatch.setenv("TAXREPORT_DB", str(db))
    monkeypatch.setenv("COLUMNS", "200")  # rich tables unwrapped
    runner = CliRunner()

    def call(*args, input=None, ok=True):  # noqa: A002
        result = runner.invoke(root, list(args), input=input, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    call("basket", "create", "core", "--weights", "BTC=50,ETH=30,SOL=20", "--mode", "weekly")
    call.db = db
    return call


def state_file():
    from taxreport.config import data_dir

    return data_dir() / "paper" / "core.json"


def reconcile(db) -> dict:
    """Ledger balances of paper:core == the paper exchange's balances (from its state file)."""
    led = Ledger(f"sqlite:///{db}")
    try:
        ledger_bal = {a: q for (acc, a), q in balances_of(led.events()).items() if acc == "paper:core"}
        assert led.verify().ok
    finally:
        led.close()
    ex = PaperExchange.load(state_file())
    assert ledger_bal == ex.total_balances()
    return ledger_bal


def test_invest_run_status_history_and_the_ledger_reconciles(cli):
    out = cli("basket", "invest", "10000", "--basket", "core", "--paper", *START, "--format", "json").output
    first = json.loads(out)
    assert first["status"] == "completed" and [x["status"] for x in first["legs"]] == ["filled"] * 3
    cli("rebalance", "run", "--basket", "core", "--paper", "--prices", "BTC=66000,ETH=2900,SOL=140",
        "--at", "2026-03-09T00:00:00Z")
    out = cli("rebalance", "run", "--basket", "core", "--paper", "--prices", "BTC=63000,ETH=3100,SOL=160",
              "--at", "2026-03-16T00:00:00Z", "--format", "json").output
    third = json.loads(out)
    assert {x["side"] for x in third["legs"]} == {"buy", "sell"}
    held = reconcile(cli.db)
    status = json.loads(cli("basket", "status", "--basket", "core", "--paper", "--format", "json").output)
    # value = members at mid (63000, 3100, 160; spread is symmetric) + the USDT cash
    expected = held["BTC"] * 63000 + held["ETH"] * 3100 + held["SOL"] * 160 + held["USDT"]
    assert D(status["total_value"]) == expected
    assert D(status["invested"]) == D(10000)
    assert D(status["total_pnl"]) == expected - 10000
    assert status["last_rebalance"]["rebalance_id"] == third["rebalance_id"] == "20260316000000"
    assert status["next_rebalance"] == "2026-03-23T00:00:00Z"  # weekly, Monday 00:00 UTC
    # today's P&L: value now - the basket's holdings at 00:00 UTC valued at the prices seen at 00:00 (the
    # third run's plan valued exactly that), no cash invested since
    history = json.loads(cli("basket", "history", "--basket", "core", "--format", "json").output)
    assert [h["rebalance_id"] for h in history] == ["20260302000000", "20260309000000", "20260316000000"]
    assert [h["status"] for h in history] == ["completed"] * 3
    assert D(history[-1]["value_after"]) == expected  # the basket's own value after its last run
    assert D(status["value_at_day_start"]) == D(third["summary"]["total_value_before"])
    assert D(status["today_pnl"]) == expected - D(third["summary"]["total_value_before"])
    table = cli("basket", "history", "--basket", "core").output
    assert "invest 10000 USDT" in table and "manual run" in table


def test_fills_reach_the_tax_engine(cli):
    cli("basket", "invest", "10000", "--basket", "core", "--paper", *START)
    cli("rebalance", "run", "--basket", "core", "--paper", "--prices", "BTC=66000,ETH=2900,SOL=140",
        "--at", "2026-03-09T00:00:00Z")
    trades = json.loads(cli("ledger", "list", "--kind", "trade", "--format", "json").output)
    assert {t["account"] for t in trades} == {"paper:core"} and {t["source"] for t in trades} == {"paper"}
    # Issue #12: the paper account is declared simulated by its writer, so by default no paper fill is taxed.
    declared = json.loads(cli("ledger", "list", "--kind", "account", "--format", "json").output)
    assert [(d["account"], d["simulated"], d["venue"]) for d in declared] == [("paper:core", True, "paper")]
    real = json.loads(cli("gains", "-j", "us", "-y", "2026", "--peg", "USDT=USD", "--format", "json").output)
    assert real["disposals"] == [] and real["simulated"] is False
    # --include-simulated puts them back, and says so. Every fill disposes of exactly one asset (USDT for a
    # buy, the coin for a sell): one disposal each.
    gains = json.loads(cli("gains", "-j", "us", "-y", "2026", "--peg", "USDT=USD", "--include-simulated",
                           "--format", "json").output)
    assert len(gains["disposals"]) == len(trades) == 6
    assert gains["simulated"] is True and gains["notes"][0].startswith("SIMULATED")


def test_run_recovers_what_a_crashed_process_left_on_the_exchange(cli):
    cli("basket", "invest", "10000", "--basket", "core", "--paper", *START)
    # A "process" crashes with its BTC sell resting on the paper exchange (state file) ...
    ex = PaperExchange.load(state_file())
    ex.set_price("BTC", D("70000"))
    ex.touch_fill_ratio = D(0)
    basket = resolve_basket("core")[0]
    led = Ledger(f"sqlite:///{cli.db}")
    engine = Executor(led, ex, basket, account="paper:core", config=ExecConfig(fill_timeout=10, poll_interval=5),
                      sleep=ex.advance, clock=ex.clock, on_step=CrashAt("ack_recorded"))
    with pytest.raises(SimulatedCrash):
        run_check(engine, reason="crash test", venue="paper")
    led.close()
    assert len(PaperExchange.load(state_file()).open_orders()) == 1
    # ... and the next CLI run recovers it first: cancels it, records it, closes the old rebalance.
    out = cli("rebalance", "run", "--basket", "core", "--paper", "--format", "json").output
    result = json.loads(out)
    assert [r["outcome"] for r in result["recovered"]] == ["canceled (cancelled by recovery), 0 fills"]
    assert not PaperExchange.load(state_file()).open_orders()
    history = json.loads(cli("basket", "history", "--basket", "core", "--format", "json").output)
    # the paper book still fills nothing (touch_fill_ratio 0): the new run's orders rest and are cancelled,
    # so the run is NOT completed: incomplete, with why, and redone at the next check
    assert result["status"] == "incomplete" and "filled 0 of" in result["why"]
    assert [h["status"] for h in history] == ["completed", "interrupted", "incomplete"]
    assert "filled 0 of" in history[-1]["error"]
    reconcile(cli.db)


def test_stop_warns_taxable_disposal_sells_everything_and_blocks_runs(cli):
    cli("basket", "invest", "10000", "--basket", "core", "--paper", *START)
    refused = cli("basket", "stop", "--basket", "core", "--paper", input="n\n", ok=False)
    assert refused.exit_code == 1 and "TAXABLE DISPOSAL" in refused.output
    out = cli("basket", "stop", "--basket", "core", "--paper", input="y\n").output
    assert "TAXABLE DISPOSAL" in out and "SELL" in out
    held = reconcile(cli.db)
    # Only sub-minimum remainders of the members can stay behind (dust).
    assert held["USDT"] > D("9900") and held.get("BTC", 0) < D("0.00001")
    blocked = cli("rebalance", "run", "--basket", "core", "--paper", ok=False)
    assert blocked.exit_code == 1 and "was stopped" in blocked.output
    cli("basket", "invest", "100", "--basket", "core", "--paper")  # investing starts it again
    cli("rebalance", "run", "--basket", "core", "--paper")


def test_stop_keep_assets_sells_nothing(cli):
    cli("basket", "invest", "10000", "--basket", "core", "--paper", *START)
    before = reconcile(cli.db)
    out = cli("basket", "stop", "--basket", "core", "--paper", "--keep-assets").output
    assert "stopped; nothing sold, released to account paper:core: " in out
    assert reconcile(cli.db) == before
    # the coins are the account's now (as OKX's "stop, keep the assets"): the basket owns nothing
    status = json.loads(cli("basket", "status", "--basket", "core", "--paper", "--format", "json").output)
    assert status["state"] == "stopped" and D(status["total_value"]) == 0
    assert {a: D(q) for a, q in status["released"].items() if a != "USDT"} == \
        {a: q for a, q in before.items() if a != "USDT"}


def test_paper_balances_start_a_basket_holding_coins(cli):
    out = cli("rebalance", "run", "--basket", "core", "--paper", "--paper-balances", "BTC=0.1,USDT=50", *START,
              "--format", "json").output
    legs = json.loads(out)["legs"]
    assert [(x["asset"], x["side"]) for x in legs][0] == ("BTC", "sell")
    reconcile(cli.db)
    again = cli("rebalance", "run", "--basket", "core", "--paper", "--paper-balances", "USDT=5", ok=False)
    assert "exists already" in again.output


def test_loop_on_paper_runs_the_schedule_with_simulated_time(cli):
    cli("basket", "create", "daily", "--weights", "BTC=50,ETH=30,SOL=20", "--mode", "daily", "--gate", "0")
    cli("basket", "invest", "1000", "--basket", "daily", "--paper", *START)
    out = cli("rebalance", "run", "--basket", "daily", "--paper", "--loop", "--interval", "43200", "--checks", "4",
              "--walk", "3", "--seed", "11", "--at", "2026-03-02T00:01:00Z").output
    # checks at +0h (not due: invested at 00:00), +12h (not due), +24h (due), +36h (not due); every line
    # carries its UTC time; the due check's legs are all dust after a 3% walk: nothing traded, nothing recorded
    lines = out.splitlines()
    assert lines[1] == "2026-03-02T00:01:00Z INFO    daily: not due (scheduled daily run at 2026-03-03T00:00:00Z)"
    assert out.count("not due") == 3
    assert lines[3].startswith("2026-03-03T00:01:00Z INFO    daily: nothing to trade (every leg is dust: ")
    assert lines[3].endswith("nothing recorded")
    assert lines[-1] == "2026-03-03T12:01:00Z INFO    bot stopped: loop ended after 4 check(s)"
    led = Ledger(f"sqlite:///{cli.db}")
    assert not [e for e in led.events(kinds=["record"]) if e.record_type == "rebalance.trigger"
                and e.time > datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc)]
    led.close()


def test_choices_and_refusals(cli):
    assert "exactly one of" in cli("rebalance", "run", "--basket", "core", ok=False).output
    assert "exactly one of" in cli("rebalance", "run", "--basket", "core", "--paper", "--live", ok=False).output
    low = cli("basket", "invest", "99.99", "--basket", "core", "--paper", *START, ok=False)
    assert "below the minimum investment of 100 USDT" in low.output
    live = cli("rebalance", "run", "--basket", "core", "--live", input="n\n", ok=False)
    assert live.exit_code == 1 and "REAL money" in live.output and "Aborted" in live.output
    no_price = cli("basket", "invest", "500", "--basket", "core", "--paper", ok=False)
    assert "no paper price for BTC/USDT" in no_price.output
    cli("basket", "invest", "500", "--basket", "core", "--paper", *START)
    back = cli("rebalance", "run", "--basket", "core", "--paper", "--at", "2026-03-01T00:00:00Z", ok=False)
    assert "time never goes back" in back.output
    for cmd in (["rebalance", "run"], ["basket", "status"], ["basket", "invest"], ["basket", "stop"],
                ["basket", "history"]):
        assert "Examples:" in cli(*cmd, "--help").output


def test_ctrl_c_in_loop_finishes_the_current_rebalance_then_stops(cli, monkeypatch):
    import os
    import signal

    import taxreport.rebalance.executor as executor_module

    cli("basket", "create", "daily", "--weights", "BTC=50,ETH=30,SOL=20", "--mode", "daily", "--gate", "0")
    cli("basket", "invest", "1000", "--basket", "daily", "--paper", *START)
    real = executor_module.Executor.execute
    calls = []

    def interrupted(engine, plan, **kw):
        calls.append(kw)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C arrives while the rebalance runs ...
        return real(engine, plan, **kw)  # ... which still completes

    monkeypatch.setattr(executor_module.Executor, "execute", interrupted)
    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN when pytest runs as a background job
    out = cli("rebalance", "run", "--basket", "daily", "--paper", "--loop", "--interval", "86400", "--checks", "5",
              "--prices", "BTC=70000", "--at", "2026-03-03T00:00:00Z").output
    assert len(calls) == 1
    assert "SIGINT: stopping after the current step" in out
    assert "Z INFO    daily: run 20260303000000 completed (3 leg(s), cash 0.00% of the basket)" in out
    assert out.splitlines()[-1].endswith("Z INFO    bot stopped: loop ended after 1 check(s)")
    reconcile_db = cli.db
    led = Ledger(f"sqlite:///{reconcile_db}")
    assert [e for e in led.events(kinds=["record"]) if e.record_type == "rebalance.done"][-1].data["status"] == "completed"
    led.close()
    assert signal.getsignal(signal.SIGINT) is before  # the handler the loop found is restored


@pytest.mark.parametrize("kill_at", ["intent_written", "exchange.accepted:2", "fill_recorded:3", "exchange.canceled"])
def test_process_killed_at_a_step_then_restarted_keeps_ledger_and_exchange_equal(cli, tmp_path, kill_at):
    """A real process, killed like `kill -9` (os._exit, no cleanup) in the middle of a paper run; the
    next process recovers. Ledger and paper exchange (its state file) must agree exactly."""
    import os
    import subprocess
    import sys

    cli("basket", "invest", "10000", "--basket", "core", "--paper", *START)
    env = dict(os.environ, TAXREPORT_PAPER_KILL_AT=kill_at)
    args = [sys.executable, "-m", "taxreport.cli.main", "rebalance", "run", "--basket", "core", "--paper",
            "--prices", "BTC=70000,ETH=2500,SOL=120", "--fill-timeout", "10", "--reprices", "1"]
    ex = PaperExchange.load(state_file())
    ex.touch_fill_ratio = D("0.5")  # partial fills, so cancels and re-prices happen
    ex.save()
    killed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == 137, killed.stdout + killed.stderr
    orders_before = {o.client_order_id for o in PaperExchange.load(state_file()).all_orders()}
    out = json.loads(cli("rebalance", "run", "--basket", "core", "--paper", "--format", "json").output)
    assert out["recovered"] or kill_at == "intent_written"
    assert not PaperExchange.load(state_file()).open_orders()
    reconcile(cli.db)
    led = Ledger(f"sqlite:///{cli.db}")
    try:
        intents = [e.order_id for e in led.events(kinds=["record"]) if e.record_type == "order.intent"]
        on_exchange = [o.client_order_id for o in PaperExchange.load(state_file()).all_orders()]
        assert len(on_exchange) == len(set(on_exchange))
        assert orders_before <= set(on_exchange) <= set(intents)
        statuses = [e.data["status"] for e in led.events(kinds=["record"]) if e.record_type == "rebalance.done"]
        assert statuses[-2:] == ["interrupted", "completed"]
    finally:
        led.close()


def test_an_aborted_paper_stop_leaves_the_paper_clock_where_it_was(cli):
    """Answering "n" to `basket stop`'s question writes nothing: the paper clock (simulated time, set by
    --at) is not moved to the wall clock, so the simulation can go on with a later --at."""
    cli("basket", "invest", "10000", "--basket", "core", "--paper", *START)
    before = PaperExchange.load(state_file()).now
    refused = cli("basket", "stop", "--basket", "core", "--paper", input="n\n", ok=False)
    assert refused.exit_code == 1
    assert PaperExchange.load(state_file()).now == before  # the invest's clock (2026-03-02 plus its fills)
    assert datetime(2026, 3, 2, tzinfo=timezone.utc) <= before < datetime(2026, 3, 3, tzinfo=timezone.utc)
    out = cli("basket", "stop", "--basket", "core", "--paper", "--at", "2026-03-03T00:00:00Z", input="y\n").output
    assert "stopped; released to account paper:core" in out
    assert PaperExchange.load(state_file()).now >= datetime(2026, 3, 3, tzinfo=timezone.utc)


def test_a_stopped_basket_reports_its_life_pnl_from_what_the_stop_released(cli):
    """After `basket stop`, total P&L is what the stop released minus what was invested, and today's P&L
    counts the released money as taken out (before: total P&L 0.00 and today's P&L +1,574 on a losing day,
    the stop counted as taking out the 10,000 invested). Hand arithmetic, no fees on the paper venue's mids:
    released = the USDT the sale brought (the record's released_value at the stop's mids); total P&L =
    released - 10,000; today = 0 (value now) - value at 00:00 UTC + released."""
    cli("basket", "invest", "10000", "--basket", "core", "--paper", *START, "--yes")
    # the next day at 12:00 BTC has fallen to 40,000 (from 60,000 at 00:00 UTC)
    cli("basket", "stop", "--basket", "core", "--paper", "--prices", "BTC=40000", "--at", "2026-03-03T12:00:00Z",
        "--yes")
    s = json.loads(cli("basket", "status", "--basket", "core", "--paper", "--format", "json").output)
    assert s["state"] == "stopped" and D(s["total_value"]) == 0
    released = D(s["released_value"])
    usdt = D(s["released"]["USDT"])
    assert abs(released - usdt) < D("0.01")  # sold to USDT; only dust coins beside it
    assert D(s["total_pnl"]) == released - D(10000)
    # BTC was half the basket: -1/3 of 5,000 is about -1,667, minus the stop's and the invest's fees
    assert D(-1700) < D(s["total_pnl"]) < D(-1660)
    assert D(s["today_pnl"]) == released - D(s["value_at_day_start"])
    assert D(s["value_at_day_start"]) > D(9900)  # at 00:00 UTC the prices were still the invest's
    text = cli("basket", "status", "--basket", "core", "--paper").output
    assert "until the stop, which released" in text and "taken out since" in text
