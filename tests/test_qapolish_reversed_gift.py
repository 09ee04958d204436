"""A gift given and later reversed (``ledger reverse KEY``: events are never edited, a Reversal cancels one) is no
gift: the year's gift note does not count it and the figures do not hold it (US: its lots stay with the donor; UK: no
disposal at market value, TCGA 1992 s17(1)). Round 12 QA (helper qapolish) checked this from the CLI and found it
right: ``taxreport.prepare.prepare_events`` applies the reversals before ``taxreport.jurisdictions.gifts.gifts_for``
reads the gifts; this test keeps it so (the one-year path and ``gains -y all`` alike)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.model.events import Reversal

TRADES = """timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id
2024-01-05T10:00:00Z,kraken:main,buy,BTC,USD,1.0,20000,0,USD,K-1
2024-03-05T10:00:00Z,kraken:main,sell,BTC,USD,0.2,25000,0,USD,K-2
"""
RATES = """timestamp,base,quote,rate
2024-01-05,USD,GBP,0.8
2024-03-05,USD,GBP,0.8
2024-05-01,USD,GBP,0.8
2024-06-01,USD,GBP,0.8
2024-05-01,BTC,USD,60000
2024-06-01,BTC,USD,65000
"""
GIFT = ("1 gift(s) given: no disposal for the donor in United States (the lots leave without gain or loss; "
        "see taxreport/jurisdictions/gifts.py)")


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    # the reversal is recorded "now": pinned inside 2024 so that `gains -y all` spans the trades' years only
    # (a reversal recorded today extends the ledger's span to today's tax year: see the report of round 12)
    monkeypatch.setattr("taxreport.cli.ledger_cmds.recording_time", lambda: datetime(2024, 7, 1, tzinfo=timezone.utc))
    (tmp_path / "trades.csv").write_text(TRADES)
    (tmp_path / "rates.csv").write_text(RATES)
    base = ["--db", str(tmp_path / "ledger.sqlite3")]
    for args in (["import", "csv", str(tmp_path / "trades.csv"), "--account", "kraken:main"],
                 ["prices", "import", str(tmp_path / "rates.csv")],
                 ["ledger", "add", "gift-out", "--time", "2024-05-01T10:00:00Z", "--account", "kraken:main",
                  "--asset", "BTC", "--quantity", "0.3", "--id", "G-1"],
                 ["ledger", "add", "gift-out", "--time", "2024-06-01T10:00:00Z", "--account", "kraken:main",
                  "--asset", "BTC", "--quantity", "0.1", "--id", "G-2"],
                 ["ledger", "reverse", "withdrawal:manual:G-1", "--reason", "not given: moved to my own wallet"]):
        done = CliRunner().invoke(root, [*base, *args], catch_exceptions=False)
        assert done.exit_code == 0, done.output
    return base


def _gains(base: list[str], *args: str) -> object:
    result = CliRunner().invoke(root, [*base, "gains", *args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_reversed_gift_is_no_gift(db: list[str]) -> None:
    listed = CliRunner().invoke(root, [*db, "ledger", "list", "--format", "json"], catch_exceptions=False)
    assert [e["key"] for e in json.loads(listed.output)][-1] == f"{Reversal.kind}:manual:withdrawal:manual:G-1"
    us = _gains(db, "-j", "us", "-y", "2024")
    assert isinstance(us, dict)
    assert [n for n in us["notes"] if "gift(s) given" in n] == [GIFT]  # G-2 only (before the reverse: 2)
    (sale,) = us["disposals"]  # K-2 alone: a US gift is no disposal (IRC s1015(a))
    assert (sale["quantity"], Decimal(sale["proceeds"]), Decimal(sale["cost"])) == ("0.2", 5000, 4000)
    every = _gains(db, "-j", "us", "-y", "all")
    assert isinstance(every, list) and [d["year"] for d in every] == ["2024"] and every[0]["notes"] == us["notes"]
    balances = CliRunner().invoke(root, [*db, "ledger", "balances", "--format", "json"], catch_exceptions=False)
    held = {r["asset"]: Decimal(r["quantity"]) for r in json.loads(balances.output)}
    assert held["BTC"] == Decimal("0.7")  # 1 - 0.2 sold - 0.1 given (G-2); G-1's 0.3 is back


def test_uk_the_reversed_gift_is_no_disposal(db: list[str]) -> None:
    # UK 2024-25 (from 6 April 2024): G-2 alone is a disposal at market value, 0.1 x 65000 USD x 0.8 = 5200 GBP;
    # its cost from the s104 pool (1 BTC bought at 20000 x 0.8 = 16000 GBP, 16000 GBP a BTC; 0.8 BTC left after
    # K-2, 12800 GBP): 0.1 BTC at 1600 GBP. With G-1 not reversed, it would be a disposal of 0.3 BTC on 1 May.
    uk = _gains(db, "-j", "uk", "-y", "2024-25", "--via", "USD")
    assert isinstance(uk, dict)
    assert [(d["time"], d["quantity"], Decimal(d["proceeds"]), Decimal(d["cost"])) for d in uk["disposals"]] == [
        ("2024-06-01T10:00:00Z", "0.1", Decimal("5200"), Decimal("1600"))]
