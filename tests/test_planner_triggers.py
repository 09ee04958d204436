"""When to rebalance: bands (absolute and relative), the gate, the cooldown and the calendar."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from taxreport.rebalance.basket import parse_basket
from taxreport.rebalance.planner import asset_rows, band_width, next_run, outside_band, should_rebalance
from taxreport.rebalance.types import AssetRow

UTC = timezone.utc
WED = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # a Wednesday


def basket(extra: str = "", weights: str = "BTC = 50\nETH = 30\nSOL = 20"):
    return parse_basket(f'name = "t"\n{extra}\n[weights]\n{weights}\n')


def rows(**weights: str) -> list[AssetRow]:
    targets = {"BTC": D(50), "ETH": D(30), "SOL": D(20)}
    out = []
    for asset, weight in weights.items():
        w = D(weight)
        out.append(AssetRow(asset, D(0), D(1), w, w, targets[asset], w - targets[asset], targets[asset]))
    return out


def test_absolute_band_fires_strictly_beyond_threshold():
    b = basket('mode = "threshold"\nthreshold = 5')
    assert band_width(b, D(20)) == 5
    assert outside_band(b, rows(BTC="55", ETH="25", SOL="20")) == []  # exactly 5pp: not beyond
    fired = outside_band(b, rows(BTC="55.01", ETH="24.99", SOL="20"))
    assert [r.asset for r in fired] == ["BTC", "ETH"]


def test_relative_band_15_percent_of_a_20_percent_target_fires_above_23():
    # 15% of 20 = 3pp: fires above 23% or below 17%; for the 50% target the band is 7.5pp
    b = basket('mode = "threshold"\nband = "relative"\nthreshold = 15')
    assert band_width(b, D(20)) == 3 and band_width(b, D(50)) == D("7.5")
    assert outside_band(b, rows(BTC="47", ETH="30", SOL="23")) == []
    assert [r.asset for r in outside_band(b, rows(BTC="46.99", ETH="30", SOL="23.01"))] == ["SOL"]
    assert [r.asset for r in outside_band(b, rows(BTC="53.01", ETH="30", SOL="16.99"))] == ["SOL"]
    go, why = should_rebalance(b, rows(BTC="46.99", ETH="30", SOL="23.01"), WED, None)
    assert go and why == "threshold: SOL drifts +3.01pp beyond its 3pp band"


def test_next_run_daily_weekly_and_threshold():
    daily = basket('mode = "daily"\ndaily_at = "08:30"')
    assert next_run(daily, WED) == datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    assert next_run(daily, datetime(2026, 11, 25, 8, 30, tzinfo=UTC)) == datetime(2026, 11, 26, 8, 30, tzinfo=UTC)
    weekly = basket('mode = "weekly"')  # Monday 00:00 UTC by default
    assert next_run(weekly, WED) == datetime(2026, 11, 30, tzinfo=UTC)
    assert next_run(weekly, datetime(2026, 11, 30, tzinfo=UTC)) == datetime(2026, 12, 7, tzinfo=UTC)
    assert next_run(weekly, datetime(2026, 11, 29, 23, 59, tzinfo=UTC)) == datetime(2026, 11, 30, tzinfo=UTC)
    friday = basket('mode = "weekly"\nweekly_on = "friday"\ndaily_at = "12:00"')
    assert next_run(friday, WED) == datetime(2026, 11, 27, 12, tzinfo=UTC)
    threshold = basket('mode = "threshold"\ncooldown_minutes = 5')
    assert next_run(threshold, WED) == WED + timedelta(minutes=5)
    hybrid = basket('mode = "hybrid"\ncalendar = "weekly"')
    assert next_run(hybrid, WED) == datetime(2026, 11, 30, tzinfo=UTC)
    # another time zone is converted, a naive time is refused
    from zoneinfo import ZoneInfo
    assert next_run(daily, datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))) == \
        datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_run(daily, datetime(2026, 11, 25))


def test_weekly_schedule_with_gate():
    b = basket('mode = "weekly"\ngate = 3')
    last = datetime(2026, 11, 23, 0, 0, 5, tzinfo=UTC)  # Monday's run
    big = rows(BTC="54", ETH="27", SOL="19")
    go, why = should_rebalance(b, big, WED, last)
    assert not go and why == "not due: next weekly run at 2026-11-30T00:00:00Z"
    monday = datetime(2026, 11, 30, tzinfo=UTC)
    assert should_rebalance(b, big, monday, last) == (True, "scheduled weekly run: BTC drifts +4.00pp, "
                                                             "more than the 3pp gate")
    small = rows(BTC="52", ETH="28", SOL="20")
    assert should_rebalance(b, small, monday, last) == (
        False, "scheduled weekly run skipped: no asset drifts more than the 3pp gate (largest: BTC +2.00pp)")
    assert should_rebalance(b, small, WED, None)[0] is False  # never ran: due, but inside the gate
    always = basket('mode = "weekly"\ngate = 0')
    assert should_rebalance(always, small, monday, last) == (True, "scheduled weekly run: gate 0: scheduled "
                                                                   "runs always trade")


def test_threshold_cooldown():
    b = basket('mode = "threshold"\nthreshold = 5\ncooldown_minutes = 5')
    drifted = rows(BTC="56", ETH="24", SOL="20")
    assert should_rebalance(b, drifted, WED, WED - timedelta(minutes=4)) == (
        False, "cooldown: next check at 2026-11-25T04:01:00Z")
    assert should_rebalance(b, drifted, WED, WED - timedelta(minutes=5))[0] is True
    # the cooldown counts from the last check when given
    assert should_rebalance(b, drifted, WED, WED - timedelta(days=1), last_check=WED - timedelta(minutes=1))[0] \
        is False
    go, why = should_rebalance(b, rows(BTC="54", ETH="26", SOL="20"), WED, None)
    assert not go and why == "threshold: inside the band: largest drift BTC +4.00pp (band 5pp)"


def test_hybrid_checks_on_calendar_and_trades_beyond_band():
    b = basket('mode = "hybrid"\nthreshold = 5\ndaily_at = "06:00"')
    last = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
    drifted = rows(BTC="56", ETH="24", SOL="20")
    assert should_rebalance(b, drifted, datetime(2026, 11, 25, 12, tzinfo=UTC), last)[0] is False
    tomorrow = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
    assert should_rebalance(b, drifted, tomorrow, last) == (
        True, "scheduled hybrid (daily) run: BTC drifts +6.00pp beyond its 5pp band")
    # 4pp is beyond the 3pp gate but inside the 5pp band: hybrid does not trade
    assert should_rebalance(b, rows(BTC="54", ETH="26", SOL="20"), tomorrow, last)[0] is False


def test_rows_from_the_planner_feed_the_trigger():
    # worked example: ETH is 27.27% of 10,450 -> drift -2.73pp: inside a 3pp gate, beyond a 2pp band
    r, total = asset_rows(basket(), {"BTC": D("0.1"), "ETH": D(1), "SOL": D("10.5")},
                          {"BTC": D(55000), "ETH": D(2850), "SOL": D(200)})
    assert total == 10450
    assert should_rebalance(basket(), r, WED, None)[0] is False
    assert should_rebalance(basket('mode = "threshold"\nthreshold = 2'), r, WED, None) == (
        True, "threshold: ETH drifts -2.73pp beyond its 2pp band")
