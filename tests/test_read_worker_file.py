"""The verified read of a SQLite ledger file with the child reading the file itself (issue 14,
:mod:`taxreport.ledger.verify_worker`): the reader fetches only ``seq, payload`` in its transaction, the child walks
rows ``1..head`` in its own, and the reader uses its rows only if the child's walk verifies, ends at the reader's
head and saw the same ``(seq, payload)``. Here: a write or an edit made between the two reads (after the reader's
snapshot, before the child's) never changes the answer, which is always that of a walk over the reader's snapshot; a
row appended meanwhile is not walked by the child; a child that cannot open the file, reads another file or lies
makes the reader walk the chain itself; PostgreSQL (and an in-memory SQLite database) still send the rows through
the pipe, and no URL or password reaches a child."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import text

from taxreport.ledger import Ledger, store, verify_worker
from taxreport.ledger.chain import WALK_COLUMNS, row_hash, verify_rows
from tests.test_read_path import random_events, three_appends


@pytest.fixture
def spy(monkeypatch):
    """Every read through a child; records how each child was started (its ``database``), each verdict's row
    count, and each walk the reader made itself (a fallback)."""
    monkeypatch.setattr(verify_worker, "MIN_ROWS", 0)
    monkeypatch.setattr(store, "CHILD_SHARE", 1.0)  # the child walks every row (its share: tests/test_walk_tail_share.py)
    record: dict[str, list[Any]] = {"started": [], "verdicts": [], "here": [], "argv": []}
    init, verdict, here, popen = (verify_worker.ChainWorker.__init__, verify_worker.ChainWorker.verdict,
                                  store._walk_here, verify_worker.subprocess.Popen)

    def spy_init(self, **kwargs):  # noqa: ANN001, ANN003, ANN202
        record["started"].append(kwargs.get("database"))
        init(self, **kwargs)

    def spy_verdict(self):  # noqa: ANN001, ANN202
        try:
            walk = verdict(self)
        except verify_worker.WorkerFailed as exc:
            record["verdicts"].append(str(exc))
            raise
        record["verdicts"].append(walk.count)
        return walk

    def spy_here(*args):  # noqa: ANN002, ANN202
        record["here"].append(args[1])
        return here(*args)

    def spy_popen(args, **kwargs):  # noqa: ANN001, ANN003, ANN202
        record["argv"].append((list(args), kwargs.get("env")))
        return popen(args, **kwargs)

    monkeypatch.setattr(verify_worker.ChainWorker, "__init__", spy_init)
    monkeypatch.setattr(verify_worker.ChainWorker, "verdict", spy_verdict)
    monkeypatch.setattr(store, "_walk_here", spy_here)
    monkeypatch.setattr(verify_worker.subprocess, "Popen", spy_popen)
    return record


DIFFERENT = "the rows the child verified are not the rows read (written meanwhile)"


def _between_reads(monkeypatch, action: Callable[[], None]) -> None:
    """Run ``action`` once, after the reader's snapshot was taken (its read transaction read the head) and before
    the child opens the file: a write by someone else between the two reads."""
    init = verify_worker.ChainWorker.__init__
    done: list[bool] = []

    def late_init(self, **kwargs):  # noqa: ANN001, ANN003, ANN202
        if not done:
            done.append(True)
            action()
        init(self, **kwargs)

    monkeypatch.setattr(verify_worker.ChainWorker, "__init__", late_init)


def _sql(path: Path, *statements: str, params: tuple = ()) -> None:
    """Statements run by another connection (someone editing the file behind the ledger's back)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for sql in statements:
            conn.execute(sql, params if "?" in sql else ())
        conn.execute("COMMIT")
    finally:
        conn.close()


def _rows(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT {', '.join(WALK_COLUMNS)} FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()


def _reference(path: Path):  # noqa: ANN202
    conn = sqlite3.connect(path)
    try:
        head = conn.execute("SELECT seq, hash FROM ledger_head WHERE id = 1").fetchone()
    finally:
        conn.close()
    return verify_rows([dict(zip(WALK_COLUMNS, r)) for r in _rows(path)], *head)


def _rewrite_with_hashes(path: Path, seq: int, payload_suffix: str) -> None:
    """Change row ``seq``'s payload and recompute every hash from it on, and the head: a chain that verifies,
    with other content (what only someone rewriting the file could make)."""
    rows = [dict(zip(WALK_COLUMNS, r)) for r in _rows(path)]
    prev = rows[seq - 2]["hash"] if seq > 1 else "0" * 64
    statements = []
    for row in rows[seq - 1:]:
        if row["seq"] == seq:
            row["payload"] = row["payload"] + payload_suffix
        row["prev_hash"] = prev
        row["hash"] = prev = row_hash(prev, row)
        statements.append((row["payload"], row["prev_hash"], row["hash"], row["seq"]))
    conn = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("UPDATE events SET payload = ?, prev_hash = ?, hash = ? WHERE seq = ?", statements)
        conn.execute("UPDATE ledger_head SET seq = ?, hash = ? WHERE id = 1", (rows[-1]["seq"], prev))
        conn.execute("COMMIT")
    finally:
        conn.close()


@pytest.fixture
def ledger_file(tmp_path):
    """A 30-row ledger file written in three appends, and its events."""
    path = tmp_path / "l.sqlite3"
    events = random_events(11, 30)
    with Ledger(f"sqlite:///{path}") as led:
        three_appends(led, events)
    return path, events


@pytest.mark.parametrize("chunk", [1, 4, 5000])
def test_a_good_ledger_file_is_read_with_the_child_reading_the_file(ledger_file, spy, monkeypatch, chunk):
    path, events = ledger_file
    monkeypatch.setattr(store, "CHUNK", chunk)
    with Ledger(f"sqlite:///{path}", readonly=True) as led:
        result, read = led.verified_events()
    assert result.ok and result.rows == 30 and read == events
    assert spy["started"] == [str(path.resolve())] and spy["verdicts"] == [30] and spy["here"] == []


def test_a_payload_tampered_in_the_readers_snapshot_and_restored_before_the_child_reads_is_refused(
        ledger_file, spy, monkeypatch):
    """The reader's rows hold an edited payload; the edit is undone before the child reads: the child's walk
    verifies and ends at the same head, but over other bytes than the reader decoded. Without comparing them the
    reader would return the edited event as verified; the answer must be its own snapshot's: row 7 edited."""
    path, events = ledger_file
    original = _rows(path)[6][4]
    _sql(path, "UPDATE events SET payload = ? WHERE seq = 7", params=(original + " ",))
    reference = _reference(path)
    assert (reference.ok, reference.first_bad_seq, reference.problem) == (
        False, 7, "row 7 was edited: its content does not match its hash")
    _between_reads(monkeypatch, lambda: _sql(path, "UPDATE events SET payload = ? WHERE seq = 7", params=(original,)))
    with Ledger(f"sqlite:///{path}", readonly=True) as led:
        assert led.verified_events() == (reference, [])
    assert spy["verdicts"] == [DIFFERENT]  # the child verified the restored file: not the bytes read ...
    assert spy["here"] == [30]  # ... and the reader walked its own snapshot
    assert _reference(path).ok


def test_a_chain_rewritten_between_the_two_reads_is_caught_and_the_readers_snapshot_answers(
        ledger_file, spy, monkeypatch):
    """Row 5 rewritten, every later hash and the head recomputed, after the reader's snapshot: the child's chain
    verifies but ends at another head; the answer is the reader's snapshot's (all good, the original events)."""
    path, events = ledger_file
    _between_reads(monkeypatch, lambda: _rewrite_with_hashes(path, 5, " "))
    with Ledger(f"sqlite:///{path}", readonly=True) as led:
        result, read = led.verified_events()
    assert result.ok and result.rows == 30 and read == events
    assert spy["verdicts"] == [DIFFERENT] and spy["here"] == [30]
    after = _reference(path)
    assert after.ok and after.head_hash != result.head_hash  # the file did change, and still verifies


@pytest.mark.parametrize("statement", [
    "UPDATE events SET payload = payload || ' ' WHERE seq = 5",
    "UPDATE events SET actor = 'importer:other' WHERE seq = 12",
    "DELETE FROM events WHERE seq = 20",
])
def test_a_tamper_made_between_the_two_reads_does_not_refuse_the_readers_good_snapshot(
        ledger_file, spy, monkeypatch, statement):
    path, events = ledger_file
    _between_reads(monkeypatch, lambda: _sql(path, statement))
    with Ledger(f"sqlite:///{path}", readonly=True) as led:
        result, read = led.verified_events()
    assert result.ok and result.rows == 30 and read == events
    assert len(spy["verdicts"]) == 1 and spy["here"] == [30]  # the child's bad row sent the reader to its own walk
    assert not _reference(path).ok


def test_rows_appended_after_the_head_was_read_are_not_walked_by_the_child(ledger_file, spy, monkeypatch):
    path, events = ledger_file
    more = random_events(12, 40)[30:]
    writer = Ledger(f"sqlite:///{path}")
    _between_reads(monkeypatch, lambda: writer.append(more, actor="importer:later", reason="meanwhile"))
    with Ledger(f"sqlite:///{path}", readonly=True) as led:
        result, read = led.verified_events()
    writer.close()
    assert result.ok and result.rows == 30 and read == events
    assert spy["verdicts"] == [30] and spy["here"] == []  # the child walked rows 1..30 only, and it was trusted
    after = _reference(path)
    assert after.ok and after.rows == 40


@pytest.mark.parametrize("where", ["missing", "not a database", "empty database", "another ledger"])
def test_a_child_that_cannot_read_the_ledger_file_makes_the_reader_walk_it_itself(
        ledger_file, spy, monkeypatch, tmp_path, where):
    path, events = ledger_file
    other = tmp_path / "other.sqlite3"
    if where == "not a database":
        other.write_bytes(b"not a database at all" * 100)
    elif where == "empty database":
        sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    elif where == "another ledger":  # the same payloads in another chain: the walk verifies, to another head
        with Ledger(f"sqlite:///{other}") as led:
            led.append(events, actor="importer:other", reason="another ledger")
    monkeypatch.setattr(store, "_sqlite_file", lambda conn: str(other))
    with Ledger(f"sqlite:///{path}", readonly=True) as led:
        result, read = led.verified_events()
    assert result.ok and result.rows == 30 and read == events
    assert spy["started"] == [str(other)] and spy["here"] == [30]
    assert spy["verdicts"] == [30 if where == "another ledger" else "the verifying process stopped"]


LYING_CHILDREN = {  # each walks the real file, then answers something else
    "another digest": "v._answer(out, w, 'f' * 64)",
    "one row more": "w.count += 1; v._answer(out, w, d)",
    "one row fewer": "w.count -= 1; v._answer(out, w, d)",
    "a bad row that is not": ("w.bad = v.VerifyResult(False, 3, w.prev, 4, 'row 4 was edited: its content does not "
                              "match its hash'); v._answer(out, w, d)"),
    "a pipe's answer": "v._answer(out, w)",
}


@pytest.mark.parametrize("lie", sorted(LYING_CHILDREN))
def test_a_child_that_answers_for_other_rows_is_never_trusted(ledger_file, spy, monkeypatch, lie):
    path, events = ledger_file
    monkeypatch.setattr(verify_worker, "_BOOT", (
        "import sys; sys.path.insert(0, sys.argv[1]); from taxreport.ledger import verify_worker as v; "
        "out = sys.stdout.buffer; r = v._read_frame(sys.stdin.buffer); w, d = v.walk_file(r[1], r[2]); "
        + LYING_CHILDREN[lie]))
    with Ledger(f"sqlite:///{path}", readonly=True) as led:
        result, read = led.verified_events()
    assert result.ok and result.rows == 30 and read == events
    assert spy["here"] == [30]


@pytest.mark.parametrize("pending_log", [False, True])
def test_the_child_opens_a_file_it_cannot_open_read_only_as_the_reader_does(ledger_file, monkeypatch, pending_log):
    """A WAL ledger in a folder nobody may write has no ``-shm`` to share, so ``mode=ro`` cannot open it (simulated:
    the tests run as a user who may write anywhere); without pending write-ahead log content the child opens it
    ``immutable``, as the reader does (:func:`taxreport.ledger.store._sqlite_read_only_connect`), else it gives up."""
    path, events = ledger_file
    rows = _rows(path)
    real = sqlite3.connect
    uris: list[str] = []

    class Refused:
        def execute(self, *args: object) -> None:
            raise sqlite3.OperationalError("unable to open database file")

        def close(self) -> None:
            pass

    def connect(database: str, **kwargs: Any) -> Any:
        uris.append(database)
        return Refused() if "immutable" not in database else real(database, **kwargs)

    monkeypatch.setattr(verify_worker.sqlite3, "connect", connect)
    if pending_log:
        Path(f"{path}-wal").write_bytes(b"x")
        with pytest.raises(sqlite3.OperationalError):
            verify_worker._connect(str(path))
        assert len(uris) == 1
        return
    walk, digest = verify_worker.walk_file(str(path), 30)
    assert (walk.ok, walk.count, walk.prev) == (True, 30, rows[-1][-1])
    assert uris == [uris[0], uris[0] + "&immutable=1"] and uris[0].endswith("?mode=ro&readonly_shm=1")
    expected = verify_worker.RowsDigest()
    expected.update([r[4] for r in rows])
    assert digest == expected.hexdigest()


def test_an_in_memory_ledger_goes_through_the_pipe(spy, monkeypatch):
    with Ledger("sqlite://") as led:
        events = random_events(13, 25)
        led.append(events, actor="importer:test", reason="x")
        result, read = led.verified_events()
    assert result.ok and read == events
    assert spy["started"] == [None] and spy["verdicts"] == [25] and spy["here"] == []


def test_a_postgresql_ledger_goes_through_the_pipe_and_no_credentials_reach_the_child(pg_url, spy):
    from sqlalchemy.engine import make_url

    with Ledger(pg_url) as led:
        events = random_events(14, 25)
        led.append(events, actor="importer:test", reason="x")
        result, read = led.verified_events()
        with led.engine.begin() as conn:
            conn.execute(text("UPDATE events SET payload = payload || ' ' WHERE seq = 9"))
        bad = led.verified_events()
    assert result.ok and read == events
    assert bad[1] == [] and (bad[0].first_bad_seq, bad[0].problem) == (9, "row 9 was edited: its content does not "
                                                                          "match its hash")
    assert spy["started"] == [None, None] and spy["verdicts"] == [25, 8] and spy["here"] == []
    url = make_url(pg_url)
    secrets = [s for s in (pg_url, url.password, url.database) if s]
    for argv, env in spy["argv"]:
        assert env is None and not [s for s in secrets for a in argv if s in a]


def test_the_digest_names_the_payloads_exactly_however_they_are_chunked():
    def digest(*chunks: list[str]) -> str:
        d = verify_worker.RowsDigest()
        for chunk in chunks:
            d.update(chunk)
        return d.hexdigest()

    whole = digest(["ab", "c", "é✓𝄞", ""])
    assert whole == digest(["ab"], ["c", "é✓𝄞"], [""]) == digest([], ["ab", "c", "é✓𝄞", ""])
    assert whole != digest(["a", "bc", "é✓𝄞", ""])  # the same text, split otherwise
    assert whole != digest(["ab", "c", "é✓𝄞"])  # one payload fewer (an empty one)
    assert whole != digest(["ab", "c", "é✓𝄞 ", ""])
    with pytest.raises(TypeError):
        verify_worker.RowsDigest().update([b"bytes"])  # type: ignore[list-item]


def test_a_reader_that_dropped_its_locks_on_the_wal_index_is_not_killed_by_the_child(ledger_file, spy):
    """A POSIX lock is released when its process closes any descriptor of the file: a reader that has opened and
    closed the ``-shm`` file (the derived cache's state witness reads its header) holds no lock on it; a child that
    then found nobody holding the file would reset it under the reader's mapping (``SIGBUS``, the test run dies).
    The child opens it ``readonly_shm`` and reads all the same."""
    path, events = ledger_file
    with Ledger(f"sqlite:///{path}") as led:
        assert led.head()[0] == 30  # connected: the -wal and -shm files made, the wal-index mapped
        for _ in range(2):
            with open(f"{path}-shm", "rb") as fh:
                fh.read(48)
            result, read = led.verified_events()
            assert result.ok and read == events
    assert spy["here"] == [] and spy["verdicts"] == [30, 30]
