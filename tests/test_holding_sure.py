"""The elapsed-time shortcut of :meth:`LotRules.results` (issue 14, round 5): a lot held at least
``_sure_holding(years)[0]`` (366 * years + 3 days) is long and one held at most ``[1]`` (365 * years - 4 days) is
short under the one holding-period test, :meth:`Holding.long` on local dates (IRS Pub. 544 "Holding Period": bought
15 Mar 2023, sold 15 Mar 2024 -> short-term; sold 16 Mar 2024 -> long-term), in every time zone, including the
ones furthest from UTC and one that skipped a calendar day (Pacific/Apia, 30 Dec 2011), and around 29 February.

Then :meth:`LotRules.results` (which decides most lots by the shortcut) against the lot-by-lot reference
:meth:`Context.held_long` (no memo, no shortcut) and against :meth:`LotRules.general_results`."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from zoneinfo import ZoneInfo

from taxreport.jurisdictions.de import JURISDICTION as DE
from taxreport.jurisdictions.engine import _sure_holding
from taxreport.jurisdictions.holding import Holding, HoldingEffect
from taxreport.jurisdictions.us import JURISDICTION as US
from taxreport.lots.types import Disposal, LotMatch, MatchedDisposal

ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney", "Pacific/Kiritimati", "Etc/GMT+12",
         "Etc/GMT-14", "Pacific/Apia", "Pacific/Pago_Pago", "Asia/Kathmandu", "America/St_Johns",
         "Australia/Lord_Howe"]
US_1MAR = datetime(2023, 3, 15, 12, tzinfo=timezone.utc)


def _local(moment: datetime, zone: ZoneInfo):  # noqa: ANN202
    return moment.astimezone(zone).date()


def test_pub_544_example_by_the_dates():
    """The shortcut leaves the anniversary itself to the dates: 15 Mar 2023 -> 15 Mar 2024 is 366 days (2024 is a
    leap year), inside the window, so it is dated (short), as is 16 Mar 2024 (long)."""
    sure_long, sure_short = _sure_holding(1)
    assert (sure_long, sure_short) == (timedelta(days=369), timedelta(days=361))
    held = datetime(2024, 3, 15, 12, tzinfo=timezone.utc) - US_1MAR
    assert sure_short < held < sure_long
    one = Holding(1, HoldingEffect.TERM)
    assert not one.long(US_1MAR.date(), datetime(2024, 3, 15).date())
    assert one.long(US_1MAR.date(), datetime(2024, 3, 16).date())


@pytest.mark.parametrize("years", [1, 2, 3, 10])
@pytest.mark.parametrize("zone_name", ZONES)
def test_a_sure_holding_is_what_the_local_dates_say(zone_name: str, years: int):
    zone = ZoneInfo(zone_name)
    holding = Holding(years, HoldingEffect.TERM)
    sure_long, sure_short = _sure_holding(years)
    rng = random.Random(f"{zone_name}/{years}")
    tick = timedelta(microseconds=1)
    for i in range(3000):
        if i % 3 == 0:  # around 29 February and the Apia day that was skipped
            base = rng.choice([datetime(2020, 2, 28), datetime(2020, 2, 29), datetime(2020, 3, 1),
                               datetime(2011, 12, 29), datetime(2011, 12, 30), datetime(2011, 12, 31),
                               datetime(2023, 2, 28), datetime(2024, 2, 29)]).replace(tzinfo=timezone.utc)
            acquired = base + timedelta(seconds=rng.randint(-2 * 86400, 2 * 86400))
        else:
            acquired = datetime(2005, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.randint(0, 25 * 365 * 86400),
                                                                              microseconds=rng.randint(0, 999999))
        # the window's edges and just outside them, and anything farther out
        for held in (sure_long, sure_long + tick, sure_short, sure_short - tick,
                     sure_long + timedelta(seconds=rng.randint(0, 3 * 86400)),
                     sure_short - timedelta(seconds=rng.randint(0, 3 * 86400)),
                     timedelta(seconds=rng.randint(-86400, 400 * 86400 * years))):
            sold = acquired + held
            long = holding.long(_local(acquired, zone), _local(sold, zone))
            if held >= sure_long:
                assert long, (zone_name, years, acquired, sold)
            elif held <= sure_short:
                assert not long, (zone_name, years, acquired, sold)


def _result_fields(results: list) -> list[tuple]:
    return [tuple(str(getattr(r, f)) for f in r.__slots__) for r in results]


@pytest.mark.parametrize("jurisdiction", [US, DE], ids=["us", "de"])
@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Pacific/Kiritimati", "Etc/GMT+12", "Pacific/Apia"])
def test_results_terms_are_the_lot_by_lot_holding_test(jurisdiction, tz: str):
    """Every lot's holding by :meth:`Context.held_long` (no shortcut, no memo): one result per disposal whose lots
    agree, with their term; the split path for the others; the same fields as :meth:`general_results`."""
    ctx = jurisdiction.context("2023", None, {"timezone": tz})
    rng = random.Random(tz + jurisdiction.code)
    sure_long, sure_short = _sure_holding(1)
    for i in range(600):
        sold = datetime(2023, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.randint(0, 365 * 86400))
        lots = []
        for j in range(rng.choice([1, 1, 2, 3])):
            held = rng.choice([sure_long, sure_short, sure_long - timedelta(microseconds=1),
                               sure_short + timedelta(microseconds=1), timedelta(days=365) + timedelta(
                                   seconds=rng.randint(-5 * 86400, 5 * 86400)),
                               timedelta(seconds=rng.randint(0, 900 * 86400))])
            acquired = None if rng.random() < 0.05 else sold - held
            lots.append(LotMatch(Decimal(rng.randint(1, 10**6)).scaleb(-6), Decimal(rng.randint(0, 10**6)).scaleb(-2),
                                 acquired, "a", f"r{j}", "fifo"))
        d = Disposal(sold, "a", "BTC", sum((lm.quantity for lm in lots), Decimal(0)), Decimal("1000.00"),
                     Decimal("1.5"), f"k{i}", 0, "trade")
        md = MatchedDisposal(d, tuple(lots))
        fast = jurisdiction.rules.results(ctx, md)
        keys = [ctx.held_long(lm.acquired_at, sold) for lm in lots]
        if all(k is keys[0] for k in keys):
            assert len(fast) == 1 and fast[0].term == ("long" if keys[0] else "short")
            assert fast[0].exempt is (keys[0] and jurisdiction is DE)
        else:
            assert sorted(r.term for r in fast) == ["long", "short"]
        slow = jurisdiction.rules.general_results(ctx, md)
        assert fast == slow and _result_fields(fast) == _result_fields(slow)
