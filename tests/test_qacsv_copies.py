"""Identical id-less rows of one canonical trade CSV are distinct fills (round 13, qacsv).

Before: ``import csv`` identified an id-less row by its content only, so two genuine fills of the same size at the
same second and price (common in exports without ids) became one event, the summary said "1 duplicates (already in
the ledger)" (false) and the later sale was short by the lost fill. Now the rule of every other importer
(:func:`taxreport.importers.base.nth_copy`): the first copy keeps its content key, the n-th copy gets the external
id ``<account>/<content digest>:<n>``. Checked from the CLI on both paths: the fused fast path (also split into two
processes) and the reference (``canonical_csv``).
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.importers import fast_csv
from taxreport.importers.canonical_csv import parse_canonical_csv

HEADER = "timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id\n"
FILL = "2024-03-01T12:00:00Z,kraken:main,buy,BTC,USD,0.5,40000,0,,\n"
SALE = "2024-06-01T12:00:00Z,kraken:main,sell,BTC,USD,1,50000,0,,\n"


def _run(db: Path, *args: str) -> str:
    r = CliRunner().invoke(root, ["--db", str(db), *args])
    assert r.exit_code == 0, r.output
    return r.output


def _keys(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [k for (k,) in conn.execute("SELECT natural_key FROM events ORDER BY seq")]
    finally:
        conn.close()


@pytest.fixture(params=["fast", "split", "reference"])
def path_kind(request, monkeypatch):  # noqa: ANN001, ANN201
    """``import csv`` through its fused path in one process, split into two processes, or the reference."""
    if request.param == "split":
        monkeypatch.setattr(fast_csv, "SPLIT_MIN_BYTES", 0)
        monkeypatch.setattr(fast_csv, "BLOCK_BYTES", 120)
    if request.param == "reference":
        monkeypatch.setattr(fast_csv, "_plan", lambda path, split: None)  # no fused path: the reference reads
    return request.param


def test_two_identical_fills_are_two_events_and_the_sale_uses_both(tmp_path, path_kind):
    """Two buys of 0.5 BTC at 40,000 USD in the same second, then a sale of 1 BTC at 50,000 USD.

    Hand arithmetic (US, IRC s.1001(a): gain = amount realized - adjusted basis; held under a year: short term,
    IRC s.1222(1)): proceeds 1 x 50,000 = 50,000.00; cost 0.5 x 40,000 + 0.5 x 40,000 = 40,000.00; gain 10,000.00.
    Before the fix the second fill was dropped as a "duplicate": the sale was short by 0.5 BTC and ``gains``
    refused the year."""
    csv_file = tmp_path / "fills.csv"
    csv_file.write_text(HEADER + FILL + FILL + SALE)
    db = tmp_path / "l.sqlite3"
    out = _run(db, "import", "csv", str(csv_file))
    assert out.strip() == f"{csv_file}: 3 rows, 3 added, 0 duplicates (already in the ledger or earlier in the file)"
    keys = _keys(db)
    digest = keys[0].rsplit(":", 1)[-1]
    assert keys[0] == f"trade:csv:sha256:{digest}"  # the first copy keeps main's content key
    assert keys[1] == f"trade:csv:kraken:main/{digest}:1"
    got = json.loads(_run(db, "gains", "-j", "us", "-y", "2024", "--format", "json"))
    assert Decimal(got["proceeds"]) == Decimal("50000")
    assert Decimal(got["cost"]) == Decimal("40000")
    assert Decimal(got["gain"]) == Decimal("10000")
    assert Decimal(got["taxable_gain"]) == Decimal("10000")
    # re-importing the same file adds nothing
    again = _run(db, "import", "csv", str(csv_file))
    assert again.strip() == f"{csv_file}: 3 rows, 0 added, 3 duplicates (already in the ledger or earlier in the file)"
    # an overlapping later export (the same three rows and a new one) adds only the new one
    later = tmp_path / "later.csv"
    later.write_text(HEADER + FILL + FILL + SALE + "2024-07-01T12:00:00Z,kraken:main,buy,BTC,USD,0.1,60000,0,,\n")
    more = _run(db, "import", "csv", str(later))
    assert more.strip() == f"{later}: 4 rows, 1 added, 3 duplicates (already in the ledger or earlier in the file)"
    assert len(_keys(db)) == 4


def test_three_copies_and_a_file_without_copies_keeps_main_keys(tmp_path, path_kind):
    """Three identical rows: keys ``<digest>``, ``<acc>/<digest>:1``, ``<acc>/<digest>:2``; rows that are not
    copies keep their content key (main's), whatever their number."""
    csv_file = tmp_path / "three.csv"
    other = "2024-03-02T12:00:00Z,kraken:main,buy,BTC,USD,0.25,41000,1,USD,\n"
    csv_file.write_text(HEADER + FILL + other + FILL + FILL)
    db = tmp_path / "l.sqlite3"
    _run(db, "import", "csv", str(csv_file))
    events = parse_canonical_csv(csv_file).events
    content = [e.natural_key for e in events]
    first = content[0]
    digest = first.rsplit(":", 1)[-1]
    assert _keys(db) == [first, content[1], f"trade:csv:kraken:main/{digest}:1", f"trade:csv:kraken:main/{digest}:2"]
    assert content[1].startswith("trade:csv:sha256:")


def test_events_form_copies_are_distinct_but_basis_rows_are_not(tmp_path):
    """The events form follows the same rule (two identical id-less deposits are two deposits); a ``basis`` row
    stated twice is one statement (its key is its content, as before)."""
    csv_file = tmp_path / "events.csv"
    csv_file.write_text(
        "type,timestamp,account,asset,quantity,cost,cost_currency,target\n"
        "deposit,2024-01-02T09:00:00Z,okx:main,USDT,100,,,\n"
        "deposit,2024-01-02T09:00:00Z,okx:main,USDT,100,,,\n"
        "basis,2024-02-01T00:00:00Z,,,,90,USD,deposit:csv:sha256:0123\n"
        "basis,2024-02-01T00:00:00Z,,,,90,USD,deposit:csv:sha256:0123\n")
    events = parse_canonical_csv(csv_file).events
    assert events[0].external_id is None
    assert events[1].external_id == f"okx:main/{events[0].natural_key.rsplit(':', 1)[-1]}:1"
    assert events[2].external_id is None and events[3].external_id is None
    assert events[2].natural_key == events[3].natural_key


def test_the_summary_never_calls_a_repeat_within_the_file_already_in_the_ledger(tmp_path):
    """The same trade id twice in one file (an export concatenated with an overlap) into an empty ledger: the second
    row is a duplicate of the first and is skipped, but nothing was in the ledger before. The line used to say
    "1 duplicates (already in the ledger)", which was false; it now names both causes."""
    csv_file = tmp_path / "twice.csv"
    row = "2024-03-01T12:00:00Z,kraken:main,buy,BTC,USD,0.5,40000,0,,T-1\n"
    csv_file.write_text(HEADER + row + row)
    out = _run(tmp_path / "l.sqlite3", "import", "csv", str(csv_file))
    assert out == f"{csv_file}: 2 rows, 1 added, 1 duplicates (already in the ledger or earlier in the file)\n"
