"""``taxreport gains`` and ``taxreport prices`` through click, on the demo trades; start-up stays light."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root

REPO = Path(__file__).resolve().parent.parent
DEMO = str(REPO / "sample_exports" / "demo_trades.csv")
RATES = str(REPO / "sample_exports" / "demo_rates.csv")


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "cli.sqlite3")


def run(db, *args):  # noqa: ANN001, ANN002, ANN201
    return CliRunner().invoke(root, ["--db", db, *args], catch_exceptions=False)


def test_gains_json_us_2024_demo(db):
    assert run(db, "import", "csv", DEMO).exit_code == 0
    r = run(db, "gains", "--jurisdiction", "us", "--year", "2024", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    for key in ("jurisdiction", "currency", "method", "year_start", "year_end", "proceeds", "cost", "gain", "gains",
                "losses", "allowance", "taxable_gain", "disposals"):
        assert key in data
    # K-1004: 0.1 BTC x 71500 - 7.15 = 7142.85; cost 0.1/0.5 x (22000 + 22) = 4404.40; gain 2738.45
    # K-1007: 20 SOL x 215 - 4.30 = 4295.70; cost 20/60 x (6330 + 6.33) = 2112.11; gain 2183.59
    # K-1008: 0.15 BTC x 106000 - 15.90 = 15884.10; cost 0.15/0.5 x 22022 = 6606.60; gain 9277.50
    assert [(d["asset"], d["proceeds"], d["cost"], d["gain"], d["term"]) for d in data["disposals"]] == [
        ("BTC", "7142.85", "4404.40", "2738.45", "short"), ("SOL", "4295.70", "2112.11", "2183.59", "short"),
        ("BTC", "15884.10", "6606.60", "9277.50", "short")]
    assert (data["proceeds"], data["cost"], data["gain"], data["taxable_gain"]) == (
        "27322.65", "13123.11", "14199.54", "14199.54")
    assert data["disposals"][0]["lots"][0]["lot"] == "trade:csv:kraken:main/K-1001#1"
    assert data["year_start"] == "2024-01-01T05:00:00Z"  # New York midnight


def test_gains_table_and_detail(db):
    run(db, "import", "csv", DEMO)
    r = run(db, "gains", "-j", "us", "-y", "2025", "--detail")
    assert r.exit_code == 0
    assert "long" in r.output and "note: Form 8949 boxes H (short) / K (long)" in r.output


def test_missing_rate_is_one_line_error_listing_gaps(db):
    run(db, "import", "csv", DEMO)
    r = CliRunner().invoke(root, ["--db", db, "gains", "-j", "de", "-y", "2024"])
    assert r.exit_code == 1
    assert r.output.startswith("error: 7 missing rate(s)")
    assert "USD->EUR on 2024-01-05" in r.output and "Traceback" not in r.output


def test_prices_import_and_specific_lots_file(db, tmp_path):
    run(db, "import", "csv", DEMO)
    r = run(db, "prices", "import", RATES)
    assert r.exit_code == 0 and "547 rates, 547 added" in r.output
    lots = tmp_path / "lots.csv"
    # K-1008 sells 0.15 BTC: take it from the May lot K-1005 (0.05 BTC, cost 3450 + 3.45) first, rest FIFO-named
    lots.write_text("disposal,lot,quantity\ntrade:csv:kraken:main/K-1008#0,trade:csv:kraken:main/K-1005#1,0.05\n"
                    "trade:csv:kraken:main/K-1008#0,trade:csv:kraken:main/K-1001#1,\n")
    r = run(db, "gains", "-j", "us", "-y", "2024", "--method", "specific", "--lots", str(lots), "--format", "json")
    data = json.loads(r.output)
    d = [x for x in data["disposals"] if x["ref"].endswith("K-1008#0")][0]
    # cost 3453.45 + 0.1/0.4 x (22022 - 4404.40 = 17617.60) = 3453.45 + 4404.40 = 7857.85
    assert d["cost"] == "7857.85" and [m["rule"] for m in d["lots"]] == ["specific", "specific"]
    # the 2024 sales the file does not name (it names K-1008): K-1004 (BTC) and K-1007 (SOL)
    assert ("specific identification: 2 disposal(s) had no named lots and were matched FIFO: BTC 1, SOL 1"
            in data["notes"])


def test_prices_help_has_examples(db):
    for args in (["prices", "--help"], ["prices", "import", "--help"], ["prices", "fetch", "--help"],
                 ["gains", "--help"]):
        assert "Example" in run(db, *args).output


def test_gains_does_not_import_heavy_modules(tmp_path):
    from taxreport.ledger import Ledger

    Ledger(f"sqlite:///{tmp_path / 'empty.sqlite3'}").close()  # an empty ledger (a missing one is refused)
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from taxreport.cli.main import root\n"
        f"r = CliRunner().invoke(root, ['--db', {str(tmp_path / 'empty.sqlite3')!r}, 'gains', '-j', 'us', '-y', '2024'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = [m for m in ('pandas', 'ccxt', 'matplotlib', 'weasyprint') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    env = dict(os.environ, TAXREPORT_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, check=True)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


def test_flags_reach_the_engine(db, tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id\n"
                   "2024-01-05T15:00:00Z,okx:main,buy,BTC,USDT,1,40000,,,1\n"
                   "2024-02-05T15:00:00Z,okx:main,sell,BTC,USDT,1,50000,,,2\n")
    run(db, "import", "csv", str(csv))
    # the USDT spent was never acquired: an error naming the shortfall, unless zero cost is allowed
    r = CliRunner().invoke(root, ["--db", db, "gains", "-j", "us", "-y", "2024", "--peg", "USDT=USD"])
    assert r.exit_code == 1 and "short by 40000 USDT" in r.output
    r = run(db, "gains", "-j", "us", "-y", "2024", "--peg", "usdt=usd", "--allow-zero-cost", "usdt", "--format", "json")
    data = json.loads(r.output)
    # BTC: 50000 - 40000 = 10000; USDT spent on the buy at zero cost: 40000 - 0 = 40000
    assert [(d["asset"], d["gain"]) for d in data["disposals"]] == [("USDT", "40000.00"), ("BTC", "10000.00")]
    assert any("assumed peg" in n for n in data["notes"]) and any("zero cost basis" in n for n in data["notes"])
    r = CliRunner().invoke(root, ["--db", db, "gains", "-j", "us", "-y", "2024", "--timezone", "Mars/Olympus"])
    assert r.exit_code == 1 and "not an IANA time zone" in r.output
    r = CliRunner().invoke(root, ["--db", db, "gains", "-j", "us", "-y", "2024", "--peg", "USDT"])
    assert r.exit_code == 1 and "--peg: 'USDT' is not KEY=VALUE" in r.output


def test_universal_until_flag(db):
    run(db, "import", "csv", DEMO)
    data = json.loads(run(db, "gains", "-j", "us", "-y", "2025", "--universal-until", "2025-01-01",
                          "--format", "json").output)
    assert any("universal lot pool until 2025-01-01T05:00:00+00:00" in n for n in data["notes"])
    r = CliRunner().invoke(root, ["--db", db, "gains", "-j", "us", "-y", "2025", "--universal-until", "soon"])
    assert r.exit_code == 1 and "--universal-until: 'soon' is not a date" in r.output


def test_exports_take_every_gains_option_and_agree_with_gains(db, tmp_path):
    # The specific-identification case of test_prices_import_and_specific_lots_file, through `export
    # form8949` and `export xlsx`: the same request (one builder) gives the same figures as `gains`.
    run(db, "import", "csv", DEMO)
    run(db, "prices", "import", RATES)
    lots = tmp_path / "lots.csv"
    lots.write_text("disposal,lot,quantity\ntrade:csv:kraken:main/K-1008#0,trade:csv:kraken:main/K-1005#1,0.05\n"
                    "trade:csv:kraken:main/K-1008#0,trade:csv:kraken:main/K-1001#1,\n")
    flags = ["-j", "us", "-y", "2024", "--method", "specific", "--lots", str(lots), "--option",
             "form8949_reporting=none", "--timezone", "America/Chicago"]
    data = json.loads(run(db, "gains", *flags, "--format", "json").output)
    out = tmp_path / "f.csv"
    r = run(db, "export", "form8949", *flags, "--out", str(out))
    assert r.exit_code == 0, r.output
    text = out.read_text()
    # the K-1008 disposal's lots: 0.05 BTC of K-1005 (cost 3453.45) and 0.1 BTC of K-1001 (4404.40)
    assert "3453.45" in text and "4404.40" in text
    [total] = [line.split(",") for line in text.splitlines() if ",Totals," in line]
    assert (total[5], total[6], total[9]) == (data["proceeds"], data["cost"], data["gain"])
    r = run(db, "export", "xlsx", *flags, "--out", str(tmp_path / "x.xlsx"))
    assert r.exit_code == 0, r.output
    # a bad flag fails the export the same way it fails gains, before writing anything
    r = CliRunner().invoke(root, ["--db", db, "export", "pdf", "-j", "us", "-y", "2024", "--lots", str(lots),
                                  "--out", str(tmp_path / "p.pdf")])
    assert r.exit_code == 1 and "--lots needs --method specific" in r.output
    assert not (tmp_path / "p.pdf").exists()


def test_uk_in_another_currency_never_subtracts_the_sterling_allowance(db):
    run(db, "import", "csv", DEMO)
    run(db, "prices", "import", RATES)
    r = run(db, "gains", "-j", "uk", "-y", "2024-25", "--currency", "USD", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    # no GBP amount is subtracted from a USD gain: allowance 0, taxable gain = the net gain (if positive)
    assert data["allowance"] == "0.00"
    assert data["taxable_gain"] == (data["gain"] if not data["gain"].startswith("-") else "0.00")
    assert any("is in GBP and is not applied" in n for n in data["notes"])


@pytest.mark.parametrize(("country", "year", "reason"), [
    ("uk", "2022", "'2022' is not a tax year here; write it like 2024-25"),
    ("us", "2022-23", "'2022-23' is not a tax year here; write the calendar year, e.g. 2024"),
    ("au", "2023-25", "'2023-25': the second year must follow the first (e.g. 2024-25)"),
])
def test_a_year_the_country_does_not_write_is_refused_before_the_ledger_is_read(db, monkeypatch, country, year,
                                                                                 reason):
    # a 1M-trade ledger used to be read whole (~14 s) before this one-line refusal; now no ledger is opened
    assert run(db, "import", "csv", DEMO).exit_code == 0
    import taxreport.cli.gains_cmd as gains_cmd

    def no_ledger(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("the ledger was opened")

    monkeypatch.setattr(gains_cmd, "open_ledger", no_ledger)
    monkeypatch.setenv("TAXREPORT_CACHE", "0")
    for fmt in ("json", "table"):
        r = CliRunner().invoke(root, ["--db", db, "gains", "-j", country, "-y", year, "--format", fmt])
        assert r.exit_code == 1
        assert r.output == f"error: --year: {reason}\n"


def test_a_long_report_does_not_hold_the_write_lock(db, monkeypatch):
    """`gains` (and the exports, `review`) open the ledger read-only: the read is a snapshot (plain BEGIN), not
    SQLite's write lock (BEGIN IMMEDIATE), so a bot appending while a 1M-trade `gains` reads (~7-10 s) is not
    made to wait, or to fail with "database is locked". The report is the snapshot's (the write committed
    meanwhile changes nothing here; the derived cache keys what it stores by the state read before the read)."""
    import sqlite3

    from taxreport.ledger import store

    assert run(db, "import", "csv", DEMO).exit_code == 0
    monkeypatch.setenv("TAXREPORT_CACHE", "0")
    before = run(db, "gains", "-j", "us", "-y", "2024", "--format", "json")
    assert before.exit_code == 0
    real = store.decode_payloads
    wrote = []

    def decode_and_write_beside(texts):  # noqa: ANN001, ANN202 - while the report reads, another process writes
        if not wrote:
            other = sqlite3.connect(db, timeout=0.5, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")  # "database is locked" after 0.5 s if the report held the lock
            other.execute("UPDATE ledger_head SET seq = seq WHERE id = 1")
            other.execute("COMMIT")
            other.close()
            wrote.append(1)
        return real(texts)

    monkeypatch.setattr(store, "decode_payloads", decode_and_write_beside)
    during = run(db, "gains", "-j", "us", "-y", "2024", "--format", "json")
    assert wrote == [1] and during.exit_code == 0 and during.output == before.output
