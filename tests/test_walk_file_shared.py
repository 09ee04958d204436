"""The child's walk of a ledger file (:func:`taxreport.ledger.verify_worker.walk_file`) reads each chunk with the
``actor``, ``reason`` and ``recorded_at`` of the row before it compared in SQLite, and fetches those three only for
a row where they differ (issue 14: a third of the child's fetch). Its verdict and digest must be exactly those of a
walk of every row's columns (:func:`taxreport.ledger.chain.verify_rows`, the reference): on good ledgers of several
appends, whatever the chunk size (a chunk starting, ending or changing append in its middle, and coming back to
the values of an earlier append), and on every tamper of tests/test_read_path.py."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import text

from taxreport.ledger import Ledger, verify_worker
from taxreport.ledger.chain import GENESIS, WALK_COLUMNS, ChainWalk, row_hash, verify_rows
from tests.test_read_path import TAMPERS, _head, _rows, random_events, tamper_with, three_appends


def _file_walk(path: Path, head: tuple[int, str], chunk: int, monkeypatch: pytest.MonkeyPatch
               ) -> tuple[object, str]:
    monkeypatch.setattr(verify_worker, "CHUNK", chunk)
    walk, digest = verify_worker.walk_file(str(path), head[0])
    return walk.result(*head), digest


def _reference(rows: list[tuple], head: tuple[int, str]) -> tuple[object, str]:
    """The reference verdict, and the digest of the rows it verified (all of them when it verifies; a bad walk's
    digest is not used by the reader)."""
    digest = verify_worker.RowsDigest()
    digest.update([r[4] for r in rows])
    return verify_rows([dict(zip(WALK_COLUMNS, r)) for r in rows], *head), digest.hexdigest()


def _rechained(led: Ledger, shared: list[tuple[str, str, str]]) -> None:
    """Give row ``i`` the actor, reason and time of recording ``shared[i % len(shared)]`` and hash the chain again
    (a well-formed ledger whose appends alternate, coming back to earlier values inside one chunk)."""
    rows = _rows(led)
    prev = GENESIS
    with led.engine.begin() as conn:
        for i, row in enumerate(rows):
            values = dict(zip(WALK_COLUMNS, row))
            values["actor"], values["reason"], values["recorded_at"] = shared[i % len(shared)]
            digest = row_hash(prev, values)
            conn.execute(text("UPDATE events SET actor = :a, reason = :r, recorded_at = :t, prev_hash = :p, "
                              "hash = :h WHERE seq = :s"),
                         {"a": values["actor"], "r": values["reason"], "t": values["recorded_at"], "p": prev,
                          "h": digest, "s": values["seq"]})
            prev = digest
        conn.execute(text("UPDATE ledger_head SET hash = :h WHERE id = 1"), {"h": prev})


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 5000])
def test_good_ledgers_of_several_appends_walk_as_the_reference(tmp_path, monkeypatch, chunk):
    path = tmp_path / "l.sqlite3"
    with Ledger(f"sqlite:///{path}") as led:
        three_appends(led, random_events(4, 30))
        head = _head(led)
        expected = _reference(_rows(led), head)
        assert expected[0].ok and expected[0].rows == 30
        assert _file_walk(path, head, chunk, monkeypatch) == expected


@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 5000])
@pytest.mark.parametrize("pattern", [
    [("a", "one", "t1"), ("b", "two", "t2")],  # every row changes append
    [("a", "one", "t1"), ("a", "one", "t1"), ("b", "two", "t2"), ("a", "one", "t1")],  # back to the first values
    [("a", "one", "t1"), ("a", "one", "t2")],  # only the time of recording changes
    [("a", "", "t1"), ("a", "", "t1"), ("a", "", "t1"), ("x", "", "t1")],  # only the actor changes
])
def test_appends_coming_back_to_earlier_values_walk_as_the_reference(tmp_path, monkeypatch, chunk, pattern):
    path = tmp_path / "l.sqlite3"
    with Ledger(f"sqlite:///{path}") as led:
        led.append(random_events(5, 17), actor="importer:test", reason="x")
        _rechained(led, pattern)
        head = _head(led)
        expected = _reference(_rows(led), head)
        assert expected[0].ok and expected[0].rows == 17  # a well-formed chain: the walk must accept it
        assert _file_walk(path, head, chunk, monkeypatch) == expected


@pytest.mark.parametrize("tamper", sorted(TAMPERS) + ["edit reason", "edit recorded_at"])
@pytest.mark.parametrize("seed", range(3))
def test_every_tamper_is_refused_as_the_reference_refuses_it(tmp_path, monkeypatch, tamper, seed):
    extra = {"edit reason": "UPDATE events SET reason = reason || 'x' WHERE seq = {n}",
             "edit recorded_at": "UPDATE events SET recorded_at = '2001-01-01T00:00:00.000000Z' WHERE seq = {n}"}
    rng = random.Random(seed)
    path = tmp_path / "l.sqlite3"
    with Ledger(f"sqlite:///{path}") as led:
        three_appends(led, random_events(seed, 30))
        n = rng.randint(2, 28)
        if tamper in extra:
            with led.engine.begin() as conn:
                conn.execute(text(extra[tamper].format(n=n)))
        else:
            tamper_with(led, tamper, n)
        head = _head(led)
        reference = verify_rows([dict(zip(WALK_COLUMNS, r)) for r in _rows(led)], *head)
        assert not reference.ok
        for chunk in (1, 3, 5000):
            assert _file_walk(path, head, chunk, monkeypatch)[0] == reference


def test_fast_shared_refuses_what_feed_would_walk_row_by_row():
    """:meth:`ChainWalk.fast_shared` accepts a chunk only when its hashes recompute with the values given; told the
    wrong shared values it accepts nothing and changes nothing (the caller then feeds the rows)."""
    from taxreport.ledger.chain import row_hasher

    hasher = row_hasher("importer:test", "x", "2024-01-01T00:00:00.000000Z")
    prevs, hashes, prev = [], [], GENESIS
    for seq in (1, 2, 3):
        prevs.append(prev)
        prev = hasher(prev, seq, f"k{seq}", "trade", "2024-01-01T00:00:00.000000Z", "{}")
        hashes.append(prev)
    columns = ((1, 2, 3), ("k1", "k2", "k3"), ("trade",) * 3, ("2024-01-01T00:00:00.000000Z",) * 3, ("{}",) * 3,
               tuple(prevs), tuple(hashes))
    walk = ChainWalk()
    assert not walk.fast_shared("importer:test", "y", "2024-01-01T00:00:00.000000Z", *columns)
    assert (walk.count, walk.prev, walk.ok) == (0, GENESIS, True)
    assert walk.fast_shared("importer:test", "x", "2024-01-01T00:00:00.000000Z", *columns)
    assert (walk.count, walk.prev) == (3, hashes[-1])
