"""The UK rules through the product path: canonical CSV -> ledger -> ``taxreport gains -j uk``.
Trades are quoted in GBP, so no exchange rates are needed."""

import json

from click.testing import CliRunner

from taxreport.cli.main import root

TRADES = """timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id
2024-05-01T12:00:00Z,A,buy,BTC,GBP,2,30000,,,b1
2024-06-10T12:00:00Z,B,buy,BTC,GBP,1,33000,,,b2
2024-07-01T10:00:00Z,A,sell,BTC,GBP,1.5,36000,54,GBP,s1
2024-07-01T15:00:00Z,B,buy,BTC,GBP,0.5,35000,,,b3
2024-07-15T12:00:00Z,A,buy,BTC,GBP,0.25,36000,,,b4
2024-09-01T12:00:00Z,B,sell,BTC,GBP,1,40000,40,GBP,s2
"""


def run(db, *args):
    return CliRunner().invoke(root, ["--db", db, *args], catch_exceptions=False)


def test_gains_uk_json_from_a_ledger(tmp_path):
    # The same trades as tests/test_uk_rules.py::test_same_day_thirty_day_and_pool_in_one_year...:
    # 1 Jul: same day 0.5 (£17,500) + 30 days 0.25 (£9,000) + pool 0.75 x 93,000/3 (£23,250) = £49,750;
    #        net proceeds 54,000 - 54 = £53,946; gain £4,196.
    # 1 Sep: pool 1 x 69,750/2.25 = £31,000; net proceeds £39,960; gain £8,960.
    # Net £13,156 - annual exempt amount £3,000 = taxable £10,156.
    db = str(tmp_path / "uk.sqlite3")
    csv_path = tmp_path / "trades.csv"
    csv_path.write_text(TRADES)
    assert run(db, "import", "csv", str(csv_path)).exit_code == 0
    result = run(db, "gains", "-j", "uk", "-y", "2024-25", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["jurisdiction"], data["currency"], data["method"], data["year"]) == ("uk", "GBP", "hmrc", "2024-25")
    assert (data["gain"], data["allowance"], data["taxable_gain"]) == ("13156.00", "3000.00", "10156.00")
    first = data["disposals"][0]
    assert first["rule"] == "same-day+30-day+s104"
    assert [(lot["rule"], lot["quantity"], lot["cost"]) for lot in first["lots"]] == [
        ("same-day", "0.5", "17500.00"), ("30-day", "0.25", "9000.00"), ("s104", "0.75", "23250.00")]
    assert data["breakdown"]["sa108_disposal_proceeds"] == "94000.00"
    # A year outside the annual exempt amount table is a one-line error, not a guess.
    bad = CliRunner().invoke(root, ["--db", db, "gains", "-j", "uk", "-y", "2019-20"])
    assert bad.exit_code != 0 and "2019-20" in bad.output and "Traceback" not in bad.output
