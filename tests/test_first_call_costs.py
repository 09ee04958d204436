"""The fixed costs of a first ``gains`` call (issue 14, round 5): the review items that refuse a blocked year
are found once per call, not once per year filled, with the same refusals and messages; the ledger's time span
is read off the time index."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from taxreport.errors import TaxreportError
from taxreport.gains import GainsRequest, gains_for
from taxreport.ledger import Ledger, derived
from taxreport.model import D, Deposit, Trade
from taxreport.model.events import Reversal
from taxreport.model.legs import MOVES_NOTHING

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


def test_a_first_call_prepares_the_history_once_for_the_refusals_and_the_one_pass(led, monkeypatch):
    """The preparation of the history (simulated accounts, own transfers, basis supplements) the review reads to
    refuse blocked years is the one the one pass over every year reads: made once per first call."""
    import taxreport.prepare
    import taxreport.review as review

    led.append([trade(0, "buy", "2", "100", 0), trade(1, "sell", "0.5", "300", 100),
                trade(2, "sell", "0.5", "200", 400), trade(3, "sell", "0.25", "250", 700)], actor="importer:t",
               reason="r")
    made: list[int] = []
    prepare = taxreport.prepare.prepare_events

    def counting(*a, **k):  # noqa: ANN002, ANN003, ANN202
        made.append(1)
        return prepare(*a, **k)
    monkeypatch.setattr(taxreport.prepare, "prepare_events", counting)
    monkeypatch.setattr(review, "prepare_events", counting)
    first = gains_for(led, GainsRequest("us", "2023"))
    # FIFO: the 2023 sale (day 400) of 0.5 at 200: proceeds 99, cost a quarter of 201 = 50.25: gain 48.75
    assert first.gain == Decimal("48.75") and len(made) == 1
    # 2024 (stored by that call): 0.25 sold at 250 = 62.5 - 1 fee = 61.5, cost an eighth of 201 = 25.125: 36.375
    assert gains_for(led, GainsRequest("us", "2024")).gain == Decimal("36.375")
    assert len(made) == 1


def test_time_span_is_the_first_and_last_event_read_off_the_index(led):
    sql: list[tuple[str, Any]] = []
    from sqlalchemy import event

    # rows not in time order (older history imported later)
    led.append([trade(0, "buy", "1", "100", 300), trade(1, "sell", "0.5", "300", 400)], actor="importer:t", reason="r")
    led.append([trade(2, "buy", "2", "90", -20), trade(3, "buy", "1", "95", 10)], actor="importer:t", reason="r")
    event.listen(led.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, parameters, *a: sql.append((statement, parameters)))
    assert led.time_span() == (T0 - timedelta(days=20), T0 + timedelta(days=400))
    ((statement, parameters),) = [(s, p) for s, p in sql if "limit" in s.lower()]
    assert set(parameters) >= set(MOVES_NOTHING)
    with led.engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
    # each end walks the time index from its end to the first row that moves something (no sort, no full scan
    # of the table: a min() and a max() in one SELECT scanned every row)
    assert plan.count("USING INDEX ix_events_time") == 2 and "TEMP B-TREE" not in plan, plan
    # a correction written later (a reversal, a record) is dated when it was written and stretches nothing
    led.append([Reversal(time=T0 + timedelta(days=900), source="manual", external_id="r1",
                         target_key=trade(3, "buy", "1", "95", 10).natural_key, reason="typed twice")],
               actor="manual:test", reason="r")
    assert led.time_span() == (T0 - timedelta(days=20), T0 + timedelta(days=400))


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
    search = review.review_prepared

    def counting(*a, **k):  # noqa: ANN002, ANN003, ANN202
        searches.append(1)
        return search(*a, **k)
    monkeypatch.setattr(review, "review_prepared", counting)
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


# --- the young state: waiting for it to settle instead of reading its content --------------------------------

def _written_just_now(tmp_path) -> str:
    from tests.test_derived_cache import history

    url = f"sqlite:///{tmp_path / 'y.sqlite3'}"
    with Ledger(url) as writer:
        history(writer)  # 2024: buy 1 BTC at 100 (+1 fee), sell 0.5 at 300 (-1 fee)
    return url


def test_a_young_state_whose_content_costs_more_to_read_than_to_wait_for_is_read_settled(tmp_path, monkeypatch):
    """Right after a write (files younger than SETTLE_SECONDS, no log open), a state whose content would take
    longer to digest than the time left until it settles is read once it has settled: no content read at all
    (neither with the state nor to settle its record afterwards), its entries stored as settled, and served."""
    from tests.test_derived_cache import count_walks, request

    monkeypatch.setattr(derived, "_now", time.time)  # the real clock
    url = _written_just_now(tmp_path)
    monkeypatch.setattr(derived, "DIGEST_BYTES_PER_SECOND", 1.0)  # as if reading it took hours
    digests: list[int] = []
    slept: list[float] = []
    monkeypatch.setattr(derived, "_content_digest", lambda path: digests.append(1))
    monkeypatch.setattr(derived, "_sleep", lambda s: slept.append(s) or time.sleep(s))
    walks = count_walks(monkeypatch)
    with Ledger(url) as fresh:
        assert derived._young(derived._file_witness(tmp_path / "y.sqlite3")[1], time.time())
        # FIFO: proceeds 0.5 x 300 - 1 = 149, cost (100 + 1) / 2 = 50.5: gain 98.5
        assert gains_for(fresh, GainsRequest("us", "2024")).gain == D("98.5")
        (record,) = fresh._derived_cache.folder.glob("*.state")
    assert len(slept) == 1 and 0 < slept[0] <= derived.SETTLE_SECONDS + 0.01
    assert digests == [] and json.loads(record.read_text()) == {"digest": None}
    with Ledger(url) as again:
        assert gains_for(again, request()).gain == D("98.5") and again._derived_cache.hits == 1
    assert len(walks) == 1 and digests == [] and len(slept) == 1


def test_an_edit_made_while_waiting_for_the_state_to_settle_is_walked_and_refused(tmp_path, monkeypatch):
    """The module's guarantee on the waiting path: an edit behind the chain made while the state settles, in the
    same clock tick as the last write (file witnesses held as they were, as a coarse clock leaves them), is read
    by the walk, which comes after the state is read: the ledger is refused and nothing is stored."""
    from taxreport.errors import LedgerError
    from tests.test_derived_cache import edit_behind_the_chain

    monkeypatch.setattr(derived, "_now", time.time)
    url = _written_just_now(tmp_path)
    monkeypatch.setattr(derived, "DIGEST_BYTES_PER_SECOND", 1.0)
    held = derived._file_witness(tmp_path / "y.sqlite3")
    assert held is not None and derived._young(held[1], time.time())

    def edit_while_waiting(seconds: float) -> None:
        edit_behind_the_chain(url)
        monkeypatch.setattr(derived, "_file_witness", lambda path: held)  # the times left as they were
        monkeypatch.setattr(derived, "_now", lambda: time.time() + 60)  # and the wait over
    monkeypatch.setattr(derived, "_sleep", edit_while_waiting)
    with Ledger(url) as fresh:
        with pytest.raises(LedgerError, match="row 2 was edited"):
            gains_for(fresh, GainsRequest("us", "2024"))
        folder = fresh._derived_cache.folder
    assert not list(folder.glob("*.pickle")) and not list(folder.glob("*.verified"))


def test_a_small_young_state_is_still_read_with_its_content_digest(tmp_path, monkeypatch):
    """Where reading the content is cheaper than waiting (a small ledger), nothing waits: the state is read young
    with its digest, as before."""
    monkeypatch.setattr(derived, "_now", time.time)
    url = _written_just_now(tmp_path)
    slept: list[float] = []
    monkeypatch.setattr(derived, "_sleep", slept.append)
    digests: list[int] = []
    original = derived._content_digest
    monkeypatch.setattr(derived, "_content_digest", lambda path: digests.append(1) or original(path))
    with Ledger(url) as fresh:
        assert gains_for(fresh, GainsRequest("us", "2024")).gain == D("98.5")
    assert slept == [] and digests  # read with its digest (and once more if it settled before storing)


def test_a_stored_summary_whose_values_look_like_a_column_tag_reads_back(led):
    """A column of plain values (here every disposal's account, named "decimal", and its rule) is stored as the
    tuple of its values and a compact column as a tagged object (``derived._Col``): a value can never be read
    as a tag (the former tuple tags made an account named "decimal" a column of Decimals, which raised)."""
    import io

    from taxreport.cli.gains_cmd import summary_json
    from taxreport.gains import compute_gains

    trades = [Trade(time=T0 + timedelta(days=i), source="test", external_id=f"d{i}", account="decimal",
                    side="buy" if i % 2 == 0 else "sell", base="BTC", quote="USD", quantity=D("1") if i % 2 == 0
                    else D("0.5"), price=D(100 + i), fee=D("1"), fee_asset="USD") for i in range(80)]
    led.append(trades, actor="importer:t", reason="r")
    summary = compute_gains(led, jurisdiction="us", year="2022")
    assert len(summary.disposals) >= derived.BLOCK_MIN and summary.disposals[0].account == "decimal"
    buffer = io.BytesIO()
    derived._write_pickle(summary, buffer)
    back = derived._read_pickle(io.BytesIO(buffer.getvalue()))
    assert repr(back) == repr(summary) and summary_json(back) == summary_json(summary)
