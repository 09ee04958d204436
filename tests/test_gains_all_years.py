"""``taxreport gains --year all``: every tax year of the ledger in one command, each year's figures the
same, to the cent, as a one-year call; one walk of the hash chain for all years; totals that foot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.ledger import Ledger

DEMO = str(Path(__file__).resolve().parent.parent / "sample_exports" / "demo_trades.csv")


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "all.sqlite3")
    assert CliRunner().invoke(root, ["--db", path, "import", "csv", DEMO]).exit_code == 0
    return path


def run(db: str, *args: str) -> str:
    r = CliRunner().invoke(root, ["--db", db, *args])
    assert r.exit_code == 0, r.output
    return r.output


def test_every_year_as_json_is_the_list_of_the_one_year_documents(db, monkeypatch):
    every = json.loads(run(db, "gains", "-j", "us", "-y", "all", "--format", "json"))
    # the demo trades run from 2024 into 2025: two US tax years
    assert [y["year"] for y in every] == ["2024", "2025"]
    monkeypatch.setenv("TAXREPORT_CACHE", "0")  # each year computed afresh, alone
    for one in every:
        assert one == json.loads(run(db, "gains", "-j", "us", "-y", one["year"], "--format", "json"))
    # 2024 as pinned in test_gains_cli: 7142.85 + 4295.70 + 15884.10 proceeds, gain 14199.54
    assert (every[0]["proceeds"], every[0]["gain"], len(every[0]["disposals"])) == ("27322.65", "14199.54", 3)
    assert (every[1]["proceeds"], every[1]["gain"], len(every[1]["disposals"])) == ("6593.40", "2088.90", 1)


def test_every_year_as_a_table_with_totals(db, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # one line per row
    out = run(db, "gains", "-j", "us", "-y", "all")
    lines = [line for line in out.splitlines() if line.startswith("│")]
    cells = [[c.strip() for c in line.strip("│").split("│")] for line in lines]
    assert [c[0] for c in cells] == ["2024", "2025", "total"]
    # totals: 27322.65 + 6593.40 = 33916.05 proceeds; 13123.11 + 4504.50 = 17627.61 cost;
    # 14199.54 + 2088.90 = 16288.44 net and taxable gain; 3 + 1 = 4 disposals
    assert cells[2][:7] == ["total", "4", "33916.05", "17627.61", "16288.44", "0.00", "16288.44"]
    assert cells[2][8] == "16288.44"
    assert "note (2025): Form 8949 boxes H (short) / K (long)" in out


def test_the_chain_is_walked_once_for_every_year(db, monkeypatch):
    from taxreport.gains import GainsRequest
    from taxreport.gains_years import gains_all_years

    monkeypatch.setenv("TAXREPORT_CACHE", "0")
    walks: list[int] = []
    original = Ledger._walk

    def walk(self, *, decode):  # noqa: ANN001, ANN202
        walks.append(1)
        return original(self, decode=decode)
    monkeypatch.setattr(Ledger, "_walk", walk)
    with Ledger(f"sqlite:///{db}") as led:
        years = gains_all_years(led, GainsRequest(jurisdiction="us", year="all"))
        assert [s.year for s in years] == ["2024", "2025"] and len(walks) == 1
        gains_all_years(led, GainsRequest(jurisdiction="us", year="all"))
        assert len(walks) == 2  # a new command (a new pin) walks again


def test_a_year_in_another_time_zone_and_an_empty_ledger(tmp_path, db):
    # in UTC the demo's first trade is still in 2024, its last in 2025: the same two years
    assert [y["year"] for y in json.loads(run(db, "gains", "-j", "us", "-y", "all", "--timezone", "UTC",
                                                "--format", "json"))] == ["2024", "2025"]
    empty = str(tmp_path / "empty.sqlite3")
    Ledger(f"sqlite:///{empty}").close()
    r = CliRunner().invoke(root, ["--db", empty, "gains", "-j", "us", "-y", "all"])
    assert r.exit_code != 0 and "holds no events" in r.output and "Traceback" not in r.output
