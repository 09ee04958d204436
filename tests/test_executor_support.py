"""Shared helpers of the paper/executor/recovery/fault tests (imported by those modules), and the
invariant every one of them asserts: the ledger and the paper exchange agree exactly."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal

from taxreport.exchanges.paper import PaperExchange, default_markets
from taxreport.model.events import Deposit, Record, Trade
from taxreport.model.legs import balances_of
from taxreport.rebalance.executor import ExecConfig, Executor
from taxreport.rebalance.journal import TERMINAL
from taxreport.rebalance.planner import plan
from taxreport.rebalance.types import Basket

D = Decimal
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc)
ACCOUNT = "paper:core"
PRICES = {"BTC": D("60000"), "ETH": D("3000"), "SOL": D("150")}


def basket(**kw) -> Basket:
    args = dict(name="core", exchange="paper", account=ACCOUNT, quote="USDT",
                weights={"BTC": D(50), "ETH": D(30), "SOL": D(20)}, gate=D(0))
    args.update(kw)
    return Basket(**args)


def paper(balances=None, prices=None, **kw) -> PaperExchange:
    ex = PaperExchange(markets=default_markets(["BTC", "ETH", "SOL"]), balances={}, now=T0, **kw)
    for asset, price in (prices or PRICES).items():
        ex.set_price(asset, price)
    for asset, qty in (balances or {"USDT": D(10000)}).items():
        if qty:
            ex.deposit(asset, qty)
    return ex


def fund_ledger(ledger, ex: PaperExchange, account: str = ACCOUNT) -> None:
    """The paper funding as Deposits, so ledger balances can reconcile with the exchange."""
    deps = [Deposit(time=ex.now, source="paper", external_id=f"fund:{a}", account=account, asset=a, quantity=q)
            for a, q in ex.total_balances().items()]
    ledger.append(deps, actor="manual:test", reason="paper funding")


def executor(ledger, ex: PaperExchange, *, hook=None, config=None, b=None) -> Executor:
    ex.on_step = hook
    return Executor(ledger, ex, b or basket(), config=config or ExecConfig(fill_timeout=20, poll_interval=5),
                    sleep=ex.advance, clock=ex.clock, on_step=hook)


def plan_now(ex: PaperExchange, b=None, **kw):
    b = b or basket()
    mids = {m.base: ex.prices[s] for s, m in ex.markets.items()}
    return plan(b, ex.fetch_balances(), mids, ex.markets, buy_fee_in="base", **kw)


NO_INVESTMENT = D(0)


def run_once(ledger, ex: PaperExchange, *, hook=None, config=None, b=None, invest=NO_INVESTMENT):
    ex_ = executor(ledger, ex, hook=hook, config=config, b=b)
    ex_.recover()
    return ex_.execute(plan_now(ex, b, invest=invest), trigger={"reason": "test"})


def assert_consistent(ledger, ex: PaperExchange, account: str = ACCOUNT) -> None:
    """Exchange orders == ledger orders (by client order id), no duplicates, every fill recorded exactly
    once with the exchange's numbers, and ledger balances == exchange balances."""
    records = [e for e in ledger.events(kinds=["record"]) if isinstance(e, Record)]
    intents = Counter(r.order_id for r in records if r.record_type == "order.intent")
    assert all(n == 1 for n in intents.values()), intents
    terminal: dict[str, str] = {}
    for r in records:
        if r.record_type == "order.update" and r.data["status"] in TERMINAL:
            assert r.order_id not in terminal, f"two terminal updates for {r.order_id}"
            terminal[r.order_id] = r.data["status"]
    assert set(terminal) == set(intents), "every intent is finished"
    on_exchange = Counter(o.client_order_id for o in ex.all_orders())
    assert all(n == 1 for n in on_exchange.values()), on_exchange
    landed = {cid for cid, status in terminal.items() if status not in ("missing", "rejected")}
    assert set(on_exchange) == landed
    for order in ex.all_orders():
        assert order.status == terminal[order.client_order_id], (order, terminal[order.client_order_id])
    trades = [e for e in ledger.events(kinds=["trade"]) if isinstance(e, Trade)]
    assert len({t.external_id for t in trades}) == len(trades)
    recorded = {t.external_id: (t.order_id, t.side.value, t.quantity, t.price, t.fee, t.fee_asset) for t in trades}
    actual = {f.trade_id: (f.client_order_id, f.side, f.amount, f.price, f.fee, f.fee_asset) for f in ex.fills}
    assert recorded == actual
    ledger_bal = {a: q for (acc, a), q in balances_of(ledger.events()).items() if acc == account}
    assert ledger_bal == ex.total_balances()
    assert not ex.open_orders()
