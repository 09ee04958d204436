"""Specific identification: which lots the user names for a disposal, read from a CSV file.

Format (header required; one row per (disposal, lot); the lots are used in row order)::

    disposal,lot,quantity
    trade:csv:K-1004#0,trade:csv:K-1001#1,0.06
    trade:csv:K-1004#0,trade:csv:K-1007#1,

* ``disposal``: the disposal's ref ``event_key#leg_index`` (shown as ``ref`` by
  ``taxreport gains --detail`` / ``--format json``);
* ``lot``: the acquisition's ref (the ``lot`` column of the detail output; a lot moved between
  accounts keeps its ref);
* ``quantity``: units to take from that lot; empty = as many as still needed.

Used with ``--method specific --lots FILE``. Disposals not named in the file are matched FIFO (IRS
virtual-currency FAQ Q41) and the report's notes count them. A named lot that is not in the
disposal's account, or has too few units left, is an error.
"""

from __future__ import annotations

from decimal import Decimal

from taxreport.errors import InputError
from taxreport.importers.base import ImportRefused, csv_lines, read_text
from taxreport.model.money import parse_decimal


def read_selections(path: str) -> dict[str, list[tuple[str, Decimal | None]]]:
    lines = list(csv_lines(read_text(path)))
    if not lines:
        raise InputError("empty file: expected the header disposal,lot,quantity", file=path)
    line0, header = lines[0]
    names = [h.strip().lower() for h in header]
    if "disposal" not in names or "lot" not in names:
        raise InputError(f"header must be disposal,lot,quantity, got {','.join(header)!r}", file=path, line=line0)
    cd, cl = names.index("disposal"), names.index("lot")
    cq = names.index("quantity") if "quantity" in names else None
    out: dict[str, list[tuple[str, Decimal | None]]] = {}
    problems: list[InputError] = []
    for line, cells in lines[1:]:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) < len(names):
            problems.append(InputError(f"expected {len(names)} cells, got {len(cells)}", file=path, line=line))
            continue
        disposal, lot = cells[cd].strip(), cells[cl].strip()
        if "#" not in disposal:
            problems.append(InputError(f"{disposal!r} is not a ref like event_key#leg", file=path, line=line,
                                       field="disposal"))
            continue
        if "#" not in lot:
            problems.append(InputError(f"{lot!r} is not a ref like event_key#leg", file=path, line=line,
                                       field="lot"))
            continue
        qty = None
        if cq is not None and cells[cq].strip():
            try:
                qty = parse_decimal(cells[cq], what="quantity")
                if qty <= 0:
                    raise ValueError(f"quantity: must be greater than zero, got {cells[cq].strip()}")
            except ValueError as exc:
                problems.append(InputError(str(exc).split(": ", 1)[-1], file=path, line=line, field="quantity"))
                continue
        out.setdefault(disposal, []).append((lot, qty))
    if problems:
        raise ImportRefused(path, problems)
    return out
