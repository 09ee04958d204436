"""`taxreport backtest` and the strategy pre-check: end to end on the synthetic sample price set."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from taxreport.cli.main import root
from taxreport.rebalance.planner import asset_rows, trade_needed
from taxreport.rebalance.strategies import Scheduler, parse_strategy
from taxreport.rebalance.types import Basket

SAMPLE = Path(__file__).parent.parent / "sample_exports" / "prices" / "synthetic_ohlcv_1d.csv"
BASKET_TOML = """name = "core"
exchange = "okx"
account = "okx:main"
quote = "USDT"
mode = "weekly"
threshold = 5
[weights]
BTC = 50
ETH = 30
SOL = 20
"""


def test_backtest_json_and_charts(tmp_path):
    basket = tmp_path / "core.toml"
    basket.write_text(BASKET_TOML, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    runner = CliRunner()
    res = runner.invoke(root, ["--db", db, "prices", "candles", "import", str(SAMPLE), "--source", "synthetic"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(root, ["--db", db, "backtest", "--basket", str(basket), "--from", "2023-01-01",
                               "--to", "2023-06-30", "--compare", "buy-and-hold,weekly,threshold:5",
                               "--jurisdiction", "us,uk", "--fx", "GBP=0.8", "--format", "json",
                               "--out", str(tmp_path / "charts")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["bars"] == 181 and out["timeframe"] == "1d"
    by = {s["strategy"]: s for s in out["strategies"]}
    assert list(by) == ["buy-and-hold", "weekly", "threshold:5"]
    hold = by["buy-and-hold"]
    # 10 000 USDT at a 0.1% fee charged in the coins bought (amounts truncated to the steps, so a hair
    # under 10 USDT of fees): the value at the first close is the cash minus exactly the fees.
    fees = Decimal(hold["fees"])
    assert Decimal("9.99") < fees <= Decimal(10) and hold["rebalances"] == 0
    assert Decimal(hold["start_value"]) + fees == Decimal(10000)
    assert by["weekly"]["rebalances"] > 0 and Decimal(by["weekly"]["turnover"]) > 0
    for s in out["strategies"]:
        assert s["tax"]["us"]["error"] is None and s["tax"]["us"]["estimate"] is True
        assert s["tax"]["uk"]["currency"] == "GBP" and s["tax"]["uk"]["error"] is None
    assert Decimal(by["weekly"]["tax"]["us"]["realised_gain"]) != 0
    assert sorted(Path(p).name for p in out["charts"]) == [
        "backtest_drift.png", "backtest_drift.svg", "backtest_value.png", "backtest_value.svg"]
    assert (tmp_path / "charts" / "backtest_value.png").stat().st_size > 1000

    # The same run from the CSV directly (no database) gives the same numbers.
    res2 = runner.invoke(root, ["--db", f"sqlite:///{tmp_path / 'other.sqlite3'}", "backtest", "--basket",
                                str(basket), "--candles", str(SAMPLE), "--from", "2023-01-01", "--to", "2023-06-30",
                                "--compare", "buy-and-hold,weekly,threshold:5", "--jurisdiction", "us",
                                "--format", "json"])
    assert res2.exit_code == 0, res2.output
    again = {s["strategy"]: Decimal(s["final_value"]) for s in json.loads(res2.output)["strategies"]}
    assert again == {k: Decimal(v["final_value"]) for k, v in by.items()}

    table = runner.invoke(root, ["--db", db, "backtest", "--basket", str(basket), "--compare", "weekly,threshold:5",
                                 "--jurisdiction", "de"])
    assert table.exit_code == 0, table.output
    assert "threshold:5" in table.output and "ESTIMATE" in table.output
    assert "--fx EUR=RATE" in table.output  # DE needs a USD->EUR rate: said, not guessed


def test_backtest_errors_are_one_line(tmp_path):
    basket = tmp_path / "core.toml"
    basket.write_text(BASKET_TOML, encoding="utf-8")
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    res = runner.invoke(root, ["--db", db, "backtest", "--basket", str(basket)])
    assert res.exit_code == 1 and "error: --basket: no 1d candles for BTC/USDT" in res.output
    res = runner.invoke(root, ["--db", db, "backtest", "--basket", str(basket), "--candles", str(SAMPLE),
                               "--compare", "weekly,monthly"])
    assert res.exit_code == 1 and "unknown strategy 'monthly'" in res.output
    res = runner.invoke(root, ["--db", db, "backtest", "--basket", str(basket), "--candles", str(SAMPLE),
                               "--slippage", "abc"])
    assert res.exit_code == 1 and "--slippage" in res.output


B = Basket(name="b", exchange="okx", account="okx:main", quote="USDT",
           weights={"BTC": Decimal(50), "ETH": Decimal(30), "SOL": Decimal(20)})


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["threshold:5", "threshold:2.5", "weekly", "daily", "hybrid:4"]),
       st.lists(st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10000), places=2), min_size=3, max_size=3),
       st.sampled_from(["absolute", "relative"]))
def test_precheck_never_skips_a_bar_the_planner_would_trade(spec, values, band):
    from dataclasses import replace

    strategy = parse_strategy(spec, replace(B, band=band, threshold=Decimal(20) if band == "relative" else B.threshold))
    sched = Scheduler(strategy, datetime(2024, 1, 1, tzinfo=timezone.utc))
    balances = {a: v for a, v in zip(B.weights, values)}
    prices = {a: Decimal(1) for a in B.weights}
    rows, total = asset_rows(strategy.basket, balances, prices)
    go, _ = trade_needed(strategy.basket, rows)
    if go:
        assert sched.may_trade(values, total)
