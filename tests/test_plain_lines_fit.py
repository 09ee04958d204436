"""Round 11, QA at COLUMNS=80: the plain lines of the rebalance and gains commands (``realised gain ...``,
``tax policy ...``, ``today's P&L ...``, ``fills written ...``, notes) broke inside numbers on an 80-column
terminal (``0.0832583`` / ``49992 BTC``): on a terminal they now wrap between words, a figure (and an amount
with its asset, a date with its time) never split (taxreport/cli/fit.py ``echo_line``); piped, they are
written exactly as before, byte for byte. The journeys are scripts/demo.sh's sections 3b and 3d."""

from __future__ import annotations

import io
import json
import re

import pytest

from taxreport.cli.fit import echo_line, wrap_line

TABLE = "┏┃┡│└┗╇━"
# an amount and its asset, or a date and its time: the pairs a line must never put on two lines
PAIR = re.compile(r"-?\d[\d.]* [A-Z][A-Z0-9]{1,9}(?![A-Za-z0-9])|\d{4}-\d{2}-\d{2} \d{2}:\d{2}")


@pytest.fixture
def cli(narrow_cli):  # tests/conftest.py: the CLI at 80 columns, piped unless terminal=True
    return narrow_cli


def prose(text: str) -> list[str]:
    """The output's plain lines (not a table's)."""
    return [line for line in text.splitlines() if line and line[0] not in TABLE]


def check_wrapped(piped: str, shown: str, *must: str) -> None:
    """``shown`` (the terminal, 80 wide) is ``piped`` with its long plain lines wrapped between words: every
    line at most 80 columns, the same words in the same order (so no word was split), and each amount with
    its asset and each date with its time of the piped text on ONE line of the terminal's."""
    assert any(len(line) > 80 for line in prose(piped))  # the journey has lines a terminal would break
    assert max(len(line) for line in prose(shown)) <= 80
    assert shown.split() == piped.split()
    for line in prose(piped):
        for pair in PAIR.findall(line):
            assert any(pair in s for s in prose(shown)), pair
    for text in must:
        assert text in piped.splitlines()  # piped: the whole line, exactly as before


def test_wrap_line_keeps_figures_and_amounts_with_their_asset_whole():
    line = ("tax policy harvest-losses: harvested BTC: 0.083258349992 BTC in 1 lot(s) down more than 20% (a loss "
            "of 1668.67 USD): sell 0.08325834 and buy back 0.08309198 (two legs; the lots are identified at the "
            "sale, Treas. Reg. §1.1012-1(j)); allowed: no wash-sale rule applies to crypto in US (IRC §1091 "
            "covers stock or securities)")
    lines = wrap_line(line, 80).split("\n")
    assert lines == [
        "tax policy harvest-losses: harvested BTC: 0.083258349992 BTC in 1 lot(s) down",
        "  more than 20% (a loss of 1668.67 USD): sell 0.08325834 and buy back 0.08309198",
        "  (two legs; the lots are identified at the sale, Treas. Reg. §1.1012-1(j));",
        "  allowed: no wash-sale rule applies to crypto in US (IRC §1091 covers stock or",
        "  securities)"]
    # at 58 columns the break would fall between "0.083258349992" and "BTC": the amount moves down with its asset
    narrow = wrap_line(line, 58).split("\n")
    assert narrow[0] == "tax policy harvest-losses: harvested BTC:"
    assert narrow[1].startswith("  0.083258349992 BTC in 1 lot(s) down")
    assert max(len(x) for x in narrow) <= 58 and " ".join(narrow).split() == line.split()
    status = "last run      2024-12-09 00:00 UTC (completed, id 20241209000040) and some more words here"
    assert wrap_line(status, 36, indent=14).split("\n") == [
        "last run      2024-12-09 00:00 UTC", "              (completed, id", "              20241209000040) and",
        "              some more words here"]
    # 33 columns: "last run      2024-12-09 00:00" would fit, but the date, its time and UTC go down together
    assert wrap_line(status, 33, indent=14).split("\n")[:2] == ["last run", "              2024-12-09 00:00 UTC"]
    assert wrap_line("a " + "9" * 50 + " b", 20) == "a\n  " + "9" * 50 + "\n  b"  # too long: whole, alone
    assert wrap_line("short line", 80) == "short line"
    assert wrap_line("x" * 81, 80) == "x" * 81


def test_echo_line_piped_is_byte_for_byte_and_on_a_terminal_wraps(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    text = "realised gain -1673.41 USD; taxable gain of 2024 0.00 -> 0.00; ESTIMATED tax 0.00 USD at 24.00%"
    monkeypatch.setattr("sys.stdout", io.StringIO())  # not a terminal: isatty() is False
    import sys

    echo_line(text)
    assert sys.stdout.getvalue() == text + "\n"

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdout", Tty())
    echo_line(text)
    assert sys.stdout.getvalue() == ("realised gain -1673.41 USD; taxable gain of 2024 0.00 -> 0.00; ESTIMATED tax\n"
                                     "  0.00 USD at 24.00%\n")


def test_status_and_stop_lines_of_the_shared_account_basket(cli):
    # scripts/demo.sh 3b: basket alpha on a paper account that holds 1 BTC of its own
    cli("basket", "create", "alpha", "--weights", "BTC=50,ETH=50", "--paper-account", "shared", "--gate", "0")
    cli("basket", "invest", "1000", "--basket", "alpha", "--paper", "--prices", "BTC=29500,ETH=2000",
        "--paper-deposit", "BTC=1", "--at", "2024-01-08T00:00:00Z", "--yes")
    run = ("rebalance", "run", "--basket", "alpha", "--paper", "--prices", "BTC=36000", "--at",
           "2024-01-15T00:00:00Z", "--yes")
    piped = cli(*run)
    status = ("basket", "status", "--basket", "alpha", "--paper")
    piped_status, shown_status = cli(*status), cli(*status, terminal=True)
    check_wrapped(piped_status, shown_status)
    today = next(line for line in piped_status.splitlines() if line.startswith("today's P&L"))
    assert re.fullmatch(r"today's P&L   -?\d+\.\d\d USDT  \(value now vs \d+\.\d\d USDT at 00:00 UTC; prices at "
                        r"00:00 UTC: paper prices\)", today)
    at = [line for line in shown_status.splitlines() if line.startswith("today's P&L")]
    i = shown_status.splitlines().index(at[0])
    assert shown_status.splitlines()[i + 1] == "              00:00 UTC: paper prices)"  # under the value
    assert "fills written to the ledger as trades in account paper:shared; fees:" in piped
    stop = ("basket", "stop", "--basket", "alpha", "--paper", "--yes", "--at", "2024-01-15T01:00:00Z")
    piped_stop = cli(*stop)
    released = next(line for line in piped_stop.splitlines() if line.startswith("basket alpha stopped"))
    assert len(released) > 80
    assert re.fullmatch(r"basket alpha stopped; released to account paper:shared: \d\.\d+ BTC, \d\.\d+ ETH, "
                        r"\d+\.\d+ USDT", released)


def test_stop_lines_on_a_terminal(cli):
    cli("basket", "create", "alpha", "--weights", "BTC=50,ETH=50", "--paper-account", "shared", "--gate", "0")
    cli("basket", "invest", "1000", "--basket", "alpha", "--paper", "--prices", "BTC=29500,ETH=2000",
        "--at", "2024-01-08T00:00:00Z", "--yes")
    shown = cli("basket", "stop", "--basket", "alpha", "--paper", "--yes", "--prices", "BTC=36000",
                "--at", "2024-01-15T01:00:00Z", terminal=True)
    lines = prose(shown)
    assert max(len(line) for line in lines) <= 80
    start = next(i for i, line in enumerate(lines) if line.startswith("basket alpha stopped"))
    released = " ".join(lines[start:]).split()
    assert released[:6] == ["basket", "alpha", "stopped;", "released", "to", "account"]
    assert all(re.fullmatch(r"[\d.]+", w) for w in released[released.index("paper:shared:") + 1::2])


TAXED = """name = "taxed"
account = "paper:taxed"
mode = "weekly"
[weights]
BTC = 50
ETH = 50
[tax]
jurisdiction = "us"
marginal_rate = 0.24
choose_lots = true
defer_short_term = 30
tax_budget = 0.5
harvest_losses = 20
"""


def test_the_tax_aware_plan_and_run_lines_of_the_demo(cli, tmp_path):
    # scripts/demo.sh 3d: invested at BTC 60,000; a week later BTC is 40,000: the plan and the run harvest the
    # losing BTC lot. Every line the tax policies print is long; none is split inside a figure on a terminal.
    basket = tmp_path / "taxed.toml"
    basket.write_text(TAXED, encoding="utf-8")
    cli("basket", "invest", "10000", "--basket", str(basket), "--paper", "--prices", "BTC=60000,ETH=3000",
        "--at", "2024-01-08T00:00:00Z", "--yes")
    held = json.loads(cli("ledger", "balances", "--account", "paper:taxed", "--format", "json"))
    balances = ",".join(f"{r['asset']}={r['quantity']}" for r in held)
    cash = next(r["quantity"] for r in held if r["asset"] == "USDT")
    plan = ("rebalance", "plan", "--basket", str(basket), "--paper", "--balances", balances, "--invest", cash,
            "--prices", "BTC=40000,ETH=3000", "--at", "2024-01-15T00:00:00Z")
    piped, shown = cli(*plan), cli(*plan, terminal=True)
    check_wrapped(piped, shown,
                  "realised gain -1673.41 USD; taxable gain of 2024 0.00 -> 0.00; ESTIMATED tax 0.00 USD at 24.00%")
    policy = next(line for line in piped.splitlines() if line.startswith("tax policy harvest-losses"))
    assert "0.083258349992 BTC" in policy and len(policy) > 160
    run = ("rebalance", "run", "--basket", str(basket), "--paper", "--prices", "BTC=40000,ETH=3000",
           "--at", "2024-01-15T00:00:00Z")
    shown = cli(*run, terminal=True)
    assert max(len(line) for line in prose(shown)) <= 80
    assert "0.083258349992 BTC" in shown  # the log line of the policy, wrapped around it
    gains = ("gains", "--jurisdiction", "us", "--year", "2024", "--peg", "USDT=USD", "--include-simulated",
             "--account", "paper:taxed")
    piped, shown = cli(*gains), cli(*gains, terminal=True)
    check_wrapped(piped, shown)
    assert any(line.startswith("note: ") and len(line) > 80 for line in piped.splitlines())
