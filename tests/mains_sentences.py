"""The sentences of a ``gains`` document that changed on purpose after main's hashes were computed: the tests that
compare a document with a hash main's code computed (tests/test_gains_years_differential.py, test_gains_document.py,
test_engine_main_423411f.py) put main's sentence back with :func:`as_main` (one document) or :class:`MainsYears`
(the documents of a run of tax years, in order) before hashing, and nothing else.

* Round 11: the specific-identification note counts the disposals matched FIFO per asset
  (:func:`taxreport.lots.matching.fallback_note`, checked by tests/test_specific_fallback_note.py):
  "... had no named lots and were matched FIFO: USDT 12, BTC 1" was "... had no named lots and were matched FIFO".
* Round 11: the matching notes that count (the specific-identification note above, and "zero cost basis assumed,
  as asked, for Q ASSET sold or moved without known lots") count the year's own disposals and movements
  (tests/test_year_notes.py); main's counted every one from the ledger's first movement to the year's end, so
  main's note of a year is the sum of this year's and every earlier year's (a year with none of its own still
  had main's note when an earlier year had one). :class:`MainsYears` sums them over a run of consecutive tax
  years that starts before the ledger's first movement (the golden cases: 2020 to 2025); a year matched by another
  method (a US year before lots were identified) adds its disposals to the count of a later ``specific`` year, as
  main's matching of that year by ``specific`` from the first movement counted them (none was named). A year in
  error hides its count from the later years' sums: test_engine_main_423411f.py (whose seed-4 ``specific`` runs
  have one) makes the matching count from the first movement as main did instead, :func:`count_as_main`.
* Round 11 (second): "rates: ROUTE (N valuation(s))" counts the valuations whose moment lies in the year's
  ``[start, end)`` and "N gift(s) given: no disposal for the donor in COUNTRY ..." the gifts given in the year
  (tests/test_year_rate_gift_notes.py); main's counted every valuation from the ledger's first event to the year's
  cutoff (the year's end plus a day, plus the UK's 30 days: valuations of the next year's first days), plus the
  year's own income, and every gift of the ledger, the later years' too. Neither can be summed back from the
  years' notes (the days after a year are in the next year's count, with no way to tell how many; an earlier year's
  income is in its own count only), so :func:`rates_and_gifts_as_main` makes the two notes count as main's did:
  the pricer's notes of every valuation it made (``Pricer.notes`` without ``within``; the counting itself is the
  code under test) and the gifts of the whole ledger (``gift_note`` over every time). Used by every test that
  compares a document with main's hash: the three above (with :class:`MainsYears` or :func:`as_main` as before),
  test_engine_main_bdfefcf.py and test_valuation_spans.py's documents (which had no matching note to map).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from taxreport.model.money import decimal_str

_PER_ASSET = re.compile(r"(specific identification: \d+ disposal\(s\) had no named lots and were matched FIFO): "
                        r"[A-Za-z0-9_.:/-]+ \d+(?:, [A-Za-z0-9_.:/-]+ \d+)*(?=\")")
_NOTES = re.compile(r"\n  \"notes\": \[(.*?)\n  \]", re.S)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_ZERO = re.compile(r"zero cost basis assumed, as asked, for (\S+) (\S+) sold or moved without known lots")
_FALLBACK = re.compile(r"specific identification: (\d+) disposal\(s\) had no named lots and were matched FIFO")
# the notes the matching notes come after (the events' and the pricer's notes, the universal pool's)
_BEFORE = re.compile(r"(rates: |rates up to |rate rule: |assumed peg |\d+ crypto-to-crypto swap |one universal lot "
                     r"pool until )")


def as_main(document: str) -> str:
    """``document`` (a ``gains --format json`` text) with main's sentences (one document: the per-asset count)."""
    return _PER_ASSET.sub(r"\1", document)


class MainsYears:
    """:func:`as_main` for the documents of one run of consecutive tax years, given in time order (a new one per
    run): also each year's counting notes as main wrote them, this year's counts plus every earlier year's."""

    def __init__(self) -> None:
        self.zero_cost: dict[str, Decimal] = {}
        self.fallback = 0

    def __call__(self, document: str) -> str:
        document = as_main(document)
        found = _NOTES.search(document)
        if found is None:  # an error, or no notes
            return document
        raw = _STRING.findall(found.group(1))
        kept: list[str] = []
        at: int | None = None
        after = 0
        for token in raw:
            text = json.loads(token)
            zero, fallback = _ZERO.fullmatch(text), _FALLBACK.fullmatch(text)
            if zero or fallback:
                at = len(kept) if at is None else at
                if zero:
                    self.zero_cost[zero.group(2)] = self.zero_cost.get(zero.group(2), Decimal(0)) + Decimal(zero.group(1))
                else:
                    self.fallback += int(fallback.group(1))  # type: ignore[union-attr]
                continue
            kept.append(token)
            if _BEFORE.match(text):
                after = len(kept)
        mains = [f"zero cost basis assumed, as asked, for {decimal_str(q)} {asset} sold or moved without known lots"
                 for asset, q in sorted(self.zero_cost.items())]
        specific = json.loads(document).get("method") == "specific"
        if not specific:  # main's matching of a later year by ``specific`` counted every disposal of this one
            self.fallback += len({row["ref"] for row in json.loads(document)["disposals"]})
        elif self.fallback:
            mains.append(f"specific identification: {self.fallback} disposal(s) had no named lots and were matched FIFO")
        at = after if at is None else at
        tokens = kept[:at] + [json.dumps(n) for n in mains] + kept[at:]
        body = "".join(f"\n    {t}," for t in tokens)[:-1]
        return document[:found.start()] + f"\n  \"notes\": [{body}\n  ]" + document[found.end():]


def count_as_main(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the engine's matching notes count from the ledger's first movement, as main's did (the matching's
    notes with no start: ``since``/``starts`` left out); everything else is the code under test."""
    from taxreport.jurisdictions import engine
    from taxreport.lots import matching

    def match_lots(*args: Any, since: Any = None, **kwargs: Any) -> Any:
        return matching.match_lots(*args, **kwargs)

    def match_lots_at(*args: Any, starts: Any = None, **kwargs: Any) -> Any:
        return matching.match_lots_at(*args, **kwargs)

    monkeypatch.setattr(engine, "match_lots", match_lots)
    monkeypatch.setattr(engine, "match_lots_at", match_lots_at)


def rates_and_gifts_as_main(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the rate notes count every valuation the year's computation made (from the ledger's first event to the
    year's cutoff), the swap note every swap leg it valued by the other side, and the gift note every gift of the
    ledger, as main's did, and rounded zeros keep their sign (:func:`signed_zeros_as_main`); everything else is the
    code under test (the counting of the valuations included)."""
    from taxreport.jurisdictions import gifts
    from taxreport.lots.valuation import SwapStats
    from taxreport.prices.rates import Pricer

    notes, note, swap_notes = Pricer.notes, gifts.gift_note, SwapStats.notes
    first, last = datetime.min.replace(tzinfo=timezone.utc), datetime.max.replace(tzinfo=timezone.utc)

    def every_valuation(self: Pricer, within: Any = None) -> list[str]:
        return notes(self)

    def every_gift(times: Any, country: str, start: datetime, end: datetime) -> str | None:
        return note(times, country, first, last)

    def every_swap_leg(self: SwapStats, within: Any = None) -> list[str]:
        return swap_notes(self)

    monkeypatch.setattr(Pricer, "notes", every_valuation)
    monkeypatch.setattr(gifts, "gift_note", every_gift)
    monkeypatch.setattr(SwapStats, "notes", every_swap_leg)
    signed_zeros_as_main(monkeypatch)


def signed_zeros_as_main(monkeypatch: pytest.MonkeyPatch) -> None:
    """Round amounts for presentation as main did before round 12: a negative amount that rounds to zero kept
    its sign (``-0.00``; tests/test_negative_zero.py). Only the sign of a rounded zero differs."""
    from decimal import ROUND_HALF_UP, Decimal
    from itertools import repeat

    from taxreport.cli import gains_document
    from taxreport.model import money

    def signed(value: Decimal, unit: Decimal = money.CENT) -> Decimal:
        return value.quantize(unit, rounding=ROUND_HALF_UP)

    def signed_column(column: list[Any]) -> list[Decimal]:
        if not set(map(type, column)) <= gains_document._DECIMAL:
            raise gains_document._Unusual
        return list(map(Decimal.quantize, column, repeat(money.CENT), repeat(ROUND_HALF_UP)))

    monkeypatch.setattr(money, "quantize_money", signed)
    monkeypatch.setattr(gains_document, "quantize_money", signed)
    monkeypatch.setattr(gains_document, "_money", signed_column)
