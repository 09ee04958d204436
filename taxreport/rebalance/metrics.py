"""Performance metrics of a backtest: pure functions over a value series, exact ``Decimal`` arithmetic.

Definitions (``v_0 … v_n`` portfolio values at the close of each bar, in the quote asset;
``r_t = v_t / v_{t-1} - 1`` the bar returns; ``P`` bars per year — crypto trades every day, so 365
daily bars or 8760 hourly bars):

* total return        ``v_n / v_0 - 1``
* annualised return   ``(v_n / v_0) ** (P / n) - 1``
* annualised vol.     sample standard deviation of ``r`` (divisor ``n - 1``) times ``sqrt(P)``
* max drawdown        ``max_t (peak_t - v_t) / peak_t``, ``peak_t`` the highest value up to ``t``;
                      a positive fraction (0.25 = the value fell 25% below an earlier peak)
* Sharpe ratio        ``(mean(r) - rf / P) / stdev(r) * sqrt(P)`` with the yearly risk-free rate ``rf``
                      (0 by default); ``None`` when the returns do not vary
* turnover            traded notional (buys + sells, after the initial purchase) divided by the mean
                      portfolio value: 1.0 = the whole portfolio was traded once

These are textbook definitions (e.g. Sharpe, W. F., "The Sharpe Ratio", Journal of Portfolio
Management 21(1), 1994); no tax rule lives here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Sequence

from taxreport.model.money import MONEY_CONTEXT

ZERO = Decimal(0)
ONE = Decimal(1)
PERIODS_PER_YEAR = {"1m": 525600, "5m": 105120, "15m": 35040, "30m": 17520, "1h": 8760, "4h": 2190,
                    "1d": 365, "1w": 52}


def periods_per_year(timeframe: str) -> Decimal:
    try:
        return Decimal(PERIODS_PER_YEAR[timeframe])
    except KeyError:
        raise ValueError(f"timeframe: no annualisation factor for {timeframe!r}") from None


def returns(values: Sequence[Decimal]) -> list[Decimal]:
    """Bar-to-bar returns ``v_t / v_{t-1} - 1``."""
    if any(v <= 0 for v in values):
        raise ValueError("values: portfolio values must be positive to compute returns")
    return [values[i] / values[i - 1] - ONE for i in range(1, len(values))]


def total_return(values: Sequence[Decimal]) -> Decimal:
    if len(values) < 1 or values[0] <= 0:
        raise ValueError("values: need a positive starting value")
    return values[-1] / values[0] - ONE


def annualised_return(values: Sequence[Decimal], per_year: Decimal) -> Decimal | None:
    n = len(values) - 1
    if n < 1:
        return None
    growth = values[-1] / values[0]
    return MONEY_CONTEXT.power(growth, per_year / Decimal(n)) - ONE


def mean(xs: Sequence[Decimal]) -> Decimal:
    if not xs:
        raise ValueError("mean of no values")
    return sum(xs, ZERO) / Decimal(len(xs))


def stdev(xs: Sequence[Decimal]) -> Decimal | None:
    """Sample standard deviation (divisor n - 1); None for fewer than two values."""
    if len(xs) < 2:
        return None
    m = mean(xs)
    var = sum(((x - m) * (x - m) for x in xs), ZERO) / Decimal(len(xs) - 1)
    return var.sqrt(MONEY_CONTEXT)


def annualised_volatility(values: Sequence[Decimal], per_year: Decimal) -> Decimal | None:
    sd = stdev(returns(values))
    return None if sd is None else sd * per_year.sqrt(MONEY_CONTEXT)


def max_drawdown(values: Sequence[Decimal]) -> Decimal:
    peak = None
    worst = ZERO
    for v in values:
        if peak is None or v > peak:
            peak = v
        elif peak > 0:
            dd = (peak - v) / peak
            if dd > worst:
                worst = dd
    return worst


def sharpe(values: Sequence[Decimal], per_year: Decimal, risk_free: Decimal = ZERO) -> Decimal | None:
    r = returns(values)
    sd = stdev(r)
    if sd is None or sd == 0:
        return None
    return (mean(r) - risk_free / per_year) / sd * per_year.sqrt(MONEY_CONTEXT)


def turnover(traded_notional: Decimal, values: Sequence[Decimal]) -> Decimal:
    if not values:
        return ZERO
    avg = mean(values)
    return traded_notional / avg if avg > 0 else ZERO


def summary(values: Sequence[Decimal], *, timeframe: str, traded_notional: Decimal = ZERO,
            risk_free: Decimal = ZERO) -> dict[str, Decimal | None]:
    """Every metric above for one value series."""
    per_year = periods_per_year(timeframe)
    return {
        "start_value": values[0],
        "final_value": values[-1],
        "total_return": total_return(values),
        "annualised_return": annualised_return(values, per_year),
        "annualised_volatility": annualised_volatility(values, per_year),
        "max_drawdown": max_drawdown(values),
        "sharpe": sharpe(values, per_year, risk_free),
        "turnover": turnover(traded_notional, values),
    }
