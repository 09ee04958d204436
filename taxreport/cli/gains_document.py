"""The disposals of a ``gains --format json`` document written as text, byte for byte what
:func:`taxreport.cli.gains_cmd.document_pieces`'s general writer (a dict per disposal and per lot, encoded by orjson
with ``OPT_INDENT_2`` and re-indented) writes, several times faster: at 1,000,000 trades the general writer was
11 s of the first ``gains`` call's profile. JSON text: RFC 8259; the layout is orjson's two-space indent."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP
from typing import Any

from taxreport.cli.common import _json_default
from taxreport.model.money import CENT, decimal_str


class _Unusual(Exception):
    """A value :class:`DisposalWriter` does not write itself (the general writer then writes the block)."""


# A character orjson writes escaped in a JSON string (RFC 8259 section 7: the quotation mark, the reverse solidus
# and the control characters U+0000-U+001F; lone surrogates it refuses): a string without one is written as it is.
_ESCAPED = re.compile(r'["\\\x00-\x1f\ud800-\udfff]')

# The most strings and times a writer keeps the text of (a name, a rule, a lot's reference and acquisition time met
# again in the next sales, as FIFO splits a lot over consecutive sales). A 1M-trade year has ~330,000 different ones:
# once this many are kept they are dropped and the memo starts again (the recent ones are the ones met again).
_MEMO = 65536


def _quantity(value: Any) -> str:
    """:func:`decimal_str` of a quantity, with its common case (plain digits, no exponent) done here."""
    if not value:
        return "0"
    q = str(value)
    if "E" in q or len(q) >= 900:
        return decimal_str(value)
    return q.rstrip("0").rstrip(".") if "." in q else q


class DisposalWriter:
    """The disposals of a ``--format json`` document as text, several times faster than turning each into a dict
    and letting orjson encode and re-indent it (:func:`_disposal_json`): one f-string per disposal and per lot,
    laid out as ``orjson.OPT_INDENT_2`` lays them out at that depth, each string's JSON text made once (by
    orjson itself when it needs escaping), each time's text once per value (:func:`_json_default`), the amounts
    formatted as :func:`money_str` and :func:`decimal_str` format them. :meth:`block` gives None for a block
    holding a value of another type than the fields declare (or a string orjson refuses): the general writer
    then writes, or refuses, that block as before. tests/test_gains_document_fast.py checks the bytes against
    the former writer (kept verbatim in tests/reference_gains_document.py)."""

    def __init__(self) -> None:
        self.strings: dict[str, str] = {}  # str -> its JSON text
        self.times: dict[datetime, str] = {}  # datetime -> its JSON text

    def text(self, value: Any) -> str:
        """The JSON text of a string field (a str, or None where the field allows it)."""
        if value is None:
            return "null"
        if type(value) is not str:
            raise _Unusual
        if (value.isascii() and value.isprintable() and '"' not in value and "\\" not in value) \
                or _ESCAPED.search(value) is None:  # the first test, in C, settles the common case
            out = f'"{value}"'
        else:
            import orjson

            try:
                out = orjson.dumps(value).decode()
            except orjson.JSONEncodeError:
                raise _Unusual from None
        if len(self.strings) >= _MEMO:
            self.strings.clear()
        self.strings[value] = out
        return out

    def time(self, value: Any) -> str:
        if value is None:
            return "null"
        if type(value) is not datetime:
            raise _Unusual
        if value.tzinfo is timezone.utc:  # _json_default's text without its conversion: the time is in UTC
            text = value.isoformat()  # ends with "+00:00", the one place it can appear, written "Z"
            out = f'"{text[:-6]}Z"'
        else:
            out = f'"{_json_default(value)}"'
        if len(self.times) >= _MEMO:
            self.times.clear()
        self.times[value] = out
        return out

    def block(self, disposals: Any) -> str | None:
        try:
            return ",\n".join(map(self.disposal, disposals))
        except Exception:  # noqa: BLE001 - whatever it is, the general writer writes it or raises it as before
            return None

    def disposal(self, d: Any) -> str:
        strings, times = self.strings, self.times
        text, time = self.text, self.time
        t = d.time
        t = (times.get(t) if type(t) is datetime else None) or time(t)
        q = _quantity(d.quantity)
        exempt = d.exempt
        if exempt is True:
            ex = "true"
        elif exempt is False:
            ex = "false"
        else:
            raise _Unusual
        account, asset, term, rule, ref, role = d.account, d.asset, d.term, d.rule, d.event_key, d.role
        adj = ""
        if d.adjustment or d.adjustment_code:
            code = d.adjustment_code
            adj = (f'      "adjustment": "{format(d.adjustment.quantize(CENT, ROUND_HALF_UP), "f")}",\n'
                   f'      "adjustment_code": {strings.get(code) or text(code)},\n')
        lots = d.lots
        if type(lots) is not tuple and type(lots) is not list:
            raise _Unusual
        lots = "[\n" + ",\n".join([self.lot(m) for m in lots]) + "\n      ]" if lots else "[]"
        return (f'    {{\n      "time": {t},\n'
                f'      "account": {strings.get(account) or text(account)},\n'
                f'      "asset": {strings.get(asset) or text(asset)},\n'
                f'      "quantity": "{q}",\n'
                f'      "proceeds": "{format(d.proceeds.quantize(CENT, ROUND_HALF_UP), "f")}",\n'
                f'      "cost": "{format(d.cost.quantize(CENT, ROUND_HALF_UP), "f")}",\n'
                f'      "gain": "{format(d.gain.quantize(CENT, ROUND_HALF_UP), "f")}",\n'
                f'      "term": {strings.get(term) or text(term)},\n'
                f'      "rule": {strings.get(rule) or text(rule)},\n'
                f'      "exempt": {ex},\n'
                f'      "ref": {strings.get(ref) or text(ref)},\n'
                f'      "role": {strings.get(role) or text(role)},\n'
                f'{adj}      "lots": {lots}\n    }}')

    def lot(self, m: Any) -> str:
        strings, text = self.strings, self.text
        q = _quantity(m.quantity)
        at = m.acquired_at
        at = (self.times.get(at) if type(at) is datetime else None) or self.time(at)
        account, ref, rule = m.account, m.lot_ref, m.rule
        return (f'        {{\n          "quantity": "{q}",\n'
                f'          "cost": "{format(m.cost.quantize(CENT, ROUND_HALF_UP), "f")}",\n'
                f'          "acquired_at": {at},\n'
                f'          "account": {strings.get(account) or text(account)},\n'
                f'          "lot": {strings.get(ref) or text(ref)},\n'
                f'          "rule": {strings.get(rule) or text(rule)}\n        }}')
