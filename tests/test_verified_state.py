"""The verified-state record (taxreport/ledger/derived.py, "A verified state"; Ledger.verified_events): once a
full walk of the hash chain has verified a ledger state inside :meth:`Ledger.pinned`, a later pinned read of the
very same state (the first UK call after the US ones, an ``export`` after ``gains``) reads the payloads only and
does not hash; anything that changes the database (an append, an edit behind the chain's back, even in the same
clock tick, or made while the events are being read) is walked again and refused with the walk's reason;
``ledger verify`` and a cache turned off always walk; and the ``gains --format json`` documents are the same bytes
with and without the record."""

from __future__ import annotations

import random
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.errors import LedgerError
from taxreport.gains import GainsRequest, gains_for
from taxreport.ledger import Ledger, derived, store, verify_worker
from taxreport.model import D, Trade
from taxreport.prices.store import RateRow, write_rates

T0 = datetime(2024, 1, 2, tzinfo=timezone.utc)


def trade(i: int, side: str, qty: str, price: str) -> Trade:
    return Trade(time=T0 + timedelta(days=i), source="test", external_id=str(i), account="kraken:main", side=side,
                 base="BTC", quote="USD", quantity=D(qty), price=D(price), fee=D("1"), fee_asset="USD")


def history(ledger: Ledger) -> None:
    ledger.append([trade(0, "buy", "1", "100"), trade(1, "sell", "0.5", "300"), trade(2, "buy", "2", "150")],
                  actor="importer:t", reason="r")


@pytest.fixture(autouse=True)
def settled(monkeypatch):
    """As if a minute after the last write (the tests of a young state set the real clock back)."""
    monkeypatch.setattr(derived, "_now", lambda: time.time() + 60)


class Hashing(Exception):
    pass


def no_hashing(monkeypatch) -> None:
    """Any walk of the chain (in this process or beside it) raises."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise Hashing("the chain was hashed")
    monkeypatch.setattr(store, "ChainWalk", refuse)
    monkeypatch.setattr(verify_worker, "ChainWorker", refuse)


def count_walks(monkeypatch) -> list[int]:
    walks: list[int] = []
    original = Ledger._walk

    def walk(self: Ledger, *, decode: bool) -> Any:
        walks.append(1)
        return original(self, decode=decode)
    monkeypatch.setattr(Ledger, "_walk", walk)
    return walks


def pinned_read(url: str) -> tuple[Any, list[Any]]:
    """A new command's verified read of the ledger at ``url``, inside its pin."""
    with Ledger(url) as led, led.pinned():
        return led.verified_events()


def test_a_second_pinned_read_of_an_unchanged_ledger_does_not_hash_and_returns_the_walks_events(any_ledger,
                                                                                                 monkeypatch):
    history(any_ledger)
    walked = pinned_read(any_ledger.url)
    assert walked[0].ok and walked[0].rows == 3 and len(walked[1]) == 3
    assert walked[1] == any_ledger.events()  # what the walk read: the three trades as appended
    no_hashing(monkeypatch)
    with pytest.raises(Hashing):
        any_ledger.verify()  # (the patch does stop a walk)
    trusted = pinned_read(any_ledger.url)
    assert trusted == walked  # same VerifyResult (ok, 3 rows, the head hash), same events in the same order
    with Ledger(any_ledger.url) as led, led.pinned():  # inside one pin, read again after the events were let go
        assert led.verified_events() == walked
        led.forget_events()
        assert led.verified_events() == walked
    with pytest.raises(Hashing):
        any_ledger.verified_events()  # not pinned: no state to trust, a walk as always


def edit_payload(url: str, seq: int = 2) -> None:
    """What a user with a database tool does: rewrite an earlier row's payload (sold 0.5 -> 0.4), leaving its
    hash, the row count and the chain head as they were (sqlite3 itself for a file)."""
    sql = f"UPDATE events SET payload = replace(payload, '\"0.5\"', '\"0.4\"') WHERE seq = {seq}"
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        with conn:
            assert conn.execute(sql).rowcount == 1
        conn.close()
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        assert conn.execute(text(sql)).rowcount == 1
    engine.dispose()


def test_an_edit_behind_the_chain_after_the_record_is_walked_and_refused_with_the_walks_reason(any_ledger,
                                                                                                  monkeypatch):
    history(any_ledger)
    assert pinned_read(any_ledger.url)[0].ok  # verified and recorded
    head, count = any_ledger.head(), any_ledger.count()
    edit_payload(any_ledger.url)
    assert (any_ledger.head(), any_ledger.count()) == (head, count)
    walks = count_walks(monkeypatch)
    result, events = pinned_read(any_ledger.url)
    assert (result.ok, result.first_bad_seq, events) == (False, 2, [])
    assert result.problem == "row 2 was edited: its content does not match its hash" and walks == [1]
    with Ledger(any_ledger.url) as led, pytest.raises(LedgerError, match="row 2 was edited"):
        gains_for(led, GainsRequest("us", "2024"))


def test_an_edit_in_the_same_clock_tick_as_the_record_is_walked_and_refused(tmp_path, monkeypatch):
    """Right after a write (files younger than SETTLE_SECONDS, no log open), the record is kept with the content
    digest of the state; an edit that leaves every file time as it was (a coarse clock: here the files' witness is
    held as read) changes the content, so the record is not trusted and the walk refuses the ledger."""
    monkeypatch.setattr(derived, "_now", time.time)  # the real clock: the ledger was written just now
    path = tmp_path / "young.sqlite3"
    url = f"sqlite:///{path}"
    with Ledger(url) as writer:
        history(writer)
    assert derived._young(derived._file_witness(path)[1], time.time())
    walked = pinned_read(url)
    assert walked[0].ok
    (record,) = (Path(derived.cache_root()) / "derived").glob("*/*.state")
    assert '"digest": null' not in record.read_text()  # recorded young, with the content's digest
    no_hashing(monkeypatch)
    assert pinned_read(url) == walked  # same content: trusted
    monkeypatch.undo()
    monkeypatch.setattr(derived, "_now", time.time)
    held = derived._file_witness(path)
    monkeypatch.setattr(derived, "_file_witness", lambda p: held)  # the edit below leaves every time as it was
    edit_payload(url)
    walks = count_walks(monkeypatch)
    result, events = pinned_read(url)
    assert (result.ok, result.problem, events) == (False, "row 2 was edited: its content does not match its hash", [])
    assert walks == [1]


def test_one_ledger_object_pinned_again_after_an_edit_in_the_same_clock_tick_walks(tmp_path, monkeypatch):
    """A process that keeps its Ledger (and so its cache, which checks a state's record once) and pins it again:
    the content read after the payloads is compared with the digest the record was stored with, not only with
    this process's last read of the state, so an edit in the same clock tick between two pins is walked."""
    monkeypatch.setattr(derived, "_now", time.time)
    path = tmp_path / "kept.sqlite3"
    url = f"sqlite:///{path}"
    with Ledger(url) as writer:
        history(writer)
    with Ledger(url) as led:
        with led.pinned():
            walked = led.verified_events()
        with led.pinned():
            assert led.verified_events() == walked and walked[0].ok  # trusted (the record checked once, here)
        held = derived._file_witness(path)
        assert derived._young(held[1], time.time())
        monkeypatch.setattr(derived, "_file_witness", lambda p: held)  # the edit below leaves every time as is
        edit_payload(url)
        walks = count_walks(monkeypatch)
        with led.pinned():
            result, events = led.verified_events()
    assert (result.ok, result.first_bad_seq, events) == (False, 2, []) and walks == [1]


@pytest.mark.parametrize("young", [False, True])
def test_an_edit_made_while_the_payloads_are_read_is_caught_by_the_state_read_again(any_ledger, monkeypatch, young):
    """The state is read when the pin begins; the payloads later. An edit committed in between (here: right
    before the payload read, in the same clock tick when ``young``) is seen by the state read after the payloads
    (:meth:`DerivedCache.unchanged`): the rows read are dropped and the chain is walked, which refuses it."""
    url = any_ledger.url
    path = store.sqlite_path(url)
    if young and path is None:
        pytest.skip("file times: SQLite only")
    history(any_ledger)
    any_ledger.close()
    if young:
        monkeypatch.setattr(derived, "_now", time.time)
        assert path is not None and derived._young(derived._file_witness(path)[1], derived._now())
    assert pinned_read(url)[0].ok
    original_chain, original_read = derived.DerivedCache.verified_chain, store._read_payloads
    read: list[Any] = []

    def edited_after(self: Any) -> Any:  # the record found; then the edit, before the read's transaction begins
        found = original_chain(self)
        if young:
            held = derived._file_witness(path)
            monkeypatch.setattr(derived, "_file_witness", lambda p: held)
        edit_payload(url)
        return found

    def reading(conn: Any, head_seq: int) -> Any:
        read.append(original_read(conn, head_seq))
        return read[-1]
    monkeypatch.setattr(derived.DerivedCache, "verified_chain", edited_after)
    monkeypatch.setattr(store, "_read_payloads", reading)
    walks = count_walks(monkeypatch)
    result, events = pinned_read(url)
    assert read and read[0] is not None and read[0][0][1].quantity == D("0.4")  # the trusted read read the edit
    assert (result.ok, result.first_bad_seq, events) == (False, 2, []) and walks == [1]


def test_an_append_after_the_record_makes_a_new_walk_and_is_recorded_in_turn(any_ledger, monkeypatch):
    history(any_ledger)
    pinned_read(any_ledger.url)
    any_ledger.append([trade(3, "sell", "1", "200")], actor="importer:t", reason="r")
    walks = count_walks(monkeypatch)
    result, events = pinned_read(any_ledger.url)
    assert result.ok and result.rows == 4 and events[-1].quantity == D("1") and walks == [1]
    no_hashing(monkeypatch)
    assert pinned_read(any_ledger.url) == (result, events)  # the new state's own record


def test_ledger_verify_never_uses_the_record(tmp_path, monkeypatch):
    """A forger who edits a row and sets every file time back (the stated limit: the state looks unchanged, so a
    pinned read trusts the record) is still caught by ``ledger verify``, which always walks."""
    path = tmp_path / "forged.sqlite3"
    url = f"sqlite:///{path}"
    with Ledger(url) as writer:
        history(writer)
    assert pinned_read(url)[0].ok
    held = derived._file_witness(path)
    monkeypatch.setattr(derived, "_file_witness", lambda p: held)
    edit_payload(url)
    _, events = pinned_read(url)  # trusted: the limit, as documented
    assert events[1].quantity == D("0.4")
    walks = count_walks(monkeypatch)
    out = CliRunner().invoke(root, ["--db", str(path), "ledger", "verify"])
    assert out.exit_code != 0 and "row 2 was edited" in out.output and walks == [1]


def test_with_the_cache_off_or_unwritable_every_read_walks(any_ledger, monkeypatch, tmp_path):
    history(any_ledger)
    walks = count_walks(monkeypatch)
    monkeypatch.setenv("TAXREPORT_CACHE", "0")
    first = pinned_read(any_ledger.url)
    assert pinned_read(any_ledger.url) == first and walks == [1, 1]
    assert not list((Path(derived.cache_root()) / "derived").glob("*/*.verified"))
    monkeypatch.delenv("TAXREPORT_CACHE")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("TAXREPORT_HOME", str(blocked))
    assert pinned_read(any_ledger.url) == first and pinned_read(any_ledger.url) == first and walks == [1, 1, 1, 1]


def test_an_in_memory_ledger_is_walked_as_always(monkeypatch):
    with Ledger("sqlite://") as led:
        history(led)
        walks = count_walks(monkeypatch)
        with led.pinned():
            assert led._pin is not None and led._pin.state is None
            assert led.verified_events()[0].ok
        with led.pinned():
            assert led.verified_events()[0].ok
        assert walks == [1, 1]


def test_a_payload_that_does_not_decode_is_the_walks_one_line_error(any_ledger, monkeypatch):
    history(any_ledger)
    pinned_read(any_ledger.url)
    original = store.decode_payloads

    def unknown_sale(texts: Any) -> Any:  # as a taxreport that does not know what row 2 holds
        if any('"0.5"' in t for t in texts):
            raise ValueError("unknown event kind 'sale'")
        return original(texts)
    monkeypatch.setattr(store, "decode_payloads", unknown_sale)
    walks = count_walks(monkeypatch)
    with pytest.raises(LedgerError) as trusted:
        pinned_read(any_ledger.url)
    assert walks == []  # raised by the read that trusts the record
    monkeypatch.setenv("TAXREPORT_CACHE", "0")
    with pytest.raises(LedgerError) as walked:
        pinned_read(any_ledger.url)
    assert walks == [1] and str(trusted.value) == str(walked.value)
    assert "row 2 verifies but its event cannot be read (unknown event kind 'sale')" in str(walked.value)


def test_a_record_that_does_not_match_the_rows_is_not_trusted(tmp_path, monkeypatch):
    """A record whose head is not the head read (it cannot be found under a state that holds other rows, but
    nothing else is trusted) is ignored: the chain is walked."""
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    with Ledger(url) as writer:
        history(writer)
    walked = pinned_read(url)
    (record,) = (Path(derived.cache_root()) / "derived").glob("*/*.verified")
    rows, head = derived.json.loads(record.read_text())
    assert (rows, head) == (3, walked[0].head_hash)
    walks = count_walks(monkeypatch)
    for forged in ([2, head], [3, "0" * 64], "junk"):
        record.write_text(derived.json.dumps(forged))
        assert pinned_read(url) == walked
    assert walks == [1, 1, 1]


# --- the commands: the first UK call after a US one, export after gains, byte for byte -------------------------

START = datetime(2021, 5, 1, tzinfo=timezone.utc)
FX = {"USD": 1.0, "GBP": 0.79, "EUR": 0.92, "AUD": 1.5, "CAD": 1.35}


def seeded_ledger(path: Path, seed: int) -> None:
    """A random ledger (the differential test's generator: trades, swaps, deposits, transfers, gifts, income, a
    reversal, several accounts) and daily rates of every coin, and of USD, in the five countries' currencies."""
    from test_gains_years_differential import DAYS, ledger

    rng = random.Random(seed)
    rows: list[RateRow] = []
    level = {"BTC": 30000.0, "ETH": 2000.0, "SOL": 60.0, "BNB": 300.0}
    for day in range(-400, DAYS + 250):
        t = START + timedelta(days=day)
        for coin in level:
            level[coin] *= rng.uniform(0.96, 1.045)
            for cur, f in FX.items():
                rows.append(RateRow(coin, cur, t, Decimal(str(round(level[coin] * f, 2))), "test"))
        for cur, f in FX.items():
            if cur != "USD":
                rows.append(RateRow("USD", cur, t, Decimal(str(round(f * rng.uniform(0.98, 1.02), 4))), "test"))
    with Ledger(f"sqlite:///{path}") as led:
        led.append(ledger(seed, 150), actor="importer:t", reason="r")
        write_rates(led, rows)


def gains_json(path: Path, jurisdiction: str, year: str) -> str:
    out = CliRunner().invoke(root, ["--db", str(path), "gains", "-j", jurisdiction, "-y", year, "--format", "json"])
    assert out.exit_code == 0, out.output
    return out.output


@pytest.mark.parametrize("seed", [3, 29, 5])
def test_gains_json_is_the_same_bytes_with_and_without_the_record(tmp_path, monkeypatch, seed):
    path = tmp_path / f"seed{seed}.sqlite3"
    seeded_ledger(path, seed)
    walks = count_walks(monkeypatch)
    calls = [("us", "2023"), ("uk", "2023-24"), ("de", "2022"), ("au", "2022-23"), ("ca", "2023"), ("us", "2024"),
             ("uk", "2021-22")]
    # a first command walks and records; each later one (another country or year: its own computation) trusts it
    trusted = [gains_json(path, *call) for call in calls]
    assert walks == [1]
    monkeypatch.setenv("TAXREPORT_CACHE", "0")
    fresh = [gains_json(path, *call) for call in calls]
    assert walks == [1] * (1 + len(calls))
    assert trusted == fresh and all('"disposals"' in doc for doc in fresh)
    monkeypatch.delenv("TAXREPORT_CACHE")
    # in another cache folder: a UK call first, then the US one reads trusting the UK call's record
    monkeypatch.setenv("TAXREPORT_HOME", str(tmp_path / "home2"))
    assert gains_json(path, "uk", "2024-25") == fresh_one(monkeypatch, path, "uk", "2024-25")
    assert gains_json(path, "us", "2022") == fresh_one(monkeypatch, path, "us", "2022")
    assert walks == [1] * (1 + len(calls) + 3)  # the two fresh calls, and the first of the other two


def fresh_one(monkeypatch, path: Path, jurisdiction: str, year: str) -> str:
    with monkeypatch.context() as m:
        m.setenv("TAXREPORT_CACHE", "0")
        return gains_json(path, jurisdiction, year)


def test_export_and_gains_all_after_a_gains_call_read_without_hashing(tmp_path, monkeypatch):
    path = tmp_path / "e.sqlite3"
    seeded_ledger(path, 5)
    gains_json(path, "us", "2023")
    no_hashing(monkeypatch)
    gains_json(path, "uk", "all")
    out = CliRunner().invoke(root, ["--db", str(path), "export", "hmrc", "-j", "uk", "-y", "2021-22",
                                    "--out", str(tmp_path / "uk.csv")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "uk.csv").read_text().count("\n") > 1
