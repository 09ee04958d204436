"""The rebalancer's tax preview resumed from a saved state (taxreport/rebalance/tax_resume.py, issue #14) gives
the full computation's figures: (1) over seeded random ledgers cut at every check, the resumed year summary
(with and without hypothetical sales) equals :func:`taxreport.gains.compute_request` over all the events, for
the countries that resume (US, DE, AU) and every method; (2) a paper basket's history across many weekly checks
(every tax policy of the country on, crossing a tax year), each check's preview and policy decisions computed
both ways, equal; (3) what must not resume does not (an event that changes how earlier ones are read, UK/CA)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from taxreport.gains import GainsRequest, compute_request
from taxreport.jurisdictions.base import YearSummary
from taxreport.model.events import Deposit, Reversal, Side, Trade
from taxreport.prices.rates import RateTable
from taxreport.rebalance import tax_resume
from taxreport.rebalance.tax_preview import year_of

D = Decimal
START = datetime(2024, 9, 2, 12, tzinfo=UTC)


def _figures(s: YearSummary) -> tuple:
    """Every figure of a summary the preview reads (and more): disposals, totals, taxable gain, breakdown,
    open lots (notes are not reproduced by a resumed summary: module doc)."""
    return (s.jurisdiction, s.currency, s.method, s.year, s.year_start, s.year_end, s.disposals, s.proceeds, s.cost,
            s.gain, s.gains, s.losses, s.allowance, s.taxable_gain, s.breakdown, s.open_lots, s.timezone)


def _history(seed: int, n: int, start: datetime = START) -> list:
    """A random basket-like history: a funded USDT deposit, then buys and sells of BTC/ETH (never more than
    held), some with fees, two or three a day, over more than a tax year."""
    rnd = random.Random(seed)
    events: list = [Deposit(time=start, source="t", external_id="fund", account="a", asset="USDT",
                            quantity=D(100000), cost=D(100000), cost_currency="USD")]
    held = {"BTC": D(0), "ETH": D(0)}
    cash = D(100000)
    price = {"BTC": D(40000), "ETH": D(2000)}
    t = start
    for i in range(n):
        t += timedelta(hours=rnd.choice((5, 9, 13, 20)))
        asset = rnd.choice(("BTC", "ETH"))
        price[asset] = (price[asset] * D(rnd.randint(90, 111)) / 100).quantize(D("0.01"))
        sell = held[asset] > 0 and rnd.random() < 0.45
        qty = (held[asset] * D(rnd.randint(10, 100)) / 100).quantize(D("0.0001")) if sell else \
            D(rnd.randint(1, 40)) / (100 if asset == "BTC" else 10)
        fee = (qty * price[asset] * D("0.001")).quantize(D("0.01")) if rnd.random() < 0.5 else D(0)
        cost = qty * price[asset] + fee
        if qty <= 0 or (not sell and cost > cash):
            continue
        held[asset] += -qty if sell else qty
        cash += qty * price[asset] - fee if sell else -cost
        events.append(Trade(time=t, source="t", external_id=f"x{i}", account="a", side=Side.SELL if sell else Side.BUY,
                            base=asset, quote="USDT", quantity=qty, price=price[asset], fee=fee,
                            fee_asset="USDT" if fee else None))
    return events


def _table(currency: str, start: datetime = START) -> tuple[list[tuple], RateTable]:
    rows = []
    day = start.replace(hour=0)
    for k in range(900):
        if currency != "USD":
            rows.append(("USD", currency, day + timedelta(days=k), D("0.9") + D(k % 7) / 100, "test"))
    return rows, RateTable.from_rows(rows)


@pytest.mark.parametrize("code,method", [("us", "fifo"), ("us", "hifo"), ("us", "lifo"), ("us", "specific"),
                                         ("de", "fifo"), ("au", "fifo"), ("au", "specific"), ("uk", None)])
def test_resumed_summary_equals_full_over_random_ledgers(code: str, method: str | None, monkeypatch) -> None:
    from taxreport.jurisdictions.base import get

    built = []
    real = tax_resume._built
    monkeypatch.setattr(tax_resume, "_built", lambda *a: built.append(1) or real(*a))
    currency = get(code).currency
    begin = datetime(2025, 2, 24, 12, tzinfo=UTC) if code == "uk" else START  # the UK's crosses 5/6 April
    rows, table = _table(currency, begin)
    for seed in (1, 2):
        tax_resume.forget()
        built.clear()
        events = _history(seed, 110, begin)
        store = f"random-{code}-{method}-{seed}"
        resumed_checks = 0
        cuts = sorted({*random.Random(seed).sample(range(2, len(events)), 16), len(events)})
        for k in cuts:
            past = events[:k]
            now = past[-1].time + timedelta(hours=1)
            request = GainsRequest(jurisdiction=code, year=year_of(code, now), method=method, via=("USD",),
                                   peg={"USDT": "USD"})
            saved = tax_resume._STATES.get((store, tax_resume._state_key(request)))
            r = tax_resume.resume(past, rows, table, request, now, store=store)
            assert r is not None
            resumed_checks += saved is not None and saved.since <= r.state.since
            assert _figures(r.summary()) == _figures(compute_request(past, table, request))
            # a hypothetical sale at now of part of what is held, as the preview adds it
            held = {lot.asset: lot.quantity for lot in r.summary().open_lots if lot.asset in ("BTC", "ETH")}
            if held:
                asset = sorted(held)[0]
                sale = Trade(time=now, source="tax-preview", external_id="p:0", account="a", side=Side.SELL,
                             base=asset, quote="USDT", quantity=held[asset] / 2, price=D(30000), fee=D(1),
                             fee_asset="USDT")
                assert _figures(r.summary([sale])) == _figures(compute_request(past + [sale], table, request))
        assert resumed_checks >= len(cuts) - 3 and built == [1]  # built once, then resumed (across tax years too)


def test_an_event_that_rereads_the_past_is_not_resumed_but_computed_whole(monkeypatch) -> None:
    """A reversal of an earlier sale changes how the history reads: the state is not resumed but built again
    from the first event, and the summary is the full computation's (which differs from the one before)."""
    tax_resume.forget()
    built = []
    real = tax_resume._built
    monkeypatch.setattr(tax_resume, "_built", lambda *a: built.append(1) or real(*a))
    events = _history(3, 60)
    now = datetime(2025, 3, 1, tzinfo=UTC)
    request = GainsRequest(jurisdiction="us", year=year_of("us", now), method="fifo", peg={"USDT": "USD"})
    rows, table = _table("USD")
    first = tax_resume.resume(events[:30], rows, table, request, now, store="rev")
    assert first is not None and built == [1]
    target = next(e for e in events[:30] if type(e) is Trade and e.side is Side.SELL)
    rev = Reversal(time=events[29].time + timedelta(minutes=1), source="t", external_id="r1",
                   target_key=target.natural_key, reason="test")
    later = events[:30] + [rev]
    r = tax_resume.resume(later, rows, table, request, now, store="rev")
    full = compute_request(later, table, request)
    assert r is not None and built == [1, 1]
    assert _figures(r.summary()) == _figures(full) != _figures(first.summary())
    # an appended trade after it resumes again (no rebuild)
    more = later + [events[30]]
    assert _figures(tax_resume.resume(more, rows, table, request, now, store="rev").summary()) == \
        _figures(compute_request(more, table, request)) and built == [1, 1]


def test_ca_is_not_resumed() -> None:
    """CA: the superficial loss rule (ITA s54) looks 30 days both ways and changes the ACB: its preview is always
    computed from the first event (module doc)."""
    for code in ("ca",):
        request = GainsRequest(jurisdiction=code, year=year_of(code, START), peg={"USDT": "USD"})
        assert not tax_resume.resumable(code, request)
        assert tax_resume.resume(_history(1, 5), [], RateTable(), request, START + timedelta(days=9),
                                 store="x") is None


@pytest.mark.parametrize("code", ["us", "de", "au", "uk"])
def test_basket_previews_resumed_equal_full_across_checks(tmp_path, monkeypatch, code: str) -> None:
    """A paper basket with every policy of the country on (tax_aware_defaults), trading every week for 12 weeks
    across a tax year's end: at each check the preview, its decisions and the plan traded are the same
    computed from the saved state as from the first event; from the second check on it resumes."""
    monkeypatch.setenv("TAXREPORT_HOME", str(tmp_path))
    from taxreport.exchanges.paper import PaperExchange, default_markets
    from taxreport.ledger import Ledger
    from taxreport.rebalance.executor import ExecConfig, Executor
    from taxreport.rebalance.journal import Journal
    from taxreport.rebalance.planner import order_leg
    from taxreport.rebalance.runner import RunnerState, check_if_due, look, plan_for
    from taxreport.rebalance.tax_plan import tax_adjusted_plan
    from taxreport.rebalance.tax_policy import tax_aware_defaults
    from taxreport.rebalance.tax_preview import prepare
    from taxreport.rebalance.tax_run import ledger_inputs, preview_fee
    from taxreport.rebalance.types import Basket

    tax_resume.forget()
    basket = Basket(name="diff", exchange="paper", account="paper:main", quote="USDT",
                    weights={"BTC": D(50), "ETH": D(30), "SOL": D(20)}, mode="weekly", gate=D(0),
                    tax=tax_aware_defaults(code))
    fx = {"EUR": D("0.92"), "AUD": D("1.52"), "GBP": D("0.79")}
    led = Ledger(f"sqlite:///{tmp_path}/ledger.sqlite3")
    # 12 weeks across the end of a tax year (the UK's AEA table ends with 2025-26: its basket starts earlier)
    start = datetime(2025, 2, 10, tzinfo=UTC) if code == "uk" else datetime(2026, 11, 16, tzinfo=UTC)
    ex = PaperExchange(markets=default_markets(["BTC", "ETH", "SOL"]), now=start, id_prefix="diff")
    for asset, p in (("BTC", D(60000)), ("ETH", D(3000)), ("SOL", D(150))):
        ex.set_price(asset, p)
    ex.deposit("USDT", D(10000), ref="diff:fund")
    led.append([Deposit(time=ex.now, source="paper", external_id="diff:fund", account="paper:main", asset="USDT",
                        quantity=D(10000), cost=D(10000), cost_currency="USD")], actor="manual", reason="test")
    Journal(led, "diff", "paper:main", "paper", ex.clock).record("basket.invest", "diff:invest",
                                                                 {"amount": D(10000), "quote": "USDT"})
    # rates for the tax currency at every day (the previews of DE/AU value USDT in EUR/AUD through USD)
    from taxreport.prices.store import RateRow, write_rates

    write_rates(led, [RateRow("USD", cur, start.replace(day=1) + timedelta(days=k), rate, "test")
                      for k in range(200) for cur, rate in fx.items()])
    state = RunnerState()
    resumed = 0
    rnd = random.Random(7)
    for week in range(12):
        for asset in ("BTC", "ETH", "SOL"):
            ex.set_price(asset, (ex.prices[f"{asset}/USDT"] * D(rnd.randint(85, 118)) / 100).quantize(D("0.01")))
        engine = Executor(led, ex, basket, account="paper:main", sleep=ex.advance, clock=ex.clock,
                          config=ExecConfig(fill_timeout=10, poll_interval=5))
        engine.tax_fx = fx
        view = look(engine)
        planned = plan_for(engine, view, scheduled=True)
        events, rates = ledger_inputs(led)
        fee = preview_fee(None, engine.markets, basket)

        def make_leg(asset: str, side: str, quantity: Decimal, engine=engine, view=view):  # noqa: ANN202
            return order_leg(basket, engine.markets, view.mids, asset, side, quantity, tickers=view.tickers,
                             amount_to_precision=ex.amount_to_precision, price_to_precision=ex.price_to_precision)

        now = engine.clock()
        out = []
        for store in (None, "diff"):
            ctx = prepare(events, rates, planned, basket, basket.tax, now, fee_rate=fee, fx=fx, resume_store=store)
            if store is not None:
                resumed += ctx.engine is not None and week > 0
            taxed = tax_adjusted_plan(events, rates, planned, basket, now, fee_rate=fee, fx=fx, context=ctx,
                                      make_leg=make_leg, replan=lambda b, engine=engine, view=view:
                                      plan_for(engine, view, basket=b))
            out.append((taxed.record(), taxed.plan.orders, None if ctx.before is None else _figures(ctx.before)))
        assert out[0] == out[1], f"week {week}"
        check_if_due(engine, state, venue="paper", log=lambda _line: None)
        ex.advance(7 * 86400)
    assert resumed == 11
    led.close()


def test_tax_aware_backtest_is_the_same_resumed_or_computed_whole(tmp_path, monkeypatch) -> None:
    """`backtest --compare weekly+tax-aware` (US, DE, AU) over a year of the bundled
    synthetic prices: the whole JSON output (every figure, policy decision and tax year) is the same when every
    preview and identification resumes as when none does (tax_resume.resumable forced False)."""
    from pathlib import Path

    from click.testing import CliRunner

    from taxreport.cli.main import root

    candles = Path(__file__).resolve().parent.parent / "sample_exports" / "prices" / "synthetic_ohlcv_1d.csv"
    basket = tmp_path / "core.toml"
    basket.write_text('name = "core"\nmode = "weekly"\n[weights]\nBTC = 50\nETH = 30\nSOL = 20\n')

    def run() -> str:
        result = CliRunner().invoke(root, [
            "--db", str(tmp_path / "l.sqlite"), "backtest", "--basket", str(basket), "--candles", str(candles),
            "--from", "2024-01-01", "--to", "2024-12-31", "--compare", "weekly+tax-aware", "--initial", "100000",
            "--fee-rate", "0.001", "--jurisdiction", "us,de,au", "--fx", "EUR=0.92,AUD=1.5",
            "--format", "json"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    calls = {"resumed": 0}
    real = tax_resume.Resumed.summary

    def counting(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls["resumed"] += 1
        return real(self, *args, **kwargs)

    monkeypatch.setattr(tax_resume.Resumed, "summary", counting)
    resumed = run()
    assert calls["resumed"] > 50  # the previews and identifications did resume
    monkeypatch.setattr(tax_resume, "resumable", lambda code, request: False)
    assert run() == resumed


@pytest.mark.parametrize("code", ["us", "uk"])
def test_ledger_rows_written_are_the_same_resumed_or_computed_whole(tmp_path, monkeypatch, code: str) -> None:
    """The rows a tax-aware paper basket writes over 10 weekly checks (fills, lot identifications, plans with
    their previews and decisions, outcomes) are byte for byte the same stored payloads, actors and reasons with
    the resumed engine as with the whole ledger at every check (the hash also covers the wall-clock recorded_at,
    which differs between any two runs)."""
    import sqlite3

    from taxreport.rebalance.executor import ExecConfig, Executor
    from taxreport.rebalance.runner import RunnerState, check_if_due

    def run(home, resumable: bool) -> list[tuple]:  # noqa: ANN001
        tax_resume.forget()
        monkeypatch.setenv("TAXREPORT_HOME", str(home))
        if not resumable:
            monkeypatch.setattr(tax_resume, "resumable", lambda code, request: False)
        basket, led, ex = funded_paper_basket(home, code, "rows", rate_days=80)
        state, rnd = RunnerState(), random.Random(11)
        for _ in range(10):
            for asset in ("BTC", "ETH", "SOL"):
                ex.set_price(asset, (ex.prices[f"{asset}/USDT"] * D(rnd.randint(85, 118)) / 100).quantize(D("0.01")))
            engine = Executor(led, ex, basket, account="paper:main", sleep=ex.advance, clock=ex.clock,
                              config=ExecConfig(fill_timeout=10, poll_interval=5))
            engine.tax_fx = {"GBP": D("0.79")}
            check_if_due(engine, state, venue="paper", log=lambda _line: None)
            ex.advance(7 * 86400)
        led.close()
        with sqlite3.connect(home / "ledger.sqlite3") as conn:
            return conn.execute("SELECT seq, payload, actor, reason FROM events ORDER BY seq").fetchall()

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    resumed = run(tmp_path / "a", True)
    whole = run(tmp_path / "b", False)
    assert len(resumed) > 100 and sum('"lots.identified"' in r[1] for r in resumed) >= (5 if code == "us" else 0)
    assert resumed == whole


@pytest.mark.parametrize("code,method", [("us", "fifo"), ("uk", None)])
def test_resumed_equals_full_whatever_decimal_context_the_thread_was_left_in(code: str, method: str | None,
                                                                              monkeypatch) -> None:
    """ccxt's decimal_to_precision leaves the thread's context at half-up rounding with Underflow trapped; the
    resumed engine runs in MONEY_CONTEXT as the whole computation does (taxreport.model.money.in_money_context),
    or its figures differ from the full computation's in the last digits (seen when the suite ran ccxt first)."""
    import decimal

    with decimal.localcontext() as ctx:
        ctx.rounding = decimal.ROUND_HALF_UP
        ctx.prec = 28
        ctx.traps[decimal.Underflow] = True
        test_resumed_summary_equals_full_over_random_ledgers(code, method, monkeypatch)


def funded_paper_basket(home, code: str, name: str, *, rate_days: int):  # noqa: ANN001, ANN201
    """A tax-aware weekly BTC/ETH/SOL paper basket ``name`` (gate 0: every check trades) in ``home``'s ledger,
    from 10 February 2025 (across the UK's tax year end): USDT 10,000 deposited with its cost and invested, and a
    USD->GBP rate for each of ``rate_days`` days. Returns the basket, the open ledger and the paper exchange."""
    from taxreport.exchanges.paper import PaperExchange, default_markets
    from taxreport.ledger import Ledger
    from taxreport.prices.store import RateRow, write_rates
    from taxreport.rebalance.journal import Journal
    from taxreport.rebalance.tax_policy import tax_aware_defaults
    from taxreport.rebalance.types import Basket

    basket = Basket(name=name, exchange="paper", account="paper:main", quote="USDT",
                    weights={"BTC": D(50), "ETH": D(30), "SOL": D(20)}, mode="weekly", gate=D(0),
                    tax=tax_aware_defaults(code))
    start = datetime(2025, 2, 10, tzinfo=UTC)
    led = Ledger(f"sqlite:///{home}/ledger.sqlite3")
    ex = PaperExchange(markets=default_markets(["BTC", "ETH", "SOL"]), now=start, id_prefix=name)
    for asset, p in (("BTC", D(60000)), ("ETH", D(3000)), ("SOL", D(150))):
        ex.set_price(asset, p)
    ex.deposit("USDT", D(10000), ref=f"{name}:fund")
    led.append([Deposit(time=ex.now, source="paper", external_id=f"{name}:fund", account="paper:main",
                        asset="USDT", quantity=D(10000), cost=D(10000), cost_currency="USD")],
               actor="manual", reason="test")
    Journal(led, name, "paper:main", "paper", ex.clock).record("basket.invest", f"{name}:invest",
                                                               {"amount": D(10000), "quote": "USDT"})
    write_rates(led, [RateRow("USD", "GBP", start + timedelta(days=k), D("0.79"), "test")
                      for k in range(-1, rate_days)])
    return basket, led, ex
