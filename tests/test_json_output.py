"""``--format json`` is written by orjson in one pass (taxreport/cli/common.py ``json_text``): the text must
be byte for byte what ``json.dumps(to_jsonable(value), indent=2, ensure_ascii=False)`` wrote before, on a
real gains summary and on the awkward values (exact Decimals, local and UTC times, dates, escapes)."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from taxreport.cli.common import json_text, to_jsonable
from taxreport.cli.gains_cmd import summary_json
from taxreport.cli.gains_options import request_from_flags
from taxreport.cli.main import root
from taxreport.gains import gains_for
from taxreport.ledger import Ledger

DEMO = str(Path(__file__).resolve().parent.parent / "sample_exports" / "demo_trades.csv")


def before(value: object) -> str:
    """What echo_json wrote before orjson."""
    return json.dumps(to_jsonable(value), indent=2, ensure_ascii=False)


def test_a_gains_summary_is_written_exactly_as_before(tmp_path):
    db = str(tmp_path / "l.sqlite3")
    assert CliRunner().invoke(root, ["--db", db, "import", "csv", DEMO]).exit_code == 0
    with Ledger(f"sqlite:///{db}") as led:
        data = summary_json(gains_for(led, request_from_flags("us", "2024", {})))
    text = json_text(data)
    assert text == before(data)
    assert '"year_start": "2024-01-01T05:00:00Z"' in text  # New York midnight, in UTC with Z
    assert '"proceeds": "27322.65"' in text
    assert '\n  "disposals": [\n    {\n' in text  # two-space indent


def test_awkward_values_are_written_exactly_as_before():
    value = {
        "exact": Decimal("0.10"), "negative_zero": Decimal("-0"), "exponent": Decimal("1E+3"), "tiny": Decimal("1E-12"),
        "utc": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        "london_summer": datetime(2024, 7, 2, 3, 4, 5, 120, tzinfo=ZoneInfo("Europe/London")),
        "day": date(2024, 4, 5), "empty": [], "nothing": {}, "nested": [[], {}, (1, "x")], "none": None,
        "flag": True, "text": 'café \u2028 \x00 \x1f \x7f " \\ / \n\t 日本', "int": 12345678901234,
        "float": 123456.789,
    }
    text = json_text(value)
    assert text == before(value)
    assert '"exact": "0.10"' in text and '"exponent": "1000"' in text and '"tiny": "0.000000000001"' in text
    assert '"london_summer": "2024-07-02T02:04:05.000120Z"' in text


def test_what_orjson_refuses_takes_the_former_path():
    value = {"big": 2**70, 1: "an integer key"}
    assert json_text(value) == before(value)
    with pytest.raises(TypeError, match="not JSON serializable"):  # a type neither knows: refused as before
        json_text({"x": object()})
