"""`taxreport venue okx --export-trades FILE`: the venue's own fills as OKX's Trading history export,
so a rehearsal is reconciled against the venue's books the way a real account is against OKX's
export (QA round 12, helper qavenue). Before, the only OKX files to reconcile against were made
from the ledger itself (taxreport/reconcile/synthetic.py), which cannot find what the ledger lacks."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from click.testing import CliRunner

pytest.importorskip("ccxt")

from taxreport.cli.main import root
from taxreport.exchanges.base import OrderRequest
from taxreport.importers.okx import parse_okx_file
from taxreport.model.events import Trade
from taxreport.venue.okx import OkxVenue


def test_export_lists_every_venue_fill_with_its_numbers_and_imports_back(tmp_path):
    books = OkxVenue(tmp_path / "venue", seed=2, fund={"USDT": D(10000)})
    ex = books.ex
    bid, ask = ex._touch("BTC/USDT")
    ex._carry_out(OrderRequest("trexp1", "BTC/USDT", "buy", "limit", D("0.01"), ask))  # taker, fee in BTC
    ex._carry_out(OrderRequest("trexp2", "BTC/USDT", "sell", "limit", D("0.004"), bid))  # taker, fee in USDT
    ex._save()
    out = tmp_path / "okx-trades.csv"
    result = CliRunner().invoke(root, ["venue", "okx", "--state", str(tmp_path / "venue"), "--export-trades", str(out)])
    assert result.exit_code == 0, result.output
    assert "5 rows written" in result.output  # two per fill, and the funded USDT arriving (Transfer in)
    first = out.read_text(encoding="utf-8").splitlines()[0]
    assert first.endswith("Time Zone:UTC+8")
    batch = parse_okx_file(str(out), account="okx:core")
    trades = sorted((e for e in batch.events if isinstance(e, Trade)), key=lambda t: t.side.value)
    fills = sorted(ex.fills, key=lambda f: f.side)
    assert [(t.side.value, t.base, t.quantity, t.price, t.fee, t.fee_asset) for t in trades] == [
        (f.side, "BTC", f.amount, f.price, f.fee, f.fee_asset) for f in fills]
    # the buy's fee is in the coin bought (0.1% taker of 0.01 BTC), the sell's in USDT
    assert (trades[0].fee, trades[0].fee_asset) == (D("0.00001"), "BTC")
    assert trades[1].fee_asset == "USDT" and trades[1].fee == D("0.004") * bid * D("0.001")


def test_export_funding_gives_the_ledger_the_funded_cash_with_its_date(tmp_path):
    from taxreport.model.events import Deposit

    books = OkxVenue(tmp_path / "venue", seed=2, fund={"USDT": D(10000)})
    funded_at = books.ex.fundings[0]["time"]
    trades, funding = tmp_path / "trades.csv", tmp_path / "funding.csv"
    result = CliRunner().invoke(root, ["venue", "okx", "--state", str(tmp_path / "venue"), "--export-trades",
                                       str(trades), "--export-funding", str(funding)])
    assert result.exit_code == 0, result.output
    assert "2 rows written to" in result.output  # Deposit + the move to the trading account
    [deposit] = [e for e in parse_okx_file(str(funding), account="okx:core").events if isinstance(e, Deposit)]
    assert (deposit.asset, deposit.quantity) == ("USDT", D(10000))
    assert deposit.time == funded_at.replace(microsecond=0)  # OKX's export has whole seconds
    # the trading history starts with the cash arriving on the trading account (its Balance column
    # starts at 10,000 USDT, not below zero)
    rows = trades.read_text(encoding="utf-8").splitlines()
    assert rows[-1].split(",")[3:7] == ["Transfer", "USDT", "Transfer in", "10000"]
