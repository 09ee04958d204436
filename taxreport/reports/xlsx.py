"""The year-end workbook: Summary, Per asset, Disposals (every disposal, then its lots, whose quantity and
cost are in their own "Lot …" columns so that summing a column never counts a disposal twice), Open lots,
Rebalances and Audit trail sheets, written with XlsxWriter row by row (``constant_memory``): openpyxl
built a Python object per cell and took ~110 s for the ~860,000 cells of a 100,000-trade year.

Presentation rules (no tax rule lives here; the figures come from the jurisdiction modules):

* Numbers are real numbers: amounts in the tax currency are written as exact Decimals with the
  number format ``#,##0.00`` (negative in red), quantities as exact Decimals with
  ``#,##0.00######``; counts as integers. Excel holds 15 significant digits, so every quantity column
  has an exact text twin ("… (exact)") that keeps every digit of the ledger's Decimal.
* Disposal and acquisition dates are **local dates** in the summary's zone (the dates the tax year and
  holding periods were decided on, the same as in the PDF, Form 8949 and the HMRC computation);
  ledger and rebalance times are UTC date-times (``yyyy-mm-dd hh:mm:ss``), labelled so.
* Every sheet has a bold header row, frozen below it (``A2``), an auto-filter and column widths fitted
  to the content (capped).
* No formulas at all: every total is computed in Python. Every text cell is written with
  ``write_string`` (never the guessing ``write``), and text that came from imported data also goes
  through :func:`taxreport.reports.cells.safe_text`, so a note such as ``=HYPERLINK(...)`` stays text
  and shows with a leading ``'`` as in the CSVs.
* Reproducible: the created/modified properties are :meth:`ReportData.generated_time` (``SOURCE_DATE_EPOCH``
  when set, :mod:`taxreport.clock`) and XlsxWriter dates the zip entries 1980-01-31 itself, so the same
  data and time give the same bytes.
* Amounts and quantities are IEEE doubles inside any XLSX file (Excel keeps 15 significant digits);
  the exact Decimal of every quantity is its text twin.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

from taxreport.model.money import decimal_str
from taxreport.reports.cells import safe_text
from taxreport.reports.data import ReportData, breakdown_lines
from taxreport.simulated import banner_note

MONEY_FORMAT = "#,##0.00;[Red]-#,##0.00"
QTY_FORMAT = "#,##0.00######"
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT = "yyyy-mm-dd"
MAX_WIDTH = 60

# column kinds: "text", "money", "qty", "exact" (a quantity's exact text twin), "time", "date", "int"
Column = tuple[str, str]


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc).replace(tzinfo=None)


_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters XML 1.0 cannot hold


def _clean(text: str) -> str:
    return _ILLEGAL.sub("", text)


def _cell_value(value: Any, kind: str) -> Any:
    """What a cell holds: a Decimal, int, datetime/date or str (already neutralised), or None."""
    if value is None or value == "":
        return None
    if type(value) is Decimal and kind in ("money", "qty"):  # the common case first
        return value
    if kind in ("money", "qty"):
        return value if isinstance(value, Decimal) else Decimal(str(value))
    if kind in ("time", "text") and isinstance(value, datetime):  # a moment is an Excel date-time (UTC)
        return _naive_utc(value)
    if kind == "time":
        return _clean(safe_text(value))
    if kind == "int":
        return int(value)
    if kind == "exact":
        return decimal_str(value) if isinstance(value, Decimal) else _clean(safe_text(value))
    if kind == "date":
        return value
    if kind == "text" and isinstance(value, int) and not isinstance(value, bool):
        return value  # a count stays a number
    return _clean(safe_text(value))


class _Formats:
    """The workbook's cell formats, made once."""

    def __init__(self, wb: Any) -> None:
        self.header = wb.add_format({"bold": True, "bg_color": "#DDE4EE"})
        self.money = wb.add_format({"num_format": MONEY_FORMAT})
        self.qty = wb.add_format({"num_format": QTY_FORMAT})
        self.time = wb.add_format({"num_format": TIME_FORMAT})
        self.date = wb.add_format({"num_format": DATE_FORMAT})


def _sheet(wb: Any, fmt: _Formats, title: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]],
           simulated: str | None = None) -> Any:
    """One sheet: bold header frozen below it, auto-filter, widths fitted to the content (capped). With
    ``simulated`` (the SIMULATED note), the name starts with SIMULATED, the printed header says so and
    the tab is red."""
    from datetime import date

    ws = wb.add_worksheet(f"SIMULATED {title}"[:31] if simulated else title)
    kinds = [kind for _, kind in columns]
    values = [[_cell_value(v, k) for v, k in zip(row, kinds)] for row in rows]
    widths = [len(name) + 2 for name, _ in columns]
    fixed = {"money": 16, "qty": 18, "time": 20, "date": 12}
    for c, kind in enumerate(kinds):
        if kind in fixed:
            widths[c] = max(widths[c], fixed[kind])
        else:
            longest = max((len(v) if type(v) is str else len(str(v)) for v in (r[c] for r in values) if v is not None),
                          default=0)
            widths[c] = max(widths[c], min(longest + 2, MAX_WIDTH))
    for c, width in enumerate(widths):
        ws.set_column(c, c, width)
    for c, (name, _) in enumerate(columns):
        ws.write_string(0, c, name, fmt.header)
    ws.freeze_panes(1, 0)
    if rows:
        ws.autofilter(0, 0, len(rows), len(columns) - 1)
    if simulated:
        ws.set_header(("&C" + simulated.replace("&", "&&"))[:250])
        ws.set_tab_color("#B00020")
    number_format = {"money": fmt.money, "qty": fmt.qty}
    for r, row in enumerate(values, start=1):
        for c, value in enumerate(row):
            if value is None:
                continue
            kind = kinds[c]
            if isinstance(value, str):
                ws.write_string(r, c, value)
            elif isinstance(value, bool):
                ws.write_boolean(r, c, value)
            elif isinstance(value, (Decimal, int)):
                ws.write_number(r, c, value, number_format.get(kind))
            elif isinstance(value, datetime):
                ws.write_datetime(r, c, value, fmt.date if kind == "date" else fmt.time)
            elif isinstance(value, date):
                ws.write_datetime(r, c, value, fmt.date)
            else:
                ws.write_string(r, c, _clean(safe_text(value)))
    return ws


def summary_rows(data: ReportData) -> list[list[Any]]:
    s = data.summary
    rows: list[list[Any]] = [
        ["Jurisdiction", s.jurisdiction.upper(), None],
        ["Tax year", s.year, None],
        ["Period start (UTC)", s.year_start, None],
        ["Period end, exclusive (UTC)", s.year_end, None],
        ["Dates of disposals and lots", f"local dates in {s.timezone}", None],
        ["Currency", s.currency, None],
        ["Lot method", s.method, None],
        ["Disposals", len(s.disposals), None],
        ["Proceeds", None, s.proceeds],
        ["Allowable cost", None, s.cost],
        ["Gains", None, s.gains],
        ["Losses", None, s.losses],
        ["Net gain", None, s.gain],
        ["Allowance / threshold", None, s.allowance],
        ["Taxable gain", None, s.taxable_gain],
    ]
    for label, value in breakdown_lines(s.breakdown):
        if isinstance(value, Decimal):
            rows.append([f"Breakdown: {label}", None, value])
        elif isinstance(value, int) and not isinstance(value, bool):
            rows.append([f"Breakdown: {label}", value, None])  # a count: a number
        else:
            rows.append([f"Breakdown: {label}", str(value), None])
    for note in s.notes:
        rows.append(["Note", note, None])
    return rows


def disposal_rows(data: ReportData) -> list[list[Any]]:
    s = data.summary
    rows: list[list[Any]] = []
    for n, d in enumerate(s.disposals, start=1):
        rows.append([n, "disposal", s.local_date(d.time), d.account, d.asset, d.quantity, d.quantity, d.proceeds,
                     d.cost, d.gain, d.rule, d.term or ("exempt" if d.exempt else ""), None, None, None, None, None,
                     d.event_key, "; ".join(d.notes), _detail_text(d.detail.as_dict() if d.detail else {})])
        for lot in d.lots:  # its figures in the lot columns: summing Quantity or Cost never counts a disposal twice
            acquired = s.local_date(lot.acquired_at) if lot.acquired_at else None
            rows.append([n, "lot", None, lot.account or "", d.asset, None, None, None, None, None,
                         lot.rule, None, acquired, lot.lot_ref or "pool", lot.quantity, lot.quantity, lot.cost,
                         None, None, None])
    return rows


def disposal_columns(tz: str) -> list[Column]:
    return [
        ("#", "int"), ("Line", "text"), (f"Date sold ({tz})", "date"), ("Account", "text"), ("Asset", "text"),
        ("Quantity", "qty"), ("Quantity (exact)", "exact"), ("Proceeds", "money"), ("Cost", "money"),
        ("Gain / loss", "money"), ("Rule", "text"), ("Term", "text"), (f"Acquired ({tz})", "date"), ("Lot", "text"),
        ("Lot quantity", "qty"), ("Lot quantity (exact)", "exact"), ("Lot cost", "money"), ("Ledger event", "text"), ("Notes", "text"), ("Country detail", "text"),
    ]


def _detail_text(detail: dict[str, Any]) -> str:
    """The jurisdiction's per-disposal figures (UK pool after, CA outlays…) as ``key=value; …`` text."""
    parts = []
    for key, value in detail.items():
        if isinstance(value, Decimal):
            value = decimal_str(value)
        elif isinstance(value, (list, tuple)):
            value = " ".join(str(v) for v in value)
        parts.append(f"{key}={value}")
    return "; ".join(parts)


def build(data: ReportData, path: Any) -> None:
    """Write the workbook to ``path`` (sheets in order, rows streamed: ``constant_memory``)."""
    import xlsxwriter

    s = data.summary
    note = banner_note(s.notes) or None  # the SIMULATED banner, by its note code (issue #12)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                         "strings_to_formulas": False, "strings_to_urls": False})
    # docProps/core.xml's created and modified (XlsxWriter writes both from "created", else its clock); the zip
    # entries XlsxWriter dates 1980-01-31 itself, so the same data and time give the same bytes
    wb.set_properties({"created": data.generated_time()})
    fmt = _Formats(wb)
    _sheet(wb, fmt, "Summary", [("Item", "text"), ("Value", "text"), (f"Amount ({s.currency})", "money")],
           summary_rows(data), note)
    _sheet(wb, fmt, "Per asset", [("Asset", "text"), ("Disposals", "int"), ("Quantity", "qty"),
                                  ("Quantity (exact)", "exact"), ("Proceeds", "money"), ("Cost", "money"),
                                  ("Gain / loss", "money")],
           [[a.asset, a.disposals, a.quantity, a.quantity, a.proceeds, a.cost, a.gain] for a in data.per_asset], note)
    _sheet(wb, fmt, "Disposals", disposal_columns(s.timezone), disposal_rows(data), note)
    _sheet(wb, fmt, "Open lots", [("Account", "text"), ("Asset", "text"), ("Quantity", "qty"),
                                  ("Quantity (exact)", "exact"), ("Cost", "money"), (f"Acquired ({s.timezone})", "date"),
                                  ("Lot", "text")],
           [[lot.account or "", lot.asset, lot.quantity, lot.quantity, lot.cost,
             s.local_date(lot.acquired_at) if lot.acquired_at else None, lot.lot_ref or "pool"]
            for lot in s.open_lots], note)
    _sheet(wb, fmt, "Rebalances", [("Time (UTC)", "time"), ("Record", "text"), ("Account", "text"), ("Order", "text"),
                                   ("Details", "text"), ("Ledger key", "text")],
           [[r.time, r.record_type, r.account, r.order_id, r.details, r.key] for r in data.records], note)
    _sheet(wb, fmt, "Audit trail", [("Seq", "int"), ("Recorded at", "text"), ("Event time (UTC)", "time"),
                                    ("Actor", "text"), ("Reason", "text"), ("Kind", "text"), ("Ledger key", "text"),
                                    ("Hash", "text")],
           [[a.seq, a.recorded_at, a.time, a.actor, a.reason, a.kind, a.key, a.hash] for a in data.audit], note)
    income = getattr(s, "income", None)  # events helper (issue #12): an Income sheet when income was received
    if income is not None and income.items:
        _sheet(wb, fmt, "Income", [("Received (UTC)", "time"), ("Account", "text"), ("Asset", "text"),
                                   ("Quantity", "qty"), ("Type", "text"), (f"Value ({s.currency})", "money"),
                                   ("Income here", "text"), ("Ledger event", "text")],
               [[i.time, i.account, i.asset, i.quantity, i.income_type, i.value, "yes" if i.is_income else "no", i.ref]
                for i in income.items]
               + [[None, "Total income", None, None, income.category, income.total, None, None],
                  [None, "Taxable income", None, None, income.source, income.taxable, None, None]], note)
    wb.close()


def export(data: ReportData, path: Any) -> Path:
    """Write the workbook atomically to ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    build(data, tmp)
    tmp.replace(target)
    return target
