"""HMRC-style UK computation CSV: golden file from the hand-worked reports_fixtures.uk_summary."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from reports_fixtures import uk_summary, us_summary

from taxreport.errors import InputError
from taxreport.reports import hmrc

GOLDEN = Path(__file__).parent / "golden"


def test_golden():
    assert hmrc.render(uk_summary()) == (GOLDEN / "hmrc_2024-25.csv").read_text()


def test_each_part_names_its_rule_and_the_pool_after():
    rows = list(csv.DictReader(io.StringIO(hmrc.render(uk_summary()))))
    first = [r for r in rows if r["#"] == "1"]
    assert [r["Matching rule"].split(" (")[0] for r in first] == ["Same day", "Next 30 days", "Section 104 pool"]
    assert [r["Quantity matched"] for r in first] == ["10", "20", "30"]
    # 8.33 + 36.67 + 145.00 = 190.00 = 900 - 10 - 700
    assert sum(Decimal(r["Gain or loss"]) for r in first) == Decimal("190.00")
    assert {(r["Pool quantity after"], r["Pool cost after"]) for r in first} == {("70", "700.00")}
    taxable = next(r for r in rows if r["Token"] == "Taxable gain")
    assert taxable["Gain or loss"] == "0.00"


def test_refuses_a_us_summary():
    with pytest.raises(InputError, match="UK"):
        hmrc.render(us_summary())
