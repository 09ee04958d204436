"""The ``gains --format json`` document written in pieces (taxreport/cli/gains_cmd.py ``summary_document``: the
disposals encoded a block at a time, so a 1M-trade year never exists whole as Python objects or text) is the
document ``json_text(summary_json(...))`` writes, byte for byte: checked against main's sha256 of every year's
document over the seeded random ledgers of every country (tests/test_gains_years_differential.py), with blocks of
1 and 3 disposals and one block, and on a document orjson refuses (the old writer then)."""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace

import pytest

from taxreport.cli import gains_cmd
from taxreport.cli.common import json_text
from taxreport.cli.gains_cmd import summary_document, summary_json
from taxreport.errors import TaxreportError
from taxreport.gains import GainsRequest, compute_request, compute_request_years

from mains_sentences import MainsYears, rates_and_gifts_as_main
from test_gains_years_differential import MAIN_50952BB, _rates, _years, ledger, main_case
from test_gains_years_differential import _standard_decimal_context  # noqa: F401 - autouse: the ledgers are
# built (and cached, for the differential tests too) in the standard context, whatever an earlier test left


@pytest.mark.parametrize("per_piece", [1, 3, 4096])
@pytest.mark.parametrize("key", sorted(MAIN_50952BB, key=repr)[::4])
def test_the_pieces_are_mains_document_byte_for_byte(key, per_piece, monkeypatch):
    monkeypatch.setattr(gains_cmd, "DISPOSALS_PER_PIECE", per_piece)
    rates_and_gifts_as_main(monkeypatch)  # main's rate and gift notes (tests/mains_sentences.py)
    years, found = main_case(key)
    h = hashlib.sha256()
    shown = 0
    as_main = MainsYears()  # main's sentences (tests/mains_sentences.py), the years in order
    for y in years:
        s = found[y]
        if isinstance(s, TaxreportError):
            doc = f"ERROR {type(s).__name__}: {s}".encode()
        else:
            pieces = summary_document(s)
            doc = b"".join(pieces)
            assert doc == json_text(summary_json(s)).encode()
            if len(s.disposals) > per_piece:
                assert len(pieces) >= 3  # really written in blocks
                shown += 1
        h.update(as_main(doc.decode()).encode() + b"\0")
    assert h.hexdigest() == MAIN_50952BB[key]
    assert per_piece > 3 or shown >= 1


def test_an_empty_year_and_a_document_orjson_refuses():
    table = _rates(random.Random(1), None)
    s = compute_request(ledger(1), table, GainsRequest("us", "2023"))
    assert len(s.disposals) > 2
    empty = replace(s, disposals=[])
    assert summary_document(empty) == [json_text(summary_json(empty)).encode()]
    odd = replace(s, disposals=[s.disposals[0], replace(s.disposals[1], account="kraken\ud800")])  # a lone surrogate
    with pytest.raises(UnicodeEncodeError):  # as before: the text cannot be written as UTF-8
        summary_document(odd)
    with pytest.raises(UnicodeEncodeError):
        json_text(summary_json(odd)).encode()


@pytest.mark.parametrize("code", ["us", "uk", "de"])
def test_events_freed_during_the_pass_are_reloaded_for_a_year_computed_alone(code):
    """stream_request_years with ``reload``: the one pass empties the events list once they are valued (so a
    1M-trade ledger's events are freed while the years are matched and written); a year computed alone
    afterwards (here: a BTC rate gap in 2023 makes that year and later fail alone, with their own errors) first
    refills the list from ``reload``. Every year is what it is without the release, byte for byte."""
    from taxreport.gains import stream_request_years

    from test_gains_years_differential import UTC, _document
    from datetime import datetime

    table = _rates(random.Random(7), (datetime(2023, 5, 1, tzinfo=UTC), datetime(2023, 9, 30, tzinfo=UTC)))
    original = ledger(7)
    years = _years(code)
    expected = compute_request_years(list(original), table, GainsRequest(code, "2022"), years)
    events = list(original)
    sizes: list[int] = []
    reloads: list[int] = []

    def reload() -> list:
        reloads.append(len(events))
        return list(original)

    found: dict[str, object] = {}

    def each(year: str, result: object) -> None:
        sizes.append(len(events))
        found[year] = result

    stream_request_years(events, table, GainsRequest(code, "2022"), years, each, reload=reload)
    assert {y: _document(found[y]) for y in years} == {y: _document(expected[y]) for y in years}
    assert 0 in sizes  # the events were let go while years were handed over
    assert reloads and reloads[0] == 0  # refilled (once emptied) for the years computed alone
    assert any(_document(found[y]).startswith("ERROR") for y in years)


def test_forgotten_events_come_back_only_from_the_same_chain(tmp_path):
    """Ledger.forget_events inside a pin: the next verified_events walks again and gives the same events; if the
    ledger changed meanwhile (another process appended), it is an error, never another ledger's events under the
    pinned state."""
    from datetime import datetime, timezone

    from taxreport.errors import LedgerError
    from taxreport.ledger import Ledger
    from taxreport.model import D, Trade

    def trade(i: int, side: str) -> Trade:
        return Trade(time=datetime(2024, 1, 1 + i, tzinfo=timezone.utc), source="t", external_id=f"x{i}",
                     account="a:b", side=side, base="BTC", quote="USD", quantity=D("1"), price=D("100"))

    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        led.append([trade(0, "buy"), trade(1, "sell")], actor="importer:t", reason="r")
        with led.pinned():
            first = led.verified_events()[1]
            led.forget_events()
            again = led.verified_events()[1]
            assert again == first and again is not first
        with led.pinned():
            led.verified_events()
            led.forget_events()
            with Ledger(led.url) as other:
                other.append([trade(2, "buy")], actor="importer:t", reason="r")
            with pytest.raises(LedgerError, match="changed while it was being reported on"):
                led.verified_events()
