"""The disposals of a ``gains --format json`` document, byte for byte what
:func:`taxreport.cli.gains_cmd.document_pieces`'s general writer (a dict per disposal and per lot, encoded by orjson
with ``OPT_INDENT_2`` and re-indented) writes, several times faster: a block of disposals is taken apart field by
field (a column of times, of accounts, of amounts, ...), each column checked for the types the fields declare and
turned into text in bulk (C calls mapped over the column: no Python function per value), and the records encoded
by msgspec's C encoder and laid out by ``msgspec.json.format(..., indent=2)``, which writes the layout
``orjson.OPT_INDENT_2`` writes (two spaces, ``": "``, ``[]`` for an empty list) and escapes strings as orjson does
(RFC 8259 section 7: ``\\"``, ``\\\\``, ``\\b \\f \\n \\r \\t``, ``\\u00XX`` for the other control characters, all
else, non-ASCII included, as it is; tests/test_gains_document_fast.py checks every code point). At 1,000,000 trades
(a US year of 149,110 disposals, 331,564 lots, 137 MB) the per-disposal f-string writer this replaces took 2.9-3.4 s
of CPU, this one 1.5-2.3 s, on a loaded machine (load 3-7; see the README, round 6: doc9). JSON text: RFC 8259."""

from __future__ import annotations

import gc
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, getcontext
from itertools import accumulate, chain, compress, count, repeat
from operator import attrgetter, not_
from typing import Any

import msgspec

from taxreport.cli.common import _json_default
from taxreport.model.money import CENT, decimal_str, quantize_money


class _Unusual(Exception):
    """A value :class:`DisposalWriter` does not write itself (the general writer then writes the block)."""


class _Lot(msgspec.Struct, gc=False):
    """One matched lot as the document writes it: its fields in the document's key order."""

    quantity: Any
    cost: Any
    acquired_at: Any
    account: Any
    lot: Any
    rule: Any


class _Disposal(msgspec.Struct, gc=False):
    """One disposal as the document writes it: its fields in the document's key order (``adjustment`` and
    ``adjustment_code`` are ``msgspec.UNSET``, so not written, unless the disposal has an adjustment)."""

    time: Any
    account: Any
    asset: Any
    quantity: Any
    proceeds: Any
    cost: Any
    gain: Any
    term: Any
    rule: Any
    exempt: Any
    ref: Any
    role: Any
    adjustment: Any
    adjustment_code: Any
    lots: Any


# A disposal's and a lot's fields, each read from a whole block at once (one attrgetter mapped over the block per
# field: zip(*...) of the rows cost ~20 times more with the collector on, over thousands of rows)
_DISPOSAL = tuple(map(attrgetter, ("time", "account", "asset", "quantity", "proceeds", "cost", "gain", "term", "rule",
                                   "exempt", "event_key", "role", "adjustment", "adjustment_code", "lots")))
_LOT = tuple(map(attrgetter, ("quantity", "cost", "acquired_at", "account", "lot_ref", "rule")))
_STRINGS = {str, type(None)}  # a string field holds a str, or None (written null)
_TIMES = {datetime, type(None)}
_DECIMAL = {Decimal}
_BOOL = {bool}
_LOTS = {tuple, list}
_UTC = {timezone.utc}
_ENCODE = msgspec.json.Encoder(decimal_format="string").encode  # a Decimal as its str (the amounts, quantized)
_FORMAT = msgspec.json.format
_QUANTIZE = Decimal.quantize

_NONZERO_DIGITS = tuple("123456789")


def _strings(column: list[Any]) -> list[Any]:
    if not set(map(type, column)) <= _STRINGS:
        raise _Unusual
    return column


def _money(column: list[Any]) -> list[Decimal]:
    """Each amount rounded as :func:`money_str` rounds it; msgspec writes a Decimal as its ``str``, which for an
    exponent of -2 (every finite quantized amount) is ``format(value, "f")``, and for NaN ``NaN`` as well."""
    if not set(map(type, column)) <= _DECIMAL:
        raise _Unusual
    rounded = list(map(_QUANTIZE, column, repeat(CENT), repeat(ROUND_HALF_UP)))
    if 0 in rounded:  # a zero (US stablecoin legs: gain 0) may be -0.00: money_str writes every zero 0.00
        rounded = [r if r else r.copy_abs() for r in rounded]
    return rounded


def _quantities(column: list[Any]) -> list[str]:
    """:func:`decimal_str` of each quantity, with its common case done for all of them at once: the ``str`` of a
    Decimal whose text ends with a digit 1-9 and holds no exponent (and is shorter than 900 characters) is what
    decimal_str writes for it (nonzero, no exponent, no trailing zero: its rstrip removes nothing). Every other
    text (a trailing zero, a zero, an exponent as in ``7.6E-7``, NaN: ~4% of a real year's) is decimal_str's."""
    if not set(map(type, column)) <= _DECIMAL:
        raise _Unusual
    texts = list(map(str, column))
    general = list(compress(count(), map(not_, map(str.endswith, texts, repeat(_NONZERO_DIGITS)))))
    general += compress(count(), map(str.__contains__, texts, repeat("E")))
    if not getcontext().capitals:  # str() writes the exponent "e" in this context ("0e-7" is a zero: "0")
        general += compress(count(), map(str.__contains__, texts, repeat("e")))
    if max(map(len, texts), default=0) >= 900:
        general += [i for i, text in enumerate(texts) if len(text) >= 900]
    for i in general:
        texts[i] = decimal_str(column[i])
    return texts


def _times(column: list[Any]) -> list[Any] | list[Any]:
    """The times as msgspec writes them as _json_default writes them: a datetime in UTC as it is (msgspec
    writes its isoformat with ``Z`` for ``+00:00``), any other (another zone, naive) as _json_default's text
    (made for each: two times equal in one zone may differ in ``fold``, so in their UTC text)."""
    if not set(map(type, column)) <= _TIMES:
        raise _Unusual
    if set(map(getattr, column, repeat("tzinfo"), repeat(None))) <= _UTC:  # the common case: all in UTC
        return column
    return [t if t is None or t.tzinfo is timezone.utc else _json_default(t) for t in column]


class DisposalWriter:
    """The disposals of a ``--format json`` document as JSON bytes, several times faster than turning each into
    a dict and letting orjson encode and re-indent it (:func:`_disposal_json`): see the module's docstring.
    :meth:`block` gives None for a block holding a value of another type than the fields declare (a str subclass,
    a float, a datetime subclass, an int for ``exempt``...) or a string msgspec refuses (a lone surrogate): the
    general writer then writes, or refuses, that block as before. tests/test_gains_document_fast.py checks the
    bytes against the former writer (kept verbatim in tests/reference_gains_document.py)."""

    def block(self, disposals: Any) -> bytes | None:
        """The JSON of ``disposals`` (a non-empty sequence) as the elements of the document's ``"disposals"``
        list: each disposal indented four spaces, joined by ``,\\n``, without the list's brackets."""
        enabled = gc.isenabled()
        gc.disable()  # thousands of small acyclic objects (a lot's list per disposal): a collection only costs time
        try:
            return self._block(disposals)
        except Exception:  # noqa: BLE001 - whatever it is, the general writer writes it or raises it as before
            return None
        finally:
            if enabled:
                gc.enable()

    def _block(self, disposals: Any) -> bytes:
        (times, accounts, assets, quantities, proceeds, costs, gains, terms, rules, exempts, refs, roles,
         adjustments, codes, lots) = [list(map(field, disposals)) for field in _DISPOSAL]
        n = len(times)
        if not set(map(type, exempts)) <= _BOOL or not set(map(type, lots)) <= _LOTS:
            raise _Unusual
        matches = list(chain.from_iterable(lots))
        counts = list(map(len, lots))
        lot_quantities, lot_costs, acquired, lot_accounts, lot_refs, lot_rules = [list(map(field, matches))
                                                                                  for field in _LOT]
        qtexts = _quantities(quantities + lot_quantities)
        written: list[Any] = []
        if matches:
            written = list(map(_Lot, qtexts[n:], _money(lot_costs), _times(acquired), _strings(lot_accounts),
                               _strings(lot_refs), _strings(lot_rules)))
        ends = list(accumulate(counts))
        grouped = map(written.__getitem__, map(slice, chain((0,), ends), ends))
        adjusted: Any = repeat(msgspec.UNSET)
        coded: Any = adjusted
        if any(adjustments) or any(codes):  # an adjustment (US wash sale, ...): written on the disposals that have one
            adjusted, coded = [msgspec.UNSET] * n, [msgspec.UNSET] * n
            for i, (a, c) in enumerate(zip(adjustments, codes, strict=True)):
                if a or c:
                    if type(a) is not Decimal or (c is not None and type(c) is not str):
                        raise _Unusual
                    adjusted[i], coded[i] = quantize_money(a), c
        records = list(map(_Disposal, _times(times), _strings(accounts), _strings(assets), qtexts[:n],
                           _money(proceeds), _money(costs), _money(gains), _strings(terms), _strings(rules), exempts,
                           _strings(refs), _strings(roles), adjusted, coded, grouped))
        text = _FORMAT(_ENCODE([records]), indent=2)  # b'[\n  [\n    {...},\n    {...}\n  ]\n]'
        if not (text.startswith(b"[\n  [\n    {") and text.endswith(b"}\n  ]\n]")):
            raise _Unusual
        return text[6:-6]
