"""The verified read of a ledger file split between the two processes (issue 14, round 6: taxreport/ledger/store.py
``_walk_reading_file``, ``CHILD_SHARE``): the child walks rows ``1..m``, the reader walks ``m+1..head`` itself in
its own transaction from the ``prev_hash`` row ``m+1`` holds, and the two are joined only if the child's walk ends
in that very hash. The answer must be the reference's (:func:`taxreport.ledger.chain.verify_rows` over every row)
whatever the share and wherever a row is bad: a tamper on either side of the split, at the split itself, and a
chain cut and re-hashed at the split (each side verifies alone, only the link between them is broken)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from taxreport.ledger import Ledger, store, verify_worker
from taxreport.ledger.chain import GENESIS, WALK_COLUMNS, row_hash, verify_rows
from tests.test_read_path import TAMPERS, _rows, random_events, tamper_with, three_appends


@pytest.fixture
def walks(monkeypatch):
    """Every read through the child (whatever the size); records each verdict and each fallback walk."""
    monkeypatch.setattr(verify_worker, "MIN_ROWS", 0)
    record: dict[str, list[object]] = {"verdicts": [], "here": []}
    verdict, here = verify_worker.ChainWorker.verdict, store._walk_here

    def spy_verdict(self):  # noqa: ANN001, ANN202
        walk = verdict(self)
        record["verdicts"].append(walk.count)
        return walk

    def spy_here(*args):  # noqa: ANN002, ANN202
        record["here"].append(args[1])
        return here(*args)

    monkeypatch.setattr(verify_worker.ChainWorker, "verdict", spy_verdict)
    monkeypatch.setattr(store, "_walk_here", spy_here)
    return record


@pytest.mark.parametrize("share", [0.1, 0.5, 0.8, 0.97])
def test_a_good_ledger_is_read_in_two_shares_without_a_fallback(tmp_path, monkeypatch, walks, share):
    monkeypatch.setattr(store, "CHILD_SHARE", share)
    events = random_events(7, 30)
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        three_appends(led, events)
        result, read = led.verified_events()
        assert result == verify_rows([dict(zip(WALK_COLUMNS, r)) for r in _rows(led)], *led.head())
        assert result.ok and result.rows == 30 and read == events
    assert walks["verdicts"] == [int(30 * share)] and walks["here"] == []  # the child walked its share only


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
@pytest.mark.parametrize("row", [2, 11, 14, 15, 16, 17, 28])
def test_a_tamper_on_either_side_of_the_split_is_refused_as_the_reference_refuses_it(tmp_path, monkeypatch, walks,
                                                                                     tamper, row):
    monkeypatch.setattr(store, "CHILD_SHARE", 0.5)  # 30 rows: the child walks 1..15, the reader 16..30
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        three_appends(led, random_events(row, 30))
        tamper_with(led, tamper, row)
        reference = verify_rows([dict(zip(WALK_COLUMNS, r)) for r in _rows(led)], *led.head())
        assert not reference.ok
        result, read = led.verified_events()
        assert (result, read) == (reference, [])


def _rehash_from(led: Ledger, first: int, prev: str) -> None:
    """Hash rows ``first..`` again as a chain starting from ``prev`` (and move the head): what someone rewriting the
    tail of the ledger would do."""
    rows = _rows(led)[first - 1:]
    with led.engine.begin() as conn:
        for row in rows:
            values = dict(zip(WALK_COLUMNS, row))
            digest = row_hash(prev, values)
            conn.execute(text("UPDATE events SET prev_hash = :p, hash = :h WHERE seq = :s"),
                         {"p": prev, "h": digest, "s": values["seq"]})
            prev = digest
        conn.execute(text("UPDATE ledger_head SET hash = :h WHERE id = 1"), {"h": prev})


@pytest.mark.parametrize("cut", [15, 16, 17])
def test_a_chain_cut_at_the_split_is_refused_even_when_each_share_verifies_alone(tmp_path, monkeypatch, walks, cut):
    """Rows ``cut..30`` re-hashed as a chain of their own (from the genesis hash): each side's walk verifies on its
    own when the cut is at the split (row 16), and only the link at the split says the ledger was rewritten."""
    monkeypatch.setattr(store, "CHILD_SHARE", 0.5)
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        three_appends(led, random_events(3, 30))
        _rehash_from(led, cut, GENESIS)
        reference = verify_rows([dict(zip(WALK_COLUMNS, r)) for r in _rows(led)], *led.head())
        assert (reference.ok, reference.first_bad_seq) == (False, cut)
        assert reference.problem == f"row {cut} does not link to row {cut - 1}: rows deleted or reordered"
        result, read = led.verified_events()
        assert (result, read) == (reference, [])
        assert walks["here"] == [30]  # the split walk was not trusted: the reader walked its snapshot itself
