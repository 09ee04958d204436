"""Real OKX exports (issue #12 item 5): published rows kept byte for byte (tests/fixtures/okx/SOURCES.md)
and the traps they carry: BOMs on every line, the 22-column Trading History, Convert rows, OKX's
independent 8-decimal rounding, gaps in OKX's own balance chain, Simple Earn / dust / Deposit yield
funding rows, extra valuation columns. Every import is checked against OKX's own balance columns."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from taxreport.cli.main import root
from taxreport.errors import InputError
from taxreport.importers.base import ImportRefused
from taxreport.importers.okx import import_okx_file, parse_okx_file
from taxreport.model.events import Deposit, Income, Trade, Transfer, Withdrawal
from taxreport.model.legs import balances_of

OKX = FIXTURES / "okx"
REPO_SAMPLES = Path(__file__).resolve().parent.parent / "sample_exports" / "okx"
D = Decimal
T4H = ("id,Order id,Time,Trade Type,Symbol,Action,Amount,Trading Unit,Filled Price,PnL,Fee,Fee Unit,"
       "Position Change,Position Balance,Balance Change,Balance,Balance Unit")


def okx_net_change(path: Path) -> dict[str, Decimal]:
    """Per asset, OKX's own Balance column: last Balance − (first Balance − first Balance Change), in
    row-id order (the ids grow with time; rows of one second are not in file order)."""
    lines = path.read_text(encoding="utf-8-sig").replace("\ufeff", "").splitlines()
    start = 1 if lines[0].startswith("UID") else 0
    rows = sorted(csv.DictReader(lines[start:]), key=lambda r: int(r["id"]))
    first: dict[str, dict[str, str]] = {}
    last: dict[str, dict[str, str]] = {}
    for r in rows:
        first.setdefault(r["Balance Unit"], r)
        last[r["Balance Unit"]] = r
    return {a: D(last[a]["Balance"]) - (D(first[a]["Balance"]) - D(first[a]["Balance Change"])) for a in first}


def test_bom_on_every_line_gives_the_same_keys_and_imports_once(ledger):
    # The same two real T1 rows: BOM on every header cell / at the start of every line / no BOM at all.
    keys = []
    for name in ("t1_bom.csv", "t1_bom_every_line.csv", "t1_no_bom.csv"):
        batch = parse_okx_file(str(OKX / name))
        assert [t.order_id for t in batch.events] == ["0", "1"]  # never '\ufeff0'
        keys.append([e.natural_key for e in batch.events])
    assert keys[0] == keys[1] == keys[2] == ["trade:okx:t1:2517870569", "trade:okx:t1:2517869763"]
    added = [import_okx_file(ledger, str(OKX / n)).added for n in ("t1_bom_every_line.csv", "t1_no_bom.csv",
                                                                    "t1_bom.csv")]
    assert added == [2, 0, 0]
    # LTC: +2.273693 − 0.0034105395 (fee in LTC) − 2.291153 = −0.0208705395: imported once, not twice
    assert balances_of(ledger.events())[("okx:main", "LTC")] == D("-0.0208705395")


def test_real_multi_fill_order_matches_okx_balance_column_with_its_rounding(ledger):
    path = OKX / "real_everytrade_t4_ada_sell.csv"
    batch = parse_okx_file(str(path))
    assert batch.variant == "T4" and len(batch.events) == 6 and not batch.gaps
    # everytrade's expected totals for this order: 6608.91010000 ADA sold, 9.49950318 EUR fee
    assert sum((t.quantity for t in batch.events), D(0)) == D("6608.9101")
    assert sum((t.fee for t in batch.events), D(0)) == D("9.49950318")
    assert {t.fee_asset for t in batch.events} == {"EUR"}
    # 1119.0986 ADA × 0.5752 = 643.70551472 exactly: Filled Price is kept
    one = next(t for t in batch.events if t.quantity == D("1119.0986"))
    assert one.price == D("0.5752") and one.quantity * one.price == D("643.70551472")
    # OKX's EUR Balance column jumps by 1e-8 between the rows of ids ...675 and ...677 (9232.94273578
    # then 10409.50519213 − 1176.56245634 = 9232.94273579): reported as rounding, not a gap
    ((origin, detail),) = batch.rounding
    assert origin.endswith("real_everytrade_t4_ada_sell.csv:13") and "+1E-8" in detail
    summary = import_okx_file(ledger, str(path))
    assert (summary.added, len(summary.rounding)) == (6, 1)
    bal = balances_of(ledger.events())
    okx = okx_net_change(path)
    assert bal[("okx:main", "ADA")] == okx["ADA"] == D("-6608.9101")
    # the ledger holds Σ Balance Change (85.61282741×2 + 642.09625093 + 909.32002245 + 891.09738139 +
    # 1176.56245634 = 3790.30176593); OKX's Balance column says 1e-8 more: exactly the reported rounding
    assert bal[("okx:main", "EUR")] == D("3790.30176593")
    assert okx["EUR"] - bal[("okx:main", "EUR")] == D("1E-8")
    assert import_okx_file(ledger, str(path)).added == 0


def test_real_t4_buy_balances():
    batch = parse_okx_file(str(OKX / "real_everytrade_t4_btc_buy.csv"))
    (t,) = batch.events
    assert (t.side, t.quantity, t.price, t.fee, t.fee_asset) == ("buy", D("0.06436375"), D("95264.8"),
                                                                  D("0.00016091"), "BTC")
    bal = balances_of(batch.events)
    okx = okx_net_change(OKX / "real_everytrade_t4_btc_buy.csv")
    assert bal[("okx:main", "BTC")] == okx["BTC"] == D("0.06420284")  # 0.06436375 − 0.00016091
    assert bal[("okx:main", "EUR")] == okx["EUR"] == D("-6131.599771")


def test_real_f2_withdrawal_leaves_a_gap_in_okx_balance_chain(ledger):
    path = OKX / "real_everytrade_f2.csv"
    batch = parse_okx_file(str(path))
    wd = next(e for e in batch.events if isinstance(e, Withdrawal))
    dep = next(e for e in batch.events if isinstance(e, Deposit))
    assert (wd.quantity, wd.fee, dep.quantity) == (D("0.01147863"), D(0), D("0.0001"))
    # deposit (id …314, 11:54:20) leaves 0.01157863; the withdrawal (id …703) starts from 0.01147863
    ((origin, detail),) = batch.gaps
    assert origin.endswith("real_everytrade_f2.csv:2")
    assert "-0.0001" in detail and "BTC unaccounted" in detail
    summary = import_okx_file(ledger, str(path))
    assert (summary.added, len(summary.gaps)) == (2, 1)
    # the ledger follows the rows: +0.0001 − 0.01147863; OKX's last After Balance is 0 from a start of
    # 0.01147863 before the deposit: the 0.0001 difference is the reported gap, not hidden
    assert balances_of(ledger.events())[("okx:main", "BTC")] == D("-0.01137863")


def test_22_column_history_and_convert_rows():
    batch = parse_okx_file(str(OKX / "t5_convert.csv"))
    assert batch.variant == "T5"
    tao, usdc = batch.events
    assert isinstance(tao, Trade) and tao.note == "OKX Convert"
    # TAO-USDC-CONVERT with an empty Action: the TAO leg's Balance Change is −0.00506778, so it is a sale
    assert (tao.side, tao.base, tao.quote, tao.quantity) == ("sell", "TAO", "USDC", D("0.00506778"))
    # 0.00506778 × 209.68861305 (Filled Price) ≠ 1.06265576 received, so price = quote ÷ base
    assert tao.quantity * D("209.68861305") != D("1.06265576")
    # … and exactly: quantity × price gives the 1.06265576 USDC back (money.unit_price)
    assert tao.quantity * tao.price == D("1.06265576")
    # 02:09:33 UTC = 04:09:33 at UTC+2 (metadata line)
    assert tao.time.isoformat() == "2026-07-06T02:09:33+00:00"
    # USDC-EUR-CONVERT: +57.19923035 USDC for −50 EUR: a buy of USDC with EUR
    assert (usdc.side, usdc.base, usdc.quote, usdc.quantity) == ("buy", "USDC", "EUR", D("57.19923035"))
    assert usdc.quantity * usdc.price == D(50)
    # those two convert rows are not one account's continuous history: the USDC chain break is reported
    assert len(batch.gaps) == 1 and "USDC" in batch.gaps[0][1]


def _write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_eight_decimal_rounding_is_tolerated_reported_and_bounded(tmp_path):
    # SYNTHETIC: 0.12345679 − 0.00012346 = 0.12333333, OKX printed 0.12333334 (rounded on its own)
    ok = _write(tmp_path, "r.csv", T4H + "\n"
                "1,9,2025-03-01 10:00:00,Spot,ETH-USDT,Buy,0.12345679,USDT,2000,0,-0.00012346,ETH,0,0,"
                "0.12333334,0.12333334,ETH\n"
                "2,9,2025-03-01 10:00:00,Spot,ETH-USDT,Sell,246.91358,ETH,2000,0,0,USDT,0,0,-246.91358,0,USDT\n")
    batch = parse_okx_file(ok)
    assert len(batch.events) == 1
    ((origin, detail),) = batch.rounding
    assert origin.endswith("r.csv:2") and "+1E-8" in detail
    # the trade is built from Balance Change, so the ledger's ETH equals OKX's: 0.12333334
    assert balances_of(batch.events)[("okx:main", "ETH")] == D("0.12333334")
    bad = _write(tmp_path, "b.csv", T4H + "\n"
                 "1,9,2025-03-01 10:00:00,Spot,ETH-USDT,Buy,0.12345679,USDT,2000,0,-0.00012346,ETH,0,0,"
                 "0.12333335,0.12333335,ETH\n"
                 "2,9,2025-03-01 10:00:00,Spot,ETH-USDT,Sell,246.91358,ETH,2000,0,0,USDT,0,0,-246.91358,0,USDT\n")
    with pytest.raises(ImportRefused) as info:
        parse_okx_file(bad)
    (problem,) = info.value.problems
    assert (problem.line, problem.field) == (2, "Balance Change (column 15)")
    assert "more than OKX's 1e-8 rounding" in problem.reason


F2E = "id,Time,Type,Amount,Before Balance,After Balance,Symbol,Amount-EUR\n"


def test_funding_simple_earn_dust_deposit_yield_and_valuation_column(ledger, tmp_path):
    # SYNTHETIC rows in the F2 layout with an Amount-EUR column (newest first, as OKX writes)
    path = _write(tmp_path, "f.csv", "UID:000 (SYNTHETIC),Account Type:Main,Time Zone:UTC+0\n" + F2E +
                  "17,2025-06-05 10:00:00,Simple Earn redemption,100,0.00004,100.00004,USDT,92.1\n"
                  "16,2025-06-04 00:00:00,Deposit yield,0.01234567,0,0.01234567,USDC,0.0113\n"
                  "15,2025-06-03 15:00:00,Crypto dust auto-transfer in,0.00004,0,0.00004,USDT,0.00003\n"
                  "14,2025-06-02 10:00:00,Simple Earn subscription,-100,100,0,USDT,-92\n"
                  "13,2025-06-01 10:00:00,Deposit,100,0,100,USDT,92\n")
    batch = parse_okx_file(path)
    assert batch.variant == "F2" and not batch.gaps and not batch.rounding
    assert batch.notes and batch.notes[0].startswith("columns not used: Amount-EUR")
    kinds = [type(e).__name__ for e in batch.events]
    assert kinds == ["Deposit", "Transfer", "Income", "Transfer"]  # time order (OKX writes newest first)
    _, subscribe, yield_, redeem = batch.events
    assert isinstance(subscribe, Transfer) and isinstance(redeem, Transfer)
    assert (subscribe.from_account, subscribe.to_account, subscribe.quantity) == ("okx:main", "okx:main:earn", D(100))
    assert (redeem.from_account, redeem.to_account, redeem.quantity) == ("okx:main:earn", "okx:main", D(100))
    assert isinstance(yield_, Income) and (yield_.income_type, yield_.quantity) == ("interest", D("0.01234567"))
    ((origin, reason),) = batch.ignored
    assert origin.endswith("f.csv:5") and "crypto dust" in reason and "not a disposal" in reason
    import_okx_file(ledger, path)
    bal = balances_of(ledger.events())
    # okx:main ends at OKX's After Balance except the dust, which OKX moved in from the trading account
    # (an OKX account in the same ledger account, whose export would hold the matching "out" row)
    assert bal[("okx:main", "USDT")] == D("100.00004") - D("0.00004")
    assert bal[("okx:main", "USDC")] == D("0.01234567")
    assert ("okx:main:earn", "USDT") not in bal  # subscribed and redeemed: back to zero
    assert import_okx_file(ledger, path).added == 0


def test_earn_redeemed_beyond_subscribed_is_noted_and_unknown_type_refused(tmp_path):
    path = _write(tmp_path, "f.csv", F2E + "21,2025-06-05 10:00:00,Simple Earn redemption,100.5,0,100.5,USDT,92\n"
                                             "20,2025-06-02 10:00:00,Simple Earn subscription,-100,100,0,USDT,-92\n")
    batch = parse_okx_file(path)
    assert any("0.5 more redeemed from Simple Earn than subscribed" in n for n in batch.notes)
    bad = _write(tmp_path, "u.csv", F2E + "22,2025-06-05 10:00:00,Mystery bonus,1,0,1,USDT,1\n")
    with pytest.raises(ImportRefused) as info:
        parse_okx_file(bad)
    (problem,) = info.value.problems
    assert problem.line == 2 and problem.field == "Type (column 3)" and "'Mystery bonus'" in problem.reason
    odd = _write(tmp_path, "o.csv", F2E.replace("Amount-EUR", "Notes") + "22,2025-06-05 10:00:00,Deposit,1,0,1,USDT,x\n")
    with pytest.raises(InputError, match="not an OKX export this version knows"):
        parse_okx_file(odd)


@pytest.mark.parametrize("cell, reason", [
    ("1e400", "'1e400' is out of range (must be below 1e15)"),
    ("1E+30", "'1E+30' is out of range (must be below 1e15)"),
    ("0.1234567890123456789012345678901", "more than 30 significant digits"),
])
def test_absurd_numbers_refused_at_the_door(tmp_path, cell, reason):
    path = _write(tmp_path, "x.csv", T4H + "\n"
                  f"1,9,2025-03-01 10:00:00,Spot,ETH-USDT,Buy,{cell},USDT,2000,0,0,ETH,0,0,1,1,ETH\n"
                  "2,9,2025-03-01 10:00:00,Spot,ETH-USDT,Sell,2000,ETH,2000,0,0,USDT,0,0,-2000,0,USDT\n")
    with pytest.raises(ImportRefused) as info:
        parse_okx_file(path)
    (problem,) = info.value.problems
    assert (problem.line, problem.field) == (2, "Amount (column 7)") and reason in problem.reason


def test_cli_real_files_reimport_adds_nothing_and_reports(tmp_path):
    db = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    files = [str(OKX / n) for n in ("real_everytrade_t4_ada_sell.csv", "real_everytrade_f2.csv", "t5_convert.csv")]
    runner = CliRunner()
    res = runner.invoke(root, ["--db", db, "import", "okx", *files])
    assert res.exit_code == 0, res.output
    assert "unaccounted for" in res.output and "8-decimal rounding" in res.output
    res = runner.invoke(root, ["--db", db, "import", "okx", *files, "--format", "json"])
    assert res.exit_code == 0, res.output
    got = [(s["variant"], s["added"], s["duplicates"], len(s["rounding"]), len(s["gaps"]))
           for s in json.loads(res.output)]
    assert got == [("T4", 0, 6, 1, 0), ("F2", 0, 2, 0, 1), ("T5", 0, 2, 0, 1)]


def test_demo_samples_import_to_okx_balances_exactly(ledger):
    """make demo, step 4b: every balance the 22-column sample leaves equals OKX's Balance column, the
    quote leg of a fill with a non-terminating price included (no 1e-47 residue)."""
    path = REPO_SAMPLES / "okx-trading-22col.csv"
    import_okx_file(ledger, str(path), account="okx:real")
    bal = balances_of(ledger.events())
    okx = okx_net_change(path)
    # USDC: −312.01604939 (buy leg, Balance Change kept over Amount's −312.01604938) + 275.01358025
    # (Convert) − 300 (Transfer out to funding) = −337.00246914; OKX's Balance column: last 30.12345679,
    # first 55.10987654 after −312.01604939, so it started at 367.12592593: 30.12345679 − 367.12592593
    assert okx["USDC"] == D("-337.00246914")
    assert bal[("okx:real", "USDC")] == okx["USDC"] + D(300)  # the Transfer row is an internal move (ignored)
    assert bal[("okx:real", "ETH")] == okx["ETH"] == D("0.01987")  # 0.13 − 0.00013 fee − 0.11 converted
