"""Round 11, QA: the tax preview table of `rebalance plan` wrapped its dates in an 80-column terminal
("2024-01-0" / "7" on two lines). Rendered at 80 columns (rich honours COLUMNS), every date and amount
of a lot stays whole on one line, with the exact values of the plan's JSON; a terminal too narrow for the
table gets one line per lot, each figure one word."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal as D

from click.testing import CliRunner
from rich.console import Console

from taxreport.cli.main import root
from taxreport.cli.plan_tax import preview_lines
from taxreport.model.money import decimal_str, money_str
from taxreport.rebalance.tax_preview import PreviewLeg, PreviewLot, TaxPreview

TAXED = ('name = "taxed"\naccount = "paper:taxed"\nmode = "weekly"\n[weights]\nBTC = 50\nETH = 50\n[tax]\n'
         'jurisdiction = "us"\nmarginal_rate = 0.24\nchoose_lots = true\ndefer_short_term = 30\ntax_budget = 0.5\n'
         'harvest_losses = 20\n')


def render(p: TaxPreview, width: int) -> list[str]:
    out = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    with out.capture() as captured:
        for item in preview_lines(p, width):
            out.print(item, markup=False, highlight=False, crop=False)
    return captured.get().splitlines()


def test_the_demo_tax_preview_at_80_columns_keeps_every_date_and_amount_on_one_line(ledger, monkeypatch):
    """scripts/demo.sh 3d: the taxed basket (BTC/ETH 50/50, every US policy) invested 10,000 USDT at BTC 60,000 /
    ETH 3,000 on 8 Jan 2024, planned at BTC 40,000 a week later: it sells ETH and harvests the BTC lot."""
    from taxreport.rebalance.basket import baskets_dir

    monkeypatch.setenv("COLUMNS", "80")

    def cli(*args: str) -> str:
        result = CliRunner().invoke(root, ["--db", ledger.url, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    baskets_dir().mkdir(parents=True, exist_ok=True)
    (baskets_dir() / "taxed.toml").write_text(TAXED)
    cli("basket", "invest", "10000", "--basket", "taxed", "--paper", "--prices", "BTC=60000,ETH=3000",
        "--at", "2024-01-08T00:00:00Z", "--yes")
    held = {r["asset"]: r["quantity"] for r in json.loads(cli("ledger", "balances", "--account", "paper:taxed",
                                                                "--format", "json"))}
    args = ["rebalance", "plan", "--basket", "taxed", "--paper", "--balances", ",".join(f"{a}={q}" for a, q in held.items()),
            "--invest", held["USDT"], "--prices", "BTC=40000,ETH=3000", "--at", "2024-01-15T00:00:00Z"]
    lots = [(o["asset"], lot) for o in json.loads(cli(*args, "--format", "json"))["tax"]["orders"] for lot in o["lots"]]
    text = cli(*args).splitlines()
    start = next(i for i, line in enumerate(text) if "tax preview: US 2024, method specific, USD" in line)
    end = next(i for i, line in enumerate(text) if line.startswith("realised gain"))
    table = text[start:end]
    assert max(len(line) for line in table) <= 80
    # one line per lot holding its asset, date, quantity, cost and gain whole: the JSON's figures (money to the cent)
    shown = [(asset, lot["acquired"], decimal_str(D(lot["quantity"])), money_str(D(lot["cost"])),
              money_str(D(lot["gain"]))) for asset, lot in lots]
    assert shown == [("ETH", "2024-01-07", "0.277193", "832.16", "-1.41"),
                     ("BTC", "2024-01-07", "0.08325834", "4999.00", "-1672.00")]
    for n, values in enumerate(shown, start=1):
        [row] = [line for line in table if all(f" {v} " in line for v in values)]
        assert row.startswith(f"│ {n} │") and "short" in row
    assert not any(line.startswith("│   │") for line in table)  # no continuation line: nothing wrapped
    assert "rule" not in "".join(table)  # every lot is "specific": the title's method says it once


def preview(lots: list[tuple[str, PreviewLot]], method: str, jurisdiction: str = "uk") -> TaxPreview:
    legs = [PreviewLeg(asset, lot.quantity, lot.cost + lot.gain, lot.cost, lot.gain, (lot,)) for asset, lot in lots]
    return TaxPreview(jurisdiction, "GBP", "2024-25", method, D("0.24"), False, legs=legs)


UK_LOTS = [("BTC", PreviewLot(date(2024, 11, 2), D("123.456789012345678"), D("1234567.891"), D("-1234567.894"),
                              None, "same-day", None)),
           ("ETH", PreviewLot(date(2024, 10, 31), D("0.000000000632"), D("0.004"), D("0.005"), None, "30-day", None)),
           ("ETH", PreviewLot(None, D("1.5"), D("2000"), D("250.5"), None, "s104", None))]
UK_FIGURES = [("2024-11-02", "123.456789012345678", "1234567.89", "-1234567.89", "same-day"),
              ("2024-10-31", "0.000000000632", "0.00", "0.01", "30-day"),
              ("pool", "1.5", "2000.00", "250.50", "s104")]


def test_a_table_too_wide_for_80_columns_becomes_one_line_per_lot_with_every_figure_whole():
    # the UK rules differ per lot, so `rule` is shown; no lot has a term (pooled): `term` is not
    lines = render(preview(UK_LOTS, "hmrc"), 80)
    assert lines[0] == "tax preview: UK 2024-25, method hmrc, GBP"
    text = " ".join(line.rstrip() for line in lines[1:])
    for n, ((asset, _lot), (acquired, quantity, cost, gain, rule)) in enumerate(zip(UK_LOTS, UK_FIGURES), start=1):
        assert (f"#{n}; asset={asset}; acquired={acquired}; quantity={quantity}; cost={cost}; gain={gain}; "
                f"rule={rule}" in text)
    assert all(len(line) <= 80 for line in lines) and "term=" not in text
    # every figure is one word of one line: none is split where a line wraps
    words = [w for line in lines for w in line.split()]
    for figures in UK_FIGURES:
        for name, value in zip(["acquired", "quantity", "cost", "gain", "rule"], figures):
            assert f"{name}={value}" in words or f"{name}={value};" in words


def test_the_same_lots_in_a_wide_terminal_are_a_table_one_row_each():
    lines = render(preview(UK_LOTS, "hmrc"), 120)
    assert lines[1].startswith("┏") and "rule" in lines[2] and "term" not in lines[2]
    rows = [line for line in lines if line.startswith("│")]
    assert len(rows) == 3  # one line per lot: nothing wrapped
    for row, figures in zip(rows, UK_FIGURES):
        assert all(f" {value} " in row for value in figures)


def test_the_rule_column_shows_only_when_a_lot_is_matched_by_another_rule_than_the_method():
    lot = PreviewLot(date(2024, 1, 7), D("0.08325834"), D("4999.00"), D("-1672.00"), "short", "fifo", None)
    header = render(preview([("BTC", lot)], "fifo", "us"), 80)[2]
    assert "term" in header and "rule" not in header
    header = render(preview([("BTC", lot)], "specific", "us"), 80)[2]
    assert "term" in header and "rule" in header
