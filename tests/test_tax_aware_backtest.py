"""`backtest --compare weekly,weekly+tax-aware`: on the bundled SYNTHETIC prices, the tax-aware weekly
basket realises a lower taxable gain than the naive one for US, UK and DE (the real tax engine, per
tax year), and still ends inside its band of the target weights."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.errors import InputError
from taxreport.rebalance.strategies import parse_strategies
from taxreport.rebalance.types import Basket

CANDLES = Path(__file__).resolve().parent.parent / "sample_exports" / "prices" / "synthetic_ohlcv_1d.csv"
BASKET = Basket(name="core", exchange="okx", account="okx:main", quote="USDT",
                weights={"BTC": D(50), "ETH": D(30), "SOL": D(20)})


def test_tax_aware_suffix_parses_and_buy_and_hold_is_refused() -> None:
    weekly, aware = parse_strategies("weekly,weekly+tax-aware", BASKET)
    assert (weekly.label, weekly.tax_aware, aware.label, aware.tax_aware, aware.kind) == (
        "weekly", False, "weekly+tax-aware", True, "weekly")
    assert parse_strategies("threshold:5+tax-aware", BASKET)[0].label == "threshold:5+tax-aware"
    with pytest.raises(InputError, match="buy-and-hold never sells"):
        parse_strategies("buy-and-hold+tax-aware", BASKET)


def test_weekly_tax_aware_lowers_the_taxable_gain_for_us_uk_de_au(tmp_path: Path) -> None:
    basket = tmp_path / "core.toml"
    basket.write_text('name = "core"\nmode = "weekly"\n[weights]\nBTC = 50\nETH = 30\nSOL = 20\n')
    result = CliRunner().invoke(root, [
        "--db", str(tmp_path / "l.sqlite"), "backtest", "--basket", str(basket), "--candles", str(CANDLES),
        "--from", "2023-01-01", "--to", "2024-12-31", "--compare", "buy-and-hold,weekly,weekly+tax-aware", "--initial", "100000",
        "--fee-rate", "0.001", "--slippage", "0.0005", "--jurisdiction", "us,uk,de,au", "--fx", "GBP=0.79",
        "--fx", "EUR=0.92", "--fx", "AUD=1.5", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    hold, naive, aware = json.loads(result.output)["strategies"]
    assert (naive["strategy"], aware["strategy"]) == ("weekly", "weekly+tax-aware")
    for code in ("us", "uk", "de", "au"):
        n, a = naive["tax"][code], aware["tax"][code]
        assert n["error"] is None and a["error"] is None
        assert D(a["taxable_gain"]) < D(n["taxable_gain"]), code
        assert D(a["taxable_gain"]) > 0  # a real comparison, not two zeros
        # each country's tax-aware figures come from its own replay of that country's policies (the code
        # of rebalance plan/run), which ends inside the basket's 3pp gate of the targets like the naive one
        assert D(a["final_max_drift"]) <= 3 and a["rebalances"] > 0, code
        assert a["policy_decisions"].get("tax_budget shrunk", 0) > 0, code
        # after tax (total and if liquidated) in the quote asset; per tax year the value after the tax so far
        assert D(a["after_tax"]) > D(n["after_tax"]), code
        assert all(y["after_tax_value"] is not None and y["after_tax_if_liquidated"] is not None for y in a["years"]), code
    assert D(naive["final_max_drift"]) <= 3 and aware["tax_aware"] is True
    # where the country allows it the replay used its own policies: US loss harvesting (no wash-sale rule for
    # crypto), DE the Freigrenze, US/DE/AU lots turning long-term/tax-free deferred
    assert aware["tax"]["us"]["policy_decisions"].get("harvest_losses harvested", 0) > 0
    assert "harvest_losses harvested" not in aware["tax"]["uk"]["policy_decisions"]
    assert aware["tax"]["de"]["policy_decisions"].get("defer_short_term deferred", 0) > 0

    # After tax IF LIQUIDATED at the last close (2025-01-01T00:00Z, the close of the 31 Dec bar):
    # buy-and-hold realised nothing, so its whole unrealised gain is taxed on the sale. US: that moment is
    # 31 Dec 2024 in New York, a year with no other gain: tax = 24% x the liquidation gain. DE: it is
    # 1 Jan 2025 in Berlin and every lot was bought on 1 Jan 2023 (held more than one year, § 23 Abs. 1
    # Satz 1 Nr. 2 EStG): tax-free, so "if sold" equals "after tax".
    us, de = hold["tax"]["us"], hold["tax"]["de"]
    assert D(us["liquidation_gain"]) > 0 and D(us["liquidation_tax"]) == D(us["liquidation_gain"]) * D("0.24")
    assert D(us["after_tax_if_liquidated"]) == D(hold["final_value"]) - D(us["liquidation_tax"])
    assert D(de["liquidation_gain"]) > 0 and D(de["liquidation_tax"]) == 0
    assert D(de["after_tax_if_liquidated"]) == D(hold["final_value"])
    # per tax year too: US 2023 (buy-and-hold realised nothing that year, so no tax paid yet): the value at the
    # year's last close less the tax of selling everything then
    y2023 = us["years"][0]
    assert y2023["year"] == "2023" and D(y2023["estimated_tax"]) == 0 and D(y2023["liquidation_tax"]) > 0
    assert D(y2023["after_tax_if_liquidated"]) == D(y2023["value_at_end"]) - D(y2023["liquidation_tax"])
