"""A year's summary as the derived cache stores it (taxreport/ledger/derived.py ``_write_summary`` /
``_read_summary``, behind ``DerivedCache.put`` and ``lookup``): the disposals, their lots and details encoded with
msgspec's msgpack in C (issue 14 round 6). What is read back must be exactly what was stored: the same types
everywhere (tuple and list, ``str`` and its subclasses, Decimal text with its exponent, datetimes with the same
tzinfo), equal field by field; what the fast form cannot carry exactly is stored whole in the pickle form of
before (and read back exactly too); an entry in that older form still reads; a damaged or truncated entry is a
miss, never a wrong value nor a traceback."""

from __future__ import annotations

import dataclasses
import enum
import io
import random
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from test_gains_years_differential import _rates, ledger, with_records

from taxreport.errors import TaxreportError
from taxreport.gains import CACHE_NAME, GainsRequest, compute_request
from taxreport.jurisdictions import base as jbase
from taxreport.jurisdictions.base import Note, YearSummary
from taxreport.ledger import Ledger, derived
from taxreport.model import D, Trade
from taxreport.model.money import MONEY_CONTEXT

UTC = timezone.utc


def same(a: Any, b: Any, where: str = "summary") -> None:
    """``b`` is ``a`` exactly: the same type at every level and equal values (a Decimal's digits and exponent,
    a datetime's tzinfo, fold and instant, a Note's code, a non-slotted dataclass's attributes)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, Decimal):
        assert a.as_tuple() == b.as_tuple() and str(a) == str(b), where
    elif isinstance(a, datetime):
        assert a == b and a.fold == b.fold and a.replace(tzinfo=None) == b.replace(tzinfo=None), where
        assert a.tzinfo is b.tzinfo or (type(a.tzinfo) is timezone and a.tzinfo == b.tzinfo), where
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            same(a[k], b[k], f"{where}[{k!r}]")
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
        if hasattr(a, "__dict__"):
            assert set(vars(a)) == set(vars(b)), where
    elif isinstance(a, Note):
        assert str(a) == str(b) and a.code == b.code, where
    else:
        assert a == b, where


def stored(summary: YearSummary) -> bytes:
    buffer = io.BytesIO()
    derived._write_summary(summary, buffer)
    return buffer.getvalue()


def back(data: bytes) -> Any:
    return derived._read_summary(io.BytesIO(data))


@pytest.fixture(autouse=True)
def _standard_decimal_context():  # noqa: ANN202
    import decimal

    with decimal.localcontext(MONEY_CONTEXT):
        yield


def _summaries(code: str, seed: int, tz: str | None) -> list[YearSummary]:
    rng = random.Random(seed)
    table = _rates(rng, None)
    events = with_records(ledger(seed), table, seed, code)
    ty = jbase.get(code).policy.tax_year
    out = []
    for year in (ty.label_of(y) for y in range(2021, 2026)):
        try:
            out.append(compute_request(events, table, GainsRequest(code, year, timezone=tz)))
        except TaxreportError:
            continue
    return out


@pytest.mark.parametrize("seed", [3, 4])
@pytest.mark.parametrize("tz", [None, "UTC", "Pacific/Kiritimati", "America/Los_Angeles"])
@pytest.mark.parametrize("code", ["us", "uk", "de", "au", "ca"])
def test_every_country_and_zone_reads_back_exactly_what_was_stored_in_the_fast_form(monkeypatch, code, tz, seed):
    """Seeded random ledgers (trades, swaps, deposits, transfers, gifts, income, identified lots: the
    differential test's) in every country, in its own zone and three others: every year's summary, stored with
    the list threshold at 1 so each is in the fast form, reads back exactly, country details included."""
    monkeypatch.setattr(derived, "BLOCK_MIN", 1)
    summaries = [s for s in _summaries(code, seed, tz) if s.disposals]
    assert summaries
    details = set()
    for summary in summaries:
        data = stored(summary)
        assert data.startswith(derived.SUMMARY_MAGIC), summary.year  # not left to the pickle form
        same(summary, back(data))
        details |= {type(d.detail) for d in summary.disposals}
    expected = {"us": {type(None)}, "de": {type(None)}, "uk": {"UkDetail"}, "au": {"AuDetail"},
                "ca": {"CaDetail"}}[code]
    assert {getattr(t, "__name__", None) if t is not type(None) else t for t in details} == expected


class Side(enum.StrEnum):
    BUY = "buy"


class Text(str):
    pass


class Amount(Decimal):
    pass


def _one_summary() -> YearSummary:
    (summary, *_) = [s for s in _summaries("us", 3, None) if len(s.disposals) >= 5]
    return summary


def _changed(summary: YearSummary, **changes: Any) -> YearSummary:
    disposals = list(summary.disposals)
    disposals[2] = dataclasses.replace(disposals[2], **changes)
    return dataclasses.replace(summary, disposals=disposals)


LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize("change", [
    "zoneinfo time", "fixed offset time", "naive time", "fold", "note", "str subclass", "enum", "list of lots",
    "decimal as text", "text as decimal", "decimal subclass", "lot in london", "int for bool", "lots of a subclass",
])
def test_what_the_fast_form_cannot_carry_exactly_is_stored_whole_as_before(monkeypatch, change):
    """A value msgpack would bring back changed (a ZoneInfo time as UTC, a Note or an enum as plain text, a
    list as a tuple, a Decimal in a text field as text...) leaves the whole entry to the pickle form of before;
    it reads back exactly, ZoneInfo and all."""
    monkeypatch.setattr(derived, "BLOCK_MIN", 1)
    summary = _one_summary()
    d = summary.disposals[2]
    lot = d.lots[0]
    changes: dict[str, Any] = {
        "zoneinfo time": {"time": d.time.astimezone(LONDON)},
        "fixed offset time": {"time": d.time.astimezone(timezone(timedelta(hours=2)))},
        "naive time": {"time": d.time.replace(tzinfo=None)},
        "fold": {"time": d.time.replace(fold=1)},
        "note": {"notes": (Note("a warning", "warning"),)},
        "str subclass": {"account": Text(d.account)},
        "enum": {"role": Side.BUY},
        "list of lots": {"lots": list(d.lots)},
        "decimal as text": {"rule": Decimal("1.50")},
        "text as decimal": {"quantity": "1.50"},
        "decimal subclass": {"gain": Amount("1.50")},
        "lot in london": {"lots": (dataclasses.replace(lot, acquired_at=lot.acquired_at.astimezone(LONDON)),)
                          + d.lots[1:]},
        "int for bool": {"exempt": 0},
        "lots of a subclass": {"lots": (dataclasses.replace(lot, account=Text("x")),) + d.lots[1:]},
    }[change]
    odd = _changed(summary, **changes)
    data = stored(odd)
    assert not data.startswith(derived.SUMMARY_MAGIC)
    again = back(data)
    same(odd, again)
    if change == "zoneinfo time":
        assert again.disposals[2].time.tzinfo is LONDON
    same(summary, back(stored(summary)))  # the unchanged one is still in the fast form
    assert stored(summary).startswith(derived.SUMMARY_MAGIC)


def test_decimal_text_keeps_its_exponent_and_times_their_utc(monkeypatch):
    monkeypatch.setattr(derived, "BLOCK_MIN", 1)
    summary = _one_summary()
    values = [Decimal("0E-8"), Decimal("-0.000"), Decimal("1E+5"), Decimal("1.10"),
              Decimal("123456789.123456789012345678901234567890")]
    odd = _changed(summary, quantity=values[0], proceeds=values[1], cost=values[2], gain=values[3],
                   adjustment=values[4], time=datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    data = stored(odd)
    assert data.startswith(derived.SUMMARY_MAGIC)
    again = back(data).disposals[2]
    assert [str(again.quantity), str(again.proceeds), str(again.cost), str(again.gain), str(again.adjustment)] \
        == ["0E-8", "-0.000", "1E+5", "1.10", "123456789.123456789012345678901234567890"]
    assert again.time.tzinfo is UTC and again.time == datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


# --- through the cache: an entry in the older form, a damaged one -----------------------------------------

T0 = datetime(2024, 1, 2, tzinfo=UTC)


@pytest.fixture
def led(tmp_path, monkeypatch):
    monkeypatch.setattr(derived, "_now", lambda: time.time() + 60)  # as if a minute after the last write
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as ledger:
        ledger.append([Trade(time=T0 + timedelta(hours=i), source="test", external_id=str(i), account="kraken:main",
                             side="buy" if i % 3 == 0 else "sell", base="BTC", quote="USD",
                             quantity=D("0.9") if i % 3 == 0 else D("0.3"), price=D(40000 + 7 * i), fee=D("1.25"),
                             fee_asset="USD") for i in range(120)], actor="importer:t", reason="r")
        yield ledger


def _entry(cache: derived.DerivedCache) -> Any:
    (path,) = cache.folder.glob("*.pickle")
    return path


def test_an_entry_stored_in_the_older_pickle_form_still_reads(led, tmp_path):
    from taxreport.gains import compute_gains

    summary = compute_gains(led, jurisdiction="us", year="2024")
    assert len(summary.disposals) >= derived.BLOCK_MIN
    cache = derived.DerivedCache(led, tmp_path / "cache")
    with led.pinned():
        assert cache.put(CACHE_NAME, {"k": 1}, summary)
        assert _entry(cache).read_bytes().startswith(derived.SUMMARY_MAGIC)
        same(summary, cache.lookup(CACHE_NAME, {"k": 1}))
        old = io.BytesIO()
        derived._write_pickle(summary, old)  # what round 5's put wrote
        _entry(cache).write_bytes(old.getvalue())
        same(summary, derived.DerivedCache(led, tmp_path / "cache").lookup(CACHE_NAME, {"k": 1}))


def _damaged(data: bytes) -> list[bytes]:
    head = len(derived.SUMMARY_MAGIC) + derived._SUMMARY_HEAD.size
    out = [data[:n] for n in (0, 3, len(derived.SUMMARY_MAGIC), head - 1, head, head + 40, len(data) // 2,
                              len(data) - 1)]
    for at in (head + 10, len(data) // 2, len(data) - 2):  # a byte changed in the header, in the lists
        flipped = bytearray(data)
        flipped[at] ^= 0x5A
        out.append(bytes(flipped))
    out.append(data + b"\x00")
    return out


def test_a_damaged_or_truncated_entry_is_a_miss(led, tmp_path):
    from taxreport.gains import compute_gains

    summary = compute_gains(led, jurisdiction="us", year="2024")
    cache = derived.DerivedCache(led, tmp_path / "cache")
    with led.pinned():
        assert cache.put(CACHE_NAME, {"k": 1}, summary)
        data = _entry(cache).read_bytes()
        assert data.startswith(derived.SUMMARY_MAGIC)
        for bad in _damaged(data):
            _entry(cache).write_bytes(bad)
            assert derived.DerivedCache(led, tmp_path / "cache").lookup(CACHE_NAME, {"k": 1}) is None
        # lengths and CRC-32 right, lists that do not decode as described: a miss too
        head_len, lists_len, _ = derived._SUMMARY_HEAD.unpack_from(data, len(derived.SUMMARY_MAGIC))
        start = len(derived.SUMMARY_MAGIC) + derived._SUMMARY_HEAD.size
        head = data[start:start + head_len]
        for lists in (b"\xc1" * lists_len, b"\x90" + b"\x00" * (lists_len - 1)):
            import zlib

            crc = zlib.crc32(lists, zlib.crc32(head))
            _entry(cache).write_bytes(derived.SUMMARY_MAGIC + derived._SUMMARY_HEAD.pack(head_len, lists_len, crc)
                                      + head + lists)
            assert derived.DerivedCache(led, tmp_path / "cache").lookup(CACHE_NAME, {"k": 1}) is None
        _entry(cache).write_bytes(data)
        same(summary, derived.DerivedCache(led, tmp_path / "cache").lookup(CACHE_NAME, {"k": 1}))


# --- the CLI: a repeated call served from the stored summary prints the same bytes --------------------------

@pytest.mark.parametrize(("code", "year", "extra"), [("us", "2024", []), ("uk", "2023-24", ["--currency", "USD"]),
                                                     ("us", "2024", ["--timezone", "Europe/London"])])
def test_a_repeated_gains_served_from_the_stored_summary_prints_the_same_bytes(tmp_path, monkeypatch, code, year,
                                                                                extra):
    """The table and the ``--format json`` document of a call served from the summary stored in the fast form
    (the stored documents removed, so the json is written from the summary) are byte for byte those of the
    first call, and of a call with the cache off."""
    from click.testing import CliRunner

    from taxreport.cli.main import root

    monkeypatch.setenv("TAXREPORT_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(derived, "_now", lambda: time.time() + 60)
    db = tmp_path / "l.sqlite3"
    with Ledger(f"sqlite:///{db}") as ledger:
        ledger.append([Trade(time=T0 + timedelta(hours=7 * i), source="test", external_id=str(i),
                             account="kraken:main", side="buy" if i % 3 == 0 else "sell", base="BTC", quote="USD",
                             quantity=D("0.9") if i % 3 == 0 else D("0.3"), price=D(40000 + 7 * i), fee=D("1.25"),
                             fee_asset="USD") for i in range(150)], actor="importer:t", reason="r")

    def run(*fmt: str) -> str:
        result = CliRunner().invoke(root, ["--db", str(db), "gains", "-j", code, "-y", year, *extra, *fmt])
        assert result.exit_code == 0, result.output
        return result.output

    first_table, first_json = run(), run("--format", "json")
    # the table as main printed it: from the whole document (every disposal's JSON made), not from the count alone
    from taxreport.cli import gains_cmd
    from taxreport.gains import gains_for

    asked = GainsRequest(code, year, currency="USD" if "--currency" in extra else None,
                         timezone="Europe/London" if "--timezone" in extra else None)
    with Ledger(f"sqlite:///{db}") as ledger, CliRunner().isolation() as streams:
        gains_cmd._print(gains_cmd.summary_json(gains_for(ledger, asked)), False)
    assert streams[0].getvalue().decode() == first_table and "capital gains, tax year" in first_table
    entries = list((tmp_path / "home").rglob("*.pickle"))
    assert entries and all(p.read_bytes().startswith(derived.SUMMARY_MAGIC) for p in entries)
    for document in (tmp_path / "home").rglob("*.bytes"):
        document.unlink()
    assert run() == first_table and run("--format", "json") == first_json
    monkeypatch.setenv("TAXREPORT_CACHE", "0")
    assert run() == first_table and run("--format", "json") == first_json
