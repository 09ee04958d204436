"""Ledger store: round trip, idempotency, all-or-nothing batches, tamper detection — on SQLite and
on a real PostgreSQL server (``any_ledger``)."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from taxreport.errors import LedgerError
from taxreport.model import D, Reversal, Trade

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def make_trades(n, **kw):
    return [Trade(time=T0 + timedelta(hours=i), source="test", external_id=str(i), account="okx:main",
                  side="buy" if i % 2 == 0 else "sell", base="BTC", quote="USDT", quantity=D("0.1"),
                  price=D(str(40000 + i)), fee=D("0.1"), fee_asset="USDT", **kw) for i in range(n)]


def test_round_trip_is_exact(any_ledger):
    trades = make_trades(3)
    result = any_ledger.append(trades, actor="importer:test", reason="unit test")
    assert result.added == [1, 2, 3] and result.duplicates == 0
    assert any_ledger.events() == trades
    rows = list(any_ledger.rows())
    assert [r.actor for r in rows] == ["importer:test"] * 3
    assert {r.reason for r in rows} == {"unit test"}


def test_decimal_amounts_are_stored_exactly(any_ledger):
    # 0.1 and 0.2 as binary floats would come back as 0.1000000000000000055…; stored text is exact.
    t1 = Trade(time=T0, source="t", external_id="a", account="x", side="buy", base="ETH", quote="USDT",
               quantity=D("0.1"), price=D("0.2"), fee=D("0.000000000000000001"), fee_asset="ETH")
    any_ledger.append([t1], actor="manual", reason="exactness")
    (back,) = any_ledger.events()
    assert back.quantity + back.price == D("0.3")
    assert back.fee == D("1E-18")


def test_rewriting_the_same_batch_adds_nothing(any_ledger):
    trades = make_trades(5)
    any_ledger.append(trades, actor="importer:test", reason="first")
    again = any_ledger.append(trades + make_trades(6)[5:], actor="importer:test", reason="again")
    assert again.duplicates == 5 and again.added == [6]
    assert any_ledger.count() == 6


def test_a_batch_with_one_conflicting_row_writes_nothing(any_ledger):
    any_ledger.append(make_trades(2), actor="importer:test", reason="first")
    changed = make_trades(4)
    changed[1] = Trade(time=T0, source="test", external_id="1", account="okx:main", side="sell", base="BTC",
                       quote="USDT", quantity=D("9"), price=D("1"))
    with pytest.raises(LedgerError, match="trades.csv:3: trade:test:1 is already in the ledger with different"):
        any_ledger.append(changed, actor="importer:test", reason="second",
                          origins=[f"trades.csv:{i + 2}" for i in range(4)])
    assert any_ledger.count() == 2  # rows 3 and 4 of the batch were not written either
    assert any_ledger.verify().ok


def test_tamper_detection_names_the_edited_row(any_ledger):
    any_ledger.append(make_trades(5), actor="importer:test", reason="x")
    assert any_ledger.verify().ok
    with any_ledger.engine.begin() as conn:
        conn.execute(text("UPDATE events SET payload = replace(payload, '\"0.1\"', '\"0.2\"') WHERE seq = 3"))
    result = any_ledger.verify()
    assert not result.ok and result.first_bad_seq == 3 and "edited" in result.problem


def test_deleted_row_is_detected(any_ledger):
    any_ledger.append(make_trades(4), actor="importer:test", reason="x")
    with any_ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM events WHERE seq = 2"))
    result = any_ledger.verify()
    assert not result.ok and result.first_bad_seq == 2 and "missing" in result.problem


def test_deleted_last_row_is_detected_by_the_head(any_ledger):
    any_ledger.append(make_trades(4), actor="importer:test", reason="x")
    with any_ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM events WHERE seq = 4"))
    result = any_ledger.verify()
    assert not result.ok and result.first_bad_seq == 4


def test_reordered_rows_are_detected(any_ledger):
    any_ledger.append(make_trades(3), actor="importer:test", reason="x")
    with any_ledger.engine.begin() as conn:
        conn.execute(text("UPDATE events SET seq = 100 WHERE seq = 1"))
        conn.execute(text("UPDATE events SET seq = 1 WHERE seq = 2"))
        conn.execute(text("UPDATE events SET seq = 2 WHERE seq = 100"))
    result = any_ledger.verify()
    assert not result.ok and result.first_bad_seq == 1


def test_reversal_cancels_an_event_and_cannot_be_repeated(any_ledger):
    trades = make_trades(2)
    any_ledger.append(trades, actor="importer:test", reason="x")
    rev = Reversal(time=T0, source="manual", external_id="r1", target_key=trades[0].natural_key,
                   reason="wrong price")
    any_ledger.append([rev], actor="manual", reason="correction")
    from taxreport.model.legs import effective_events

    assert effective_events(any_ledger.events()) == [trades[1]]
    rev2 = Reversal(time=T0, source="manual", external_id="r2", target_key=trades[0].natural_key, reason="again")
    with pytest.raises(LedgerError, match="already reversed"):
        any_ledger.append([rev2], actor="manual", reason="again")
    missing = Reversal(time=T0, source="manual", external_id="r3", target_key="trade:nope:1", reason="x")
    with pytest.raises(LedgerError, match="not in the ledger"):
        any_ledger.append([missing], actor="manual", reason="x")


def test_filters(any_ledger):
    any_ledger.append(make_trades(4), actor="importer:test", reason="x")
    assert len(any_ledger.events(start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=3))) == 2
    assert len(any_ledger.events(asset="btc")) == 4
    assert any_ledger.events(asset="ETH") == []
    assert len(any_ledger.events(account="okx:main")) == 4
    assert any_ledger.events(account="okx") == []


def test_concurrent_writers_keep_one_unbroken_chain(any_ledger):
    """Two writers appending at once must serialise on the chain head (no fork, no lost row)."""
    import threading

    from taxreport.ledger import Ledger

    other = Ledger(any_ledger.url)
    errors = []

    def writer(led, prefix):
        try:
            for i in range(10):
                t = Trade(time=T0 + timedelta(minutes=i), source=prefix, external_id=str(i), account="a",
                          side="buy", base="BTC", quote="USD", quantity=D("1"), price=D("1"))
                led.append([t], actor="importer:test", reason=prefix)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(any_ledger, "w1")),
               threading.Thread(target=writer, args=(other, "w2"))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    other.close()
    assert errors == []
    assert any_ledger.count() == 20
    assert any_ledger.verify().ok
