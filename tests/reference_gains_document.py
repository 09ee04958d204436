"""Main's ``gains --format json`` document writer before the per-disposal text writer (commit 423411f), kept
verbatim as the oracle of tests/test_gains_document_fast.py: ``taxreport/cli/gains_cmd.py``'s _disposal_json,
DISPOSALS_PER_PIECE and document_pieces (only their imports are pointed here). Never used by taxreport itself.
"""
# ruff: noqa
# mypy: ignore-errors

from __future__ import annotations

from typing import Any, Iterator

from taxreport.cli.common import json_text
from taxreport.cli.gains_cmd import _summary_json


def summary_json(summary) -> dict[str, Any]:  # noqa: ANN001 - YearSummary
    """The ``--format json`` document (amounts rounded to the cent here, quantities exact)."""
    return _summary_json(summary, [_disposal_json(d) for d in summary.disposals])


def _disposal_json(d) -> dict[str, Any]:  # noqa: ANN001 - DisposalResult
    """One disposal of the ``--format json`` document."""
    from taxreport.model.money import decimal_str, money_str

    return {
        "time": d.time, "account": d.account, "asset": d.asset, "quantity": decimal_str(d.quantity),
        "proceeds": money_str(d.proceeds), "cost": money_str(d.cost), "gain": money_str(d.gain),
        "term": d.term, "rule": d.rule, "exempt": d.exempt, "ref": d.event_key, "role": d.role,
        **({"adjustment": money_str(d.adjustment), "adjustment_code": d.adjustment_code}
           if d.adjustment or d.adjustment_code else {}),
        "lots": [{"quantity": decimal_str(m.quantity), "cost": money_str(m.cost), "acquired_at": m.acquired_at,
                  "account": m.account, "lot": m.lot_ref, "rule": m.rule} for m in d.lots],
    }


DISPOSALS_PER_PIECE = 4096  # disposals turned into JSON at a time by summary_document


def document_pieces(summary) -> Iterator[bytes]:  # noqa: ANN001 - YearSummary
    """The bytes of ``json_text(summary_json(summary))``, in pieces made one at a time (their concatenation is
    that document, byte for byte), so the whole document never exists as Python objects, nor as text, nor as
    bytes: the disposals are turned into dicts and encoded :data:`DISPOSALS_PER_PIECE` at a time (a 1M-trade
    year is ~130 MB of JSON; its dicts were ~210 MB more, and its str and bytes copies 260 MB). The pieces are
    what orjson writes for the whole document with ``OPT_INDENT_2``: the document without its disposals, then
    each block of disposals encoded as a top-level list, its brackets removed and every line indented two more
    spaces (a JSON string never holds a raw newline, so every newline is a line of the layout). A document
    whose outline orjson refuses is written by :func:`json_text`, as before; a block of disposals it refuses (a
    lone surrogate in a name) raises what the former writer raised for it."""
    import orjson

    from taxreport.cli.common import _ORJSON_OPTIONS, _json_default

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value, default=_json_default, option=_ORJSON_OPTIONS)

    disposals = summary.disposals
    slot = b'\n  "disposals": [],\n'
    try:
        outline = dumps(_summary_json(summary, []))
        at = outline.find(slot)  # the top-level key (indented two spaces), once: keys are unique
        if disposals and (at < 0 or outline.find(slot, at + 1) >= 0):
            raise TypeError("unexpected layout")
    except (orjson.JSONEncodeError, TypeError):
        yield json_text(summary_json(summary)).encode()
        return
    if not disposals:
        yield outline
        return
    yield outline[:at] + b'\n  "disposals": [\n'
    for i in range(0, len(disposals), DISPOSALS_PER_PIECE):
        try:
            block = dumps([_disposal_json(d) for d in disposals[i:i + DISPOSALS_PER_PIECE]])  # b"[\n  {...}\n]"
        except (orjson.JSONEncodeError, TypeError) as exc:
            json_text(summary_json(summary)).encode()  # raises what the former writer raised (UnicodeEncodeError)
            from taxreport.errors import TaxreportError

            raise TaxreportError(f"the gains document cannot be written as JSON ({exc})") from None
        yield (b",\n  " if i else b"  ") + block[2:-2].replace(b"\n", b"\n  ")
    yield b"\n  ],\n" + outline[at + len(slot):]
