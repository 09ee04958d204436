"""Domain model: Decimal exactness, validation, the legs a trade implies, payload round trips."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from taxreport.model import D, Deposit, Income, Record, Trade, Transfer, Withdrawal, event_from_payload
from taxreport.model.legs import LegKind, balances_of, legs_of
from taxreport.model.money import decimal_str, money_str, parse_decimal

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


def trade(**kw):
    base = dict(time=T0, source="test", external_id="1", account="okx:main", side="buy", base="BTC",
                quote="USDT", quantity=D("0.5"), price=D("60000"))
    base.update(kw)
    return Trade(**base)


def test_decimal_exactness_point_one_plus_point_two():
    # With floats 0.1 + 0.2 == 0.30000000000000004; our amounts must be exactly 0.3.
    assert parse_decimal("0.1") + parse_decimal("0.2") == Decimal("0.3")
    assert decimal_str(parse_decimal("0E-8")) == "0"
    assert decimal_str(parse_decimal("1.2300")) == "1.23"


def test_floats_and_garbage_are_refused():
    with pytest.raises(ValueError, match="float"):
        parse_decimal(0.1)
    for bad in ("", "abc", "1,5", "NaN", "Infinity"):
        with pytest.raises(ValueError):
            parse_decimal(bad)


def test_money_rounds_half_up_to_the_cent_only_when_presented():
    assert money_str(D("2.345")) == "2.35"
    assert money_str(D("-2.345")) == "-2.35"
    assert money_str(D("2.344999")) == "2.34"


def test_naive_times_are_refused_and_offsets_normalised():
    with pytest.raises(ValueError, match="time zone"):
        trade(time=datetime(2024, 3, 1, 12, 0))
    t = trade(time=datetime(2024, 3, 1, 20, 0, tzinfo=timezone(timedelta(hours=8))))
    assert t.time == T0


def test_buy_with_fee_in_base_acquires_net_quantity():
    # OKX T4 sample: buy 0.06436375 BTC at 95264.8 EUR, fee 0.00016091 BTC.
    # EUR given = 0.06436375 * 95264.8 = 6131.599771 ; BTC received = 0.06436375 - 0.00016091 = 0.06420284
    t = trade(base="BTC", quote="EUR", quantity=D("0.06436375"), price=D("95264.8"), fee=D("0.00016091"),
              fee_asset="BTC")
    dispose, acquire = list(legs_of([t]))
    assert (dispose.kind, dispose.asset, dispose.quantity) == (LegKind.DISPOSE, "EUR", D("6131.599771"))
    assert (acquire.kind, acquire.asset, acquire.quantity) == (LegKind.ACQUIRE, "BTC", D("0.06420284"))
    assert acquire.value_quantity == D("6131.599771") and acquire.fee_quantity == 0


def test_sell_with_fee_in_quote_reduces_proceeds_once():
    # OKX T3 sample: sell 0.02378815 BTC at 30200 USDT, fee 0.5747217 USDT.
    # gross = 0.02378815 * 30200 = 718.402130 ; USDT received = 718.40213 - 0.5747217 = 717.8274083
    t = trade(side="sell", quantity=D("0.02378815"), price=D("30200"), fee=D("0.5747217"), fee_asset="USDT")
    dispose, acquire = list(legs_of([t]))
    assert (dispose.asset, dispose.quantity, dispose.value_quantity) == ("BTC", D("0.02378815"), D("718.40213"))
    assert (dispose.fee_asset, dispose.fee_quantity) == ("USDT", D("0.5747217"))
    assert (acquire.asset, acquire.quantity, acquire.value_quantity) == ("USDT", D("717.8274083"), D("717.8274083"))
    assert acquire.fee_quantity == 0


def test_fee_in_third_asset_is_its_own_disposal():
    t = trade(fee=D("0.02"), fee_asset="OKB")
    legs = list(legs_of([t]))
    assert [(leg.kind, leg.asset, leg.quantity, leg.role) for leg in legs] == [
        (LegKind.DISPOSE, "USDT", D("30000.0"), "trade"),
        (LegKind.ACQUIRE, "BTC", D("0.5"), "trade"),
        (LegKind.DISPOSE, "OKB", D("0.02"), "fee"),
    ]
    assert (legs[1].fee_asset, legs[1].fee_quantity) == ("OKB", D("0.02"))


def test_transfer_moves_and_its_fee_is_a_disposal():
    t = Transfer(time=T0, source="test", external_id="x", from_account="okx:main", to_account="ledger:cold",
                 asset="BTC", quantity=D("1"), fee=D("0.0005"))
    legs = list(legs_of([t]))
    assert [(leg.kind, leg.account, leg.quantity) for leg in legs] == [
        (LegKind.MOVE_OUT, "okx:main", D("0.9995")),
        (LegKind.MOVE_IN, "ledger:cold", D("0.9995")),
        (LegKind.DISPOSE, "okx:main", D("0.0005")),
    ]


def test_balances_over_several_kinds():
    events = [
        Deposit(time=T0, source="t", external_id="d", account="a", asset="USDT", quantity=D("1000")),
        trade(account="a", quantity=D("0.01"), price=D("60000"), fee=D("0.00001"), fee_asset="BTC"),
        Income(time=T0, source="t", external_id="i", account="a", asset="BTC", quantity=D("0.0001"),
               income_type="staking"),
        Withdrawal(time=T0, source="t", external_id="w", account="a", asset="USDT", quantity=D("100"),
                   fee=D("1")),
    ]
    # USDT: 1000 - 600 - 100 - 1 = 299 ; BTC: 0.01 - 0.00001 + 0.0001 = 0.01009
    assert balances_of(events) == {("a", "BTC"): D("0.01009"), ("a", "USDT"): D("299")}


@pytest.mark.parametrize("event", [
    trade(fee=D("-0.1"), fee_asset="USDT", order_id="o1", note="maker rebate"),
    Record(time=T0, source="paper", record_type="order.intent", data={"amount": D("1.5"), "legs": [1, 2]}),
    Deposit(time=T0, source="t", account="a", asset="ETH", quantity=D("2"), cost=D("3000"),
            cost_currency="USD", acquired_at=T0 - timedelta(days=400)),
])
def test_payload_round_trip_is_exact(event):
    assert event_from_payload(event.to_payload()) == event


def test_natural_key_uses_id_or_content():
    assert trade().natural_key == "trade:test:1"
    a, b = trade(external_id=None), trade(external_id=None)
    assert a.natural_key == b.natural_key and "sha256" in a.natural_key
    assert trade(external_id=None, price=D("60001")).natural_key != a.natural_key


def test_fiat_base_pair_values_the_crypto_leg_at_the_fiat_amount():
    # BUY 1000 USD with USDT at 1.0 (pair USD/USDT), fee 2 USD: the USDT disposal's proceeds are the
    # cash received, 1000 USD, less the 2 USD fee = 998 USD, whatever USDT's market value that day.
    t = trade(base="USD", quote="USDT", quantity=D("1000"), price=D("1"), fee=D("2"), fee_asset="USD")
    dispose, acquire = list(legs_of([t]))
    assert (dispose.asset, dispose.quantity, dispose.value_asset, dispose.value_quantity) == ("USDT", D("1000"), "USD", D("1000"))
    assert (dispose.fee_asset, dispose.fee_quantity) == ("USD", D("2"))
    assert (acquire.asset, acquire.quantity) == ("USD", D("998"))
    # SELL 500 EUR for USDC at 1.08 (pair EUR/USDC), fee 0.54 USDC: 540 - 0.54 = 539.46 USDC acquired
    # at a cost of exactly the 500 EUR paid.
    s = trade(side="sell", base="EUR", quote="USDC", quantity=D("500"), price=D("1.08"), fee=D("0.54"),
              fee_asset="USDC")
    dispose, acquire = list(legs_of([s]))
    assert (dispose.asset, dispose.quantity) == ("EUR", D("500"))
    assert (acquire.asset, acquire.quantity, acquire.value_asset, acquire.value_quantity) == ("USDC", D("539.46"), "EUR", D("500"))
    assert acquire.fee_quantity == 0
