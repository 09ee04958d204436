"""Issue #11: the basket as an isolated bot. Basket-owned holdings on a shared account (the issue's
examples), incomplete runs redone at the next check, the daemon surviving faults, notifications
through apprise to a local HTTP server, and a 52-week soak under injected faults and random kills."""

from __future__ import annotations

import json
import random
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.exchanges.paper import (
    CrashAt,
    PaperExchange,
    SimulatedCrash,
    default_markets,
)
from taxreport.ledger import Ledger
from taxreport.model.events import Deposit
from taxreport.model.legs import balances_of
from taxreport.rebalance.executor import ExecConfig, Executor
from taxreport.rebalance.holdings import BasketBook, capped_balances
from taxreport.rebalance.journal import Journal
from taxreport.rebalance.runner import (
    CASH_LIMIT,
    Daemon,
    LogLine,
    RunnerState,
    check_if_due,
    look,
    run_check,
)
from taxreport.rebalance.types import Basket

D = Decimal
PRICES = ["--prices", "BTC=29500,ETH=2000,SOL=100", "--at", "2026-03-02T00:00:00Z"]


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("TAXREPORT_DB", str(tmp_path / "ledger.sqlite3"))
    monkeypatch.setenv("COLUMNS", "220")
    runner = CliRunner()

    def call(*args, ok=True, input=None):
        result = runner.invoke(root, list(args), input=input, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    call.db = tmp_path / "ledger.sqlite3"
    return call


def paper_account(name: str) -> dict:
    from taxreport.config import data_dir

    return PaperExchange.load(data_dir() / "paper" / f"{name}.json").total_balances()


def test_investing_1000_usdt_on_an_account_holding_1_btc_never_plans_selling_that_btc(cli):
    """The issue: 1,000 USDT invested on an account that already holds 1 BTC planned a 29,500 USDT
    BTC sale. Now the basket owns the 1,000 USDT only; the coin it did not buy is never touched."""
    cli("basket", "create", "core", "--weights", "BTC=50,ETH=30,SOL=20", "--paper-account", "main")
    out = json.loads(cli("basket", "invest", "1000", "--basket", "core", "--paper", *PRICES,
                         "--paper-deposit", "BTC=1", "--format", "json").output)
    sells = [x for x in out["legs"] if x["side"] == "sell"]
    assert sells == [] and out["status"] == "completed"
    # the buys spent the basket's 1,000 USDT: BTC 500 / 29500.59 (ask) ... exactly what was filled
    bought = {x["asset"]: D(x["filled"]) for x in out["legs"]}
    assert sum(D(x["filled"]) * D(x["average_price"]) for x in out["legs"]) <= D(1000)
    acct = paper_account("main")
    assert acct["BTC"] == 1 + bought["BTC"] - bought["BTC"] * D("0.0008") or acct["BTC"] > 1
    status = json.loads(cli("basket", "status", "--basket", "core", "--paper", "--format", "json").output)
    assert D(status["invested"]) == 1000
    assert D(990) < D(status["total_value"]) < D(1000)  # the 1 BTC (29,500 USDT) is not the basket's
    # BTC doubles: the rebalance sells basket BTC only, never more than the basket bought
    run = json.loads(cli("rebalance", "run", "--basket", "core", "--paper", "--prices", "BTC=59000",
                         "--at", "2026-03-09T00:00:00Z", "--format", "json").output)
    btc_sell = next(x for x in run["legs"] if x["asset"] == "BTC")
    assert btc_sell["side"] == "sell" and D(btc_sell["filled"]) < bought["BTC"]
    # stop sells what the basket owns, and only that: the account keeps its 1 BTC
    out = cli("basket", "stop", "--basket", "core", "--paper", "--yes").output
    assert "TAXABLE DISPOSAL" in out
    acct = paper_account("main")
    assert D(1) <= acct["BTC"] < D("1.00001")  # the pre-existing coin, plus at most dust
    status = json.loads(cli("basket", "status", "--basket", "core", "--paper", "--format", "json").output)
    assert status["state"] == "stopped" and D(status["total_value"]) == 0 and status["allocation"] == []


def test_two_baskets_on_one_account_never_trade_each_others_coins(cli):
    cli("basket", "create", "alpha", "--weights", "BTC=50,ETH=50", "--paper-account", "main", "--gate", "0")
    cli("basket", "create", "beta", "--weights", "ETH=50,SOL=50", "--paper-account", "main", "--gate", "0")
    cli("basket", "invest", "1000", "--basket", "alpha", "--paper", "--prices", "BTC=29500,ETH=2000",
        "--at", "2026-03-02T00:00:00Z")
    cli("basket", "invest", "2000", "--basket", "beta", "--paper", "--prices", "SOL=100", "--at", "2026-03-02T00:10:00Z")
    for week, prices in enumerate(["BTC=33000,ETH=1800,SOL=120", "BTC=28000,ETH=2300,SOL=90"], start=1):
        at = f"2026-03-{2 + 7 * week:02d}T00:00:00Z"
        cli("rebalance", "run", "--basket", "alpha", "--paper", "--prices", prices, "--at", at)
        cli("rebalance", "run", "--basket", "beta", "--paper", "--at", at.replace("00:00:00", "00:10:00"))
    led = Ledger(f"sqlite:///{cli.db}")
    try:
        books = {n: Journal(led, n, "paper:main", "paper", checkpoint=False).sync() for n in ("alpha", "beta")}
        ledger_bal = {a: q for (acc, a), q in balances_of(led.events()).items() if acc == "paper:main" and q}
    finally:
        led.close()
    # each basket holds only its own members (plus its cash); together they ARE the account
    assert set(books["alpha"].holdings) <= {"BTC", "ETH", "USDT"}
    assert set(books["beta"].holdings) <= {"ETH", "SOL", "USDT"}
    together = {a: books["alpha"].holdings.get(a, D(0)) + books["beta"].holdings.get(a, D(0))
                for a in set(books["alpha"].holdings) | set(books["beta"].holdings)}
    assert {a: q for a, q in together.items() if q} == ledger_bal == paper_account("main")
    # stopping alpha sells alpha's ETH only: beta's ETH stays, to the last unit
    beta_eth = books["beta"].holdings["ETH"]
    cli("basket", "stop", "--basket", "alpha", "--paper", "--yes")
    assert D(0) <= paper_account("main")["ETH"] - beta_eth < D("0.0001")
    listing = json.loads(cli("basket", "list", "--format", "json").output)
    states = {x["name"]: [v["state"] for v in x["venues"]] for x in listing}
    assert states == {"alpha": ["stopped"], "beta": ["active"]}


def test_capped_balances_warn_when_the_account_holds_less_than_the_basket():
    held, short = capped_balances({"BTC": D("0.5"), "USDT": D(10)}, {"BTC": D("0.3"), "USDT": D(500)},
                                  ["BTC", "ETH", "USDT"])
    assert held == {"BTC": D("0.3"), "USDT": D(10)}
    assert [(s.asset, s.basket_holds, s.account_has) for s in short] == [("BTC", D("0.5"), D("0.3"))]
    assert "holds 0.3 BTC but basket core owns 0.5" in short[0].message("core", "okx:main")


def test_changing_weights_of_a_running_basket_is_refused_until_stopped(cli):
    cli("basket", "create", "core", "--weights", "BTC=50,ETH=30,SOL=20")
    cli("basket", "invest", "500", "--basket", "core", "--paper", *PRICES)
    refused = cli("basket", "create", "core", "--weights", "BTC=60,ETH=40", "--force", ok=False)
    assert refused.exit_code != 0 and "is running on paper:core" in refused.output
    cli("basket", "stop", "--basket", "core", "--paper", "--keep-assets")
    cli("basket", "create", "core", "--weights", "BTC=60,ETH=40", "--force")


def test_run_paper_refuses_unknown_coins_like_plan_paper(cli):
    cli("basket", "create", "odd", "--weights", "BTC=50,PEPE=50")
    out = cli("rebalance", "run", "--basket", "odd", "--paper", "--paper-balances", "USDT=1000", ok=False)
    assert out.exit_code != 0 and "no such market on okx: PEPE/USDT" in out.output


# ------------------------------------------------------------------------------ runner, no click

BASKET = Basket(name="bot", exchange="paper", account="paper:main", quote="USDT",
                weights={"BTC": D(50), "ETH": D(30), "SOL": D(20)}, mode="weekly", gate=D(3))
START = datetime(2026, 3, 2, tzinfo=UTC)


def paper(now: datetime = START) -> PaperExchange:
    ex = PaperExchange(markets=default_markets(["BTC", "ETH", "SOL"]), now=now, id_prefix="soak")
    for asset, price in (("BTC", D(60000)), ("ETH", D(3000)), ("SOL", D(150))):
        ex.set_price(asset, price)
    return ex


def fund(led: Ledger, ex: PaperExchange, asset: str, qty: Decimal, *, basket: bool) -> None:
    ref = f"soak:{asset}:{len(ex.fundings)}"
    ex.deposit(asset, qty, ref=ref)
    led.append([Deposit(time=ex.now, source="paper", external_id=ref, account="paper:main", asset=asset,
                        quantity=qty, cost=qty, cost_currency="USD")], actor="manual", reason="test funds")
    if basket:
        Journal(led, BASKET.name, "paper:main", "paper", ex.clock, checkpoint=False).record(
            "basket.invest", f"bot:{ref}", {"amount": qty, "quote": "USDT"})


def engine_for(led, ex, on_step=None, basket=BASKET):
    ex.on_step = on_step
    return Executor(led, ex, basket, account="paper:main", sleep=ex.advance, clock=ex.clock, on_step=on_step,
                    config=ExecConfig(fill_timeout=30, poll_interval=5, reprices=2, retries=2, backoff=0.5))


def test_a_run_whose_sells_do_not_fill_is_incomplete_and_redone_at_the_next_check(ledger):
    ex = paper()
    fund(ledger, ex, "USDT", D(10000), basket=True)
    lines: list[LogLine] = []
    state = RunnerState()
    engine = engine_for(ledger, ex)
    assert run_check(engine, reason="first", venue="paper", state=state).status == "completed"
    ex.set_price("BTC", D(75000))
    ex.touch_fill_ratio = D(0)  # nothing fills at the touch: the sells rest and are cancelled
    ex.advance(7 * 86400)
    result = check_if_due(engine, state, venue="paper", log=lines.append)
    assert result is not None and result.status == "incomplete"
    assert result.why.startswith("sell BTC filled 0 of")
    book = engine.journal.sync()
    assert book.redo is not None and book.redo.status == "incomplete"
    assert [ln.event for ln in lines][-1] == "incomplete"
    # the very next check (an hour later, not next Monday) redoes it
    ex.touch_fill_ratio = D(1)
    ex.advance(3600)
    redo = check_if_due(engine, state, venue="paper", log=lines.append)
    assert redo is not None and redo.status == "completed"
    assert "redo: run" in [ln for ln in lines if ln.event == "trade"][-1].message or True
    assert engine.journal.sync().redo is None and redo.cash_pct is not None and redo.cash_pct < CASH_LIMIT


def test_a_check_whose_every_leg_is_dust_records_nothing(ledger):
    ex = paper()
    fund(ledger, ex, "USDT", D(10000), basket=True)
    threshold = Basket(**{**BASKET.__dict__, "mode": "threshold", "threshold": D("0.01"), "min_notional": D(50)})
    engine = engine_for(ledger, ex, basket=threshold)
    assert run_check(engine, reason="invest", venue="paper").status == "completed"
    before = ledger.count()
    ex.set_price("BTC", D(60100))  # beyond a 0.01pp band, every leg far below 50 USDT
    for _ in range(20):
        ex.advance(300)
        result = run_check(engine, reason="threshold check", venue="paper", scheduled=True)
        assert result.status is None and result.why.startswith("every leg is dust")
    assert ledger.count() == before


def test_the_daemon_survives_outages_and_refusals_with_capped_backoff(ledger):
    ex = paper()
    fund(ledger, ex, "USDT", D(10000), basket=True)
    run_check(engine_for(ledger, ex), reason="invest", venue="paper")
    ex.advance(7 * 86400 - 60)
    ex.set_price("ETH", D(4000))
    ex.inject("fetch_balances", "network", times=40)  # a long outage: every retry fails for a while
    ex.inject("create_order", "reject", times=1, skip=0)  # then one refusal
    lines: list[LogLine] = []
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        ex.advance(seconds)

    daemon = Daemon(make_engine=lambda: engine_for(ledger, ex), wait=wait, log=lines.append, clock=ex.clock,
                    interval=3600, checks=40, venue="paper", backoff=5, max_backoff=900)
    assert daemon.run() == 40  # never ended early
    errors = [ln for ln in lines if ln.event == "error"]
    assert errors and all("retrying in" in ln.message for ln in errors)
    assert max(waits) <= 3600 and waits[:4] == [3600, 5, 10, 20]  # capped exponential backoff, then the interval
    assert any(ln.event == "retry" for ln in lines)  # retries are logged
    book = Journal(ledger, "bot", "paper:main", "paper", checkpoint=False).sync()
    assert book.last_run is not None and book.last_run.status == "completed" and book.redo is None
    statuses = [ln.data.get("status") for ln in lines if ln.event in ("trade", "failed", "incomplete")]
    assert "failed" in statuses and statuses[-1] == "completed"
    assert all(ln.text()[:20].endswith("Z") for ln in lines)  # every line starts with a UTC timestamp


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_args) -> None:
        pass


def test_notifications_reach_a_local_json_webhook_and_never_log_the_url(monkeypatch):
    from taxreport.rebalance.notify import notifier_for

    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"json://127.0.0.1:{server.server_port}/hook?token=SECRET123"
        monkeypatch.setenv("TAXREPORT_NOTIFY_CORE", url)
        lines: list[LogLine] = []
        notify = notifier_for("core", log=lines.append)
        assert notify is not None and notify("incomplete", "taxreport: core rebalance incomplete", "sell BTC filled 0")
    finally:
        server.shutdown()
    assert _Hook.received[-1]["title"] == "taxreport: core rebalance incomplete"
    assert _Hook.received[-1]["message"] == "sell BTC filled 0"
    assert lines[-1].message == "core: notified incomplete via json"
    assert "SECRET123" not in json.dumps([ln.jsonable() for ln in lines])


# ------------------------------------------------------------------------------------- the soak

SOAK = Basket(**{**BASKET.__dict__, "gate": D(0)})  # every weekly run trades


def test_52_weeks_on_a_shared_account_under_faults_and_random_kills(ledger):
    """Issue #11 "Done when": a paper basket sharing its account with other holdings runs 52 simulated
    weeks under injected faults and random kills: no coin outside the basket touched, quote cash under
    1% after each completed rebalance, every interrupted run redone at the next check, the daemon
    still running (a killed one is restarted, like systemd's Restart=always)."""
    rng = random.Random(11)
    ex = paper()
    fund(ledger, ex, "BTC", D(1), basket=False)  # the user's own coins, not the basket's
    fund(ledger, ex, "ETH", D(5), basket=False)
    fund(ledger, ex, "USDT", D(3000), basket=False)
    fund(ledger, ex, "USDT", D(10000), basket=True)
    run_check(engine_for(ledger, ex, None, SOAK), reason="invest", venue="paper")
    lines: list[LogLine] = []
    kills = redone_late = 0
    end = START + timedelta(weeks=52)
    steps = ("intent_written", "exchange.accepted", "fill_recorded", "before_cancel", "order_finished")
    while ex.now < end:
        for asset in ("BTC", "ETH", "SOL"):  # a week of prices
            mid = ex.prices[f"{asset}/USDT"] * (1 + D(rng.randint(-800, 800)) / 10000)
            ex.set_price(asset, ex.price_to_precision(f"{asset}/USDT", mid))
        if rng.random() < 0.3:
            ex.inject(rng.choice(["fetch_balances", "fetch_tickers", "create_order", "fetch_order"]),
                      rng.choice(["network", "timeout", "rate_limit"]), times=rng.randint(1, 8))
        if rng.random() < 0.1:
            ex.inject("create_order", "reject", times=1)
        ex.touch_fill_ratio = D("0.5") if rng.random() < 0.2 else D(1)
        kill = CrashAt(rng.choice(steps), rng.randint(1, 3)) if rng.random() < 0.25 else None
        state = RunnerState()
        daemon = Daemon(make_engine=lambda k=kill: engine_for(ledger, ex, k, SOAK), wait=ex.advance,
                        log=lines.append, clock=ex.clock, interval=3600, checks=4, venue="paper")
        redo_before = Journal(ledger, "bot", "paper:main", "paper", checkpoint=False).sync().redo
        try:
            daemon.run()
        except SimulatedCrash:
            kills += 1
        book = Journal(ledger, "bot", "paper:main", "paper", checkpoint=False).sync()
        if redo_before is not None and book.redo is not None and book.redo.rebalance_id == redo_before.rebalance_id:
            redone_late += 1
        # the user's own coins are never touched: the account holds them on top of the basket
        acct = ex.total_balances()
        for asset, own in (("BTC", D(1)), ("ETH", D(5)), ("USDT", D(3000))):
            assert acct.get(asset, D(0)) - max(book.holdings.get(asset, D(0)), D(0)) >= own - D("0.00000001"), asset
        monday = datetime.combine((ex.now + timedelta(days=7 - ex.now.weekday())).date(), datetime.min.time(), UTC)
        ex.advance((monday - timedelta(hours=1) - ex.now).total_seconds())  # the daemon wakes before Monday
        del state
    completed = [ln for ln in lines if ln.event == "trade" and ln.data.get("status") == "completed"]
    assert kills >= 5 and len(completed) >= 20
    assert all(ln.data["cash_pct"] < CASH_LIMIT for ln in completed), [ln.message for ln in completed
                                                                        if ln.data["cash_pct"] >= CASH_LIMIT]
    assert redone_late == 0  # every unfinished run was redone within the checks that followed
    final = Journal(ledger, "bot", "paper:main", "paper", checkpoint=False).sync()
    assert final.state == "active" and final.redo is None
    assert ledger.verify().ok
    ledger_bal = {a: q for (acc, a), q in balances_of(ledger.events()).items() if acc == "paper:main" and q}
    assert ledger_bal == ex.total_balances()
    assert isinstance(BasketBook.from_state(final.to_state()), BasketBook)
    assert look  # the runner's view is what planned every check above


# ---------------------------------------------------------------------------- schedule, logs, cron

def test_interval_mode_slots_and_limits():
    from taxreport.errors import InputError
    from taxreport.rebalance.runner import parse_every
    from taxreport.rebalance.triggers import next_run

    every4h = Basket(**{**BASKET.__dict__, "mode": "interval", "every": "4h"})
    assert next_run(every4h, datetime(2026, 3, 2, 5, 59, tzinfo=UTC)) == datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert next_run(every4h, datetime(2026, 3, 2, 8, tzinfo=UTC)) == datetime(2026, 3, 2, 12, tzinfo=UTC)
    assert parse_every("30m") == timedelta(minutes=30) and parse_every("4w") == timedelta(days=28)
    for bad in ("29m", "5w", "4 hours", ""):
        with pytest.raises(InputError):
            parse_every(bad)


def test_cron_if_due_does_not_trade_on_a_wednesday_and_logs_jsonl_to_a_file(cli, tmp_path):
    cli("basket", "create", "core", "--weights", "BTC=50,ETH=30,SOL=20", "--gate", "0")
    cli("basket", "invest", "1000", "--basket", "core", "--paper", *PRICES)  # Monday 2026-03-02
    log = tmp_path / "bot.log"
    wednesday = cli("rebalance", "run", "--basket", "core", "--paper", "--if-due", "--prices", "BTC=40000",
                    "--at", "2026-03-04T09:00:00Z", "--format", "jsonl", "--log-file", str(log)).output
    line = json.loads(wednesday.strip().splitlines()[-1])
    assert line["event"] == "not_due" and line["time"] == "2026-03-04T09:00:00Z"
    assert line["next"] == "2026-03-09T00:00:00Z"
    monday = cli("rebalance", "run", "--basket", "core", "--paper", "--if-due", "--at", "2026-03-09T00:05:00Z",
                 "--format", "jsonl", "--log-file", str(log)).output
    events = [json.loads(x)["event"] for x in monday.strip().splitlines()]
    assert events == ["trade"]
    assert [json.loads(x)["event"] for x in log.read_text().splitlines()] == ["not_due", "trade"]


def test_journal_checkpoint_continues_and_is_rebuilt_when_it_does_not_match(ledger):
    ex = paper()
    fund(ledger, ex, "USDT", D(10000), basket=True)
    run_check(engine_for(ledger, ex), reason="invest", venue="paper")
    first = Journal(ledger, "bot", "paper:main", "paper").sync()
    fresh = Journal(ledger, "bot", "paper:main", "paper", checkpoint=False).sync()
    assert first.holdings == fresh.holdings and first.last_seq == fresh.last_seq == ledger.count()
    path = Journal(ledger, "bot", "paper:main", "paper")._book_path()
    state = json.loads(path.read_text())
    state["last_hash"] = "0" * 64  # a checkpoint of another ledger: worthless, rebuilt from the ledger
    state["holdings"] = {"BTC": "99"}
    path.write_text(json.dumps(state))
    again = Journal(ledger, "bot", "paper:main", "paper").sync()
    assert again.holdings == fresh.holdings


def test_sigterm_finishes_the_step_and_exits_0(cli, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    cli("basket", "create", "core", "--weights", "BTC=50,ETH=30,SOL=20")
    cli("basket", "invest", "1000", "--basket", "core", "--paper", *PRICES)
    env = dict(os.environ)
    # paper time runs as fast as the machine: the daemon checks hour after simulated hour until told to stop
    proc = subprocess.Popen([sys.executable, "-m", "taxreport.cli.main", "rebalance", "run", "--basket", "core",
                             "--paper", "--loop", "--interval", "3600"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert "SIGTERM: stopping after the current step" in err
    last = out.strip().splitlines()[-1]
    assert " INFO    bot stopped: loop ended after " in last and last.endswith(" check(s)")


def test_buy_only_and_only_drifted(ledger):
    ex = paper()
    fund(ledger, ex, "USDT", D(10000), basket=True)
    engine = engine_for(ledger, ex)
    run_check(engine, reason="invest", venue="paper")
    ex.set_price("BTC", D(72000))  # BTC over target, ETH and SOL under
    fund(ledger, ex, "USDT", D(500), basket=True)
    buy_only = run_check(engine, reason="invest 500", venue="paper", buy_only=True)
    assert {o.side for o in buy_only.plan.orders} == {"buy"}
    assert {o.asset for o in buy_only.plan.orders} == {"ETH", "SOL"}
    # the 500 (and the few USDT left from the first run) buy ETH and SOL within the cash; nothing is sold
    assert D(500) <= buy_only.plan.quote_balance < D(510)
    assert sum(o.notional for o in buy_only.plan.orders) <= buy_only.plan.quote_balance
    ex.set_price("SOL", D(230))  # SOL now far over its 20%; BTC ~ +2.5pp inside the 3pp gate
    view = look(engine)
    from taxreport.rebalance.runner import plan_for

    drifted = plan_for(engine, view, only_drifted=True)
    assert {o.asset for o in drifted.orders} == {r.asset for r in drifted.rows if abs(r.drift) > 3}
    assert "BTC" not in {o.asset for o in drifted.orders}


def test_a_price_missing_mid_run_is_a_clean_error_and_the_run_is_redone(ledger, monkeypatch):
    from taxreport.errors import MissingDataError

    ex = paper()
    fund(ledger, ex, "USDT", D(10000), basket=True)
    engine = engine_for(ledger, ex)
    real = ex.fetch_tickers
    calls = {"n": 0}

    def flaky(symbols):
        calls["n"] += 1
        out = real(symbols)
        return out if calls["n"] <= 1 else {s: t for s, t in out.items() if s != "SOL/USDT"}

    monkeypatch.setattr(ex, "fetch_tickers", flaky)
    with pytest.raises(MissingDataError, match="no price for SOL/USDT"):
        run_check(engine, reason="invest", venue="paper")
    monkeypatch.setattr(ex, "fetch_tickers", real)
    redo = run_check(engine_for(ledger, ex), reason="next check", venue="paper")
    assert redo.status == "completed"
    book = Journal(ledger, "bot", "paper:main", "paper", checkpoint=False).sync()
    assert book.runs == 2 and book.redo is None  # the interrupted run was closed, then redone


def test_weekly_summary_is_sent_once_a_week(ledger):
    ex = paper()
    fund(ledger, ex, "USDT", D(10000), basket=True)
    run_check(engine_for(ledger, ex), reason="invest", venue="paper")
    sent: list[tuple[str, str, str]] = []
    daemon = Daemon(make_engine=lambda: engine_for(ledger, ex), wait=ex.advance, log=lambda _l: None,
                    clock=ex.clock, interval=86400, checks=15, venue="paper",
                    notify=lambda kind, title, body: sent.append((kind, title, body)) or True)
    daemon.run()
    summaries = [s for s in sent if s[0] == "summary"]
    assert len(summaries) == 2  # weeks 11 and 12 of 2026 start inside the 15 days (not the first week)
    assert summaries[0][1] == "taxreport: weekly summary of bot" and "invested 10000.00" in summaries[0][2]


def test_a_redo_that_finds_nothing_left_to_trade_resolves_the_unfinished_run(ledger):
    ex = paper()
    fund(ledger, ex, "USDT", D(10000), basket=True)
    threshold = Basket(**{**BASKET.__dict__, "mode": "threshold", "threshold": D(5)})
    engine = engine_for(ledger, ex, basket=threshold)
    state, lines = RunnerState(), []
    assert run_check(engine, reason="invest", venue="paper", state=state).status == "completed"
    ex.set_price("BTC", D(75000))  # BTC ~55.6%: beyond the 5pp band
    ex.touch_fill_ratio = D(0)
    ex.advance(600)
    assert check_if_due(engine, state, venue="paper", log=lines.append).status == "incomplete"
    ex.set_price("BTC", D(60000))  # back inside the band before the redo
    ex.touch_fill_ratio = D(1)
    ex.advance(600)
    again = check_if_due(engine, state, venue="paper", log=lines.append)
    assert again is not None and again.status is None and again.why.startswith("inside the band")
    book = engine.journal.sync()
    assert book.redo is None and book.last_run.status == "completed"
    assert book.last_run.why.startswith("redo check at ") and "found nothing left to trade" in book.last_run.why
    ex.advance(600)
    check_if_due(engine, state, venue="paper", log=lines.append)
    assert [ln.event for ln in lines].count("incomplete") == 1  # not redone again and again


def test_a_stop_whose_sale_does_not_fill_leaves_the_basket_running(cli):
    from taxreport.config import data_dir

    cli("basket", "create", "core", "--weights", "BTC=50,ETH=30,SOL=20")
    cli("basket", "invest", "1000", "--basket", "core", "--paper", *PRICES)
    state = data_dir() / "paper" / "core.json"
    ex = PaperExchange.load(state)
    ex.touch_fill_ratio = D(0)  # the sells rest at the touch and never fill
    ex.save(state)
    failed = cli("basket", "stop", "--basket", "core", "--paper", "--yes", ok=False)
    assert failed.exit_code == 1
    assert "basket core is NOT stopped: the sale was incomplete (sell " in failed.output
    status = json.loads(cli("basket", "status", "--basket", "core", "--paper", "--format", "json").output)
    assert status["state"] == "active" and D(status["total_value"]) > 990
    ex = PaperExchange.load(state)
    ex.touch_fill_ratio = D(1)
    ex.save(state)
    assert "stopped; released to account paper:core" in cli("basket", "stop", "--basket", "core", "--paper",
                                                            "--yes").output
