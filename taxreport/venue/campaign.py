"""The fault campaign (``scripts/fault-campaign.sh N``, ``python -m taxreport.venue.campaign N``):
N randomized live runs of the real CLI (``basket invest --live``, ``rebalance run --live``,
``basket stop --live``) through ccxt's real okx class and real HTTP against the local OKX venue
with random injected faults, the bot killed with SIGKILL at random moments and restarted; then
checks from the VENUE'S OWN BOOKS (``books.json``) against the ledger:

* ``duplicated``: client order ids with more than one venue order (each intent has its own id);
* ``orphans``: venue orders whose client order id has no intent in the ledger;
* ``lost``: venue fills missing from the ledger; ``phantom``: ledger trades the venue never made or
  written twice; ``mismatched``: a fill whose quantity, price, fee or fee asset differ;
* ``balance``: assets whose ledger balance (the basket's account) differs from the venue's;
* ``unfinished``: intents without a terminal state after the final run succeeded;
* ``verify``: ``ledger verify`` (the hash chain) failed;
* ``traceback``: a bot command printed a Python traceback (every failure must be one ``error:`` line).

A run whose final command never succeeds (the venue kept failing it) is counted ``unsettled``: its
books are still checked for duplicates, orphans, phantoms and mismatches, but not for completeness.

In a run in three with a kill, the bot is then down for days: the venue stops, its books move 4 or 8
days back (:meth:`~taxreport.venue.okx.OkxVenue.backdate`, past OKX's 3-day ``trade/fills`` and 7-day
``orders-history`` windows) and it starts again before the final command recovers.

Each bot command is a real process forked from this one after ccxt and the CLI are imported (so a
run costs no interpreter start-ups) and killed with ``SIGKILL`` — no clean-up of any kind.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

CHECKS = ("duplicated", "orphans", "lost", "phantom", "mismatched", "balance", "unfinished", "verify", "traceback")
FUND = Decimal(10000)


@dataclass
class Outcome:
    run: int
    seed: int
    faults: str
    commands: int = 0
    kills: int = 0
    settled: bool = True
    venue_orders: int = 0
    venue_fills: int = 0
    down_days: int = 0  # the venue's books moved this many days back after the kills (the bot was down)
    problems: dict[str, int] = field(default_factory=lambda: {k: 0 for k in CHECKS})
    details: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())


def _preload() -> Any:
    """Import everything a bot command needs before forking (a child then starts instantly)."""
    import ccxt  # noqa: F401

    import taxreport.cli.basket_cmds
    import taxreport.cli.rebalance_cmds
    import taxreport.cli.rebalance_run
    import taxreport.exchanges.ccxt_exchange
    import taxreport.rebalance.executor  # noqa: F401
    from taxreport.cli.main import root

    return root


def _spawn_bot(args: list[str], env: dict[str, str], log: Path) -> int:
    root = _preload()
    pid = os.fork()
    if pid == 0:  # the bot process
        code = 1
        try:
            os.environ.clear()
            os.environ.update(env)
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            sys.stdout.write(f"\n$ taxreport {' '.join(args)}\n")
            sys.stdout.flush()
            try:
                root.main(args, prog_name="taxreport", standalone_mode=True)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001 - a child never returns into the parent's code
            import traceback

            traceback.print_exc()
            code = 99
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return pid


def _wait(pid: int, kill_after: float | None, limit: float = 120.0) -> tuple[int, bool]:
    """Wait for the bot; SIGKILL it after ``kill_after`` seconds (if still running). (rc, killed)."""
    start = time.monotonic()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), False
        elapsed = time.monotonic() - start
        if (kill_after is not None and elapsed >= kill_after) or elapsed > limit:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status), True
        time.sleep(0.02)


def _start_venue(state: Path, faults: str, seed: int, log: Path, *, fund: bool = True) -> tuple[int, str]:
    from taxreport.venue.faults import parse_faults
    from taxreport.venue.okx import OkxVenue
    from taxreport.venue.server import run_venue

    spec = parse_faults(faults)
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            books = OkxVenue(state, seed=seed, fill_lag=spec.fill_lag, fund={"USDT": FUND} if fund else None,
                             clock_skew=spec.clock_skew)
            run_venue(books, port=0, faults=spec, seed=seed, poll_interval=0.1)
        except BaseException:  # noqa: BLE001
            import traceback

            traceback.print_exc()
        finally:
            os._exit(0)
    for _ in range(300):
        if (state / "url").is_file():
            return pid, (state / "url").read_text(encoding="utf-8").strip()
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    raise RuntimeError(f"the venue did not start (see {log})")


def random_faults(rng: random.Random) -> str:
    kinds = ["drop_request", "drop_response", "delay", "rate_limit", "html_5xx", "json_5xx", "code_50004",
             "cancel_pending"]
    chosen = rng.sample(kinds, rng.randint(1, 4))
    parts = [f"{k}={rng.choice([0.02, 0.04, 0.06, 0.1])}" for k in chosen]
    if "delay" in chosen:
        parts.append(f"delay_seconds={rng.choice([0.5, 1, 2, 6])}")  # 6 s: arrives after its expTime (3 s)
    if rng.random() < 0.5:
        parts.append(f"fill_lag={rng.choice([0.5, 1, 2])}")
    if rng.random() < 0.3:  # the venue's clock off the bot's (the bot sends expTime on the venue's clock)
        parts.append(f"clock_skew={rng.choice([-8, -4, 4, 8])}")
    return ",".join(parts)


def run_one(run: int, seed: int, root_dir: str, quick: bool) -> Outcome:
    """One randomized run in ``root_dir/runNNNN``; returns what the checks found."""
    from taxreport.ledger import Ledger
    from taxreport.model.events import Deposit

    rng = random.Random(seed)
    started = time.monotonic()
    d = Path(root_dir) / f"run{run:04d}"
    d.mkdir(parents=True, exist_ok=True)
    faults = random_faults(rng)
    out = Outcome(run, seed, faults)
    venue_pid, url = _start_venue(d / "venue", faults, seed, d / "venue.log")
    try:
        db = f"sqlite:///{d / 'ledger.sqlite3'}"
        basket = d / "basket.toml"
        basket.write_text(f'name = "c{run}"\nexchange = "okx"\naccount = "okx:main"\nmode = "weekly"\ngate = 0\n'
                          '[weights]\nBTC = 50\nETH = 30\nSOL = 20\n', encoding="utf-8")
        led = Ledger(db)
        led.append([Deposit(time=datetime.now(UTC), source="venue", external_id="funding",
                            account="okx:main", asset="USDT", quantity=FUND, cost=FUND, cost_currency="USD")],
                   actor="manual:campaign", reason="the venue account's funding")
        led.close()
        keys = dict(line.removeprefix("export ").split("=", 1)
                    for line in (d / "venue" / "okx.env").read_text(encoding="utf-8").splitlines() if line)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(d), "TAXREPORT_HOME": str(d / "home"),
               "TAXREPORT_DB": db, "TAXREPORT_EXCHANGE_URL": url, "TAXREPORT_EXCHANGE_TIMEOUT": "1", **keys}
        fill = (["--fill-timeout", "0.5", "--reprices", "0"] if quick else
                ["--fill-timeout", rng.choice(["0.5", "1", "2"]), "--reprices", str(rng.randint(0, 2))])
        if rng.random() < 0.4:
            fill += ["--offset-ticks", "100"]  # cross the spread: taker fills at once
        target = ["--basket", str(basket), "--live", "--yes", *fill]
        steps = [["basket", "invest", str(rng.choice([500, 1000, 3000])), *target]]
        steps += [["rebalance", "run", *target] for _ in range(0 if quick else rng.randint(0, 2))]
        if not quick and rng.random() < 0.35:
            steps.append(["basket", "stop", *target])
        log = d / "bot.log"
        for args in steps:
            kill = rng.uniform(0.3, 8.0) if rng.random() < 0.6 else None
            _, killed = _wait(_spawn_bot(args, env, log), kill)
            out.commands += 1
            out.kills += killed
        # The bot was down for days (a run in three, after a kill; its own dice, so that a seed's other
        # choices stay as they were): the venue's books move 4 or 8 days back, past OKX's 3-day `trade/fills`
        # and 7-day `orders-history` windows; recovery must still find every fill (fills-history, 3 months).
        down = random.Random(f"{seed}:down")
        if out.kills and down.random() < 1 / 3:
            out.down_days = down.choice([4, 8])
            os.kill(venue_pid, signal.SIGTERM)
            os.waitpid(venue_pid, 0)
            venue_pid = 0
            from taxreport.venue.okx import OkxVenue

            OkxVenue(d / "venue").backdate(timedelta(days=out.down_days))
            (d / "venue" / "url").unlink()
            venue_pid, url = _start_venue(d / "venue", faults, seed, d / "venue.log", fund=False)
            env["TAXREPORT_EXCHANGE_URL"] = url
        # The last command again, not killed, with patience for lagging fills (fill_lag <= 2 s), until it
        # ends cleanly and nothing is left unfinished (each start resolves what earlier runs left).
        patient = [*target[:4], "--fill-timeout", "3", "--reprices", "0", "--offset-ticks", "100"]
        final = ["basket", "stop", *patient] if steps[-1][1] == "stop" else ["rebalance", "run", *patient]
        for _ in range(6):
            rc, killed = _wait(_spawn_bot(final, env, log), None)
            out.commands += 1
            tail = log.read_text(encoding="utf-8", errors="replace").rstrip().rsplit("\n", 1)[-1]
            if "holds nothing to rebalance" in tail:  # recovered; killed before anything was bought:
                final = ["basket", "invest", "500", *patient]  # buy now, so that every run trades
                continue
            if rc == 0 and not _unfinished(db):
                break
            if rc == 0 and final[1] == "stop":
                final = ["basket", "invest", "200", *patient]  # a stopped basket runs again after an invest
        else:
            out.settled = False
        if "delay=" in faults:  # a delayed request still travelling would arrive now: it must not
            time.sleep(float(faults.partition("delay_seconds=")[2].partition(",")[0]) + 0.5)
    finally:
        if venue_pid:
            os.kill(venue_pid, signal.SIGTERM)
            os.waitpid(venue_pid, 0)
    check(out, d, db)
    out.seconds = round(time.monotonic() - started, 1)
    return out


def _unfinished(db: str) -> int:
    """Intents of the run's ledger without a terminal state (e.g. fills still pending)."""
    from taxreport.ledger import Ledger
    from taxreport.model.events import Record
    from taxreport.rebalance.journal import TERMINAL

    led = Ledger(db)
    try:
        records = [e for e in led.events(kinds=["record"]) if isinstance(e, Record)]
    finally:
        led.close()
    intents = {r.order_id for r in records if r.record_type == "order.intent"}
    done = {r.order_id for r in records if r.record_type == "order.update" and r.data.get("status") in TERMINAL}
    return len(intents - done)


def check(out: Outcome, d: Path, db: str) -> None:
    """Compare the venue's books with the ledger (see the module docstring)."""
    from taxreport.exchanges.paper import PaperExchange
    from taxreport.ledger import Ledger
    from taxreport.model.events import Record, Trade
    from taxreport.model.legs import balances_of
    from taxreport.rebalance.journal import TERMINAL

    books = PaperExchange.load(d / "venue" / "books.json")
    led = Ledger(db)
    try:
        p = out.problems
        orders = books.all_orders()
        out.venue_orders, out.venue_fills = len(orders), len(books.fills)
        per_id = Counter(o.client_order_id for o in orders)
        for cid, n in per_id.items():
            if n > 1:
                p["duplicated"] += n - 1
                out.details.append(f"{cid}: {n} venue orders")
        records = [e for e in led.events(kinds=["record"]) if isinstance(e, Record)]
        intents = {r.order_id for r in records if r.record_type == "order.intent"}
        for cid in per_id:
            if cid not in intents:
                p["orphans"] += 1
                out.details.append(f"venue order {cid} has no intent")
        trades = [e for e in led.events(kinds=["trade"]) if isinstance(e, Trade) and e.account == "okx:main"]
        seen = Counter(t.external_id for t in trades)
        venue_fills = {f.trade_id: f for f in books.fills}
        for tid, n in seen.items():
            if tid is None or tid not in venue_fills or n > 1:
                p["phantom"] += n if tid not in venue_fills else n - 1
                out.details.append(f"ledger trade {tid} x{n}")
        for t in trades:
            f = venue_fills.get(t.external_id) if t.external_id is not None else None
            if f is not None and (t.quantity, t.price, t.fee, t.fee_asset) != (f.amount, f.price, f.fee, f.fee_asset):
                p["mismatched"] += 1
                out.details.append(f"fill {t.external_id} differs")
        terminal = {r.order_id for r in records if r.order_id is not None and r.record_type == "order.update" and r.data.get("status") in TERMINAL}
        if out.settled:
            for tid in venue_fills:
                if tid not in seen:
                    p["lost"] += 1
                    out.details.append(f"venue fill {tid} not in the ledger")
            for pending in intents - terminal:
                p["unfinished"] += 1
                out.details.append(f"intent {pending} unfinished")
            ledger_bal = {a: q for (acc, a), q in balances_of(led.events()).items() if acc == "okx:main" and q != 0}
            venue_bal = books.total_balances()
            for asset in sorted(set(ledger_bal) | set(venue_bal)):
                if ledger_bal.get(asset, Decimal(0)) != venue_bal.get(asset, Decimal(0)):
                    p["balance"] += 1
                    out.details.append(f"{asset}: ledger {ledger_bal.get(asset)} venue {venue_bal.get(asset)}")
        if not led.verify().ok:
            p["verify"] += 1
        log = (d / "bot.log").read_text(encoding="utf-8", errors="replace") if (d / "bot.log").is_file() else ""
        p["traceback"] += log.count("Traceback (most recent call last)")
    finally:
        led.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fault-campaign", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=int)
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (mostly waiting: 2-4)")
    parser.add_argument("--seed", type=int, default=1, help="first run's seed (run i uses seed + i)")
    parser.add_argument("--dir", default=None, help="keep every run's venue books, ledger and logs here")
    parser.add_argument("--quick", action="store_true", help="fewer commands per run (the make-test campaign)")
    parser.add_argument("--summary", default=None, help="write the outcome as JSON to this file")
    opts = parser.parse_args(argv)
    _preload()
    work = opts.dir or tempfile.mkdtemp(prefix="taxreport-campaign-")
    Path(work).mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    outcomes: list[Outcome] = []
    with ProcessPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        futures = [pool.submit(run_one, i, opts.seed + i, work, opts.quick) for i in range(opts.runs)]
        for n, fut in enumerate(futures, 1):
            o = fut.result()
            outcomes.append(o)
            verdict = "ok" if o.ok else "FAIL " + json.dumps({k: v for k, v in o.problems.items() if v})
            down = f" down {o.down_days}d" if o.down_days else ""
            print(f"run {n}/{opts.runs} seed {o.seed} [{o.faults}] commands {o.commands} kills {o.kills}{down} "
                  f"orders {o.venue_orders} fills {o.venue_fills}{'' if o.settled else ' unsettled'} "
                  f"{o.seconds}s: {verdict}", flush=True)
            for line in o.details[:5]:
                print(f"    {line}", flush=True)
    totals = {k: sum(o.problems[k] for o in outcomes) for k in CHECKS}
    summary = {"runs": len(outcomes), "kills": sum(o.kills for o in outcomes),
               "down_for_days": sum(bool(o.down_days) for o in outcomes),
               "commands": sum(o.commands for o in outcomes),
               "venue_orders": sum(o.venue_orders for o in outcomes),
               "venue_fills": sum(o.venue_fills for o in outcomes),
               "unsettled": sum(not o.settled for o in outcomes), **totals,
               "failed_runs": sum(not o.ok for o in outcomes), "seconds": round(time.monotonic() - started),
               "dir": work}
    print("campaign: " + ", ".join(f"{k} {v}" for k, v in summary.items()), flush=True)
    if opts.summary:
        Path(opts.summary).write_text(json.dumps({"summary": summary, "runs": [asdict(o) for o in outcomes]},
                                                 indent=1, default=str), encoding="utf-8")
    return 1 if summary["failed_runs"] else 0


if __name__ == "__main__":
    sys.exit(main())
