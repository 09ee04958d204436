"""Fees on crypto-to-crypto trades are treated the same whichever way the pair is written (issue 13,
item 4): BTC/ETH sold and ETH/BTC bought, with the fee in BTC, in ETH or in a third asset (OKB), give the
same disposals and the same gains to the cent in every country. The rule (taxreport/model/legs.py, "Fees
on crypto-to-crypto trades"): a swap of two tokens is a sale of the token given, the fee a cost of that
disposal; a purchase of a token with a stablecoin puts the fee on the acquisition, as a purchase for fiat
does.

Valuation rule of each country (taxreport/lots/valuation.py): proceeds = market value of what is received
(IRS virtual-currency FAQ; HMRC CRYPTO22257; § 23 Abs. 3 EStG; ITAA 1997 s116-20; CRA barter rule); the
acquisition's cost = value received (US) or value given (UK TCGA92 s38(1)(a); DE § 6 Abs. 6 EStG; AU
ITAA 1997 s110-25(2); CA IT-490). Amounts in USD for every country (``currency="USD"``, allowances not
applied) so one set of hand figures serves all five.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from taxreport.gains import compute_gains_from_events
from taxreport.model.events import Trade
from taxreport.model.money import quantize_money
from taxreport.prices.rates import RateTable

D = Decimal
YEARS = {"us": "2024", "uk": "2024-25", "de": "2024", "au": "2024-25", "ca": "2024"}
GIVEN_RULE = ("uk", "de", "au", "ca")  # cost of what is acquired = value given


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def trade(when: str, side: str, base: str, quote: str, qty: str, price: str, tid: str, fee: str = "0",
          fee_asset: str | None = None) -> Trade:
    return Trade(time=at(when), source="t", external_id=tid, account="okx:main", side=side, base=base, quote=quote,
                 quantity=D(qty), price=D(price), fee=D(fee), fee_asset=fee_asset)


SWAP_DAY = "2024-08-01T15:00:00"
RATES = RateTable.from_rows([(a, "USD", at("2024-08-01T00:00:00"), D(v), "t")
                             for a, v in (("BTC", 60000), ("ETH", 2950), ("OKB", 40), ("USDT", 1))])
OPEN = [trade("2023-01-10T15:00:00", "buy", "BTC", "USD", "1.1", "30000", "o1"),  # $30,000 per BTC
        trade("2023-01-10T15:00:00", "buy", "OKB", "USD", "1", "30", "o2")]  # $30 per OKB


def swap(written: str, fee: str, fee_asset: str | None) -> Trade:
    """1 BTC given for 20 ETH received, written as a sale of BTC/ETH or as a purchase of ETH/BTC."""
    if written == "BTC/ETH":
        return trade(SWAP_DAY, "sell", "BTC", "ETH", "1", "20", "s", fee, fee_asset)
    return trade(SWAP_DAY, "buy", "ETH", "BTC", "20", "0.05", "s", fee, fee_asset)


# (fee, fee asset, ETH left to sell, {rule: expected net gain of the year}), by hand:
#
# fee 0.01 BTC (the asset given): the sale of BTC gives 1.01 BTC for 20 ETH. BTC proceeds = value of
#   20 ETH = 20 x 2,950 = 59,000; cost 1.01 x 30,000 = 30,300 -> +28,700. ETH cost: value received
#   59,000 (US) or value given 1 BTC x 60,000 = 60,000 (others). 20 ETH sold at 3,050 = 61,000 ->
#   +2,000 (US) / +1,000. Year: 30,700 (US) / 29,700.
# fee 0.2 ETH (the asset received): BTC proceeds 59,000 less the fee 0.2 x 2,950 = 590 -> 58,410; cost
#   30,000 -> +28,410. 19.8 ETH received, cost 59,000 - 590 = 58,410 (US) or 60,000 - 590 = 59,410;
#   sold 19.8 x 3,050 = 60,390 -> +1,980 (US) / +980. Year: 30,390 (US) / 29,390.
# fee 0.5 OKB (a third asset, $40): BTC proceeds 59,000 - 20 = 58,980, cost 30,000 -> +28,980; the OKB
#   fee is a disposal of 0.5 OKB for 20, cost 15 -> +5; ETH as with no fee: +2,000 (US) / +1,000.
#   Year: 30,985 (US) / 29,985.
CASES = [("0.01", "BTC", "20", {"us": D(30700), "given": D(29700)}),
         ("0.2", "ETH", "19.8", {"us": D(30390), "given": D(29390)}),
         ("0.5", "OKB", "20", {"us": D(30985), "given": D(29985)})]


def _disposals(summary) -> list[tuple]:  # noqa: ANN001
    return [(d.asset, d.role, d.quantity, quantize_money(d.proceeds), quantize_money(d.cost), quantize_money(d.gain))
            for d in summary.disposals]


@pytest.mark.parametrize("country", list(YEARS))
@pytest.mark.parametrize("fee, fee_asset, eth_left, expected", CASES)
def test_a_fee_in_either_leg_or_a_third_asset_gives_the_same_gains_whichever_way_the_pair_is_written(
        country, fee, fee_asset, eth_left, expected):
    close = trade("2024-09-02T15:00:00", "sell", "ETH", "USD", eth_left, "3050", "c")
    results = []
    for written in ("BTC/ETH", "ETH/BTC"):
        s = compute_gains_from_events([*OPEN, swap(written, fee, fee_asset), close], RATES, jurisdiction=country,
                                      year=YEARS[country], currency="USD")
        results.append((_disposals(s), s.gain))
    assert results[0] == results[1]
    assert results[0][1] == expected["us" if country == "us" else "given"]


def test_the_btc_leg_by_hand_in_the_us_and_the_uk():
    # fee 0.2 ETH: BTC proceeds 58,410 (59,000 - 590), cost 30,000 (US FIFO) / 1/1.1 of the s104 pool
    # 33,000 = 30,000 (UK); ETH cost 58,410 (US, value received) / 59,410 (UK, value given).
    close = trade("2024-09-02T15:00:00", "sell", "ETH", "USD", "19.8", "3050", "c")
    for written in ("BTC/ETH", "ETH/BTC"):
        us = compute_gains_from_events([*OPEN, swap(written, "0.2", "ETH"), close], RATES, jurisdiction="us",
                                       year="2024")
        assert [(d.asset, d.proceeds, d.cost) for d in us.disposals] == [("BTC", D(58410), D(30000)),
                                                                         ("ETH", D(60390), D(58410))]
        uk = compute_gains_from_events([*OPEN, swap(written, "0.2", "ETH"), close], RATES, jurisdiction="uk",
                                       year="2024-25", currency="USD")
        assert [(d.asset, quantize_money(d.proceeds), quantize_money(d.cost)) for d in uk.disposals] == [
            ("BTC", D("58410.00"), D("30000.00")), ("ETH", D("60390.00"), D("59410.00"))]


# A purchase with a stablecoin: 5,000 USDT (bought for $5,000 in January) given for 0.1 BTC at 50,000
# USDT/BTC (BTC $50,000, USDT $1 that day), written BTC/USDT bought or USDT/BTC sold (price 0.00002).
STABLE_RATES = RateTable.from_rows([("BTC", "USD", at("2024-08-01T00:00:00"), D(50000), "t"),
                                    ("USDT", "USD", at("2024-08-01T00:00:00"), D(1), "t")])


def stable_swap(written: str, fee: str, fee_asset: str) -> Trade:
    if written == "BTC/USDT":
        return trade(SWAP_DAY, "buy", "BTC", "USDT", "0.1", "50000", "s", fee, fee_asset)
    return trade(SWAP_DAY, "sell", "USDT", "BTC", "5000", "0.00002", "s", fee, fee_asset)


# fee 0.0001 BTC (received): 0.0999 BTC costing 5,000 (fee capitalised); USDT disposal 5,000 for 5,000
#   -> 0; BTC sold at 55,000: 5,494.50 - 5,000 = +494.50.
# fee 5 USDT (given): 5,005 USDT disposed for 5,000 + 5 = 5,005, cost 5,005 -> 0; BTC cost 5,000 + 5 =
#   5,005; sold 0.1 x 55,000 = 5,500 -> +495.
@pytest.mark.parametrize("country", list(YEARS))
@pytest.mark.parametrize("fee, fee_asset, btc_left, expected", [("0.0001", "BTC", "0.0999", D("494.5")),
                                                                ("5", "USDT", "0.1", D(495))])
def test_a_purchase_with_a_stablecoin_is_the_same_both_ways(country, fee, fee_asset, btc_left, expected):
    events = [trade("2024-01-10T15:00:00", "buy", "USDT", "USD", "10000", "1", "u")]
    close = trade("2024-09-02T15:00:00", "sell", "BTC", "USD", btc_left, "55000", "c")
    results = []
    for written in ("BTC/USDT", "USDT/BTC"):
        s = compute_gains_from_events([*events, stable_swap(written, fee, fee_asset), close], STABLE_RATES,
                                      jurisdiction=country, year=YEARS[country], currency="USD")
        results.append((_disposals(s), s.gain))
    assert results[0] == results[1]
    assert results[0][1] == expected
