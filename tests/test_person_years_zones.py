"""Every tax year of a country that pools per person (UK, CA) computed in one pass
(:meth:`taxreport.jurisdictions.engine.PersonRules.match_years`) is byte for byte that year's own one-year
computation, in any asked zone, with trades placed right around each year's cutoff (its end in the country's
own zone + look-ahead + a day), its horizon (the same in the asked zone) and the last day of its 30-day window;
and the one pass no longer leaves years to be computed alone merely because the asked zone is not the
country's (issue 14 round 5: ``gains -j uk --timezone UTC`` computed three more years alone, 37 s instead of
17 s at 1M trades).

The comparison is the one of ``tests/test_gains_years_differential.py`` (the ``--format json`` document, then
the open lots, disposal details, note codes and income; or the same error).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from taxreport.gains import GainsRequest, compute_request_years, year_cutoff
from taxreport.jurisdictions import base as jbase
from taxreport.model.events import Event, Trade
from tests.test_gains_years_differential import ALONE, _check, _count_years_alone, _rates, _years, ledger  # noqa: F401

UTC = timezone.utc
# UTC; the UK's own zone; UTC+14 (its year ends 13 h before London's); UTC-12 (ends 12-13 h after); a zone
# whose clocks go back inside the UK window (Sydney, 7 April 2024) and one west of London (New York)
ZONES = ["UTC", "Europe/London", "Pacific/Kiritimati", "Etc/GMT+12", "Australia/Sydney", "America/New_York"]


@pytest.fixture(autouse=True)
def _standard_decimal_context():  # noqa: ANN202
    import decimal

    from taxreport.model.money import MONEY_CONTEXT

    with decimal.localcontext(MONEY_CONTEXT):
        yield


def _edges(code: str, tz: str) -> list[datetime]:
    """For every tax year: its last local day's last hour, the cutoff, the horizon in ``tz``, the first and
    last hour of the 30-day window's last local day and of the day after, each with moments a minute and half
    an hour either side."""
    j = jbase.get(code)
    zone = ZoneInfo(tz)
    out: list[datetime] = []
    for y in _years(code):
        start, end = j.year_bounds(y, tz)
        cutoff = year_cutoff(j, y)
        horizon = end + timedelta(days=j.policy.lookahead_days + 1)
        last_day = (end - timedelta(seconds=1)).astimezone(zone).date()
        window_end = datetime.combine(last_day + timedelta(days=31), datetime.min.time(), zone).astimezone(UTC)
        for at in (end, cutoff, horizon, window_end, window_end + timedelta(days=1)):
            out.extend(at + timedelta(minutes=m) for m in (-30, -1, 1, 30))
    return out


def around_the_edges(seed: int, code: str, zones: list[str]) -> list[Event]:
    """``ledger(seed)`` (sales never exceed holdings) plus, at each edge of :func:`_edges`, a buy and, a
    minute later, a sale of part of it (so holdings never go below zero), and a sale on each year's last local
    day of units bought 40 days before it (30-day matches reaching into the window)."""
    rng = random.Random(seed)
    events = ledger(seed)
    extra: list[Event] = []
    k = 0
    moments = sorted({t for tz in zones for t in _edges(code, tz)})
    j = jbase.get(code)
    for t in moments:
        if not (events[0].time < t < events[-1].time):
            continue
        coin = rng.choice(["BTC", "ETH", "SOL"])
        q = Decimal(str(round(rng.uniform(0.01, 1), 4)))
        extra.append(Trade(time=t, source="edge", external_id=f"b{k}", account="okx", side="buy", base=coin,
                           quote="USD", quantity=q, price=Decimal(str(round(rng.uniform(50, 40000), 2)))))
        extra.append(Trade(time=t + timedelta(minutes=1), source="edge", external_id=f"s{k}", account="okx",
                           side="sell", base=coin, quote="USD", quantity=(q / 2).quantize(Decimal("0.00000001")),
                           price=Decimal(str(round(rng.uniform(50, 40000), 2)))))
        k += 1
    for y in _years(code):
        for tz in zones:
            _, end = j.year_bounds(y, tz)
            sale = end - timedelta(minutes=20)
            if not (events[0].time < sale - timedelta(days=40) and sale < events[-1].time):
                continue
            q = Decimal(str(round(rng.uniform(0.5, 2), 4)))
            extra.append(Trade(time=sale - timedelta(days=40), source="edge", external_id=f"B{k}", account="kraken",
                               side="buy", base="SOL", quote="USD", quantity=q, price=Decimal("80")))
            extra.append(Trade(time=sale, source="edge", external_id=f"S{k}", account="kraken", side="sell",
                               base="SOL", quote="USD", quantity=q, price=Decimal("60")))  # a loss (CA: tested)
            k += 1
    return sorted(events + extra, key=lambda e: e.time)


@pytest.mark.parametrize("code", ["uk", "ca"])
@pytest.mark.parametrize("tz", ZONES)
def test_each_year_in_one_pass_is_its_own_computation_in_any_zone(code, tz):
    table = _rates(random.Random(4), None)
    events = around_the_edges(4, code, ZONES)
    docs = _check(events, table, GainsRequest(code, "2022", timezone=tz))
    assert sum('"ref"' in d for d in docs.values()) >= 3  # years with disposals, not empty ones
    # no year is computed alone: the asked zone alone is no reason (main left every year but the last to its
    # own computation in UTC, UTC-12 and New York for the UK)
    assert docs["alone"] == "", (code, tz, docs["alone"])


def test_a_shortfall_after_the_year_covered_only_by_a_later_purchase():
    """A sale after the 2022-23 UK year (in its window) of more than is held, covered by the 30-day rule only by
    a purchase after the year's cutoff: the year's own computation (which stops at the cutoff) refuses it; the
    one pass, which sees the purchase, would not. The year is computed alone and gives its own error (condition
    3 of PersonRules.match_years; main served the one pass's view)."""
    table = _rates(random.Random(4), None)

    def trade(ext: str, when: datetime, side: str, q: str) -> Trade:
        return Trade(time=when, source="t", external_id=ext, account="okx", side=side, base="BTC", quote="USD",
                     quantity=Decimal(q), price=Decimal("20000"))
    events: list[Event] = [
        trade("b1", datetime(2022, 6, 1, 12, tzinfo=UTC), "buy", "1"),
        trade("s1", datetime(2022, 12, 1, 12, tzinfo=UTC), "sell", "0.5"),  # a disposal in 2022-23
        trade("s2", datetime(2023, 5, 1, 12, tzinfo=UTC), "sell", "0.5"),  # after the year, in its window
        trade("s3", datetime(2023, 5, 2, 12, tzinfo=UTC), "sell", "0.5"),  # more than held...
        trade("b2", datetime(2023, 5, 10, 12, tzinfo=UTC), "buy", "0.5"),  # ...covered (30 days) after the cutoff
        trade("s4", datetime(2024, 6, 1, 12, tzinfo=UTC), "sell", "0.1"),
        trade("b3", datetime(2024, 5, 1, 12, tzinfo=UTC), "buy", "1"),
    ]
    events.sort(key=lambda e: e.time)
    docs = _check(events, table, GainsRequest("uk", "2022-23"))
    assert docs["2022-23"].startswith("ERROR MissingDataError"), docs["2022-23"][:200]
    assert "2022-23" in docs["alone"].split(",")
    assert docs["2024-25"].startswith("{")


def test_the_last_years_view_needs_nothing_alone_at_1m_shape():
    """A ledger with a trade every few hours across the year ends (the shape of the 1M bench): one pass only, in
    UTC, for UK and CA."""
    table = _rates(random.Random(5), None)
    rng = random.Random(5)
    t = datetime(2021, 3, 1, tzinfo=UTC)
    events: list[Event] = []
    held = Decimal(0)
    k = 0
    while t < datetime(2025, 2, 1, tzinfo=UTC):
        q = Decimal(str(round(rng.uniform(0.01, 0.2), 4)))
        side = "sell" if held > q and rng.random() < 0.45 else "buy"
        held += -q if side == "sell" else q
        events.append(Trade(time=t, source="t", external_id=f"x{k}", account="okx", side=side, base="BTC",
                            quote="USD", quantity=q, price=Decimal(str(round(rng.uniform(15000, 60000), 2)))))
        k += 1
        t += timedelta(hours=rng.uniform(1, 9))
    for code in ("uk", "ca"):
        ALONE.clear()
        years = _years(code)
        out = compute_request_years(events, table, GainsRequest(code, "2022", timezone="UTC"), years)
        assert ALONE == [], (code, ALONE)
        assert sum(1 for s in out.values() if getattr(s, "disposals", None)) >= 3
