"""``taxreport rebalance run``: rebalance a basket once, or on its schedule with ``--loop``, on the
paper exchange (``--paper``), OKX's demo trading (``--sandbox``) or for real (``--live``, confirmed).

Also the venue plumbing shared with ``basket status|invest|stop`` (:mod:`taxreport.cli.basket_ops`):
opening the paper state or the ccxt exchange, the per-basket lock, and printing a run.

Paper mode keeps its exchange state (balances, orders, fills, prices, simulated clock) in a JSON file,
by default ``$TAXREPORT_HOME/paper/<basket>.json``; its fills go to the ledger account
``paper:<basket>``, and its funding (``--paper-balances`` or ``basket invest``) is written as deposits
so ledger balances reconcile with the paper exchange. Prices come from ``--prices`` (kept for later
runs) and/or a seeded random walk (``--walk PCT --seed N``); ``--at`` sets the simulated time.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import signal
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

import click

from taxreport.cli.common import asset_numbers, echo_json, format_option, open_ledger, parse_when, print_table
from taxreport.errors import InputError, MissingDataError, TaxreportError

ZERO = Decimal(0)


def _keep_in_meta(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Exchange connection options travel in ``ctx.meta`` (read by :func:`open_venue`), so every
    command with the venue options gets them without a parameter of its own."""
    if value is not None:
        ctx.meta[f"taxreport.{param.name}"] = value
    return value


def venue_options(f: Callable) -> Callable:
    opts = [
        click.option("--exchange-url", envvar="TAXREPORT_EXCHANGE_URL", default=None, metavar="URL",
                     expose_value=False, callback=_keep_in_meta,
                     help="Live/sandbox: REST base URL of the exchange (an OKX regional domain, or the local "
                          "venue http://127.0.0.1:PORT) [env TAXREPORT_EXCHANGE_URL; else the basket's api_url]."),
        click.option("--exchange-timeout", envvar="TAXREPORT_EXCHANGE_TIMEOUT", default=None, metavar="SECONDS",
                     type=click.FloatRange(min=0.1), expose_value=False, callback=_keep_in_meta,
                     help="Live/sandbox: HTTP timeout per request in seconds [env TAXREPORT_EXCHANGE_TIMEOUT; "
                          "default ccxt's 10]."),
        click.option("--basket", "basket_ref", required=True, metavar="NAME_OR_FILE",
                     help="Basket name or path to its .toml file."),
        click.option("--paper", is_flag=True, help="Use the paper exchange (simulated; state kept in a JSON file)."),
        click.option("--live", is_flag=True, help="Trade for real on the basket's exchange (asks for confirmation)."),
        click.option("--sandbox", is_flag=True, help="Use the exchange's demo trading (OKX demo) through ccxt."),
        click.option("--paper-state", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Paper state file [default: $TAXREPORT_HOME/paper/<basket>.json]."),
        click.option("--prices", default=None, help="Paper: set mid prices in the quote asset, e.g. BTC=60000,ETH=3000."),
        click.option("--walk", default=None, metavar="PCT",
                     help="Paper: move every price by a seeded random step of up to PCT percent first."),
        click.option("--seed", type=int, default=None, help="Paper: seed of --walk (default: from the clock)."),
        click.option("--at", "at", default=None, help="Paper: simulated time of this run (ISO 8601; never backwards)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def exec_options(f: Callable) -> Callable:
    opts = [
        click.option("--yes", is_flag=True, help="Do not ask for confirmation."),
        click.option("--fill-timeout", type=click.FloatRange(min=0), default=30, show_default=True,
                     help="Seconds to wait for fills before cancelling and re-pricing."),
        click.option("--reprices", type=click.IntRange(min=0), default=3, show_default=True,
                     help="Re-price the unfilled remainder up to N times."),
        click.option("--offset-ticks", type=int, default=0, show_default=True,
                     help="Limit price this many ticks from the touch towards the other side (>0 crosses sooner)."),
        click.option("--market-finish", is_flag=True, help="Send what is still unfilled as a market order at the end."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


@dataclass
class Venue:
    basket: Any  # Basket
    path: Path
    mode: str  # paper | sandbox | live
    exchange: Any  # Exchange
    account: str
    paper: Any = None  # PaperExchange in paper mode
    sleep: Callable[[float], None] | None = None
    clock: Callable[[], datetime] | None = None


def open_venue(ctx: click.Context, basket_ref: str, *, paper: bool, live: bool, sandbox: bool,
               paper_state: Path | None = None, prices: str | None = None, walk: str | None = None,
               seed: int | None = None, at: str | None = None, paper_balances: str | None = None,
               confirm: str | None = None, yes: bool = False, readonly: bool = False,
               started: bool = False) -> Venue:
    """Open the basket and its venue. ``confirm`` (live only) is the question asked before trading.
    ``readonly`` (status): the paper state is neither saved nor moved to the current time.
    ``started`` (stop): a paper basket must have a state already (it is never created here)."""
    from taxreport.rebalance.basket import resolve_basket, validate_markets

    if sum((paper, live, sandbox)) != 1:
        raise InputError("choose exactly one of --paper, --sandbox or --live", field="--paper/--live")
    basket, path = resolve_basket(basket_ref)
    if paper and (ctx.meta.get("taxreport.exchange_url") or ctx.meta.get("taxreport.exchange_timeout")):
        raise InputError("--exchange-url and --exchange-timeout are for --live and --sandbox", field="--exchange-url")
    if paper:
        return _open_paper(ctx, basket, path, paper_state, prices, walk, seed, at, paper_balances, readonly,
                           started)
    if prices or walk or at or paper_balances or paper_state:
        raise InputError("--prices, --walk, --at, --paper-state and --paper-balances are for --paper only",
                         field="--prices")
    if live and confirm and not yes:
        click.confirm(f"{confirm} {basket.name} on {basket.exchange.upper()} with REAL money (account "
                      f"{basket.account}). Continue?", abort=True, err=True)
    from taxreport.exchanges.base import NetworkError
    from taxreport.exchanges.ccxt_exchange import CcxtExchange

    url = ctx.meta.get("taxreport.exchange_url") or getattr(basket, "api_url", None)
    timeout = ctx.meta.get("taxreport.exchange_timeout")
    exchange = CcxtExchange(basket.exchange, sandbox=sandbox, api_url=url, timeout=timeout)
    try:
        markets = exchange.load_markets()
    except NetworkError as exc:  # one line, never a traceback; nothing was sent
        where = f" at {url}" if url else ""
        raise TaxreportError(f"cannot reach {basket.exchange}{where}: {str(exc).splitlines()[0][:300]}; nothing "
                             "was sent (check the network, --exchange-url or TAXREPORT_EXCHANGE_URL)") from None
    validate_markets(basket, markets, file=str(path))
    mode = "sandbox" if sandbox else "live"
    account = basket.account if live else f"sandbox:{basket.name}"
    return Venue(basket, path, mode, exchange, account)


def _open_paper(ctx, basket, path, state_file, prices, walk, seed, at, paper_balances,  # noqa: ANN001
                readonly: bool = False, started: bool = False) -> Venue:
    from taxreport.config import data_dir
    from taxreport.exchanges.paper import PaperExchange, default_markets

    state_file = state_file or data_dir() / "paper" / f"{basket.name}.json"
    now = datetime.now(timezone.utc).replace(microsecond=0)
    when = parse_when(at, what="--at") if at else None
    if (readonly or started) and not state_file.exists():
        raise InputError(f"basket {basket.name} has no paper state yet ({state_file}): start it with "
                         f"`taxreport basket invest AMOUNT --basket {basket.name} --paper --prices ...`",
                         field="--paper")
    if state_file.exists():
        ex = PaperExchange.load(state_file)
        for symbol, market in default_markets([a for a in basket.weights if a != basket.quote], basket.quote).items():
            ex.markets.setdefault(symbol, market)  # a member added to the basket since
        if paper_balances:
            raise InputError(f"the paper basket exists already ({state_file}): add cash with `basket invest`, "
                             "or use another --paper-state", field="--paper-balances")
        if when is not None and when < ex.now:
            raise InputError(f"{at} is before the paper clock ({ex.now.isoformat()}); time never goes back",
                             field="--at")
        ex.now = when or (ex.now if readonly else max(ex.now, now))
    else:
        members = [a for a in basket.weights if a != basket.quote]
        ex = PaperExchange(markets=default_markets(members, basket.quote), now=when or now,
                           id_prefix=f"{basket.name}{(when or now):%Y%m%d%H%M%S}")
    ex.state_path = None if readonly else state_file
    if prices:
        for asset, price in asset_numbers(prices, "--prices").items():
            if f"{asset}/{basket.quote}" not in ex.markets:
                raise InputError(f"{asset} is not a member of basket {basket.name}", field="--prices")
            if price <= 0:
                raise InputError(f"{asset} must be positive, got {price}", field="--prices")
            ex.set_price(asset, price)
    if walk:
        _walk(ex, walk, seed)
    missing = [s for s in ex.markets if s not in ex.prices]
    if missing:
        raise MissingDataError(f"no paper price for {', '.join(missing)}: give --prices, e.g. "
                               f"--prices {','.join(s.split('/')[0] + '=100' for s in missing)}")
    venue = Venue(basket, path, "paper", ex, f"paper:{basket.name}", ex, ex.advance, ex.clock)
    funded = ZERO
    if paper_balances:
        for asset, qty in asset_numbers(paper_balances, "--paper-balances").items():
            if asset != basket.quote and f"{asset}/{basket.quote}" not in ex.markets:
                raise InputError(f"{asset} is neither the quote asset nor a member", field="--paper-balances")
            if qty <= 0:
                raise InputError(f"{asset} must be positive", field="--paper-balances")
            ex.deposit(asset, qty, ref=f"{ex.id_prefix}:fund:{len(ex.fundings) + 1}")
            funded += qty if asset == basket.quote else qty * ex.prices[f"{asset}/{basket.quote}"]
    if readonly:
        return venue
    ex.save()
    ledger = open_ledger(ctx)
    from taxreport.simulated import mark_simulated  # events helper (issue #12): paper money is never taxed

    mark_simulated(ledger, venue.account, "paper", actor=f"rebalancer:{basket.name}", time=ex.now)
    sync_paper_funding(ledger, venue)
    if funded:
        from taxreport.rebalance.journal import Journal

        Journal(ledger, basket.name, venue.account, ex.name, ex.clock).record(
            "basket.invest", f"{basket.name}:{ex.id_prefix}:funding",
            {"amount": funded, "quote": basket.quote, "venue": "paper", "note": "starting paper balances"})
    return venue


def _walk(ex, pct_text: str, seed: int | None) -> None:  # noqa: ANN001
    from taxreport.model.money import parse_decimal

    try:
        pct = parse_decimal(pct_text, what="--walk")
    except ValueError:
        raise InputError(f"{pct_text!r} is not a number", field="--walk") from None
    if not ZERO <= pct < 100:
        raise InputError("must be between 0 and 100 (percent)", field="--walk")
    rng = random.Random(seed if seed is not None else int(ex.now.timestamp()))
    for symbol in sorted(ex.markets):
        step = Decimal(rng.randint(-10000, 10000)) / Decimal(10000) * pct / 100
        ex.set_price(symbol, ex.price_to_precision(symbol, ex.prices[symbol] * (1 + step)))


def sync_paper_funding(ledger, venue: Venue) -> int:  # noqa: ANN001
    """Write every paper deposit not yet in the ledger (idempotent: keyed by its ref). Stablecoins are
    valued 1:1 in USD, other assets at the paper price in the quote asset."""
    from taxreport.model.assets import is_stablecoin
    from taxreport.model.events import Deposit

    ex, quote = venue.paper, venue.basket.quote
    events = []
    for f in ex.fundings:
        asset, qty = f["asset"], f["quantity"]
        if is_stablecoin(asset):
            cost, currency = qty, "USD"
        else:
            cost, currency = qty * ex.prices[f"{asset}/{quote}"], quote
        events.append(Deposit(time=f["time"], source="paper", external_id=f["ref"], account=venue.account,
                              asset=asset, quantity=qty, cost=cost, cost_currency=currency,
                              note="paper trading funds"))
    have = ledger.existing_keys([e.natural_key for e in events]) if events else set()
    new = [e for e in events if e.natural_key not in have]
    if new:
        ledger.append(new, actor=f"rebalancer:{venue.basket.name}", reason="paper trading funds")
    return len(new)


@contextlib.contextmanager
def basket_lock(name: str) -> Iterator[None]:
    """One process per basket at a time (a second one would race the first on the same orders)."""
    from taxreport.config import data_dir

    folder = data_dir() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TaxreportError(f"another taxreport process is running basket {name!r}; wait for it to "
                                 "finish (or stop it with Ctrl-C)") from None
        yield
    finally:
        os.close(fd)


def make_engine(ctx: click.Context, venue: Venue, *, fill_timeout: float = 30, reprices: int = 3,
                offset_ticks: int = 0, market_finish: bool = False):  # noqa: ANN201
    from taxreport.rebalance.executor import ExecConfig, Executor

    from urllib.parse import urlparse

    # expTime: a request not carried out within the HTTP timeout (+2 s) is useless; the skew margin
    # before concluding "never carried out" is small only for a venue on this machine (same clock).
    timeout = getattr(venue.exchange, "timeout", None)
    host = urlparse(getattr(venue.exchange, "api_url", None) or "").hostname
    config = ExecConfig(offset_ticks=offset_ticks, fill_timeout=fill_timeout, reprices=reprices,
                        market_finish=market_finish, poll_interval=min(5.0, max(fill_timeout / 4, 0.5)),
                        order_expiry=max(float(timeout) + 2, 3.0) if timeout else 10.0,
                        expiry_margin=0.5 if host in ("127.0.0.1", "localhost", "::1") else 2.0)
    hook = _paper_kill_hook(venue)
    if hook is not None:
        venue.paper.on_step = hook
    # events helper (issue #12): OKX demo trading and a venue on this machine (the local OKX venue,
    # `taxreport venue okx`, binds 127.0.0.1; real OKX never answers on loopback) move no real money.
    simulated_venue = "okx-sandbox" if venue.mode == "sandbox" else \
        "okx-local" if host in ("127.0.0.1", "localhost", "::1") else None
    if simulated_venue:
        from taxreport.simulated import mark_simulated

        mark_simulated(open_ledger(ctx), venue.account, simulated_venue, actor=f"rebalancer:{venue.basket.name}")
    return Executor(open_ledger(ctx), venue.exchange, venue.basket, account=venue.account, config=config,
                    sleep=venue.sleep, clock=venue.clock, on_step=hook)


def _paper_kill_hook(venue: Venue) -> Callable[[str], None] | None:
    """Paper fault injection across processes: ``TAXREPORT_PAPER_KILL_AT=STEP[:N]`` ends the process
    abruptly (``os._exit(137)``, like ``kill -9``: no cleanup) the N-th time the executor reaches STEP
    (see ``taxreport.rebalance.executor.STEPS``). Ignored outside paper mode."""
    spec = os.environ.get("TAXREPORT_PAPER_KILL_AT")
    if not spec or venue.paper is None:
        return None
    step, _, nth = spec.partition(":")
    seen = {"n": 0}

    def hook(name: str) -> None:
        if name == step:
            seen["n"] += 1
            if seen["n"] == int(nth or 1):
                os._exit(137)

    return hook


def basket_state(journal) -> tuple[str, Any]:  # noqa: ANN001
    """``("stopped", record)`` if the last basket.stop is later than the last basket.invest."""
    last = None
    for rec in journal.records():
        if rec.record_type in ("basket.stop", "basket.invest"):
            last = rec
    if last is not None and last.record_type == "basket.stop":
        return "stopped", last
    return "active", last


def report_run(result, venue: Venue, fmt: str) -> None:  # noqa: ANN001
    from taxreport.model.money import decimal_str, money_str

    rec = result.recovery
    if fmt == "json":
        echo_json({"rebalance_id": result.rebalance_id, "status": result.status, "venue": venue.mode,
                   "account": venue.account,
                   "recovered": [{"client_order_id": c, "outcome": o} for c, o in (rec.orders if rec else [])],
                   "legs": [{"asset": x.asset, "side": x.side, "planned": x.planned, "filled": x.filled,
                             "average_price": x.notional / x.filled if x.filled else None, "orders": x.orders,
                             "status": x.status, "note": x.note} for x in result.legs],
                   "summary": result.summary})
        return
    if rec and not rec.empty:
        click.echo(f"recovered {len(rec.orders)} unfinished order(s), {rec.fills_written} fill(s) written")
    if result.status == "skipped":
        click.echo(f"rebalance {result.rebalance_id}: skipped ({result.plan.skipped})")
        return
    q = venue.basket.quote
    print_table(f"rebalance {result.rebalance_id} ({venue.mode}): {result.status}",
                [("side", "left"), ("asset", "left"), ("planned", "right"), ("filled", "right"),
                 (f"avg price {q}", "right"), ("orders", "right"), ("status", "left")],
                [(x.side.upper(), x.asset, decimal_str(x.planned), decimal_str(x.filled),
                  money_str(x.notional / x.filled) if x.filled else "", len(x.orders),
                  x.status + (f" ({x.note})" if x.note else "")) for x in result.legs])
    if not result.legs:
        click.echo("no orders: the basket is on target (or every leg is dust)")
    fees = ", ".join(f"{decimal_str(v)} {k}" for k, v in result.summary.get("fees", {}).items()) or "none"
    click.echo(f"fills written to the ledger as trades in account {venue.account}; fees: {fees}")


@click.command("run")
@venue_options
@exec_options
@click.option("--paper-balances", default=None,
              help="Paper: starting balances of a NEW paper basket, e.g. USDT=10000 (written as deposits).")
@click.option("--as-scheduled", is_flag=True, help="Apply the basket's gate/band (skip when inside it).")
@click.option("--loop", is_flag=True, help="Run on the basket's schedule until Ctrl-C (finishes the current step).")
@click.option("--interval", type=click.FloatRange(min=1), default=60, show_default=True,
              help="--loop: seconds between schedule checks (paper: simulated seconds, no real waiting).")
@click.option("--checks", type=click.IntRange(min=1), default=None, help="--loop: stop after N checks.")
@format_option()
@click.pass_context
def run(ctx: click.Context, basket_ref: str, paper: bool, live: bool, sandbox: bool, paper_state: Path | None,
        prices: str | None, walk: str | None, seed: int | None, at: str | None, yes: bool, fill_timeout: float,
        reprices: int, offset_ticks: int, market_finish: bool, paper_balances: str | None, as_scheduled: bool,
        loop: bool, interval: float, checks: int | None, fmt: str) -> None:
    """Rebalance a basket now (or on its schedule with --loop). First recovers any order a previous
    run left unfinished; every order, fill and the outcome are written to the ledger.

    \b
    Examples:
      taxreport rebalance run --basket core --paper --paper-balances USDT=10000 \\
          --prices BTC=60000,ETH=3000,SOL=150
      taxreport basket invest 10000 --basket core --paper
      taxreport rebalance run --basket core --paper --prices BTC=66000,ETH=2900,SOL=140
      taxreport rebalance run --basket core --paper --loop --walk 2 --seed 7 --interval 86400 --checks 30
      taxreport rebalance run --basket core --sandbox
      taxreport rebalance run --basket core --live --loop
    """
    from taxreport.rebalance.executor import run_rebalance

    venue = open_venue(ctx, basket_ref, paper=paper, live=live, sandbox=sandbox, paper_state=paper_state,
                       prices=prices, walk=walk, seed=seed, at=at, paper_balances=paper_balances,
                       confirm="Place orders to rebalance basket", yes=yes)
    with basket_lock(venue.basket.name):
        engine = make_engine(ctx, venue, fill_timeout=fill_timeout, reprices=reprices, offset_ticks=offset_ticks,
                             market_finish=market_finish)
        state, rec = basket_state(engine.journal)
        if state == "stopped":
            raise TaxreportError(f"basket {venue.basket.name} was stopped at {rec.time:%Y-%m-%d %H:%M} UTC; "
                                 "`taxreport basket invest` starts it again")
        engine.recover()
        if not loop:
            trigger = {"reason": "scheduled check" if as_scheduled else "manual run",
                       "venue": venue.mode}
            report_run(run_rebalance(engine, scheduled=as_scheduled, trigger=trigger), venue, fmt)
            return
        _loop(engine, venue, interval=interval, checks=checks, walk=walk, seed=seed, fmt=fmt)


def _loop(engine, venue: Venue, *, interval: float, checks: int | None, walk: str | None, seed: int | None,
          fmt: str) -> None:  # noqa: ANN001
    import time

    from taxreport.rebalance.executor import run_rebalance
    from taxreport.rebalance.planner import asset_rows
    from taxreport.rebalance.triggers import next_run, should_rebalance

    stop = {"asked": False}

    def on_sigint(_sig, _frame) -> None:  # noqa: ANN001
        if stop["asked"]:
            raise KeyboardInterrupt
        stop["asked"] = True
        click.echo("stopping after the current step (Ctrl-C again to abort now; the next run recovers)", err=True)

    previous = signal.signal(signal.SIGINT, on_sigint)
    b, n, last_check = venue.basket, 0, None
    try:
        while not stop["asked"] and (checks is None or n < checks):
            n += 1
            now = engine.clock()
            runs = engine.journal.records("rebalance.done")
            if b.mode == "threshold":  # checked every cooldown; only a trade is recorded
                symbols = [f"{a}/{b.quote}" for a in b.weights if a != b.quote]
                tickers = engine.retrier.call("fetch tickers", engine.exchange.fetch_tickers, symbols)
                balances = engine.retrier.call("fetch balances", engine.exchange.fetch_balances)
                mids = {s.split("/")[0]: (t.bid + t.ask) / 2 for s, t in tickers.items()}
                rows, _ = asset_rows(b, {a: q for a, q in balances.items() if a in b.weights}, mids)
                done = [r for r in runs if r.data.get("status") == "completed"]
                go, why = should_rebalance(b, rows, now, done[-1].time if done else None, last_check=last_check)
                last_check = now
                if go:
                    report_run(run_rebalance(engine, trigger={"reason": why, "venue": venue.mode}), venue, fmt)
                elif fmt != "json":
                    click.echo(f"{now:%Y-%m-%d %H:%M} UTC: {why}")
            else:  # calendar modes: a due run is recorded even when the gate/band skips it
                due = next_run(b, runs[-1].time) if runs else now
                if now >= due:
                    trigger = {"reason": f"scheduled {b.mode} run", "due": due, "venue": venue.mode}
                    report_run(run_rebalance(engine, scheduled=True, trigger=trigger), venue, fmt)
                elif fmt != "json":
                    click.echo(f"{now:%Y-%m-%d %H:%M} UTC: not due (next {b.mode} run {due:%Y-%m-%d %H:%M} UTC)")
            if stop["asked"] or (checks is not None and n >= checks):
                break
            if venue.paper is not None:
                venue.paper.advance(interval)
                if walk:
                    _walk(venue.paper, walk, None if seed is None else seed + n)
            else:
                wake = time.monotonic() + interval
                while not stop["asked"] and time.monotonic() < wake:
                    time.sleep(min(1.0, wake - time.monotonic()))
        if fmt != "json":
            nxt = next_run(b, engine.clock())
            click.echo(f"loop ended after {n} check(s); next scheduled run {nxt:%Y-%m-%d %H:%M} UTC")
    finally:
        signal.signal(signal.SIGINT, previous)
