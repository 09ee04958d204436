"""A tax year's matching notes count that year's disposals and movements only: "specific identification: N
disposal(s) had no named lots and were matched FIFO: ..." (IRS virtual-currency FAQ Q41: units not specifically
identified are deemed sold first-in, first-out) and "zero cost basis assumed, as asked, for Q ASSET sold or moved
without known lots" (``--allow-zero-cost``). The matching reads every earlier year for the lots, but the 2024
document is read as being about 2024: before round 11 its notes counted the disposals of 2022 and 2023 too
(``taxreport.lots.matching.match_lots`` ``since``, ``match_lots_at`` ``starts``). The one-year path
(``LotRules.match``) and the every-year pass (``LotRules.match_years``) give the same notes."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal as D
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.errors import InputError
from taxreport.lots.matching import match_lots, match_lots_at
from taxreport.lots.types import Acquisition, Disposal, Move, Movement

# The canonical trade CSV (README "The canonical trade CSV"), USD-quoted (no rate needed), two years:
# 2023: buy 1 BTC; sell 0.2 BTC (K-2, its lot named in lots.csv) and 0.2 BTC (K-3, not named); buy 1 ETH, sell
#       1.5 ETH (K-5, not named: 1 ETH from its lot, 0.5 ETH held by no lot -> zero cost with --allow-zero-cost ETH)
# 2024: sell 0.1 BTC (K-6, not named), sell 0.25 ETH (K-7, not named; no ETH lot left -> 0.25 ETH at zero cost)
TRADES = """timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id
2023-01-05T10:00:00Z,kraken:main,buy,BTC,USD,1.0,20000,0,USD,K-1
2023-03-05T10:00:00Z,kraken:main,sell,BTC,USD,0.2,25000,0,USD,K-2
2023-06-05T10:00:00Z,kraken:main,sell,BTC,USD,0.2,30000,0,USD,K-3
2023-09-05T10:00:00Z,kraken:main,buy,ETH,USD,1.0,1500,0,USD,K-4
2023-10-05T10:00:00Z,kraken:main,sell,ETH,USD,1.5,1600,0,USD,K-5
2024-02-05T10:00:00Z,kraken:main,sell,BTC,USD,0.1,45000,0,USD,K-6
2024-04-05T10:00:00Z,kraken:main,sell,ETH,USD,0.25,3000,0,USD,K-7
"""
LOTS = """disposal,lot,quantity
trade:csv:kraken:main/K-2#0,trade:csv:kraken:main/K-1#1,
"""
# 2023: K-3 (BTC) and K-5 (ETH) unnamed = 2; 0.5 ETH at zero cost. 2024: K-6 (BTC), K-7 (ETH) = 2; 0.25 ETH.
NOTES_2023 = ["zero cost basis assumed, as asked, for 0.5 ETH sold or moved without known lots",
              "specific identification: 2 disposal(s) had no named lots and were matched FIFO: BTC 1, ETH 1"]
NOTES_2024 = ["zero cost basis assumed, as asked, for 0.25 ETH sold or moved without known lots",
              "specific identification: 2 disposal(s) had no named lots and were matched FIFO: BTC 1, ETH 1"]


def _counting(notes: list[str]) -> list[str]:
    return [n for n in notes if n.startswith(("zero cost basis assumed", "specific identification:"))]


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    (tmp_path / "trades.csv").write_text(TRADES)
    (tmp_path / "lots.csv").write_text(LOTS)
    base = ["--db", str(tmp_path / "ledger.sqlite3")]
    done = CliRunner().invoke(root, [*base, "import", "csv", str(tmp_path / "trades.csv"), "--account",
                                     "kraken:main"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    return [*base, "gains", "-j", "us", "--method", "specific", "--lots", str(tmp_path / "lots.csv"),
            "--allow-zero-cost", "ETH", "--format", "json"]


def _gains(args: list[str], year: str) -> object:
    result = CliRunner().invoke(root, [*args, "--year", year], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_2024_document_counts_2024_only_from_the_cli(db: list[str]) -> None:
    doc = _gains(db, "2024")
    assert isinstance(doc, dict)
    assert _counting(doc["notes"]) == NOTES_2024  # before: 0.75 ETH, "4 disposal(s) ...: BTC 2, ETH 2"
    assert [d["ref"] for d in doc["disposals"]] == ["trade:csv:kraken:main/K-6#0", "trade:csv:kraken:main/K-7#0"]
    doc = _gains(db, "2023")
    assert isinstance(doc, dict)
    assert _counting(doc["notes"]) == NOTES_2023


def test_every_year_in_one_pass_has_each_years_own_notes(db: list[str]) -> None:
    docs = _gains(db, "all")
    assert isinstance(docs, list)
    by_year = {d["year"]: _counting(d["notes"]) for d in docs}
    assert by_year == {"2023": NOTES_2023, "2024": NOTES_2024}
    for year in ("2023", "2024"):  # the one-year call: the same notes, all of them, in the same order
        alone = _gains(db, year)
        assert isinstance(alone, dict)
        assert [d["notes"] for d in docs if d["year"] == year] == [alone["notes"]]


def at(day: str) -> datetime:
    return datetime.fromisoformat(day + "T12:00:00").replace(tzinfo=timezone.utc)


Y2023, Y2024, Y2025 = at("2023-01-01").replace(hour=0), at("2024-01-01").replace(hour=0), at("2025-01-01").replace(hour=0)
MOVES: list[Movement] = [Acquisition(at("2023-01-02"), "A", "BTC", D(1), D(100), "b1", 1),
                         Disposal(at("2023-02-01"), "A", "BTC", D("0.5"), D(80), D(0), "s1", 0),
                         Disposal(at("2023-03-01"), "A", "SOL", D(3), D(30), D(0), "s2", 0),  # 3 SOL held by no lot
                         Move(at("2023-12-31"), "SOL", D(2), None, "A", "d1", 0),  # a deposit without cost basis: 2 SOL
                         Disposal(at("2024-02-01"), "A", "BTC", D("0.25"), D(60), D(0), "s3", 0),
                         Disposal(at("2024-03-01"), "A", "SOL", D(2), D(20), D(0), "s4", 0),  # the deposited 2 SOL (zero cost)
                         Disposal(at("2024-04-01"), "A", "SOL", D(1), D(10), D(0), "s5", 0),  # 1 SOL held by no lot
                         Move(at("2024-05-01"), "SOL", D("0.5"), None, "A", "d2", 0)]  # 0.5 SOL deposited without basis


def test_match_lots_since_counts_from_the_years_start() -> None:
    # 2024 (since 1 Jan 2024): s3, s4, s5 unnamed (BTC 1, SOL 2); zero cost: s5's 1 SOL + d2's 0.5 SOL = 1.5 SOL
    # (s4 takes the lot d1 made in 2023 at zero cost: that is 2023's). 2023: s1, s2 (BTC 1, SOL 1); 3 + 2 SOL.
    kw = dict(method="specific", zero_cost_assets=("SOL",))
    r = match_lots(MOVES, until=Y2025, since=Y2024, **kw)  # type: ignore[arg-type]
    assert r.notes == ["zero cost basis assumed, as asked, for 1.5 SOL sold or moved without known lots",
                       "specific identification: 3 disposal(s) had no named lots and were matched FIFO: SOL 2, BTC 1"]
    assert [d.disposal.event_key for d in r.disposals] == ["s1", "s2", "s3", "s4", "s5"]  # matching unchanged
    assert r.disposals == match_lots(MOVES, until=Y2025, **kw).disposals  # type: ignore[arg-type]
    # without since: every movement up to the end (the documented default): 3 + 2 + 1 + 0.5 = 6.5 SOL, 5 disposals
    assert match_lots(MOVES, until=Y2025, **kw).notes == [  # type: ignore[arg-type]
        "zero cost basis assumed, as asked, for 6.5 SOL sold or moved without known lots",
        "specific identification: 5 disposal(s) had no named lots and were matched FIFO: SOL 3, BTC 2"]
    # the cuts of one pass are the calls with until and since
    cuts = match_lots_at(MOVES, ends=[Y2024, Y2025], starts=[Y2023, Y2024], **kw)  # type: ignore[arg-type]
    assert [c.result.notes for c in cuts] == [
        ["zero cost basis assumed, as asked, for 5 SOL sold or moved without known lots",
         "specific identification: 2 disposal(s) had no named lots and were matched FIFO: BTC 1, SOL 1"],
        r.notes]
    assert cuts[0].result.notes == match_lots(MOVES, until=Y2024, since=Y2023, **kw).notes  # type: ignore[arg-type]
    # a year with no movement of its own: no counting note, though earlier years had some
    later = match_lots_at(MOVES, ends=[Y2025, at("2026-01-01")], starts=[Y2024, Y2025], **kw)  # type: ignore[arg-type]
    assert later[0].result.notes == r.notes and later[1].result.notes == []


def test_starts_out_of_order_are_refused() -> None:
    with pytest.raises(InputError, match="each start must be at or before its end"):
        match_lots_at(MOVES, ends=[Y2024, Y2025], starts=[Y2024, Y2023])
    with pytest.raises(InputError, match="each start must be at or before its end"):
        match_lots_at(MOVES, ends=[Y2024], starts=[Y2025])
    with pytest.raises(InputError, match="1 start"):
        match_lots_at(MOVES, ends=[Y2024, Y2025], starts=[Y2023])
