"""Tax preview of a rebalance plan (taxreport.rebalance.tax_preview) through the real engine.
Every expected figure is worked out by hand in the comments, with the rule's official source."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal as D

import pytest

from taxreport.model.events import Deposit, Trade
from taxreport.rebalance.tax_policy import TaxSettings
from taxreport.rebalance.tax_preview import preview, preview_to_dict
from taxreport.rebalance.types import AssetRow, Basket, Plan, PlannedOrder

BASKET = Basket(name="t", exchange="okx", account="okx:main", quote="USDT",
                weights={"BTC": D(50), "USDT": D(50)})


def at(day: str) -> datetime:
    return datetime.fromisoformat(day + "T12:00:00").replace(tzinfo=timezone.utc)


def history(buys: list[tuple[str, str, str]]) -> list:
    """A USDT deposit, then BTC buys (day, quantity, price), no fees."""
    events: list = [Deposit(time=at("2023-01-02"), source="t", external_id="dep", account="okx:main", asset="USDT",
                            quantity=D(1_000_000), cost=D(1_000_000), cost_currency="USDT")]
    for n, (day, qty, price) in enumerate(buys):
        events.append(Trade(time=at(day), source="t", external_id=f"b{n}", account="okx:main", side="buy",
                            base="BTC", quote="USDT", quantity=D(qty), price=D(price)))
    return events


def rates(days: list[str], prices: list[str], fx: dict[str, str] | None = None) -> list[tuple]:
    rows = [("BTC", "USDT", at(d), D(p), "test") for d, p in zip(days, prices)]
    for cur, rate in (fx or {}).items():
        rows += [("USD", cur, at(d), D(rate), "test") for d in days + ["2023-01-02"]]
    return rows


def sell_plan(quantity: str, price: str) -> Plan:
    q, p = D(quantity), D(price)
    row = AssetRow("BTC", D(2), p, 2 * p, D(60), D(50), D(10), p)
    return Plan(basket="t", quote="USDT", total_value=2 * p, rows=(row,),
                orders=(PlannedOrder("BTC", "BTC/USDT", "sell", q, p, q * p),), dust=(), max_drift=D(10))


def holding_plan() -> Plan:
    """A plan with no order: 1 BTC held at 45,000 (the harvest-losses advice reads the lots it holds)."""
    return Plan(basket="t", quote="USDT", total_value=D(45000),
                rows=(AssetRow("BTC", D(1), D(45000), D(45000), D(100), D(50), D(50), D(22500)),),
                orders=(), dust=(), max_drift=D(50))


def test_us_fifo_long_then_short_and_estimated_tax() -> None:
    # Bought 1 BTC on 10 Jan 2024 at 40,000 and 1 BTC on 1 Sep 2024 at 60,000; the plan sells 1.5 BTC
    # at 100,000 on 1 Feb 2025. FIFO (IRS virtual-currency FAQ Q41: units not identified are sold first
    # in, first out): lot 1 (1 BTC) held more than one year (anniversary 10 Jan 2025 < 1 Feb 2025,
    # Pub. 544 "Holding Period") -> LONG, gain 100,000 - 40,000 = 60,000; then 0.5 BTC of lot 2,
    # SHORT, gain 50,000 - 30,000 = 20,000. Realised 80,000; 2025 taxable gain 0 -> 80,000;
    # estimated tax at 24% = 19,200.
    events = history([("2024-01-10", "1", "40000"), ("2024-09-01", "1", "60000")])
    table = rates(["2024-01-10", "2024-09-01", "2025-02-01"], ["40000", "60000", "100000"])
    p = preview(events, table, sell_plan("1.5", "100000"), BASKET, TaxSettings("us", marginal_rate=D("0.24")),
                at("2025-02-01"))
    assert p.error is None
    assert p.year == "2025" and p.currency == "USD"
    [leg] = p.legs
    assert [(lot.acquired, lot.quantity, lot.cost, lot.gain, lot.term) for lot in leg.lots] == [
        (date(2024, 1, 10), D(1), D(40000), D(60000), "long"),
        (date(2024, 9, 1), D("0.5"), D(30000), D(20000), "short")]
    assert p.realised_gain == D(80000)
    assert (p.taxable_before, p.taxable_after) == (D(0), D(80000))
    assert p.estimated_tax == D(19200)
    out = preview_to_dict(p)
    assert out["orders"][0]["lots"][0]["acquired"] == "2024-01-10" and out["realised_gain"] == D(80000)


def test_us_choose_lots_takes_the_loss_first() -> None:
    # Same lots, sold 1.5 BTC at 50,000. FIFO would realise: lot 1 long +10,000, 0.5 of lot 2 short
    # 25,000 - 30,000 = -5,000 -> +5,000. Tax-minimising specific identification (Treas. Reg.
    # §1.1012-1(j): identify the units sold): the loss lot first (lot 2, unit cost 60,000 > 50,000):
    # 1 BTC, -10,000 short; then the long-term lot 1, 0.5 BTC: 25,000 - 20,000 = +5,000 long.
    # Realised -5,000; taxable 0; tax 0.
    events = history([("2024-01-10", "1", "40000"), ("2024-09-01", "1", "60000")])
    table = rates(["2024-01-10", "2024-09-01", "2025-02-01"], ["40000", "60000", "50000"])
    fifo = preview(events, table, sell_plan("1.5", "50000"), BASKET, TaxSettings("us"), at("2025-02-01"))
    assert fifo.realised_gain == D(5000)
    p = preview(events, table, sell_plan("1.5", "50000"), BASKET, TaxSettings("us", choose_lots=True),
                at("2025-02-01"))
    assert p.error is None and p.method == "specific"
    assert sorted((lot.acquired, lot.quantity, lot.gain, lot.term) for lot in p.legs[0].lots) == [
        (date(2024, 1, 10), D("0.5"), D(5000), "long"), (date(2024, 9, 1), D(1), D(-10000), "short")]
    assert p.realised_gain == D(-5000) and p.estimated_tax == 0


@pytest.mark.parametrize("sold, exempt_gain, taxable_gain", [
    # § 23 Abs. 1 Satz 1 Nr. 2 EStG with §§ 187(1), 188(2) BGB: bought 10 Jan 2024; sold 10 Jan 2025 is
    # within the year (taxable); sold 11 Jan 2025 is more than one year (tax-free).
    ("2025-01-10", D(0), D("67500")),
    ("2025-01-11", D("54000"), D("22500")),
])
def test_de_haltefrist_exempt_and_freigrenze(sold: str, exempt_gain: D, taxable_gain: D) -> None:
    # EUR at an assumed 1 USD = 0.9 EUR. Lots: 1 BTC 10 Jan 2024 at 40,000 USD (36,000 EUR), 1 BTC
    # 1 Jun 2024 at 50,000 USD (45,000 EUR). The plan sells 1.5 BTC at 100,000 (90,000 EUR/BTC), FIFO
    # (BMF 6 Mar 2025). On 11 Jan: lot 1 exempt, 90,000 - 36,000 = 54,000; 0.5 of lot 2 taxable,
    # 45,000 - 22,500 = 22,500. On 10 Jan both are taxable: 54,000 + 22,500 = 76,500 … of which the
    # exempt column is 0 and the taxable gain is the whole 76,500 (over the €1,000 Freigrenze, § 23
    # Abs. 3 Satz 5 EStG: all of it taxable). Estimated tax 42% of the taxable increase.
    events = history([("2024-01-10", "1", "40000"), ("2024-06-01", "1", "50000")])
    table = rates(["2024-01-10", "2024-06-01", sold], ["40000", "50000", "100000"], {"EUR": "0.9"})
    p = preview(events, table, sell_plan("1.5", "100000"), BASKET,
                TaxSettings("de", marginal_rate=D("0.42"), use_allowance=True), at(sold))
    assert p.error is None and p.currency == "EUR" and p.year == "2025"
    lots = p.legs[0].lots
    exempt = sum((lot.gain for lot in lots if lot.term == "exempt"), D(0))
    taxable = sum((lot.gain for lot in lots if lot.term == "taxable"), D(0))
    assert exempt == exempt_gain
    expected_taxable = D("76500") if exempt_gain == 0 else taxable_gain
    assert taxable == expected_taxable and p.taxable_after == expected_taxable
    assert p.estimated_tax == expected_taxable * D("0.42")
    assert p.allowance is not None and p.allowance.allowance == D(1000) and p.allowance.warning is not None
    assert "WHOLE" in p.allowance.warning


def test_uk_section_104_pool_and_annual_exempt_amount() -> None:
    # GBP at an assumed 1 USD = 0.8 GBP. Buys: 1 BTC 1 May 2024 at 30,000 USD (24,000 GBP), 1 BTC
    # 1 Aug 2024 at 50,000 USD (40,000 GBP): one s104 pool of 2 BTC costing 64,000 (TCGA92 s104,
    # HMRC CRYPTO22200). The plan sells 0.5 BTC at 60,000 USD on 15 Jan 2025 (tax year 2024-25):
    # proceeds 0.5 x 60,000 x 0.8 = 24,000; cost 64,000 x 0.5 / 2 = 16,000; gain 8,000 (pooled, no
    # term). Annual exempt amount 2024-25 £3,000 (TCGA92 s1K): taxable 0 -> 5,000; at 24%, 1,200.
    events = history([("2024-05-01", "1", "30000"), ("2024-08-01", "1", "50000")])
    table = rates(["2024-05-01", "2024-08-01", "2025-01-15"], ["30000", "50000", "60000"], {"GBP": "0.8"})
    p = preview(events, table, sell_plan("0.5", "60000"), BASKET,
                TaxSettings("uk", use_allowance=True), at("2025-01-15"), fx={"GBP": D("0.8")})
    assert p.error is None and p.year == "2024-25" and p.currency == "GBP"
    [lot] = p.legs[0].lots
    assert (lot.acquired, lot.quantity, lot.cost, lot.gain, lot.term, lot.rule) == (
        None, D("0.5"), D(16000), D(8000), None, "s104")
    assert (p.taxable_before, p.taxable_after) == (D(0), D(5000))
    assert p.estimated_tax == D(1200) and p.rate_is_default
    assert p.allowance is not None and p.allowance.headroom == D(-5000)
    assert p.allowance.warning is not None and "£3000" in p.allowance.warning


def test_no_lots_is_an_error_not_a_guess() -> None:
    table = rates(["2025-02-01"], ["100000"])
    p = preview(history([]), table, sell_plan("1", "100000"), BASKET, TaxSettings("us"), at("2025-02-01"))
    assert p.error is not None and p.legs == []


def test_cli_rebalance_plan_shows_the_tax_preview(tmp_path) -> None:  # noqa: ANN001
    """The user's journey: trades imported into a ledger, a basket with a [tax] table, `rebalance plan`
    (table and --format json). Figures as in test_us_fifo_long_then_short_and_estimated_tax: 1 BTC
    bought 10 Jan 2024 at 40,000, 1 BTC 1 Sep 2024 at 60,000; holding 2 BTC + 0 ETH at 100,000 with a
    50/50 BTC/ETH basket sells 1 BTC (to 100,000 of each): FIFO lot 1, long-term, gain 60,000; at the
    basket's 20% marginal rate the estimated tax is 12,000."""
    import json

    from click.testing import CliRunner

    from taxreport.cli.main import root

    (tmp_path / "trades.csv").write_text(
        "timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id\n"
        "2024-01-02T12:00:00Z,okx:main,buy,USDT,USD,100000,1,0,USD,T-0\n"
        "2024-01-10T12:00:00Z,okx:main,buy,BTC,USDT,1,40000,0,USDT,T-1\n"
        "2024-09-01T12:00:00Z,okx:main,buy,BTC,USDT,1,60000,0,USDT,T-2\n")
    (tmp_path / "rates.csv").write_text("date,base,quote,rate\n2024-01-10,BTC,USDT,40000\n"
                                        "2024-09-01,BTC,USDT,60000\n")
    (tmp_path / "taxed.toml").write_text('name = "taxed"\n[weights]\nBTC = 50\nETH = 50\n'
                                         '[tax]\njurisdiction = "us"\nmarginal_rate = 0.20\n')
    db = str(tmp_path / "l.sqlite")

    def run(*args: str):  # noqa: ANN202
        return CliRunner().invoke(root, ["--db", db, *args], catch_exceptions=False)

    assert run("import", "csv", str(tmp_path / "trades.csv")).exit_code == 0
    assert run("prices", "import", str(tmp_path / "rates.csv")).exit_code == 0
    args = ["rebalance", "plan", "--basket", str(tmp_path / "taxed.toml"), "--paper", "--balances", "BTC=2,ETH=0",
            "--prices", "BTC=100000,ETH=3000", "--fee-rate", "0", "--at", "2025-02-01T12:00:00Z"]
    out = run(*args, "--format", "json")
    assert out.exit_code == 0, out.output
    tax = json.loads(out.output)["tax"]
    assert tax["error"] is None, tax
    assert (tax["jurisdiction"], tax["currency"], D(tax["realised_gain"]), D(tax["estimated_tax"])) == (
        "us", "USD", D(60000), D(12000))
    [order] = tax["orders"]
    assert order["lots"] == [{"acquired": "2024-01-10", "quantity": "1", "cost": "40000", "gain": "60000",
                              "term": "long", "rule": "fifo", "lot": order["lots"][0]["lot"]}]
    table = run(*args)
    assert table.exit_code == 0 and "tax preview: US 2025" in table.output
    assert "ESTIMATED tax 12000.00 USD at 20" in table.output
    # tax_budget = 1 (%): the full plan moves 100,000 (sell) + 100,000 (buy) = 200,000 for 12,000 of
    # estimated tax (6%, over budget): every leg is shrunk so the largest drift (50pp) is left at half the
    # weekly gate (1.5pp): k = 1 - 1.5/50 = 0.97 -> weights 100 + 0.97 x (50 - 100) = 51.5 / 48.5 -> sell
    # 200,000 x (1 - 0.515) / 100,000 = 0.97 BTC from the first lot: gain 0.97 x 60,000 = 58,200.
    (tmp_path / "budget.toml").write_text((tmp_path / "taxed.toml").read_text() + "tax_budget = 1\n")
    args[args.index(str(tmp_path / "taxed.toml"))] = str(tmp_path / "budget.toml")
    out = run(*args, "--format", "json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert [(o["side"], D(o["quantity"])) for o in data["orders"]][0] == ("sell", D("0.97"))
    assert D(data["tax"]["realised_gain"]) == D(58200) and D(data["tax"]["budget_factor"]) == D("0.97")
    assert [(d["policy"], d["action"]) for d in data["tax"]["decisions"]] == [("tax_budget", "shrunk")]
    assert "tax budget" in data["tax"]["decisions"][0]["reason"] and data["tax"]["changed_by_policies"]
    assert [r["target"] for r in data["rows"]] == ["50", "50"]  # the rows keep the basket's real targets


def test_harvest_losses_advice_us_allowed_uk_refused() -> None:
    # 1 BTC bought 1 Sep 2024 at 60,000; price now 45,000: down 25% (> 20%), loss 15,000.
    # US: allowed (IRC §1091 covers stock or securities). UK at 1 USD = 0.8 GBP: loss 12,000 GBP,
    # refused, naming the 30-day rule (TCGA92 s106A(5)).
    events = history([("2024-09-01", "1", "60000")])
    plan = holding_plan()
    us = preview(events, rates(["2024-09-01"], ["60000"]), plan, BASKET, TaxSettings("us", harvest_losses=D(20)),
                 at("2025-02-01"))
    assert us.advice == ["harvest-losses 20%: 1 BTC in 1 lot(s) would realise a loss of 15000.00 USD; "
                         "allowed: no wash-sale rule applies to crypto in US"]
    uk = preview(events, rates(["2024-09-01"], ["60000"], {"GBP": "0.8"}), plan, BASKET,
                 TaxSettings("uk", harvest_losses=D(20)), at("2025-02-01"), fx={"GBP": D("0.8")})
    assert len(uk.advice) == 1 and "loss of 12000.00 GBP" in uk.advice[0] and "s106A(5)" in uk.advice[0]
    assert uk.advice[0].split("; ")[1].startswith("refused")


def test_advice_quantities_are_plain_decimals_never_exponents() -> None:
    # The demo's preview said "defer-short-term 30: 6.32E-10 BTC of this sale turn long-term" (str of a Decimal):
    # the advice writes quantities as the rest of the output does (decimal_str: 0.000000000632). 0.000000000632 BTC
    # bought 10 Jan 2024 turns long-term on 11 Jan 2025 (held more than one year, IRC §1222), within 30 days of
    # 1 Jan 2025; the plan sells all of it at 100,000. Harvest: 0.00000000075 BTC bought at 60,000, now 45,000:
    # down 25% (> 20%).
    events = history([("2024-01-10", "0.000000000632", "40000")])
    table = rates(["2024-01-10", "2025-01-01"], ["40000", "100000"])
    p = preview(events, table, sell_plan("0.000000000632", "100000"), BASKET,
                TaxSettings("us", defer_short_term=30), at("2025-01-01"))
    assert p.error is None
    assert p.advice == ["defer-short-term 30: 0.000000000632 BTC of this sale turn long-term within 30 days; "
                        "sell other members or less to wait"]
    events = history([("2024-09-01", "0.00000000075", "60000")])
    plan = holding_plan()
    us = preview(events, rates(["2024-09-01"], ["60000"]), plan, BASKET, TaxSettings("us", harvest_losses=D(20)),
                 at("2025-02-01"))
    assert len(us.advice) == 1 and us.advice[0].startswith("harvest-losses 20%: 0.00000000075 BTC in 1 lot(s) ")


def test_a_basis_supplied_after_the_preview_moment_still_applies() -> None:
    # The user deposits 1,000,000 USDT on 2 Jan 2023 WITHOUT a basis, then (recorded in 2026, long after)
    # supplies it with `ledger basis` (cost 1,000,000 USD). A preview at 1 Feb 2025 must use that basis:
    # the ledger as known today, as of the plan's moment (taxreport.model.events.as_of). Without it the
    # USDT spent on the BTC buy has no lots and the preview fails ("without cost basis").
    # Same lots and price as the FIFO test above: 1.5 BTC sold at 100,000 -> realised 80,000.
    from taxreport.model.events import BasisSupplement, as_of

    events = history([("2024-01-10", "1", "40000"), ("2024-09-01", "1", "60000")])
    bare = Deposit(time=at("2023-01-02"), source="t", external_id="dep", account="okx:main", asset="USDT",
                   quantity=D(1_000_000))
    basis = BasisSupplement(time=at("2026-11-27"), source="manual", target_key=bare.natural_key,
                            cost=D(1_000_000), cost_currency="USD")
    events = [bare, *events[1:], basis]
    assert as_of(events, at("2025-02-01"))[-1] is basis  # timeless: kept whatever its recording time
    assert basis not in [e for e in events if e.time <= at("2025-02-01")]
    table = rates(["2024-01-10", "2024-09-01", "2025-02-01"], ["40000", "60000", "100000"])
    p = preview(events, table, sell_plan("1.5", "100000"), BASKET, TaxSettings("us", marginal_rate=D("0.24")),
                at("2025-02-01"))
    assert p.error is None
    assert p.realised_gain == D(80000)
