"""Exports read and keep the year's summary in the derived cache (taxreport/cli/export_cmds.py _computed ->
taxreport.gains.gains_for_years): an export, a second export and a later ``gains`` share one computation of
the year, and a ledger edited behind the chain is still refused by every export."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

import taxreport.gains
from taxreport.cli.main import root
from taxreport.ledger import Ledger, derived
from taxreport.model import D, Trade

T0 = datetime(2024, 1, 2, tzinfo=timezone.utc)


def trade(i: int, side: str, qty: str, price: str) -> Trade:
    return Trade(time=T0 + timedelta(days=i), source="test", external_id=str(i), account="kraken:main", side=side,
                 base="BTC", quote="USD", quantity=D(qty), price=D(price), fee=D("1"), fee_asset="USD")


@pytest.fixture
def db(tmp_path, monkeypatch) -> str:
    monkeypatch.setattr(derived, "_now", lambda: time.time() + 60)  # as if a minute after the last write
    path = tmp_path / "e.sqlite3"
    with Ledger(f"sqlite:///{path}") as led:
        led.append([trade(0, "buy", "1", "100"), trade(1, "sell", "0.5", "300")], actor="importer:t", reason="r")
    return str(path)


def counted(monkeypatch) -> list[str]:
    calls: list[str] = []
    original = taxreport.gains.stream_request_years  # every computation of a year goes through it

    def compute(events, rates, request, years, each, **kw):  # noqa: ANN001, ANN003, ANN202
        def counted_each(year, result):  # noqa: ANN001, ANN202
            calls.append(year)
            return each(year, result)
        return original(events, rates, request, years, counted_each, **kw)
    monkeypatch.setattr(taxreport.gains, "stream_request_years", compute)
    return calls


def test_an_export_a_second_export_and_a_later_gains_share_one_computation(db, tmp_path, monkeypatch):
    calls = counted(monkeypatch)
    runner = CliRunner()
    first = runner.invoke(root, ["--db", db, "export", "xlsx", "-j", "us", "-y", "2024", "--out",
                                 str(tmp_path / "a.xlsx")])
    assert first.exit_code == 0, first.output
    assert calls == ["2024"]
    second = runner.invoke(root, ["--db", db, "export", "all", "-j", "us", "-y", "2024", "--out",
                                  str(tmp_path / "all"), "--format", "json"])
    assert second.exit_code == 0, second.output
    assert calls == ["2024"]  # the stored summary
    gains = runner.invoke(root, ["--db", db, "gains", "-j", "us", "-y", "2024", "--format", "json"])
    assert gains.exit_code == 0 and calls == ["2024"]
    # FIFO: sell 0.5 BTC at 300 (proceeds 150 - 1 fee = 149) out of 1 BTC bought for 100 + 1 fee (half: 50.5)
    assert json.loads(gains.output)["gain"] == "98.50"
    form = (tmp_path / "all" / "form8949-2024.csv").read_text()
    assert "149.00" in form and "50.50" in form and "98.50" in form


def test_an_export_of_a_ledger_edited_behind_the_chain_is_refused_although_its_summary_was_stored(db, tmp_path):
    from sqlalchemy import create_engine, text

    runner = CliRunner()
    assert runner.invoke(root, ["--db", db, "export", "xlsx", "-j", "us", "-y", "2024", "--out",
                                str(tmp_path / "a.xlsx")]).exit_code == 0
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:  # sold 0.5 -> 0.4 in the payload, hash, count and head left as they were
        conn.execute(text("UPDATE events SET payload = replace(payload, '\"0.5\"', '\"0.4\"') WHERE seq = 2"))
    engine.dispose()
    out = tmp_path / "b"
    refused = runner.invoke(root, ["--db", db, "export", "all", "-j", "us", "-y", "2024", "--out", str(out)])
    assert refused.exit_code == 1
    assert "row 2 was edited" in refused.output
    assert not out.exists()  # nothing written
