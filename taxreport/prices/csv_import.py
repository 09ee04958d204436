"""Parse rate files for ``taxreport prices import``; the layout is recognised by the header row.

* **Rate CSV** (taxreport's own): header ``timestamp,base,quote,rate`` (``date`` instead of
  ``timestamp`` is accepted; an optional ``source`` column). ``timestamp`` is ISO 8601 with an offset
  or ``Z``; a plain date ``YYYY-MM-DD`` means 00:00 UTC of that day (a daily rate, valid for the whole
  UTC day: see :mod:`taxreport.prices.rates`). Meaning: 1 ``base`` = ``rate`` ``quote``.
* **ECB euro reference rates** (``eurofxref-hist.csv`` / ``eurofxref.csv`` from
  https://www.ecb.europa.eu/stats/policy_and_exchange_rates/euro_reference_exchange_rates/): header
  ``Date,USD,JPY,…``; each cell is units of that currency per 1 EUR, stored as ``EUR->USD`` etc.
  The daily file's ``05 January 2024`` dates are accepted too. ``N/A`` (or empty) cells are gaps, not zeros: nothing is stored for them.

* **OHLCV candles** (header ``timestamp,symbol,open,high,low,close,volume``): not rates but price
  history; :func:`file_layout` names it ``ohlcv`` and ``taxreport prices import`` hands it to
  :func:`taxreport.prices.candles.parse_ohlcv_csv` (the candle store). :func:`parse_rate_file` refuses it.

Every rate goes through :func:`taxreport.model.money.parse_amount` (issue #12 item 7): ``1e15`` or more,
more than 30 significant digits or an exponent like ``1e400`` is refused. Its lower bound (non-zero
values below ``1e-30``) leaves room for any real rate: SHIB/USD is about 0.00001 and even a meme token
priced in BTC stays above 1e-15.

Lines starting with ``#`` are comments. Every bad row is reported (file, line, field) and nothing is written if any row is bad.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timezone
from pathlib import Path

from taxreport.errors import InputError
from taxreport.importers.base import ImportRefused, csv_lines, read_text
from taxreport.model.assets import normalise_asset
from taxreport.model.events import parse_time
from taxreport.model.money import parse_amount
from taxreport.prices.candles import HEADER as OHLCV_HEADER
from taxreport.prices.store import RateRow

_CODE = re.compile(r"^[A-Z]{3}$")
GAP_CELLS = {"", "N/A", "NA", "-"}


def _layout_of(names: list[str]) -> str | None:
    lower = [n.lower() for n in names]
    if tuple(lower) == OHLCV_HEADER:
        return "ohlcv"
    if lower and lower[0] == "date" and len(names) > 1 and all(_CODE.match(n) for n in names[1:] if n):
        return "ecb"
    if "rate" in lower and "base" in lower and "quote" in lower and ("timestamp" in lower or "date" in lower
                                                                     or "time" in lower):
        return "csv"
    return None


def _header(path: str) -> tuple[list[tuple[int, list[str]]], str]:
    text = read_text(path)
    lines = [(n, cells) for n, cells in csv_lines(text)
             if any(c.strip() for c in cells) and not cells[0].lstrip().startswith("#")]
    if not lines:
        raise InputError("empty file: expected a header row", file=path)
    header_line, header = lines[0]
    names = [h.strip() for h in header]
    layout = _layout_of(names)
    if layout is None:
        raise InputError("unrecognised header: expected 'timestamp,base,quote,rate', the ECB layout "
                         f"'Date,USD,JPY,…' or OHLCV '{','.join(OHLCV_HEADER)}', got {','.join(names)!r}",
                         file=path, line=header_line)
    return lines, layout


def file_layout(path: str) -> str:
    """``csv``, ``ecb`` or ``ohlcv``, recognised by the header row; InputError for anything else."""
    return _header(path)[1]


def parse_rate_file(path: str, *, source: str | None = None) -> tuple[str, list[RateRow], int]:
    """``(layout, rows, gaps)`` of a rate file; raise :class:`ImportRefused` listing every bad row."""
    lines, layout = _header(path)
    names = [h.strip() for h in lines[0][1]]
    if layout == "ecb":
        return "ecb", *_parse_ecb(path, names, lines[1:], source or "ecb")
    if layout == "csv":
        lower = [n.lower() for n in names]
        return "csv", _parse_generic(path, lower, lines[1:], source or f"file:{Path(path).name}"), 0
    raise InputError("this is an OHLCV candle file, not rates: import it with `taxreport prices import` "
                     "(it goes to the candle store)", file=path, line=lines[0][0])


def _when(cell: str, what: str = "timestamp") -> datetime:
    text = cell.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return datetime.combine(date.fromisoformat(text), time(0), tzinfo=timezone.utc)
    return parse_time(text, what=what)


def _reason(exc: ValueError, field: str) -> str:
    """The reason of a parser's ValueError without its leading ``field: `` (the InputError names the field)."""
    text = str(exc)
    return text[len(field) + 2:] if text.startswith(f"{field}: ") else text


def _parse_generic(path: str, lower: list[str], body, source: str) -> list[RateRow]:  # noqa: ANN001
    col_t = next(lower.index(n) for n in ("timestamp", "date", "time") if n in lower)
    col_b, col_q, col_r = lower.index("base"), lower.index("quote"), lower.index("rate")
    col_s = lower.index("source") if "source" in lower else None
    rows: list[RateRow] = []
    problems: list[InputError] = []
    for line, cells in body:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) < len(lower):
            problems.append(InputError(f"expected {len(lower)} cells, got {len(cells)}", file=path, line=line))
            continue
        field = lower[col_t]
        try:
            moment = _when(cells[col_t], field)
            field = "base"
            base = normalise_asset(cells[col_b], what="base")
            field = "quote"
            quote = normalise_asset(cells[col_q], what="quote")
            if base == quote:
                raise ValueError("base and quote are the same")
            field = "rate"
            rate = parse_amount(cells[col_r], what="rate")
            if rate <= 0:
                raise ValueError(f"must be greater than zero, got {cells[col_r].strip()}")
        except ValueError as exc:
            problems.append(InputError(_reason(exc, field), file=path, line=line, field=field))
            continue
        src = cells[col_s].strip() if col_s is not None and cells[col_s].strip() else source
        rows.append(RateRow(base, quote, moment, rate, src, f"{path}:{line}"))
    if problems:
        raise ImportRefused(path, problems)
    return rows


def _ecb_date(cell: str) -> date:
    """``2024-01-05`` (eurofxref-hist.csv) or ``05 January 2024`` (the daily eurofxref.csv)."""
    text = cell.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        return datetime.strptime(text, "%d %B %Y").date()


def _parse_ecb(path: str, names: list[str], body, source: str) -> tuple[list[RateRow], int]:  # noqa: ANN001
    rows: list[RateRow] = []
    problems: list[InputError] = []
    gaps = 0
    for line, cells in body:
        if not any(c.strip() for c in cells):
            continue
        try:
            day = _ecb_date(cells[0])
        except ValueError:
            problems.append(InputError(f"{cells[0]!r} is not a date (YYYY-MM-DD)", file=path, line=line,
                                       field="Date"))
            continue
        moment = datetime.combine(day, time(0), tzinfo=timezone.utc)
        for i, code in enumerate(names[1:], start=1):
            if not code:
                continue
            cell = cells[i].strip() if i < len(cells) else ""
            if cell.upper() in GAP_CELLS:
                gaps += 1
                continue
            try:
                rate = parse_amount(cell, what=code)
                if rate <= 0:
                    raise ValueError(f"{code}: must be greater than zero, got {cell}")
            except ValueError as exc:
                problems.append(InputError(str(exc).split(": ", 1)[-1], file=path, line=line, field=code))
                continue
            rows.append(RateRow("EUR", code, moment, rate, source, f"{path}:{line}"))
    if problems:
        raise ImportRefused(path, problems)
    return rows, gaps
