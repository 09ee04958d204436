"""Koinly and CoinTracker CSV exports: golden files, exact headers, balance consistency, injection."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from reports_fixtures import sample_events, t

from taxreport.model.events import Trade, Transfer
from taxreport.model.legs import balances_of
from taxreport.model.money import D
from taxreport.reports import cointracker, koinly
from taxreport.reports.cells import csv_cell, safe_text
from taxreport.reports.txrows import tx_rows

GOLDEN = Path(__file__).parent / "golden"
END_2024 = t("2025-01-01T00:00:00")


def test_koinly_golden():
    assert koinly.render(sample_events(), end=END_2024) == (GOLDEN / "koinly_2024.csv").read_text()


def test_cointracker_golden():
    assert cointracker.render(sample_events(), end=END_2024) == (GOLDEN / "cointracker_2024.csv").read_text()


def test_headers_are_exactly_the_documented_ones():
    first = koinly.render([]).splitlines()[0]
    assert first == ("Date,Sent Amount,Sent Currency,Received Amount,Received Currency,Fee Amount,Fee Currency,"
                     "Net Worth Amount,Net Worth Currency,Label,Description,TxHash")
    first = cointracker.render([]).splitlines()[0]
    assert first == "Date,Received Quantity,Received Currency,Sent Quantity,Sent Currency,Fee Amount,Fee Currency,Tag"


def test_dates_amounts_and_tags():
    rows = list(csv.DictReader(io.StringIO(koinly.render(sample_events(), end=END_2024))))
    buy = rows[1]
    # 0.5 BTC at 44000 = 22000 USD sent; the 22 USD fee is NOT inside Sent Amount
    assert (buy["Date"], buy["Sent Amount"], buy["Sent Currency"], buy["Received Amount"], buy["Fee Amount"]) == \
        ("2024-01-05 10:00:00 UTC", "22000", "USD", "0.5", "22")
    assert [r["Label"] for r in rows if r["Label"]] == ["Airdrop", "Reward", "Fee refund", "Gift"]
    # every amount is positive
    for r in rows:
        for col in ("Sent Amount", "Received Amount", "Fee Amount", "Net Worth Amount"):
            assert not r[col] or Decimal(r[col]) > 0
    ct = list(csv.DictReader(io.StringIO(cointracker.render(sample_events(), end=END_2024))))
    assert ct[1]["Date"] == "01/05/2024 10:00:00"
    assert [r["Tag"] for r in ct if r["Tag"]] == ["staking"]
    assert len(ct) == len(rows) == 14


def test_reversed_events_records_and_later_years_are_left_out():
    keys = {r.event_key for r in tx_rows(sample_events(), end=END_2024)}
    assert not any(k.startswith(("trade:csv:K-9", "reversal:", "record:")) for k in keys)
    assert "trade:csv:K-2" not in keys
    assert "trade:csv:K-2" in {r.event_key for r in tx_rows(sample_events())}


def test_transfer_is_a_withdrawal_and_a_deposit_with_the_same_txhash():
    rows = [r for r in tx_rows(sample_events()) if r.kind.startswith("transfer")]
    out, into = rows
    assert (out.account, out.sent_amount, out.fee_amount, out.txhash) == ("kraken:main", D("0.1999"), D("0.0001"), "TX-1")
    assert (into.account, into.received_amount, into.txhash) == ("okx:main", D("0.1999"), "TX-1")


def test_rows_reproduce_the_ledger_balances_exactly():
    """Per account and currency, received - sent - fee over all rows equals the ledger's balance."""
    events = sample_events()
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for r in tx_rows(events):
        if r.received_amount:
            totals[(r.account, r.received_asset)] += r.received_amount
        if r.sent_amount:
            totals[(r.account, r.sent_asset)] -= r.sent_amount
        if r.fee_amount:
            totals[(r.account, r.fee_asset)] -= r.fee_amount
    assert {k: v for k, v in totals.items() if v != 0} == balances_of(events)


def test_fee_rebate_in_base_or_quote_is_folded_into_the_amount():
    buy = Trade(time=t("2024-05-01T00:00:00"), source="x", account="a", side="buy", base="BTC", quote="USDT",
                quantity=D("1"), price=D("100"), fee=D("-0.5"), fee_asset="USDT")
    (row,) = tx_rows([buy])
    assert (row.sent_amount, row.received_amount, row.fee_amount) == (D("99.5"), D("1"), None)


def test_account_filter_splits_a_transfer_between_wallet_files():
    events = sample_events()
    kraken = koinly.rows(events, accounts=["kraken:main"], end=END_2024)
    assert [r[10] for r in kraken] == ["deposit on kraken:main", "buy BTC with USD on kraken:main",
                                      "transfer to own account okx:main on kraken:main"]


def test_formula_injection_is_neutralised_and_numbers_stay_numbers():
    assert safe_text("=1+2") == "'=1+2"
    for bad in ("+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert safe_text(bad) == "'" + bad
    assert safe_text("plain") == "plain"
    assert csv_cell(D("-5")) == "-5"  # a negative number stays a number
    evil = Transfer(time=t("2024-06-01T00:00:00"), source="csv", external_id='=HYPERLINK("http://x","y")',
                    from_account="a", to_account="b", asset="BTC", quantity=D("1"))
    text = koinly.render([evil])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][11] == "'=HYPERLINK(\"http://x\",\"y\")"
    assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row)


def test_export_writes_file_atomically(tmp_path):
    n = koinly.export(sample_events(), tmp_path / "k.csv", end=END_2024)
    assert n == 14
    assert (tmp_path / "k.csv").read_text() == (GOLDEN / "koinly_2024.csv").read_text()
    assert not list(tmp_path.glob("*.partial"))


def test_cointracker_lists_rows_that_need_a_manual_tag():
    kinds = [(r.kind, r.income_type or r.purpose) for r in cointracker.untagged(sample_events())]
    assert kinds == [("income", "airdrop"), ("fee-refund", None), ("withdrawal", "gift")]
