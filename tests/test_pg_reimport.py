"""Importing a file again into a PostgreSQL ledger: the duplicates are counted and skipped, the rows are the
SQLite ledger's byte for byte, and nothing else reaches stderr. (Until round 11 the stored keys made psycopg's
pipelined ``executemany`` fail and psycopg logged "error ignored terminating <psycopg.Pipeline …>: pipeline
aborted" on stderr at every re-import: :class:`taxreport.ledger.store._Insert`.)"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import taxreport.ledger.store as store
from taxreport.importers.canonical_csv import iter_canonical_csv
from taxreport.ledger import Ledger

pytestmark = pytest.mark.postgres
DEMO = Path(__file__).resolve().parent.parent / "sample_exports" / "demo_trades.csv"
ROW_COLUMNS = ("seq", "natural_key", "kind", "time", "accounts", "assets", "order_ref", "payload", "content_hash",
               "actor", "reason", "recorded_at", "prev_hash", "hash")


def _rows(url: str) -> list[tuple[object, ...]]:
    with Ledger(url) as led, led.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(f"SELECT {', '.join(ROW_COLUMNS)} FROM events ORDER BY seq")]


def test_reimport_into_postgres_from_the_cli_prints_no_pipeline_error(pg_url, tmp_path):  # noqa: ANN001
    # demo_trades.csv has 10 trades: its first 5 first, then the whole file (5 new, 5 duplicates), then again
    # (10 duplicates); each into PostgreSQL and into SQLite with the same pinned clock.
    part = tmp_path / "part.csv"
    part.write_text("".join(DEMO.read_text().splitlines(keepends=True)[:6]))
    env = {**os.environ, "TAXREPORT_RECORDED_AT": "2026-11-28T02:00:00Z", "COLUMNS": "200"}
    sqlite_url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    for url in (pg_url, sqlite_url):
        outs = []
        for path in (part, DEMO, DEMO):
            proc = subprocess.run([sys.executable, "-m", "taxreport.cli.main", "--db", url, "import", "csv", str(path)],
                                  capture_output=True, text=True, env=env, timeout=120)
            assert proc.returncode == 0, proc.stderr
            assert "Pipeline" not in proc.stderr and "error ignored" not in proc.stderr, proc.stderr
            assert proc.stderr == ""
            outs.append(proc.stdout.strip().splitlines()[-1])
        assert outs == [f"{part}: 5 rows, 5 added, 0 duplicates (already in the ledger or earlier in the file)",
                        f"{DEMO}: 10 rows, 5 added, 5 duplicates (already in the ledger or earlier in the file)",
                        f"{DEMO}: 10 rows, 0 added, 10 duplicates (already in the ledger or earlier in the file)"]
    pg_rows = _rows(pg_url)
    assert len(pg_rows) == 10 and pg_rows == _rows(sqlite_url)


def test_a_chunk_with_stored_keys_is_written_again_without_them(pg_url, tmp_path, monkeypatch, caplog):  # noqa: ANN001
    # Chunks of 3 events: the 10 trades after the first 5 are stored make chunks [1-3] (all stored), [4-6] (4, 5
    # stored: written again as 6 alone), [7-9], [10]. Same rows as SQLite's, and psycopg logs nothing.
    monkeypatch.setattr(store, "CHUNK", 3)
    monkeypatch.setenv("TAXREPORT_RECORDED_AT", "2026-11-28T02:00:00Z")
    events = [e for e, _ in iter_canonical_csv(DEMO)]
    results = {}
    for url in (pg_url, f"sqlite:///{tmp_path / 'ledger.sqlite3'}"):
        with caplog.at_level(logging.WARNING, logger="psycopg"), Ledger(url) as led:
            first = led.append(events[:5], actor="importer:csv", reason="import csv part")
            again = led.append_stream(iter_canonical_csv(DEMO), actor="importer:csv", reason="import csv all")
            results[url] = (first.added_count, again.added_count, again.duplicates)
            assert led.verify().ok
        assert [r.getMessage() for r in caplog.records
                if r.name.startswith("psycopg") and r.levelno >= logging.WARNING] == []
    assert list(results.values()) == [(5, 5, 5), (5, 5, 5)]
    assert _rows(pg_url) == _rows(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
