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

from taxreport.cli.common import asset_numbers, echo_json, format_option, open_ledger, option_group, parse_when
from taxreport.cli.fit import echo_line
from taxreport.errors import InputError, MissingDataError, TaxreportError

ZERO = Decimal(0)


def _keep_in_meta(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Exchange connection options travel in ``ctx.meta`` (read by :func:`open_venue`), so every
    command with the venue options gets them without a parameter of its own."""
    if value is not None:
        ctx.meta[f"taxreport.{param.name}"] = value
        if ctx.get_parameter_source(str(param.name)) is click.core.ParameterSource.COMMANDLINE:
            ctx.meta[f"taxreport.{param.name}.given"] = True  # from the environment it is only a default
    return value


venue_options = option_group(
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
)


exec_options = option_group(
    click.option("--yes", is_flag=True, help="Do not ask for confirmation."),
    click.option("--fill-timeout", type=click.FloatRange(min=0), default=30, show_default=True,
                 help="Seconds to wait for fills before cancelling and re-pricing."),
    click.option("--reprices", type=click.IntRange(min=0), default=3, show_default=True,
                 help="Re-price the unfilled remainder up to N times."),
    click.option("--offset-ticks", type=int, default=0, show_default=True,
                 help="Limit price this many ticks from the touch towards the other side (>0 crosses sooner)."),
    click.option("--market-finish", is_flag=True, help="Send what is still unfilled as a market order at the end."),
)


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
    unsaved_state: Path | None = None  # paper, opened with defer_save: where the state goes once confirmed
    paper_deposit: dict[str, Decimal] | None = None  # paper, --paper-deposit checked: what add_paper_deposit puts in


def open_venue(ctx: click.Context, basket_ref: str, *, paper: bool, live: bool, sandbox: bool,
               paper_state: Path | None = None, prices: str | None = None, walk: str | None = None,
               seed: int | None = None, at: str | None = None, paper_balances: str | None = None,
               confirm: str | None = None, yes: bool = False, readonly: bool = False,
               started: bool = False, defer_save: bool = False, paper_deposit: str | None = None) -> Venue:
    """Open the basket and its venue. ``confirm`` (live only) is the question asked before trading.
    ``readonly`` (status): the paper state is neither saved nor moved to the current time.
    ``started`` (stop): a paper basket must have a state already (it is never created here).
    ``paper_deposit`` (``--paper-deposit``): checked here, before anything is written; put in the
    account by :func:`add_paper_deposit`."""
    from taxreport.rebalance.basket import resolve_basket, validate_markets

    if sum((paper, live, sandbox)) != 1:
        raise InputError("choose exactly one of --paper, --sandbox or --live", field="--paper/--live")
    basket, path = resolve_basket(basket_ref)
    if paper_deposit and not paper:
        raise InputError("--paper-deposit is for --paper only", field="--paper-deposit")
    if paper and (ctx.meta.get("taxreport.exchange_url.given") or ctx.meta.get("taxreport.exchange_timeout.given")):
        raise InputError("--exchange-url and --exchange-timeout are for --live and --sandbox", field="--exchange-url")
    if paper:
        return _open_paper(ctx, basket, path, paper_state, prices, walk, seed, at, paper_balances, readonly,
                           started, defer_save, paper_deposit)
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
                readonly: bool = False, started: bool = False, defer_save: bool = False,
                paper_deposit: str | None = None) -> Venue:
    from taxreport.config import data_dir
    from taxreport.exchanges.markets import DATA_FILE
    from taxreport.exchanges.markets import default_markets as okx_markets
    from taxreport.exchanges.paper import PaperExchange
    from taxreport.rebalance.basket import validate_markets

    # like `rebalance plan --paper`: a coin without a bundled OKX market is refused, never invented
    okx = okx_markets()
    validate_markets(basket, okx, file=str(DATA_FILE))
    owner = basket.paper_account or basket.name  # baskets naming one paper account share it
    state_file = state_file or data_dir() / "paper" / f"{owner}.json"
    now = datetime.now(timezone.utc).replace(microsecond=0)
    when = parse_when(at, what="--at") if at else None
    if (readonly or started) and not state_file.exists():
        raise InputError(f"basket {basket.name} has no paper state yet ({state_file}): start it with "
                         f"`taxreport basket invest AMOUNT --basket {basket.name} --paper --prices ...`",
                         field="--paper")
    if state_file.exists():
        ex = PaperExchange.load(state_file)
        ex.state_path = None  # nothing saved before every check below passed (a refused command writes nothing)
        if paper_balances:
            raise InputError(f"the paper basket exists already ({state_file}): add cash with `basket invest`, "
                             "or use another --paper-state", field="--paper-balances")
        if when is not None and when < ex.now:
            raise InputError(f"{at} is before the paper clock ({ex.now.isoformat()}); time never goes back",
                             field="--at")
        ex.now = when or (ex.now if readonly else max(ex.now, now))
    else:
        ex = PaperExchange(markets={}, now=when or now, id_prefix=f"{owner}{(when or now):%Y%m%d%H%M%S}")
    # OKX lists every spot market whatever the account holds or a basket trades (OKX v5, Get instruments:
    # "Retrieve a list of instruments with open contracts"): so does the paper exchange, from the same bundled
    # table, so that a paper account shared by several baskets prices and holds any basket's coin.
    for symbol, market in okx.items():
        ex.markets.setdefault(symbol, market)  # a state saved before keeps its own (the same) rules
    if prices:
        for asset, price in asset_numbers(prices, "--prices").items():
            if asset == basket.quote:
                raise InputError(f"{asset} is the quote asset of basket {basket.name}: its price is 1", field="--prices")
            paper_market(ex, asset, basket.quote, "--prices")
            if price <= 0:
                raise InputError(f"{asset} must be positive, got {price}", field="--prices")
            ex.set_price(f"{asset}/{basket.quote}", price)
    if walk:
        _walk(ex, walk, seed)
    missing = [f"{a}/{basket.quote}" for a in basket.weights
               if a != basket.quote and f"{a}/{basket.quote}" not in ex.prices]
    if missing:
        raise MissingDataError(f"no paper price for {', '.join(missing)}: give --prices, e.g. "
                               f"--prices {','.join(s.split('/')[0] + '=100' for s in missing)}")
    venue = Venue(basket, path, "paper", ex, f"paper:{owner}", ex, ex.advance, ex.clock,
                  paper_deposit=_check_paper_deposit(ex, basket.quote, paper_deposit) if paper_deposit else None)
    starting = asset_numbers(paper_balances, "--paper-balances") if paper_balances else {}
    for asset, qty in starting.items():
        if asset != basket.quote and asset not in basket.weights:
            raise InputError(f"{asset} is neither the quote asset nor a member of basket {basket.name} (money "
                             "of the account that is not the basket's: --paper-deposit)", field="--paper-balances")
        if qty <= 0:
            raise InputError(f"{asset} must be positive", field="--paper-balances")
    ex.state_path = None if readonly else state_file  # from here on every change is saved: the checks are done
    funded, coins = ZERO, {}
    for asset, qty in starting.items():
        ex.deposit(asset, qty, ref=f"{ex.id_prefix}:fund:{len(ex.fundings) + 1}")
        coins[asset] = qty
        funded += qty if asset == basket.quote else qty * ex.prices[f"{asset}/{basket.quote}"]
    if readonly:
        return venue
    if defer_save:  # the caller saves once the user confirmed (an aborted `basket stop` writes nothing)
        venue.unsaved_state, ex.state_path = ex.state_path, None
    else:
        ex.save()
    ledger = open_ledger(ctx)
    from taxreport.simulated import mark_simulated  # events helper (issue #12): paper money is never taxed

    mark_simulated(ledger, venue.account, "paper", actor=f"rebalancer:{basket.name}", time=ex.now)
    sync_paper_funding(ledger, venue)
    if funded:
        from taxreport.rebalance.journal import Journal

        Journal(ledger, basket.name, venue.account, ex.name, ex.clock).record(
            "basket.invest", f"{basket.name}:{ex.id_prefix}:funding",
            {"amount": funded, "quote": basket.quote, "venue": "paper", "note": "starting paper balances",
             "assets": coins})
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
    for symbol in sorted(s for s in ex.markets if s in ex.prices):  # the coins the account has prices for
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


def basket_state(journal) -> tuple[str, datetime | None]:  # noqa: ANN001
    """``(state, since)``: ``new``, ``active`` or ``stopped`` (the last basket.stop is later than the
    last basket.invest), from the journal's incremental book."""
    book = journal.sync()
    return book.state, book.state_time


def report_run(result, venue: Venue, fmt: str, check=None,  # noqa: ANN001
               redo: str = "the next check redoes this run") -> None:
    """Print one run (``check``: the runner's classification, e.g. ``incomplete`` and why; ``redo``:
    what happens to an incomplete one)."""
    from taxreport.model.money import decimal_str, money_str

    status = check.status if check is not None and check.status else result.status
    why = check.why if check is not None and status == "incomplete" else ""

    rec = result.recovery
    if fmt == "json":
        echo_json({"rebalance_id": result.rebalance_id, "status": status, "why": why, "venue": venue.mode,
                   "account": venue.account,
                   "recovered": [{"client_order_id": c, "outcome": o} for c, o in (rec.orders if rec else [])],
                   "legs": [{"asset": x.asset, "side": x.side, "planned": x.planned, "filled": x.filled,
                             "average_price": x.notional / x.filled if x.filled else None, "orders": x.orders,
                             "status": x.status, "note": x.note} for x in result.legs],
                   "summary": result.summary})
        return
    if rec and not rec.empty:
        echo_line(f"recovered {len(rec.orders)} unfinished order(s), {rec.fills_written} fill(s) written")
    if result.status == "skipped":
        echo_line(f"rebalance {result.rebalance_id}: skipped ({result.plan.skipped})")
        return
    q = venue.basket.quote
    from taxreport.cli.fit import Col, print_fitted

    print_fitted(f"rebalance {result.rebalance_id} ({venue.mode}): {status}",
                 [Col("side"), Col("asset"), Col("planned", "right"), Col("filled", "right"),
                  Col(f"avg price {q}", "right", wrap=True), Col("orders", "right"), Col("status", wrap=True)],
                [(x.side.upper(), x.asset, decimal_str(x.planned), decimal_str(x.filled),
                  money_str(x.notional / x.filled) if x.filled else "", len(x.orders),
                  x.status + (f" ({x.note})" if x.note else "")) for x in result.legs])
    if not result.legs:
        echo_line("no orders: the basket is on target (or every leg is dust)")
    fees = ", ".join(f"{decimal_str(v)} {k}" for k, v in result.summary.get("fees", {}).items()) or "none"
    echo_line(f"fills written to the ledger as trades in account {venue.account}; fees: {fees}")
    if why:
        echo_line(f"INCOMPLETE: {why}; {redo}")


def paper_market(ex, asset: str, quote: str, field: str) -> str:  # noqa: ANN001
    """The paper symbol ``ASSET/QUOTE`` of a coin (any basket's or none: the exchange's, not the basket's),
    or the one-line refusal saying why there is none: the paper exchange knows only the bundled OKX table."""
    symbol = f"{asset}/{quote}"
    if symbol not in ex.markets:
        from taxreport.exchanges.markets import DATA_FILE

        known = ", ".join(sorted(s for s in ex.markets if s.endswith(f"/{quote}")))
        raise InputError(f"the paper exchange has no market {symbol} (it knows the bundled OKX spot markets "
                         f"{known}; {DATA_FILE.name}): leave {asset} out of {field}", field=field)
    return symbol


def _check_paper_deposit(ex, quote: str, spec: str) -> dict[str, Decimal]:  # noqa: ANN001
    """``--paper-deposit`` read and checked against the paper exchange (a market and a price for each
    coin, to write its deposit's cost), before anything is written: a refusal writes nothing."""
    deposits = asset_numbers(spec, "--paper-deposit")
    for asset, qty in deposits.items():
        if qty <= 0:
            raise InputError(f"{asset} must be positive", field="--paper-deposit")
        if asset != quote and paper_market(ex, asset, quote, "--paper-deposit") not in ex.prices:
            raise InputError(f"no paper price for {asset}/{quote} to value the deposit at: add --prices "
                             f"{asset}=PRICE (in {quote})", field="--paper-deposit")
    return deposits


def add_paper_deposit(ctx: click.Context, venue: Venue) -> None:
    """``--paper-deposit BTC=1,USDT=500`` (checked by :func:`open_venue`): money in the paper ACCOUNT that is
    not the basket's (other holdings sharing the account, any coin of the paper exchange's markets, whatever
    the basket holds). Written to the ledger as deposits; no ``basket.invest``."""
    if not venue.paper_deposit:
        return
    ex = venue.paper
    for asset, qty in venue.paper_deposit.items():
        ex.deposit(asset, qty, ref=f"{ex.id_prefix}:outside:{len(ex.fundings) + 1}")
    ex.save()
    sync_paper_funding(open_ledger(ctx), venue)


class LogSink:
    """Where the bot's lines go: stdout (text with a UTC timestamp, or one JSON object per line)
    and, with ``--log-file``, appended to a file in the same format. Never prints a secret: lines
    are built from plans, fills and error messages, which never carry keys."""

    def __init__(self, fmt: str, log_file: Path | None) -> None:
        self.fmt = fmt
        self.file = log_file.open("a", encoding="utf-8") if log_file else None

    def __call__(self, line) -> None:  # noqa: ANN001 - runner.LogLine
        import json as _json

        from taxreport.cli.common import to_jsonable

        text = _json.dumps(to_jsonable(line.jsonable()), ensure_ascii=False) if self.fmt == "jsonl" else line.text()
        echo_line(text)
        if self.file is not None:
            self.file.write(text + "\n")
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


@click.command("run")
@venue_options
@exec_options
@click.option("--paper-balances", default=None,
              help="Paper: starting balances of a NEW paper basket, e.g. USDT=10000 (written as deposits).")
@click.option("--paper-deposit", default=None, metavar="ASSET=QTY,...",
              help="Paper: put money in the paper ACCOUNT that is NOT the basket's (other holdings sharing it).")
@click.option("--as-scheduled", is_flag=True,
              help="Apply the basket's gate/band now (skip when inside it), whatever the calendar says.")
@click.option("--if-due", is_flag=True,
              help="One check, only if the schedule says it is due (or a previous run must be redone): for cron.")
@click.option("--loop", is_flag=True,
              help="Run as a daemon on the basket's schedule until SIGTERM/Ctrl-C (finishes the current step, exit 0).")
@click.option("--every", default=None, metavar="INTERVAL",
              help="Rebalance on a fixed interval instead of the basket's calendar: 30m … 28d (e.g. 4h).")
@click.option("--interval", type=click.FloatRange(min=1), default=60, show_default=True,
              help="--loop: seconds between schedule checks (paper: simulated seconds, no real waiting).")
@click.option("--checks", type=click.IntRange(min=1), default=None, help="--loop: stop after N checks.")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also append every line to this file (same format).")
@click.option("--fx", "fx_rates", multiple=True, metavar="CUR=RATE",
              help="Tax-aware basket ([tax] table): ASSUMED flat rate 1 USD = RATE CUR where the ledger has none "
                   "(as `rebalance plan --fx`), e.g. --fx GBP=0.79.")
@format_option("table", "json", "jsonl")
@click.pass_context
def run(ctx: click.Context, basket_ref: str, paper: bool, live: bool, sandbox: bool, paper_state: Path | None,
        prices: str | None, walk: str | None, seed: int | None, at: str | None, yes: bool, fill_timeout: float,
        reprices: int, offset_ticks: int, market_finish: bool, paper_balances: str | None,
        paper_deposit: str | None, as_scheduled: bool, if_due: bool, loop: bool, every: str | None,
        interval: float, checks: int | None, log_file: Path | None, fx_rates: tuple[str, ...], fmt: str) -> None:
    """Rebalance a basket now, once when due (--if-due, for cron), or as a daemon (--loop). Plans from
    the basket's OWN holdings (other money in the account is never touched), recovers any order a
    previous run left unfinished, and redoes an incomplete run at the next check.

    \b
    Examples:
      taxreport basket invest 10000 --basket core --paper --prices BTC=60000,ETH=3000,SOL=150
      taxreport rebalance run --basket core --paper --prices BTC=66000,ETH=2900,SOL=140
      taxreport rebalance run --basket core --paper --loop --walk 2 --seed 7 --interval 86400 --checks 30
      taxreport rebalance run --basket core --live --if-due --yes --log-file ~/core.log   # from cron
      taxreport rebalance run --basket core --live --loop --yes --format jsonl           # under systemd
      taxreport rebalance run --basket core --paper --loop --every 4h --interval 3600 --checks 48

    \b
    A basket with a [tax] table trades the TAX-ADJUSTED plan `rebalance plan` shows (its policies
    defer_short_term, tax_budget, use_allowance, harvest_losses applied; each decision logged and
    recorded with the plan in the audit trail).
    """
    from taxreport.rebalance import runner

    if sum((as_scheduled, if_due, loop)) > 1:
        raise InputError("choose at most one of --as-scheduled, --if-due and --loop", field="--loop")
    venue = open_venue(ctx, basket_ref, paper=paper, live=live, sandbox=sandbox, paper_state=paper_state,
                       prices=prices, walk=walk, seed=seed, at=at, paper_balances=paper_balances,
                       confirm="Place orders to rebalance basket", yes=yes, paper_deposit=paper_deposit)
    from taxreport.cli.plan_tax import parse_fx

    tax_fx = parse_fx(fx_rates)
    if every:
        venue.basket = runner.with_every(venue.basket, every)
    add_paper_deposit(ctx, venue)
    sink = LogSink("jsonl" if fmt == "jsonl" or (fmt == "json" and (loop or if_due)) else "text", log_file)
    try:
        with basket_lock(venue.basket.name), _paper_lock(venue):
            def engine_factory():  # noqa: ANN202
                engine = make_engine(ctx, venue, fill_timeout=fill_timeout, reprices=reprices,
                                     offset_ticks=offset_ticks, market_finish=market_finish)
                engine.basket = venue.basket
                engine.tax_fx = tax_fx  # a tax-aware basket's policies value non-USD taxes with it (issue #15)
                return engine

            if loop:
                _daemon(ctx, venue, engine_factory, sink, interval=interval, checks=checks, walk=walk, seed=seed)
                return
            engine = engine_factory()
            book = engine.journal.sync()
            if book.state == "stopped":
                raise TaxreportError(f"basket {venue.basket.name} was stopped at {book.state_time:%Y-%m-%d %H:%M} "
                                     "UTC; `taxreport basket invest` starts it again")
            if book.stopping is not None and not if_due:
                raise TaxreportError(f"`basket stop` of {venue.basket.name} did not finish (run {book.stopping}): "
                                     f"run `taxreport basket stop --basket {venue.basket.name}` again to sell the "
                                     "rest (a rebalance now would buy back what it was selling)")
            if if_due:
                state = runner.RunnerState.load(runner.state_path(engine.journal))
                result = runner.check_if_due(engine, state, venue=venue.mode, log=sink,
                                             notify=_notifier(venue, sink))
                if result is not None and fmt == "table" and result.run is not None:
                    report_run(result.run, venue, fmt, result)
                return
            reason = "scheduled check" if as_scheduled else "manual run"
            result = runner.run_check(engine, reason=reason, venue=venue.mode, scheduled=as_scheduled,
                                      log=sink if fmt != "json" else None)
            runner.report(result, engine, lambda _line: None, _notifier(venue, sink), venue=venue.mode)
            if result.run is None and fmt != "json":
                echo_line(f"no orders: {result.why}")
            elif result.run is None:
                echo_json({"status": result.status, "why": result.why, "venue": venue.mode, "legs": []})
            else:
                report_run(result.run, venue, fmt, result)
    finally:
        sink.close()


@contextlib.contextmanager
def _paper_lock(venue: Venue) -> Iterator[None]:
    """Baskets sharing one paper account share its state file: one process at a time on it."""
    if venue.paper is None or venue.basket.paper_account is None:
        yield
        return
    with basket_lock(f"paper-{venue.basket.paper_account}"):
        yield


def _notifier(venue: Venue, sink: Callable[[Any], None]):  # noqa: ANN202
    from taxreport.rebalance.notify import notifier_for

    return notifier_for(venue.basket.name, log=sink, clock=venue.clock)


def _daemon(ctx: click.Context, venue: Venue, engine_factory, sink: LogSink, *, interval: float,  # noqa: ANN001
            checks: int | None, walk: str | None, seed: int | None) -> None:
    """The CLI side of :class:`taxreport.rebalance.runner.Daemon`: signals, waiting, paper time."""
    import time

    from taxreport.rebalance.runner import Daemon, RunnerState

    stop = {"asked": False}

    def on_signal(signum, _frame) -> None:  # noqa: ANN001
        if stop["asked"] and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop["asked"] = True
        name = "SIGTERM" if signum == signal.SIGTERM else "SIGINT"
        click.echo(f"{name}: stopping after the current step (Ctrl-C again to abort now; the next run recovers)",
                   err=True)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    n = {"waits": 0}

    def wait(seconds: float) -> None:
        if venue.paper is not None:
            venue.paper.advance(seconds)
            n["waits"] += 1
            if walk:
                _walk(venue.paper, walk, None if seed is None else seed + n["waits"])
            return
        wake = time.monotonic() + seconds
        while not stop["asked"] and time.monotonic() < wake:
            time.sleep(min(1.0, max(wake - time.monotonic(), 0)))

    clock = venue.clock or (lambda: datetime.now(timezone.utc))
    daemon = Daemon(make_engine=engine_factory, wait=wait, log=sink, clock=clock, interval=interval,
                    checks=checks, venue=venue.mode, should_stop=lambda: stop["asked"],
                    notify=_notifier(venue, sink), state=RunnerState())
    try:
        daemon.run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
