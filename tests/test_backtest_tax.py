"""The backtest's after-tax columns come from the real tax engine (the fills become ledger Trades).

Path and basket as in tests/test_backtest.py (weekly bars from Monday 2024-01-01, no fees):

    bar   A      B     C       weekly trades at the bar's close (see test_backtest.py for the sizes)
    0     100    50    10      buy 50 A, 60 B, 200 C with 10 000 USDT (deposit, cost 10 000 USD)
    1     125    50    10      sell 5 A; buy 7.5 B, 25 C
    2     125    40    12      sell 0.9 A, 41.25 C; buy 15.1875 B
    3     100    50    10      buy 7.8093 A, 23.8875 C; sell 20.3962 B

US, FIFO (USDT pegged 1:1 to USD, so spending USDT gains nothing):
    bar 1: 5 A sold for 5*125 = 625, cost 5*100 = 500            -> +125
    bar 2: 0.9 A for 112.5, cost 0.9*100 = 90                      -> +22.5
           41.25 C for 41.25*12 = 495, cost 41.25*10 = 412.5       -> +82.5
    bar 3: 20.3962 B for 20.3962*50 = 1019.81, cost (first lot, bought at 50) 1019.81 -> 0
    realised 125 + 22.5 + 82.5 = 230 (all in 2024); estimated tax at the illustrative 24% = 55.2
"""

from __future__ import annotations

from decimal import Decimal

from taxreport.rebalance.backtest import Settings, price_grid, run_backtest
from taxreport.rebalance.backtest_tax import ILLUSTRATIVE_RATES, estimate, year_labels
from taxreport.rebalance.strategies import parse_strategies
from tests.test_backtest import BASKET, MARKETS, candles

D = Decimal


def runs(specs: str):
    grid = price_grid(candles(), BASKET, "1w")
    return grid, {r.label: r for r in run_backtest(parse_strategies(specs, BASKET), grid, MARKETS,
                                                   Settings(initial=D(10000), fee_rate=D(0)))}


def test_weekly_gains_through_the_us_engine_by_hand():
    grid, rs = runs("buy-and-hold,weekly")
    weekly = estimate(rs["weekly"], grid, "us")
    assert weekly.error is None
    assert weekly.realised_gain == D("230")
    assert weekly.taxable_gain == D("230")
    assert weekly.crypto_disposals == 4  # A (bar 1), A and C (bar 2), B (bar 3)
    assert weekly.estimated_tax == D("230") * ILLUSTRATIVE_RATES["us"] == D("55.2")
    assert [(y["year"], y["gain"]) for y in weekly.years if y["disposals"]] == [("2024", D("230"))]
    assert any("ESTIMATED tax" in n for n in weekly.notes)
    hold = estimate(rs["buy-and-hold"], grid, "us")
    assert hold.realised_gain == 0 and hold.crypto_disposals == 0  # only USDT was spent


def test_uk_without_fx_says_what_is_missing_and_with_fx_computes():
    grid, rs = runs("weekly")
    missing = estimate(rs["weekly"], grid, "uk")
    assert missing.error is not None and "--fx GBP=" in missing.error
    assert missing.realised_gain == 0 and missing.years == []
    # UK (HMRC order: same day, 30 days, s104 pool), in USD first, then x 0.8 for GBP:
    #   A: the bar 1 and bar 2 sales are matched (30-day rule) with the 7.8093 A bought at bar 3 at 100;
    #      cost 100 each, as before: +125 and +22.5.
    #   C: 41.25 C at 12; cost 10 whichever rule matches it (every C cost 10): +82.5.
    #   B: s104 pool before bar 3 = 60 + 7.5 + 15.1875 = 82.6875 B costing 3000 + 375 + 607.5 = 3982.5,
    #      i.e. 2360/49 per B. 20.3962 B cost 20.3962 * 2360/49 = 48135.032/49; proceeds 1019.81 =
    #      49970.69/49 -> gain 1835.658/49 = 37.4624…
    #   total 230 + 1835.658/49 USD; x 0.8 = 184 + 1468.5264/49 = 213.9699… GBP, under the 3 000 GBP
    #   2023-24 annual exempt amount, so the taxable gain and the estimated tax are 0.
    uk = estimate(rs["weekly"], grid, "uk", fx={"GBP": D("0.8")})
    assert uk.error is None
    assert abs(uk.realised_gain - (D(230) + D("1835.658") / D(49)) * D("0.8")) < D("1e-40")
    assert uk.taxable_gain == 0 and uk.estimated_tax == 0
    assert any("ASSUMED flat rate 1 USD = 0.8 GBP" in n for n in uk.notes)


def test_year_labels_cover_the_window():
    from datetime import datetime, timezone

    from taxreport.jurisdictions.base import get

    start, end = datetime(2023, 3, 1, tzinfo=timezone.utc), datetime(2024, 5, 1, tzinfo=timezone.utc)
    assert [y[0] for y in year_labels(get("us"), start, end)] == ["2023", "2024"]
    assert [y[0] for y in year_labels(get("uk"), start, end)] == ["2022-23", "2023-24", "2024-25"]
