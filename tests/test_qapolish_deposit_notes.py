"""A UK or CA tax year names the deposits taken at zero cost (``--allow-zero-cost``) that affect THAT year: those that
arrived in it and those its sales are matched to by name (the UK 30-day rule, TCGA 1992 s106A(5): acquisitions
"within the period of thirty days after" the disposal). Before round 12 a year's notes listed every zero-cost deposit
from the ledger's first event to the year's cutoff (taxreport/jurisdictions/engine.py ``person_level``), the 30 days
after the year included: a later year repeated every earlier year's deposits, and a year named the next year's first
deposits though none of its sales used them. The one-year path and ``gains -y all`` give the same notes
(taxreport/jurisdictions/deposit_notes.py)."""

from __future__ import annotations

import json
import pickle
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.jurisdictions.deposit_notes import ZeroCostDeposit, year_notes

# A USD ledger (no rate needed for the trades' proceeds; the UK needs USD->GBP, the CA USD->CAD: flat rates below).
# ETH deposits without cost basis (allowed at zero cost), and sales:
#   D-1 2022-06-01 1 ETH      S-1 2022-08-01 sell 0.5 ETH           (UK 2022-23; CA 2022)
#   D-2 2023-05-01 0.5 ETH    S-2 2024-03-20 sell 0.5 ETH           (UK 2023-24; CA 2024)
#   D-3 2024-04-10 0.2 ETH    (UK: 21 days after S-2, in 2024-25: S-2's 30-day match, 0.2 ETH at zero cost)
#   D-4 2024-06-01 0.3 ETH    S-3 2024-07-01 sell 0.2 ETH           (UK 2024-25; CA 2024)
DEPOSITS = [("D-1", "2022-06-01T10:00:00Z", "1"), ("D-2", "2023-05-01T10:00:00Z", "0.5"),
            ("D-3", "2024-04-10T10:00:00Z", "0.2"), ("D-4", "2024-06-01T10:00:00Z", "0.3")]
TRADES = """timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id
2022-08-01T10:00:00Z,kraken:main,sell,ETH,USD,0.5,1600,0,USD,S-1
2024-03-20T10:00:00Z,kraken:main,sell,ETH,USD,0.5,3500,0,USD,S-2
2024-07-01T10:00:00Z,kraken:main,sell,ETH,USD,0.2,3400,0,USD,S-3
"""
RATES = "timestamp,base,quote,rate\n" + "".join(
    f"{day},USD,{cur},{rate}\n" for day in ("2022-08-01", "2024-03-20", "2024-07-01")
    for cur, rate in (("GBP", "0.8"), ("CAD", "1.35")))


def note(ref: str, quantity: str) -> str:
    return f"deposit deposit:manual:{ref}#0: {quantity} ETH without known cost basis taken at zero cost, as asked"


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    (tmp_path / "trades.csv").write_text(TRADES)
    (tmp_path / "rates.csv").write_text(RATES)
    base = ["--db", str(tmp_path / "ledger.sqlite3")]
    calls = [["import", "csv", str(tmp_path / "trades.csv")], ["prices", "import", str(tmp_path / "rates.csv")]]
    calls += [["ledger", "add", "deposit", "--time", t, "--account", "kraken:main", "--asset", "ETH", "--quantity", q,
               "--id", ref] for ref, t, q in DEPOSITS]
    for args in calls:
        done = CliRunner().invoke(root, [*base, *args], catch_exceptions=False)
        assert done.exit_code == 0, done.output
    return base


def _gains(base: list[str], code: str, year: str) -> object:
    result = CliRunner().invoke(root, [*base, "gains", "-j", code, "--year", year, "--allow-zero-cost", "ETH",
                                       "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _deposits(base: list[str], code: str, years: list[str]) -> dict[str, list[str]]:
    """Each year's deposit notes from its one-year call, checked equal (every note, in order) to ``-y all``'s."""
    every = _gains(base, code, "all")
    assert isinstance(every, list) and [d["year"] for d in every] == years
    out = {}
    for passed in every:
        alone = _gains(base, code, passed["year"])
        assert isinstance(alone, dict) and alone["notes"] == passed["notes"]
        out[passed["year"]] = [n for n in alone["notes"] if n.startswith("deposit ")]
    return out


def test_uk_years_name_their_own_deposits_and_those_their_sales_use(db: list[str]) -> None:
    # Before: 2022-23 named D-1 and D-2 (D-2 is in the 30 days after 5 April 2023, read for the 30-day rule, but
    # no 2022-23 sale was matched to it); 2023-24 named D-1, D-2, D-3; 2024-25 all four.
    assert _deposits(db, "uk", ["2022-23", "2023-24", "2024-25"]) == {
        "2022-23": [note("D-1", "1")],
        "2023-24": [note("D-2", "0.5"), note("D-3", "0.2")],  # D-3: S-2's 30-day match (s106A), after the year
        "2024-25": [note("D-3", "0.2"), note("D-4", "0.3")]}  # D-3 arrived in 2024-25
    # the figures: S-2 (2024-03-20, 0.5 ETH) is matched 0.2 ETH to D-3 by the 30-day rule (cost 0) and 0.3 ETH to
    # the s104 pool (D-1's 0.5 ETH left + D-2's 0.5 ETH, all at zero cost): cost 0; proceeds 0.5 x 3500 x 0.8 = 1400
    year = _gains(db, "uk", "2023-24")
    assert isinstance(year, dict)
    (sale,) = year["disposals"]
    assert Decimal(sale["proceeds"]) == Decimal("1400") and Decimal(sale["cost"]) == 0
    assert [(lot["rule"], lot["quantity"]) for lot in sale["lots"]] == [("30-day", "0.2"), ("s104", "0.3")]


def test_ca_years_name_their_own_deposits(db: list[str]) -> None:
    # CA: calendar years, America/Toronto; the ACB pool averages every unit (no sale names a deposit).
    # Before: 2023 named D-1 and D-2, 2024 all four (2022 named D-1 alone: nothing in its 30 days after).
    assert _deposits(db, "ca", ["2022", "2023", "2024"]) == {
        "2022": [note("D-1", "1")],
        "2023": [note("D-2", "0.5")],
        "2024": [note("D-3", "0.2"), note("D-4", "0.3")]}


def test_year_notes_keeps_every_other_note_and_the_note_copies_whole() -> None:
    at = datetime(2024, 4, 10, 10, tzinfo=timezone.utc)
    deposit = ZeroCostDeposit("deposit:manual:D-3#0", Decimal("0.2"), "ETH", at)
    assert deposit == note("D-3", "0.2") and deposit.code == "matching"
    copy = pickle.loads(pickle.dumps(deposit))
    assert (type(copy), copy, copy.code, copy.time, copy.ref) == (ZeroCostDeposit, deposit, "matching", at, deposit.ref)
    start, end = datetime(2023, 4, 5, 23, tzinfo=timezone.utc), datetime(2024, 4, 5, 23, tzinfo=timezone.utc)
    other = "UK dates are local dates in Europe/London"
    assert year_notes([other, deposit], start, end) == [other]  # type: ignore[list-item]
    assert year_notes([other, deposit], start, end, used=["deposit:manual:D-3#0"]) == [other, deposit]  # type: ignore[list-item]
    assert year_notes([deposit], end, datetime(2025, 4, 5, 23, tzinfo=timezone.utc)) == [deposit]
