"""The XLSX workbook, read back with openpyxl: sheets, headers, number formats, frozen panes, values,
and formula injection from imported text."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import openpyxl
from reports_fixtures import rebalance_records, sample_events, us_summary

from taxreport.model.events import Trade
from taxreport.model.money import D
from taxreport.reports import data as report_data
from taxreport.reports import xlsx


def _workbook(ledger, tmp_path, extra=(), summary=None):
    ledger.append([*sample_events(), *rebalance_records(), *extra], actor="importer:test", reason="fixture")
    data = report_data.collect(summary or us_summary(), list(ledger.rows()))
    path = xlsx.export(data, tmp_path / "report.xlsx")
    return openpyxl.load_workbook(path), data


def test_sheets_headers_formats_and_frozen_panes(ledger, tmp_path):
    wb, _ = _workbook(ledger, tmp_path)
    assert wb.sheetnames == ["Summary", "Per asset", "Disposals", "Open lots", "Rebalances", "Audit trail"]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
        assert all(c.font.bold for c in ws[1] if c.value)
        assert all(wb[ws.title].column_dimensions[col].width > 0 for col in "AB")
    d = wb["Disposals"]
    # the fixture summary's zone is UTC; dates are the summary's local dates (the same in every report)
    assert [c.value for c in d[1]][:11] == ["#", "Line", "Date sold (UTC)", "Account", "Asset", "Quantity",
                                            "Quantity (exact)", "Proceeds", "Cost", "Gain / loss", "Rule"]
    first = [c for c in d[2]]
    assert first[2].value == datetime(2024, 3, 12) and first[2].number_format == "yyyy-mm-dd"
    assert first[7].value == 7142.85 and first[7].number_format == "#,##0.00;[Red]-#,##0.00"
    assert first[5].value == 0.1 and first[5].number_format == "#,##0.00######"
    assert first[6].value == "0.1" and first[6].data_type == "s"


def test_values_summary_disposals_and_lots(ledger, tmp_path):
    wb, _ = _workbook(ledger, tmp_path)
    summary = {r[0].value: (r[1].value, r[2].value) for r in wb["Summary"].iter_rows(min_row=2)}
    # hand-computed in reports_fixtures.us_summary
    assert summary["Proceeds"][1] == 15192.855
    assert summary["Net gain"][1] == 6180.572
    assert summary["Losses"][1] == 5.628
    assert summary["Jurisdiction"][0] == "US"
    rows = [[c.value for c in r] for r in wb["Disposals"].iter_rows(min_row=2)]
    assert [r[1] for r in rows] == ["disposal", "lot", "disposal", "lot", "lot", "disposal", "lot"]
    loss = rows[5]
    assert (loss[4], loss[9]) == ("SOL", -5.628)  # a loss is a negative number, not text
    assert isinstance(loss[9], float)
    assert summary["Disposals"][0] == 3 and isinstance(summary["Disposals"][0], int)  # a count is a number
    per_asset = [[c.value for c in r] for r in wb["Per asset"].iter_rows(min_row=2)]
    assert per_asset == [["BTC", 1, 0.1, "0.1", 7142.85, 4404.4, 2738.45], ["ETH", 1, 2, "2", 7000, 3552.25, 3447.75],
                         ["SOL", 1, 10, "10", 1050.005, 1055.633, -5.628]]
    open_lots = [[c.value for c in r] for r in wb["Open lots"].iter_rows(min_row=2)]
    assert open_lots == [["kraken:main", "BTC", 0.4, "0.4", 17617.6, datetime(2024, 1, 5), "trade:csv:K-1#1"]]


def test_rebalances_and_audit_trail(ledger, tmp_path):
    wb, data = _workbook(ledger, tmp_path)
    recs = [[c.value for c in r] for r in wb["Rebalances"].iter_rows(min_row=2)]
    # the fixture's own rebalance.done record (no rebalance id) comes first: same time, written first
    assert [r[1] for r in recs] == ["rebalance.done"] + ["rebalance.trigger", "rebalance.plan", "rebalance.done"] * 2
    assert [(r.rebalance_id, r.orders, r.status, r.total_value) for r in data.rebalances] == \
        [("r1", 2, "completed", Decimal("10000")), ("r2", 2, "completed", Decimal("12500.5"))]
    assert data.allocation == [("BTC", D("51"), D("30") + 20), ("ETH", D("30"), D("30")), ("SOL", D("19"), D("20"))]
    audit = [[c.value for c in r] for r in wb["Audit trail"].iter_rows(min_row=2)]
    # every ledger row of 2024 (15 fixture events incl. the reversal and record, plus 6 rebalance records)
    assert len(audit) == 15 + 6
    assert all(len(r[7]) == 64 for r in audit)  # sha-256 chain hashes
    assert not any(r[6] == "trade:csv:K-2" for r in audit)  # 2025 event is outside the year


def test_no_formulas_and_injection_neutralised(ledger, tmp_path):
    evil = Trade(time=datetime.fromisoformat("2024-07-01T00:00:00+00:00"), source="csv", external_id="E-1",
                 account="okx:main", side="buy", base="BTC", quote="USDT", quantity=D("0.001"), price=D("1"),
                 note="=HYPERLINK(\"http://evil\",\"x\")")
    summary = us_summary()
    summary.notes.append("-2+3")
    wb, _ = _workbook(ledger, tmp_path, extra=[evil], summary=summary)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
    notes = [r[1].value for r in wb["Summary"].iter_rows(min_row=2) if r[0].value == "Note"]
    assert notes[-2:] == ["'=cmd|' /C calc'!A0", "'-2+3"]  # hostile notes, neutralised



def test_breakdown_lines_flatten_groups_keep_counts_numbers_and_rates_text():
    lines = report_data.breakdown_lines({"short": {"proceeds": D("10"), "gain": D("2"), "count": D("3")},
                                         "discount_rate": D("0.50"), "discount_amount": D("1.5"),
                                         "timezone": "Australia/Sydney", "form8949": {"short_box": "C"},
                                         "sa108_number_of_disposals": 7})
    assert lines == [("short: proceeds", D("10")), ("short: gain", D("2")), ("short: count", 3),
                     ("discount rate", "0.5"), ("discount amount", D("1.5")), ("timezone", "Australia/Sydney"),
                     ("form8949", "short_box=C"), ("sa108 number of disposals", 7)]
    # nested groups (UK SA108 split around 30 Oct 2024) flatten at any depth; "rate" in the group's name
    # does not make its amounts rates
    nested = report_data.breakdown_lines({"sa108_rate_change_split": {
        "before 30 Oct 2024": {"gains": D("0"), "count": 0}, "on or after 30 Oct 2024": {"gains": D("10.5"), "count": 3}}})
    assert nested == [("sa108 rate change split: before 30 Oct 2024: gains", D("0")),
                      ("sa108 rate change split: before 30 Oct 2024: count", 0),
                      ("sa108 rate change split: on or after 30 Oct 2024: gains", D("10.5")),
                      ("sa108 rate change split: on or after 30 Oct 2024: count", 3)]


def test_counts_in_the_summary_sheet_are_numbers(tmp_path):
    """Issue #13 item 4: a count is a number cell (3), not the text "3"; so are the disposal count and the
    per-asset disposals."""
    from reports_fixtures import us_summary

    s = us_summary()
    s.breakdown = {"short": {"count": 2, "gain": D("3980.572")}, "long": {"count": D("1"), "gain": D("2200")},
                   "sa108_number_of_disposals": 3}
    path = xlsx.export(report_data.collect(s, []), tmp_path / "c.xlsx")
    wb = openpyxl.load_workbook(path)
    values = {r[0].value: r[1].value for r in wb["Summary"].iter_rows(min_row=2)}
    assert values["Breakdown: short: count"] == 2 and values["Breakdown: long: count"] == 1
    assert values["Breakdown: sa108 number of disposals"] == 3 and values["Disposals"] == 3
    assert [r[1].value for r in wb["Per asset"].iter_rows(min_row=2)] == [1, 1, 1]


def test_uk_disposals_carry_the_pool_after_in_the_detail_column(tmp_path):
    from reports_fixtures import uk_summary

    path = xlsx.export(report_data.collect(uk_summary(), []), tmp_path / "uk.xlsx")
    ws = openpyxl.load_workbook(path)["Disposals"]
    header = [c.value for c in ws[1]]
    first = [c.value for c in ws[2]]
    detail = first[header.index("Country detail")]
    assert "pool_quantity_after=70" in detail and "pool_cost_after=700" in detail
    assert [c.value for c in ws[3]][header.index("Rule")] == "same-day"


def test_quantities_keep_every_digit_and_dates_are_the_reports_local_dates(tmp_path):
    # Excel holds 15 significant digits: 0.123456789012345678 is 0.1234567890123457 as a number, so the
    # exact text twin carries it. A disposal at 2025-01-01T03:00Z is 31 Dec 2024 in New York: the
    # workbook says 2024-12-31, as Form 8949 does.
    from dataclasses import replace

    from reports_fixtures import us_summary

    s = us_summary()
    d0 = replace(s.disposals[0], quantity=D("0.123456789012345678"), time=datetime.fromisoformat("2025-01-01T03:00:00+00:00"))
    s.disposals = [d0, *s.disposals[1:]]
    s.timezone = "America/New_York"
    path = xlsx.export(report_data.collect(s, []), tmp_path / "q.xlsx")
    ws = openpyxl.load_workbook(path)["Disposals"]
    header = [c.value for c in ws[1]]
    row = [c.value for c in ws[2]]
    assert header[2] == "Date sold (America/New_York)" and row[2] == datetime(2024, 12, 31)
    assert row[header.index("Quantity (exact)")] == "0.123456789012345678"
