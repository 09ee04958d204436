"""The ledger's fast read path (issue 14) gives exactly what the reference code gives: events equal to what the
validating decoder (:func:`event_from_payload`) builds from each stored payload, over seeded random ledgers
holding every event kind; the chunked chain walk (:class:`ChainWalk`) refusing an edited, deleted, reordered or
inserted row with the same result as the row-by-row reference (:func:`verify_rows`); and the one-pass helpers of
``prepare``/``review``/``recorded_selections`` answering as before."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from taxreport.errors import LedgerError
from taxreport.ledger import Ledger, store
from taxreport.ledger.chain import GENESIS, WALK_COLUMNS, ChainWalk, _chunk_hashes, row_hash, verify_rows
from taxreport.model.codec import TRUSTED_CLASSES, event_from_payload, payload_json
from taxreport.model.events import (
    EVENT_TYPES,
    AccountDeclaration,
    BasisSupplement,
    Deposit,
    Event,
    GiftIn,
    Income,
    Record,
    Reversal,
    Trade,
    Transfer,
    TransferLink,
    Withdrawal,
)
from taxreport.model.legs import effective_events

T0 = datetime(2022, 1, 1, tzinfo=timezone.utc)
ASSETS = ("BTC", "ETH", "SOL", "USDT", "USD", "GBP")
TEXTS = ("", "plain", 'quote " backslash \\ newline \n tab \t control \x01 é ✓ 𝄞', "a,b:c/d")


def _dec(rng: random.Random, *, zero: bool = False) -> Decimal:
    if zero and rng.random() < 0.2:
        return Decimal(rng.choice(("0", "0E-8", "0.00")))
    return Decimal(rng.choice(("1", "0.29619967", "35460.00", "1E-18", "1E+3", "12.5", "0.01"))) * rng.randint(1, 9)


def random_events(seed: int, n: int = 60) -> list[Event]:
    """A seeded history holding every stored event kind, with awkward texts, numbers and times."""
    rng = random.Random(seed)
    out: list[Event] = []
    for i in range(n):
        t = T0 + timedelta(seconds=rng.randint(0, 3 * 365 * 86400), microseconds=rng.choice((0, 7, 999999)))
        kind = EVENT_TYPES[list(EVENT_TYPES)[i % len(EVENT_TYPES)]]  # every kind, in turn
        ext = rng.choice((f"id{i}", None))
        note = rng.choice(TEXTS)
        acct = rng.choice(("okx:main", "csv:wallet", "paper:bot"))
        asset = rng.choice(ASSETS[:4])
        if kind is Trade:
            base, quote = rng.sample(ASSETS, 2)
            fee = rng.choice((Decimal(0), Decimal("0.5"), Decimal("-0.001")))
            out.append(Trade(time=t, source="csv", external_id=ext, note=note, account=acct,
                             side=rng.choice(("buy", "sell")), base=base, quote=quote, quantity=_dec(rng),
                             price=_dec(rng), fee=fee, fee_asset=rng.choice((base, quote, "BNB")) if fee else None,
                             order_id=rng.choice((None, f"o{i}"))))
        elif kind is Transfer:
            q = _dec(rng)
            out.append(Transfer(time=t, source="okx", external_id=ext, note=note, from_account="a", to_account="b",
                                asset=asset, quantity=q, fee=rng.choice((Decimal(0), q / 4))))
        elif kind in (Deposit, GiftIn):
            cost = rng.choice((None, _dec(rng, zero=True)))
            out.append(kind(time=t, source="manual", external_id=ext, note=note, account=acct, asset=asset,
                            quantity=_dec(rng), cost=cost, cost_currency="usd" if cost is not None else None,
                            acquired_at=rng.choice((None, t - timedelta(days=3))) if cost is not None else None))
        elif kind is Withdrawal:
            value = rng.choice((None, _dec(rng, zero=True)))
            out.append(Withdrawal(time=t, source="manual", external_id=ext, note=note, account=acct, asset=asset,
                                  quantity=_dec(rng), fee=_dec(rng, zero=True) if rng.random() < 0.5 else Decimal(0),
                                  purpose=rng.choice(("own-wallet", "spend", "gift", "donation", "lost")),
                                  value=value, value_currency="GBP" if value is not None else None))
        elif kind is Income:
            out.append(Income(time=t, source="okx", external_id=ext, note=note, account=acct, asset=asset,
                              quantity=_dec(rng), income_type=rng.choice(("staking", "airdrop", "other")),
                              value=Decimal("3.5"), value_currency="eur"))
        elif kind is Reversal:  # of an earlier event not yet reversed (the ledger refuses any other)
            reversed_keys = {e.target_key for e in out if isinstance(e, Reversal)}
            target = rng.choice([e.natural_key for e in out if not isinstance(e, Reversal)
                                 and e.natural_key not in reversed_keys])
            out.append(Reversal(time=t, source="manual", external_id=ext, note=note, target_key=target,
                                reason=rng.choice(TEXTS[1:])))
        elif kind is Record:
            out.append(Record(time=t, source="rebalancer", external_id=ext, note=note, record_type="lots.identified",
                              account=rng.choice((None, acct)), order_id=rng.choice((None, "o1")),
                              data={"disposal": f"trade:x:{i}#0", "n": {"z": rng.choice(TEXTS)}, "q": _dec(rng),
                                    "t": t, "l": [1, "a", None, True, 2**70],
                                    "lots": [{"lot": "trade:x:1#1", "quantity": "0.5"}]}))
        elif kind is BasisSupplement:
            out.append(BasisSupplement(time=t, source="manual", external_id=ext, note=note, target_key=f"deposit:x:{i}",
                                       cost=_dec(rng, zero=True), cost_currency="gbp",
                                       acquired_at=rng.choice((None, t - timedelta(days=1)))))
        elif kind is TransferLink:
            out.append(TransferLink(time=t, source="manual", external_id=ext, note=note, withdrawal_key=f"w{i}",
                                    deposit_key=f"d{i}"))
        elif kind is AccountDeclaration:
            out.append(AccountDeclaration(time=t, source="paper", external_id=f"acct{i}", note=note, account=acct,
                                          simulated=rng.random() < 0.5, venue="paper"))
        else:  # a kind added later must be added here too
            raise AssertionError(f"no random {kind.__name__} in this test")
    return out


def test_every_stored_kind_is_trusted():
    assert set(EVENT_TYPES.values()) <= TRUSTED_CLASSES


@pytest.mark.parametrize("seed", range(6))
def test_read_back_equals_the_validating_decoder_for_random_ledgers_of_every_kind(tmp_path, seed, monkeypatch):
    events = random_events(seed)
    assert {type(e) for e in events} == set(EVENT_TYPES.values())
    monkeypatch.setattr(store, "CHUNK", 7)  # several chunks, each decoded as it is verified
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        led.append(events, actor="importer:test", reason="seeded")
        with led.engine.connect() as conn:
            payloads = [p for (p,) in conn.execute(text("SELECT payload FROM events ORDER BY seq"))]
        reference = [event_from_payload(json.loads(p)) for p in payloads]
        assert payloads == [payload_json(e) for e in events]  # what was written is what is read
        # the trusted builders never fall back to the constructor for a payload the ledger wrote
        for cls in set(EVENT_TYPES.values()):
            monkeypatch.setattr(cls, "__post_init__", _refuse)
        result, read = Ledger(led.url, readonly=True).verified_events()
        monkeypatch.undo()
    assert result.ok and result.rows == len(events)
    assert read == reference == events
    assert [type(e) for e in read] == [type(e) for e in reference]
    for got, want in zip(read, reference):  # field by field, with the types (Decimal text, tz, enums)
        for name in got.__dataclass_fields__:
            a, b = getattr(got, name), getattr(want, name)
            assert type(a) is type(b) and a == b and str(a) == str(b), (name, a, b)


def _refuse(self: Event) -> None:
    raise AssertionError(f"{type(self).__name__} was rebuilt through its constructor")


def _rows(led: Ledger) -> list[tuple]:
    with led.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT {', '.join(WALK_COLUMNS)} FROM events ORDER BY seq"))]


def _head(led: Ledger) -> tuple[int, str]:
    return led.head()


def _walk(rows: list[tuple], head: tuple[int, str], chunk: int):
    walk = ChainWalk()
    for start in range(0, len(rows), chunk):
        if not walk.feed(rows[start:start + chunk]):
            break
    return walk.result(*head)


TAMPERS = {
    "edit payload": "UPDATE events SET payload = payload || ' ' WHERE seq = {n}",
    "edit time column": "UPDATE events SET time = '2000-01-01T00:00:00.000000Z' WHERE seq = {n}",
    "edit actor": "UPDATE events SET actor = 'importer:other' WHERE seq = {n}",
    "delete": "DELETE FROM events WHERE seq = {n}",
    "delete tail": "DELETE FROM events WHERE seq >= {n}",
    "reorder": "UPDATE events SET seq = -1 WHERE seq = {n}; UPDATE events SET seq = {n} WHERE seq = {n} + 1; "
               "UPDATE events SET seq = {n} + 1 WHERE seq = -1",
    "insert": "INSERT INTO events (seq, natural_key, kind, time, accounts, assets, order_ref, payload, content_hash, "
              "actor, reason, recorded_at, prev_hash, hash) SELECT 1000, natural_key || 'x', kind, time, accounts, "
              "assets, order_ref, payload, content_hash, actor, reason, recorded_at, prev_hash, hash FROM events "
              "WHERE seq = {n}; UPDATE events SET seq = -seq WHERE seq > {n}; UPDATE events SET seq = {n} + 1 "
              "WHERE seq = 1000; UPDATE events SET seq = -seq + 1 WHERE seq < 0",
    "edit head": "UPDATE ledger_head SET hash = '{genesis}'",
}


def three_appends(led: Ledger, events: list) -> None:
    """``events`` in three appends (actor, reason and time of recording change inside a chunk)."""
    led.append(events[:11], actor="importer:test", reason="one")
    led.append(events[11:12], actor="manual:me", reason="two ✓")
    led.append(events[12:], actor="rebalancer:bot", reason="three")


def tamper_with(led: Ledger, tamper: str, n: int) -> None:
    """Apply :data:`TAMPERS` ``tamper`` at row ``n``, behind the ledger's back."""
    with led.engine.begin() as conn:
        for sql in TAMPERS[tamper].format(n=n, genesis=GENESIS).split("; "):
            conn.execute(text(sql))


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
@pytest.mark.parametrize("seed", range(3))
def test_the_chunked_walk_refuses_every_tamper_exactly_as_the_row_by_row_reference(tmp_path, tamper, seed):
    rng = random.Random(seed)
    events = random_events(seed, 30)
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        three_appends(led, events)
        good = _rows(led)
        assert _walk(good, _head(led), 5) == verify_rows([dict(zip(WALK_COLUMNS, r)) for r in good], *_head(led))
        tamper_with(led, tamper, rng.randint(2, 28))
        rows = _rows(led)
        reference = verify_rows([dict(zip(WALK_COLUMNS, r)) for r in rows], *_head(led))
        assert not reference.ok
        for chunk in (1, 4, 5000):
            assert _walk(rows, _head(led), chunk) == reference
        assert led.verify() == reference
        result, read = led.verified_events()
        assert result == reference and read == []


def test_a_tampered_ledger_is_refused_with_the_same_line_whatever_the_chunk(tmp_path, monkeypatch):
    events = random_events(1, 20)
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        led.append(events, actor="importer:test", reason="x")
        with led.engine.begin() as conn:  # an edit of row 9 is named as row 9 with chunks of 1, 4 or the default
            conn.execute(text("UPDATE events SET natural_key = natural_key || 'x' WHERE seq = 9"))
        for chunk in (1, 4, 5000):
            monkeypatch.setattr(store, "CHUNK", chunk)
            result, read = led.verified_events()
            assert (result.ok, result.first_bad_seq, result.problem, read) == (
                False, 9, "row 9 was edited: its content does not match its hash", [])


def _chain_raw_row(led: Ledger, payload: str, *, kind: str) -> None:
    """Append one row holding ``payload`` as it is, chained and hashed as the ledger hashes a row (so the chain
    verifies), with the head moved to it: a row a newer taxreport, or a forger who recomputes every hash, wrote."""
    from taxreport.ledger.chain import row_hasher

    rows = _rows(led)
    seq, prev, at, key = len(rows) + 1, rows[-1][-1], "2024-01-01T00:00:00.000000Z", f"{kind}:x:1"
    digest = row_hasher("importer:test", "x", at)(prev, seq, key, kind, at, payload)
    with led.engine.begin() as conn:
        conn.execute(text("INSERT INTO events (seq, natural_key, kind, time, accounts, assets, order_ref, payload, "
                          "content_hash, actor, reason, recorded_at, prev_hash, hash) VALUES (:s, :k, :kind, :t, ',', "
                          "',', NULL, :p, 'c', 'importer:test', 'x', :t, :prev, :h)"),
                     {"s": seq, "k": key, "kind": kind, "t": at, "p": payload, "prev": prev, "h": digest})
        conn.execute(text("UPDATE ledger_head SET seq = :s, hash = :h"), {"s": seq, "h": digest})


def test_a_row_that_verifies_but_does_not_decode_is_named_not_dropped(tmp_path):
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        led.append(random_events(2, 3), actor="importer:test", reason="x")
        # a row a newer taxreport might write: an unknown kind, correctly chained
        _chain_raw_row(led, '{"kind":"future","source":"x","time":"2024-01-01T00:00:00.000000Z"}', kind="future")
        assert led.verify().ok
        with pytest.raises(LedgerError, match=r"row 4 verifies but its event cannot be read \(kind: unknown event "
                                              r"kind 'future'\)"):
            led.verified_events()


@pytest.mark.parametrize(("payload", "shown"), [("1", "int"), ("1.5", "float"), ('"x"', "str"), ("null", "NoneType"),
                                              ("[]", "list"), ('[{"kind":"trade"}]', "list")])
def test_a_row_that_verifies_but_is_not_a_json_object_is_named_not_a_traceback(tmp_path, payload, shown):
    # A chain rewritten (every hash recomputed) to hold a payload that is a JSON value but not an object: before,
    # the decode raised AttributeError ('int' object has no attribute 'get'), which the read does not treat as an
    # undecodable row, so a user could see a traceback. Now it is the ValueError every non-event payload gets.
    from click.testing import CliRunner

    from taxreport.cli.main import root

    db = tmp_path / "l.sqlite3"
    with Ledger(f"sqlite:///{db}") as led:
        led.append(random_events(2, 3), actor="importer:test", reason="x")
        _chain_raw_row(led, payload, kind="trade")
        assert led.verify().ok
        with pytest.raises(LedgerError, match=rf"row 4 verifies but its event cannot be read \(payload: not a JSON "
                                              rf"object but {shown}\)"):
            led.verified_events()
    out = CliRunner().invoke(root, ["--db", str(db), "gains", "-j", "us", "-y", "2024"])
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert f"row 4 verifies but its event cannot be read (payload: not a JSON object but {shown})" in out.output


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.text(), st.text(), st.text(), st.text(), st.integers(1, 10**12)), min_size=1,
                max_size=5), st.text(), st.text(), st.text())
def test_chunk_hashes_equal_the_reference_definition(rows, actor, reason, at):
    prevs = [GENESIS if i == 0 else "f" * 64 for i in range(len(rows))]
    keys, kinds, times, payloads, seqs = (list(col) for col in zip(*rows))
    assert _chunk_hashes(actor, reason, at, prevs, seqs, keys, kinds, times, payloads) == tuple(
        row_hash(prev, {"seq": seq, "natural_key": key, "kind": kind, "time": time, "payload": payload,
                        "actor": actor, "reason": reason, "recorded_at": at})
        for prev, key, kind, time, payload, seq in zip(prevs, keys, kinds, times, payloads, seqs))


def test_effective_events_is_a_new_list_and_applies_reversals_only_when_there_are_some():
    events = random_events(3, 40)
    plain = [e for e in events if not isinstance(e, Reversal)]
    kept = effective_events(plain)
    assert kept == plain and kept is not plain
    target = plain[0]
    rev = Reversal(time=T0, source="manual", target_key=target.natural_key, reason="wrong")
    assert effective_events([*plain, rev]) == plain[1:]


def test_a_trade_whose_fee_leaves_nothing_received_is_one_line_not_a_traceback(tmp_path):
    from click.testing import CliRunner

    from taxreport.cli.main import root

    db = str(tmp_path / "l.sqlite3")
    with Ledger(f"sqlite:///{db}") as led:  # valid as an event (fee and quantity positive), impossible as legs
        led.append([Deposit(time=T0, source="manual", external_id="d", account="a", asset="BTC", quantity=Decimal(1),
                            cost=Decimal(1), cost_currency="USD"),
                    Trade(time=T0 + timedelta(days=1), source="csv", external_id="1", account="a", side="sell",
                          base="BTC", quote="USD", quantity=Decimal("0.1"), price=Decimal("10"), fee=Decimal("5"),
                          fee_asset="USD")], actor="importer:test", reason="x")
    result = CliRunner().invoke(root, ["--db", db, "gains", "-j", "us", "-y", "2022"])
    assert result.exit_code == 1
    assert result.output.strip() == ("error: fee: the quote received after the fee would be -4.0 in trade "
                                     "trade:csv:1"), result.output
    assert "Traceback" not in result.output
