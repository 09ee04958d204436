"""The page size of a ledger file (:data:`taxreport.ledger.store.PAGE_SIZE`, issue 14 round 7): a file taxreport
creates has 16 KiB pages; a file that already holds anything keeps its own (SQLite: "The page_size pragma will only
cause an immediate change in the page size if it is issued while the database is still empty"), and is written and
read as before, also through the read-only connection and by the CLI."""

from __future__ import annotations

import sqlite3

from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.ledger import Ledger, store
from tests.test_read_path import random_events


def _page_size(path) -> int:  # noqa: ANN001
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])


def test_a_new_ledger_file_has_16_kib_pages_and_wal(tmp_path):
    db = tmp_path / "new.sqlite3"
    with Ledger(f"sqlite:///{db}") as led:
        led.append(random_events(1, 50), actor="importer:test", reason="x")
        assert led.verify().ok
    assert store.PAGE_SIZE == 16384 and _page_size(db) == 16384
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_first_import_into_a_new_file_makes_16_kib_pages(tmp_path):
    db, csv = tmp_path / "l.sqlite3", tmp_path / "t.csv"
    csv.write_text("timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id\n"
                   "2024-01-01T00:00:00Z,a,buy,BTC,USD,1.5,100,0,USD,x1\n"
                   "2024-06-01T00:00:00Z,a,sell,BTC,USD,1.0,200,0,USD,x2\n")
    out = CliRunner().invoke(root, ["--db", str(db), "import", "csv", str(csv)])
    assert out.exit_code == 0, out.output
    assert _page_size(db) == 16384


def test_an_existing_file_keeps_its_4_kib_pages_and_works(tmp_path, monkeypatch):
    db = tmp_path / "old.sqlite3"
    monkeypatch.setattr(store, "PAGE_SIZE", 4096)  # a ledger written before round 7
    events = random_events(2, 60)
    with Ledger(f"sqlite:///{db}") as led:
        led.append(events[:30], actor="importer:test", reason="x")
    assert _page_size(db) == 4096
    monkeypatch.setattr(store, "PAGE_SIZE", 16384)
    with Ledger(f"sqlite:///{db}") as led:
        led.append(events[30:], actor="importer:test", reason="y")
        assert led.verify().ok
        want = list(led.events())
    assert _page_size(db) == 4096 and len(want) == 60
    with Ledger(f"sqlite:///{db}", readonly=True) as led:
        assert list(led.events()) == want and led.verify().ok
