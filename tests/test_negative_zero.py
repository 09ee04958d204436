"""A negative amount that rounds to zero is printed ``0.00``, never ``-0.00`` (README "Rounding policy").

A loss of a fraction of a cent (a dust sale: 1 DOGE bought at $0.004 and sold at $0.001, gain -$0.003) printed
"net gain -0.00" in the ``gains`` table and ``"gain": "-0.00"`` in its JSON document, per disposal and in the
totals and Schedule D lines (found by round 12's import journey on OKX dust). ``money.quantize_money`` is the one
rounding of a fiat amount for presentation; the JSON document's column writer rounds as it does."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.model.money import money_str, quantize_money

TRADES = """timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id
2024-01-05T10:00:00Z,kraken:main,buy,DOGE,USD,1,0.004,0,USD,K-1
2024-03-05T10:00:00Z,kraken:main,sell,DOGE,USD,1,0.001,0,USD,K-2
"""


def test_money_str_has_no_negative_zero() -> None:
    # ROUND_HALF_UP to the cent: -0.003 -> 0.00 (no sign on nothing); -0.005 -> -0.01 (half away from zero)
    assert money_str(D("-0.003")) == "0.00"
    assert money_str(D("-0.00")) == "0.00"
    assert money_str(D("-0.005")) == "-0.01"
    assert money_str(D("0.004")) == "0.00"
    assert str(quantize_money(D("-0.0049"))) == "0.00"
    assert money_str(D("-12.345")) == "-12.35"


def test_dust_loss_prints_zero_not_minus_zero(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("TAXREPORT_HOME", str(tmp_path / "home"))
    (tmp_path / "t.csv").write_text(TRADES)
    base = ["--db", str(tmp_path / "l.sqlite3")]
    runner = CliRunner()
    assert runner.invoke(root, [*base, "import", "csv", str(tmp_path / "t.csv")]).exit_code == 0
    table = runner.invoke(root, [*base, "gains", "-j", "us", "-y", "2024"])
    assert table.exit_code == 0, table.output
    assert "-0.00" not in table.output
    assert any("net gain" in line and line.rstrip(" │").endswith("0.00") for line in table.output.splitlines())
    done = runner.invoke(root, [*base, "gains", "-j", "us", "-y", "2024", "--format", "json"])
    assert done.exit_code == 0, done.output
    assert "-0.00" not in done.output
    doc = json.loads(done.output)
    # proceeds 1 x 0.001 = 0.001 -> 0.00; cost 1 x 0.004 = 0.004 -> 0.00; gain -0.003 -> 0.00
    assert [(d["proceeds"], d["cost"], d["gain"]) for d in doc["disposals"]] == [("0.00", "0.00", "0.00")]
    assert doc["gain"] == "0.00"


def test_the_documents_column_writer_rounds_as_money_str() -> None:
    from taxreport.cli.gains_document import _money

    column = [D("-0.003"), D("0"), D("-0"), D("1.005"), D("-0.005"), D("-2.5E-7")]
    assert [format(v, "f") for v in _money(column)] == [money_str(v) for v in column] == \
        ["0.00", "0.00", "0.00", "1.01", "-0.01", "0.00"]
