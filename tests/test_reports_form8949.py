"""Form 8949 CSV: golden files (hand-computed summary in reports_fixtures.us_summary), parts, boxes."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from reports_fixtures import us_summary

from taxreport.errors import InputError
from taxreport.jurisdictions.us import Form8949, UsBreakdown
from taxreport.reports import form8949

GOLDEN = Path(__file__).parent / "golden"


def test_golden_2024_boxes_c_and_f():
    assert form8949.render(us_summary()) == (GOLDEN / "form8949_2024.csv").read_text()


def test_golden_2025_digital_asset_boxes():
    text = form8949.render(us_summary("2025"))  # the US default for 2025 on: 1099-DA without basis (H/K)
    assert text == form8949.render(us_summary("2025"), reporting="not-reported")
    assert text == (GOLDEN / "form8949_2025_not_reported.csv").read_text()


@pytest.mark.parametrize("year,reporting,short,long", [
    (2024, "none", "C", "F"), (2024, "reported", "A", "D"), (2024, "not-reported", "B", "E"),
    (2025, "none", "I", "L"), (2025, "reported", "G", "J"), (2025, "not-reported", "H", "K"),
    (2026, "none", "I", "L"), (2024, None, "C", "F"), (2025, None, "H", "K"),
])
def test_box_table(year, reporting, short, long):
    assert form8949.box_for(year, reporting, "short") == short
    assert form8949.box_for(year, reporting, "long") == long


def test_mixed_term_disposal_is_split_per_lot_and_adds_up():
    rows = list(csv.DictReader(io.StringIO(form8949.render(us_summary()))))
    eth = [r for r in rows if r["(a) Description of property"] == "1 ETH"]
    # 7000 proceeds split by quantity 1:1 -> 3500 each; long lot gain 3500 - 1300, short 3500 - 2252.25
    assert {(r["Part"], r["(d) Proceeds"], r["(h) Gain or (loss)"]) for r in eth} == \
        {("II", "3500.00", "2200.00"), ("I", "3500.00", "1247.75")}
    totals = {r["Part"]: r for r in rows if r["(a) Description of property"] == "Totals"}
    # Part I: 7142.85 + 3500 + 1050.005 = 11692.855 -> 11692.86; line 2 adds the printed (h) column
    # (Form 8949 line 2: "Add the amounts in columns (d), (e), (g), and (h)"): 2738.45 + 1247.75 - 5.62 = 3980.58
    # (the exact gain 3980.572 rounded once is 3980.57, a cent from what the form's own sum says)
    assert (totals["I"]["(d) Proceeds"], totals["I"]["(h) Gain or (loss)"]) == ("11692.86", "3980.58")
    assert totals["II"]["(h) Gain or (loss)"] == "2200.00"
    loss = next(r for r in rows if r["(a) Description of property"] == "10 SOL")
    # (h) is "Subtract column (e) from column (d) and combine the result with column (g)" of the printed
    # cells: 1050.01 - 1055.63 = -5.62 (the exact -5.628 would print -5.63, contradicting its own row)
    assert loss["(h) Gain or (loss)"] == "-5.62"  # a loss is a plain negative number, not neutralised text


def test_refuses_other_jurisdictions():
    summary = us_summary()
    summary.jurisdiction = "uk"
    with pytest.raises(InputError, match="US form"):
        form8949.render(summary)


def test_unknown_reporting_is_refused():
    with pytest.raises(InputError, match="reporting"):
        form8949.box_for(2024, "sometimes", "short")


def test_boxes_and_timezone_chosen_by_the_us_computation_are_used():
    summary = us_summary()
    summary.breakdown = UsBreakdown(form8949=Form8949("reported", "A", "D"))
    summary.timezone = "Asia/Tokyo"  # the summary's zone (every report uses it); 2024-03-12T09:15Z is 18:15 in Tokyo, same date
    rows = list(csv.DictReader(io.StringIO(form8949.render(summary))))
    assert {(r["Part"], r["Box"]) for r in rows} == {("I", "A"), ("II", "D")}
    summary.timezone = "Pacific/Honolulu"  # the BTC sale at 2024-03-12T09:15Z is 11 March 23:15 there
    rows = list(csv.DictReader(io.StringIO(form8949.render(summary))))
    assert rows[0]["(c) Date sold or disposed of"] == "03/11/2024"
    rows = list(csv.DictReader(io.StringIO(form8949.render(summary, tz="UTC"))))
    assert rows[0]["(c) Date sold or disposed of"] == "03/12/2024"
