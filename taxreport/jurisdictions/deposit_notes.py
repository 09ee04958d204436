"""The notes of deposits taken at zero cost for the countries that pool per person (UK, CA): which tax year names
which deposit.

A deposit without known cost basis, of an asset the user allowed a zero cost for (``--allow-zero-cost``), becomes
a zero-cost acquisition at the deposit (:func:`taxreport.jurisdictions.engine.person_level`), and a note says so:
``deposit REF: Q ASSET without known cost basis taken at zero cost, as asked``. A year's computation reads every
deposit from the ledger's first event to its cutoff (the earlier years for the pools, the UK's 30 days after the
year for its matching), but a year's report speaks of that year, as its other counting notes do (the rates, gifts
and swap legs of the year, tests/test_year_rate_gift_notes.py; the matching's, tests/test_year_notes.py): it names
the zero-cost deposits that affect it,

* those that arrived in the year (UTC ``[start, end)``: the lots entering the year's pool), and
* those a disposal of the year is matched to by name (the UK's same-day and 30-day rules, TCGA 1992 s105, s106A:
  a deposit in the 30 days after the year, matched to a sale of the year, gives that sale its zero cost).

An earlier year's deposit that went into a Section 104 pool or an ACB pool is named by its own year's report (the
pool's cost per unit is an average over every unit: no disposal uses it by name). No tax rule lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from taxreport.jurisdictions.base import Note


class ZeroCostDeposit(Note):
    """The note of one deposit taken at zero cost, with the deposit's moment and its reference (``event#leg``,
    as an acquisition's ``lot_ref`` names it): what :func:`year_notes` picks the year's by."""

    __slots__ = ("time", "ref")
    time: datetime
    ref: str

    def __new__(cls, ref: str, quantity: Decimal, asset: str, time: datetime) -> ZeroCostDeposit:
        return _made(f"deposit {ref}: {quantity} {asset} without known cost basis taken at zero cost, as asked",
                     "matching", time, ref)

    def __reduce__(self) -> tuple[Callable[..., ZeroCostDeposit], tuple[str, str, datetime, str]]:
        return _made, (self.text, self.code, self.time, self.ref)  # a copy or a pickle is the same note


def _made(text: str, code: str, time: datetime, ref: str) -> ZeroCostDeposit:
    note = str.__new__(ZeroCostDeposit, text)
    note.code, note.time, note.ref = code, time, ref
    return note


def year_notes(notes: Sequence[Note], start: datetime, end: datetime, used: Iterable[str] = ()) -> list[Note]:
    """``notes`` (a year's matching notes, in order) with the zero-cost deposits of other years left out: a
    :class:`ZeroCostDeposit` is kept when it arrived in ``[start, end)`` or its reference is in ``used`` (the
    acquisitions the year's disposals are matched to by name); every other note is kept as it is."""
    names = set(used)
    return [n for n in notes if type(n) is not ZeroCostDeposit or start <= n.time < end or n.ref in names]
