"""Bounds at every door (issue #12 item 7), end to end from the CLI: the canonical CSV (trade form and
events form), ``ledger add`` (every kind), ``ledger basis`` and ``prices import`` refuse ``1e400``,
``1E+30``, values of 1e15 or more and more than 30 significant digits through
:func:`taxreport.model.money.parse_amount`, with one line naming file, line and field (``--field`` for a
flag), and write nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root

HUGE = ["1e400", "1E+30", "1000000000000000", "1.0000000000000000000000000000001"]


def run(db: str, *args: str):  # noqa: ANN201
    return CliRunner().invoke(root, ["--db", db, *args])


def events_in(db: str) -> list:
    if not Path(db).exists():  # nothing was ever written (reading commands refuse a missing ledger)
        return []
    r = run(db, "ledger", "list", "--format", "json")
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


@pytest.mark.parametrize("bad", HUGE)
@pytest.mark.parametrize("field", ["quantity", "price", "fee"])
def test_canonical_trade_form_refuses_out_of_range(tmp_path, bad, field):
    cells = {"quantity": "0.5", "price": "30000", "fee": "1"} | {field: bad}
    f = tmp_path / "t.csv"
    f.write_text("timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id\n"
                 "2024-01-02T10:00:00Z,kraken:main,buy,BTC,USD,0.1,30000,1,USD,ok1\n"
                 f"2024-01-03T10:00:00Z,kraken:main,buy,BTC,USD,{cells['quantity']},{cells['price']},"
                 f"{cells['fee']},USD,bad1\n")
    db = str(tmp_path / "l.sqlite3")
    r = run(db, "import", "csv", str(f))
    assert r.exit_code == 1
    assert f"t.csv:3: {field}: " in r.output
    assert "out of range" in r.output or "significant digits" in r.output
    assert "Traceback" not in r.output
    assert events_in(db) == []  # the good row 2 is not written either


@pytest.mark.parametrize("row, field", [
    ("deposit,2024-01-02T10:00:00Z,okx:main,USDT,1e400,,,", "quantity"),
    ("deposit,2024-01-02T10:00:00Z,okx:main,USDT,1000,1E+30,USD,", "cost"),
    ("gift-in,2024-01-02T10:00:00Z,okx:main,BTC,0.1,1.0000000000000000000000000000001,USD,", "cost"),
    ("income,2024-01-02T10:00:00Z,okx:main,ETH,0.01,,,1e400", "value"),
    ("withdrawal,2024-01-02T10:00:00Z,okx:main,BTC,0.1,,,,1e15", "fee"),
])
def test_canonical_events_form_refuses_out_of_range(tmp_path, row, field):
    f = tmp_path / "e.csv"
    header = "type,timestamp,account,asset,quantity,cost,cost_currency,value,fee,income_type,value_currency"
    cells = row.split(",")
    cells += [""] * (11 - len(cells))
    if cells[0] == "income":
        cells[9], cells[10] = "staking", "USD"
    f.write_text(header + "\n" + "deposit,2024-01-01T10:00:00Z,okx:main,USDT,5,5,USD,,,,\n" + ",".join(cells) + "\n")
    db = str(tmp_path / "l.sqlite3")
    r = run(db, "import", "csv", str(f))
    assert r.exit_code == 1, r.output
    assert f"e.csv:3: {field}: " in r.output, r.output
    assert "Traceback" not in r.output
    assert events_in(db) == []


def test_canonical_events_form_basis_row_refuses_out_of_range(tmp_path):
    f = tmp_path / "b.csv"
    f.write_text("type,timestamp,account,quantity,target,cost,cost_currency\n"
                 "basis,2024-01-05T10:00:00Z,,,deposit:okx:1,1e400,USD\n")
    db = str(tmp_path / "l.sqlite3")
    r = run(db, "import", "csv", str(f))
    assert r.exit_code == 1 and "b.csv:2: cost: '1e400' is out of range (must be below 1e15)" in r.output, r.output
    assert events_in(db) == []


def test_canonical_small_and_30_digit_values_still_pass(tmp_path):
    f = tmp_path / "ok.csv"
    f.write_text("timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id\n"
                 "2024-01-02T10:00:00Z,okx:main,buy,SHIB,USDT,123456789012345.123456789012345,0.00001,0,,s1\n")
    db = str(tmp_path / "l.sqlite3")
    r = run(db, "import", "csv", str(f))
    assert r.exit_code == 0, r.output
    [ev] = events_in(db)
    assert json.dumps(ev).count("123456789012345.123456789012345") >= 1


T = ["--time", "2024-07-01T10:00:00Z"]


@pytest.mark.parametrize("args, flag", [
    (["trade", *T, "--account", "k:m", "--side", "buy", "--base", "BTC", "--quote", "USD",
      "--quantity", "1e400", "--price", "30000"], "--quantity"),
    (["trade", *T, "--account", "k:m", "--side", "buy", "--base", "BTC", "--quote", "USD",
      "--quantity", "0.1", "--price", "1E+30"], "--price"),
    (["trade", *T, "--account", "k:m", "--side", "buy", "--base", "BTC", "--quote", "USD",
      "--quantity", "0.1", "--price", "30000", "--fee", "1.0000000000000000000000000000001"], "--fee"),
    (["deposit", *T, "--account", "k:m", "--asset", "USDT", "--quantity", "1E+30"], "--quantity"),
    (["deposit", *T, "--account", "k:m", "--asset", "USDT", "--quantity", "10", "--cost", "1e400",
      "--cost-currency", "USD"], "--cost"),
    (["gift-in", *T, "--account", "k:m", "--asset", "BTC", "--quantity", "0.1", "--cost", "1e15",
      "--cost-currency", "USD"], "--cost"),
    (["withdrawal", *T, "--account", "k:m", "--asset", "BTC", "--quantity", "0.1", "--fee", "1e400"], "--fee"),
    (["gift-out", *T, "--account", "k:m", "--asset", "BTC", "--quantity", "1e400"], "--quantity"),
    (["lost", *T, "--account", "k:m", "--asset", "BTC", "--quantity", "0.1", "--value", "1E+30",
      "--value-currency", "USD"], "--value"),
    (["transfer", *T, "--from", "a:b", "--to", "c:d", "--asset", "BTC", "--quantity", "1e-31"], "--quantity"),
    (["income", *T, "--account", "k:m", "--asset", "ETH", "--quantity", "0.01", "--kind", "staking",
      "--value", "1e400", "--value-currency", "USD"], "--value"),
])
def test_ledger_add_refuses_out_of_range_naming_the_flag(tmp_path, args, flag):
    db = str(tmp_path / "l.sqlite3")
    r = run(db, "ledger", "add", *args)
    assert r.exit_code != 0
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1 and f"{flag}: " in lines[0], r.output
    assert "out of range" in lines[0] or "significant digits" in lines[0]
    assert events_in(db) == []


def test_ledger_basis_refuses_out_of_range_and_writes_nothing(tmp_path):
    db = str(tmp_path / "l.sqlite3")
    r = run(db, "ledger", "add", "deposit", *T, "--account", "k:m", "--asset", "USDT", "--quantity", "10",
            "--id", "d1")
    assert r.exit_code == 0, r.output
    [dep] = events_in(db)
    key = r.output.split("recorded ", 1)[1].split(" as row")[0]
    for bad in ("1e400", "1E+30", "1.0000000000000000000000000000001"):
        r = run(db, "ledger", "basis", key, "--cost", bad, "--cost-currency", "USD")
        assert r.exit_code != 0
        assert "--cost: " in r.output and r.output.count("\n") <= 1, r.output
    assert events_in(db) == [dep]
    r = run(db, "ledger", "basis", key, "--cost", "10", "--cost-currency", "USD")
    assert r.exit_code == 0, r.output
    assert len(events_in(db)) == 2


@pytest.mark.parametrize("bad", ["1e400", "1E+30", "1000000000000000", "1.0000000000000000000000000000001"])
def test_prices_import_refuses_out_of_range_rates(tmp_path, bad):
    db = str(tmp_path / "p.sqlite3")
    f = tmp_path / "r.csv"
    f.write_text(f"date,base,quote,rate\n2024-01-02,SHIB,USD,0.00001\n2024-01-03,BTC,USD,{bad}\n")
    r = run(db, "prices", "import", str(f))
    assert r.exit_code == 1 and "r.csv:3: rate: " in r.output and "nothing was written" in r.output, r.output
    ecb = tmp_path / "eurofxref-hist.csv"
    ecb.write_text(f"Date,USD,JPY,\n2024-01-03,1.0919,{bad},\n")
    r = run(db, "prices", "import", str(ecb))
    assert r.exit_code == 1 and "eurofxref-hist.csv:2: JPY: " in r.output, r.output
    r = run(db, "prices", "list", "--format", "json")
    assert json.loads(r.output) == []


def test_prices_import_keeps_small_rates(tmp_path):
    db = str(tmp_path / "p.sqlite3")
    f = tmp_path / "r.csv"
    f.write_text("date,base,quote,rate\n2024-01-02,SHIB,USD,0.00001\n2024-01-02,PEPE,BTC,0.000000000123\n")
    r = run(db, "prices", "import", str(f))
    assert r.exit_code == 0 and "2 added" in r.output, r.output
