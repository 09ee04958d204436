"""The fixed costs of a first ``gains`` call (issue 14, round 5): the review items that refuse a blocked year
are found once per call, not once per year filled, with the same refusals and messages; the ledger's time span
is read off the time index."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from taxreport.errors import TaxreportError
from taxreport.gains import GainsRequest, gains_for
from taxreport.ledger import Ledger, derived
from taxreport.model import D, Deposit, Trade

T0 = datetime(2022, 3, 1, tzinfo=timezone.utc)


def trade(i: int, side: str, qty: str, price: str, days: float) -> Trade:
    return Trade(time=T0 + timedelta(days=days), source="test", external_id=f"t{i}", account="kraken:main", side=side,
                 base="BTC", quote="USD", quantity=D(qty), price=D(price), fee=D("1"), fee_asset="USD")


@pytest.fixture(autouse=True)
def settled(monkeypatch):
    monkeypatch.setattr(derived, "_now", lambda: time.time() + 60)


@pytest.fixture
def led(tmp_path, monkeypatch):
    monkeypatch.setenv("TAXREPORT_HOME", str(tmp_path / "home"))
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as ledger:
        yield ledger


def test_time_span_is_the_first_and_last_event_read_off_the_index(led):
    sql: list[str] = []
    from sqlalchemy import event

    # rows not in time order (older history imported later)
    led.append([trade(0, "buy", "1", "100", 300), trade(1, "sell", "0.5", "300", 400)], actor="importer:t", reason="r")
    led.append([trade(2, "buy", "2", "90", -20), trade(3, "buy", "1", "95", 10)], actor="importer:t", reason="r")
    event.listen(led.engine, "before_cursor_execute", lambda conn, cursor, statement, *a: sql.append(statement))
    assert led.time_span() == (T0 - timedelta(days=20), T0 + timedelta(days=400))
    (statement,) = [s for s in sql if "min" in s.lower()]
    with led.engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}"))
    # each of min() and max() alone reads one end of the index (both in one SELECT scanned every row)
    assert plan.count("ix_events_time") == 2 and "SCAN events" not in plan.replace("COVERING INDEX", ""), plan


def test_a_first_call_finds_the_review_items_once_and_refuses_the_same_years(led, monkeypatch):
    """A deposit without cost basis in 2023 blocks 2023 and 2024 (review: fix it first), not 2022. The first call
    (2022) fills every year it can from one search for review items; the blocked years are not stored and their
    own calls give refuse_blocking's message, word for word."""
    import taxreport.review as review

    led.append([trade(0, "buy", "2", "100", 0), trade(1, "sell", "0.5", "300", 100),
                trade(2, "sell", "0.5", "200", 400), trade(3, "sell", "0.25", "250", 700)], actor="importer:t",
               reason="r")
    led.append([Deposit(time=T0 + timedelta(days=450), source="test", external_id="d1", account="kraken:main",
                        asset="BTC", quantity=Decimal("0.1"))], actor="importer:t", reason="r")
    searches: list[int] = []
    prepare = review.prepare_events

    def counting(*a, **k):  # noqa: ANN002, ANN003, ANN202
        searches.append(1)
        return prepare(*a, **k)
    monkeypatch.setattr(review, "prepare_events", counting)
    request = GainsRequest("us", "2022")
    first = gains_for(led, request)
    # FIFO: 0.5 BTC sold at 300 (150 - 1 fee = 149) out of 2 bought for 200 + 1 fee (a quarter: 50.25)
    assert first.gain == Decimal("98.75")
    assert len(searches) == 1  # one search for the three years the call filled (2022 asked, 2023 and 2024)
    for year in ("2023", "2024"):
        with pytest.raises(TaxreportError) as refused:
            gains_for(led, GainsRequest("us", year))
        with pytest.raises(TaxreportError) as alone:
            review.refuse_blocking(led, led.events(), jurisdiction="us", year=year, options={}, verify=False)
        assert str(refused.value) == str(alone.value)
        assert "1 blocking problem(s) for us " + year in str(refused.value)
    assert gains_for(led, request).gain == first.gain
