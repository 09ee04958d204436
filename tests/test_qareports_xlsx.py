"""The workbook as a spreadsheet user sums it (QA round 12, the accountant's journey).

The Disposals sheet lists each disposal followed by its lot lines. Before round 12 a lot line repeated
its quantity and cost in the disposal's own Quantity and Cost columns, so ``=SUM(I:I)`` over Cost gave
twice the year's cost (the README promised "summing a column never double counts"). The lot figures
now sit in their own columns (Lot quantity, Lot quantity (exact), Lot cost). The Summary's period
bounds are Excel date-times, not text.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import openpyxl
import pytest
from reports_fixtures import us_summary

from taxreport.reports import data as report_data
from taxreport.reports import xlsx


def _sum(rows: list[dict], column: str) -> Decimal:
    return sum((Decimal(repr(r[column])) for r in rows if r[column] is not None), Decimal(0))


def test_summing_the_disposals_sheet_columns_gives_the_year_totals(tmp_path):
    path = xlsx.export(report_data.collect(us_summary(), []), tmp_path / "w.xlsx")
    ws = openpyxl.load_workbook(path)["Disposals"]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, (c.value for c in r))) for r in ws.iter_rows(min_row=2)]
    # reports_fixtures.us_summary: costs 4404.40 + 3552.25 (two lots 2252.25 + 1300) + 1055.633 = 9012.283;
    # quantities 0.1 BTC + 2 ETH + 10 SOL = 12.1; proceeds 7142.85 + 7000 + 1050.005 = 15192.855
    assert _sum(rows, "Cost") == pytest.approx(Decimal("9012.283"))  # not 18024.566 (every lot counted again)
    assert _sum(rows, "Lot cost") == pytest.approx(Decimal("9012.283"))
    assert _sum(rows, "Quantity") == pytest.approx(Decimal("12.1"))
    assert _sum(rows, "Lot quantity") == pytest.approx(Decimal("12.1"))
    assert _sum(rows, "Proceeds") == pytest.approx(Decimal("15192.855"))
    lots = [r for r in rows if r["Line"] == "lot"]
    assert [r["Lot quantity (exact)"] for r in lots] == ["0.1", "1", "1", "10"]
    assert all(r["Quantity"] is None and r["Cost"] is None for r in lots)


def test_summary_period_bounds_are_dates(tmp_path):
    path = xlsx.export(report_data.collect(us_summary(), []), tmp_path / "w.xlsx")
    rows = {r[0].value: r[1] for r in openpyxl.load_workbook(path)["Summary"].iter_rows(min_row=2)}
    start, end = rows["Period start (UTC)"], rows["Period end, exclusive (UTC)"]
    assert isinstance(start.value, datetime) and start.number_format == "yyyy-mm-dd hh:mm:ss"
    assert isinstance(end.value, datetime) and end.value > start.value
