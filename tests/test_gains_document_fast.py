"""The per-disposal text writer of the ``gains --format json`` document (taxreport/cli/gains_document.py, used by
``document_pieces``) writes exactly the bytes main's writer wrote (a dict per disposal and per lot, encoded by
orjson and re-indented), kept verbatim as the oracle in tests/reference_gains_document.py: over the seeded random
ledgers of every country and method (tests/test_gains_years_differential.py), in blocks of 1, 3 and 4096 disposals,
and over disposals edited to hold what a real ledger may: names with quotes, backslashes, control characters,
non-ASCII text, times in other zones and with microseconds, adjustments, no lots, pooled lots. A value of a type
the fields do not declare goes to the general writer (same bytes, or the same error); a lone surrogate raises what
it raised before."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import orjson
import pytest

import reference_gains_document as reference
from taxreport.cli import gains_cmd
from taxreport.cli.gains_document import _ESCAPED, DisposalWriter
from taxreport.errors import TaxreportError
from taxreport.gains import GainsRequest, compute_request

from test_gains_years_differential import MAIN_50952BB, _rates, ledger, main_case
from test_gains_years_differential import _standard_decimal_context  # noqa: F401 - autouse (see there)


def _both(summary) -> tuple[bytes, bytes]:  # noqa: ANN001
    return b"".join(gains_cmd.document_pieces(summary)), b"".join(reference.document_pieces(summary))


@pytest.fixture(params=[1, 3, 4096])
def per_piece(request, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setattr(gains_cmd, "DISPOSALS_PER_PIECE", request.param)
    monkeypatch.setattr(reference, "DISPOSALS_PER_PIECE", request.param)
    return request.param


@pytest.mark.parametrize("key", sorted(MAIN_50952BB, key=repr))
def test_every_country_and_method_byte_for_byte(key, per_piece):
    years, found = main_case(key)
    written = 0
    for y in years:
        s = found[y]
        if isinstance(s, TaxreportError):
            continue
        new, old = _both(s)
        assert new == old
        written += len(s.disposals)
    assert written > 0


ODD = ['plain', 'say "hi"', 'back\\slash', 'tab\there', 'new\nline', 'nul\x00', 'bell\x07', 'unit\x1f', 'del\x7f',
       'café', '中文', 'emoji 😀', 'ls\u2028ps\u2029', '', ' ', '\\"', 'ä\x01\\"x']
ZONES = [timezone.utc, ZoneInfo("America/Los_Angeles"), ZoneInfo("Australia/Sydney"), timezone(timedelta(hours=5, minutes=30))]


def _odd(summary, rng: random.Random):  # noqa: ANN001, ANN202
    """``summary`` with each disposal and lot given odd names, other zones, microseconds, adjustments, no lots."""
    out = []
    for d in summary.disposals:
        lots = tuple(replace(m, account=rng.choice(ODD + [None]), lot_ref=rng.choice(ODD + [None, m.lot_ref]),
                             rule=rng.choice(ODD), acquired_at=None if m.acquired_at is None or rng.random() < 0.2
                             else m.acquired_at.astimezone(rng.choice(ZONES)).replace(microsecond=rng.randrange(3) * 7))
                     for m in d.lots)
        out.append(replace(
            d, account=rng.choice(ODD), asset=rng.choice(ODD), term=rng.choice(ODD + [None]), rule=rng.choice(ODD),
            event_key=rng.choice(ODD + [d.event_key]), role=rng.choice(ODD),
            time=d.time.astimezone(rng.choice(ZONES)).replace(microsecond=rng.choice([0, 1, 999999])),
            exempt=rng.random() < 0.5, lots=() if rng.random() < 0.15 else lots,
            quantity=rng.choice([d.quantity, Decimal("0E-8"), Decimal("-0"), Decimal("1E+3"), Decimal("1.2300"),
                                 Decimal("123456789012345678901234567890.123456789")]),
            adjustment=rng.choice([Decimal(0), Decimal("12.345"), Decimal("-0.005")]),
            adjustment_code=rng.choice(["", "", "W", 'odd "code"\n'])))
    return replace(summary, disposals=out)


def _written(key):  # noqa: ANN001, ANN202
    """The summaries of ``key``'s years that have disposals to write."""
    years, found = main_case(key)
    return [found[y] for y in years if not isinstance(found[y], TaxreportError) and found[y].disposals]


@pytest.mark.parametrize("key", sorted(MAIN_50952BB, key=repr)[::3])
def test_odd_strings_zones_adjustments_and_empty_lots(key, per_piece):
    rng = random.Random(repr(key))
    for s in _written(key):
        odd = _odd(s, rng)
        new, old = _both(odd)
        assert new == old
        assert DisposalWriter().block(odd.disposals) is not None  # written by the text writer, not the fallback


@pytest.mark.parametrize("key", sorted(MAIN_50952BB, key=repr)[1::5])
def test_past_the_memo_strings_and_times_are_written_the_same(key, monkeypatch):
    """A writer keeps at most ``_MEMO`` strings and times; once full, its memo is dropped and started again (a
    1M-trade year has ~330,000 different lot references and acquisition times): the same bytes either way."""
    from taxreport.cli import gains_document

    monkeypatch.setattr(gains_document, "_MEMO", 2)
    rng = random.Random(repr(key))
    for s in _written(key):
        for summary in (s, _odd(s, rng)):
            writer = DisposalWriter()
            assert writer.block(summary.disposals) is not None
            assert len(writer.strings) <= 2 and len(writer.times) <= 2
            new, old = _both(summary)
            assert new == old


def test_the_plain_ascii_test_agrees_with_the_escaped_characters():
    """``DisposalWriter.text``'s first test (ASCII, printable, no quotation mark, no reverse solidus) accepts only
    strings ``_ESCAPED`` finds nothing in: for every ASCII character, and a sample of longer strings."""
    for c in range(128):
        ch = chr(c)
        if ch.isascii() and ch.isprintable() and ch not in '"\\':
            assert _ESCAPED.search(ch) is None
        assert DisposalWriter().text(f"a{ch}b") == orjson.dumps(f"a{ch}b").decode()


def test_every_character_orjson_writes_as_it_is_is_written_as_it_is():
    """The writer writes a string with no character of ``_ESCAPED`` between quotes as it is: for every code point
    (surrogates apart), orjson agrees; and every code point ``_ESCAPED`` holds is one orjson escapes or refuses."""
    plain = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and not _ESCAPED.match(chr(c)))
    assert orjson.dumps(plain).decode() == f'"{plain}"'
    for c in range(0x110000):
        if _ESCAPED.match(chr(c)) and not 0xD800 <= c <= 0xDFFF:
            assert orjson.dumps(chr(c)).decode() != f'"{chr(c)}"'


def _summary():  # noqa: ANN202
    return compute_request(ledger(1), _rates(random.Random(1), None), GainsRequest("us", "2023"))


@pytest.mark.parametrize("field,value", [
    ("exempt", 0), ("exempt", 1), ("term", 5), ("account", ["a", "list"]), ("time", "2023-01-01"),
    ("time", None), ("lots", None), ("lots", []), ("quantity", 1.5), ("proceeds", Decimal("NaN")),
    ("asset", "BTC"), ("role", None),
])
def test_a_value_of_another_type_is_written_or_refused_as_before(field, value):
    s = _summary()
    bad = replace(s, disposals=[s.disposals[0], replace(s.disposals[1], **{field: value}), *s.disposals[2:]])
    try:
        old = b"".join(reference.document_pieces(bad))
    except Exception as exc:  # noqa: BLE001 - whatever it raised, the new writer raises the same
        with pytest.raises(type(exc)) as got:
            b"".join(gains_cmd.document_pieces(bad))
        assert str(got.value) == str(exc)
    else:
        assert b"".join(gains_cmd.document_pieces(bad)) == old


def test_a_lone_surrogate_raises_what_it_raised_before():
    s = _summary()
    for field in ("account", "event_key", "adjustment_code"):
        odd = replace(s, disposals=[s.disposals[0], replace(s.disposals[1], **{field: "kraken\ud800"}),
                                    *s.disposals[2:]])
        with pytest.raises(UnicodeEncodeError) as old:
            b"".join(reference.document_pieces(odd))
        with pytest.raises(UnicodeEncodeError) as new:
            b"".join(gains_cmd.document_pieces(odd))
        assert str(new.value) == str(old.value)
    m = s.disposals[1].lots[0]
    odd = replace(s, disposals=[replace(s.disposals[1], lots=(replace(m, lot_ref="x\udfff"),))])
    with pytest.raises(UnicodeEncodeError):
        b"".join(gains_cmd.document_pieces(odd))
    with pytest.raises(UnicodeEncodeError):
        b"".join(reference.document_pieces(odd))


def test_a_naive_time_is_written_as_before():
    s = _summary()
    odd = replace(s, disposals=[replace(d, time=datetime(2023, 5, 1, 12, 30)) for d in s.disposals[:5]])
    new, old = _both(odd)
    assert new == old
