"""A bulk append into an empty SQLite ledger is written with a rollback journal, then the file is put back in WAL
mode (issue 14: the write-ahead log's double write of a first import; :func:`taxreport.ledger.store._bulk_journal`).

What is checked: the rows are main's bytes (the golden fixture) whichever journal wrote them; the write really ran in
DELETE mode with ``synchronous=EXTRA`` and the file is in WAL afterwards (committed, refused, or retried); a second
connection holding the file open keeps WAL (the same rows); a ledger that holds anything is appended to in WAL; an
import killed (SIGKILL) in the middle of its write leaves a hot journal that a read-only open refuses and the next
writable open rolls back: the ledger opens, verifies and is empty, in WAL, and the import can be run again.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import taxreport.ledger.store as store
from taxreport.cli.main import root
from taxreport.errors import LedgerError
from taxreport.ledger import Ledger
from taxreport.ledger.sqlite_ro import HotJournal, connect_read_only

from test_import_golden import GOLDEN, _PinnedClock, _rows  # the golden rows and their pinned clock
from test_import_golden import HERE as GOLDEN_DIR

GENESIS = "0" * 64


@pytest.fixture
def modes(monkeypatch) -> list[tuple[bool, str, int]]:
    """Each write's ``(switched, journal mode, synchronous)`` as seen inside :func:`store._bulk_journal`, with the
    golden rows' time of recording pinned and the golden files' folder as the working directory."""
    seen: list[tuple[bool, str, int]] = []
    real = store._bulk_journal

    @contextmanager
    def spy(conn, bulk):  # noqa: ANN001, ANN202
        with real(conn, bulk) as switched:
            raw = conn.connection.dbapi_connection
            seen.append((switched, raw.execute("PRAGMA journal_mode").fetchone()[0],
                         raw.execute("PRAGMA synchronous").fetchone()[0]))
            yield switched

    monkeypatch.setattr(store, "_bulk_journal", spy)
    monkeypatch.setattr(store, "datetime", _PinnedClock)
    monkeypatch.chdir(GOLDEN_DIR)
    return seen


def _file_state(db: Path) -> tuple[str, int, int, tuple[int, str]]:
    """(journal mode, synchronous, event rows, head) of ``db`` read by a fresh connection."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        return (conn.execute("PRAGMA journal_mode").fetchone()[0], conn.execute("PRAGMA synchronous").fetchone()[0],
                conn.execute("SELECT count(*) FROM events").fetchone()[0],
                tuple(conn.execute("SELECT seq, hash FROM ledger_head WHERE id = 1").fetchone()))
    finally:
        conn.close()


def _import(db: Path, name: str, *extra: str) -> Any:
    return CliRunner().invoke(root, ["--db", str(db), "import", "csv", name, *extra])


def _import_golden(db: Path) -> None:
    """The golden fixture's two imports (trades.csv into an empty ledger, then events.csv into a ledger that holds
    its rows): main's outputs and rows, every column; the chain verifies."""
    outputs = []
    for name, extra in (("trades.csv", ["--account", "kraken:main"]), ("events.csv", [])):
        r = _import(db, name, *extra)
        assert r.exit_code == 0, r.output
        outputs.append(r.output)
    assert outputs == GOLDEN["outputs"]
    assert _rows(db) == GOLDEN["rows"]
    with Ledger(f"sqlite:///{db}") as led:
        assert led.verify().ok


@pytest.mark.parametrize("chunk", [store.CHUNK, 3])
def test_the_first_import_into_an_empty_ledger_is_written_in_a_rollback_journal_then_wal_again(modes, tmp_path,
                                                                                                 monkeypatch, chunk):
    """trades.csv into a new ledger: DELETE mode with synchronous=EXTRA (3; the connection's FULL, 2, before and
    after); events.csv into the ledger that then holds 13 rows: WAL, FULL, as always. Main's bytes either way (also
    with 3-event chunks: the duplicate row's chunk is deduplicated and hashed by the writer in DELETE mode)."""
    monkeypatch.setattr(store, "CHUNK", chunk)
    db = tmp_path / "new.sqlite3"
    _import_golden(db)
    assert modes == [(True, "delete", 3), (False, "wal", 2)]
    assert _file_state(db) == ("wal", 2, 33, (33, GOLDEN["rows"][-1]["hash"]))
    assert not db.with_name(db.name + "-journal").exists()


def test_a_second_connection_holding_the_file_open_keeps_wal_and_the_same_rows(modes, tmp_path):
    """Another connection (here a plain sqlite3 one that has read the ledger, as a reader in another process would)
    holds the file open in WAL mode: leaving WAL needs the file alone, the pragma fails at once, and the import is
    written in WAL as before: the same rows, and the reader is never blocked (it reads them afterwards)."""
    db = tmp_path / "held.sqlite3"
    Ledger(f"sqlite:///{db}").close()  # an empty ledger, in WAL
    reader = sqlite3.connect(db, isolation_level=None)
    try:
        assert reader.execute("SELECT count(*) FROM events").fetchone() == (0,)
        started = time.monotonic()
        _import_golden(db)
        assert time.monotonic() - started < 20  # (no busy wait: the 30 s timeout never ran out)
        assert reader.execute("SELECT count(*) FROM events").fetchone() == (33,)
        assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        reader.close()
    assert modes == [(False, "wal", 2), (False, "wal", 2)]
    assert _file_state(db)[:3] == ("wal", 2, 33)


def test_a_refused_import_leaves_the_empty_ledger_as_it_was_in_wal(modes, tmp_path, monkeypatch):
    """A bad row after 3 chunks were inserted (3-event chunks): the import is refused with its one line, written in
    the rollback journal and rolled back: the ledger that existed before is still there, empty, in WAL, verifies."""
    monkeypatch.setattr(store, "CHUNK", 3)
    db = tmp_path / "refused.sqlite3"
    Ledger(f"sqlite:///{db}").close()
    bad = tmp_path / "bad.csv"
    good = (GOLDEN_DIR / "plain.csv").read_text().splitlines()[:12]
    bad.write_text("\n".join([*good, "2024-01-02T03:04:05Z,kraken:main,hold,BTC,USD,1,2,,,x-1"]) + "\n")
    r = _import(db, str(bad))
    assert r.exit_code != 0
    assert r.output == (f"error: {bad}: refused, nothing was written (1 problem):\n"
                        f"  {bad}:13: side: 'hold' is not buy or sell\n")
    assert modes == [(True, "delete", 3)]
    assert _file_state(db) == ("wal", 2, 0, (0, GENESIS))
    assert not db.with_name(db.name + "-journal").exists()
    with Ledger(f"sqlite:///{db}") as led:
        assert led.verify().ok and led.count() == 0


def test_a_ledger_found_not_empty_under_the_write_lock_is_written_again_in_wal(modes, tmp_path, monkeypatch):
    """The emptiness read before switching is only a hint: another writer may come first. Under the write lock the
    head says otherwise: rolled back, back to WAL, and the same append written in WAL (nothing was read from the
    stream yet, so the child process's chain still applies): events.csv lands after trades.csv, main's bytes."""
    db = tmp_path / "raced.sqlite3"
    r = _import(db, "trades.csv", "--account", "kraken:main")
    assert r.exit_code == 0, r.output
    monkeypatch.setattr(store, "_empty_wal_file", lambda raw: True)  # as if read before the other writer's commit
    r = _import(db, "events.csv")
    assert r.exit_code == 0, r.output
    assert modes == [(True, "delete", 3), (True, "delete", 3), (False, "wal", 2)]
    assert _rows(db) == GOLDEN["rows"]
    assert _file_state(db)[:3] == ("wal", 2, 33)


def test_small_appends_never_switch(tmp_path, modes):
    """:meth:`Ledger.append` of one chunk or less (the rebalancer's, a manual entry's) is written in WAL even into an
    empty ledger: no switch for a few rows."""
    from taxreport.importers.canonical_csv import parse_canonical_csv

    db = tmp_path / "small.sqlite3"
    with Ledger(f"sqlite:///{db}") as led:
        batch = parse_canonical_csv("trades.csv", account="kraken:main")
        led.append(batch.events, actor="importer:csv", reason="import csv trades.csv", origins=batch.origins)
    assert modes == [(False, "wal", 2)]


KILLED = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import taxreport.ledger.store as store
    from taxreport.importers.fast_csv import encoded_stream, write_file
    from taxreport.ledger import Ledger

    db, csv, marker = sys.argv[1:4]
    store.CHUNK = 200            # chunks inserted as the file is read
    store.WRITE_CACHE_KIB = 128  # a small page cache: pages spill into the database file before the commit

    class Pausing:
        # the import's own stream (a forked child reads and hashes the file), paused for good after 40 chunks
        def __init__(self, inner):
            self.inner, self.n = inner, 0
        def __iter__(self):
            return self
        def chain_from(self, *args):
            self.inner.chain_from(*args)
        def __next__(self):
            if self.n == 40:
                Path(marker).write_text("paused")
                time.sleep(600)
            self.n += 1
            return next(self.inner)
        def close(self):
            self.inner.close()

    led = Ledger(f"sqlite:///{db}")
    write_file(led, csv, account=None, actor="importer:csv", reason=f"import csv {csv}",
               chunks=Pausing(encoded_stream(csv, split=True)))
""")


def _trades_csv(path: Path, rows: int) -> None:
    lines = ["timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id"]
    for i in range(rows):
        day, second = divmod(i, 86400)
        stamp = f"2023-{1 + day // 28:02d}-{1 + day % 28:02d}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"
        side = "buy" if i % 3 else "sell"
        lines.append(f"{stamp},kraken:main,{side},BTC,USD,0.{i % 997 + 1:04d},{20000 + i % 5000}.5,0.25,USD,k-{i}")
    path.write_text("\n".join(lines) + "\n")


def test_an_import_killed_midway_leaves_an_empty_ledger_that_verifies_and_imports_again(tmp_path):
    """A subprocess runs the import's own write (``fast_csv.write_file``, a forked reader, chunks of 200, a 128 KiB
    page cache) into a new ledger and is killed with SIGKILL after 40 chunks (8,000 rows inserted, pages spilled into
    the file). Left behind: the file in DELETE mode with a hot journal. A read-only open refuses it (never read
    ``immutable``); ``ledger verify`` (whose open can write, so SQLite rolls the journal back: "If the file does have
    a hot journal, then the journal is rolled back before the file is read.") says OK, 0 events; the file is in WAL
    again, no journal left; the same import then writes all 12,000 rows and verifies."""
    db, csv, marker = tmp_path / "killed.sqlite3", tmp_path / "trades.csv", tmp_path / "paused"
    _trades_csv(csv, 12_000)
    Ledger(f"sqlite:///{db}").close()
    size_before = db.stat().st_size
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(db), str(csv), str(marker)], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "the import never reached its pause"
            time.sleep(0.05)
        journal = db.with_name(db.name + "-journal")
        assert journal.stat().st_size > 0  # the write is under way, in a rollback journal
        assert not db.with_name(db.name + "-wal").exists()
        assert db.stat().st_size > size_before + 100 * 4096  # pages spilled into the file itself
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the import and its forked reader (its own session)
        proc.wait()
    assert journal.stat().st_size > 0  # hot

    with pytest.raises(HotJournal):
        connect_read_only(str(db), timeout=1)
    with pytest.MonkeyPatch.context() as mp:  # as in a folder this process cannot write: opened read-only, refused
        mp.setattr(store, "_read_only_file", lambda path: True)
        with pytest.raises(LedgerError, match=r"killed\.sqlite3: its rollback journal killed\.sqlite3-journal holds a "
                                              "write that is under way or did not finish"):
            Ledger(f"sqlite:///{db}", readonly=None).count()
    assert journal.stat().st_size > 0  # (still there: nothing read-only rolls it back)

    r = CliRunner().invoke(root, ["--db", str(db), "ledger", "verify"])
    assert r.exit_code == 0, r.output
    assert r.output == f"ledger OK: 0 events, chain head {GENESIS}\n"
    assert _file_state(db) == ("wal", 2, 0, (0, GENESIS))
    assert not journal.exists()

    r = _import(db, str(csv))
    assert r.exit_code == 0, r.output
    assert r.output == f"{csv}: 12000 rows, 12000 added, 0 duplicates (already in the ledger or earlier in the file)\n"
    r = CliRunner().invoke(root, ["--db", str(db), "ledger", "verify"])
    assert r.exit_code == 0 and r.output.startswith("ledger OK: 12000 events"), r.output
    assert _file_state(db)[:3] == ("wal", 2, 12000)


def test_the_writing_connection_is_left_as_it_was(modes, tmp_path):
    """The pooled connection that wrote a stream into an empty ledger is back in WAL with its own synchronous (FULL)
    and page cache, for whatever this process does next with it; the rows are the golden ones."""
    from taxreport.importers.canonical_csv import iter_canonical_csv

    db = tmp_path / "pooled.sqlite3"
    with Ledger(f"sqlite:///{db}") as led:
        with led.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            before = (raw.execute("PRAGMA cache_size").fetchone()[0], raw.execute("PRAGMA synchronous").fetchone()[0])
        result = led.append_stream(iter_canonical_csv("trades.csv", account="kraken:main"), actor="importer:csv",
                                   reason="import csv trades.csv")
        assert (result.added_count, result.duplicates) == (14, 0)
        with led.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert (raw.execute("PRAGMA cache_size").fetchone()[0],
                    raw.execute("PRAGMA synchronous").fetchone()[0]) == before == (-2000, 2)
    assert modes == [(True, "delete", 3)]
    assert _rows(db) == GOLDEN["rows"][:14]
