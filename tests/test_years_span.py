"""``gains -y all`` lists the tax years that hold a movement, and a correction made today does not add
today's years; the UK's tax year in progress (2026-27) has its annual exempt amount.

A reversal (``ledger reverse``), a basis supplement, a link or a record is dated when it is written, not when
what it corrects happened (``taxreport.model.legs.MOVES_NOTHING``). Before, ``Ledger.time_span`` counted them,
so after ``ledger reverse`` of a 2024 trade ``gains -j uk -y all`` ran up to today's tax year and, for the UK,
refused the whole command: "no UK annual exempt amount on file for tax year 2026-27" (found by round 12's
notes journey). The US listed empty years up to today's.

UK annual exempt amount: Finance Act 2023 s.8(4)-(5) (TCGA 1992 s.1K(2)): £3,000 "for the tax year 2024-25
and subsequent tax years" (and s.8(6) ends the CPI increase), so 2026-27 is £3,000; it was refused before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root

TRADES = """timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id
2024-01-05T10:00:00Z,kraken:main,buy,BTC,{q},1,20000,0,{q},K-1
2024-03-05T10:00:00Z,kraken:main,sell,BTC,{q},0.5,30000,0,{q},K-2
2024-03-20T10:00:00Z,kraken:main,sell,BTC,{q},0.25,32000,0,{q},K-3
"""


def _run(args: list[str]) -> str:
    done = CliRunner().invoke(root, args)
    assert done.exit_code == 0, done.output
    return done.output


@pytest.mark.parametrize(("quote", "country", "years"), [("GBP", "uk", ["2023-24"]), ("USD", "us", ["2024"])])
def test_a_reversal_made_today_adds_no_year(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quote: str,
                                            country: str, years: list[str]) -> None:
    monkeypatch.setenv("TAXREPORT_HOME", str(tmp_path / "home"))
    (tmp_path / "t.csv").write_text(TRADES.format(q=quote))
    db = ["--db", str(tmp_path / "l.sqlite3")]
    _run([*db, "import", "csv", str(tmp_path / "t.csv")])
    _run([*db, "ledger", "reverse", "trade:csv:kraken:main/K-3", "--reason", "entered twice"])  # dated now
    found = json.loads(_run([*db, "gains", "-j", country, "-y", "all", "--format", "json"]))
    assert [y["year"] for y in found] == years
    # the one sale left: 0.5 BTC for 15,000 against half the 20,000 lot = 10,000; gain 5,000
    assert [(y["proceeds"], y["cost"], y["gain"]) for y in found] == [("15000.00", "10000.00", "5000.00")]


def test_uk_2026_27_has_its_annual_exempt_amount(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAXREPORT_HOME", str(tmp_path / "home"))
    (tmp_path / "t.csv").write_text("""timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id
2026-04-10T10:00:00Z,kraken:main,buy,BTC,GBP,1,20000,0,GBP,K-1
2026-05-10T10:00:00Z,kraken:main,sell,BTC,GBP,1,30000,0,GBP,K-2
""")
    db = ["--db", str(tmp_path / "l.sqlite3")]
    _run([*db, "import", "csv", str(tmp_path / "t.csv")])
    year = json.loads(_run([*db, "gains", "-j", "uk", "-y", "2026-27", "--format", "json"]))
    # gain 30,000 - 20,000 = 10,000; less the annual exempt amount 3,000 = 7,000 taxable
    assert (year["gain"], year["allowance"], year["taxable_gain"]) == ("10000.00", "3000.00", "7000.00")
