"""CLI: `basket create|show|list` and `rebalance plan --paper` (no exchange at all)."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.rebalance.basket import baskets_dir, load_basket

EXAMPLE = ["--balances", "BTC=0.1,ETH=1,SOL=10.5", "--prices", "BTC=55000,ETH=2850,SOL=200"]


def run(*args: str):  # noqa: ANN201
    return CliRunner().invoke(root, list(args), catch_exceptions=False)


def test_create_show_list_round_trip():
    result = run("basket", "create", "core", "--weights", "BTC=50,ETH=30,SOL=20", "--mode", "weekly")
    assert result.exit_code == 0, result.output
    assert "saved basket 'core'" in result.output and "weekly on monday at 00:00 UTC" in result.output
    saved = load_basket(baskets_dir() / "core.toml")
    assert saved.weights == {"BTC": 50, "ETH": 30, "SOL": 20} and saved.account == "okx:main"
    shown = json.loads(run("basket", "show", "--basket", "core", "--format", "json").output)
    assert shown["weights"] == {"BTC": "50", "ETH": "30", "SOL": "20"} and shown["gate"] == "3"
    assert "BTC/USDT" in run("basket", "show", "core").output
    listed = json.loads(run("basket", "list", "--format", "json").output)
    assert [(b["name"], b["ok"]) for b in listed] == [("core", True)]


def test_create_refusals_are_one_line_errors():
    r = run("basket", "create", "bad", "--weights", "BTC=50,ETH=30,SOL=21")
    assert r.exit_code == 1 and r.output.strip() == "error: command line: weights: must sum to exactly 100, they sum to 101"
    r = run("basket", "create", "bad", "--weights", "BTC=50,btc=30,ETH=20")
    assert "duplicate asset: 'btc' and 'BTC' are the same asset" in r.output and r.exit_code == 1
    r = run("basket", "create", "bad", "--weights", "BTC=50,PEPE=50", "--markets",
            str(Path(__file__).parent / "fixtures" / "okx_markets.json"))
    assert "no such market on okx: PEPE/USDT" in r.output and r.exit_code == 1
    assert not (baskets_dir() / "bad.toml").exists()  # nothing written on refusal
    run("basket", "create", "core", "--weights", "BTC=50,ETH=50")
    r = run("basket", "create", "core", "--weights", "BTC=60,ETH=40")
    assert "exists already (use --force" in r.output and r.exit_code == 1
    assert run("basket", "create", "core", "--weights", "BTC=60,ETH=40", "--force").exit_code == 0


def test_list_shows_broken_files():
    run("basket", "create", "core", "--weights", "BTC=50,ETH=50")
    (baskets_dir() / "broken.toml").write_text('[weights]\nBTC = 50\nETH = 49\n')
    listed = {b["name"]: b for b in json.loads(run("basket", "list", "--format", "json").output)}
    assert listed["core"]["ok"] and not listed["broken"]["ok"] and "sum to 99" in listed["broken"]["error"]


def test_plan_paper_worked_example_json():
    run("basket", "create", "core", "--weights", "BTC=50,ETH=30,SOL=20")
    r = run("rebalance", "plan", "--basket", "core", "--paper", *EXAMPLE, "--fee-rate", "0", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert [(o["side"], o["asset"], o["quantity"], o["limit_price"], o["notional"]) for o in data["orders"]] == [
        ("sell", "BTC", "0.005", "55000", "275.000"), ("sell", "SOL", "0.05", "200", "10.00"),
        ("buy", "ETH", "0.1", "2850", "285.0")]
    assert data["dust"] == [] and data["source"] == "paper" and data["total_value"] == "10450.0"


def test_plan_paper_okx_fees_scale_the_buy_and_say_so():
    run("basket", "create", "core", "--weights", "BTC=50,ETH=30,SOL=20")
    # market taker fee 0.1%, charged in ETH on OKX: 284.715 USDT from the sells buys 0.0999 ETH
    data = json.loads(run("rebalance", "plan", "--basket", "core", "--paper", *EXAMPLE, "--format", "json").output)
    assert data["orders"][2]["quantity"] == "0.099900" and data["buy_fee_in"] == "base"
    assert data["notes"] == ["buys scaled to 99.90% to fit the 284.715 USDT available after sells and fees "
                             "(they would cost 285)"]


def test_plan_dust_is_listed_with_reason():
    run("basket", "create", "duo", "--weights", "BTC=50,SOL=50")
    r = run("rebalance", "plan", "--basket", "duo", "--paper", "--balances", "BTC=0.01,SOL=2.7525",
            "--prices", "BTC=55000,SOL=200", "--format", "json")
    data = json.loads(r.output)
    assert data["orders"] == []
    assert [(d["asset"], d["side"], d["reason"]) for d in data["dust"]] == [
        ("SOL", "sell", "below minimum notional 5 USDT"), ("BTC", "buy", "below minimum amount 0.00001 BTC")]
    table = run("rebalance", "plan", "--basket", "duo", "--paper", "--balances", "BTC=0.01,SOL=2.7525",
                "--prices", "BTC=55000,SOL=200").output
    assert "dropped as dust" in table and "below minimum notional 5 USDT" in table


def test_plan_issue_example_with_a_two_asset_basket_and_table_output():
    run("basket", "create", "duo", "--weights", "BTC=60,ETH=40")
    r = run("rebalance", "plan", "--basket", "duo", "--paper", "--balances", "BTC=0.1,ETH=1.2,USDT=50",
            "--prices", "BTC=55000,ETH=2375")
    assert r.exit_code == 0, r.output
    # 5,500 + 2,850 = 8,350: BTC 65.87% vs 60% -> sell 490 USDT of BTC = 0.00890909 BTC
    assert "65.87%" in r.output and "0.00890909" in r.output and "SELL" in r.output and "BUY" in r.output


def test_plan_refusals():
    run("basket", "create", "core", "--weights", "BTC=50,ETH=30,SOL=20")
    r = run("rebalance", "plan", "--basket", "core", "--paper", "--balances", "BTC=0.1,ETH=1.2,USDT=50",
            "--prices", "BTC=55000,ETH=2375")
    assert r.exit_code == 1 and "--prices: no price for SOL" in r.output
    r = run("rebalance", "plan", "--basket", "core", "--paper")
    assert r.exit_code == 1 and "add --balances and --prices" in r.output
    r = run("rebalance", "plan", "--basket", "core", "--balances", "BTC=1", "--prices", "BTC=1")
    assert r.exit_code == 1 and "add --paper" in r.output
    r = run("rebalance", "plan", "--basket", "nope", "--paper", *EXAMPLE)
    assert r.exit_code == 1 and "no basket named 'nope'" in r.output
    r = run("rebalance", "plan", "--basket", "core", "--paper", "--balances", "BTC=0.1,BTC=1", "--prices", "BTC=1")
    assert "BTC is given twice" in r.output
    r = run("rebalance", "plan", "--basket", "core", "--paper", "--balances", "BTC=abc", "--prices", "BTC=1")
    assert r.exit_code == 1 and "not a number" in r.output


def test_plan_as_scheduled_skips_inside_the_gate():
    run("basket", "create", "core", "--weights", "BTC=50,ETH=30,SOL=20")
    data = json.loads(run("rebalance", "plan", "--basket", "core", "--paper", *EXAMPLE, "--as-scheduled",
                          "--format", "json").output)
    assert data["orders"] == [] and data["skipped"] == ("no asset drifts more than the 3pp gate "
                                                        "(largest: ETH -2.73pp)")


def test_plan_from_a_basket_file_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[weights]\nBTC = 50\nETH = 30\nSOL = 20\n')
    data = json.loads(run("rebalance", "plan", "--basket", str(path), "--paper", *EXAMPLE, "--fee-rate", "0",
                          "--format", "json").output)
    assert data["basket"] == "mine" and len(data["orders"]) == 3


def test_help_has_examples():
    for args in (["basket", "create"], ["basket", "show"], ["basket", "list"], ["rebalance", "plan"]):
        assert "Examples:" in run(*args, "--help").output


def test_live_plan_of_1000_usdt_on_an_account_holding_1_btc_plans_no_btc_sale(monkeypatch, tmp_path):
    """Issue #11: `rebalance plan --invest 1000` on an account that already holds 1 BTC planned a
    29,500 USDT BTC sale (the whole account was the basket). Now only the invested cash is planned."""
    from taxreport.cli import rebalance_plan
    from taxreport.exchanges.markets import default_markets
    from taxreport.exchanges.paper import PaperExchange

    ex = PaperExchange(markets=default_markets())
    for asset, price in (("BTC", D(29500)), ("ETH", D(2000)), ("SOL", D(100))):
        ex.set_price(asset, price)

    def fake_live(basket, sandbox):  # noqa: ANN001, ANN202
        symbols = [f"{a}/USDT" for a in basket.weights]
        tickers = ex.fetch_tickers(symbols)
        mids = {s.split("/")[0]: (t.bid + t.ask) / 2 for s, t in tickers.items()}
        return ex, ex.load_markets(), {"BTC": D(1), "USDT": D(1200)}, mids, tickers

    monkeypatch.setenv("TAXREPORT_DB", str(tmp_path / "ledger.sqlite3"))

    monkeypatch.setattr(rebalance_plan, "_live_inputs", fake_live)
    run("basket", "create", "core", "--weights", "BTC=50,ETH=30,SOL=20")
    data = json.loads(run("rebalance", "plan", "--basket", "core", "--invest", "1000", "--format", "json").output)
    assert [o["side"] for o in data["orders"]] == ["buy", "buy", "buy"]
    assert D(data["total_value"]) == 1000
    assert sum(D(o["notional"]) for o in data["orders"]) <= 1000
    refused = run("rebalance", "plan", "--basket", "core", "--invest", "5000")
    assert "the account has only 1200 USDT free" in refused.output


def test_paper_plan_without_balances_plans_the_basket_s_own_holdings(tmp_path, monkeypatch):
    """`rebalance plan --basket core --paper --prices …` on an invested paper basket plans what the basket
    owns (the run's view), not numbers typed in: here 10,000 USDT invested at BTC 50,000 / ETH 2,500
    (50/50) and BTC doubles: BTC is worth 2/3 of the basket, a 16.67pp drift, so BTC is sold."""
    monkeypatch.setenv("TAXREPORT_DB", str(tmp_path / "l.sqlite3"))
    assert run("basket", "create", "core", "--weights", "BTC=50,ETH=50").exit_code == 0
    r = run("rebalance", "plan", "--basket", "core", "--paper", "--prices", "BTC=100000,ETH=2500")
    assert r.exit_code == 1 and "no paper state yet" in r.output and "add --balances and --prices" in r.output
    assert run("basket", "invest", "10000", "--basket", "core", "--paper", "--prices", "BTC=50000,ETH=2500",
               "--at", "2024-01-08T00:00:00Z", "--yes").exit_code == 0
    held = {b["asset"]: D(b["quantity"]) for b in json.loads(run("ledger", "balances", "--account", "paper:core",
                                                                   "--format", "json").output)}
    out = run("rebalance", "plan", "--basket", "core", "--paper", "--prices", "BTC=100000,ETH=2500",
              "--format", "json")
    assert out.exit_code == 0, out.output
    plan = json.loads(out.output)
    assert "the basket's own holdings" in plan["source"]
    rows = {r["asset"]: r for r in plan["rows"]}
    assert D(rows["BTC"]["quantity"]) == held["BTC"] and D(rows["ETH"]["quantity"]) == held["ETH"]
    assert D("16.5") < D(rows["BTC"]["drift"]) < D("16.8")
    assert [(o["side"], o["asset"]) for o in plan["orders"]] == [("sell", "BTC"), ("buy", "ETH")]


def test_paper_plan_without_balances_previews_tax_on_the_paper_account(tmp_path, monkeypatch):
    """A tax-aware basket made on the command line keeps its live account (okx:main), but its paper fills
    land in paper:<basket>: `rebalance plan --paper` (no --balances) must read the lots there, as
    `rebalance run --paper` does, not report "short by" the whole sale in okx:main.
    Hand arithmetic: 10,000 USDT at BTC 60,000 / ETH 3,000, 0.1% fee in the base coin -> BTC 0.08332501
    bought for 4,999.00 USD (USDT pegged). BTC falls to 40,000: the ETH leg sells first; BTC's lot is down
    ~33% > 20%, so harvest-losses sells it (cost 4,999.00) and buys it back."""
    monkeypatch.setenv("TAXREPORT_DB", str(tmp_path / "l.sqlite3"))
    assert run("basket", "create", "taxed", "--weights", "BTC=50,ETH=50", "--tax", "us", "--choose-lots",
               "--harvest-losses", "20", "--marginal-rate", "0.24").exit_code == 0
    assert run("basket", "invest", "10000", "--basket", "taxed", "--paper", "--prices", "BTC=60000,ETH=3000",
               "--at", "2024-01-08T00:00:00Z", "--yes").exit_code == 0
    out = run("rebalance", "plan", "--basket", "taxed", "--paper", "--prices", "BTC=40000,ETH=3000",
              "--at", "2024-01-15T00:00:00Z", "--format", "json")
    assert out.exit_code == 0, out.output
    tax = json.loads(out.output)["tax"]
    assert not tax.get("error"), tax.get("error")
    lots = {o["asset"]: o["lots"] for o in tax["orders"]}
    assert [lot["lot"].startswith("trade:paper:taxed") for lot in lots["BTC"]] == [True]
    assert D(lots["BTC"][0]["cost"]).quantize(D("0.01")) == D("4999.00")
