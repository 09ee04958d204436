"""Lot matching and valuation: hand-computed worked examples (arithmetic in the comments)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from taxreport.errors import MissingDataError
from taxreport.lots.matching import match_lots
from taxreport.lots.types import Acquisition, Disposal, Move
from taxreport.lots.valuation import value_legs
from taxreport.model.events import Deposit, Trade, Transfer, Withdrawal
from taxreport.model.legs import legs_of
from taxreport.prices.rates import Pricer, RateTable

D = Decimal
UTC = timezone.utc


def t(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def buy(day, qty, cost, account="A", key=None, asset="BTC"):  # noqa: ANN001, ANN201
    return Acquisition(t(day), account, asset, D(qty), D(cost), key or f"buy-{day}-{account}", 1)


def sell(day, qty, proceeds, account="A", fee="0", key=None, asset="BTC"):  # noqa: ANN001, ANN201
    return Disposal(t(day), account, asset, D(qty), D(proceeds), D(fee), key or f"sell-{day}-{account}", 0)


THREE_LOTS = [buy("2024-01-01", "1", "101"), buy("2024-02-01", "1", "202"), buy("2024-03-01", "1", "303"),
              sell("2024-04-01", "2.5", "1000", fee="10")]


def test_fifo_disposal_spanning_three_lots():
    r = match_lots(THREE_LOTS, method="fifo")
    [md] = r.disposals
    # FIFO: 1 x 101 + 1 x 202 + 0.5 of 303 (= 151.5) -> cost 454.5; net proceeds 1000 - 10 = 990
    assert [(m.quantity, m.cost) for m in md.lots] == [(D(1), D(101)), (D(1), D(202)), (D("0.5"), D("151.5"))]
    assert md.cost == D("454.5")
    assert md.disposal.net_proceeds - md.cost == D("535.5")
    assert [m.lot_ref for m in md.lots] == ["buy-2024-01-01-A#1", "buy-2024-02-01-A#1", "buy-2024-03-01-A#1"]
    assert [m.acquired_at for m in md.lots] == [t("2024-01-01"), t("2024-02-01"), t("2024-03-01")]
    # what is left: 0.5 of the March lot, 303 - 151.5 = 151.5
    [left] = r.open_lots
    assert (left.quantity, left.cost, left.acquired_at) == (D("0.5"), D("151.5"), t("2024-03-01"))


def test_lifo():
    [md] = match_lots(THREE_LOTS, method="lifo").disposals
    # LIFO: 303 + 202 + 0.5 x 101 (= 50.5) = 555.5
    assert [m.cost for m in md.lots] == [D(303), D(202), D("50.5")]
    assert md.cost == D("555.5")


def test_average_cost():
    r = match_lots(THREE_LOTS, method="average")
    # pool: 3 BTC cost 101 + 202 + 303 = 606, 202 per unit; 2.5 x 202 = 505, 0.5 left at 101
    assert r.disposals[0].cost == D(505)
    assert [(o.quantity, o.cost) for o in r.open_lots] == [(D("0.5"), D(101))]


def test_hifo_chooses_across_accounts_only_when_universal():
    movements = [buy("2024-01-01", "1", "100", "A"), buy("2024-02-01", "1", "300", "B"),
                 buy("2024-03-01", "1", "200", "A"), sell("2024-04-01", "1", "250", "A")]
    # universal pool: the highest unit cost is B's 300 lot -> gain 250 - 300 = -50
    [md] = match_lots(movements, method="hifo", scope="universal").disposals
    assert [(m.cost, m.account) for m in md.lots] == [(D(300), "B")]
    # per account (default): only A's lots 100 and 200 -> the 200 lot -> gain 250 - 200 = 50
    [md] = match_lots(movements, method="hifo").disposals
    assert [(m.cost, m.account) for m in md.lots] == [(D(200), "A")]


def test_hifo_partial_then_next_highest():
    movements = [buy("2024-01-01", "2", "100"), buy("2024-01-02", "1", "90"), buy("2024-01-03", "1", "40"),
                 sell("2024-02-01", "1.5", "150"), sell("2024-02-02", "1", "100")]
    a, b = match_lots(movements, method="hifo").disposals
    # unit costs: 50, 90, 40. First sale 1.5: 1 x 90 + 0.5 x 50 = 115. Second: 1 x 50 (still highest) = 50
    assert [m.cost for m in a.lots] == [D(90), D(25)]
    assert [m.cost for m in b.lots] == [D(50)]


def test_specific_identification_named_lots_then_fifo_for_the_rest():
    movements = THREE_LOTS[:3] + [sell("2024-04-01", "1.5", "600", key="s1"), sell("2024-05-01", "0.5", "200", key="s2")]
    selections = {"s1#0": [("buy-2024-03-01-A#1", D("0.5")), ("buy-2024-01-01-A#1", None)]}
    r = match_lots(movements, method="specific", selections=selections)
    s1, s2 = r.disposals
    # s1: 0.5 of the March lot (0.5 x 303 = 151.5) + 1 of the January lot (101) = 252.5
    assert [(m.lot_ref, m.quantity, m.cost, m.rule) for m in s1.lots] == [
        ("buy-2024-03-01-A#1", D("0.5"), D("151.5"), "specific"), ("buy-2024-01-01-A#1", D(1), D(101), "specific")]
    # s2 is not named: FIFO -> earliest remaining is February: 0.5 x 202 = 101
    assert [(m.lot_ref, m.cost, m.rule) for m in s2.lots] == [("buy-2024-02-01-A#1", D(101), "fifo")]
    assert "specific identification: 1 disposal(s) had no named lots and were matched FIFO: BTC 1" in r.notes


def test_specific_identification_errors_are_named():
    movements = THREE_LOTS[:1] + [sell("2024-04-01", "1.5", "600", key="s1")]
    with pytest.raises(MissingDataError) as err:
        match_lots(movements, method="specific", selections={"s1#0": [("buy-2024-01-01-A#1", D("1.5"))],
                                                            "nope#0": [("x#1", None)]})
    assert "lot buy-2024-01-01-A#1 has only 1 BTC left in A (asked for 1.5)" in str(err.value)
    assert "names disposal nope#0, which is not in the ledger" in str(err.value)


def test_transfer_keeps_date_and_cost_and_moves_fifo():
    movements = [buy("2023-01-10", "1", "100", "A"), buy("2023-02-10", "1", "150", "A"),
                 Move(t("2023-06-01"), "BTC", D("1.5"), "A", "B", "tr", 0),
                 sell("2024-01-11", "1.5", "900", "B")]
    r = match_lots(movements, method="lifo")
    [md] = r.disposals
    # the move takes FIFO from A: 1 of the January lot (100) + 0.5 of February (75); B's LIFO sale then
    # takes the latest-acquired first: 0.5 Feb (75), 1 Jan (100), original dates kept
    assert [(m.quantity, m.cost, m.acquired_at, m.account) for m in md.lots] == [
        (D("0.5"), D(75), t("2023-02-10"), "B"), (D(1), D(100), t("2023-01-10"), "B")]
    assert [(o.account, o.quantity, o.cost) for o in r.open_lots] == [("A", D("0.5"), D(75))]


def test_withdrawal_to_own_wallet_then_deposit_without_basis():
    movements = [buy("2024-01-01", "1", "100", "A"), Move(t("2024-02-01"), "BTC", D(1), "A", None, "w", 0),
                 Move(t("2024-03-01"), "BTC", D("0.4"), None, "B", "d", 0), sell("2024-04-01", "0.4", "80", "B")]
    r = match_lots(movements)
    # the deposit draws 0.4 of the withdrawn lot: cost 0.4 x 100 = 40, date 1 Jan kept
    assert [(m.cost, m.acquired_at) for m in r.disposals[0].lots] == [(D(40), t("2024-01-01"))]
    assert [(o.extra["pool"], o.quantity, o.cost) for o in r.open_lots] == [("<outside>", D("0.6"), D(60))]


def test_selling_more_than_held_names_every_shortfall():
    movements = [buy("2024-01-01", "1", "100"), sell("2024-02-01", "1.5", "300", key="s1"),
                 sell("2024-03-01", "0.25", "50", key="s2", asset="ETH"),
                 Move(t("2024-03-02"), "SOL", D(3), None, "A", "dep", 0)]
    with pytest.raises(MissingDataError) as err:
        match_lots(movements)
    text = str(err.value)
    assert text.startswith("3 lot matching problem(s)")
    assert "disposal s1#0 at 2024-02-01T12:00:00+00:00 in A (1.5 BTC): short by 0.5 BTC" in text
    assert "disposal s2#0" in text and "short by 0.25 ETH" in text
    assert "deposit dep#0 without cost basis into A" in text and "short by 3 SOL" in text


def test_zero_cost_basis_only_for_the_named_asset():
    movements = [buy("2024-01-01", "1", "100"), sell("2024-02-01", "1.5", "300")]
    r = match_lots(movements, zero_cost_assets=["BTC"])
    [md] = r.disposals
    # 1 BTC at 100 + 0.5 BTC at zero cost dated at the sale
    assert [(m.quantity, m.cost, m.rule, m.acquired_at) for m in md.lots] == [
        (D(1), D(100), "fifo", t("2024-01-01")), (D("0.5"), D(0), "zero-cost", t("2024-02-01"))]
    assert any("zero cost basis assumed, as asked, for 0.5 BTC" in n for n in r.notes)
    with pytest.raises(MissingDataError):
        match_lots(movements, zero_cost_assets=["ETH"])


# --- valuation from ledger events ------------------------------------------------------------

def trade(day, side, base, quote, qty, price, fee="0", fee_asset=None, account="okx:main", tid=None):  # noqa: ANN001, ANN201
    return Trade(time=t(day), source="test", external_id=tid or f"{day}-{side}-{base}", account=account, side=side,
                 base=base, quote=quote, quantity=D(qty), price=D(price), fee=D(fee), fee_asset=fee_asset)


def test_valuation_fees_fiat_legs_and_third_asset_fee():
    rates = RateTable.from_rows([("USDT", "USD", t("2024-01-01", 0), D("1.001"), "x"),
                                 ("OKB", "USD", t("2024-01-01", 0), D("50"), "x")])
    events = [
        trade("2024-01-01", "buy", "BTC", "USD", "0.5", "40000", "20", "USD", tid="1"),
        trade("2024-01-01", "sell", "BTC", "USDT", "0.1", "42000", "0.02", "OKB", tid="2"),
    ]
    p = Pricer(rates, "USD")
    ms = value_legs(legs_of(events), p)
    p.raise_if_missing()
    # trade 1: the USD leg is skipped (fiat); BTC cost = 0.5 x 40000 + 20 fee = 20020
    assert ms[0] == Acquisition(t("2024-01-01"), "okx:main", "BTC", D("0.5"), D("20020"), "trade:test:1", 1)
    # trade 2: BTC disposal proceeds 4200 USDT x 1.001 = 4204.2, fee 0.02 OKB x 50 = 1;
    # USDT acquired (cost 4204.2); the OKB fee is itself a disposal at market value 1
    d, usdt, okb = ms[1:]
    assert (d.asset, d.proceeds, d.fee, d.net_proceeds) == ("BTC", D("4204.2"), D("1"), D("4203.2"))
    assert (usdt.asset, usdt.quantity, usdt.cost) == ("USDT", D("4200"), D("4204.2"))
    assert (okb.asset, okb.role, okb.proceeds, okb.fee) == ("OKB", "fee", D("1"), D(0))


def test_valuation_transfers_withdrawals_and_deposits():
    ev = [Transfer(time=t("2024-01-02"), source="test", external_id="tr", from_account="a", to_account="b",
                   asset="BTC", quantity=D(1), fee=D("0.001")),
          Withdrawal(time=t("2024-01-03"), source="test", external_id="w", account="b", asset="BTC", quantity=D("0.5")),
          Deposit(time=t("2024-01-04"), source="test", external_id="d1", account="b", asset="BTC", quantity=D("0.2")),
          Deposit(time=t("2024-01-05"), source="test", external_id="d2", account="b", asset="ETH", quantity=D(2),
                  cost=D(3000), cost_currency="USD", acquired_at=t("2022-05-05"))]
    rates = RateTable.from_rows([("BTC", "USD", t("2024-01-02", 0), D("40000"), "x")])
    ms = value_legs(legs_of(ev), Pricer(rates, "USD"))
    # transfer: one move of 0.999 (the fee 0.001 BTC is a disposal worth 40)
    assert ms[0] == Move(t("2024-01-02"), "BTC", D("0.999"), "a", "b", "transfer:test:tr", 0)
    assert (ms[1].role, ms[1].quantity, ms[1].proceeds) == ("fee", D("0.001"), D("40.000"))
    assert ms[2] == Move(t("2024-01-03"), "BTC", D("0.5"), "b", None, "withdrawal:test:w", 0)
    assert ms[3] == Move(t("2024-01-04"), "BTC", D("0.2"), None, "b", "deposit:test:d1", 0)
    assert (ms[4].cost, ms[4].date_acquired, ms[4].role) == (D(3000), t("2022-05-05"), "deposit")


def test_lot_with_earlier_original_date_is_first_in_fifo():
    # a deposit (7 Mar) of coins originally bought 1 Jan, 200 cost, arrives after a 1 Feb purchase:
    # FIFO orders by date acquired, so the sale takes the deposited lot first
    deposit = Acquisition(t("2024-03-07"), "A", "BTC", D(1), D(200), "dep", 0, "deposit", t("2024-01-01"))
    movements = [buy("2024-02-01", "1", "300"), deposit, sell("2024-04-01", "1.5", "900")]
    [md] = match_lots(movements).disposals
    # 1 x 200 (acquired 1 Jan) + 0.5 x 300 = 350
    assert [(m.acquired_at, m.cost) for m in md.lots] == [(t("2024-01-01"), D(200)), (t("2024-02-01"), D(150))]


def test_universal_until_allocates_oldest_lots_to_accounts_alphabetically():
    until = t("2025-01-01", 5)
    movements = [buy("2024-01-01", "1", "100", "okx"), buy("2024-02-01", "1", "200", "kraken"),
                 buy("2024-03-01", "1", "300", "okx"),
                 # universal FIFO: this kraken sale takes the oldest lot overall (okx's 100)
                 sell("2024-06-01", "1", "250", "kraken"),
                 # after the transition each account keeps its own lots
                 sell("2025-02-01", "1", "400", "okx")]
    r = match_lots(movements, scope="universal", universal_until=until)
    first, second = r.disposals
    assert [(m.cost, m.account) for m in first.lots] == [(D(100), "okx")]
    # at 1 Jan 2025 the pool holds the 200 and 300 lots; balances: kraken 0 (bought 1, sold 1), okx 2;
    # oldest first to accounts in alphabetical order: kraken gets nothing, okx gets 200 and 300;
    # the okx sale (FIFO) takes 200
    assert [(m.cost, m.account) for m in second.lots] == [(D(200), "okx")]
    assert [(o.account, o.cost) for o in r.open_lots] == [("okx", D(300))]
    assert any("universal lot pool until" in n for n in r.notes)


def test_universal_until_kraken_holds_units():
    until = t("2025-01-01", 5)
    movements = [buy("2024-01-01", "1", "100", "okx"), buy("2024-02-01", "1", "200", "kraken"),
                 buy("2024-03-01", "1", "300", "okx"), sell("2024-06-01", "1", "250", "okx"),
                 sell("2025-02-01", "1", "400", "kraken")]
    r = match_lots(movements, scope="universal", universal_until=until)
    # universal FIFO: okx's sale takes the 100 lot; pool left: 200 (Feb), 300 (Mar);
    # balances kraken 1, okx 1 -> kraken (alphabetically first) gets the oldest, 200; okx gets 300
    assert [(m.cost, m.account) for m in r.disposals[1].lots] == [(D(200), "kraken")]
    assert [(o.account, o.cost) for o in r.open_lots] == [("okx", D(300))]


def test_specific_identification_over_naming_is_an_error():
    movements = THREE_LOTS[:3] + [sell("2024-04-01", "1", "600", key="s1")]
    with pytest.raises(MissingDataError, match="the named lots add up to more than it"):
        match_lots(movements, method="specific", selections={
            "s1#0": [("buy-2024-01-01-A#1", D("0.6")), ("buy-2024-02-01-A#1", D("0.6"))]})
    with pytest.raises(MissingDataError, match="lot nope#1 has only 0 BTC left in A"):
        match_lots(movements, method="specific", selections={"s1#0": [("nope#1", None)]})
