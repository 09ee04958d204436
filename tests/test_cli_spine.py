"""The spine's CLI: ledger add/list/verify/balances/reverse and the canonical CSV import, run through
click's test runner against a temporary SQLite ledger. Errors are one line, non-zero, no traceback."""

import json
import textwrap

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from taxreport.cli.main import root
from taxreport.ledger import Ledger

HEADER = "timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id\n"


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "cli.sqlite3")


def run(db, *args, input=None):
    return CliRunner().invoke(root, ["--db", db, *args], input=input, catch_exceptions=False)


def write(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


def test_help_lists_commands_with_examples(db):
    result = run(db, "--help")
    assert result.exit_code == 0
    assert "ledger" in result.output and "import" in result.output and "Examples:" in result.output
    for sub in ("add", "list", "verify", "balances", "reverse"):
        assert "Example" in run(db, "ledger", sub, "--help").output


def test_import_csv_is_idempotent_and_balances_add_up(db, tmp_path):
    path = write(tmp_path, "t.csv", HEADER + """\
        2024-01-05T10:00:00Z,kraken:main,buy,BTC,GBP,0.5,30000,15,GBP,1
        2024-02-05T10:00:00+01:00,,sell,BTC,GBP,0.2,35000,,,2
        """)
    first = run(db, "import", "csv", path, "--account", "kraken:main")
    assert first.exit_code == 0, first.output
    assert "2 added, 0 duplicates" in first.output
    second = run(db, "import", "csv", path, "--account", "kraken:main", "--format", "json")
    assert json.loads(second.output)[0]["duplicates"] == 2 and json.loads(second.output)[0]["added"] == 0
    bal = json.loads(run(db, "ledger", "balances", "--format", "json").output)
    # BTC 0.5 - 0.2 = 0.3 ; GBP -(0.5*30000 + 15) + 0.2*35000 = -15015 + 7000 = -8015
    # (printed as the ledger stores a quantity: "-8015", no longer "-8015.0", round 13 qatables)
    assert {(b["asset"], b["quantity"]) for b in bal} == {("BTC", "0.3"), ("GBP", "-8015")}
    # Balances at a date before the sale.
    bal = json.loads(run(db, "ledger", "balances", "--at", "2024-01-31", "--format", "json").output)
    assert {(b["asset"], b["quantity"]) for b in bal} == {("BTC", "0.5"), ("GBP", "-15015")}


def test_bad_csv_is_refused_whole_naming_line_and_field(db, tmp_path):
    path = write(tmp_path, "bad.csv", HEADER + """\
        2024-01-05T10:00:00Z,a,buy,BTC,USD,0.5,30000,,,1
        2024-01-06T10:00:00,a,buy,BTC,USD,0.5,30000,,,2
        2024-01-07T10:00:00Z,a,hold,BTC,USD,0.5,30000,,,3
        2024-01-08T10:00:00Z,a,buy,BTC,USD,-1,30000,,,4
        """)
    result = CliRunner().invoke(root, ["--db", db, "import", "csv", path])
    assert result.exit_code == 1
    assert "nothing was written (3 problems)" in result.output
    assert f"{path}:3: timestamp:" in result.output and "no time zone" in result.output
    assert f"{path}:4: side: 'hold' is not buy or sell" in result.output
    assert f"{path}:5: quantity: must be greater than zero" in result.output
    assert "Traceback" not in result.output
    assert Ledger(f"sqlite:///{db}").count() == 0


def test_wrong_header_is_refused(db, tmp_path):
    path = write(tmp_path, "h.csv", "time,side\n2024-01-01T00:00:00Z,buy\n")
    result = CliRunner().invoke(root, ["--db", db, "import", "csv", path])
    assert result.exit_code == 1 and ":1: header" in result.output and "missing timestamp" in result.output


def test_manual_add_list_and_duplicate(db):
    args = ["ledger", "add", "--time", "2024-03-01T12:00:00Z", "--account", "kraken:main", "--side", "buy",
            "--base", "btc", "--quote", "GBP", "--quantity", "0.1", "--price", "0.2", "--id", "m1"]
    assert "as row 1" in run(db, *args).output
    assert "duplicate" in run(db, *args).output
    listed = json.loads(run(db, "ledger", "list", "--format", "json").output)
    assert listed[0]["key"] == "trade:manual:m1" and listed[0]["actor"] == "manual:cli"
    assert listed[0]["quantity"] == "0.1" and listed[0]["price"] == "0.2"


def test_manual_add_bad_number_is_one_line(db):
    result = CliRunner().invoke(root, ["--db", db, "ledger", "add", "--time", "2024-03-01T12:00:00Z",
                                       "--account", "a", "--side", "buy", "--base", "BTC", "--quote", "USD",
                                       "--quantity", "0.1.2", "--price", "1"])
    assert result.exit_code == 1 and result.output.strip() == "error: --quantity: '0.1.2' is not a number"


def test_verify_fails_with_exit_code_after_tampering(db, tmp_path):
    path = write(tmp_path, "t.csv", HEADER + "2024-01-05T10:00:00Z,a,buy,BTC,USD,1,100,,,1\n"
                 "2024-01-06T10:00:00Z,a,buy,BTC,USD,1,100,,,2\n")
    run(db, "import", "csv", path)
    assert run(db, "ledger", "verify").exit_code == 0
    engine = Ledger(f"sqlite:///{db}").engine
    with engine.begin() as conn:
        conn.execute(text("UPDATE events SET reason = 'innocent' WHERE seq = 2"))
    result = CliRunner().invoke(root, ["--db", db, "ledger", "verify"])
    assert result.exit_code == 1 and "FAILED at row 2" in result.output


def test_reverse_removes_event_from_balances(db, tmp_path):
    path = write(tmp_path, "t.csv", HEADER + "2024-01-05T10:00:00Z,a,buy,BTC,USD,1,100,,,1\n"
                 "2024-01-06T10:00:00Z,a,buy,BTC,USD,2,100,,,2\n")
    run(db, "import", "csv", path)
    out = run(db, "ledger", "reverse", "trade:csv:a/2", "--reason", "entered twice")
    assert "reversed" in out.output
    bal = json.loads(run(db, "ledger", "balances", "--format", "json").output)
    assert {(b["asset"], b["quantity"]) for b in bal} == {("BTC", "1"), ("USD", "-100")}
    missing = CliRunner().invoke(root, ["--db", db, "ledger", "reverse", "trade:csv:nope", "--reason", "x"])
    assert missing.exit_code == 1 and "no event with key" in missing.output


def test_startup_imports_no_heavy_libraries(tmp_path):
    import subprocess
    import sys

    from taxreport.ledger import Ledger

    Ledger(f"sqlite:///{tmp_path / 'x.sqlite3'}").close()  # an empty ledger (a missing one is refused)
    code = ("import sys; from click.testing import CliRunner; from taxreport.cli.main import root; "
            f"r = CliRunner().invoke(root, ['--db', {str(tmp_path / 'x.sqlite3')!r}, 'ledger', 'balances']); "
            "assert r.exit_code == 0, r.output; "
            "print(sorted(m for m in ('ccxt', 'pandas', 'matplotlib', 'weasyprint', 'openpyxl') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_several_files_are_all_checked_before_any_is_written(db, tmp_path):
    good = write(tmp_path, "good.csv", HEADER + "2024-01-05T10:00:00Z,a,buy,BTC,USD,1,100,,,1\n")
    bad = write(tmp_path, "bad.csv", HEADER + "2024-01-05T10:00:00Z,a,buy,BTC,USD,-1,100,,,2\n")
    result = CliRunner().invoke(root, ["--db", db, "import", "csv", good, bad])
    assert result.exit_code == 1 and f"{bad}:2: quantity" in result.output
    assert Ledger(f"sqlite:///{db}").count() == 0
