"""Koinly Universal CSV and BittyTax records import (issue #12 item 6), and the Koinly round trip:
export a ledger to Koinly, import that file into an empty ledger, and every country's gains are the
same, through the CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taxreport.cli.main import root
from taxreport.errors import TaxreportError
from taxreport.importers.base import ImportRefused
from taxreport.importers.bittytax import parse_bittytax
from taxreport.importers.koinly import parse_koinly
from taxreport.model.events import Deposit, GiftIn, Income, Trade, Transfer, Withdrawal
from taxreport.model.legs import balances_of

D = Decimal
REPO = Path(__file__).resolve().parent.parent
BITTY = FIXTURES / "bittytax"
KOINLY_HEADER = ("Date,Sent Amount,Sent Currency,Received Amount,Received Currency,Fee Amount,Fee Currency,"
                 "Net Worth Amount,Net Worth Currency,Label,Description,TxHash")
T4H = ("id,Order id,Time,Trade Type,Symbol,Action,Amount,Trading Unit,Filled Price,PnL,Fee,Fee Unit,"
       "Position Change,Position Balance,Balance Change,Balance,Balance Unit")


def run(db: str, *args: str) -> str:
    res = CliRunner().invoke(root, ["--db", db, *args])
    assert res.exit_code == 0, res.output
    return res.output


def _history(tmp: Path) -> list[list[str]]:
    """SYNTHETIC inputs of a mixed history, as CLI commands: USD trades on Kraken (the demo's sample),
    a crypto-to-crypto trade with the fee in the asset received, OKX trades against EUR, OKX staking
    income, Simple Earn in and out (transfers), Deposit yield (interest), a withdrawal with a fee, and
    BittyTax records of a gift, lost coins, a spend (with its GBP value) and a donation, and two gifts
    received (one with the donor's basis and date, one without)."""
    (tmp / "cc.csv").write_text("timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id\n"
                                "2025-03-01T12:00:00Z,kraken:main,buy,ETH,BTC,0.5,0.03,0.0005,ETH,K-2001\n")
    meta = "UID:000 (SYNTHETIC),Account Type:Main,Time Zone:UTC+0\n"
    (tmp / "okx-t.csv").write_text(
        meta + T4H + "\n"
        "11,501,2025-01-10 10:00:00,Spot,SOL-EUR,Buy,10,EUR,180,0,-0.01,SOL,0,0,9.99,9.99,SOL\n"
        "12,501,2025-01-10 10:00:00,Spot,SOL-EUR,Sell,1800,SOL,180,0,0,EUR,0,0,-1800,200,EUR\n"
        "15,,2025-01-20 09:00:00,Transfer,SOL,Transfer out,5,SOL,0,0,0,SOL,0,0,-5,4.99,SOL\n"
        "16,502,2025-06-10 10:00:00,Spot,SOL-EUR,Sell,4,EUR,140,0,0,SOL,0,0,-4,0.99,SOL\n"
        "17,502,2025-06-10 10:00:00,Spot,SOL-EUR,Buy,560,SOL,140,0,-0.56,EUR,0,0,559.44,759.44,EUR\n")
    (tmp / "okx-f.csv").write_text(
        meta + "id,Time,Type,Amount,Before Balance,After Balance,Symbol\n"
        "26,2025-07-01 10:00:00,Withdrawal,-1.01,5.51,4.5,SOL\n"
        "25,2025-05-01 10:00:00,Deposit yield,0.01,5.5,5.51,SOL\n"
        "24,2025-05-01 09:00:00,Simple Earn redemption,5,0.5,5.5,SOL\n"
        "23,2025-03-01 10:00:00,Staking Yield,0.5,0,0.5,SOL\n"
        "22,2025-02-01 10:00:00,Simple Earn subscription,-5,5,0,SOL\n"
        "21,2025-01-20 09:00:00,From unified trading account,5,0,5,SOL\n")
    (tmp / "bitty.csv").write_text(
        "Type,Buy Quantity,Buy Asset,Buy Value in GBP,Sell Quantity,Sell Asset,Sell Value in GBP,Fee Quantity,"
        "Fee Asset,Fee Value in GBP,Wallet,Timestamp,Note\n"
        "Gift-Sent,,,,0.01,BTC,,,,,kraken:main,2025-04-01T10:00:00 UTC,to my sister\n"
        "Lost,,,,0.005,BTC,,,,,kraken:main,2025-04-02T10:00:00 BST,\n"
        "Spend,,,,0.002,BTC,150.00,,,,kraken:main,2025-04-03 10:00:00,laptop bag\n"
        "Charity-Sent,,,,0.001,BTC,,,,,kraken:main,2025-04-04T10:00:00 UTC,\n")
    rows = ["date,base,quote,rate"]
    day = date(2023, 12, 1)
    while day <= date(2026, 6, 30):  # SYNTHETIC daily rates
        i = (day - date(2023, 12, 1)).days
        for base, quote, rate in (("USD", "GBP", "0.79"), ("USD", "EUR", "0.92"), ("USD", "AUD", "1.52"),
                                  ("USD", "CAD", "1.36"), ("BTC", "USD", str(40000 + 37 * i)),
                                  ("ETH", "USD", str(2200 + 3 * i)), ("SOL", "USD", str(90 + i % 50))):
            rows.append(f"{day},{base},{quote},{rate}")
        day += timedelta(days=1)
    (tmp / "rates.csv").write_text("\n".join(rows) + "\n")
    return [["import", "csv", str(REPO / "sample_exports" / "demo_trades.csv"), str(tmp / "cc.csv")],
            ["import", "okx", str(tmp / "okx-t.csv"), str(tmp / "okx-f.csv")],
            ["import", "bittytax", str(tmp / "bitty.csv")],
            # gifts received: one with the donor's basis and date (US IRC §1015 carry-over), one without
            ["ledger", "add", "gift-in", "--time", "2025-02-01T10:00:00Z", "--account", "kraken:main",
             "--asset", "BTC", "--quantity", "0.05", "--cost", "2000", "--cost-currency", "USD",
             "--acquired-at", "2024-03-01T00:00:00Z", "--note", "from dad"],
            ["ledger", "add", "gift-in", "--time", "2025-02-02T10:00:00Z", "--account", "kraken:main",
             "--asset", "ETH", "--quantity", "0.2"],
            ["prices", "import", str(tmp / "rates.csv")]]


def _without_refs(value: Any) -> Any:
    """The gains JSON without ledger keys (the imported events have their own keys)."""
    if isinstance(value, dict):
        return {k: _without_refs(v) for k, v in value.items() if k not in ("ref", "lot")}
    if isinstance(value, list):
        return [_without_refs(v) for v in value]
    return value


YEARS = [("us", "2024"), ("us", "2025"), ("uk", "2024-25"), ("uk", "2025-26"), ("de", "2024"), ("de", "2025"),
         ("au", "2024-25"), ("ca", "2024"), ("ca", "2025")]


def test_koinly_round_trip_gives_the_same_gains_for_every_country(tmp_path):
    a = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    b = f"sqlite:///{tmp_path / 'b.sqlite3'}"
    for cmd in _history(tmp_path):
        run(a, *cmd)
    out = tmp_path / "koinly.csv"
    run(a, "export", "koinly", "--year", "2025", "--out", str(out))
    text = run(b, "import", "koinly", str(out))
    assert "24 events (2 gift-in, 2 income, 13 trade, 2 transfer, 5 withdrawal); 24 added" in text
    assert "0 added, 24 duplicates" in run(b, "import", "koinly", str(out))  # re-import adds nothing
    assert "gift received on kraken:main (cost basis 2000 USD, acquired 2024-03-01): from dad" in out.read_text()
    gifts_b = [e for e in json.loads(run(b, "ledger", "list", "--format", "json")) if e["kind"] == "gift-in"]
    assert sorted((g["asset"], g["quantity"], g["cost"], g["acquired_at"]) for g in gifts_b) == [
        ("BTC", "0.05", "2000", "2024-03-01T00:00:00.000000Z"), ("ETH", "0.2", None, None)]
    assert ",Gift," in out.read_text() and ",0,GBP,Lost," in out.read_text()
    run(b, "prices", "import", str(tmp_path / "rates.csv"))
    compared = 0
    for country, year in YEARS:
        args = ("gains", "-j", country, "-y", year, "--via", "USD", "--format", "json")
        got_a, got_b = json.loads(run(a, *args)), json.loads(run(b, *args))
        assert _without_refs(got_a) == _without_refs(got_b), (country, year)
        compared += len(got_a["disposals"])
    assert compared > 20  # real disposals were compared, not empty years
    # US 2024, hand check of the first disposal: 0.1 BTC sold at 71,500 − 7.15 fee = 7,142.85; cost
    # 0.1 of the 0.5 BTC bought for 22,000 + 22 fee = 4,404.40 (FIFO); gain 2,738.45
    us = json.loads(run(b, "gains", "-j", "us", "-y", "2024", "--via", "USD", "--format", "json"))
    first = us["disposals"][0]
    assert (first["proceeds"], first["cost"], first["gain"]) == ("7142.85", "4404.40", "2738.45")


def _koinly(tmp_path: Path, body: str, name: str = "k.csv") -> str:
    p = tmp_path / name
    p.write_text(body, encoding="utf-8")
    return str(p)


def test_koinly_documented_layout_any_column_order_labels_and_net_worth(tmp_path):
    # SYNTHETIC rows after Koinly's Universal template (REFERENCE.md §1): columns in another order,
    # an extra column, both date forms, a lower-case underscore label
    path = _koinly(tmp_path, "Received Amount,Received Currency,Date,Sent Amount,Sent Currency,Fee Amount,"
                             "Fee Currency,Net Worth Amount,Net Worth Currency,Label,Description,TxHash,Exchange\n"
                   "0.02,BTC,2024-03-01 12:00 UTC,1000,EUR,1.5,EUR,,,,buy on OKX,,okx\n"
                   "0.5,ETH,2024-03-02 08:00:00 UTC,,,,,1500,EUR,Reward,staking,,okx\n"
                   "1,SOL,2024-03-03T09:00:00Z,,,,,120,EUR,lending_interest,,,okx\n"
                   ",,2024-03-05 09:30:00 UTC,0.01,BTC,0.0001,BTC,,,,withdrawal,0xabc,okx\n"
                   "2,ETH,2024-03-06 10:00:00,,,,,5000,EUR,,from my ledger wallet,0xdef,okx\n"
                   ",,2024-03-07 10:00:00,0.1,ETH,,,300,EUR,Donation,,,okx\n")
    batch = parse_koinly(path, account="koinly:okx")
    assert batch.notes == ["columns not used: Exchange"]
    buy, reward, interest, wd, dep, gift = batch.events
    assert isinstance(buy, Trade)
    # EUR is fiat, so the trade is a purchase of 0.02 BTC at 1000/0.02 = 50,000 EUR, fee 1.5 EUR on top
    assert (buy.side, buy.base, buy.quote, buy.quantity, buy.price, buy.fee, buy.fee_asset) == (
        "buy", "BTC", "EUR", D("0.02"), D("50000"), D("1.5"), "EUR")
    assert buy.time == datetime(2024, 3, 1, 12, tzinfo=UTC) and buy.note == "buy on OKX"
    assert isinstance(reward, Income) and (reward.income_type, reward.value, reward.value_currency) == (
        "reward", D(1500), "EUR")
    assert isinstance(interest, Income) and interest.income_type == "interest"
    assert isinstance(wd, Withdrawal) and (wd.quantity, wd.fee, wd.purpose) == (D("0.01"), D("0.0001"), "own-wallet")
    # Net Worth of a deposit is its cost basis
    assert isinstance(dep, Deposit) and (dep.cost, dep.cost_currency) == (D(5000), "EUR")
    assert isinstance(gift, Withdrawal) and (gift.purpose, gift.value) == ("donation", D(300))


def test_koinly_transfer_pair_and_taxreport_descriptions(tmp_path):
    path = _koinly(tmp_path, KOINLY_HEADER + "\n"
                   "2025-02-01 10:00:00 UTC,4.99,SOL,,,0.01,SOL,,,,transfer to own account b:cold on a:hot,t-1\n"
                   "2025-02-01 10:00:00 UTC,,,4.99,SOL,,,,,,transfer from own account a:hot on b:cold,t-1\n"
                   "2025-02-02 10:00:00 UTC,,,1,BTC,,,,,,\"deposit on a:hot (cost basis 30000 USD, acquired "
                   "2021-05-04): bought on Coinbase\",\n"
                   "2025-02-03 10:00:00 UTC,0.1,BTC,,,,,500,USD,,withdrawal (spend) on a:hot: a laptop,\n"
                   "2025-02-04 10:00:00 UTC,,,2,SOL,,,,,Reward,income (staking) on a:hot,\n")
    transfer, dep, spend, income = parse_koinly(path).events
    assert isinstance(transfer, Transfer)
    # 4.99 arrived, the 0.01 fee was paid on top: 5 left a:hot
    assert (transfer.from_account, transfer.to_account, transfer.quantity, transfer.fee) == ("a:hot", "b:cold", D(5), D("0.01"))
    assert isinstance(dep, Deposit) and (dep.account, dep.cost, dep.cost_currency, dep.note) == (
        "a:hot", D(30000), "USD", "bought on Coinbase")
    assert dep.acquired_at == datetime(2021, 5, 4, tzinfo=UTC)
    assert isinstance(spend, Withdrawal) and (spend.purpose, spend.value, spend.note) == ("spend", D(500), "a laptop")
    assert isinstance(income, Income) and income.income_type == "staking"  # "income (staking)" under Reward


@pytest.mark.parametrize("row, line_field, reason", [
    ("2025-01-01 00:00 UTC,,,1,BTC,1,BTC,,,Gift,,", "Fee Amount", "a fee on a received-only row"),
    ("2025-01-01 00:00 UTC,,,1,BTC,,,,,lost,,", "Label", "'lost' is not a deposit or income label"),
    ("2025-01-01 00:00 UTC,1,BTC,,,,,,,Cost,,", "Label", "'Cost' is not a withdrawal label"),
    ("2025-01-01 00:00 UTC,1,BTC,2,ETH,,,,,Swap,,", "Label", "'Swap' on a trade is not supported"),
    ("2025-01-01 00:00 UTC,1E+30,BTC,,,,,,,,,", "Sent Amount", "'1E+30' is out of range"),
    ("2025-01-01 00:00 UTC,-1,BTC,,,,,,,,,", "Sent Amount", "must not be negative"),
    ("01/02/2025 10:00,1,BTC,,,,,,,,,", "Date", "is not a Koinly date"),
    ("2025-01-01 00:00 UTC,,,,,,,,,,,", None, "neither Sent nor Received"),
    ("2025-01-01 00:00 UTC,1,BTC,1,BTC,,,,,,,", "Received Currency", "the same asset as the one sent"),
    ("2025-01-01 00:00 UTC,100,USD,1,BTC,1,BTC,,,,,", "Fee Amount", "not less than the 1 BTC received"),
])
def test_koinly_refusals_name_file_line_and_field(tmp_path, row, line_field, reason):
    path = _koinly(tmp_path, KOINLY_HEADER + "\n" + row + "\n")
    with pytest.raises(ImportRefused) as info:
        parse_koinly(path, account="k:main")
    (problem,) = info.value.problems
    assert (problem.line, problem.field) == (2, line_field) and reason in problem.reason


def test_koinly_without_account_needs_taxreport_description(tmp_path):
    path = _koinly(tmp_path, KOINLY_HEADER + "\n2025-01-01 00:00 UTC,,,1,BTC,,,,,,from a friend,\n")
    with pytest.raises(ImportRefused, match="k.csv:2: Description: names no account"):
        parse_koinly(path)
    res = CliRunner().invoke(root, ["--db", f"sqlite:///{tmp_path / 'l.sqlite3'}", "import", "koinly", path])
    assert res.exit_code == 1 and "Traceback" not in res.output and "give --account" in res.output


def test_koinly_lost_and_gift_sent_and_bittytax_lost_default_value(tmp_path):
    path = _koinly(tmp_path, KOINLY_HEADER + "\n2025-01-01 00:00 UTC,1,BTC,,,,,,,Lost,,\n"
                                             "2025-01-02 00:00 UTC,0.5,BTC,,,,,20000,USD,gift,for Ann,\n")
    lost, gift = parse_koinly(path, account="k:main").events
    assert isinstance(lost, Withdrawal) and (lost.purpose, lost.value) == ("lost", None)
    assert isinstance(gift, Withdrawal) and (gift.purpose, gift.value, gift.value_currency, gift.note) == (
        "gift", D(20000), "USD", "for Ann")
    bitty = tmp_path / "b.csv"
    bitty.write_text("Type,Buy Quantity,Buy Asset,Buy Value,Sell Quantity,Sell Asset,Sell Value,Fee Quantity,"
                     "Fee Asset,Fee Value,Wallet,Timestamp\nLost,,,,1,BTC,,,,,W,2020-01-01T00:00:00 UTC\n")
    (lost,) = parse_bittytax(str(bitty), value_currency="EUR").events
    # BittyTax README, Lost: "If a value is not specified, a default disposal value of zero is assumed."
    assert isinstance(lost, Withdrawal) and (lost.purpose, lost.value, lost.value_currency) == ("lost", D(0), "EUR")


def _bitty_without_gifts(tmp_path: Path, name: str) -> str:
    lines = (BITTY / name).read_text(encoding="utf-8").splitlines(keepends=True)
    p = tmp_path / name
    p.write_text("".join(line for line in lines if not line.startswith("Gift-Received")), encoding="utf-8")
    return str(p)


@pytest.mark.parametrize("name", ["example.csv", "example_2021.csv"])
def test_bittytax_example_file_gift_received_is_a_gift_in_without_basis(tmp_path, name):
    # line 40 of both files: Gift-Received,0.24,BTC,,,,,,,,Desktop wallet,2017-08-08 13:21:29 (UTC; the
    # 2021 file writes 2017-08-08T14:21:29 BST)
    batch = parse_bittytax(str(BITTY / name))
    [(origin, gift)] = [(o, e) for o, e in zip(batch.origins, batch.events) if isinstance(e, GiftIn)]
    assert origin.endswith(f"{name}:40")
    assert (gift.account, gift.asset, gift.quantity, gift.cost, gift.cost_currency, gift.acquired_at) == (
        "Desktop wallet", "BTC", D("0.24"), None, None, None)
    assert gift.time == datetime(2017, 8, 8, 13, 21, 29, tzinfo=UTC)
    # every other row is what the file without the gift gives
    others = [e for e in batch.events if not isinstance(e, GiftIn)]
    assert others == parse_bittytax(_bitty_without_gifts(tmp_path, name)).events
    assert len(batch.events) == 60


def test_bittytax_gift_received_keeps_buy_value_in_the_note_and_review_lists_it(tmp_path):
    bitty = tmp_path / "g.csv"
    bitty.write_text("Type,Buy Quantity,Buy Asset,Buy Value in GBP,Sell Quantity,Sell Asset,Sell Value,Fee Quantity,"
                     "Fee Asset,Fee Value,Wallet,Timestamp,Note\n"
                     "Gift-Received,0.5,ETH,1200.00,,,,,,,W,2024-05-01T10:00:00 UTC,from mum\n")
    (gift,) = parse_bittytax(str(bitty)).events
    assert isinstance(gift, GiftIn) and (gift.quantity, gift.cost, gift.note) == (
        D("0.5"), None, "from mum; BittyTax Buy Value 1200.00 GBP")
    db = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    assert "1 added" in run(db, "import", "bittytax", str(bitty))
    items = json.loads(run(db, "review", "--format", "json"))
    items = items["items"] if isinstance(items, dict) else items
    assert [i["kind"] for i in items if i["ref"] == gift.natural_key] == ["gift_without_basis"]


def test_koinly_gift_received_label_and_own_description(tmp_path):
    path = _koinly(tmp_path, KOINLY_HEADER + "\n"
                   "2025-01-01 00:00 UTC,,,0.1,BTC,,,9000,USD,Gift,from dad,\n"
                   "2025-01-02 00:00:00 UTC,,,0.05,BTC,,,,,,\"gift received on k:main (cost basis 900 USD, "
                   "acquired 2021-03-01): birthday\",\n"
                   "2025-01-03 00:00:00 UTC,,,0.02,BTC,,,,,,gift received on k:main,\n")
    labelled, own, bare = parse_koinly(path, account="k:main").events
    # Koinly's Net Worth is the market value on receipt, not the donor's basis: note only, no cost
    assert isinstance(labelled, GiftIn) and (labelled.quantity, labelled.cost, labelled.note) == (
        D("0.1"), None, "from dad; Koinly Net Worth 9000 USD")
    assert isinstance(own, GiftIn) and (own.cost, own.cost_currency, own.acquired_at, own.note) == (
        D(900), "USD", datetime(2021, 3, 1, tzinfo=UTC), "birthday")
    assert isinstance(bare, GiftIn) and (bare.cost, bare.account) == (None, "k:main")
    # without --account, taxreport's description names it
    assert parse_koinly(_koinly(tmp_path, KOINLY_HEADER + "\n2025-01-03 00:00:00 UTC,,,0.02,BTC,,,,,,"
                                "gift received on k:main,\n", "k2.csv")).events[0].account == "k:main"


def test_bittytax_example_rows(tmp_path):
    batch = parse_bittytax(_bitty_without_gifts(tmp_path, "example.csv"))
    ev = batch.events
    assert len(ev) == 59
    gift = ev[6]  # Gift-Sent,,,,0.02757,BTC: a disposal by gift
    assert isinstance(gift, Withdrawal) and (gift.purpose, gift.quantity, gift.value) == ("gift", D("0.02757"), None)
    dep, trade = ev[0], ev[1]
    assert isinstance(dep, Deposit) and (dep.account, dep.asset, dep.quantity, dep.note) == (
        "LocalBitcoins", "GBP", D(870), "from Bank")
    # Trade,10,BTC,,870,GBP: a purchase of 10 BTC for 870 GBP (GBP is fiat: the quote)
    assert (trade.side, trade.base, trade.quote, trade.quantity, trade.price) == ("buy", "BTC", "GBP", D(10), D("87"))
    spend = ev[5]
    assert isinstance(spend, Withdrawal) and (spend.purpose, spend.quantity, spend.value, spend.value_currency) == (
        "spend", D("0.002435"), D("0.80"), "GBP")
    # "the withdrawal quantity should be the net amount (after fee deduction)": the fee is on top
    wd = ev[12]
    assert isinstance(wd, Withdrawal) and (wd.quantity, wd.fee) == (D("4.40027953"), D("0.0001"))
    income = ev[14]
    assert isinstance(income, Income) and (income.income_type, income.value, income.value_currency) == (
        "other", D("450.00"), "GBP")
    # ETH for BTC: BTC ranks as the quote; the fee in ETH (the asset received) comes out of the 77.41… gross
    eth = ev[17]
    assert (eth.side, eth.base, eth.quote, eth.quantity, eth.fee, eth.fee_asset) == (
        "buy", "ETH", "BTC", D("77.41195874"), D("0.15482391"), "ETH")
    assert eth.quantity * eth.price == D("0.48789661")
    # GBP for BTC: a sale of 0.999 BTC for 10,063.92 GBP, fee 30.19 GBP
    sale = next(e for e in ev if isinstance(e, Trade) and e.quote == "GBP" and e.side == "sell")
    assert (sale.quantity, sale.quantity * sale.price, sale.fee) == (D("0.999"), D("10063.92"), D("30.19"))
    charity = next(e for e in ev if isinstance(e, Withdrawal) and e.purpose == "donation")
    assert charity.quantity == D(5)
    mining = next(e for e in ev if isinstance(e, Income) and e.income_type == "mining")
    assert mining.quantity == D("12.5")
    # Coinfloor's GBP: four sales 10,063.92 + 10,062.93 + 10.07 + 10.08 = 20,147.00, fees 2 × 30.19 +
    # 2 × 0.03 = 60.44, withdrawn 20,086.56 to the bank: exactly zero left (BittyTax's audit agrees)
    bal = balances_of(ev)
    assert ("Coinfloor", "GBP") not in bal
    assert ("Coinfloor", "BTC") not in bal  # 2 deposited, 0.999 × 2 + 0.001 × 2 sold: zero


def test_bittytax_zone_suffixes_and_thousands_agree_with_the_newer_utc_file(tmp_path):
    old = parse_bittytax(_bitty_without_gifts(tmp_path, "example_2021.csv")).events
    new = parse_bittytax(_bitty_without_gifts(tmp_path, "example.csv")).events
    # the 2021 file says "2014-06-26T12:25:02 BST"; BittyTax's newer file says "2014-06-26 11:25:02" (UTC)
    assert old[5].time == new[5].time == datetime(2014, 6, 26, 11, 25, 2, tzinfo=UTC)
    assert sorted(e.time for e in old) == sorted(e.time for e in new)
    gbp_out = next(e for e in old if isinstance(e, Withdrawal) and e.asset == "GBP")
    assert gbp_out.quantity == D("20086.56")  # written "20,086.56"
    two = next(e for e in old if isinstance(e, Withdrawal) and e.account == "Poloniex" and e.fee == D("0.0001"))
    assert two.quantity == D(2)  # written "2."


def test_bittytax_cli_idempotent_and_bounds(tmp_path):
    db = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    path = _bitty_without_gifts(tmp_path, "example.csv")
    assert "59 added" in run(db, "import", "bittytax", path)
    out = json.loads(run(db, "import", "bittytax", path, "--format", "json"))
    assert (out[0]["added"], out[0]["duplicates"]) == (0, 59)
    bad = tmp_path / "bad.csv"
    bad.write_text("Type,Buy Quantity,Buy Asset,Buy Value,Sell Quantity,Sell Asset,Sell Value,Fee Quantity,"
                   "Fee Asset,Fee Value,Wallet,Timestamp\n"
                   "Deposit,1e400,BTC,,,,,,,,W,2020-01-01T00:00:00 UTC\n"
                   "Trade,1,BTC,,1,ETH,,,,,W,2020-01-01T00:00:00 PST\n")
    res = CliRunner().invoke(root, ["--db", db, "import", "bittytax", str(bad)])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "bad.csv:2: Buy Quantity: '1e400' is out of range" in res.output
    assert "bad.csv:3: Timestamp: time zone 'PST' is not one of" in res.output


_CELL = st.one_of(st.sampled_from(["", "1", "0", "-1", "1e400", "0.5", "BTC", "USD", "eth", "Reward", "Gift",
                                   "Trade", "Deposit", "Lost", "Stake", "2024-03-01 12:00 UTC",
                                   "2014-06-26T12:25:02 BST", "kraken:main", "20,086.56", "\ufeff"]),
                  st.text(max_size=8))
KOINLY_COLS = KOINLY_HEADER.split(",")
BITTY_COLS = ["Type", "Buy Quantity", "Buy Asset", "Buy Value", "Sell Quantity", "Sell Asset", "Sell Value",
              "Fee Quantity", "Fee Asset", "Fee Value", "Wallet", "Timestamp", "Note"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["koinly", "bittytax"]),
       rows=st.lists(st.lists(_CELL, min_size=11, max_size=14), min_size=1, max_size=4))
def test_garbage_rows_parse_or_refuse_with_a_taxreport_error(tmp_path_factory, which, rows):
    """Whatever the cells, the importers either make events or raise a TaxreportError (one line per
    problem): never another exception, which would reach the user as a traceback."""
    cols = KOINLY_COLS if which == "koinly" else BITTY_COLS
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(cols)
    for r in rows:
        w.writerow((r + [""] * len(cols))[: len(cols)] if len(r) < len(cols) else r)
    path = tmp_path_factory.mktemp("garbage") / "g.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    try:
        if which == "koinly":
            parse_koinly(str(path), account="k:main")
        else:
            parse_bittytax(str(path))
    except TaxreportError as exc:
        assert "Traceback" not in str(exc)
