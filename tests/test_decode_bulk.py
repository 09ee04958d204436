"""The bulk decode of stored payloads (:func:`taxreport.model.codec.decode_payloads`, issue 14: orjson where it
agrees with ``json.loads``) builds exactly what the validating decoder builds from ``json.loads`` of each payload:
same types, Decimal texts, time zones; Records whose data hold floats, big and small integers; payloads of an
older shape; and the same error as ``json.loads`` for a text that is not JSON."""

from __future__ import annotations

import json

import pytest

from taxreport.model.codec import decode_payloads, event_from_payload, payload_json, trusted_event
from tests.test_read_path import random_events
from tests.test_read_worker import _same_fields


def _reference(texts: list[str]) -> list:
    return [event_from_payload(json.loads(t)) for t in texts]


def _before(texts: list[str]) -> list:
    """decode_payloads as it was before orjson: json.loads, then the trusted builders."""
    return [trusted_event(p) for p in json.loads("[" + ",".join(texts) + "]")]


@pytest.mark.parametrize("seed", range(4))
def test_bulk_decode_equals_the_validating_decoder_for_random_events_of_every_kind(seed):
    events = random_events(seed, 80)
    texts = [payload_json(e) for e in events]
    got = decode_payloads(texts)
    assert got == _reference(texts) == events
    _same_fields(got, _reference(texts))


def test_records_with_numbers_are_read_by_json_loads():
    base = json.loads(payload_json(next(e for e in random_events(0, 11) if e.kind == "record")))
    assert base["kind"] == "record"
    texts = []
    for number in ("0.1", "1e400", "-0.0", "123456789012345678901234567890", "17", "2.5e-320", "NaN"):
        # a Record's data as an older writer might have left it (numbers, not texts): json.loads's values, exactly
        texts.append(json.dumps(base | {"data": {"x": "__N__"}}, sort_keys=True, separators=(",", ":"))
                     .replace('"__N__"', number))
    for text in texts:  # each alone: the same event (or the same error) as before
        assert _outcome(lambda t=text: decode_payloads([t])[0]) == _outcome(lambda t=text: _before([t])[0]), text
    assert len({_outcome(lambda t=t: _before([t])[0])[0] for t in texts}) == len(texts)  # all different


def _outcome(fn):  # noqa: ANN001, ANN202
    try:
        ev = fn()
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__, str(exc)
    return (repr(dict(ev.data)), [type(v) for v in ev.data.values()])


def test_a_payload_of_an_older_shape_is_rebuilt_by_the_validating_decoder():
    payload = json.loads(payload_json(random_events(1, 1)[0]))
    del payload["note"]
    text = json.dumps(payload)
    texts = [text, payload_json(random_events(1, 1)[0])]
    assert decode_payloads(texts) == _reference(texts) == _before(texts)


@pytest.mark.parametrize("bad", ['not json', '{"kind":"trade",', '{"a":1},{"b":2}', '1', '[]', '{"kind":"nope"}'])
def test_a_text_that_is_not_a_payload_fails_as_before(bad):
    good = payload_json(random_events(2, 1)[0])
    with pytest.raises(Exception) as new:
        decode_payloads([good, bad])
    with pytest.raises(Exception) as old:
        _before([good, bad])
    assert type(new.value) is type(old.value) and str(new.value) == str(old.value)
