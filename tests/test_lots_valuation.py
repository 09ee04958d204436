"""Valuation of legs: crypto-to-crypto swaps by each country's rule, whichever way the pair is written.

Sources (see taxreport/lots/valuation.py): IRS virtual-currency FAQ ("Your gain or loss is the difference
between the fair market value of the property you received and your adjusted basis in the virtual
currency exchanged"; basis of the property received = "its fair market value at the time of the
exchange"); HMRC CRYPTO22257 / TCGA92 s38(1)(a) (cost = value given; the -£972 example is in
tests/test_uk_hmrc_examples.py).
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from taxreport.gains import compute_gains_from_events
from taxreport.lots.types import Acquisition, Disposal
from taxreport.lots.valuation import SwapCost, SwapStats, value_events, value_legs
from taxreport.model.events import Reversal, Trade
from taxreport.model.legs import legs_of
from taxreport.prices.rates import Pricer, RateTable

D = Decimal
T = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
ASSETS = ["BTC", "ETH", "USDT", "OKB"]
RATES = RateTable.from_rows([(a, "GBP", datetime(2024, 5, 1, tzinfo=timezone.utc), D(r), "t")
                             for a, r in zip(ASSETS, ["50000.5", "3000.25", "0.79", "40"])])
num = st.decimals(min_value=D("0.0001"), max_value=D("100"), places=4)
EXACT = [D("0.5"), D("2"), D("0.25"), D("4"), D("0.2"), D("5"), D("0.125"), D("8")]  # exact inverses


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def _key(movements: list) -> list:
    out = []
    for m in movements:
        if isinstance(m, Disposal):
            out.append(("d", m.asset, m.quantity, m.proceeds, m.fee))
        elif isinstance(m, Acquisition):
            out.append(("a", m.asset, m.quantity, m.cost))
    return sorted(out)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(ASSETS), st.sampled_from(ASSETS), num, st.sampled_from(EXACT), st.sampled_from(list(SwapCost)))
def test_a_swap_is_valued_the_same_whichever_token_is_the_quote(a, b, qty, price, rule):
    # Give qty x price of B for qty of A: written BUY A/B (price B per A) or SELL B/A (price 1/price).
    if a == b:
        return
    one = Trade(time=T, source="t", external_id="1", account="x", side="buy", base=a, quote=b,
                quantity=qty, price=price)
    two = Trade(time=T, source="t", external_id="2", account="x", side="sell", base=b, quote=a,
                quantity=qty * price, price=1 / price)
    assert two.quantity * two.price == qty  # the same amounts change hands
    p = Pricer(RATES, "GBP")
    assert _key(value_events([one], p, swap_cost=rule)) == _key(value_events([two], p, swap_cost=rule))
    assert not p.missing


RULE_RATES = RateTable.from_rows([("BTC", "USD", at("2024-06-03T00:00:00"), D(60000), "t"),
                                  ("ETH", "USD", at("2024-06-03T00:00:00"), D(2950), "t")])
SWAP_BTC_ETH = Trade(time=at("2024-06-03T15:00:00"), source="t", external_id="s", account="x", side="sell",
                     base="BTC", quote="ETH", quantity=D(1), price=D(20))
SWAP_ETH_BTC = Trade(time=at("2024-06-03T15:00:00"), source="t", external_id="s", account="x", side="buy",
                     base="ETH", quote="BTC", quantity=D(20), price=D("0.05"))
OPEN = Trade(time=at("2023-01-10T15:00:00"), source="t", external_id="o", account="x", side="buy",
             base="BTC", quote="USD", quantity=D(1), price=D(30000))
CLOSE = Trade(time=at("2024-09-02T15:00:00"), source="t", external_id="c", account="x", side="sell",
              base="ETH", quote="USD", quantity=D(20), price=D(3050))


def test_irs_rule_both_ways_round():
    # 1 BTC bought for $30,000 (10 Jan 2023); on 3 Jun 2024 swapped for 20 ETH when BTC = $60,000 and
    # ETH = $2,950; the 20 ETH sold for $61,000 on 2 Sep 2024.
    # IRS FAQ: amount realised = FMV of what is received = 20 x 2,950 = $59,000 -> BTC gain
    # 59,000 - 30,000 = $29,000 (long-term); the ETH basis = its FMV when received = $59,000 -> ETH gain
    # 61,000 - 59,000 = $2,000 (short-term). Total $31,000, whichever way the pair is written.
    # (Before: BTC/ETH gave 59,000/59,000 but ETH/BTC valued both legs at the BTC: $30,000 + $1,000.)
    for swap in (SWAP_BTC_ETH, SWAP_ETH_BTC):
        s = compute_gains_from_events([OPEN, swap, CLOSE], RULE_RATES, jurisdiction="us", year="2024")
        got = [(d.asset, d.proceeds, d.cost, d.gain, d.term) for d in s.disposals]
        assert got == [("BTC", D(59000), D(30000), D(29000), "long"), ("ETH", D(61000), D(59000), D(2000), "short")]
        assert s.gain == D(31000)


def test_uk_rule_both_ways_round():
    # The same swaps in the UK (amounts in the example's currency via --currency USD): proceeds = value
    # received ($59,000); the ETH's allowable cost = value given = 1 BTC x 60,000 = $60,000 (TCGA92
    # s38(1)(a), CRYPTO22257) -> BTC gain $29,000, ETH gain 61,000 - 60,000 = $1,000.
    for swap in (SWAP_BTC_ETH, SWAP_ETH_BTC):
        s = compute_gains_from_events([OPEN, swap, CLOSE], RULE_RATES, jurisdiction="uk", year="2024-25",
                                      currency="USD")
        assert [(d.asset, d.proceeds, d.cost) for d in s.disposals] == [("BTC", D(59000), D(30000)),
                                                                       ("ETH", D(61000), D(60000))]


def test_no_rate_for_the_side_received_falls_back_to_the_side_given_and_says_so():
    # Only USDT is priced: 0.1 BTC bought for 5,000 USDT (USDT = $0.998). The BTC received has no rate, so
    # both legs take the value of the 5,000 USDT given: 5,000 x 0.998 = $4,990, and the notes say so.
    events = [Trade(time=at("2024-03-01T15:00:00"), source="t", external_id="u", account="x", side="buy",
                    base="BTC", quote="USDT", quantity=D("0.1"), price=D(50000))]
    p = Pricer(RateTable.from_rows([("USDT", "USD", at("2024-03-01T00:00:00"), D("0.998"), "t")]), "USD")
    stats = SwapStats()
    got = value_events(events, p, swap_cost=SwapCost.RECEIVED, stats=stats)
    assert _key(got) == [("a", "BTC", D("0.1"), D(4990)), ("d", "USDT", D(5000), D(4990), D(0))]
    assert not p.missing and stats.by_fallback == 2 and "2 crypto-to-crypto swap leg(s)" in stats.notes()[0]
    # no rate for either side: both gaps are named
    p2 = Pricer(RateTable(), "USD")
    value_events(events, p2)
    assert {(b, q) for b, q, _ in p2.missing} == {("BTC", "USD"), ("USDT", "USD")}


def test_value_events_applies_reversals_and_cutoff():
    a = Trade(time=T, source="t", external_id="1", account="a", side="buy", base="BTC", quote="USD",
              quantity=D(1), price=D(10))
    b = Trade(time=T, source="t", external_id="2", account="a", side="buy", base="ETH", quote="USD",
              quantity=D(1), price=D(10))
    rev = Reversal(time=T, source="t", external_id="r", target_key=b.natural_key, reason="dup")
    rates = RateTable.from_rows([("USD", "GBP", datetime(2024, 5, 1, tzinfo=timezone.utc), D("0.8"), "t")])
    p = Pricer(rates, "GBP")
    got = value_events([a, b, rev], p)
    assert got == value_legs(legs_of([a, b, rev]), Pricer(rates, "GBP"))
    assert [(m.asset, m.cost) for m in got] == [("BTC", D(8))]  # 10 USD x 0.8
    assert value_events([a], p, until=T) == []
