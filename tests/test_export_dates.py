"""The Koinly and CoinTracker date cells (taxreport/reports/koinly.py, cointracker.py), cut from isoformat() for
speed (issue 14), are strftime's text exactly."""

from __future__ import annotations

from datetime import datetime, timezone


def test_the_csv_dates_are_strftimes_text():
    """koinly_date / cointracker_date cut the text from isoformat(): the same text as strftime for every kind of
    moment (aware and naive, with and without microseconds, any year)."""
    import random

    from taxreport.reports.cointracker import cointracker_date
    from taxreport.reports.koinly import koinly_date

    rng = random.Random(3)
    moments = [datetime(999, 1, 2, 3, 4, 5), datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)]
    moments += [datetime(rng.randint(1000, 9999), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                         rng.randint(0, 59), rng.randint(0, 59), rng.choice([0, rng.randint(1, 999999)]),
                         tzinfo=rng.choice([None, timezone.utc])) for _ in range(2000)]
    for m in moments:
        assert koinly_date(m) == m.strftime("%Y-%m-%d %H:%M:%S UTC")
        assert cointracker_date(m) == m.strftime("%m/%d/%Y %H:%M:%S")
