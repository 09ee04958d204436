"""Round 12, QA at COLUMNS=80 (helper qapolish): the plain lines round 11 left to the terminal broke inside a hash,
a path or a word on an 80-column terminal: ``ledger verify`` (``ledger OK: N events, chain head <64 hex>``), the
``import csv``/``import mapped`` summary line of a file with a long path, ``review``'s table (``deposit_withou`` /
``t_basis``, ``2024-06-03T09:`` / ``12:00Z``: rich's ``overflow="fold"``) and every command's one-line error
(``error: OKX history does not reconcile with ...``). On a terminal they now wrap between words
(taxreport/cli/fit.py ``echo_line``; review's table through ``print_fitted``); piped they are written exactly as
before, byte for byte. Also ``backtest`` piped (its lines whole, not wrapped at rich's width) and the title of
``rebalance plan --paper`` on the basket's own holdings (no doubled "paper (paper ...)")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest


ROOT = Path(__file__).parent.parent
TABLE = "┏┃┡│└┗╇━"
TRADES = (ROOT / "sample_exports" / "demo_trades.csv").read_text(encoding="utf-8")
OKX = [str(ROOT / "sample_exports" / "okx" / "okx-trading-history.csv"),
       str(ROOT / "sample_exports" / "okx" / "okx-funding-history.csv")]


@pytest.fixture
def cli(narrow_cli):  # tests/conftest.py: the CLI at 80 columns, piped unless terminal=True
    return narrow_cli


def prose(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and line[0] not in TABLE]


def wrapped(piped: str, shown: str) -> None:
    """``shown`` (the terminal, 80 wide) is ``piped`` with its long lines wrapped between words (a word longer
    than the terminal, a long path, alone on its line)."""
    assert any(len(line) > 80 for line in piped.splitlines())  # the journey has lines a terminal would break
    assert all(len(line) <= 80 or len(line.split()) == 1 for line in shown.splitlines())
    assert shown.split() == piped.split()  # the same words in the same order: none was split


def test_ledger_verify_keeps_the_chain_head_whole(cli, tmp_path):
    (tmp_path / "trades.csv").write_text(TRADES, encoding="utf-8")
    cli("import", "csv", str(tmp_path / "trades.csv"))
    piped, shown = cli("ledger", "verify"), cli("ledger", "verify", terminal=True)
    assert re.fullmatch(r"ledger OK: 10 events, chain head [0-9a-f]{64}\n", piped)  # piped: one line, as before
    head = piped.split()[-1]
    wrapped(piped, shown)
    assert shown == f"ledger OK: 10 events, chain head\n  {head}\n"  # before: cut at column 80, mid-hash


def test_import_summary_of_a_long_path(cli, tmp_path):
    folder = tmp_path / "exports" / "kraken-main-account-full-history-2024"
    folder.mkdir(parents=True)
    path = folder / "kraken-trades-2024-01-01-to-2024-12-31.csv"
    path.write_text(TRADES, encoding="utf-8")
    piped = cli("import", "csv", str(path))
    assert piped == f"{path}: 10 rows, 10 added, 0 duplicates (already in the ledger or earlier in the file)\n"
    shown = cli("import", "csv", str(path), terminal=True)
    wrapped(piped.replace("10 added, 0 duplicates", "0 added, 10 duplicates"), shown)
    assert shown.splitlines() == [f"{path}:", "  10 rows, 0 added, 10 duplicates (already in the ledger or earlier in the file)"]


def test_review_table_never_splits_a_word_on_a_terminal(cli, tmp_path):
    # scripts/demo.sh 1b: the OKX deposit without basis and the missing BTC rate (review's blocking items)
    events = ROOT / "sample_exports" / "events"
    cli("import", "csv", str(events / "okx-events.csv"), str(events / "kraken-events.csv"))
    args = ("review", "-j", "us", "-y", "2024", "--peg", "USDT=USD", "--format", "json")
    items = json.loads(cli(*args, code=1).split("\nerror:")[0])["items"]
    assert [i["kind"] for i in items] == ["deposit_without_basis", "missing_rate"]
    shown = cli(*args[:-2], terminal=True, code=1)
    assert max(len(line) for line in shown.splitlines()) <= 80
    words = set(shown.replace("│", " ").replace(";", " ").split())
    for item in items:  # every word of every cell whole (before: "deposit_withou" / "t_basis", "2024-06-03T09:")
        for text in (item["kind"], item["ref"], item["explanation"], item["fix"]):
            for word in text.replace(";", " ").split():
                assert word in words or f"{word};" in shown or f"ref={word}" in shown or f"kind={word}" in shown, word
    assert "deposit_withou" not in words and "2024-06-03T09:" not in words
    assert shown.splitlines()[-1] == "error: 2 blocking item(s): fix them with the commands shown"


def test_an_error_line_wraps_between_words_on_a_terminal_and_is_whole_piped(cli, tmp_path):
    (tmp_path / "trades.csv").write_text(TRADES, encoding="utf-8")
    cli("import", "csv", str(tmp_path / "trades.csv"))
    args = ("reconcile", "okx", *OKX, "--account", "kraken:main", "--format", "json")
    piped = cli(*args, code=2).splitlines()[-1]
    assert piped == ("error: OKX history does not reconcile with kraken:main: 0 mismatched, 14 only in OKX, 5 only in "
                     "the ledger, 5 diverging balances")
    shown = cli(*args, terminal=True, code=2).splitlines()[-2:]
    assert shown == ["error: OKX history does not reconcile with kraken:main: 0 mismatched, 14 only in",
                     "  OKX, 5 only in the ledger, 5 diverging balances"]


SAMPLE = ROOT / "sample_exports" / "prices" / "synthetic_ohlcv_1d.csv"
CORE = """name = "core"
exchange = "okx"
account = "okx:main"
quote = "USDT"
mode = "weekly"
[weights]
BTC = 50
ETH = 30
SOL = 20
"""


def test_backtest_piped_lines_are_whole(cli, tmp_path):
    # piped (CliRunner's stdout is no terminal), COLUMNS=80: before, rich wrapped the text at 130 columns (its
    # width for pipes) and each table's title at the table's width: "... 'after tax' = final value" / "minus est. tax"
    basket = tmp_path / "core.toml"
    basket.write_text(CORE, encoding="utf-8")
    out = cli("backtest", "--basket", str(basket), "--candles", str(SAMPLE), "--from", "2023-01-01", "--to",
              "2024-12-31", "--compare", "weekly,weekly+tax-aware", "--jurisdiction", "us,uk", "--fx", "GBP=0.79")
    lines = out.splitlines()
    assert ("After tax, US: gains from the tax engine in USD; tax is an ESTIMATE; 'after tax' = final value minus est. "
            "tax, in USDT; 'if sold' = after the tax of selling everything at the last close too") in lines
    assert ("  each +tax-aware row is replayed once per country with that country's policies (rebalance/tax_plan.py, "
            "as rebalance plan/run): its after-tax figures are that replay's") in lines
    assert ("  Estimated tax = the tax engine's taxable gain per tax year x one ILLUSTRATIVE flat rate per country (not "
            "your rate). Realised gains only: gains still held at the end are not taxed here.") in lines
    assert lines[1].startswith("Backtest core: 731 1d bars, 2023-01-01 to 2025-01-01 (last close)")
    rows = [line for line in lines if line.startswith("│ weekly")]
    assert len(rows) == 6 and all(line.endswith("│") for line in rows)  # each table row whole on its line
    assert not any(line != line.rstrip() for line in lines)


def test_paper_plan_title_of_the_baskets_own_holdings(cli):
    # scripts/demo.sh 3b: basket alpha on the paper account "shared"
    cli("basket", "create", "alpha", "--weights", "BTC=50,ETH=50", "--paper-account", "shared", "--gate", "0")
    cli("basket", "invest", "1000", "--basket", "alpha", "--paper", "--prices", "BTC=29500,ETH=2000",
        "--paper-deposit", "BTC=1", "--at", "2024-01-08T00:00:00Z", "--yes")
    plan = ("rebalance", "plan", "--basket", "alpha", "--paper", "--prices", "BTC=36000,ETH=2000")
    out = cli(*plan)
    title = out.splitlines()[0].strip()
    assert re.fullmatch(r"basket alpha: \d+\.\d\d USDT \(paper:shared, the basket's own holdings\)",
                        title), title  # before: "(paper (paper:shared, the basket's own holdings))"
    assert json.loads(cli(*plan, "--format", "json"))["source"] == "paper (paper:shared, the basket's own holdings)"
    given = cli("rebalance", "plan", "--basket", "alpha", "--paper", "--balances", "BTC=0.1,ETH=1",
                "--prices", "BTC=36000,ETH=2000")
    assert given.splitlines()[0].strip() == "basket alpha: 5600.00 USDT (paper)"


def test_okx_import_summary_keeps_every_path_whole(cli):
    # scripts/demo.sh 4b's files: before, the summary table folded each path at its column's width, piped as on a
    # terminal ("sampl" / "e_exp" / "orts/" at 80 columns, "sample_exports/okx/okx-tr" / "ading-22col.csv" at 120)
    real = [str(ROOT / "sample_exports" / "okx" / name) for name in
            ("okx-trading-22col.csv", "okx-funding-earn.csv", "real/everytrade-t4-ada-sell.csv",
             "real/everytrade-f2-btc.csv")]
    out = cli("import", "okx", *real, "--account", "okx:real")
    words = set(out.replace("│", " ").replace(";", " ").split())
    for path in real:
        assert f"file={path}" in words  # a line of header=value fields per file: the table cannot fit 80 columns
        assert f"{path}:" in words  # the detail tables' titles and rows name the file whole
    flowing = " ".join(out.split())  # rich wraps the field lines between words at 80 columns
    assert f"file={real[0]}; variant=T5; time zone=UTC+8 (metadata line); rows=5; added=2; dup=0; ignored=1;" in flowing
    assert f"row={real[2]}:13" in words  # a row of the rounding table, file:line whole
    assert "OKX import" in out and "rows not imported" in out


def test_reconcile_findings_keep_every_figure_whole(cli, tmp_path):
    # scripts/demo.sh 4's OKX files against a ledger that has none of them: before, the findings table folded its
    # figures at 80 columns ("2024-01-0" / "8", "306.93344" / "13445352"), piped as on a terminal
    (tmp_path / "trades.csv").write_text(TRADES, encoding="utf-8")
    cli("import", "csv", str(tmp_path / "trades.csv"))
    found = tmp_path / "findings.csv"
    out = cli("reconcile", "okx", *OKX, "--account", "kraken:main", "--csv", str(found), code=2)
    import csv

    with open(found, encoding="utf-8") as fh:
        lines = [row for row in csv.DictReader(fh) if row["finding"] not in ("matched", "balance_ok")]
    words = set(out.replace("│", " ").replace(";", " ").replace("=", " ").split())
    figures = {row[k] for row in lines for k in ("okx_quantity", "okx_price", "okx_fee", "ledger_quantity",
                                                   "ledger_price", "ledger_fee") if row[k]}
    assert len(figures) > 20 and not figures - words  # each whole on one line
    assert {row["time"][:10] for row in lines} <= words  # each date whole
    assert out.splitlines()[0].startswith("Reconcile kraken:main: ") and out.splitlines()[0].endswith(" (relative)")
    start = out.splitlines().index("Findings")  # piped: the plain lines whole, the tables fitted to 80 columns
    end = next(i for i, line in enumerate(out.splitlines()) if "Balances over the period" in line)
    assert max(len(line) for line in out.splitlines()[start:end]) <= 80


def test_ledger_list_keeps_every_word_whole(cli):
    # before, at 80 columns: "rebalancer:al" / "pha", "rebalance.outc" / "ome" (rich's overflow="fold")
    cli("basket", "create", "alpha", "--weights", "BTC=50,ETH=50", "--paper-account", "shared", "--gate", "0")
    cli("basket", "invest", "1000", "--basket", "alpha", "--paper", "--prices", "BTC=29500,ETH=2000",
        "--at", "2024-01-08T00:00:00Z", "--yes")
    out = cli("ledger", "list", "--limit", "4")
    words = set(out.replace("│", " ").split())
    assert {"rebalance.outcome", "rebalance.done", "paper:shared", "00:00:10"} <= words
    assert max(len(line) for line in out.splitlines()) <= 80
    wide = json.loads(cli("ledger", "list", "--limit", "4", "--format", "json"))
    assert [e["actor"] for e in wide] == ["rebalancer:alpha"] * 4  # "written by": left out at 80 columns first
    held = json.loads(cli("ledger", "balances", "--format", "json"))
    shown = cli("ledger", "balances")  # fits 80 columns: the same table as before
    assert all(f"│ {r['account']} " in shown and f" {r['quantity']} │" in shown for r in held)
