"""OKX CSV import: every variant, the traps of REFERENCE.md §3, idempotency and overlaps."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from taxreport.errors import InputError, TaxreportError
from taxreport.importers.base import ImportRefused
from taxreport.importers.okx import import_okx_file, parse_okx_file
from taxreport.importers.okx.common import parse_local_time, parse_zone
from taxreport.model.events import Deposit, Income, Trade, Withdrawal

from conftest import FIXTURES

OKX = FIXTURES / "okx"
D = Decimal
T4H = ("id,Order id,Time,Trade Type,Symbol,Action,Amount,Trading Unit,Filled Price,PnL,Fee,Fee Unit,"
       "Position Change,Position Balance,Balance Change,Balance,Balance Unit")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def trades(path, **kw) -> list[Trade]:  # noqa: ANN001
    batch = parse_okx_file(str(path), **kw)
    assert all(isinstance(e, Trade) for e in batch.events)
    return batch.events  # type: ignore[return-value]


def test_t0_pairs_china_time_and_quote_choice():
    batch = parse_okx_file(str(OKX / "t0.csv"))
    assert batch.variant == "T0"
    buy, sell = batch.events
    # 2019-03-01 20:00 in Asia/Shanghai (UTC+8) is 12:00 UTC
    assert buy.time == utc(2019, 3, 1, 12, 0, 0)
    assert (buy.side, buy.base, buy.quote, buy.quantity) == ("buy", "BTC", "USDT", D("0.5"))
    assert buy.price == D("3800")  # 1900 USDT / 0.5 BTC
    assert (buy.fee, buy.fee_asset) == (D("0.001"), "BTC")  # fee on the buy row, in the asset received
    # second pair lists the sell row first; USDT is received, so it is a sale of 0.25 BTC
    assert (sell.side, sell.quantity, sell.price, sell.fee, sell.fee_asset) == (
        "sell", D("0.25"), D("3800"), D("0.95"), "USDT")
    assert sell.time == utc(2019, 3, 2, 1, 30)
    assert buy.external_id.startswith("t0:") and buy.external_id != sell.external_id


def test_t1_bom_on_every_header_cell_and_unit_suffixes():
    batch = parse_okx_file(str(OKX / "t1_bom.csv"))
    assert batch.variant == "T1"
    buy, sell = batch.events
    assert (buy.side, buy.base, buy.quote, buy.quantity, buy.price) == ("buy", "LTC", "USDT", D("2.273693"), D("46.17"))
    # "-0.0034105395 LTC": negative in the file = charged, in the asset received
    assert (buy.fee, buy.fee_asset) == (D("0.0034105395"), "LTC")
    assert (buy.external_id, buy.order_id) == ("t1:2517870569", "0")
    assert (sell.side, sell.quantity, sell.fee, sell.fee_asset) == ("sell", D("2.291153"), D("0.10514101117"), "USDT")
    assert buy.time == utc(2020, 9, 25, 17, 27, 2)


def test_t2_last_unit_column_wins_and_transfer_is_ignored():
    batch = parse_okx_file(str(OKX / "t2.csv"))
    assert batch.variant == "T2" and batch.rows == 5
    buy, sell = batch.events
    # the first Unit column says USDT on the ETH leg: the last one (ETH) is trusted
    assert (buy.side, buy.base, buy.quote, buy.quantity, buy.price) == ("buy", "ETH", "USDT", D("0.5"), D("1400"))
    assert (buy.fee, buy.fee_asset, buy.order_id, buy.external_id) == (D("0.0005"), "ETH", "9001", "bills:5001")
    # sell 0.2 ETH for 290 USDT (price 290/0.2 = 1450); USDT Balance Change 289.71 = 290 - 0.29
    assert (sell.side, sell.quantity, sell.price, sell.fee, sell.fee_asset) == ("sell", D("0.2"), D("1450"), D("0.29"), "USDT")
    assert len(batch.ignored) == 1 and batch.ignored[0][0].endswith("t2.csv:5")
    assert "not a disposal" in batch.ignored[0][1]


def test_t3_metadata_time_zone_trading_unit_trap_and_java_zeros():
    batch = parse_okx_file(str(OKX / "t3_tz.csv"))
    assert batch.variant == "T3" and "UTC+8" in batch.zone_label
    (t,) = batch.events
    # 13:30:24 at UTC+8 is 05:30:24 UTC
    assert t.time == utc(2023, 7, 7, 5, 30, 24)
    # Trading Unit says BTC on the USDT leg; Balance Unit (USDT) is trusted
    assert (t.side, t.base, t.quote, t.quantity, t.price) == ("sell", "BTC", "USDT", D("0.02378815"), D("30200"))
    # fee -0.5747217 USDT; USDT Balance Change 717.8274083 = 718.40213 - 0.5747217
    assert (t.fee, t.fee_asset) == (D("0.5747217"), "USDT")
    assert t.order_id == "597489919078301696"
    assert t.external_id == "bills:597524845211287596+597524845211287598"
    assert len(batch.ignored) == 1  # the Transfer row, with its reason


def test_t4_buy_fee_in_received_asset_with_leading_bom():
    (t,) = trades(OKX / "t4.csv")
    # 0.06436375 BTC x 95264.8 = 6131.599771 EUR exactly; BTC change 0.06420284 = 0.06436375 - 0.00016091
    assert (t.side, t.base, t.quote, t.quantity, t.price) == ("buy", "BTC", "EUR", D("0.06436375"), D("95264.8"))
    assert t.cost == D("6131.599771")
    assert (t.fee, t.fee_asset) == (D("0.00016091"), "BTC")
    assert t.time == utc(2025, 10, 20, 10, 44, 26)  # no metadata line: UTC


def test_t4_one_order_many_fills_in_any_order():
    ts = trades(OKX / "t4_multifill.csv")
    got = sorted((t.external_id, t.quantity, t.price, t.fee) for t in ts)
    assert got == [
        ("bills:101+102", D("0.1"), D("2000"), D("0.0001")),
        ("bills:103+104", D("0.2"), D("2000"), D("0.0002")),
        ("bills:105+106", D("0.3"), D("2001"), D("0.0003")),
    ]
    assert {t.order_id for t in ts} == {"777"}
    # order total: 0.6 ETH bought, 200 + 400 + 600.3 = 1200.3 EUR paid
    assert sum(t.cost for t in ts) == D("1200.3")


def test_fills_that_cannot_be_paired_are_summed_not_dropped(tmp_path):
    p = tmp_path / "agg.csv"
    # two BTC legs (0.1, 0.2) and two USDT legs (150, 450) at one time and price: no leg pairs with
    # amount x price, so they become one trade of 0.3 BTC for 600 USDT
    p.write_text(T4H + "\n"
                 "1,5,2025-01-01 00:00:00,Spot,BTC-USDT,Buy,0.1,USDT,2000,0,0,BTC,0,0,0.1,0.1,BTC\n"
                 "2,5,2025-01-01 00:00:00,Spot,BTC-USDT,Buy,0.2,USDT,2000,0,0,BTC,0,0,0.2,0.3,BTC\n"
                 "3,5,2025-01-01 00:00:00,Spot,BTC-USDT,Sell,150,BTC,2000,0,0,USDT,0,0,-150,850,USDT\n"
                 "4,5,2025-01-01 00:00:00,Spot,BTC-USDT,Sell,450,BTC,2000,0,0,USDT,0,0,-450,400,USDT\n")
    (t,) = trades(p)
    assert (t.quantity, t.price, t.external_id) == (D("0.3"), D("2000"), "bills:1+2+3+4")


def test_balance_change_mismatch_names_the_rows():
    with pytest.raises(ImportRefused) as info:
        parse_okx_file(str(OKX / "t4_balance_mismatch.csv"))
    (problem,) = info.value.problems
    assert (problem.line, problem.field) == (2, "Balance Change (column 15)")
    # 0.01 - 0.00001 = 0.00999: 1e-5 off, far more than OKX's 8-decimal rounding
    assert "0.01 BTC but Buy Amount 0.01 and Fee -0.00001 give 0.00999" in problem.reason


def test_malformed_cell_refuses_file_with_line_and_column(ledger):
    with pytest.raises(ImportRefused) as info:
        import_okx_file(ledger, str(OKX / "t4_malformed.csv"))
    (problem,) = info.value.problems  # the order with the bad row is not reported twice
    assert str(problem).endswith("t4_malformed.csv:4: Amount (column 7): 'abc' is not a number")
    assert ledger.count() == 0  # the good order in the same file is not written either


def test_unknown_header_lists_known_variants():
    with pytest.raises(InputError) as info:
        parse_okx_file(str(OKX / "unknown_header.csv"))
    text = str(info.value)
    assert "'Date,Pair,Side,Qty'" in text
    for code in ("T0", "T1", "T2", "T3", "T4", "F1", "F1'", "F2"):
        assert f"{code} (" in text


def test_f1_funding_rows_and_ignored_moves():
    batch = parse_okx_file(str(OKX / "f1.csv"))
    assert batch.variant == "F1"
    inc, dep, wd = batch.events  # written in time order: the yield (01:22) before the deposit (13:28)
    assert isinstance(dep, Deposit) and (dep.asset, dep.quantity) == ("USDT", D("449.020088"))
    assert isinstance(inc, Income) and (inc.income_type, inc.quantity, inc.asset) == ("staking", D("0.01415883"), "LTC")
    # After - Before = 0.0492422 - 0.2501422 = -0.2009 = Amount - Fee: the fee is on top
    assert isinstance(wd, Withdrawal) and (wd.quantity, wd.fee) == (D("0.2"), D("0.0009"))
    reasons = dict(batch.ignored)
    assert len(reasons) == 2
    assert any("To unified trading account" in r for r in reasons.values())
    assert any(r.startswith("Stake:") for r in reasons.values())


def test_f1_prime_empty_second_column():
    batch = parse_okx_file(str(OKX / "f1_prime.csv"))
    assert batch.variant == "F1'"
    dep, wd = batch.events
    assert dep.quantity == D("1.5")
    assert (wd.quantity, wd.fee) == (D("0.5"), D("0.01"))  # 1.5 - 0.99 = 0.51 = 0.5 + 0.01


def test_f2_types_time_zone_and_java_zeros():
    batch = parse_okx_file(str(OKX / "f2.csv"))
    assert batch.variant == "F2"
    kinds = [(type(e).__name__, e.asset, e.quantity) for e in batch.events]
    assert kinds == [("Deposit", "BTC", D("0.0001")), ("Withdrawal", "BTC", D("0.01147863")),
                     ("Deposit", "USDT", D("25")), ("Income", "SOL", D("0.5")), ("Income", "USDT", D("0.12"))]
    assert batch.events[0].time == utc(2025, 10, 31, 3, 54, 20)  # 11:54:20 at UTC+8
    assert batch.events[3].income_type == "staking" and batch.events[4].income_type == "rebate"
    assert len(batch.ignored) == 2  # to trading account, savings subscription


def test_funding_balance_mismatch_and_unknown_type(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("id,Time,Type,Amount,Before Balance,After Balance,Symbol\n"
                 "1,2025-01-01 00:00:00,Deposit,1,0,2,BTC\n"
                 "2,2025-01-01 00:00:00,Airdrop bonus,1,2,3,BTC\n")
    with pytest.raises(ImportRefused) as info:
        parse_okx_file(str(p))
    first, second = info.value.problems
    assert first.line == 2 and "After − Before Balance is 2 but Amount is 1" in first.reason
    assert second.line == 3 and "'Airdrop bonus' is not a funding row type" in second.reason


def test_time_zone_parsing():
    assert parse_zone("UTC+8")[0].utcoffset(None).total_seconds() == 8 * 3600
    assert parse_zone("UTC-3:30")[0].utcoffset(None).total_seconds() == -(3 * 3600 + 1800)
    assert parse_zone("UTC+05:30")[0].utcoffset(None).total_seconds() == 5 * 3600 + 1800
    assert parse_zone("UTC")[0].utcoffset(None).total_seconds() == 0
    with pytest.raises(ValueError):
        parse_zone("Europe/Mars")
    zone, _ = parse_zone("UTC-5")
    assert parse_local_time("2025-01-10 18:30:00", zone) == utc(2025, 1, 10, 23, 30)
    with pytest.raises(ValueError, match="spreadsheet"):
        parse_local_time("06/03/2023 13:28", zone)


def test_bad_time_zone_in_metadata_is_refused(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("UID:1,Account Type:Main,Time Zone:Mars+1\nid,Time,Type,Amount,Before Balance,After Balance,Symbol\n")
    with pytest.raises(InputError, match=r"f.csv:1: Time Zone: time zone 'Mars\+1'"):
        parse_okx_file(str(p))


def test_reimport_and_overlapping_longer_export_add_nothing_new(any_ledger):
    led = any_ledger
    first = import_okx_file(led, str(OKX / "t4_overlap_jan.csv"))
    assert (first.added, first.duplicates) == (2, 0)
    again = import_okx_file(led, str(OKX / "t4_overlap_jan.csv"))
    assert (again.added, again.duplicates) == (0, 2)
    # a longer export, displayed in another time zone: the two January fills are the same events
    longer = import_okx_file(led, str(OKX / "t4_overlap_janfeb.csv"))
    assert (longer.added, longer.duplicates) == (1, 2)
    assert led.count() == 3
    assert led.verify().ok


def test_funding_and_trading_files_idempotent(ledger):
    for name in ("f2.csv", "t2.csv"):
        s = import_okx_file(ledger, str(OKX / name))
        assert s.added == len(parse_okx_file(str(OKX / name)).events)
        assert import_okx_file(ledger, str(OKX / name)).duplicates == s.added


def test_errors_are_taxreport_errors():
    assert issubclass(ImportRefused, TaxreportError)


def test_bom_before_metadata_line_and_maker_rebate(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("\ufeffUID:1,Account Type:Main,Time Zone:UTC+9\n" + T4H + "\n"
                 # a maker sale of 1 SOL at 200 with a 0.02 USDT rebate (positive Fee): change 200.02
                 "11,66,2025-05-01 09:00:00,Spot,SOL-USDT,Sell,1,USDT,200,0,0,SOL,0,0,-1,0,SOL\n"
                 "12,66,2025-05-01 09:00:00,Spot,SOL-USDT,Buy,200,SOL,200,0,0.02,USDT,0,0,200.02,200.02,USDT\n",
                 encoding="utf-8")
    (t,) = trades(p)
    assert t.time == utc(2025, 5, 1, 0, 0)  # 09:00 at UTC+9
    assert (t.side, t.quantity, t.price, t.fee, t.fee_asset) == ("sell", D("1"), D("200"), D("-0.02"), "USDT")


def test_cli_multiple_files_one_refused(tmp_path):
    import json

    from click.testing import CliRunner

    from taxreport.cli.main import root

    db = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    runner = CliRunner()
    res = runner.invoke(root, ["--db", db, "import", "okx", str(OKX / "t4.csv"), str(OKX / "t4_malformed.csv"),
                               "--format", "json"])
    assert res.exit_code == 1
    assert "t4_malformed.csv:4: Amount (column 7): 'abc' is not a number" in res.output
    assert "1 of 2 files refused" in res.output
    data = json.loads(res.stdout[: res.stdout.rindex("]") + 1])
    assert data[0]["variant"] == "T4" and data[0]["added"] == 1
    res = runner.invoke(root, ["--db", db, "import", "okx", str(OKX / "t4.csv"), str(OKX / "f2.csv")])
    assert res.exit_code == 0, res.output
    assert "OKX import" in res.output and "rows not imported" in res.output
    res = runner.invoke(root, ["--db", db, "import", "okx", str(OKX / "t4.csv"), str(OKX / "f2.csv"),
                               "--format", "json"])
    got = [(s["variant"], s["added"], s["duplicates"], len(s["ignored"])) for s in json.loads(res.output)]
    assert got == [("T4", 0, 1, 0), ("F2", 0, 5, 2)]
