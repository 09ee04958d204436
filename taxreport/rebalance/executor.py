"""The executor: carries out a :class:`~taxreport.rebalance.types.Plan` on an exchange, crash-safely,
writing everything to the ledger as it happens (see :mod:`taxreport.rebalance.journal`).

SAFETY ARGUMENT — why no interleaving of timeouts, crashes and lag can double an order or lose a fill
on a venue with OKX's semantics (clOrdId unique only among PENDING orders, look-up by clOrdId returns
only the latest order, fills listed later than the order's filled status, ``expTime`` honoured):

A. *One request per client order id, ever.* Every order attempt gets its own deterministic id
   (``client_order_id(basket, rebalance id, leg, attempt)``) and the executor sends ``create_order``
   for that id at most once, with one exception: a definite "not processed" answer (rate limit,
   OKX ``50011`` / HTTP 429), after which no copy of the request exists anywhere. It never re-sends
   after an ambiguous answer (timeout, connection error, 5xx page, JSON without ``code``, ``50004``,
   ``51016`` duplicate, any error it cannot classify): a later attempt uses a NEW id. So the
   pending-only uniqueness of OKX is never relied on, and "latest order by clOrdId" is the only order.
B. *Intent before request.* The ``order.intent`` record (with the request's ``expTime``) is in the
   ledger before the request leaves; a crash at any later point leaves an unfinished intent, which
   recovery resolves before anything else is planned or sent (every run and every restart).
C. *No conclusion before expTime.* Every create carries ``expTime`` = now + ``order_expiry``; the
   venue does not carry out a request that reaches it after that instant. An ambiguous create (or an
   intent found unfinished after a crash) is resolved by :func:`~taxreport.rebalance.recovery.resolve_intent`:
   if the venue lists the order it is used; otherwise the executor waits until expTime + a skew
   margin and looks up BOTH the order by client order id and fills carrying it. Only when both find
   nothing is the intent recorded ``missing``, and by then the request can never be carried out. A
   definite refusal is recorded ``rejected``; nothing ambiguous ever is.
D. *Finished means every fill recorded.* An order gets its terminal update only when the fills
   written for it (fetched by venue order id, all pages) sum to the venue's filled amount; until
   then it is ``fills_pending`` (non-terminal), waited for up to ``fill_timeout``, and otherwise left
   to the next run's recovery. Fills are written one transaction each, keyed by the venue trade id,
   so a crash between two of them neither loses nor doubles one.
E. *One process per basket* (a lock in the CLI), and recovery only cancels and records: it never
   places an order. The next plan is made from the venue's balances after recovery.

F. *Only the basket's own cash.* The planner funds the buys with the basket's quote cash plus the
   planned proceeds of its sells; the account may hold more quote (the user's own, another
   basket's). Every buy is sized within the basket's budget: its quote cash before the run
   (``plan.quote_balance``) + what its sells' recorded fills brought in - what its buys cost (an
   amount filled but not yet listed at its limit price). A sell that brings in less than planned
   (unfunded, partly filled, fills pending) shrinks the buys instead of borrowing the account's cash.

Hence each intent maps to at most one venue order (A, C), every venue order has an intent (B), and
every fill of every venue order reaches the ledger exactly once (D, natural keys).

Per leg (sells first, as planned): price at the touch (a buy at the best bid, a sell at the best ask,
moved ``offset_ticks`` towards the other side), amount = the leg's remainder truncated to the market
step and capped by the free balance; wait for fills up to ``fill_timeout`` (polling every
``poll_interval``), cancel, settle, re-price the remainder with a new id, up to ``reprices`` times;
optionally finish with a market order (``market_finish``). A remainder below the market's minimums
is reported as dust.

``on_step(name)`` is called at every step boundary in :data:`STEPS`; the fault suite crashes the
process there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from taxreport.exchanges.base import (
    DuplicateClientOrderId,
    Exchange,
    ExchangeError,
    Market,
    NetworkError,
    Order,
    OrderRequest,
    RateLimitExceeded,
)
from taxreport.model.money import decimal_str
from taxreport.rebalance.ids import client_order_id
from taxreport.rebalance.journal import Intent, Journal
from taxreport.rebalance.recovery import (
    ExchangeUnavailable,
    ExecutionError,
    Patience,
    RecoveryReport,
    Resolution,
    Retrier,
    cancel_if_open,
    rebalance_summary,
    recover,
    resolve_intent,
    settle,
)
from taxreport.rebalance.types import Basket, Plan, PlannedOrder

ZERO = Decimal(0)

#: Every step boundary at which ``on_step`` is called (``exchange.*`` come from the paper exchange:
#: the request was carried out but its response not yet returned).
STEPS = ("trigger_written", "plan_written", "intent_written", "exchange.accepted", "order_acknowledged",
         "ack_recorded", "fill_recorded", "before_cancel", "exchange.canceled", "after_cancel", "order_finished",
         "leg_finished", "done_written")


@dataclass(frozen=True)
class ExecConfig:
    offset_ticks: int = 0  # ticks towards the other side of the book (>0 is more aggressive)
    fill_timeout: float = 30.0  # seconds to wait for fills before cancelling and re-pricing
    poll_interval: float = 5.0
    reprices: int = 3  # re-price the remainder up to this many times after the first order
    market_finish: bool = False  # finally send the remainder as a market order
    retries: int = 5  # NetworkError retries per read request (and rate-limited creates per leg)
    backoff: float = 0.5  # first retry delay in seconds (doubled each time, at most 30 s)
    order_expiry: float = 10.0  # expTime of each create: seconds after which the venue must not carry it out
    expiry_margin: float = 2.0  # clock skew allowance before concluding a request was never carried out


@dataclass
class LegResult:
    asset: str
    symbol: str
    side: str
    planned: Decimal
    filled: Decimal = ZERO
    notional: Decimal = ZERO
    orders: list[str] = field(default_factory=list)
    status: str = "unfilled"  # filled | partial | unfilled
    note: str = ""


@dataclass
class RunResult:
    rebalance_id: str
    status: str  # completed | skipped | failed
    plan: Plan
    legs: list[LegResult]
    recovery: RecoveryReport | None = None
    summary: dict[str, Any] = field(default_factory=dict)


class Executor:
    """One basket on one exchange. Create a new one after a crash: it recovers from the ledger."""

    def __init__(self, ledger, exchange: Exchange, basket: Basket, *, account: str | None = None,
                 config: ExecConfig | None = None, sleep: Callable[[float], None] | None = None,
                 clock: Callable[[], datetime] | None = None, on_step: Callable[[str], None] | None = None,
                 id_fn: Callable[[str, str, int, int], str] | None = None) -> None:
        import time as _time

        self.exchange, self.basket = exchange, basket
        self.config = config or ExecConfig()
        self.sleep = sleep or _time.sleep
        self.clock = clock or (lambda: datetime.now(UTC))
        self.on_step = on_step or (lambda _step: None)
        self.id_fn = id_fn or client_order_id
        self.account = account or basket.account
        self.journal = Journal(ledger, basket.name, self.account, exchange.name, self.clock)
        if basket.tax is not None and basket.tax.choose_lots:  # US/AU: identify lots at each sale, recorded
            from taxreport.rebalance.lot_identification import fill_identifier

            self.journal.lot_identifier = fill_identifier(ledger, basket)
        self.retrier = Retrier(self.sleep, self.config.retries, self.config.backoff)
        self.patience = Patience(self.sleep, self.clock, fill_wait=self.config.fill_timeout,
                                 poll=self.config.poll_interval, expiry_margin=self.config.expiry_margin)
        self.markets: dict[str, Market] = self.retrier.call("load markets", exchange.load_markets)
        self.recovered: RecoveryReport | None = None
        self._budget = ZERO  # the basket's quote cash during execute() (safety F)
        self._reference: dict[str, Decimal] = {}  # client order id -> the price its amount was sized at
        # a tax-aware basket's policies value non-USD taxes with these (`rebalance run --fx`, issue #15)
        self.tax_fx: dict[str, Decimal] | None = None

    # --- recovery ---------------------------------------------------------------------------
    def recover(self) -> RecoveryReport:
        """Resolve every unfinished intent (crashed runs, pending fills). Safe to call before every
        run; the reports of successive calls are merged in :attr:`recovered`."""
        report = recover(self.journal, self.exchange, self.retrier, self.markets, self.on_step, self.patience)
        if self.recovered is None:
            self.recovered = report
        else:
            self.recovered.merge(report)
        return report

    def new_rebalance_id(self) -> str:
        base = self.clock().strftime("%Y%m%d%H%M%S")
        rid, n = base, 0
        while self.journal.has_rebalance_record(rid, "trigger"):
            n += 1
            rid = f"{base}{n}"
        return rid

    # --- execution --------------------------------------------------------------------------
    def execute(self, plan: Plan, *, trigger: dict[str, Any] | None = None, rebalance_id: str | None = None) -> RunResult:
        """Run ``plan`` (computed AFTER :meth:`recover`, from fresh balances). Writes trigger, plan,
        every order and fill, and the completion record."""
        if self.recovered is None:
            self.recover()
        rid = rebalance_id or self.new_rebalance_id()
        why = dict(trigger or {"reason": "manual run"})
        self.journal.rebalance_record(rid, "trigger", "rebalance.trigger", {
            "rebalance_id": rid, "basket": self.basket.name, "mode": self.basket.mode, **why,
            "max_drift": plan.max_drift, "drift": {r.asset: r.drift for r in plan.rows}})
        self.on_step("trigger_written")
        from taxreport.rebalance.planner import plan_to_dict

        record = {"rebalance_id": rid, **plan_to_dict(plan)}
        if self.basket.tax is not None and (plan.orders or plan.tax is not None) \
                and not self.journal.has_rebalance_record(rid, "plan"):
            # a tax-aware plan carries its preview and the policies' decisions (rebalance/tax_plan.py)
            record["tax"] = dict(plan.tax) if plan.tax is not None else self._tax_preview(plan)
        self.journal.rebalance_record(rid, "plan", "rebalance.plan", record)
        self.on_step("plan_written")
        legs: list[LegResult] = []
        # F. the basket's own quote cash: what it held before the run; sells add what they brought in,
        # buys take what they cost (_account); no buy is ever sized beyond it (_request)
        self._budget = plan.quote_balance
        status, error = "completed", None
        if plan.skipped:
            status = "skipped"
        try:
            for index, leg in enumerate(plan.orders):
                legs.append(self._execute_leg(rid, index, leg))
                self.on_step("leg_finished")
        except ExecutionError as exc:
            status, error = "failed", str(exc)
        summary = rebalance_summary(self.journal, rid)
        done = {"rebalance_id": rid, "status": status, "total_value_before": plan.total_value,
                "value_after": self._value(),
                "dust": [{"asset": d.asset, "side": d.side, "notional": d.notional, "reason": d.reason}
                         for d in plan.dust], **summary}
        if plan.skipped:
            done["skipped"] = plan.skipped
        if error:
            done["error"] = error
        self.journal.rebalance_record(rid, "done", "rebalance.done", done)
        self.on_step("done_written")
        result = RunResult(rid, status, plan, legs, self.recovered, done)
        if error:
            raise ExecutionError(error)
        return result

    def _tax_preview(self, plan: Plan) -> dict[str, Any]:
        """The plan's tax preview for the audit trail (rebalance/tax_preview.py; sells before fees).
        Never stops a run: a preview that cannot be made is recorded with its reason."""
        from dataclasses import replace

        from taxreport.errors import TaxreportError
        from taxreport.rebalance.tax_preview import preview_from_ledger, preview_to_dict

        try:
            taxed = preview_from_ledger(self.journal.ledger, plan, replace(self.basket, account=self.account),
                                        self.clock())
        except TaxreportError as exc:
            return {"error": str(exc).splitlines()[0]}
        return preview_to_dict(taxed) if taxed is not None else {}

    def _value(self) -> Decimal | None:
        """The basket's value now (members at mid + quote cash), for status and today's P&L."""
        symbols = [f"{a}/{self.basket.quote}" for a in self.basket.weights if a != self.basket.quote]
        try:
            free = self.retrier.call("fetch balances", self.exchange.fetch_balances)
            tickers = self.retrier.call("tickers", self.exchange.fetch_tickers, symbols)
        except (ExchangeUnavailable, ExchangeError):  # a snapshot is optional; never fail a finished run
            return None
        value = free.get(self.basket.quote, ZERO)
        for symbol in symbols:
            t = tickers[symbol]
            value += free.get(symbol.split("/")[0], ZERO) * (t.bid + t.ask) / 2
        return value

    def _execute_leg(self, rid: str, index: int, leg: PlannedOrder) -> LegResult:
        cfg, market = self.config, self.markets[leg.symbol]
        result = LegResult(leg.asset, leg.symbol, leg.side, leg.quantity)
        attempts = cfg.reprices + 1 + (1 if cfg.market_finish else 0)
        sent, attempt, refused = 0, 0, 0  # orders that reached the venue / ids used / rate-limited sends
        pending = False
        venue_filled = ZERO  # the venue's filled amounts (ahead of the recorded fills while they are pending)
        while sent < attempts:
            remaining = leg.quantity - venue_filled
            is_market = cfg.market_finish and sent == attempts - 1
            request, why_not = self._request(rid, index, attempt, leg, market, remaining, is_market)
            if request is None:
                result.note = why_not
                break
            result.orders.append(request.client_order_id)
            res = self._place(rid, index, attempt, leg.asset, request)
            attempt += 1
            if res is None:  # rate limited: never processed, recorded "missing"; back off, new id
                refused += 1
                if refused > cfg.retries:
                    raise ExchangeUnavailable(f"{self.exchange.name} rate-limited every order of leg {index} "
                                              f"({refused} times); run again later")
                self.sleep(self.retrier.delay(refused - 1))
                continue
            sent += 1
            self._account(res, request)
            pending = pending or res.status == "fills_pending"
            venue_filled += res.filled  # the venue's amount decides the remainder, even while fills are pending
            result.filled += sum((f.amount for f in res.fills), ZERO)  # what the ledger has
            result.notional += sum((f.amount * f.price for f in res.fills), ZERO)
            if venue_filled >= leg.quantity:
                break
        if pending:
            result.note = (result.note + "; " if result.note else "") + "fills pending: the next run records them"
        result.status = ("filled" if venue_filled >= leg.quantity else "partial" if venue_filled > 0
                         else "unfilled")
        return result

    def _request(self, rid: str, index: int, attempt: int, leg: PlannedOrder, market: Market, remaining: Decimal,
                 is_market: bool) -> tuple[OrderRequest | None, str]:
        symbol = leg.symbol
        ticker = self.retrier.call(f"ticker {symbol}", self.exchange.fetch_tickers, [symbol])[symbol]
        offset = market.price_tick * self.config.offset_ticks
        if leg.side == "buy":
            price = self.exchange.price_to_precision(symbol, ticker.bid + offset)
            reference = ticker.ask if is_market else price
        else:
            price = self.exchange.price_to_precision(symbol, max(ticker.ask - offset, market.price_tick))
            reference = ticker.bid if is_market else price
        free = self.retrier.call("fetch balances", self.exchange.fetch_balances)
        own = False  # the basket's own cash is what limits this buy (not the account's free quote)
        if leg.side == "buy":
            budget = max(self._budget, ZERO)
            own = budget < free.get(market.quote, ZERO) and budget / reference < remaining
            cap = min(free.get(market.quote, ZERO), budget) / reference
        else:
            cap = free.get(market.base, ZERO)
        amount = self.exchange.amount_to_precision(symbol, min(remaining, cap))
        notional = amount * reference
        q = market.quote
        if own and (amount <= 0 or notional < max(market.min_cost or ZERO, self.basket.min_notional)
                    or (market.min_amount is not None and amount < market.min_amount)):
            return None, (f"remainder {decimal_str(remaining)} {market.base} not bought: the basket's own cash "
                          f"({decimal_str(budget)} {q} after its sells) funds no more (the account's other "
                          f"{q} is not the basket's)")
        if amount <= 0:
            return None, f"remainder {decimal_str(remaining)} {market.base} cannot be funded or is below one step"
        if market.min_amount is not None and amount < market.min_amount:
            return None, (f"remainder {decimal_str(amount)} {market.base} below minimum amount "
                          f"{decimal_str(market.min_amount)}: dust")
        minimum = max(market.min_cost or ZERO, self.basket.min_notional)
        if notional < minimum:
            return None, f"remainder worth {decimal_str(notional)} {q} below minimum notional {decimal_str(minimum)}: dust"
        cid = self.id_fn(self.basket.name, rid, index, attempt)
        self._reference[cid] = reference
        return OrderRequest(cid, symbol, leg.side, "market" if is_market else "limit", amount,
                            None if is_market else price), ""

    def _account(self, res: Resolution, request: OrderRequest) -> None:
        """Move the basket's budget by what one order did: a sell adds the quote its recorded fills
        brought in (net of a quote fee); a buy takes what its fills cost, and for an amount the venue
        reports filled but whose fills are not listed yet (``fills_pending``) the most it can have
        cost (its limit price; a market order's reference price plus 1%). Unlisted sell proceeds
        are not counted until listed: the budget errs on the side of spending less."""
        quote = self.markets[request.symbol].quote
        listed = ZERO
        for f in res.fills:
            gross = f.amount * f.price
            fee = f.fee if f.fee_asset == quote else ZERO
            self._budget += gross - fee if request.side == "sell" else -(gross + fee)
            listed += f.amount
        unlisted = res.filled - listed
        if request.side == "buy" and unlisted > 0:
            price = request.price if request.price is not None else self._reference[request.client_order_id]
            self._budget -= unlisted * price * (Decimal(1) if request.price is not None else Decimal("1.01"))

    def _place(self, rid: str, index: int, attempt: int, asset: str, req: OrderRequest) -> Resolution | None:
        """Send one order and see it through: wait for fills, cancel the rest, settle. None when the
        venue rate-limited the request (definitely not processed)."""
        from dataclasses import replace

        cid = req.client_order_id
        req = replace(req, expires_at=self.clock() + timedelta(seconds=self.config.order_expiry))
        self.journal.intent(cid, rid, index, attempt, asset, req.symbol, req.side, req.type, req.amount, req.price,
                            expires_at=req.expires_at)
        self.on_step("intent_written")
        intent = Intent(cid, rid, index, attempt, req.symbol, req.side, req.type, req.amount, req.price,
                        self.clock())
        try:
            order = self.exchange.create_order(req)
        except RateLimitExceeded as exc:  # OKX 50011 / HTTP 429: refused before processing
            self.retrier.log.append(f"create {cid}: {exc.__class__.__name__}: {exc}")
            self.journal.update(cid, "missing", None, note=f"rate limited, not processed: {exc}")
            self.on_step("order_finished")
            return None
        except DuplicateClientOrderId as exc:  # 51016: a pending order has this id: it landed
            found = self._lookup(intent, exc)
            if found is None:
                return self._resolve(intent)
            order = found
        except ExchangeError as exc:  # a definite refusal: nothing was carried out
            self.journal.update(cid, "rejected", None, error=str(exc))
            self.on_step("order_finished")
            raise ExecutionError(f"{self.exchange.name} refused {req.side} {decimal_str(req.amount)} "
                                 f"{req.symbol} (order {cid}): {exc}") from exc
        except NetworkError as exc:  # ambiguous: it may have landed, or may still land before expTime
            found = self._lookup(intent, exc)
            if found is None:
                return self._resolve(intent)
            order = found
        self.on_step("order_acknowledged")
        self.journal.update(cid, "accepted", order)
        self.on_step("ack_recorded")
        order = self._wait(order)
        order = cancel_if_open(self.exchange, self.retrier, order, self.on_step, self.sleep)
        return settle(self.journal, self.exchange, self.retrier, self.markets, order, self.on_step, self.patience)

    def _lookup(self, intent: Intent, exc: Exception) -> Order | None:
        """After an ambiguous create: the order, if the venue lists it already."""
        self.retrier.log.append(f"create {intent.client_order_id}: {exc.__class__.__name__}: {exc}")
        return self.retrier.call(f"look up {intent.client_order_id}", self.exchange.fetch_order_by_client_id,
                                 intent.symbol, intent.client_order_id)

    def _resolve(self, intent: Intent) -> Resolution:
        """An ambiguous create not (yet) listed: never re-sent; resolved after its expTime (safety
        argument C); an order that shows up meanwhile is cancelled and settled like in recovery."""
        res = resolve_intent(self.journal, self.exchange, self.retrier, self.markets, intent, self.on_step,
                             self.patience, accepted=False)
        if res.status == "missing":
            self.on_step("order_finished")
        return res

    def _wait(self, order: Order) -> Order:
        deadline = self.clock() + timedelta(seconds=self.config.fill_timeout)
        seen = 0
        while order.status == "open" and self.clock() < deadline:
            self.sleep(self.config.poll_interval)
            latest = self.retrier.call(f"look up {order.client_order_id}", self.exchange.fetch_order_by_client_id,
                                       order.symbol, order.client_order_id)
            order = latest or order
            if order.filled > seen:
                fills = self.retrier.call(f"fills of {order.client_order_id}", self.exchange.fetch_fills,
                                          order.symbol, order.id)
                self.journal.fills(fills, self.markets, on_each=lambda: self.on_step("fill_recorded"))
                seen = order.filled
        return order
