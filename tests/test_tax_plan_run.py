"""`rebalance plan` and `rebalance run` agree for a tax-aware basket: the run trades the plan the same
pure function (taxreport.rebalance.tax_plan.tax_adjusted_plan) shows, and records its preview and the
policies' decisions with the plan in the audit trail; a loss harvest is traded as two legs with the
losing lots identified at the sale."""

from __future__ import annotations

import json
from decimal import ROUND_DOWN
from decimal import Decimal as D

from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.model.events import Record, Trade
from taxreport.rebalance.lot_identification import recorded_selections


def _invested(ledger, name: str, tax: str):  # noqa: ANN001, ANN202
    """A paper basket NAME (BTC/ETH 50/50, account paper:NAME) with the [tax] table TAX, 10,000 USDT invested
    on 8 Jan 2024 at BTC 60,000 / ETH 3,000 (about 0.0833 BTC and 1.666 ETH); returns the CLI caller."""
    from taxreport.rebalance.basket import baskets_dir

    def cli(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(root, ["--db", ledger.url, *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    baskets_dir().mkdir(parents=True, exist_ok=True)
    (baskets_dir() / f"{name}.toml").write_text(
        f'name = "{name}"\naccount = "paper:{name}"\nmode = "weekly"\n[weights]\nBTC = 50\nETH = 50\n[tax]\n{tax}')
    cli("basket", "invest", "10000", "--basket", name, "--paper", "--prices", "BTC=60000,ETH=3000",
        "--at", "2024-01-08T00:00:00Z", "--yes")
    return cli


def test_plan_then_run_send_the_same_tax_adjusted_legs(ledger) -> None:  # noqa: ANN001
    cli = _invested(ledger, "core", 'jurisdiction = "us"\nchoose_lots = true\nharvest_losses = 20\nmarginal_rate = 0.24\n')
    held = {r["asset"]: r["quantity"] for r in json.loads(cli("ledger", "balances", "--account", "paper:core",
                                                                "--format", "json"))}
    # A week later BTC is 40,000: BTC is down 33% (> 20%). The rebalance sells ETH and buys BTC; the
    # harvest adds a sale of the BTC lot (the US has no wash-sale rule for crypto, IRC §1091) and its
    # rebuy, merged into the BTC buy.
    plan = json.loads(cli("rebalance", "plan", "--basket", "core", "--paper", "--balances",
                          ",".join(f"{a}={q}" for a, q in held.items()), "--prices", "BTC=40000,ETH=3000",
                          "--invest", held["USDT"],  # the run invests the basket's idle cash too
                          "--at", "2024-01-15T00:00:00Z", "--format", "json"))
    decisions = plan["tax"]["decisions"]
    assert [(d["policy"], d["action"], d["asset"]) for d in decisions] == [("harvest_losses", "harvested", "BTC")]
    assert plan["tax"]["changed_by_policies"] is True
    planned = [(o["side"], o["asset"], D(o["quantity"])) for o in plan["orders"]]
    assert [(s, a) for s, a, _ in planned] == [("sell", "ETH"), ("sell", "BTC"), ("buy", "BTC")]
    # the whole losing lot is sold (truncated to the 1E-8 amount step)
    assert planned[1][2] == D(held["BTC"]).quantize(D("1E-8"), rounding=ROUND_DOWN)
    cli("rebalance", "run", "--basket", "core", "--paper", "--prices", "BTC=40000,ETH=3000",
        "--at", "2024-01-15T00:00:00Z")
    events = list(ledger.events())
    [record] = [e for e in events if isinstance(e, Record) and e.record_type == "rebalance.plan"
                and e.data["orders"] and e.time.isoformat().startswith("2024-01-15")]
    ran = [(o["side"], o["asset"], D(o["quantity"])) for o in record.data["orders"]]
    # the same legs; sells are sized from the same mid price, so exactly equal; the run prices at the
    # paper venue's touch (2 bp spread) where the paper plan uses the given price, so the buy (sized from
    # the sells' proceeds) may differ by that spread
    assert [(s, a) for s, a, _ in ran] == [(s, a) for s, a, _ in planned]
    assert ran[:2] == planned[:2]
    assert abs(ran[2][2] - planned[2][2]) <= planned[2][2] * D("0.0005")
    tax = record.data["tax"]
    assert [(d["policy"], d["action"]) for d in tax["decisions"]] == [("harvest_losses", "harvested")]
    assert "IRC §1091" in tax["decisions"][0]["reason"]
    # the BTC sale consumed the losing lot bought on 8 Jan at ~60,000: its identification was recorded at
    # the sale, and realises a loss of about a third of its cost
    btc_sale = next(e for e in events if isinstance(e, Trade) and e.side == "sell" and e.base == "BTC")
    identified = recorded_selections(events)
    assert any(ref.startswith(btc_sale.natural_key) for ref in identified)
    [btc_leg] = [leg for leg in tax["orders"] if leg["asset"] == "BTC"]
    # (00:00 UTC on 8 Jan is 7 Jan in New York, the US engine's local date); 0.0833 BTC x (40,000 - 60,000)
    # = about -1,665 before fees
    assert D(-1700) < D(btc_leg["gain"]) < D(-1650) and btc_leg["lots"][0]["acquired"] == "2024-01-07"


def test_the_run_reads_only_new_rows_and_still_refuses_a_tampered_chain(ledger) -> None:  # noqa: ANN001
    """tax_run.verified_events: a long-running bot verifies only the rows appended since its last check;
    an edited new row is still refused (the whole chain is then walked and names it)."""
    from datetime import datetime, timezone

    import pytest
    from sqlalchemy import text

    from taxreport.errors import TaxreportError
    from taxreport.model.events import Deposit
    from taxreport.rebalance.tax_run import verified_events

    def deposit(n: int) -> Deposit:
        return Deposit(time=datetime(2024, 1, n, tzinfo=timezone.utc), source="t", external_id=f"d{n}",
                       account="okx:main", asset="USDT", quantity=D(n), cost=D(n), cost_currency="USD")

    ledger.append([deposit(1), deposit(2)], actor="manual", reason="t")
    assert [e.external_id for e in verified_events(ledger)] == ["d1", "d2"]
    ledger.append([deposit(3)], actor="manual", reason="t")
    assert [e.external_id for e in verified_events(ledger)] == ["d1", "d2", "d3"]
    ledger.append([deposit(4)], actor="manual", reason="t")
    with ledger.engine.begin() as conn:
        conn.execute(text("UPDATE events SET payload = replace(payload, '\"4\"', '\"40\"') WHERE seq = 4"))
    with pytest.raises(TaxreportError, match="row 4"):
        verified_events(ledger)


def _counted_us_basket(ledger, monkeypatch):  # noqa: ANN001, ANN202
    """A US basket on ``ledger`` holding one 100 USDT deposit: (``context()``, the tax context a plan on
    2024-03-01 gets through tax_run.cached_context; the count of full engine runs (gains.compute_request);
    ``deposit_more()``, which appends a second deposit of 5 USDT)."""
    from datetime import datetime, timezone

    import taxreport.gains as gains
    from taxreport.model.events import Deposit
    from taxreport.rebalance.tax_policy import TaxSettings
    from taxreport.rebalance.tax_run import cached_context, ledger_inputs
    from taxreport.rebalance.types import Basket, Plan

    calls = {"n": 0}
    real = gains.compute_request

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(gains, "compute_request", counting)
    monkeypatch.setenv("TAXREPORT_CACHE", "1")

    def deposit(day: int, key: str, amount: int) -> None:
        ledger.append([Deposit(time=datetime(2024, 1, day, tzinfo=timezone.utc), source="t", external_id=key,
                               account="okx:main", asset="USDT", quantity=D(amount), cost=D(amount),
                               cost_currency="USD")], actor="manual", reason="t")

    deposit(2, "d1", 100)
    basket = Basket(name="t", exchange="okx", account="okx:main", quote="USDT", weights={"BTC": D(100)},
                    tax=TaxSettings("us"))
    plan = Plan(basket="t", quote="USDT", total_value=D(100), rows=(), orders=(), dust=(), max_drift=D(0))
    now = datetime(2024, 3, 1, tzinfo=timezone.utc)

    def context():  # noqa: ANN202
        events, rates = ledger_inputs(ledger)
        return cached_context(ledger, events, rates, plan, basket, now, fee_rate=D(0), fx=None)

    return context, calls, lambda: deposit(3, "d2", 5)


def test_the_years_summary_before_the_plan_is_computed_once_per_ledger_state(ledger, monkeypatch) -> None:  # noqa: ANN001
    """tax_run.cached_context, for a computation that is not resumed (tax_resume.resumable False: UK, CA):
    `rebalance plan` then `rebalance run` on an unchanged ledger run the engine for the year before the plan
    once (DerivedCache, keyed by the ledger's state); an append recomputes it."""
    from taxreport.rebalance import tax_resume

    monkeypatch.setattr(tax_resume, "resumable", lambda code, request: False)
    context, calls, deposit_more = _counted_us_basket(ledger, monkeypatch)
    first, second = context(), context()
    assert calls["n"] == 1 and first.before is not None and second.before.gain == first.before.gain
    deposit_more()
    context()
    assert calls["n"] == 2


def test_the_years_summary_before_the_plan_is_resumed_not_recomputed(ledger, monkeypatch) -> None:  # noqa: ANN001
    """tax_run.cached_context for a US basket (issue #14): the engine's state is built from the first event once
    (tax_resume._built) and every later context resumes from it: the full engine never runs again, on an
    unchanged ledger nor after an append (only the new event is read)."""
    from taxreport.rebalance import tax_resume

    tax_resume.forget()
    built = {"n": 0}
    real_built = tax_resume._built

    def counting_built(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        built["n"] += 1
        return real_built(*args, **kwargs)

    monkeypatch.setattr(tax_resume, "_built", counting_built)
    context, calls, deposit_more = _counted_us_basket(ledger, monkeypatch)
    first, second = context(), context()
    assert calls["n"] == 0 and built["n"] == 1 and first.before is not None
    assert second.before.gain == first.before.gain and second.engine is not None
    deposit_more()
    third = context()
    assert calls["n"] == 0 and built["n"] == 1 and third.engine is not None
    assert [(lot.quantity, lot.cost) for lot in third.before.open_lots] == [(D(100), D(100)), (D(5), D(5))]


def test_a_tax_aware_run_that_cannot_evaluate_its_policies_trades_nothing(ledger) -> None:  # noqa: ANN001
    """A UK basket with a tax budget: the value moved is in USDT and the budget in GBP, so without
    ``--fx GBP=RATE`` the budget cannot be checked. `rebalance plan` shows that; `rebalance run` must not
    trade the full plan blind (the user asked for the budget): it exits non-zero and records no sale. (Here the
    paper ledger has no GBP rates for the purchase either, so the preview itself cannot run.)"""
    cli = _invested(ledger, "uk", 'jurisdiction = "uk"\ntax_budget = 50\nmarginal_rate = 0.2\n')

    def sells() -> int:
        return sum(1 for e in ledger.events() if isinstance(e, Trade) and e.side == "sell")

    assert sells() == 0
    out = cli("rebalance", "run", "--basket", "uk", "--paper", "--prices", "BTC=90000,ETH=3000",
              "--at", "2024-01-15T00:00:00Z", code=1)
    assert "nothing was traded" in out and "--fx" in out and "Traceback" not in out
    assert sells() == 0
    # the same check as a plan: shown (exit 0), with the reason the policies could not apply
    shown = json.loads(cli("rebalance", "plan", "--basket", "uk", "--paper", "--prices", "BTC=90000,ETH=3000",
                           "--balances", "BTC=0.08328,ETH=1.6656,USDT=0", "--at", "2024-01-15T00:00:00Z",
                           "--format", "json"))
    assert any(d["action"] == "not_applied" for d in shown["tax"]["decisions"])
    assert any(o["side"] == "sell" for o in shown["orders"])
