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


def test_tax_options_write_the_tax_table_that_the_file_form_reads(cli):
    """`basket create --tax us --choose-lots …` writes the same [tax] table a hand-written file would
    (validated by the same rules); a policy without --tax, or one the country has no rule for, is refused;
    --force keeps the table unless --tax replaces it or --no-tax removes it."""
    from taxreport.rebalance.tax_policy import TaxSettings

    path = baskets_dir() / "taxed.toml"
    out = cli("basket", "create", "taxed", "--weights", "BTC=50,ETH=50", "--tax", "us", "--choose-lots",
              "--harvest-losses", "20", "--tax-budget", "1", "--marginal-rate", "0.24", "--defer-short-term", "30").output
    assert "tax-aware: US, chooses lots at each sale" in out
    assert load_basket(path).tax == TaxSettings(jurisdiction="us", marginal_rate=D("0.24"), defer_short_term=30,
                                                tax_budget=D(1), harvest_losses=D(20), choose_lots=True)
    refused = cli("basket", "create", "other", "--weights", "BTC=50,ETH=50", "--harvest-losses", "20", ok=False)
    assert "error: --harvest-losses: a tax policy: name the country with --tax" in refused.output
    uk = cli("basket", "create", "other", "--weights", "BTC=50,ETH=50", "--tax", "uk", "--choose-lots", ok=False)
    assert "tax.choose_lots: uk does not let you choose lots" in uk.output
    assert not (baskets_dir() / "other.toml").exists()
    cli("basket", "create", "taxed", "--weights", "BTC=60,ETH=40", "--force")
    assert load_basket(path).tax is not None and load_basket(path).tax.choose_lots  # kept
    cli("basket", "create", "taxed", "--weights", "BTC=60,ETH=40", "--force", "--tax", "uk", "--use-allowance")
    assert load_basket(path).tax == TaxSettings(jurisdiction="uk", use_allowance=True)  # replaced
    cli("basket", "create", "taxed", "--weights", "BTC=60,ETH=40", "--force", "--no-tax")
    assert load_basket(path).tax is None and "[tax]" not in path.read_text(encoding="utf-8")


PRESETS = """\
[conservative]
weights = { BTC = 60, ETH = 30, USDC = 10 }
source = "test: the user's own numbers"

[thirds]
weights = { BTC = "33.33", ETH = "33.33", SOL = "33.34" }
source = "test"

[short]
weights = { BTC = 60, ETH = 30 }
source = "sums to 90"
"""


def _write_presets(text: str = PRESETS):
    from taxreport.rebalance.presets import presets_path

    path = presets_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_no_preset_is_shipped_and_asking_for_one_says_where_to_write_it(cli):
    out = cli("basket", "create", "calm", "--preset", "conservative", ok=False).output
    assert "no preset 'conservative': taxreport ships none" in out and "presets.toml" in out
    assert not (baskets_dir() / "calm.toml").exists()
    assert "no presets in" in cli("basket", "presets").output


def test_create_from_a_user_preset_records_where_its_weights_came_from(cli):
    _write_presets()
    out = cli("basket", "create", "calm", "--preset", "conservative", "--mode", "weekly").output
    assert "weights from preset 'conservative' (source: test: the user's own numbers)" in out
    b = load_basket(baskets_dir() / "calm.toml")
    assert b.weights == {"BTC": D(60), "ETH": D(30), "USDC": D(10)} and b.mode == "weekly"
    assert b.extra == {"preset": "conservative", "preset_source": "test: the user's own numbers"}
    cli("basket", "create", "thirds", "--preset", "thirds")
    assert sum(load_basket(baskets_dir() / "thirds.toml").weights.values()) == 100
    listed = json.loads(cli("basket", "presets", "--format", "json").output)
    assert [p["name"] for p in listed["presets"]] == ["conservative", "thirds", "short"]
    # typed weights replacing a preset basket (--force, never ran) drop the preset's provenance
    cli("basket", "create", "calm", "--weights", "BTC=50,ETH=50", "--force")
    assert load_basket(baskets_dir() / "calm.toml").extra == {}


def test_bad_presets_are_refused_with_file_and_field(cli):
    path = _write_presets()
    out = cli("basket", "create", "x", "--preset", "short", ok=False).output
    assert f"{path}:10: short.weights: preset short: must sum to exactly 100, they sum to 90" in out
    assert "it has: conservative, short, thirds" in cli("basket", "create", "x", "--preset", "nope", ok=False).output
    assert "either --weights" in cli("basket", "create", "x", "--preset", "thirds", "--weights", "BTC=50,ETH=50",
                                     ok=False).output
    _write_presets('[loose]\nweights = { BTC = 50.5, ETH = 49.5 }\nsource = "x"\n')
    out = cli("basket", "create", "x", "--preset", "loose", ok=False).output
    assert "presets.toml:2: loose.weights: BTC must be an exact number" in out
    _write_presets('[nosource]\nweights = { BTC = 50, ETH = 50 }\n')
    out = cli("basket", "create", "x", "--preset", "nosource", ok=False).output
    assert "nosource.source: missing: say where these weights come from" in out
    assert not (baskets_dir() / "x.toml").exists()
