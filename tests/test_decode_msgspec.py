"""The ledger read's msgspec decode (:func:`taxreport.model.codec.decode_payloads`, issue 14 round 6) builds exactly
what main's decode built before it (kept verbatim in tests/reference_decode_payloads.py): the same classes (never a
subclass), every field equal and of the same type, Decimals with the same text (exponent kept), times whose zone is
``timezone.utc`` itself, the same enum members, the shared texts interned (``sys.intern``'s object); and, for a text
that does not decode, the same exception with the same message. Checked over seeded random ledgers of every kind in
runs and mixed chunks, and over a list of hand-written payloads each built to catch one way msgspec could read a
payload differently (numbers where texts are stored, keys extra, missing or repeated, another kind, other times,
escapes, surrogates, NaN, huge exponents, null, whitespace, a text holding two objects...)."""

from __future__ import annotations

import json
import random
import re
import sys
from datetime import timezone
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Callable

import pytest

from taxreport.model import codec
from taxreport.model.codec import decode_payloads, payload_json
from taxreport.model.events import EVENT_TYPES, Event, Record, Trade
from tests.test_read_path import random_events

sys.path.insert(0, str(Path(__file__).parent))
import reference_decode_payloads as reference  # noqa: E402 - the oracle beside this file


def _same(got: list[Event], want: list[Event]) -> None:
    """Field by field: class, type, value, text, and the identities the read gives (UTC, interned texts, members)."""
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want)):
        assert type(a) is type(b), (i, type(a), type(b))
        for name in a.__dataclass_fields__:
            x, y = getattr(a, name), getattr(b, name)
            assert type(x) is type(y) and str(x) == str(y) and repr(x) == repr(y), (i, name, x, y)
            if isinstance(x, Decimal):  # same sign, digits and exponent (NaN included, which == refuses)
                assert x.compare_total(y) == 0, (i, name, x, y)
            else:
                assert x == y, (i, name, x, y)
            if hasattr(x, "tzinfo"):
                assert x.tzinfo is y.tzinfo, (i, name, x.tzinfo, y.tzinfo)
            if isinstance(x, Enum):
                assert x is y, (i, name)
            if name in codec._SHARED_TEXT and type(x) is str:  # interned as before (or not, as before)
                interned = sys.intern("".join(list(x)))  # (a new copy: interning it never makes x or y interned)
                assert (x is interned) == (y is interned), (i, name, x)


def _outcome(decode: Callable[[list[str]], list[Event]], texts: list[str]) -> tuple[str, Any]:
    try:
        return "events", decode(texts)
    except Exception as exc:  # noqa: BLE001 - what each raises is compared
        return "error", (type(exc), str(exc))


_NOT_AN_OBJECT = re.compile(r"'(\w+)' object has no attribute 'get'")


def _expected(outcome: tuple[str, Any]) -> tuple[str, Any]:
    """The reference's outcome as the decode gives it now: one deliberate change since round 6. A payload that is
    a JSON value but not an object (``1``, ``"x"``, ``null``, a list) raised AttributeError from ``payload.get``,
    which the ledger read does not take for an undecodable row (a traceback); it is now the ValueError every
    payload that is not an event gets, naming what it is."""
    if outcome[0] == "error" and outcome[1][0] is AttributeError:
        found = _NOT_AN_OBJECT.fullmatch(outcome[1][1])
        if found:
            return "error", (ValueError, f"payload: not a JSON object but {found.group(1)}")
    return outcome


def _check(texts: list[str]) -> tuple[str, Any]:
    """The new decode of ``texts`` against the reference: the same events, or the same exception and message
    (but :func:`_expected`)."""
    new, old = _outcome(decode_payloads, texts), _expected(_outcome(reference.decode_payloads, texts))
    assert new[0] == old[0], (new, old)
    if new[0] == "events":
        _same(new[1], old[1])
    else:
        assert new[1] == old[1]
    return new


@pytest.mark.parametrize("seed", range(6))
def test_random_ledgers_of_every_kind_decode_as_before_in_runs_and_mixed_chunks(seed):
    events = random_events(seed, 300)
    texts = [payload_json(e) for e in events]
    rng = random.Random(seed)
    # mixed chunks (every kind in turn), runs of one kind (sorted by kind), and chunks of every size
    by_kind = sorted(texts, key=lambda t: json.loads(t)["kind"])
    for chunk in (texts, by_kind, texts[:1], by_kind[:40], by_kind[-57:]):
        kind, got = _check(chunk)
        assert kind == "events"
    at = 0
    while at < len(by_kind):
        size = rng.randint(1, 60)
        _check(by_kind[at:at + size])
        at += size


def _no_comma_in_texts(events: list[Event]) -> list[Event]:
    """(a comma inside a text sends its run to today's decode: see codec._Reader.read)"""
    return [e for e in events if not any(type(v) is str and "," in v
                                         for v in (getattr(e, f) for f in e.__dataclass_fields__))]


def test_the_msgspec_read_is_used_for_every_trusted_kind_but_record(monkeypatch):
    """Not a test that passes by falling back: canonical runs of each kind never reach today's decode."""
    events = _no_comma_in_texts(random_events(3, 400))
    texts = [payload_json(e) for e in events]
    slow: list[int] = []
    before = codec._decode_as_before
    monkeypatch.setattr(codec, "_decode_as_before", lambda t: slow.append(len(t)) or before(t))
    for kind, cls in EVENT_TYPES.items():
        run = [t for t, e in zip(texts, events) if type(e) is cls]
        assert run, kind
        slow.clear()
        _same(decode_payloads(run), reference.decode_payloads(run))
        assert slow == ([len(run)] if cls is Record else []), kind
    assert set(codec._readers()) == set(EVENT_TYPES) - {"record"}


def test_the_shared_texts_are_the_interned_objects_even_when_first_seen(monkeypatch):
    monkeypatch.setattr(codec, "_VOCABULARY", {})  # nothing known yet: the first run learns its values
    names = ["".join(random.Random(i).choice("QWXZ") for _ in range(6)) + "X" for i in range(20)]
    trades = [Trade(time=random_events(0, 1)[0].time, source="csv" + n, account="acct:" + n, side="buy", base=n,
                    quote="USD", quantity=Decimal("1.50"), price=Decimal("2"), fee=Decimal("0.10"),
                    fee_asset="USD") for n in names]
    texts = [payload_json(t) for t in trades]
    got = decode_payloads(texts)
    _same(got, reference.decode_payloads(texts))
    assert [e.base for e in got] == [sys.intern(n) for n in names]
    assert all(e.account is sys.intern("acct:" + n) for e, n in zip(got, names))
    assert str(got[0].quantity) == "1.5"  # (the writer's canonical text: decimal_str drops the trailing zero)


def test_a_full_vocabulary_leaves_new_values_to_todays_decode(monkeypatch):
    monkeypatch.setattr(codec, "_VOCABULARY", {})
    monkeypatch.setattr(codec, "_VOCABULARY_CAP", 3)
    events = _no_comma_in_texts(random_events(5, 200))
    texts = [payload_json(e) for e in events]
    _check(texts)
    _check(sorted(texts, key=lambda t: json.loads(t)["kind"]))


# --- hand-written payloads -------------------------------------------------------------------------------------------

_TRADE = ('{"account":"okx:main","base":"BTC","external_id":"t1","fee":"0.5","fee_asset":"USD","kind":"trade",'
          '"note":"","order_id":null,"price":"35460","quantity":"0.29619967","quote":"USD","side":"buy",'
          '"source":"csv","time":"2022-01-01T00:00:00.000000Z"}')
_DEPOSIT = ('{"account":"okx:main","acquired_at":null,"asset":"BTC","cost":"100.5","cost_currency":"USD",'
            '"external_id":null,"kind":"deposit","note":"","quantity":"1.25","source":"manual",'
            '"time":"2022-01-02T00:00:00.000000Z"}')
_ACCOUNT = ('{"account":"paper:bot","external_id":"acct1","kind":"account","note":"","simulated":true,'
            '"source":"paper","time":"2022-01-02T00:00:00.000000Z","venue":"paper"}')


def _with(base: str, key: str, value: str) -> str:
    """``base`` with ``key``'s JSON value text replaced by ``value`` (the key kept where it is)."""
    head, sep, tail = base.partition(f'"{key}":')
    assert sep, key
    rest = json.JSONDecoder().raw_decode(tail)[1]
    return head + sep + value + tail[rest:]


def _without(base: str, key: str) -> str:
    data = json.loads(base)
    del data[key]
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


ODD = {
    # numbers, null, booleans where the payload stores texts
    "price float": _with(_TRADE, "price", "0.1"), "price 1.5": _with(_TRADE, "price", "1.5"),
    "price int": _with(_TRADE, "price", "7"), "price -0": _with(_TRADE, "price", "-0"),
    "price exponent": _with(_TRADE, "price", "1E2"), "price 1.50": _with(_TRADE, "price", "1.50"),
    "price huge number": _with(_TRADE, "price", "1e400"), "price NaN literal": _with(_TRADE, "price", "NaN"),
    "price Infinity literal": _with(_TRADE, "price", "Infinity"), "price null": _with(_TRADE, "price", "null"),
    "fee true": _with(_TRADE, "fee", "true"), "note number": _with(_TRADE, "note", "5"),
    "note null": _with(_TRADE, "note", "null"), "account number": _with(_TRADE, "account", "5"),
    "account null": _with(_TRADE, "account", "null"), "external_id number": _with(_TRADE, "external_id", "12"),
    "side null": _with(_TRADE, "side", "null"), "time null": _with(_TRADE, "time", "null"),
    "time number": _with(_TRADE, "time", "1640995200"), "simulated 1": _with(_ACCOUNT, "simulated", "1"),
    "simulated text": _with(_ACCOUNT, "simulated", '"true"'), "cost number": _with(_DEPOSIT, "cost", "100.5"),
    # Decimal texts
    "price text NaN": _with(_TRADE, "price", '"NaN"'), "price text sNaN": _with(_TRADE, "price", '"sNaN"'),
    "price text Infinity": _with(_TRADE, "price", '"-Infinity"'),
    "price text huge exponent": _with(_TRADE, "price", '"1e999999999"'),
    "price text too huge": _with(_TRADE, "price", '"1e9999999999999999999"'),
    "price text 1.50": _with(_TRADE, "price", '"1.50"'), "price text 1E+2": _with(_TRADE, "price", '"1E+2"'),
    "price text spaces": _with(_TRADE, "price", '" 1.5 "'), "price text underscore": _with(_TRADE, "price", '"1_000"'),
    "price text empty": _with(_TRADE, "price", '""'), "price text word": _with(_TRADE, "price", '"abc"'),
    "price text -0": _with(_TRADE, "price", '"-0"'), "fee text 0E-8": _with(_TRADE, "fee", '"0E-8"'),
    "price text escaped": _with(_TRADE, "price", '"\\u0031.5"'), "cost text NaN": _with(_DEPOSIT, "cost", '"NaN"'),
    # keys extra, missing, repeated; another kind
    "extra key": _TRADE[:-1] + ',"extra":"x"}', "extra key first": '{"aaa":"x",' + _TRADE[1:],
    "extra nested object": _TRADE[:-1] + ',"x":{"a":"b","c":"d"}}', "extra array": _TRADE[:-1] + ',"x":[1,2]}',
    "extra key spaced": _TRADE[:-1] + ' , "x" : 1 }', "extra key NaN": _TRADE[:-1] + ',"x":NaN}',
    "extra kind-like key": _TRADE.replace('"kind":"trade"', '"kind":"trade","x\\"kind":"trade"'),
    "missing note": _without(_TRADE, "note"), "missing fee": _without(_TRADE, "fee"),
    "missing kind": _without(_TRADE, "kind"), "missing time": _without(_TRADE, "time"),
    "missing simulated": _without(_ACCOUNT, "simulated"), "missing acquired_at": _without(_DEPOSIT, "acquired_at"),
    "duplicate kind": _TRADE.replace('"kind":"trade",', '"kind":"trade","kind":"trade",'),
    "duplicate kind other": _TRADE.replace('"kind":"trade",', '"kind":"deposit","kind":"trade",'),
    "duplicate kind other last": _TRADE.replace('"kind":"trade",', '"kind":"trade","kind":"deposit",'),
    "duplicate fee": _TRADE.replace('"fee":"0.5",', '"fee":"0.5","fee":"0.7",'),
    "duplicate fee instead of price": _without(_TRADE, "price").replace('"fee":"0.5",', '"fee":"0.5","fee":"0.7",'),
    "kind deposit with trade fields": _TRADE.replace('"kind":"trade"', '"kind":"deposit"'),
    "kind upper": _TRADE.replace('"kind":"trade"', '"kind":"TRADE"'),
    "kind escaped": _TRADE.replace('"kind":"trade"', '"kind":"tr\\u0061de"'),
    "kind key escaped": _TRADE.replace('"kind":"trade"', '"k\\u0069nd":"trade"'),
    "kind unknown": _TRADE.replace('"kind":"trade"', '"kind":"swap"'),
    "kind number": _TRADE.replace('"kind":"trade"', '"kind":1'),
    "trade fields in a deposit": _DEPOSIT[:-1] + ',"base":"BTC","side":"buy"}',
    "kind in a note": _with(_DEPOSIT, "note", '"x,\\"kind\\":\\"trade\\",y"'),
    "keys unsorted": json.dumps(dict(reversed(list(json.loads(_TRADE).items()))), separators=(",", ":")),
    "pretty printed": json.dumps(json.loads(_TRADE), indent=2, sort_keys=True),
    "spaced": json.dumps(json.loads(_TRADE), sort_keys=True),
    # times
    "time +01:00": _with(_TRADE, "time", '"2022-01-01T01:00:00.000000+01:00"'),
    "time -00:00": _with(_TRADE, "time", '"2022-01-01T00:00:00.000000-00:00"'),
    "time +0000": _with(_TRADE, "time", '"2022-01-01T00:00:00.000000+0000"'),
    "time +00": _with(_TRADE, "time", '"2022-01-01T00:00:00.000000+00"'),
    "time 7 digits up": _with(_TRADE, "time", '"2022-01-01T00:00:00.1234565Z"'),
    "time 7 digits carry": _with(_TRADE, "time", '"2022-12-31T23:59:59.9999996Z"'),
    "time no fraction": _with(_TRADE, "time", '"2022-01-01T00:00:00Z"'),
    "time lower z": _with(_TRADE, "time", '"2022-01-01T00:00:00.000000z"'),
    "time lower t": _with(_TRADE, "time", '"2022-01-01t00:00:00.000000Z"'),
    "time space": _with(_TRADE, "time", '"2022-01-01 00:00:00.000000Z"'),
    "time naive": _with(_TRADE, "time", '"2022-01-01T00:00:00.000000"'),
    "time date only": _with(_TRADE, "time", '"2022-01-01"'), "time leap second": _with(_TRADE, "time", '"2022-12-31T23:59:60Z"'),
    "time comma fraction": _with(_TRADE, "time", '"2022-01-01T00:00:00,5Z"'),
    "time basic format": _with(_TRADE, "time", '"20220101T000000Z"'),
    "time year 1": _with(_TRADE, "time", '"0001-01-01T00:00:00.000000Z"'),
    "time spaces": _with(_TRADE, "time", '" 2022-01-01T00:00:00.000000Z"'),
    "time text NaN": _with(_TRADE, "time", '"NaN"'),
    "acquired_at +05:30": _with(_DEPOSIT, "acquired_at", '"2021-06-01T05:30:00.000000+05:30"'),
    "acquired_at 7 digits": _with(_DEPOSIT, "acquired_at", '"2021-06-01T00:00:00.0000005Z"'),
    # strings: escapes, surrogates, control characters, non-ASCII, commas and brackets
    "note escapes": _with(_TRADE, "note", '"\\u0041\\"\\\\\\/\\n\\t\\b\\f\\r"'),
    "note pair": _with(_TRADE, "note", '"\\ud834\\udd1e"'), "note lone surrogate": _with(_TRADE, "note", '"\\ud800"'),
    "note lone low surrogate": _with(_TRADE, "note", '"a\\udc00b"'),
    "note raw surrogate": _with(_TRADE, "note", '"\ud800"'), "note raw control": _with(_TRADE, "note", '"a\x01b"'),
    "note NUL": _with(_TRADE, "note", '"\\u0000"'), "note non-ASCII": _with(_TRADE, "note", '"é ✓ 𝄞"'),
    "note comma": _with(_TRADE, "note", '"a, b"'), "note brackets": _with(_TRADE, "note", '"[x] {y}"'),
    "note U+2028": _with(_TRADE, "note", '"\u2028"'),
    "base lower": _with(_TRADE, "base", '"btc"'), "base escaped": _with(_TRADE, "base", '"B\\u0054C"'),
    "base non-ASCII": _with(_TRADE, "base", '"ÉTH"'), "account spaces": _with(_TRADE, "account", '" okx "'),
    "side upper": _with(_TRADE, "side", '"BUY"'), "side other": _with(_TRADE, "side", '"short"'),
    "side escaped": _with(_TRADE, "side", '"s\\u0065ll"'),
    # texts that are not one payload
    "two objects": _TRADE + "," + _TRADE, "object then garbage": _TRADE + "x", "array": "[" + _TRADE + "]",
    "number": "1", "string": '"trade"', "null": "null", "empty object": "{}", "not json": "not json",
    "truncated": _TRADE[:-1], "open": _TRADE[:-1] + ',"x":{', "leading space": " " + _TRADE,
    "BOM": "\ufeff" + _TRADE, "trailing comma": _TRADE[:-1] + ",}",
    # a Record (today's decode) with numbers in its data
    "record": ('{"account":null,"data":{"kind":"trade","n":0.1,"q":"1.50","x":[1,2e400]},"external_id":null,'
               '"kind":"record","note":"","order_id":null,"record_type":"x.y","source":"rebalancer",'
               '"time":"2022-01-01T00:00:00.000000Z"}'),
}


@pytest.mark.parametrize("name", list(ODD))
def test_an_odd_payload_decodes_as_before_alone_and_inside_a_run(name):
    odd = ODD[name]
    good = [_with(_TRADE, "external_id", f'"t{i}"') for i in range(40)]
    _check([odd])
    _check(good[:17] + [odd] + good[17:])  # in the middle of a run of trades: the run is halved around it
    _check([odd] + good)
    _check(good + [odd])
    _check([_DEPOSIT, odd, _ACCOUNT, odd, _DEPOSIT])


def test_the_odd_payloads_cover_both_outcomes():
    """The list holds payloads today's decode reads (differently from what msgspec alone would) and ones it
    refuses: both paths are compared."""
    outcomes = {name: _check([text])[0] for name, text in ODD.items()}
    assert "events" in outcomes.values() and "error" in outcomes.values()
    assert outcomes["price float"] == "events" and str(decode_payloads([ODD["price float"]])[0].price) \
        == str(Decimal(0.1))  # today's: Decimal of orjson's float, not Decimal("0.1")
    assert decode_payloads([ODD["time 7 digits up"]])[0].time.microsecond == 123456  # truncated, as fromisoformat
    assert decode_payloads([ODD["time +01:00"]])[0].time.tzinfo is timezone.utc
    assert outcomes["duplicate kind other last"] == "error" and outcomes["missing kind"] == "error"


def test_an_undecodable_payload_raises_what_it_raised_before():
    good = [_with(_TRADE, "external_id", f'"t{i}"') for i in range(30)]
    for bad in ("not json", _TRADE[:-1], "1", '{"kind":"nope"}', ODD["kind deposit with trade fields"],
                ODD["price text word"], ODD["time naive"]):
        for texts in ([bad], good + [bad], good[:3] + [bad] + good, [bad] + good):
            kind, (exc_type, message) = _check(texts)  # the same type and message as before (but "1": a
            assert kind == "error" and message, bad       # ValueError now, where it was AttributeError: _expected)
            assert exc_type is not AttributeError


def test_a_text_failing_the_checks_alone_is_read_by_todays_decode_and_the_rest_by_msgspec(monkeypatch):
    good = [_with(_TRADE, "external_id", f'"t{i}"') for i in range(100)]
    odd = [ODD["note comma"], ODD["note brackets"], ODD["kind deposit with trade fields"].replace('"t1"', '"z"')]
    texts = good[:10] + odd[:2] + good[10:60] + odd[2:] + good[60:]
    slow: list[list[str]] = []
    before = codec._decode_as_before
    monkeypatch.setattr(codec, "_decode_as_before", lambda t: slow.append(list(t)) or before(t))
    kind, events = _check(texts)
    assert kind == "error"  # (the deposit with a trade's fields: today's decode refuses it, for the whole chunk)
    slow.clear()
    texts = good[:10] + odd[:2] + good[10:60] + [odd[0]] + good[60:]
    _same(decode_payloads(texts), reference.decode_payloads(texts))
    assert slow == [odd[:2], [odd[0]]]  # only the odd texts, grouped where they follow each other
