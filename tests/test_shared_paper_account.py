"""Round 11, QA: two baskets on ONE paper account (scripts/demo.sh 3b). The paper exchange stands in for
OKX, where SOL/USDT exists whatever a basket holds (OKX v5, Get instruments: "Retrieve a list of
instruments with open contracts", a public list, not a per-basket one): a command of basket alpha
(BTC/ETH) may price SOL or deposit SOL in the account it shares with beta (ETH/SOL), whichever basket
touched the account first. What truly cannot be done (a coin outside the bundled OKX table, a coin
without a price) is refused in one line naming the flag, and writes nothing."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.config import data_dir
from taxreport.exchanges.paper import PaperExchange
from taxreport.ledger import Ledger
from taxreport.model.events import Deposit
from taxreport.rebalance.journal import Journal

D = Decimal
AT = "2024-01-08T00:00:00Z"


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("TAXREPORT_DB", str(tmp_path / "ledger.sqlite3"))
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def call(*args: str, ok: bool = True):  # noqa: ANN202
        result = runner.invoke(root, list(args), catch_exceptions=False)
        assert (result.exit_code == 0) == ok, result.output
        return result

    call.url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    call("basket", "create", "alpha", "--weights", "BTC=50,ETH=50", "--paper-account", "shared", "--gate", "0")
    call("basket", "create", "beta", "--weights", "ETH=50,SOL=50", "--paper-account", "shared", "--gate", "0")
    return call


def state_file():  # noqa: ANN201
    return data_dir() / "paper" / "shared.json"


def ledger_state(cli) -> tuple[int, dict]:  # noqa: ANN001
    led = Ledger(cli.url)
    try:
        deposits = {e.external_id: (e.asset, e.quantity, e.cost, e.cost_currency)
                    for e in led.events() if isinstance(e, Deposit) and e.account == "paper:shared"}
        return led.count(), deposits
    finally:
        led.close()


def test_the_first_basket_on_a_shared_account_deposits_and_prices_the_other_baskets_coin(cli):
    # before round 11: "--prices: SOL is not a member of basket alpha", then "SOL has no paper market SOL/USDT"
    out = cli("basket", "invest", "1000", "--basket", "alpha", "--paper", "--prices", "BTC=29500,ETH=2000,SOL=100",
              "--paper-deposit", "SOL=1", "--at", AT, "--yes", "--format", "json").output
    assert json.loads(out)["status"] == "completed"
    assert {leg["asset"] for leg in json.loads(out)["legs"]} == {"BTC", "ETH"}  # the SOL is not alpha's to trade
    _count, deposits = ledger_state(cli)
    outside = [d for ref, d in deposits.items() if ":outside:" in ref]
    assert outside == [("SOL", D(1), D(100), "USDT")]  # 1 SOL at the paper price 100 USDT
    assert PaperExchange.load(state_file()).total_balances()["SOL"] == D(1)
    # alpha's commands price SOL on the account too (beta has never run): status, dry-run plan, run
    status = json.loads(cli("basket", "status", "--basket", "alpha", "--paper", "--prices", "SOL=90",
                            "--format", "json").output)
    assert {row["asset"] for row in status["allocation"]} <= {"BTC", "ETH", "USDT"}
    cli("rebalance", "plan", "--basket", "alpha", "--paper", "--prices", "SOL=90", "--format", "json")
    cli("rebalance", "run", "--basket", "alpha", "--paper", "--prices", "SOL=95", "--at", "2024-01-08T00:05:00Z",
        "--yes", "--format", "json")
    assert PaperExchange.load(state_file()).prices["SOL/USDT"] == D(95)
    # beta then trades at the account's SOL price, set by alpha: no --prices needed
    out = json.loads(cli("basket", "invest", "2000", "--basket", "beta", "--paper", "--at", "2024-01-08T00:10:00Z",
                         "--yes", "--format", "json").output)
    sol = next(leg for leg in out["legs"] if leg["asset"] == "SOL")
    assert D("94") < D(sol["average_price"]) < D("96")
    # stopping alpha sells alpha's BTC and ETH only: the account keeps the deposited SOL and all of beta's
    cli("basket", "stop", "--basket", "alpha", "--paper", "--yes", "--at", "2024-01-08T01:00:00Z")
    led = Ledger(cli.url)
    try:
        beta = Journal(led, "beta", "paper:shared", "paper", checkpoint=False).sync().holdings
    finally:
        led.close()
    assert PaperExchange.load(state_file()).total_balances()["SOL"] == D(1) + beta["SOL"]


def test_a_deposit_of_another_baskets_coin_after_that_basket_ran(cli):
    cli("basket", "invest", "2000", "--basket", "beta", "--paper", "--prices", "ETH=2000,SOL=100", "--at", AT, "--yes")
    cli("basket", "invest", "1000", "--basket", "alpha", "--paper", "--prices", "BTC=29500,XRP=0.5",
        "--paper-deposit", "SOL=2,XRP=10", "--at", "2024-01-08T00:10:00Z", "--yes")
    _count, deposits = ledger_state(cli)
    assert sorted(d for ref, d in deposits.items() if ":outside:" in ref) == [
        ("SOL", D(2), D(200), "USDT"), ("XRP", D(10), D("5.0"), "USDT")]


def test_a_coin_the_paper_exchange_cannot_price_is_refused_in_one_line_and_nothing_is_written(cli):
    cli("basket", "invest", "1000", "--basket", "alpha", "--paper", "--prices", "BTC=29500,ETH=2000", "--at", AT,
        "--yes")
    before_state, before_ledger = state_file().read_bytes(), ledger_state(cli)
    # a coin of the bundled OKX table without a price yet: say which flag gives it
    r = cli("rebalance", "run", "--basket", "alpha", "--paper", "--prices", "BTC=30000", "--paper-deposit", "SOL=1",
            "--at", "2024-01-09T00:00:00Z", "--yes", ok=False)
    assert r.output.strip() == ("error: --paper-deposit: no paper price for SOL/USDT to value the deposit at: "
                                "add --prices SOL=PRICE (in USDT)")
    # a coin with no market in the bundled table: named, with the markets there are
    r = cli("basket", "invest", "100", "--basket", "alpha", "--paper", "--paper-deposit", "USDT=5,PEPE=1000",
            "--at", "2024-01-09T00:00:00Z", "--yes", ok=False)
    assert r.output.strip() == (
        "error: --paper-deposit: the paper exchange has no market PEPE/USDT (it knows the bundled OKX spot markets "
        "BTC/USDT, DOGE/USDT, ETH/USDT, SOL/USDT, USDC/USDT, XRP/USDT; okx_spot_markets.json): leave PEPE out of "
        "--paper-deposit")
    r = cli("basket", "status", "--basket", "alpha", "--paper", "--prices", "PEPE=1", ok=False)
    assert "no market PEPE/USDT" in r.output and "leave PEPE out of --prices" in r.output
    # the refused commands wrote nothing: not the --prices/--at they carried, not a ledger row
    assert state_file().read_bytes() == before_state
    assert ledger_state(cli) == before_ledger
    r = cli("basket", "invest", "100", "--basket", "alpha", "--live", "--paper-deposit", "SOL=1", ok=False)
    assert r.output.strip() == "error: --paper-deposit: --paper-deposit is for --paper only"
