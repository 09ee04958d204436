"""The block writer of the ``gains --format json`` document (taxreport/cli/gains_document.py: columns, msgspec's
encoder and ``msgspec.json.format``, used by ``document_pieces``) writes exactly the bytes main's writer wrote (a
dict per disposal and per lot, encoded by orjson and re-indented), kept verbatim as the oracle in
tests/reference_gains_document.py: over the seeded random ledgers of every country and method, with and without a
--timezone (tests/test_gains_years_differential.py, and more seeds and zones here), in blocks of 1, 3 and 4096
disposals; over disposals edited to hold what a real ledger may (names with quotes, backslashes, control
characters, non-ASCII text, times in other zones, naive, with microseconds or a fold, adjustments, no lots, pooled
lots, quantities with exponents, trailing zeros, 900 digits, NaN); over every code point msgspec writes in a string
(as orjson does); and over values Hypothesis makes. A value of a type the fields do not declare goes to the general
writer (same bytes, or the same error); a lone surrogate raises what it raised before."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference_gains_document as reference
from taxreport.cli import gains_cmd
from taxreport.cli.gains_document import DisposalWriter
from taxreport.errors import TaxreportError
from taxreport.gains import GainsRequest, compute_request, compute_request_years

from test_gains_years_differential import MAIN_50952BB, _rates, _years, ledger, main_case
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


@pytest.mark.parametrize("code", ["us", "uk", "de", "au", "ca"])
@pytest.mark.parametrize("tz", [None, "Pacific/Kiritimati", "Australia/Sydney"])
def test_more_seeded_ledgers_of_every_country_and_zone(code, tz, per_piece):
    """Seeds and zones the pinned cases above do not hold (longer ledgers: more disposals per year, more lots per
    disposal), every year of each, each written by the block writer and not by the general writer."""
    for seed in (3, 4):
        table = _rates(random.Random(seed), None)
        events = ledger(seed, 400)
        years = _years(code)
        found = compute_request_years(events, table, GainsRequest(code, "2022", timezone=tz), years)
        written = 0
        for y in years:
            s = found[y]
            if isinstance(s, TaxreportError) or not s.disposals:
                continue
            assert DisposalWriter().block(s.disposals) is not None
            new, old = _both(s)
            assert new == old
            written += len(s.disposals)
        assert written > 0


def _strings_of(text: str) -> tuple[bytes, bytes]:
    """``text`` as a value of a list in a list, laid out by msgspec (encode, then format) and by orjson."""
    return msgspec.json.format(msgspec.json.encode([[text]]), indent=2), orjson.dumps([[text]], option=orjson.OPT_INDENT_2)


def test_every_code_point_is_written_in_a_string_as_orjson_writes_it():
    """msgspec's encoder and ``format`` write every code point (surrogates apart: both refuse a lone one) in a string
    as orjson writes it: the short escapes, ``\\u00XX`` (lower-case hex) for the other control characters, DEL,
    U+2028/U+2029 and all other non-ASCII text as it is."""
    for start in range(0, 0x110000, 0x1000):
        chunk = "".join(chr(c) for c in range(start, start + 0x1000) if not 0xD800 <= c <= 0xDFFF)
        new, old = _strings_of(chunk)
        assert new == old
    for c in range(0x80):  # each ASCII character alone, and beside others
        new, old = _strings_of(f"a{chr(c)}b{chr(c)}")
        assert new == old
    for c in (0xD800, 0xDBFF, 0xDC00, 0xDFFF):
        with pytest.raises(UnicodeEncodeError):
            msgspec.json.encode(f"x{chr(c)}")
        with pytest.raises(orjson.JSONEncodeError):
            orjson.dumps(f"x{chr(c)}")


def test_empty_lists_nested_objects_and_null_are_laid_out_as_orjson_lays_them_out():
    value = [[{"a": [], "b": {}, "c": None, "d": [{"e": True, "f": [1, "x"]}], "g": False}], []]
    assert msgspec.json.format(msgspec.json.encode(value), indent=2) == orjson.dumps(value, option=orjson.OPT_INDENT_2)


def test_a_time_in_utc_is_written_as_json_default_writes_it():
    """msgspec writes a datetime in UTC as ``_json_default`` does (isoformat, ``Z`` for ``+00:00``): whole seconds,
    microseconds, years below 1000 and the last one."""
    from taxreport.cli.common import _json_default

    rng = random.Random(7)
    times = [datetime(1, 1, 1, tzinfo=timezone.utc), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)]
    times += [datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.randrange(-10**10, 10**11),
                                                                    microseconds=rng.choice([0, 1, 10, 500000, rng.randrange(10**6)]))
              for _ in range(5000)]
    assert msgspec.json.encode(times) == orjson.dumps([_json_default(t) for t in times])


def test_two_times_equal_in_their_zone_but_of_another_fold_are_each_written_as_before():
    """1:30 on the night the clocks go back in Los Angeles, first (fold 0, UTC-7) and second (fold 1, UTC-8): equal
    as datetimes of one zone, an hour apart in UTC (the former writer's memo of times keyed by the datetime wrote the
    first one's text for both; this writer and the general writer write each its own)."""
    s = _summary()
    la = ZoneInfo("America/Los_Angeles")
    first, second = datetime(2023, 11, 5, 1, 30, tzinfo=la), datetime(2023, 11, 5, 1, 30, fold=1, tzinfo=la)
    assert first == second and first.astimezone(timezone.utc) != second.astimezone(timezone.utc)
    disposals = [replace(d, time=t) for d, t in zip(s.disposals, [first, second, first, second], strict=False)]
    odd = replace(s, disposals=disposals)
    new, old = _both(odd)
    assert new == old
    assert b'"time": "2023-11-05T08:30:00Z"' in new and b'"time": "2023-11-05T09:30:00Z"' in new


NUMBERS = [Decimal(x) for x in (
    "0", "-0", "0E-8", "0E+3", "-0.000", "0.10000000", "7.6E-7", "1.0E-7", "3E-8", "1E+3", "1.2300E+5", "100", "-250.500",
    "123456789012345678901234567890.123456789", "1" * 899, "1" * 900, "9" * 950 + ".5000", "0." + "0" * 950 + "1",
    "NaN", "-NaN", "0.004999", "0.005", "-0.005", "-0.0049", "2.675", "1E-30", "12345678901234567890123456.789")]


@pytest.mark.parametrize("capitals", [1, 0])
def test_quantities_and_amounts_of_every_form(capitals, per_piece):
    """Exponents (str writes ``7.6E-7``; decimal_str ``0.00000076``), zeros of every sign and exponent, trailing
    zeros, 900+ digits, NaN, halves rounded up, in both letter cases of the context's exponent: as before."""
    import decimal

    s = _summary()
    rng = random.Random(capitals)
    with decimal.localcontext() as ctx:
        ctx.capitals = capitals
        out = []
        for d in s.disposals:
            money = [x for x in NUMBERS if x.is_nan() or len(str(x)) < 28] + [d.cost]
            lots = tuple(replace(m, quantity=rng.choice(NUMBERS + [m.quantity]), cost=rng.choice(money))
                         for m in d.lots)
            out.append(replace(d, quantity=rng.choice(NUMBERS + [d.quantity]), proceeds=rng.choice(money),
                               cost=rng.choice(money), gain=rng.choice(money), lots=lots))
        odd = replace(s, disposals=out)
        assert DisposalWriter().block(odd.disposals) is not None
        new, old = _both(odd)
        assert new == old


def _summary():  # noqa: ANN202
    return compute_request(ledger(1), _rates(random.Random(1), None), GainsRequest("us", "2023"))


class _Str(str):
    pass


class _Time(datetime):
    pass


class _Decimal(Decimal):
    pass


@pytest.mark.parametrize("field,value", [
    ("exempt", 0), ("exempt", 1), ("term", 5), ("account", ["a", "list"]), ("time", "2023-01-01"),
    ("time", None), ("lots", None), ("lots", []), ("quantity", 1.5), ("proceeds", Decimal("NaN")),
    ("asset", "BTC"), ("role", None), ("account", _Str("sub")), ("time", _Time(2023, 5, 1, tzinfo=timezone.utc)),
    ("quantity", _Decimal("1.5")), ("gain", _Decimal("2")), ("adjustment", Decimal("1E+40")), ("cost", Decimal("1E+30")),
    ("proceeds", Decimal("Infinity")), ("quantity", Decimal("sNaN")), ("adjustment", 5), ("adjustment", None),
    ("adjustment_code", 7), ("lots", ("not", "a lot")), ("lots", "ab"), ("exempt", None), ("event_key", b"bytes"),
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


def test_a_lot_of_another_type_or_value_is_written_or_refused_as_before():
    s = _summary()
    d = s.disposals[1]
    m = d.lots[0]
    for lot in (replace(m, account=_Str("x")), replace(m, acquired_at="2023"), replace(m, cost=1),
                replace(m, quantity=Decimal("-0E+5")), replace(m, rule=None), replace(m, lot_ref=3)):
        bad = replace(s, disposals=[s.disposals[0], replace(d, lots=[lot, m]), *s.disposals[2:]])
        try:
            old = b"".join(reference.document_pieces(bad))
        except Exception as exc:  # noqa: BLE001 - whatever it raised, the new writer raises the same
            with pytest.raises(type(exc)):
                b"".join(gains_cmd.document_pieces(bad))
        else:
            assert b"".join(gains_cmd.document_pieces(bad)) == old


_TEXT = st.one_of(st.none(), st.text(), st.sampled_from(ODD))
_TIME = st.one_of(st.none(), st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                                          timezones=st.sampled_from(ZONES + [None])))
_NUMBER = st.one_of(st.decimals(allow_nan=True, allow_infinity=False),  # any exponent: often refused, as before
                    st.builds(Decimal.scaleb, st.builds(Decimal, st.integers(-10**20, 10**20)), st.integers(-30, 5)))
_MONEY = st.one_of(st.builds(Decimal.scaleb, st.builds(Decimal, st.integers(-10**15, 10**15)), st.integers(-30, 2)),
                   st.sampled_from([Decimal("NaN"), Decimal("-0"), Decimal("0.005"), Decimal("-0.005"), Decimal("0E-30")]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_names_times_and_numbers_hypothesis_makes(data):
    """Whatever str, time, Decimal (any exponent, NaN) and bool Hypothesis puts in a disposal's and its lots' fields:
    the bytes, or the error, of the former writer."""
    base = _summary()
    out = []
    for d in base.disposals[:3]:
        lots = tuple(replace(m, quantity=data.draw(_NUMBER), cost=data.draw(_MONEY), acquired_at=data.draw(_TIME),
                             account=data.draw(_TEXT), lot_ref=data.draw(_TEXT), rule=data.draw(_TEXT))
                     for m in d.lots[:2] * data.draw(st.integers(0, 2)))
        out.append(replace(d, time=data.draw(_TIME), account=data.draw(_TEXT), asset=data.draw(_TEXT),
                           quantity=data.draw(_NUMBER), proceeds=data.draw(_MONEY), cost=data.draw(_MONEY),
                           gain=data.draw(_MONEY), term=data.draw(_TEXT), rule=data.draw(_TEXT),
                           exempt=data.draw(st.booleans()), event_key=data.draw(_TEXT), role=data.draw(_TEXT),
                           adjustment=data.draw(st.one_of(st.just(Decimal(0)), _MONEY)),
                           adjustment_code=data.draw(st.one_of(st.just(""), _TEXT)), lots=lots))
    odd = replace(base, disposals=out)
    try:
        old = b"".join(reference.document_pieces(odd))
    except Exception as exc:  # noqa: BLE001 - whatever it raised, the new writer raises the same
        with pytest.raises(type(exc)) as got:
            b"".join(gains_cmd.document_pieces(odd))
        assert str(got.value) == str(exc)
    else:
        assert b"".join(gains_cmd.document_pieces(odd)) == old
