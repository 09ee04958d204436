"""QA round 12 (helper qaimport): a user importing real OKX history from the CLI.

Real published rows kept byte for byte (tests/fixtures/okx/SOURCES.md): everytrade's T3 sell and buy
(``OkxBeanV2Test``), everytrade's earlier T3 excerpt (a ``Transfer out`` row with an empty Symbol and a
fill whose other leg is not in the excerpt), BittyTax issue #293's funding rows as the user pasted them
(``DD/MM/YYYY HH:MM``). And the Convert whose received leg OKX rounded to 0 (GiacenzeCrypto's dust
case). Every import goes through ``taxreport import okx``; the values are read back from ``ledger list``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner
from conftest import FIXTURES

from taxreport.cli.main import root

OKX = FIXTURES / "okx"
D = Decimal


def cli(db: str, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(root, ["--db", db, *args])
    return res.exit_code, res.output


def rows(db: str) -> list[dict]:
    code, out = cli(db, "ledger", "list", "--format", "json")
    assert code == 0, out
    return json.loads(out)


def db_of(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'l.sqlite3'}"


def test_real_t3_sell_and_buy_import_exactly_and_once(tmp_path):
    db = db_of(tmp_path)
    files = [str(OKX / "real_everytrade_t3_buy.csv"), str(OKX / "real_everytrade_t3_sell.csv")]
    code, out = cli(db, "import", "okx", *files, "--format", "json")
    assert code == 0, out
    got = [(s["variant"], s["time_zone"], s["added"], s["gaps"], s["rounding"]) for s in json.loads(out)]
    assert got == [("T3", "UTC (no metadata line)", 1, [], []), ("T3", "UTC (no metadata line)", 1, [], [])]
    trades = {r["order_id"]: r for r in rows(db)}
    # 2023-07-07: 0.02378815 BTC × 30200 = 718.40213 USDT (the USDT row's Amount); fee 0.5747217 USDT:
    # USDT Balance Change 718.40213 − 0.5747217 = 717.8274083 (the file's 717.82740830)
    t = trades["597489919078301696"]
    assert (t["time"], t["side"], t["base"], t["quote"], t["quantity"], t["price"], t["fee"], t["fee_asset"]) == (
        "2023-07-07T13:30:24.000000Z", "sell", "BTC", "USDT", "0.02378815", "30200", "0.5747217", "USDT")
    assert t["external_id"] == "bills:597524845211287596+597524845211287598"
    # 2023-11-22: 0.04902691 BTC × 37800 = 1853.217198 USDT; fee 1.48257376 USDT:
    # 1853.217198 − 1.48257376 = 1851.73462424 (the USDT row's Balance Change and Balance)
    t = trades["646124859063660559"]
    assert (t["time"], t["side"], t["quantity"], t["price"], t["fee"]) == (
        "2023-11-22T22:25:56.000000Z", "sell", "0.04902691", "37800", "1.48257376")
    assert D(t["quantity"]) * D(t["price"]) - D(t["fee"]) == D("1851.73462424")
    code, out = cli(db, "import", "okx", *files, "--format", "json")
    assert code == 0, out
    assert [(s["added"], s["duplicates"]) for s in json.loads(out)] == [(0, 1), (0, 1)]


def test_real_t3_excerpt_without_the_other_leg_is_refused_naming_the_row(tmp_path):
    # everytrade's excerpt (no final newline): a "Transfer out" row with an empty Symbol and Trading Unit
    # "cont", then the BTC leg of a sale whose USDT leg is not in the excerpt. A trade is never made of one
    # leg: refused at file:3, nothing written; the Transfer row alone is not what is refused.
    db = db_of(tmp_path)
    path = str(OKX / "real_everytrade_t3_transfer_orphan.csv")
    assert Path(path).read_bytes()[-1:] == b"C"  # ends "...,BTC" with no newline, as published
    code, out = cli(db, "import", "okx", path)
    assert code == 1
    assert (f"{path}:3: order 646124859063660559 has only BTC rows: the other leg of the trade is missing"
            in out)
    assert ":2:" not in out and rows(db) == []


def test_real_issue_293_rows_are_refused_for_their_spreadsheet_dates(tmp_path):
    # BittyTax issue #293 as the user pasted it: "06/03/2023 13:28" is 6 March or 3 June; every row is
    # named (lines 3..12, column 2), nothing is written, nothing is guessed.
    db = db_of(tmp_path)
    path = str(OKX / "real_bittytax_issue293_f1.csv")
    code, out = cli(db, "import", "okx", path)
    assert code == 1
    assert "refused, nothing was written (10 problems)" in out
    for line in range(3, 13):
        assert f"{path}:{line}: Time (column 2): '" in out
    assert "'06/03/2023 13:28' looks re-saved by a spreadsheet (day and month are ambiguous)" in out
    assert rows(db) == []


def test_convert_of_dust_whose_received_leg_okx_rounded_to_zero(tmp_path):
    # GiacenzeCrypto's dust case (22-column T5 rows): 0.00000001 SLX converted, the USDC leg's Amount and
    # Balance Change 0.00000000. Before: the whole file refused ("both legs say Sell"). Now: the SLX left
    # the account for nothing: one disposal (withdrawal, purpose spend) of stated value 0 USDC.
    db = db_of(tmp_path)
    path = str(OKX / "t5_convert_dust.csv")
    code, out = cli(db, "import", "okx", path, "--format", "json")
    assert code == 0, out
    assert [(s["variant"], s["added"]) for s in json.loads(out)] == [("T5", 1)]
    (r,) = rows(db)
    assert (r["kind"], r["asset"], r["quantity"], r["fee"], r["purpose"], r["value"], r["value_currency"]) == (
        "withdrawal", "SLX", "0.00000001", "0", "spend", "0", "USDC")
    assert r["time"] == "2026-08-14T18:35:00.000000Z"  # 20:35 at UTC+2
    assert r["external_id"] == "bills:3832201364046565377+3832201364046565378"
    assert "rounded to 0 by OKX" in r["note"]
    code, out = cli(db, "ledger", "balances", "--format", "json")
    assert code == 0, out
    assert [(b["asset"], D(b["quantity"])) for b in json.loads(out)] == [("SLX", D("-0.00000001"))]


def test_convert_with_a_zero_leg_that_gives_nothing_is_refused(tmp_path):
    # The other way round (0 given, something received) is no trade OKX makes: refused, never guessed.
    path = tmp_path / "odd.csv"
    lines = (OKX / "t5_convert_dust.csv").read_text().splitlines()
    path.write_text("\n".join([*lines[:2],
                               lines[2].replace(",-0.00000001,0,SLX,", ",0.00000000,0,SLX,")
                               .replace(",0.00000001,USDC,", ",0.00000000,USDC,"),
                               lines[3].replace(",0.00000000,USDC,0.0778", ",0.00000001,USDC,0.0778")
                               .replace(",0.00000000,1000.45,", ",0.00000001,1000.45,")]) + "\n")
    db = db_of(tmp_path)
    code, out = cli(db, "import", "okx", str(path))
    assert code == 1
    assert f"{path}:3: order 3832201363878793216: an OKX Convert with a leg of 0 must give the other asset" in out
    assert rows(db) == []


T3_HEADER = ("id,Order id,Time,Trade Type,Symbol,Action,Amount,Trading Unit,Filled Price,Filled Price Unit,PnL,"
             "Fee,Fee Unit,Position Change,Position Balance,Position Unit,Balance Change,Balance,Balance Unit")


def test_deposit_then_trade_journey_with_the_real_sales_computes_to_the_cent(tmp_path):
    """A USDT deposit (funding export, UTC+8) and a BTC purchase (ours, SYNTHETIC), then everytrade's two
    real T3 sales; an overlapping longer export adds nothing; US 2023 gains by hand (USDT pegged 1:1)."""
    db = db_of(tmp_path)
    funding = tmp_path / "funding.csv"
    funding.write_text("UID:000,Account Type:Main,Time Zone:UTC+8\n"
                       "id,Time,Type,Amount,Before Balance,After Balance,Symbol\n"
                       "10000000001,2023-06-30 18:00:00,Deposit,1820.3765,0,1820.3765,USDT\n"
                       "10000000002,2023-06-30 18:05:00,To unified trading account,-1820.3765,1820.3765,0,USDT\n")
    buy = tmp_path / "buy.csv"  # 0.07281506 BTC × 25000 = 1820.3765 USDT, no fee
    buy.write_text(T3_HEADER + "\n"
                   "597000000000000002,597000000000000000,2023-07-01 10:00:00,Spot,BTC-USDT,Sell,1820.3765,BTC,"
                   "25000,USDT,0E-8,0E-8,USDT,0E-8,0E-8,USDT,-1820.3765,0E-8,USDT\n"
                   "597000000000000001,597000000000000000,2023-07-01 10:00:00,Spot,BTC-USDT,Buy,0.07281506,BTC,"
                   "25000,USDT,0E-8,0E-8,BTC,0E-8,0E-8,BTC,0.07281506,0.07281506,BTC\n")
    real = [str(OKX / "real_everytrade_t3_buy.csv"), str(OKX / "real_everytrade_t3_sell.csv")]
    code, out = cli(db, "import", "okx", str(funding), str(buy), *real, "--format", "json")
    assert code == 0, out
    assert [s["added"] for s in json.loads(out)] == [1, 1, 1, 1]
    # the same history exported again as one longer file (both real files' rows): nothing doubles
    longer = tmp_path / "longer.csv"
    longer.write_text(T3_HEADER + "\n" + "".join(Path(p).read_text().split("\n", 1)[1] for p in real))
    code, out = cli(db, "import", "okx", str(longer), "--format", "json")
    assert code == 0, out
    assert [(s["added"], s["duplicates"]) for s in json.loads(out)] == [(0, 2)]
    code, out = cli(db, "gains", "-j", "us", "-y", "2023", "--peg", "USDT=USD", "--format", "json")
    assert code == 1 and "deposit_without_basis deposit:okx:funding:10000000001" in out
    code, out = cli(db, "ledger", "basis", "deposit:okx:funding:10000000001", "--cost", "1820.3765",
                    "--cost-currency", "USD")
    assert code == 0, out
    code, out = cli(db, "gains", "-j", "us", "-y", "2023", "--peg", "USDT=USD", "--format", "json")
    assert code == 0, out
    g = json.loads(out)
    # deposit 2023-06-30 18:00 at UTC+8 = 10:00Z. FIFO, one lot of 0.07281506 BTC at 25000 USDT:
    # USDT given for BTC: 1820.3765 proceeds − 1820.3765 cost = 0
    # 07-07 sale: 718.40213 − 0.5747217 fee = 717.8274083; cost 0.02378815 × 25000 = 594.70375; +123.1236583
    # 11-22 sale: 1853.217198 − 1.48257376 = 1851.73462424; cost 0.04902691 × 25000 = 1225.67275; +626.06187424
    # totals: proceeds 4389.93853254, cost 3640.753, gain 749.18553254 (Pub. 544: gain = amount realized − basis)
    assert (g["proceeds"], g["cost"], g["gain"]) == ("4389.94", "3640.75", "749.19")
    got = [(d["time"], d["asset"], d["quantity"], d["proceeds"], d["cost"], d["gain"]) for d in g["disposals"]]
    assert got == [("2023-07-01T10:00:00Z", "USDT", "1820.3765", "1820.38", "1820.38", "0.00"),
                   ("2023-07-07T13:30:24Z", "BTC", "0.02378815", "717.83", "594.70", "123.12"),
                   ("2023-11-22T22:25:56Z", "BTC", "0.04902691", "1851.73", "1225.67", "626.06")]


def test_real_t1_rows_with_bom_on_each_line_and_mixed_line_ends(tmp_path):
    # everytrade OkxBeanV1Test: header "\ufeffOrder ID,\ufeffTrade ID,…\r\n", then "\ufeff2,0,…\n" (CRLF then LF)
    db = db_of(tmp_path)
    files = [str(OKX / "real_everytrade_t1_buy.csv"), str(OKX / "real_everytrade_t1_sell.csv")]
    assert Path(files[0]).read_bytes().count(b"\r\n") == 1
    code, out = cli(db, "import", "okx", *files, "--format", "json")
    assert code == 0, out
    assert [(s["variant"], s["added"]) for s in json.loads(out)] == [("T1", 1), ("T1", 1)]
    got = [(r["external_id"], r["order_id"], r["time"], r["side"], r["base"], r["quote"], r["quantity"], r["price"],
            r["fee"], r["fee_asset"]) for r in rows(db)]
    # Amount signed (+ buy, − sell) in LTC; Fee with its unit; Total (float noise) only checked:
    # 2.273693 × 46.17 = 104.97640581 (Total -104.976405810000002816 USDT)
    assert got == [("t1:0", "2", "2020-09-25T17:27:02.000000Z", "buy", "LTC", "USDT", "2.273693", "46.17",
                    "0.0034105395", "LTC"),
                   ("t1:1", "0", "2020-09-25T16:58:58.000000Z", "sell", "LTC", "USDT", "2.298821", "45.87",
                    "0.158170378905", "USDT")]


def test_real_t1_rows_everytrade_refuses_are_refused_here_too(tmp_path):
    # the same row with a unit that is not the pair's base (before: accepted, the unit never read), a pair
    # whose quote is not the Total's unit, and a pair that names no known quote
    for name, field, reason in (
            ("unit_differs", "unit (column 10)", "ETH is not LTC, the base of ltc_usdt (the unit of Amount)"),
            ("total_differs", "Total (column 7)", "is in USDT, expected the quote asset ETH"),
            ("unknown_pair", "Total (column 7)", "is in USDT, expected the quote asset US")):
        db = f"sqlite:///{tmp_path / (name + '.sqlite3')}"
        path = str(OKX / f"real_everytrade_t1_{name}.csv")
        code, out = cli(db, "import", "okx", path)
        assert code == 1, name
        assert f"{path}:2: {field}: {reason}" in out, out
        assert rows(db) == []
