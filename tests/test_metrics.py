"""Backtest metrics on series small enough to check by hand (arithmetic in the comments)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from taxreport.rebalance import metrics as m

D = Decimal


def test_returns_total_and_drawdown():
    values = [D(100), D(120), D(90), D(135)]
    # r = 120/100-1 = 0.2; 90/120-1 = -0.25; 135/90-1 = 0.5
    assert m.returns(values) == [D("0.2"), D("-0.25"), D("0.5")]
    assert m.total_return(values) == D("0.35")  # 135/100 - 1
    # peak 120, trough 90: (120-90)/120 = 0.25; the later 135 is a new peak, not a drawdown
    assert m.max_drawdown(values) == D("0.25")
    assert m.max_drawdown([D(100), D(110), D(121)]) == 0  # never below a peak


def test_volatility_and_sharpe_by_hand():
    values = [D(100), D(120), D(90), D(135)]
    # returns 0.2, -0.25, 0.5: mean = 0.45/3 = 0.15
    # deviations 0.05, -0.4, 0.35; squares 0.0025 + 0.16 + 0.1225 = 0.285; / (3-1) = 0.1425
    # stdev = sqrt(0.1425) = 0.377491721763537...
    sd = m.stdev(m.returns(values))
    assert sd is not None and abs(sd - D("0.3774917217635375")) < D("1e-15")
    # with 4 periods a year: vol = 0.37749... * 2 = 0.75498...
    vol = m.annualised_volatility(values, D(4))
    assert abs(vol - D("0.754983443527075")) < D("1e-14")
    # Sharpe (rf 0) = 0.15 / 0.37749... * 2 = 0.794719414238...
    assert abs(m.sharpe(values, D(4)) - D("0.7947194142390264")) < D("1e-14")
    # rf 4% a year = 1% a period: (0.15 - 0.01)/0.37749... * 2 = 0.741737...
    assert abs(m.sharpe(values, D(4), D("0.04")) - D("0.7417381199564246")) < D("1e-14")


def test_flat_series_has_no_sharpe_and_zero_vol():
    flat = [D(100)] * 5
    assert m.sharpe(flat, D(365)) is None
    assert m.annualised_volatility(flat, D(365)) == 0
    assert m.stdev([D(1)]) is None


def test_annualised_return_and_turnover():
    # 2 bars a year, 4 bars (2 years): (121/100)^(2/4) - 1 = 1.1 - 1 = 0.1
    values = [D(100), D(105), D(110), D(115), D(121)]
    assert abs(m.annualised_return(values, D(2)) - D("0.1")) < D("1e-40")
    # traded 222 on a mean value of (100+105+110+115+121)/5 = 551/5 = 110.2 -> 222/110.2 = 2.0145...
    assert m.turnover(D(222), values) == D(222) / D("110.2")


def test_refuses_non_positive_values_and_unknown_timeframe():
    with pytest.raises(ValueError):
        m.returns([D(100), D(0)])
    with pytest.raises(ValueError):
        m.periods_per_year("7d")
    assert m.periods_per_year("1h") == 8760 and m.periods_per_year("1d") == 365


def test_summary_keys():
    s = m.summary([D(100), D(110)], timeframe="1d", traded_notional=D(21))
    assert s["final_value"] == 110 and s["total_return"] == D("0.1")
    assert s["turnover"] == D("0.2")  # 21 / 105
    assert s["annualised_volatility"] is None and s["sharpe"] is None  # one return only
