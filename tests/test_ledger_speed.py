"""The ledger's fast paths (issue 14) give exactly what the reference code gives: the direct canonical JSON
writer, the one-pass row hash, the chunked bulk append (same duplicates, conflicts, reversals and chain
as one big batch), the trusted decode and the chain-head cache of decoded events (never stale)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from taxreport import progress
from taxreport.errors import LedgerError
from taxreport.ledger import Ledger, store
from taxreport.ledger.chain import GENESIS, row_hash, row_hasher
from taxreport.model import D
from taxreport.model.codec import event_from_payload, payload_json, trusted_event
from taxreport.model.events import (
    Deposit,
    Income,
    Record,
    Reversal,
    Trade,
    Transfer,
    Withdrawal,
    canonical_json,
)

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def every_kind() -> list:
    return [
        Trade(time=T0, source="csv", external_id="1", account="a:b", side="buy", base="btc", quote="USD",
              quantity=D("0.29619967"), price=D("35460.00"), fee=D("10.50"), fee_asset="usd",
              note='quote " backslash \\ newline \n control \x01 é ✓'),
        Trade(time=T0 + timedelta(microseconds=7), source="okx", account="okx:main", side="sell", base="ETH",
              quote="BTC", quantity=D("1E-18"), price=D("0.05"), fee=D("-0.001"), fee_asset="BNB", order_id="o-1"),
        Transfer(time=T0, source="s", from_account="a", to_account="b", asset="eth", quantity=D("1E+3"),
                 fee=D("0E-8")),
        Deposit(time=T0, source="s", account="a", asset="BTC", quantity=D("1"), cost=D("5"), cost_currency="usd",
                acquired_at=datetime(2020, 1, 1, 5, tzinfo=timezone(timedelta(hours=2)))),
        Withdrawal(time=T0, source="s", account="a", asset="BTC", quantity=D("1"), purpose="gift", value=D("3"),
                   value_currency="GBP"),
        Income(time=T0, source="s", account="a", asset="BTC", quantity=D("1"), income_type="staking"),
        Reversal(time=T0, source="s", target_key="trade:x:1", reason="wrong ✓"),
        Record(time=T0, source="s", record_type="a.b", account="x",
               data={"x": D("1.50"), "t": T0, "l": [1, "a", None, True], "n": {"z": "é"}}),
    ]


def test_direct_json_writer_equals_the_canonical_payload_for_every_kind():
    for ev in every_kind():
        assert payload_json(ev) == canonical_json(ev.to_payload())


def test_trusted_decode_equals_the_validating_decode_for_every_kind():
    for ev in every_kind():
        payload = json.loads(payload_json(ev))
        assert trusted_event(payload) == event_from_payload(payload) == ev
        assert type(trusted_event(payload)) is type(ev)


def test_trusted_decode_falls_back_to_validation_for_a_payload_it_does_not_know():
    payload = json.loads(payload_json(every_kind()[0]))
    del payload["note"]  # an older payload without a field: rebuilt (and checked) by the constructor
    assert trusted_event(payload).note == ""
    payload["quantity"] = "-1"
    payload["extra"] = 1  # not the shape the ledger writes: validated, and refused
    with pytest.raises(ValueError, match="quantity: must be greater than zero"):
        trusted_event(payload)


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text(), st.text(), st.text(), st.text(), st.integers(1, 10**12), st.text(), st.text())
def test_one_pass_row_hash_equals_the_reference_definition(key, kind, time, payload, actor, seq, reason, at):
    row = {"seq": seq, "natural_key": key, "kind": kind, "time": time, "payload": payload, "actor": actor,
           "reason": reason, "recorded_at": at}
    assert row_hasher(actor, reason, at)(GENESIS, seq, key, kind, time, payload) == row_hash(GENESIS, row)


def trades(n: int, start: int = 0, **kw) -> list[Trade]:
    return [Trade(time=T0 + timedelta(hours=i), source="test", external_id=str(i), account="okx:main",
                  side="buy", base="BTC", quote="USDT", quantity=D("0.1"), price=D(str(40000 + i)), **kw)
            for i in range(start, start + n)]


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(store, "CHUNK", 3)


def test_chunked_append_counts_duplicates_across_chunks_and_with_the_stored_rows(any_ledger, small_chunks):
    first = any_ledger.append(trades(4), actor="importer:test", reason="first")
    assert first.added == [1, 2, 3, 4]
    # stored duplicates (0..3), a duplicate of row 5 inside the batch three chunks later, new rows 4..7
    batch = trades(8) + trades(1, start=5)
    again = any_ledger.append(batch, actor="importer:test", reason="again")
    assert again.added == [5, 6, 7, 8] and again.duplicates == 5
    assert any_ledger.events() == trades(8)
    assert any_ledger.verify().ok and any_ledger.head()[0] == 8


def test_chunked_append_refuses_a_changed_duplicate_in_a_later_chunk_and_writes_nothing(any_ledger, small_chunks):
    any_ledger.append(trades(2), actor="importer:test", reason="first")
    changed = Trade(time=T0, source="test", external_id="3", account="okx:main", side="sell", base="BTC",
                    quote="USDT", quantity=D("9"), price=D("1"))
    batch = trades(8, start=2) + [changed]  # row 3 is written in the first chunk, then comes back changed
    with pytest.raises(LedgerError, match=r"f.csv:9: trade:test:3 is already in the ledger with different"):
        any_ledger.append(batch, actor="importer:test", reason="second", origins=[f"f.csv:{i}" for i in range(1, 10)])
    assert any_ledger.count() == 2 and any_ledger.head()[0] == 2 and any_ledger.verify().ok


def test_chunked_append_checks_reversals_against_later_chunks_and_stored_reversals(any_ledger, small_chunks):
    rev = Reversal(time=T0, source="manual", external_id="r9", target_key="trade:test:8", reason="typo")
    result = any_ledger.append([rev, *trades(9)], actor="manual:test", reason="r")  # target in chunk 3
    assert result.added == list(range(1, 11))
    again = Reversal(time=T0, source="manual", external_id="r9b", target_key="trade:test:8", reason="again")
    with pytest.raises(LedgerError, match="already reversed"):
        any_ledger.append([*trades(5, start=20), again], actor="manual:test", reason="r")
    assert any_ledger.count() == 10 and any_ledger.verify().ok


def test_a_bulk_append_is_one_transaction_and_the_chain_verifies(tmp_path, small_chunks):
    led = Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}")
    bad = trades(7) + [Reversal(time=T0, source="m", target_key="trade:nowhere:1", reason="x")]
    with pytest.raises(LedgerError, match="not in the ledger"):
        led.append(bad, actor="manual:t", reason="r")
    assert led.count() == 0 and led.head() == (0, GENESIS)
    led.append(trades(10), actor="importer:t", reason="r")
    with led.engine.connect() as conn:
        links = conn.execute(text("SELECT prev_hash, hash FROM events ORDER BY seq")).all()
    assert links[0][0] == GENESIS and all(links[i][0] == links[i - 1][1] for i in range(1, 10))
    assert led.verify().ok and led.head()[1] == links[-1][1]


def test_the_decoded_events_cache_is_invalidated_by_any_append_even_from_another_process(tmp_path):
    url = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    reader, writer = Ledger(url), Ledger(url)
    writer.append(trades(3), actor="importer:t", reason="r")
    first = reader.events()
    assert first == trades(3) and reader.events() == first  # second call: served by the cache
    first.clear()  # callers get their own list
    assert reader.events() == trades(3)
    writer.append(trades(2, start=3), actor="importer:t", reason="r")
    assert reader.events() == trades(5)
    # a row deleted behind the chain's back (the head still says 5) is never hidden by the cache
    with writer.engine.begin() as conn:
        conn.execute(text("DELETE FROM events WHERE seq = 5"))
    assert reader.events() == trades(4)
    assert not reader.verify().ok


class Recorder:
    def __init__(self) -> None:
        self.log: list[tuple] = []

    def start(self, label, total):
        self.log.append(("start", label, total))
        return self

    def advance(self, amount=1):
        self.log.append(("advance", amount))

    def finish(self, task):
        self.log.append(("finish",))


def test_long_ledger_work_reports_progress_through_the_installed_reporter(ledger, small_chunks, monkeypatch):
    monkeypatch.setattr(progress, "MIN_TOTAL", 5)
    rec = Recorder()
    with progress.reporting(rec):
        ledger.append(trades(7), actor="importer:t", reason="r")
        ledger.verify()
        ledger.events()
    assert rec.log[:5] == [("start", "Writing 7 events to the ledger", 7), ("advance", 3), ("advance", 3),
                           ("advance", 1), ("finish",)]
    assert ("start", "Verifying the ledger", 7) in rec.log and ("start", "Reading the ledger", 7) in rec.log
    assert sum(e[1] for e in rec.log if e[0] == "advance") == 21
    ledger.append(trades(2, start=7), actor="importer:t", reason="r")  # no reporter installed: silent
    with progress.reporting(rec):
        n = len(rec.log)
        ledger.append(trades(2, start=9), actor="importer:t", reason="r")  # below MIN_TOTAL: not shown
        assert len(rec.log) == n


def test_decimal_text_round_trips_exactly_through_the_fast_paths(ledger):
    odd = [Trade(time=T0, source="t", external_id=str(i), account="x", side="buy", base="ETH", quote="USDT",
                 quantity=Decimal(q), price=D("1")) for i, q in enumerate(["1E-18", "123456789012345678.9", "0.10"])]
    ledger.append(odd, actor="manual", reason="exactness")
    assert [e.quantity for e in ledger.events()] == [D("1E-18"), D("123456789012345678.9"), D("0.1")]


def test_verified_events_is_verify_and_events_in_one_pass(any_ledger, small_chunks):
    any_ledger.append(trades(8), actor="importer:t", reason="r")
    result, events = any_ledger.verified_events()
    assert result == any_ledger.verify() and result.ok and result.rows == 8
    assert events == trades(8) == any_ledger.events()
    with any_ledger.engine.begin() as conn:
        conn.execute(text("UPDATE events SET payload = replace(payload, '\"0.1\"', '\"0.2\"') WHERE seq = 5"))
    result, events = any_ledger.verified_events()
    assert not result.ok and result.first_bad_seq == 5 and "edited" in result.problem and events == []
    with any_ledger.engine.begin() as conn:
        conn.execute(text("UPDATE events SET payload = 'not json' WHERE seq = 2"))
    result, events = any_ledger.verified_events()
    assert not result.ok and result.first_bad_seq == 2 and events == []
