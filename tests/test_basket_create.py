"""``basket create``: ``--force`` keeps every table no option can express ([tax], [extra], api_url),
and ``--preset`` reads risk-profile weights from the user's presets file (none are shipped)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.rebalance.basket import baskets_dir, load_basket

D = Decimal

FULL = """\
name = "core"
exchange = "okx"
account = "okx:main"
quote = "USDT"
mode = "weekly"
api_url = "http://127.0.0.1:8765"

[weights]
BTC = 50
ETH = 30
SOL = 20

[extra]
note = "kept by hand"
owner = "me"

[tax]
jurisdiction = "us"
method = "fifo"
marginal_rate = "0.24"
defer_short_term = 30
tax_budget = "0.5"
harvest_losses = "10"
choose_lots = true
"""


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("TAXREPORT_DB", str(tmp_path / "ledger.sqlite3"))
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def call(*args: str, ok: bool = True):
        result = runner.invoke(root, list(args), catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code != 0, result.output
        return result

    return call


def test_create_force_keeps_tax_extra_and_api_url_of_the_old_file(cli):
    path = baskets_dir() / "core.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FULL, encoding="utf-8")
    before = load_basket(path)
    assert before.tax is not None and before.tax.choose_lots and before.extra == {"note": "kept by hand", "owner": "me"}
    # the basket never ran: its weights and schedule may change; what no option sets stays
    out = json.loads(cli("basket", "create", "core", "--weights", "BTC=60,ETH=40", "--mode", "daily", "--force",
                         "--format", "json").output)
    after = load_basket(path)
    assert after.weights == {"BTC": D(60), "ETH": D(40)} and after.mode == "daily"
    assert after.tax == before.tax  # every key of [tax]: method, rate, deferral, budget, harvest, lots
    assert after.extra == before.extra and after.api_url == "http://127.0.0.1:8765"
    assert out["tax"]["marginal_rate"] == "0.24" and out["tax"]["defer_short_term"] == 30
    text = path.read_text(encoding="utf-8")
    assert "[tax]" in text and "[extra]" in text and 'api_url = "http://127.0.0.1:8765"' in text
    # and again: a second --force round trip changes nothing that no option sets
    cli("basket", "create", "core", "--weights", "BTC=60,ETH=40", "--mode", "daily", "--force")
    assert load_basket(path) == after


def test_create_without_force_still_refuses_to_overwrite(cli):
    cli("basket", "create", "core", "--weights", "BTC=50,ETH=50")
    out = cli("basket", "create", "core", "--weights", "BTC=50,ETH=50", ok=False).output
    assert "exists already (use --force to replace it)" in out
