"""The verified read with the chain hashed by a child process (:mod:`taxreport.ledger.verify_worker`, issue 14)
answers exactly as the walk in one process: the same events (types, Decimal texts, time zones) for seeded ledgers
of every kind, the same one-line reason naming the same first bad row for every tamper (edited payload or column,
deleted row or tail, reordered or inserted row, wrong head), with chunks of every size; and when the child fails
(cannot start, dies, answers garbage) the reader walks the chain itself and still answers the same."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import text

from taxreport.errors import LedgerError
from taxreport.ledger import Ledger, store, verify_worker
from taxreport.ledger.chain import WALK_COLUMNS, row_hasher, verify_rows
from tests.test_read_path import TAMPERS, random_events, tamper_with, three_appends


@pytest.fixture(params=["file", "pipe"])
def child(request, monkeypatch):
    """Every verified read through the child (whatever the ledger's size), counting the verdicts it gave; a SQLite
    file read by the child itself ("file") or sent through the pipe ("pipe", as a PostgreSQL ledger is)."""
    monkeypatch.setattr(verify_worker, "MIN_ROWS", 0)
    monkeypatch.setattr(store, "CHILD_SHARE", 1.0)  # the child walks every row (its share: tests/test_walk_tail_share.py)
    if request.param == "pipe":
        monkeypatch.setattr(store, "_sqlite_file", lambda conn: None)
    verdicts: list[int] = []
    original = verify_worker.ChainWorker.verdict

    def verdict(self):  # noqa: ANN001, ANN202
        walk = original(self)
        verdicts.append(walk.count)
        return walk

    monkeypatch.setattr(verify_worker.ChainWorker, "verdict", verdict)
    return verdicts


def _in_process(led: Ledger, monkeypatch) -> tuple:
    with monkeypatch.context() as m:
        m.setattr(verify_worker, "MIN_ROWS", 1 << 62)
        return led.verified_events()


def _rows(led: Ledger) -> list[tuple]:
    with led.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT {', '.join(WALK_COLUMNS)} FROM events ORDER BY seq"))]


def _same_fields(got: list, want: list) -> None:
    assert [type(e) for e in got] == [type(e) for e in want]
    for a_ev, b_ev in zip(got, want):
        for name in a_ev.__dataclass_fields__:
            a, b = getattr(a_ev, name), getattr(b_ev, name)
            assert type(a) is type(b) and a == b and str(a) == str(b), (name, a, b)
            if hasattr(a, "tzinfo"):
                assert a.tzinfo is b.tzinfo or a.utcoffset() == b.utcoffset(), (name, a, b)


@pytest.mark.parametrize("chunk", [1, 7, 5000])
@pytest.mark.parametrize("seed", range(3))
def test_the_child_walk_reads_the_same_events_as_the_walk_in_one_process(any_ledger, child, monkeypatch, seed,
                                                                         chunk):
    events = random_events(seed, 50)
    any_ledger.append(events[:20], actor="importer:test", reason="one")
    any_ledger.append(events[20:21], actor="manual:me", reason="two ✓")
    any_ledger.append(events[21:], actor="rebalancer:bot", reason="three")
    monkeypatch.setattr(store, "CHUNK", chunk)
    result, read = any_ledger.verified_events()
    assert child == [50]  # the child walked every row
    here, reference = _in_process(any_ledger, monkeypatch)
    assert result == here == any_ledger.verify() and result.ok and result.rows == 50
    assert read == reference == events
    _same_fields(read, reference)


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
@pytest.mark.parametrize("seed", range(3))
def test_the_child_walk_refuses_every_tamper_with_the_reference_reason(tmp_path, child, monkeypatch, tamper, seed):
    rng = random.Random(seed)
    events = random_events(seed, 30)
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        three_appends(led, events)
        tamper_with(led, tamper, rng.randint(2, 28))
        reference = verify_rows([dict(zip(WALK_COLUMNS, r)) for r in _rows(led)], *led.head())
        assert not reference.ok
        for chunk in (1, 4, 5000):
            monkeypatch.setattr(store, "CHUNK", chunk)
            child.clear()
            assert led.verified_events() == (reference, [])
            assert len(child) == 1
        assert _in_process(led, monkeypatch) == (reference, [])


def test_an_unverified_payload_that_breaks_the_decoder_is_only_a_bad_row(tmp_path, child, monkeypatch):
    """The reader decodes a chunk before the child's verdict on it: whatever a tampered payload makes the decoder
    raise (here a JSON nesting too deep for it), the answer is the bad row, never an exception."""
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        led.append(random_events(4, 12), actor="importer:test", reason="x")
        with led.engine.begin() as conn:
            conn.execute(text("UPDATE events SET payload = :p WHERE seq = 6"), {"p": "[" * 100_000 + "]" * 100_000})
        reference = verify_rows([dict(zip(WALK_COLUMNS, r)) for r in _rows(led)], *led.head())
        for chunk in (1, 5000):
            monkeypatch.setattr(store, "CHUNK", chunk)
            assert led.verified_events() == (reference, [])
        assert (reference.first_bad_seq, reference.problem) == (6, "row 6 was edited: its content does not match "
                                                                   "its hash")


def test_a_row_that_verifies_but_does_not_decode_is_named_through_the_child(tmp_path, child):
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        led.append(random_events(2, 3), actor="importer:test", reason="x")
        prev = _rows(led)[-1][-1]
        payload = '{"kind":"future","source":"x","time":"2024-01-01T00:00:00.000000Z"}'
        at = "2024-01-01T00:00:00.000000Z"
        digest = row_hasher("importer:test", "x", at)(prev, 4, "future:x:1", "future", at, payload)
        with led.engine.begin() as conn:
            conn.execute(text("INSERT INTO events (seq, natural_key, kind, time, accounts, assets, order_ref, payload, "
                              "content_hash, actor, reason, recorded_at, prev_hash, hash) VALUES (4, 'future:x:1', "
                              "'future', :t, ',', ',', NULL, :p, 'c', 'importer:test', 'x', :t, :prev, :h)"),
                         {"t": at, "p": payload, "prev": prev, "h": digest})
            conn.execute(text("UPDATE ledger_head SET seq = 4, hash = :h"), {"h": digest})
        with pytest.raises(LedgerError, match=r"row 4 verifies but its event cannot be read \(kind: unknown event "
                                              r"kind 'future'\)"):
            led.verified_events()
        assert child == [4]


BROKEN_CHILDREN = {
    "cannot start": None,
    "exits at once": "import sys; sys.exit(3)",
    "answers garbage": "import sys; sys.stdin.buffer.read(); sys.stdout.buffer.write(b'\\x00\\x00\\x00\\x02zz')",
    "says all is well too early": ("import sys, marshal; sys.stdout.buffer.write(len(m := marshal.dumps((0, '0' * 64, "
                                   "None))).to_bytes(4, 'big') + m); sys.stdout.buffer.flush(); sys.stdin.buffer.read()"),
    "never answers a bad row": ("import sys, marshal; sys.stdin.buffer.read(); m = marshal.dumps((10**6, 'f' * 64, "
                                "None)); sys.stdout.buffer.write(len(m).to_bytes(4, 'big') + m)"),
}


@pytest.mark.parametrize("broken", sorted(BROKEN_CHILDREN))
@pytest.mark.parametrize("tampered", [False, True])
@pytest.mark.parametrize("mode", ["file", "pipe"])
def test_a_failing_child_makes_the_reader_walk_the_chain_itself(tmp_path, monkeypatch, broken, tampered, mode):
    monkeypatch.setattr(verify_worker, "MIN_ROWS", 0)
    if mode == "pipe":
        monkeypatch.setattr(store, "_sqlite_file", lambda conn: None)
    boot = BROKEN_CHILDREN[broken]
    if boot is None:
        monkeypatch.setattr(verify_worker.sys, "executable", str(tmp_path / "no-such-python"))
    else:
        monkeypatch.setattr(verify_worker, "_BOOT", boot)
    failures: list[str] = []
    original = store._walk_here

    def walk_here(*args):  # noqa: ANN002, ANN202
        failures.append(broken)
        return original(*args)

    monkeypatch.setattr(store, "_walk_here", walk_here)
    monkeypatch.setattr(store, "CHUNK", 4)
    events = random_events(5, 20)
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        led.append(events, actor="importer:test", reason="x")
        if tampered:
            with led.engine.begin() as conn:
                conn.execute(text("UPDATE events SET natural_key = natural_key || 'x' WHERE seq = 9"))
        reference = verify_rows([dict(zip(WALK_COLUMNS, r)) for r in _rows(led)], *led.head())
        result, read = led.verified_events()
    assert result == reference and result.ok is not tampered
    assert read == ([] if tampered else events)
    assert failures == [broken]  # the reader did walk it itself


def test_a_large_ledger_is_read_through_the_child_by_default_and_a_small_one_is_not(tmp_path, monkeypatch):
    calls: list[int] = []
    original = verify_worker.ChainWorker.verdict
    monkeypatch.setattr(verify_worker.ChainWorker, "verdict", lambda self: calls.append(1) or original(self))
    monkeypatch.setattr(verify_worker, "MIN_ROWS", 30)
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        led.append(random_events(6, 29), actor="importer:test", reason="x")
        assert led.verified_events()[0].ok and calls == []
        led.append(random_events(6, 30)[29:], actor="importer:test", reason="y")
        assert led.verified_events()[0].ok and calls == [1]
