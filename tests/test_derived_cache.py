"""The derived-state cache (taxreport/ledger/derived.py): a result is computed once per ledger state and
never served after any append, any new rate, or any change of the code; the cached value is the same
number, to the cent, as a fresh computation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from taxreport.gains import compute_gains
from taxreport.ledger import Ledger, derived
from taxreport.ledger.derived import DerivedCache
from taxreport.model import D, Trade
from taxreport.prices.store import RateRow, write_rates

T0 = datetime(2024, 1, 2, tzinfo=timezone.utc)


def trade(i: int, side: str, qty: str, price: str) -> Trade:
    return Trade(time=T0 + timedelta(days=i), source="test", external_id=str(i), account="kraken:main", side=side,
                 base="BTC", quote="USD", quantity=D(qty), price=D(price), fee=D("1"), fee_asset="USD")


@pytest.fixture
def led(tmp_path):
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as ledger:
        yield ledger


def gains_2024(ledger: Ledger, cache: DerivedCache, calls: list[int]) -> Decimal:
    def compute():
        calls.append(1)
        return compute_gains(ledger, jurisdiction="us", year="2024")
    return cache.get_or_compute("gains", {"j": "us", "year": "2024"}, compute).gain


def test_a_result_is_computed_once_per_ledger_state_and_again_after_any_append(led, tmp_path):
    cache, calls = DerivedCache(led, tmp_path / "cache"), []
    led.append([trade(0, "buy", "1", "100"), trade(1, "sell", "0.5", "300")], actor="importer:t", reason="r")
    # FIFO: sell 0.5 BTC at 300 (proceeds 150 - 1 fee = 149) out of 1 BTC bought for 100 + 1 fee (cost 101,
    # half of it 50.5): gain 149 - 50.5 = 98.5
    assert gains_2024(led, cache, calls) == D("98.5") and len(calls) == 1
    assert gains_2024(led, cache, calls) == D("98.5") and len(calls) == 1  # served from the cache
    assert gains_2024(led, DerivedCache(led, tmp_path / "cache"), calls) == D("98.5") and len(calls) == 1
    # another process appends: a new state, so the result is computed again (and is different)
    with Ledger(led.url) as other:
        other.append([trade(2, "sell", "0.5", "50")], actor="importer:t", reason="r")
    # second sale: 25 - 1 = 24 proceeds, cost 50.5: -26.5; year total 98.5 - 26.5 = 72
    assert gains_2024(led, cache, calls) == D("72") and len(calls) == 2
    assert gains_2024(led, cache, calls) == D("72") and len(calls) == 2
    assert len(list(cache.folder.glob("*.pickle"))) == 1  # the old state's entry was removed
    assert cache.hits == 2 and cache.misses == 2  # (one more hit went to the second instance)


def test_new_rates_and_changed_code_are_new_states_too(led, tmp_path, monkeypatch):
    cache, calls = DerivedCache(led, tmp_path / "cache"), []
    led.append([trade(0, "buy", "1", "100")], actor="importer:t", reason="r")
    first = derived.ledger_state(led)
    write_rates(led, [RateRow("USD", "GBP", T0, D("0.8"), "test")])
    assert derived.ledger_state(led) != first
    second = derived.ledger_state(led)
    monkeypatch.setattr(derived, "_code_version", "an edited rule")
    assert derived.ledger_state(led) != second
    cache.get_or_compute("x", {}, lambda: calls.append(1))
    cache.get_or_compute("x", {}, lambda: calls.append(1))
    cache.get_or_compute("x", {"other": "request"}, lambda: calls.append(1))
    assert len(calls) == 2


def test_a_corrupt_or_unwritable_cache_only_costs_a_recomputation(led, tmp_path, monkeypatch):
    cache, calls = DerivedCache(led, tmp_path / "cache"), []
    assert cache.get_or_compute("x", {}, lambda: calls.append(1) or 42) == 42
    (entry,) = cache.folder.glob("*.pickle")
    entry.write_bytes(b"not a pickle")
    assert cache.get_or_compute("x", {}, lambda: calls.append(1) or 42) == 42 and len(calls) == 2
    monkeypatch.setenv("TAXREPORT_CACHE", "0")
    off = DerivedCache(led, tmp_path / "cache")
    assert off.get_or_compute("x", {}, lambda: calls.append(1) or 42) == 42 and len(calls) == 3
