"""Round 11, QA at COLUMNS=80: the rebalance journeys' tables (`basket status`, `basket history`, `rebalance
plan`, a run's report) split quantities, dates and ids across lines ("0.0169338" / "82048", "2024-" / "01-08").
They now keep every figure whole (taxreport.cli.fit): columns of low value go first, text wraps between
words, and a terminal too narrow for any table gets one line of fields per row. Plus a `basket stop` of a
basket that owns nothing no longer warns of "selling nothing" as a taxable disposal."""

from __future__ import annotations

import io
import json
from decimal import Decimal as D

import pytest
from click.testing import CliRunner
from rich.console import Console

from taxreport.cli.fit import Col, fitted
from taxreport.cli.main import root
from taxreport.model.money import decimal_str, money_str


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("TAXREPORT_DB", str(tmp_path / "ledger.sqlite3"))
    monkeypatch.setenv("COLUMNS", "80")
    runner = CliRunner()

    def call(*args: str, ok: bool = True) -> str:
        result = runner.invoke(root, list(args), catch_exceptions=False)
        assert (result.exit_code == 0) == ok, result.output
        return result.output

    return call


def words(text: str) -> set[str]:
    return set(text.replace("│", " ").replace("┃", " ").split())


def test_status_and_history_of_the_demo_basket_at_80_columns_keep_every_figure_whole(cli):
    # scripts/demo.sh 3: the core basket invested at BTC 42,000 / ETH 2,300 / SOL 100, then a week where
    # BTC rose 10%: the run sells BTC and buys ETH and SOL
    cli("basket", "create", "core", "--weights", "BTC=50,ETH=30,SOL=20", "--gate", "0")
    cli("basket", "invest", "10000", "--basket", "core", "--paper", "--prices", "BTC=42000,ETH=2300,SOL=100",
        "--at", "2024-01-08T00:00:00Z", "--yes")
    cli("rebalance", "run", "--basket", "core", "--paper", "--prices", "BTC=46200", "--at", "2024-01-15T00:00:00Z")
    text = cli("basket", "status", "--basket", "core", "--paper")
    assert max(len(line) for line in text.splitlines() if line[:1] in "┏┃┡│└") <= 80  # the table (not the prose)
    status = json.loads(cli("basket", "status", "--basket", "core", "--paper", "--format", "json"))
    rows = [line for line in text.splitlines() if line.startswith("│")]
    for r in status["allocation"]:  # each member's figures on ONE line of the table, exactly as in the JSON
        figures = [decimal_str(D(r["quantity"])), money_str(D(r["price"])), money_str(D(r["value"])),
                   f"{money_str(D(r['weight']))}%", f"{money_str(D(r['target']))}%"]
        assert len([line for line in rows if line.startswith(f"│ {r['asset']} ")
                    and all(f" {f} " in line for f in figures)]) == 1
    assert decimal_str(D(status["cash"])) in words(text)  # the cash row: its quantity whole too

    text = cli("basket", "history", "--basket", "core")
    assert max(len(line) for line in text.splitlines() if line[:1] in "┏┃┡│└") <= 80
    history = json.loads(cli("basket", "history", "--basket", "core", "--format", "json"))
    assert len(history) == 2
    shown = words(text)
    for run in history:
        assert run["time"][:10] in shown and run["time"][11:16] in shown  # 2024-01-08 and 00:00, whole
        for trade in run["trades"]:  # the traded quantity of each fill, summed per asset and side, whole
            same = [t for t in run["trades"] if (t["side"], t["asset"]) == (trade["side"], trade["asset"])]
            total = sum((D(t["quantity"]) for t in same), D(0))
            assert f"{'+' if trade['side'] == 'buy' else '-'}{decimal_str(total)}" in shown
        if run.get("value_after") is not None:
            assert money_str(D(run["value_after"])) in shown


def test_stopping_a_basket_that_owns_nothing_does_not_warn_of_a_taxable_sale(cli):
    cli("basket", "create", "alpha", "--weights", "BTC=50,ETH=50", "--paper-account", "shared")
    cli("basket", "create", "beta", "--weights", "ETH=50,SOL=50", "--paper-account", "shared")
    cli("basket", "invest", "1000", "--basket", "alpha", "--paper", "--prices", "BTC=29500,ETH=2000,SOL=100",
        "--at", "2024-01-08T00:00:00Z", "--yes")
    out = cli("basket", "stop", "--basket", "beta", "--paper", "--yes", "--at", "2024-01-08T01:00:00Z")
    # before: "WARNING: this sells the basket's nothing for USDT. Every sale is a TAXABLE DISPOSAL ..."
    assert "TAXABLE" not in out and "basket beta owns no coins: stopping it sells nothing" in out
    assert "basket beta stopped" in out


def render(items: list) -> list[str]:  # noqa: ANN001
    out = Console(file=io.StringIO(), width=200, color_system=None, legacy_windows=False)
    with out.capture() as captured:
        for item in items:
            out.print(item, markup=False, highlight=False, crop=False)
    return captured.get().splitlines()


COLUMNS = [Col("when", wrap=True), Col("id", drop=1), Col("amount", "right"), Col("note", wrap=True, drop=2)]
ROWS = [("2024-01-08 00:00", "20240108000000", "1234567.89", "bought BTC and ETH"),
        ("2024-01-15 00:00", "20240115000000", "-0.00000001", "")]


def test_a_table_drops_its_columns_in_order_then_becomes_lines_and_never_cuts_a_figure():
    wide = render(fitted("t", COLUMNS, ROWS, 80))
    assert any("20240108000000" in line and "bought BTC and ETH" in line for line in wide)
    # 40 columns: the id goes, then the note; the date keeps its date and its time whole
    narrow = render(fitted("t", COLUMNS, ROWS, 33))
    assert "id" not in narrow[2] and "note" not in narrow[2] and max(len(line) for line in narrow) <= 33
    assert {"2024-01-08", "00:00", "1234567.89", "-0.00000001"} <= words("\n".join(narrow))
    # narrower than any table: one line of fields per row, every column kept
    lines = render(fitted("t", COLUMNS, ROWS, 20))
    assert lines == ["t", "when=2024-01-08 00:00; id=20240108000000; amount=1234567.89; note=bought BTC and ETH",
                     "when=2024-01-15 00:00; id=20240115000000; amount=-0.00000001; note=-"]


def test_basket_list_at_80_columns_keeps_accounts_values_and_dates_whole(cli):
    from taxreport.rebalance.basket import baskets_dir

    cli("basket", "create", "alpha", "--weights", "BTC=50,ETH=50", "--paper-account", "shared")
    cli("basket", "create", "beta", "--weights", "ETH=50,SOL=50", "--paper-account", "shared")
    cli("basket", "invest", "1000", "--basket", "alpha", "--paper", "--prices", "BTC=29500,ETH=2000,SOL=100",
        "--at", "2024-01-08T00:00:00Z", "--yes")
    text = cli("basket", "list")
    table = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
    assert max(len(line) for line in table) <= 80 and "problem" not in text  # no basket has a problem
    # before: "paper:s" / "hared", "2024-01" / "-08"
    listed = {b["name"]: b for b in json.loads(cli("basket", "list", "--format", "json"))}
    value = listed["alpha"]["venues"][0]["value"]
    row = next(line for line in table if line.startswith("│ alpha "))
    assert " paper:shared " in row and f" {money_str(D(value))} USDT " in row and " 2024-01-08 " in row
    (baskets_dir() / "broken.toml").write_text('name = "broken"\n[weights]\nBTC = 50\nETH = 49\n')
    text = cli("basket", "list")
    assert "problem" in text and {"sum", "99"} <= words(text)
