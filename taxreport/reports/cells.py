"""Safe cells for CSV and XLSX exports: user-supplied text can never become a spreadsheet formula.

Spreadsheet programs treat a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some programs,
a leading tab or carriage return) as a formula ("CSV injection", OWASP:
https://owasp.org/www-community/attacks/CSV_Injection). Text that comes from imported data (notes,
account names, descriptions, record data) is therefore prefixed with a single quote when it begins
with one of those characters. **Numbers are never touched**: a ``Decimal`` is written as its exact
decimal text (a loss stays ``-5.00``, a number), so only values typed as ``str`` are neutralised.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from taxreport.model.money import decimal_str, money_str

DANGEROUS_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: Any) -> str:
    """``value`` as text, with a leading ``'`` when it begins with a formula-trigger character."""
    text = "" if value is None else str(value)
    if text.startswith(DANGEROUS_STARTS):
        return "'" + text
    return text


def qty(value: Decimal | None) -> str:
    """Exact quantity text (no exponent, no trailing zeros); empty for ``None``."""
    return "" if value is None else decimal_str(value)


def money(value: Decimal | None) -> str:
    """Fiat amount rounded half-up to the cent for presentation (``money_str``: an amount that rounds to
    zero is ``0.00``, never ``-0.00``); empty for ``None``."""
    return "" if value is None else money_str(value)


def apportion_cents(values: list[Decimal]) -> list[Decimal]:
    """Cent amounts for printing ``values`` in one column of a form whose total line is the sum of its
    rows: the rows add up to the total rounded once from the unrounded values (half-up, as :func:`money`),
    and each row is within one cent of its unrounded value. Every row is rounded half-up first; the few
    cents by which those differ from the rounded total (at most about the square root of the number of
    rows) are then taken from, or given to, the rows nearest to rounding the other way (the earlier row
    first on a tie), so a column whose rounded rows already add up is printed exactly as :func:`money`
    prints each. Used by the filing forms (Form 8949, the HMRC computation), whose printed rows must add
    up to their printed totals."""
    import heapq
    from decimal import ROUND_HALF_UP

    cent = Decimal("0.01")
    rounded = [v.quantize(cent, rounding=ROUND_HALF_UP) for v in values]
    total = sum(values, Decimal(0)).quantize(cent, rounding=ROUND_HALF_UP)
    missing = int((total - sum(rounded, Decimal(0))) / cent)
    if missing:  # the rows whose exact value lies furthest beyond their rounding in the step's direction
        beyond = [v - r for v, r in zip(values, rounded)]
        pick = heapq.nlargest if missing > 0 else heapq.nsmallest  # both stable: the earlier row on a tie
        step = cent if missing > 0 else -cent
        for i in pick(abs(missing), range(len(values)), key=beyond.__getitem__):
            rounded[i] += step
    return rounded  # a rounded zero may be -0.00: print with money, which writes 0.00


class Num(str):
    """Text of a number that the exporter produced itself (not user data): written as is."""


def csv_cell(value: Any) -> str:
    """One CSV cell: numbers (``Decimal``, ``int``, :class:`Num`) verbatim, everything else through
    :func:`safe_text`."""
    kind = type(value)
    if kind is Num:  # the common case first: most cells of a large export are numbers we formatted
        return value  # type: ignore[no-any-return]
    if kind is str:
        return safe_text(value)
    if value is None:
        return ""
    if isinstance(value, Num):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return decimal_str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return safe_text(value)


def write_csv(path: Any, header: list[str], rows: list[list[Any]]) -> int:
    """Write ``header`` and ``rows`` as UTF-8 CSV (``\\n`` line ends, minimal quoting) atomically (a
    ``.partial`` file renamed at the end); return the number of data rows."""
    from pathlib import Path

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    tmp.write_text(render_csv(header, rows), encoding="utf-8", newline="")
    tmp.replace(target)
    return len(rows)


def render_csv(header: list[str], rows: list[list[Any]]) -> str:
    """The same CSV as :func:`write_csv`, as a string (for tests and previews)."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row has {len(row)} cells, header has {len(header)}")
        writer.writerow([csv_cell(v) for v in row])
    return buf.getvalue()
