"""The year-end workbook (openpyxl): Summary, Disposals (every disposal with its lots), Open lots,
Rebalances and Audit trail sheets.

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
* No formulas at all: every total is computed in Python. Text that came from imported data goes
  through :func:`taxreport.reports.cells.safe_text`, so a note such as ``=HYPERLINK(...)`` stays text
  (openpyxl would otherwise store any string starting with ``=`` as a formula).
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

from taxreport.model.money import decimal_str
from taxreport.reports.cells import safe_text
from taxreport.reports.data import ReportData, breakdown_lines

MONEY_FORMAT = "#,##0.00;[Red]-#,##0.00"
QTY_FORMAT = "#,##0.00######"
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT = "yyyy-mm-dd"
MAX_WIDTH = 60

# column kinds: "text", "money", "qty", "exact" (a quantity's exact text twin), "time", "date", "int"
Column = tuple[str, str]


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def _cell_value(value: Any, kind: str) -> Any:
    if value is None or value == "":
        return None
    if kind in ("money", "qty"):
        return value if isinstance(value, Decimal) else Decimal(str(value))
    if kind == "time":
        return _naive_utc(value) if isinstance(value, datetime) else safe_text(value)
    if kind == "int":
        return int(value)
    if kind == "exact":
        return decimal_str(value) if isinstance(value, Decimal) else _clean(safe_text(value))
    if kind == "date":
        return value
    if kind == "text" and isinstance(value, int) and not isinstance(value, bool):
        return value  # a count stays a number
    return _clean(safe_text(value))


def _clean(text: str) -> str:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("", text)


def _sheet(wb: Any, title: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]], *, first: bool = False) -> Any:
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws = wb.active if first else wb.create_sheet()
    ws.title = title
    header_font = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDE4EE")
    widths = [len(name) + 2 for name, _ in columns]
    for c, (name, _) in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=c, value=name)
        cell.font, cell.fill = header_font, fill
    for r, row in enumerate(rows, start=2):
        for c, ((_, kind), value) in enumerate(zip(columns, row), start=1):
            cell = ws.cell(row=r, column=c, value=_cell_value(value, kind))
            if kind == "money":
                cell.number_format = MONEY_FORMAT
            elif kind == "qty":
                cell.number_format = QTY_FORMAT
            elif kind == "time" and isinstance(cell.value, datetime):
                cell.number_format = TIME_FORMAT
            elif kind == "date" and cell.value is not None:
                cell.number_format = DATE_FORMAT
            width = {"money": 16, "qty": 18, "time": 20}.get(kind, len(str(cell.value or "")) + 2)
            widths[c - 1] = max(widths[c - 1], min(width, MAX_WIDTH))
    for c, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = width
    ws.freeze_panes = "A2"
    if rows:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(rows) + 1}"
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
                     d.cost, d.gain, d.rule, d.term or ("exempt" if d.exempt else ""), None, None, d.event_key,
                     "; ".join(d.notes), _detail_text(d.detail)])
        for lot in d.lots:
            acquired = s.local_date(lot.acquired_at) if lot.acquired_at else None
            rows.append([n, "lot", None, lot.account or "", d.asset, lot.quantity, lot.quantity, None, lot.cost, None,
                         lot.rule, None, acquired, lot.lot_ref or "pool", None, None, None])
    return rows


def disposal_columns(tz: str) -> list[Column]:
    return [
        ("#", "int"), ("Line", "text"), (f"Date sold ({tz})", "date"), ("Account", "text"), ("Asset", "text"),
        ("Quantity", "qty"), ("Quantity (exact)", "exact"), ("Proceeds", "money"), ("Cost", "money"),
        ("Gain / loss", "money"), ("Rule", "text"), ("Term", "text"), (f"Acquired ({tz})", "date"), ("Lot", "text"),
        ("Ledger event", "text"), ("Notes", "text"), ("Country detail", "text"),
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


def build(data: ReportData) -> Any:
    """The workbook (not saved)."""
    from openpyxl import Workbook

    s = data.summary
    wb = Workbook()
    _sheet(wb, "Summary", [("Item", "text"), ("Value", "text"), (f"Amount ({s.currency})", "money")],
           [[a, b if not isinstance(b, datetime) else b.strftime("%Y-%m-%d %H:%M:%S"), c]
            for a, b, c in summary_rows(data)], first=True)
    _sheet(wb, "Per asset", [("Asset", "text"), ("Disposals", "int"), ("Quantity", "qty"),
                             ("Quantity (exact)", "exact"), ("Proceeds", "money"), ("Cost", "money"),
                             ("Gain / loss", "money")],
           [[a.asset, a.disposals, a.quantity, a.quantity, a.proceeds, a.cost, a.gain] for a in data.per_asset])
    _sheet(wb, "Disposals", disposal_columns(s.timezone), disposal_rows(data))
    _sheet(wb, "Open lots", [("Account", "text"), ("Asset", "text"), ("Quantity", "qty"), ("Quantity (exact)", "exact"),
                             ("Cost", "money"), (f"Acquired ({s.timezone})", "date"), ("Lot", "text")],
           [[lot.account or "", lot.asset, lot.quantity, lot.quantity, lot.cost,
             s.local_date(lot.acquired_at) if lot.acquired_at else None, lot.lot_ref or "pool"]
            for lot in s.open_lots])
    _sheet(wb, "Rebalances", [("Time (UTC)", "time"), ("Record", "text"), ("Account", "text"), ("Order", "text"),
                              ("Details", "text"), ("Ledger key", "text")],
           [[r.time, r.record_type, r.account, r.order_id, r.details, r.key] for r in data.records])
    _sheet(wb, "Audit trail", [("Seq", "int"), ("Recorded at", "text"), ("Event time (UTC)", "time"),
                               ("Actor", "text"), ("Reason", "text"), ("Kind", "text"), ("Ledger key", "text"),
                               ("Hash", "text")],
           [[a.seq, a.recorded_at, a.time, a.actor, a.reason, a.kind, a.key, a.hash] for a in data.audit])
    _income_and_simulated(wb, s)  # events helper (issue #12)
    return wb


def _income_and_simulated(wb: Any, s: Any) -> None:
    """Events helper (issue #12): an Income sheet when income was received in the period; with simulated
    accounts included, every sheet's name starts with SIMULATED and its printed header says so."""
    income = getattr(s, "income", None)
    if income is not None and income.items:
        _sheet(wb, "Income", [("Received (UTC)", "time"), ("Account", "text"), ("Asset", "text"),
                              ("Quantity", "qty"), ("Type", "text"), (f"Value ({s.currency})", "money"),
                              ("Income here", "text"), ("Ledger event", "text")],
               [[i.time, i.account, i.asset, i.quantity, i.income_type, i.value, "yes" if i.is_income else "no", i.ref]
                for i in income.items]
               + [[None, "Total income", None, None, income.category, income.total, None, None],
                  [None, "Taxable income", None, None, income.source, income.taxable, None, None]])
    note = next((n for n in s.notes if n.startswith("SIMULATED")), None)
    if note:
        for ws in wb.worksheets:
            ws.title = f"SIMULATED {ws.title}"[:31]
            ws.oddHeader.center.text = note[:250]
            ws.sheet_properties.tabColor = "B00020"


def export(data: ReportData, path: Any) -> Path:
    """Write the workbook atomically to ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    build(data).save(tmp)
    tmp.replace(target)
    return target
