"""Writes tests/fixtures/import_golden/rows.json: every stored column of the ledger rows that
``import csv`` writes for the fixture CSVs beside it, with the time of recording pinned
(``2026-11-27T22:00:00.000000Z``). Run once on main's code (commit 50952bb, before issue 14's import
work) to record the golden values that tests/test_import_golden.py compares against:

    .venv/bin/python tests/golden_import_rows.py

``plain`` records tests/fixtures/import_golden/rows_plain.json the same way for ``plain.csv`` then
``plain_more.csv`` (the trade form without a ``"``, which ``import csv`` reads in a second process: 600 rows of
the benchmark history with odd rows mixed in, then a CRLF file of 200 of them again and 300 new ones, shuffled).
It was run on main's code at commit ea93190 (issue 14 round 4, before the chain was hashed in that process):

    PYTHONPATH=/path/to/main/checkout .venv/bin/python tests/golden_import_rows.py plain
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner

HERE = Path(__file__).resolve().parent / "fixtures" / "import_golden"
PINNED = datetime(2026, 11, 27, 22, 0, 0, tzinfo=timezone.utc)
COLUMNS = ("seq", "natural_key", "kind", "time", "accounts", "assets", "order_ref", "payload", "content_hash",
           "actor", "reason", "recorded_at", "prev_hash", "hash")


class _PinnedClock(datetime):
    @classmethod
    def now(cls, tz=None):  # noqa: ANN001, ANN206
        return PINNED


def stored_rows(db: Path) -> list[dict[str, object]]:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        cur = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM events ORDER BY seq")
        return [dict(zip(COLUMNS, r)) for r in cur.fetchall()]
    finally:
        conn.close()


FILES = {"rows.json": (("trades.csv", ["--account", "kraken:main"]), ("events.csv", [])),
         "rows_plain.json": (("plain.csv", []), ("plain_more.csv", []))}


def import_fixtures(db: Path, files: tuple[tuple[str, list[str]], ...] = FILES["rows.json"]) -> list[str]:
    """Import the fixtures into ``db`` as the test does (fixed names, so the reason text is stable)."""
    from taxreport.cli.main import root

    outputs = []
    for name, extra in files:
        r = CliRunner().invoke(root, ["--db", str(db), "import", "csv", name, *extra], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        outputs.append(r.output)
    return outputs


def main() -> None:
    import os

    import taxreport.ledger.store as store

    target = "rows_plain.json" if sys.argv[1:] == ["plain"] else "rows.json"
    store.datetime = _PinnedClock  # type: ignore[misc]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "golden.sqlite3"
        cwd = os.getcwd()
        os.chdir(HERE)
        try:
            outputs = import_fixtures(db, FILES[target])
        finally:
            os.chdir(cwd)
        out = {"outputs": outputs, "rows": stored_rows(db)}
    (HERE / target).write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(len(out["rows"]), "rows written to", HERE / target, file=sys.stderr)


if __name__ == "__main__":
    main()
