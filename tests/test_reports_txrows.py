"""Koinly/CoinTracker rows are laid out from the legs (``taxreport.model.legs`` decides what a trade, fee
or transfer moves): every fee placement of the legs' fee table gives the row the formats document
(amounts before the fee, the fee in its own columns); received gifts; rows of simulated accounts."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from click.testing import CliRunner
from reports_fixtures import t

from taxreport.model.events import GiftIn, Trade
from taxreport.model.legs import event_legs
from taxreport.model.money import D
from taxreport.reports import cointracker, koinly
from taxreport.reports.txrows import simulated_note, tx_rows

WHEN = t("2024-05-01T12:00:00")


def _trade(side: str, base: str, quote: str, fee: str, fee_asset: str | None) -> Trade:
    return Trade(time=WHEN, source="x", external_id="T-1", account="okx:main", side=side, base=base, quote=quote,
                 quantity=D("2"), price=D("100"), fee=D(fee), fee_asset=fee_asset)


# (side, fee, fee asset) -> (sent, received, fee): 2 SOL at 100 USDT = 200 USDT gross either way.
# Koinly: "The fee is excluded from the amount sent"; the received amount is before a fee in that asset.
CASES = [
    ("buy", "0.5", "USDT", (D("200"), "USDT"), (D("2"), "SOL"), (D("0.5"), "USDT")),  # legs: give 200.5 USDT
    ("buy", "0.002", "SOL", (D("200"), "USDT"), (D("2"), "SOL"), (D("0.002"), "SOL")),  # legs: get 1.998 SOL
    ("buy", "0.01", "OKB", (D("200"), "USDT"), (D("2"), "SOL"), (D("0.01"), "OKB")),  # a third-asset fee leg
    ("sell", "0.002", "SOL", (D("2"), "SOL"), (D("200"), "USDT"), (D("0.002"), "SOL")),  # legs: give 2.002 SOL
    ("sell", "0.5", "USDT", (D("2"), "SOL"), (D("200"), "USDT"), (D("0.5"), "USDT")),  # legs: get 199.5 USDT
    ("sell", "-0.5", "USDT", (D("2"), "SOL"), (D("200.5"), "USDT"), None),  # a rebate stays folded in
    ("buy", "-0.002", "SOL", (D("200"), "USDT"), (D("2.002"), "SOL"), None),
]


@pytest.mark.parametrize("side,fee,fee_asset,sent,received,fee_cols", CASES)
def test_trade_rows_come_from_the_legs(side, fee, fee_asset, sent, received, fee_cols):
    trade = _trade(side, "SOL", "USDT", fee, fee_asset)
    (row,) = tx_rows([trade])
    assert ((row.sent_amount, row.sent_asset), (row.received_amount, row.received_asset)) == (sent, received)
    assert ((row.fee_amount, row.fee_asset) if row.fee_amount is not None else None) == fee_cols
    # the row moves exactly what the legs move, per asset (received - sent - fee = the legs' signed sum)
    moved: dict[str, Decimal] = {}
    for leg in event_legs(trade):
        moved[leg.asset] = moved.get(leg.asset, Decimal(0)) + leg.sign * leg.quantity
    shown = {row.received_asset: row.received_amount}
    shown[row.sent_asset] = shown.get(row.sent_asset, Decimal(0)) - row.sent_amount
    if row.fee_amount is not None:
        shown[row.fee_asset] = shown.get(row.fee_asset, Decimal(0)) - row.fee_amount
    assert shown == moved
    assert row.description == ("buy SOL with USDT on okx:main" if side == "buy" else "sell SOL for USDT on okx:main")


def test_fiat_base_pair_and_third_asset_rebate():
    """A fiat-base pair, USD/USDT bought: 2 USD received for 2 x 100 = 200 USDT given, with a maker rebate of
    0.001 OKB: the trade row, then a Fee refund row of 0.001 OKB."""
    trade = _trade("buy", "USD", "USDT", "-0.001", "OKB")
    main, refund = tx_rows([trade])
    assert (main.sent_amount, main.sent_asset, main.received_amount, main.received_asset, main.fee_amount) == \
        (D("200"), "USDT", D("2"), "USD", None)
    assert (refund.kind, refund.received_amount, refund.received_asset, refund.description) == \
        ("fee-refund", D("0.001"), "OKB", "fee rebate of trade T-1 on okx:main")
    assert koinly.label(refund) == "Fee refund"


def test_a_received_gift_is_an_unlabelled_deposit_with_its_basis_in_the_description():
    """Koinly documents Gift only for withdrawals; an untagged deposit is an acquisition at market price.
    The row says "gift received" and carries the donor's basis (taxreport's importer reads both back);
    both exporters list it for the user."""
    with_basis = GiftIn(time=WHEN, source="m", external_id="G-1", account="okx:main", asset="BTC", quantity=D("0.1"),
                        cost=D("2500"), cost_currency="USD", acquired_at=t("2020-03-01T00:00:00"))
    without = GiftIn(time=WHEN, source="m", external_id="G-2", account="okx:main", asset="BTC", quantity=D("0.2"))
    rows = tx_rows([with_basis, without])
    text = koinly.render([with_basis, without])
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert [(r["Received Amount"], r["Label"], r["Description"]) for r in parsed] == [
        ("0.1", "", "gift received on okx:main (cost basis 2500 USD, acquired 2020-03-01)"),
        ("0.2", "", "gift received on okx:main")]
    assert [r.kind for r in koinly.untagged_gifts(rows)] == ["gift-in", "gift-in"]
    assert all(cointracker.needs_manual_tag(r) and cointracker.tag(r) == "" for r in rows)


def test_simulated_accounts_are_marked_where_the_format_has_a_description():
    from taxreport.simulated import declaration

    events = [declaration("paper:core", "paper", time=t("2024-01-01T00:00:00")),
              Trade(time=WHEN, source="paper", external_id="P-1", account="paper:core", side="buy", base="BTC",
                    quote="USDT", quantity=D("0.01"), price=D("60000")),
              _trade("buy", "SOL", "USDT", "0", None)]
    rows = tx_rows(events)
    assert [(r.account, r.simulated) for r in rows] == [("paper:core", True), ("okx:main", False)]
    parsed = list(csv.DictReader(io.StringIO(koinly.render(events))))
    assert parsed[0]["Description"] == "SIMULATED: buy BTC with USDT on paper:core"
    assert parsed[1]["Description"] == "buy SOL with USDT on okx:main"
    assert simulated_note(rows, "cointracker") == ("note: 1 rows are from simulated accounts (paper:core): not real "
                                                   "money, do not file them; the CSV has no column to mark them")
    assert simulated_note(rows[1:], "koinly") == ""


def test_cli_says_when_simulated_rows_or_gifts_are_exported(tmp_path):
    from taxreport.cli.main import root
    from taxreport.ledger import Ledger
    from taxreport.simulated import declaration

    db = tmp_path / "l.sqlite3"
    led = Ledger(f"sqlite:///{db}")
    led.append([declaration("paper:core", "paper", time=t("2024-01-01T00:00:00")),
                Trade(time=WHEN, source="paper", external_id="P-1", account="paper:core", side="buy", base="BTC",
                      quote="USDT", quantity=D("0.01"), price=D("60000")),
                GiftIn(time=WHEN, source="m", external_id="G-1", account="okx:main", asset="BTC", quantity=D("0.1"),
                       cost=D("2500"), cost_currency="USD", acquired_at=t("2020-03-01T00:00:00"))],
               actor="importer:test", reason="fixture")
    led.close()
    run = CliRunner().invoke
    out = tmp_path / "k.csv"
    result = run(root, ["--db", str(db), "export", "koinly", "-y", "2024", "--include-simulated", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 rows are from simulated accounts (paper:core)" in result.output
    assert "1 received gifts are plain deposits" in result.output
    assert "SIMULATED: buy BTC with USDT on paper:core" in out.read_text()
    result = run(root, ["--db", str(db), "export", "cointracker", "-y", "2024", "--out", str(tmp_path / "c.csv")])
    assert result.exit_code == 0, result.output
    assert "simulated accounts" not in result.output and "paper:core" not in (tmp_path / "c.csv").read_text()
    assert "1 CoinTracker rows have no tag (gift-in)" in result.output
