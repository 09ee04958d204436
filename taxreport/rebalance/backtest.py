"""Backtest: replay a basket over historical candles through the SAME trigger functions, the SAME
planner (:func:`taxreport.rebalance.planner.plan`) and the SAME paper exchange
(:class:`taxreport.exchanges.paper.PaperExchange`) as the live engine, one run per strategy.

The replay, bar by bar (``closes`` of every member on a common time grid; a bar is acted on at its
close, ``time + timeframe``):

1. Bar 0: ``initial`` quote cash is deposited and the target weights are bought (every strategy,
   buy-and-hold included) — so all strategies start from the same portfolio and pay the same entry fees.
2. Later bars: the strategy's scheduler (:mod:`taxreport.rebalance.strategies`) says whether the bar
   is a check (calendar/cooldown). On a check, an exact pre-test skips bars where the band/gate cannot
   fire; otherwise :func:`~taxreport.rebalance.triggers.should_rebalance` decides on the planner's rows.
3. A rebalance opens a paper venue at the bar's close (clock = close time, mid = close, the spread set
   from ``slippage``), plans from its balances and tickers, places every planned order as a limit
   order at the touch (sells first), lets the venue match, and carries the resulting balances on.
   Fees, amount steps, price ticks, minimum amounts and the basket's minimum notional are the
   venue's and the planner's; dust legs are counted, never retried.
4. Every fill becomes a ledger :class:`~taxreport.model.events.Trade` (source ``backtest``) in memory:
   the tax engine reads those (:mod:`taxreport.rebalance.backtest_tax`).
5. A ``+tax-aware`` strategy is replayed once per tax country (:class:`TaxReplay`): at every rebalance
   the plan goes through the SAME :func:`taxreport.rebalance.tax_plan.tax_adjusted_plan` as ``rebalance
   plan`` and ``rebalance run`` (the basket's ``[tax]`` policies, or
   :func:`~taxreport.rebalance.tax_policy.tax_aware_defaults` for the country), over the run's own trades
   so far; where the country lets you choose lots the sales' identification is recorded at the sale
   (:mod:`taxreport.rebalance.lot_identification`) and the tax engine uses it (method ``specific``).

Slippage model: with ``slippage = s`` the venue's bid/ask are ``close*(1-s)`` / ``close*(1+s)`` on the
tick and orders at the touch fill as takers there; with ``s = 0`` orders rest at the close and fill
there (the paper venue always keeps bid < ask by at least one tick, so a zero spread is not possible
for crossing orders). ``fee_rate`` replaces the markets' maker and taker fees.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from operator import mul
from typing import Callable, Mapping, Sequence

from taxreport.errors import InputError
from taxreport.exchanges.base import ExchangeError, Market, OrderRequest
from taxreport.model.events import Event, Trade
from taxreport.prices.candles import Candle, timeframe_delta
from taxreport.rebalance.planner import asset_rows, plan, should_rebalance
from taxreport.rebalance.strategies import Scheduler, Strategy
from taxreport.rebalance.types import Basket

ZERO, ONE = Decimal(0), Decimal(1)


@dataclass(frozen=True)
class PriceGrid:
    """Closes of every traded member on one time grid (bar open times, UTC)."""

    timeframe: str
    symbols: tuple[str, ...]  # "BTC/USDT" … in basket order (the quote member has none)
    times: tuple[datetime, ...]
    closes: tuple[tuple[Decimal, ...], ...]  # per bar, per symbol

    @property
    def step(self) -> timedelta:
        return timeframe_delta(self.timeframe)

    def close_time(self, i: int) -> datetime:
        return self.times[i] + self.step


def price_grid(candles: Mapping[str, Sequence[Candle]], basket: Basket, timeframe: str, *,
               start: datetime | None = None, end: datetime | None = None) -> PriceGrid:
    """Align the members' candles; a bar missing for one symbol is an error (never filled in)."""
    symbols = tuple(f"{a}/{basket.quote}" for a in basket.weights if a != basket.quote)
    series: dict[str, dict[datetime, Decimal]] = {}
    for symbol in symbols:
        rows = [k for k in candles.get(symbol, ()) if (start is None or k.time >= start) and (end is None or k.time < end)]
        if not rows:
            raise InputError(f"no {timeframe} candles for {symbol} in the chosen period; import them with "
                             "`taxreport prices candles import` or `fetch`", field="--basket")
        series[symbol] = {k.time: k.close for k in rows}
    first = max(min(s) for s in series.values())
    last = min(max(s) for s in series.values())
    times = sorted({t for s in series.values() for t in s if first <= t <= last})
    for symbol, s in series.items():
        gaps = [t for t in times if t not in s]
        if gaps:
            raise InputError(f"{symbol} has no {timeframe} candle at {len(gaps)} bar(s) the other members have, "
                             f"first {gaps[0].isoformat()}; fill the history or shorten --from/--to",
                             field="candles")
    if len(times) < 2:
        raise InputError("need at least two bars common to every member", field="--from/--to")
    step = timeframe_delta(timeframe)
    holes = [t for a, t in zip(times, times[1:]) if t - a != step]
    if holes:
        raise InputError(f"the price history has {len(holes)} gap(s) in the {timeframe} grid, first before "
                         f"{holes[0].isoformat()}", field="candles")
    closes = tuple(tuple(series[s][t] for s in symbols) for t in times)
    return PriceGrid(timeframe, symbols, tuple(times), closes)


@dataclass(frozen=True)
class Settings:
    initial: Decimal = Decimal(10000)  # quote cash invested at bar 0
    fee_rate: Decimal | None = Decimal("0.001")  # None: the markets' own maker/taker fees
    slippage: Decimal = ZERO  # fraction of the close, each side
    min_notional: Decimal | None = None  # overrides the basket's
    source: str = "backtest"


@dataclass(frozen=True)
class TaxReplay:
    """A ``+tax-aware`` replay's country: the policies it runs and the rates its previews need."""

    jurisdiction: str
    fx: Mapping[str, Decimal] = field(default_factory=dict)  # assumed flat USD->currency rates (--fx)
    rows: tuple[tuple, ...] = ()  # stored USD/EUR/currency rates (the ledger's rate store)


@dataclass
class StrategyRun:
    strategy: Strategy
    values: list[Decimal]  # portfolio value (quote) at each bar's close
    initial: Decimal = ZERO  # quote cash deposited at bar 0
    trades: list[Trade] = field(default_factory=list)
    fees: Decimal = ZERO  # every fee, valued in quote at its fill price
    traded_notional: Decimal = ZERO  # buys + sells after the initial purchase
    entry_notional: Decimal = ZERO  # the initial purchase
    rebalances: int = 0  # rebalances that placed orders (after the initial purchase)
    checks: int = 0  # times the trigger was asked (skips included)
    orders: int = 0
    dust_legs: int = 0
    capped_legs: int = 0  # buys capped to the free quote balance (the plan asked for a little more)
    capped_short: Decimal = ZERO  # by how much quote, in total
    positions: list[tuple[int, tuple[Decimal, ...], Decimal]] = field(default_factory=list)  # bar, qty, cash
    notes: list[str] = field(default_factory=list)
    jurisdiction: str | None = None  # a +tax-aware replay: the country whose policies it ran
    records: list[Event] = field(default_factory=list)  # lots identified at each sale (lots.identified)
    decisions: dict[str, int] = field(default_factory=dict)  # "policy action" -> count over the replay

    @property
    def label(self) -> str:
        return self.strategy.label


def backtest_markets(markets: Mapping[str, Market], grid: PriceGrid, settings: Settings) -> dict[str, Market]:
    """The basket's markets with the backtest's fee rate; a member without a market is an error."""
    out = {}
    for symbol in grid.symbols:
        market = markets.get(symbol)
        if market is None:
            raise InputError(f"no market {symbol} in the market table; pass --markets FILE (a ccxt market "
                             "table JSON) that has it", field="--basket")
        if settings.fee_rate is not None:
            market = replace(market, maker_fee=settings.fee_rate, taker_fee=settings.fee_rate)
        out[symbol] = market
    return out


_REPLAYS = itertools.count(1)


class _Replay:
    def __init__(self, strategy: Strategy, grid: PriceGrid, markets: dict[str, Market], settings: Settings,
                 tax: TaxReplay | None = None) -> None:
        b = strategy.basket
        if tax is not None:
            from taxreport.rebalance.tax_policy import tax_aware_defaults

            b = replace(b, tax=tax_aware_defaults(tax.jurisdiction, b.tax))
            strategy = replace(strategy, basket=b)
        self.tax = tax
        self.tax_rows: list[tuple] = list(tax.rows) if tax else []
        if settings.min_notional is not None:
            b = replace(b, min_notional=settings.min_notional)
        self.strategy, self.basket, self.grid, self.markets, self.settings = strategy, b, grid, markets, settings
        self.members = list(b.weights)
        self.assets = [s.split("/")[0] for s in grid.symbols]
        self.column = {a: i for i, a in enumerate(self.assets)}
        self.balances: dict[str, Decimal] = {b.quote: settings.initial}
        self.counters = {"order": 0, "trade": 0}
        self.spread_bps = settings.slippage * 20000
        self.run = StrategyRun(strategy, [], initial=settings.initial, jurisdiction=tax.jurisdiction if tax else None)
        # the previews of this replay resume the tax engine from the previous rebalance's state (issue #14)
        self.resume_store = f"backtest:{next(_REPLAYS)}"

    # --- the venue --------------------------------------------------------------------------
    def _venue(self, i: int):  # noqa: ANN202
        from taxreport.exchanges.paper import PaperExchange

        prices = dict(zip(self.grid.symbols, self.grid.closes[i]))
        return PaperExchange(markets=self.markets, balances=dict(self.balances), prices=prices,
                             name="backtest", spread_bps=self.spread_bps, now=self.grid.close_time(i),
                             counters=self.counters)

    def rebalance(self, i: int, *, entry: bool = False) -> bool:
        ex = self._venue(i)
        closes = self.grid.closes[i]
        prices = dict(zip(self.assets, closes))
        tickers = ex.fetch_tickers(list(self.grid.symbols)) if self.settings.slippage else None
        basket = self.basket
        if self.tax is not None:
            self._rates_at(i)
        held = ex.fetch_balances()

        def replan(b: Basket):  # noqa: ANN202
            return plan(b, held, prices, self.markets, fee_rate=self.settings.fee_rate,
                        tickers=tickers, buy_fee_in="base", invest=self.settings.initial if entry else ZERO)

        p = replan(basket)
        if self.tax is not None and not entry and p.orders:  # the policies of rebalance plan/run (tax_plan.py)
            p = self._tax_adjusted(p, i, held, prices, tickers, replan)
        self.run.dust_legs += len(p.dust)
        if not p.orders:
            return False
        for n, order in enumerate(p.orders):
            amount = order.quantity
            if order.side == "buy":  # as the executor does: cap the amount by the free quote balance
                free = ex.fetch_balances().get(self.basket.quote, ZERO)
                if amount * order.limit_price > free:
                    amount = ex.amount_to_precision(order.symbol, free / order.limit_price)
                    self.run.capped_legs += 1
                    self.run.capped_short += order.quantity * order.limit_price - free
                    if amount * order.limit_price < self.basket.min_notional:
                        self.run.dust_legs += 1
                        continue
            try:
                ex.create_order(OrderRequest(f"bt{i}x{n}", order.symbol, order.side, "limit", amount,
                                             order.limit_price))
            except ExchangeError as exc:  # the planner's checks should prevent this: say so, go on
                self.run.notes.append(f"{ex.now.isoformat()}: {order.side} {order.symbol} refused: {exc}")
        ex.advance(0)
        first = len(self.run.trades)
        self._record(ex, entry=entry)
        if self.tax is not None and self.basket.tax is not None and self.basket.tax.choose_lots:
            self._identify(self.run.trades[first:], i)
        self.balances = ex.total_balances()
        if self.basket.quote not in self.balances:
            self.balances[self.basket.quote] = ZERO
        return True

    # --- tax-aware (TaxReplay) ----------------------------------------------------------------------
    def _rates_at(self, i: int) -> None:
        """Candle closes (and the assumed --fx rates) at bar ``i``, as rate rows for the previews."""
        moment = self.grid.close_time(i)
        for symbol, close in zip(self.grid.symbols, self.grid.closes[i]):
            base, quote = symbol.split("/")
            self.tax_rows.append((base, quote, moment, close, "backtest candles"))
        assert self.tax is not None
        for currency, rate in self.tax.fx.items():
            self.tax_rows.append(("USD", currency.upper(), moment, rate, "assumed flat rate (--fx)"))

    def _events(self) -> list[Event]:
        from taxreport.rebalance.backtest_tax import run_events

        return run_events(self.run, self.grid)

    def _tax_adjusted(self, p, i: int, held, prices, tickers, replan):  # noqa: ANN001, ANN202
        from taxreport.rebalance.planner import order_leg
        from taxreport.rebalance.tax_plan import tax_adjusted_plan

        assert self.tax is not None
        fee = self.settings.fee_rate if self.settings.fee_rate is not None else ZERO

        def leg(asset: str, side: str, quantity: Decimal):  # noqa: ANN202
            return order_leg(self.basket, self.markets, prices, asset, side, quantity, fee_rate=self.settings.fee_rate,
                             tickers=tickers)

        from taxreport.rebalance.tax_preview import prepare

        events, now = self._events(), self.grid.close_time(i)
        assert self.basket.tax is not None
        ctx = prepare(events, self.tax_rows, p, self.basket, self.basket.tax, now, fee_rate=fee, fx=self.tax.fx,
                      resume_store=self.resume_store)
        taxed = tax_adjusted_plan(events, self.tax_rows, p, self.basket, now, replan=replan, make_leg=leg,
                                  fee_rate=fee, fx=self.tax.fx, context=ctx)
        for d in taxed.decisions:
            key = f"{d.policy} {d.action}"
            self.run.decisions[key] = self.run.decisions.get(key, 0) + 1
        return taxed.plan

    def _identify(self, fills: Sequence[Trade], i: int) -> None:
        """Lots identified at the time of each sale (US/AU choose_lots), as ``rebalance run`` records them."""
        from taxreport.errors import TaxreportError
        from taxreport.rebalance.lot_identification import identification_records, identify_lots

        assert self.tax is not None
        sells = [t for t in fills if t.side == "sell"]
        if not sells:
            return
        try:
            events = self._events()  # the ledger just before the sales: the fills are its last events
            before = events[:-len(fills)] if fills and events[-len(fills):] == list(fills) else \
                [e for e in events if e.natural_key not in {t.natural_key for t in fills}]
            chosen = identify_lots(before, self.tax_rows, sells, jurisdiction=self.tax.jurisdiction,
                                   quote=self.basket.quote, now=self.grid.close_time(i), resume_store=self.resume_store)
        except TaxreportError as exc:  # the sale stays FIFO (IRS FAQ Q41): say so
            self.run.notes.append(f"{self.grid.close_time(i).isoformat()}: lots not identified ({exc}); FIFO")
            return
        self.run.records.extend(identification_records(chosen, sells, jurisdiction=self.tax.jurisdiction,
                                                       source=self.settings.source, basket=self.basket.name))

    def _record(self, ex, *, entry: bool) -> None:  # noqa: ANN001
        b, s = self.basket, self.settings
        for f in ex.fills:
            base = self.markets[f.symbol].base
            notional = f.amount * f.price
            self.run.fees += f.fee * f.price if f.fee_asset == base else f.fee
            if entry:
                self.run.entry_notional += notional
            else:
                self.run.traded_notional += notional
            self.run.trades.append(Trade(
                time=f.time, source=s.source, external_id=f"{self.strategy.label}:{f.trade_id}", account=b.account,
                side=f.side, base=base, quote=b.quote, quantity=f.amount, price=f.price, fee=f.fee,
                fee_asset=f.fee_asset, order_id=f"{self.strategy.label}:{f.order_id}"))
        self.run.orders += len(ex.orders)
        open_orders = ex.open_orders()
        if open_orders:
            self.run.notes.append(f"{ex.now.isoformat()}: {len(open_orders)} order(s) did not fill and were dropped")

    # --- the loop -----------------------------------------------------------------------------
    def replay(self, progress: Callable[[int], None] | None = None) -> StrategyRun:
        try:
            return self._replay(progress)
        finally:
            from taxreport.rebalance.tax_resume import forget

            forget(self.resume_store)

    def _replay(self, progress: Callable[[int], None] | None = None) -> StrategyRun:
        grid, run = self.grid, self.run
        self.rebalance(0, entry=True)
        qty, cash = self._vector()
        run.positions.append((0, qty, cash))
        run.values.append(cash + sum(map(mul, qty, grid.closes[0]), ZERO))
        sched = Scheduler(self.strategy, grid.close_time(0))
        member_cols = [self.column.get(a) for a in self.members]
        for i in range(1, len(grid.times)):
            closes = grid.closes[i]
            now = grid.close_time(i)
            if sched.due(now):
                values = [qty[c] * closes[c] if c is not None else cash for c in member_cols]
                total = sum(values, ZERO)
                traded = False
                if total > 0 and sched.may_trade(values, total):
                    run.checks += 1
                    rows, _ = asset_rows(self.basket, self._balances(qty, cash), dict(zip(self.assets, closes)))
                    go, _why = should_rebalance(sched.basket, rows, now, sched.last_run, last_check=sched.last_check)
                    if go and self.rebalance(i):
                        traded = True
                        run.rebalances += 1
                        qty, cash = self._vector()
                        run.positions.append((i, qty, cash))
                sched.checked(now, traded=traded)
            run.values.append(cash + sum(map(mul, qty, closes), ZERO))
            if progress is not None and i % 1000 == 0:
                progress(1000)
        if progress is not None:
            progress(len(grid.times) % 1000)
        if run.capped_legs:
            run.notes.append(f"{run.capped_legs} buy leg(s) were capped to the free {self.basket.quote} balance, as the "
                             f"executor does: the plans asked for {run.capped_short} {self.basket.quote} more than "
                             "was held in total")
        return run

    def _vector(self) -> tuple[tuple[Decimal, ...], Decimal]:
        return tuple(self.balances.get(a, ZERO) for a in self.assets), self.balances.get(self.basket.quote, ZERO)

    def _balances(self, qty: Sequence[Decimal], cash: Decimal) -> dict[str, Decimal]:
        out = dict(zip(self.assets, qty))
        out[self.basket.quote] = cash
        return out


def run_backtest(strategies: Sequence[Strategy], grid: PriceGrid, markets: Mapping[str, Market],
                 settings: Settings = Settings(), *, progress: Callable[[str, int], None] | None = None,
                 tax: Sequence[TaxReplay] = ()) -> list[StrategyRun]:
    """One :class:`StrategyRun` per strategy over the same grid, markets and settings; a ``+tax-aware``
    strategy once per :class:`TaxReplay` (its country's policies), in that order (one run without
    policies when no country is given)."""
    if settings.initial <= 0:
        raise InputError("must be positive", field="--initial")
    if settings.slippage < 0 or settings.slippage >= ONE:
        raise InputError("must be a fraction between 0 and 1 (0.001 = 0.1%)", field="--slippage")
    if settings.fee_rate is not None and not ZERO <= settings.fee_rate < ONE:
        raise InputError("must be a fraction between 0 and 1 (0.001 = 0.1%)", field="--fee-rate")
    mkts = backtest_markets(markets, grid, settings)
    runs: list[StrategyRun] = []
    for strategy in strategies:
        tick = (lambda n, label=strategy.label: progress(label, n)) if progress else None
        if strategy.tax_aware and tax:
            runs.extend(_Replay(strategy, grid, mkts, settings, t).replay(tick) for t in tax)
        else:
            runs.append(_Replay(strategy, grid, mkts, settings).replay(tick))
    return runs
