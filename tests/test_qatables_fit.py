"""Round 13, QA at COLUMNS=80 (helper qatables): the tables printed through ``cli.common.print_table`` were still
folded by rich inside their figures (``gains -j uk -y all``: ``5694.9`` / ``9``, ``taxab`` / ``le``; ``prices
list`` at 60 columns: ``2024-01-01T00:00:`` / ``00.000000Z``). ``print_table`` now prints rich's own layout only
when it keeps every word whole (byte for byte as before), else it goes through ``cli.fit``: columns of least
value are left out, else one line of ``header=value`` fields per row. And ``ledger balances`` printed a sum
with a quantity computed through a 50-digit quotient as ``-40.34000000000000000000000000000000000000000000000``
(table and JSON); it prints the quantity canonically (``model.money.decimal_str``)."""

from __future__ import annotations

import io
import json
from decimal import Decimal as D
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from taxreport.cli.common import print_table

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_exports"
MAPPED = Path(__file__).resolve().parent / "fixtures" / "mapped"


@pytest.fixture
def cli(narrow_cli):  # tests/conftest.py: the CLI at 80 columns, piped unless terminal=True
    return narrow_cli


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]


def demo(cli) -> None:  # scripts/demo.sh 1: the demo's trades and its USD->GBP rates
    cli("import", "csv", str(SAMPLES / "demo_trades.csv"))
    cli("prices", "import", str(SAMPLES / "demo_rates.csv"))


def test_gains_every_year_at_80_columns_keeps_each_years_figures_on_one_line(cli):
    demo(cli)
    for j in ("uk", "us"):
        text = cli("gains", "-j", j, "-y", "all")
        rows = table_lines(text)
        assert rows and max(len(line) for line in rows) <= 80
        years = [json.loads(cli("gains", "-j", j, "-y", s.split()[1].strip(), "--format", "json"))
                 for s in [r for r in rows if r.startswith("│ 20")]]
        assert len(years) == (2 if j == "uk" else 2)
        for y in years:  # before (uk): "│ 2023-2 │ 1 │ 5694.9 │" / "│ 4 │ │ 9 │": no line held a year's figures
            line = next(r for r in rows if r.startswith(f"│ {y['year']} "))
            for key in ("proceeds", "cost", "gain", "taxable_gain"):
                assert f" {y[key]} " in line, (key, line)
        total = next(r for r in rows if r.startswith("│ total "))
        # UK 2023-24 + 2024-25 proceeds: 5694.99 + 20993.51 = 26688.50; US 2024 + 2025: 27322.65 + 6593.40
        assert (" 26688.50 " if j == "uk" else " 33916.05 ") in total
        assert "taxable gain" in text  # the header whole (before: "taxab" / "le")


def test_gains_detail_at_80_columns_keeps_every_disposal_whole(cli):
    demo(cli)
    text = cli("gains", "-j", "us", "-y", "2024", "--detail")
    doc = json.loads(cli("gains", "-j", "us", "-y", "2024", "--detail", "--format", "json"))
    rows = [line for line in table_lines(text) if line.startswith("│")]
    assert max(len(line) for line in table_lines(text)) <= 80
    assert len(doc["disposals"]) == 3
    for d in doc["disposals"]:  # quantity, proceeds, cost and gain of each disposal on ONE line
        assert len([r for r in rows if all(f" {d[k]} " in r for k in ("quantity", "proceeds", "cost", "gain"))]) == 1


def test_prices_list_on_a_narrow_terminal_keeps_each_time_whole(cli):
    demo(cli)
    text = cli("prices", "list", columns=60)
    # before: "2024-01-01T00:00:" / "00.000000Z" in a folded column
    assert "first=2024-01-01T00:00:00.000000Z" in text and "last=2025-06-30T00:00:00.000000Z" in text
    assert "pair=USD/GBP; rates=547;" in text
    wide = cli("prices", "list", columns=120)  # room enough: the table as it always was
    assert "│ USD/GBP │   547 │ 2024-01-01T00:00:00.000000Z │ 2025-06-30T00:00:00.000000Z │" in wide


def _rich_layout(title: str, columns: list[tuple[str, str]], rows: list[list[str]], width: int) -> str:
    """What print_table printed before this round (rich, overflow="fold")."""
    table = Table(title=title, show_lines=False, header_style="bold")
    for header, justify in columns:
        table.add_column(header, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*row)
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(table)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_a_table_that_fits_is_printed_as_before_byte_for_byte(capsys, monkeypatch):
    columns = [("pair", "left"), ("rates", "right"), ("first", "left"), ("last", "left")]
    rows = [["USD/GBP", "547", "2024-01-01T00:00:00.000000Z", "2025-06-30T00:00:00.000000Z"]]
    for width in (120, 80):
        monkeypatch.setenv("COLUMNS", str(width))
        print_table("Stored rates", columns, rows)
        assert capsys.readouterr().out == _rich_layout("Stored rates", columns, rows, width)
    # wrapping between words is kept as rich did it (the label "sa108_rate_change_split: on or after ...")
    columns = [("", "left"), ("GBP", "right")]
    rows = [["sa108_rate_change_split: on or after 30 Oct 2024", "gains=10181.75, losses=0.00, net=10181.75, count=3"]]
    monkeypatch.setenv("COLUMNS", "80")
    print_table("t", columns, rows)
    assert capsys.readouterr().out == _rich_layout("t", columns, rows, 80)


def test_a_table_rich_would_fold_is_fitted_instead(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    columns = [("asset", "left"), ("quantity", "right"), ("value", "right"), ("cost", "right")]
    before = _rich_layout("t", columns, [["BTC", "0.123456789012", "123456.78", "99999.99"]], 40)
    assert "0.123456789012" not in before.replace("│", " ").split()  # rich folded the quantity
    print_table("t", columns, [["BTC", D("0.123456789012"), "123456.78", "99999.99"]])
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "t"
    assert " ".join(" ".join(out.splitlines()[1:]).split()) == "asset=BTC; quantity=0.123456789012; value=123456.78; cost=99999.99"


def test_ledger_balances_prints_a_quantity_canonically(cli):
    # tests/fixtures/mapped (Kraken legacy pairs): EUR -100.00 - 0.18 + 60.00 - 0.16 = -40.34, the buy's price
    # 100.00 / 0.00185 a 50-digit quotient, so the EUR sum came out with 50 digits after the point
    cli("import", "mapped", str(MAPPED / "kraken_legacy.csv"), "--mapping", str(MAPPED / "kraken_legacy.toml"),
        "--account", "kraken:main")
    doc = json.loads(cli("ledger", "balances", "--format", "json"))
    assert [(b["asset"], b["quantity"]) for b in doc] == [("BTC", "0.00085"), ("EUR", "-40.34")]
    text = cli("ledger", "balances")
    assert "│ kraken:main │ EUR   │   -40.34 │" in text
    assert "000000" not in text
