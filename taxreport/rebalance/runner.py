"""The basket bot's core: one check (recover, plan from the basket's OWN holdings, trade, classify the
outcome), the schedule (when a check is due, redo of unfinished runs), and the daemon loop that
survives exchange errors. No click, no printing: the CLI (``rebalance run``) parses flags and prints
the :class:`LogLine` s this module emits.

Rules (issue #11):

* **Isolation.** A check plans from the basket's holdings (:mod:`taxreport.rebalance.holdings`),
  capped by what the account has (a warning names every asset the account holds less of). Coins the
  basket did not buy are never planned, sold or valued. Several baskets can share one account.
* **No stranded cash.** The basket's quote cash is part of the basket: the plan counts it in the
  total and invests it (``invest`` = the basket's cash). Cash above :data:`CASH_LIMIT` of the
  basket's value makes a scheduled check trade even inside the gate/band.
* **No lost period.** A run that failed, was interrupted or left a leg unfilled (a remainder worth
  at least the basket's ``min_notional``) is ``incomplete`` (a ``rebalance.outcome`` record says
  why) and is redone at the next check, not at the next calendar slot; repeated failures back off
  (0, 5, 10, 20, 40 min, at most 1 h) so a refusing exchange is not hammered.
* **Dust.** A check whose every leg is dust (or that is inside the band in threshold mode) records
  nothing and trades nothing. Calendar modes still record a gate skip (one per slot).
* **Daemon.** :class:`Daemon` runs checks until asked to stop; exchange errors and outages are
  logged and retried with capped exponential backoff (never fatal); a stop request (SIGTERM/SIGINT
  in the CLI) is honoured between steps.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from taxreport.errors import InputError, MissingDataError, TaxreportError
from taxreport.exchanges.base import ExchangeError, NetworkError, Ticker
from taxreport.model.money import decimal_str, money_str
from taxreport.rebalance.holdings import BasketBook, Shortfall, capped_balances
from taxreport.rebalance.types import Basket, Plan

ZERO, HUNDRED = Decimal(0), Decimal(100)
CASH_LIMIT = Decimal(1)  # percent of the basket's value left as quote after a completed rebalance
REDO_BACKOFF = (0, 300, 600, 1200, 2400, 3600)  # seconds after the n-th consecutive unfinished run
MIN_EVERY, MAX_EVERY = timedelta(minutes=30), timedelta(days=28)


# ------------------------------------------------------------------------------------ log lines

@dataclass(frozen=True)
class LogLine:
    """One line of the bot's log: printed as text (UTC timestamp first) or as one JSON object."""

    time: datetime
    level: str  # info | warning | error
    event: str  # start | check | trade | skip | not_due | recovered | retry | incomplete | error | stop | notify
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        stamp = self.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{stamp} {self.level.upper():7} {self.message}"

    def jsonable(self) -> dict[str, Any]:
        return {"time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "level": self.level, "event": self.event, "message": self.message, **self.data}


Log = Callable[[LogLine], None]
Notify = Callable[[str, str, str], None]  # (kind, title, body)


# --------------------------------------------------------------------------------- the basket view

@dataclass
class View:
    """The basket as the venue sees it now: its own balances (capped), prices, shortfalls."""

    book: BasketBook
    account: dict[str, Decimal]
    balances: dict[str, Decimal]  # basket holdings capped by the account
    tickers: dict[str, Ticker]
    mids: dict[str, Decimal]
    shortfalls: list[Shortfall]

    def cash(self, basket: Basket) -> Decimal:
        return ZERO if basket.quote in basket.weights else self.balances.get(basket.quote, ZERO)

    def value(self, basket: Basket) -> Decimal:
        total = self.cash(basket)
        for asset in basket.weights:
            price = Decimal(1) if asset == basket.quote else self.mids[asset]
            total += self.balances.get(asset, ZERO) * price
        return total


def member_symbols(basket: Basket) -> list[str]:
    return [f"{a}/{basket.quote}" for a in basket.weights if a != basket.quote]


def look(engine: Any) -> View:  # engine: Executor
    """Fetch the account's free balances and the members' tickers; cap the basket's holdings."""
    b = engine.basket
    book = engine.journal.sync()
    symbols = member_symbols(b)
    account = engine.retrier.call("fetch balances", engine.exchange.fetch_balances)
    tickers = engine.retrier.call("fetch tickers", engine.exchange.fetch_tickers, symbols)
    missing = [s for s in symbols if s not in tickers or tickers[s].bid <= 0 or tickers[s].ask <= 0]
    if missing:
        raise MissingDataError(f"{engine.exchange.name} gave no usable price for {', '.join(missing)}; "
                               "nothing was traded (the next check tries again)")
    mids = {s.split("/")[0]: (tickers[s].bid + tickers[s].ask) / 2 for s in symbols}
    assets = list(b.weights) + ([] if b.quote in b.weights else [b.quote])
    balances, short = capped_balances(book.holdings, account, assets)
    return View(book, dict(account), balances, dict(tickers), mids, short)


def _fee_in(engine: Any) -> str:
    return "base" if engine.exchange.name in ("okx", "paper") else "quote"  # OKX: a spot buy's fee is in the coin


def plan_for(engine: Any, view: View, *, scheduled: bool = False, liquidate: bool = False,
             buy_only: bool = False, only_drifted: bool = False, basket: Basket | None = None) -> Plan:
    """The plan for the basket's own holdings (its cash invested). Pure apart from ``engine.markets``.
    ``basket``: plan with these weights instead (the tax policies' shrunk rebalances)."""
    from taxreport.rebalance.planner import asset_rows, plan, plan_liquidation
    from taxreport.rebalance.triggers import band_width

    b, ex = basket or engine.basket, engine.exchange
    common: dict[str, Any] = {"tickers": view.tickers, "amount_to_precision": ex.amount_to_precision,
                              "price_to_precision": ex.price_to_precision}
    if liquidate:
        return plan_liquidation(b, view.balances, view.mids, engine.markets, **common)
    cash = view.cash(b)
    only = None
    if only_drifted:
        rows, _ = asset_rows(b, view.balances, view.mids, invest=cash)
        limit = (lambda r: band_width(b, r.target)) if b.mode in ("threshold", "hybrid") else (lambda r: b.gate)
        only = {r.asset for r in rows if abs(r.drift) > limit(r)}
    return plan(b, view.balances, view.mids, engine.markets, invest=cash, buy_fee_in=_fee_in(engine),
                gate_check=scheduled, buy_only=buy_only, only=only, **common)


# ---------------------------------------------------------------------------------------- a check

@dataclass
class CheckResult:
    action: str  # traded | skipped | nothing | stopped
    status: str | None  # completed | incomplete | failed | skipped | None (nothing recorded)
    why: str
    plan: Plan | None = None
    run: Any = None  # executor.RunResult
    warnings: list[str] = field(default_factory=list)
    cash_pct: Decimal | None = None  # quote cash as % of the basket's value after the check
    value: Decimal | None = None


def classify(result: Any, basket: Basket) -> tuple[str, str]:
    """``completed`` only if every leg filled (a remainder under ``min_notional`` is dust);
    otherwise ``incomplete`` with why. ``failed``/``skipped`` stay as the executor said."""
    if result.status != "completed":
        return result.status, str(result.summary.get("error") or result.summary.get("skipped") or "")
    short = []
    for order, leg in zip(result.plan.orders, result.legs):
        left = leg.planned - leg.filled
        if left > 0 and left * order.limit_price >= basket.min_notional:
            note = f" ({leg.note})" if leg.note else ""
            short.append(f"{leg.side} {leg.asset} filled {decimal_str(leg.filled)} of "
                         f"{decimal_str(leg.planned)}{note}")
    if short:
        return "incomplete", "; ".join(short)
    return "completed", ""


def run_check(engine: Any, *, reason: str, venue: str, scheduled: bool = False, liquidate: bool = False,
              buy_only: bool = False, only_drifted: bool = False, log: Log | None = None,
              state: RunnerState | None = None) -> CheckResult:
    """Recover, look at the basket's own holdings, plan, and trade; write the outcome record when
    a run did not complete. Nothing is recorded when the plan has no orders (all dust, or inside
    the band in threshold mode); a calendar mode's gate skip is recorded as ``skipped``."""
    now = engine.clock()
    emit = log or (lambda _line: None)
    rec = engine.recover()
    if rec is not None and not rec.empty:
        emit(LogLine(now, "warning", "recovered", f"recovered {len(rec.orders)} unfinished order(s), "
                     f"{rec.fills_written} fill(s) written, closed run(s) {', '.join(rec.rebalances_closed) or '-'}",
                     {"orders": [{"client_order_id": c, "outcome": o} for c, o in rec.orders],
                      "closed": list(rec.rebalances_closed)}))
    try:
        return _check(engine, reason=reason, venue=venue, scheduled=scheduled, liquidate=liquidate,
                      buy_only=buy_only, only_drifted=only_drifted, emit=emit,
                      state=state or RunnerState.load(state_path(engine.journal)))
    finally:
        engine.recovered = None  # the next check recovers again (cheap: the journal is incremental)


def _check(engine: Any, *, reason: str, venue: str, scheduled: bool, liquidate: bool, buy_only: bool,
           only_drifted: bool, emit: Log, state: RunnerState) -> CheckResult:
    b, now = engine.basket, engine.clock()
    view = look(engine)
    state.mark(now, view.mids)  # prices seen: today's P&L needs the ones at 00:00 UTC
    state.save()
    warnings = [s.message(b.name, engine.account) for s in view.shortfalls]
    for w in warnings:
        emit(LogLine(now, "warning", "shortfall", w))
    if view.value(b) <= 0:
        return CheckResult("nothing", None, f"basket {b.name} holds nothing: invest first (`taxreport basket "
                           "invest`)", warnings=warnings)
    p = plan_for(engine, view, scheduled=scheduled, liquidate=liquidate, buy_only=buy_only,
                 only_drifted=only_drifted)
    total = p.total_value
    cash = view.cash(b)
    if p.skipped and total > 0 and cash / total * HUNDRED > CASH_LIMIT:
        why = (f"idle cash {money_str(cash)} {b.quote} is {money_str(cash / total * HUNDRED)}% of the basket "
               f"(over {decimal_str(CASH_LIMIT)}%): reinvested")
        p = plan_for(engine, view, scheduled=False, buy_only=buy_only, only_drifted=only_drifted)
        reason = f"{reason}; {why}"
    if b.tax is not None and not liquidate and not buy_only and not p.skipped:  # issue #15: trade the
        from taxreport.rebalance.tax_run import adjust_check  # tax-adjusted plan `rebalance plan` shows

        p = adjust_check(engine, view, p, log=emit, replan=lambda nb: plan_for(
            engine, view, basket=nb, only_drifted=only_drifted))
    if p.skipped:
        if b.mode in ("threshold",) or not scheduled:
            return CheckResult("nothing", None, p.skipped, p, warnings=warnings)
        result = engine.execute(p, trigger={"reason": reason, "venue": venue})
        return CheckResult("skipped", "skipped", p.skipped, p, result, warnings)
    if not p.orders:
        why = "every leg is dust: " + "; ".join(f"{d.side} {d.asset} {d.reason}" for d in p.dust) if p.dust \
            else "on target"
        return CheckResult("nothing", None, why, p, warnings=warnings)
    try:
        result = engine.execute(p, trigger={"reason": reason, "venue": venue, **({"liquidate": True} if liquidate else {})})
    except KeyError as exc:  # a venue that stops quoting a member mid-run (tickers without the symbol)
        raise MissingDataError(f"{engine.exchange.name} gave no price for {exc.args[0]} during the run; "
                               "what was done is recorded and the next check recovers and redoes it") from None
    except TaxreportError as exc:  # ExecutionError: the done record (failed) is written already
        from taxreport.rebalance.recovery import ExecutionError

        if not isinstance(exc, ExecutionError):
            raise
        return CheckResult("traded", "failed", str(exc), p, None, warnings)
    status, why = classify(result, b)
    outcome: dict[str, Any] = {"rebalance_id": result.rebalance_id, "status": status, "why": why}
    value = pct = None
    try:
        after = look(engine)
        value = after.value(b)
        pct = after.cash(b) / value * HUNDRED if value > 0 else None
        outcome.update(value=value, cash=after.cash(b), cash_pct=pct)  # the basket's own, not the account's
    except (ExchangeError, NetworkError, MissingDataError, TaxreportError):
        pass  # the run is recorded; only its value after is unknown
    engine.journal.rebalance_record(result.rebalance_id, "outcome", "rebalance.outcome", outcome)
    return CheckResult("traded", status, why, p, result, warnings, pct, value)


# -------------------------------------------------------------------------------------- schedule

def parse_every(text: str) -> timedelta:
    """``30m``, ``4h``, ``1d``, ``2w`` (30 minutes to 28 days, as OKX/Gate offer)."""
    import re

    m = re.fullmatch(r"\s*(\d+)\s*(m|min|h|d|w)\s*", text.lower())
    if not m:
        raise InputError(f"{text!r} is not an interval: use e.g. 30m, 4h, 1d, 2w", field="every")
    n, unit = int(m.group(1)), m.group(2)
    delta = {"m": timedelta(minutes=n), "min": timedelta(minutes=n), "h": timedelta(hours=n),
             "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]
    if not MIN_EVERY <= delta <= MAX_EVERY:
        raise InputError(f"{text} is outside 30 minutes … 28 days", field="every")
    return delta


@dataclass
class RunnerState:
    """What the schedule remembers besides the ledger (a small JSON file next to the book)."""

    last_check: datetime | None = None  # threshold cooldown counts from here
    last_slot: datetime | None = None  # a calendar slot checked without a record (all dust)
    failures: int = 0  # consecutive unfinished runs (redo backoff)
    last_summary: str | None = None  # ISO week of the last weekly summary
    marks: list[tuple[datetime, dict[str, Decimal]]] = field(default_factory=list)  # prices seen, 3 days
    path: Path | None = None

    def mark(self, when: datetime, mids: dict[str, Decimal]) -> None:
        """Remember the prices seen at ``when`` (today's P&L needs the prices at 00:00 UTC)."""
        self.marks = [m for m in self.marks if m[0] >= when - timedelta(days=3) and m[0] != when]
        self.marks.append((when, dict(mids)))
        self.marks.sort(key=lambda m: m[0])

    def price_at(self, moment: datetime, slack: timedelta = timedelta(hours=1)) -> dict[str, Decimal] | None:
        """The prices last seen at or before ``moment`` (within ``slack``), else the first seen
        within ``slack`` after it; None when no check was close enough to ``moment``."""
        before = [m for m in self.marks if moment - slack <= m[0] <= moment]
        if before:
            return before[-1][1]
        after = [m for m in self.marks if moment < m[0] <= moment + slack]
        return after[0][1] if after else None

    @classmethod
    def load(cls, path: Path | None) -> RunnerState:
        state = cls(path=path)
        if path is None or not path.exists():
            return state
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            state.last_check = datetime.fromisoformat(d["last_check"]) if d.get("last_check") else None
            state.last_slot = datetime.fromisoformat(d["last_slot"]) if d.get("last_slot") else None
            state.failures = int(d.get("failures", 0))
            state.last_summary = d.get("last_summary")
            state.marks = [(datetime.fromisoformat(t), {a: Decimal(p) for a, p in m.items()})
                           for t, m in d.get("marks", [])]
        except (OSError, ValueError, KeyError, TypeError):
            return cls(path=path)
        return state

    def save(self) -> None:
        if self.path is None:
            return
        d = {"last_check": self.last_check.isoformat() if self.last_check else None,
             "last_slot": self.last_slot.isoformat() if self.last_slot else None,
             "failures": self.failures, "last_summary": self.last_summary,
             "marks": [[t.isoformat(), {a: decimal_str(p) for a, p in m.items()}] for t, m in self.marks]}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(d), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass


def next_due(basket: Basket, book: BasketBook, state: RunnerState, now: datetime) -> tuple[datetime | None, str]:
    """When the next check is due (``None``: never, the basket is stopped or empty) and why."""
    from taxreport.rebalance.triggers import next_run

    if book.state == "stopped":
        return None, f"basket {basket.name} is stopped"
    if book.state == "new":
        return None, f"basket {basket.name} has no investment yet"
    if book.stopping is not None:  # never buy back what `basket stop` was selling
        return None, (f"`basket stop` of {basket.name} did not finish (run {book.stopping}): the bot trades "
                      f"nothing until `taxreport basket stop --basket {basket.name}` is run again")
    if book.open_runs:  # a run started and never finished: the process died mid-run (kill -9, power)
        rid, started = min(book.open_runs.items(), key=lambda item: item[1])
        return started, (f"redo: run {rid} started at {_z(started)} never finished (the process stopped "
                         "mid-run); the check recovers its orders first")
    redo = book.redo
    if redo is not None:
        delay = REDO_BACKOFF[min(max(state.failures - 1, 0), len(REDO_BACKOFF) - 1)]
        return redo.time + timedelta(seconds=delay), (f"redo: run {redo.rebalance_id} was {redo.status}"
                                                     + (f" ({redo.why})" if redo.why else ""))
    if basket.mode == "threshold":
        if state.last_check is None:
            return now, "threshold check"
        return state.last_check + timedelta(minutes=basket.cooldown_minutes), "threshold check"
    anchors = [t for t in (book.last_run.time if book.last_run else None, state.last_slot, book.state_time) if t]
    anchor = max(anchors) if anchors else None
    label = basket.mode if basket.mode != "interval" else f"every {basket.every}"
    if anchor is None:
        return now, f"scheduled {label} run"
    return next_run(basket, anchor), f"scheduled {label} run"


def check_if_due(engine: Any, state: RunnerState, *, venue: str, log: Log, notify: Notify | None = None,
                 force: bool = False) -> CheckResult | None:
    """One scheduled check: None when not due (logged), else the check's result (logged, notified)."""
    b = engine.basket
    now = engine.clock()
    book = engine.journal.sync()
    due, why = next_due(b, book, state, now)
    if due is None:
        log(LogLine(now, "info", "not_due", f"{b.name}: {why}; nothing to do", {"basket": b.name}))
        return None
    if now < due and not force:
        log(LogLine(now, "info", "not_due", f"{b.name}: not due ({why} at {_z(due)})",
                    {"basket": b.name, "next": _z(due)}))
        return None
    redo = book.redo
    result = run_check(engine, reason=why, venue=venue, scheduled=True, log=log, state=state)
    if redo is not None and result.status is None:  # nothing left to trade: the unfinished run is resolved
        engine.journal.rebalance_record(redo.rebalance_id, "resolved", "rebalance.outcome", {
            "rebalance_id": redo.rebalance_id, "status": "completed",
            "why": f"redo check at {_z(now)} found nothing left to trade ({result.why})"})
    state.last_check = now
    if result.status is None and b.mode != "threshold":
        state.last_slot = now
    if result.status in ("failed", "incomplete"):
        state.failures += 1
    elif result.status in ("completed", "skipped"):
        state.failures = 0
    state.save()
    report(result, engine, log, notify, venue=venue)
    return result


def report(result: CheckResult, engine: Any, log: Log, notify: Notify | None, *, venue: str) -> None:
    """Log a check's outcome and notify when it needs a human (failed, incomplete, stranded cash)."""
    b, now = engine.basket, engine.clock()
    rid = result.run.rebalance_id if result.run is not None else None
    data: dict[str, Any] = {"basket": b.name, "venue": venue, "status": result.status, "rebalance_id": rid}
    if result.status is None:
        log(LogLine(now, "info", "skip", f"{b.name}: nothing to trade ({result.why}); nothing recorded", data))
    elif result.status == "skipped":
        log(LogLine(now, "info", "skip", f"{b.name}: run {rid} skipped ({result.why})", data))
    elif result.status == "completed":
        cash = "" if result.cash_pct is None else f", cash {money_str(result.cash_pct)}% of the basket"
        legs = len(result.run.legs) if result.run is not None else 0
        log(LogLine(now, "info", "trade", f"{b.name}: run {rid} completed ({legs} leg(s){cash})",
                    {**data, "cash_pct": result.cash_pct, "value": result.value}))
        if result.cash_pct is not None and result.cash_pct > CASH_LIMIT and notify:
            notify("stranded_cash", f"taxreport: {b.name} holds {money_str(result.cash_pct)}% cash",
                   f"After run {rid} the basket holds {money_str(result.cash_pct)}% of its value in {b.quote}.")
    else:
        log(LogLine(now, "warning" if result.status == "incomplete" else "error", result.status,
                    f"{b.name}: run {rid or ''} {result.status}: {result.why}; redone at the next check", data))
        if notify:
            notify(result.status, f"taxreport: {b.name} rebalance {result.status}",
                   f"Run {rid or ''} on {venue} is {result.status}: {result.why}. It is redone at the next check.")
    for w in result.warnings:
        if notify:
            notify("shortfall", f"taxreport: {b.name} account holds less than the basket", w)


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# ------------------------------------------------------------------------------------------ daemon

RECOVERABLE: tuple[type[BaseException], ...] = (ExchangeError, NetworkError, MissingDataError)


@dataclass
class Daemon:
    """``rebalance run --loop``: check, wait, repeat, until ``should_stop()`` or ``checks`` done.

    ``make_engine()`` builds the executor (loading markets; it is retried like a check when the
    exchange is down). ``wait(seconds)`` sleeps (the CLI's is interruptible; paper advances its
    clock). Errors of the exchange or the network never end the loop: they are logged and the next
    check comes after a capped exponential backoff (``backoff`` doubling up to ``max_backoff``)."""

    make_engine: Callable[[], Any]
    wait: Callable[[float], None]
    log: Log
    clock: Callable[[], datetime]
    interval: float = 60.0
    checks: int | None = None
    venue: str = "paper"
    should_stop: Callable[[], bool] = lambda: False
    notify: Notify | None = None
    backoff: float = 5.0
    max_backoff: float = 900.0
    state: RunnerState = field(default_factory=RunnerState)
    errors: int = 0

    def run(self) -> int:
        """Returns the number of checks made. Only a stop request (or ``checks``) ends it."""
        from taxreport.rebalance.recovery import ExchangeUnavailable

        recoverable: tuple[type[BaseException], ...] = (ExchangeUnavailable, *RECOVERABLE)
        engine, n, failures = None, 0, 0
        self.log(LogLine(self.clock(), "info", "start", f"bot started: check every {decimal_str(Decimal(str(self.interval)))} s"
                         + (f", {self.checks} check(s)" if self.checks else ""), {"venue": self.venue}))
        while not self.should_stop() and (self.checks is None or n < self.checks):
            n += 1
            delay = self.interval
            try:
                if engine is None:
                    engine = self.make_engine()
                self.state = self.state if self.state.path else self._state_for(engine)
                check_if_due(engine, self.state, venue=self.venue, log=self.log, notify=self.notify)
                self._drain_retries(engine)
                self._weekly_summary(engine)
                failures = 0
            except recoverable as exc:
                if engine is not None:
                    self._drain_retries(engine)
                failures += 1
                self.errors += 1
                delay = min(self.backoff * (2 ** (failures - 1)), self.max_backoff, max(self.interval, self.backoff))
                self.log(LogLine(self.clock(), "error", "error",
                                 f"check failed ({exc.__class__.__name__}: {exc}); retrying in {delay:g} s "
                                 f"(attempt {failures}); the next check recovers anything unfinished",
                                 {"error": str(exc), "retry_in": delay, "attempt": failures}))
            if self.should_stop() or (self.checks is not None and n >= self.checks):
                break
            self.wait(delay)
        self.log(LogLine(self.clock(), "info", "stop", f"bot stopped: loop ended after {n} check(s)", {"checks": n}))
        return n

    def _state_for(self, engine: Any) -> RunnerState:
        return RunnerState.load(state_path(engine.journal))

    def _drain_retries(self, engine: Any) -> None:
        for line in engine.retrier.log:
            self.log(LogLine(self.clock(), "warning", "retry", f"retried: {line}", {"retry": line}))
        engine.retrier.log.clear()

    def _weekly_summary(self, engine: Any) -> None:
        if self.notify is None:
            return
        now = engine.clock()
        week = f"{now.isocalendar().year}-W{now.isocalendar().week:02d}"
        if self.state.last_summary == week:
            return
        if self.state.last_summary is not None:
            view = look(engine)
            b, book = engine.basket, view.book
            value = view.value(b)
            self.notify("summary", f"taxreport: weekly summary of {b.name}",
                        f"value {money_str(value)} {b.quote}, invested {money_str(book.invested)}, "
                        f"P&L {money_str(value - book.invested)} {b.quote}; runs so far {book.runs}; "
                        f"last run {book.last_run.status if book.last_run else 'none'}")
        self.state.last_summary = week
        self.state.save()


def state_path(journal: Any) -> Path:
    return journal._book_path().with_suffix(".runner.json")


def with_every(basket: Basket, every: str) -> Basket:
    """The basket on a fixed interval (``rebalance run --every 4h``)."""
    parse_every(every)
    return replace(basket, mode="interval", every=every)
