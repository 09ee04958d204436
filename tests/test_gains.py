"""compute_gains over a real ledger: reversals, rates from the store, account filter, missing rates."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from taxreport.errors import MissingDataError
from taxreport.gains import compute_gains, compute_gains_from_events
from taxreport.jurisdictions.summary import summarise, totals
from taxreport.jurisdictions.us import UsBreakdown
from taxreport.model.events import Reversal, Trade, Transfer
from taxreport.prices.rates import RateTable
from taxreport.prices.store import RateRow, write_rates

D = Decimal
UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def trade(when, side, base, quote, qty, price, tid, account="okx:main", fee="0", fee_asset=None):  # noqa: ANN001, ANN201
    return Trade(time=at(when), source="t", external_id=tid, account=account, side=side, base=base, quote=quote,
                 quantity=D(qty), price=D(price), fee=D(fee), fee_asset=fee_asset)


EVENTS = [
    trade("2024-01-01T12:00:00", "buy", "USDT", "USD", "40000", "1", "u1"),  # USDT has lots too
    trade("2024-01-02T12:00:00", "buy", "BTC", "USDT", "1", "40000", "b1", fee="0.001", fee_asset="BTC"),
    trade("2024-03-04T12:00:00", "sell", "BTC", "USDT", "0.5", "60000", "s1", fee="30", fee_asset="USDT"),
]


def test_usdt_needs_a_rate_or_an_explicit_peg():
    with pytest.raises(MissingDataError) as err:
        compute_gains_from_events(EVENTS, RateTable(), jurisdiction="us", year="2024")
    assert "USDT->USD on 2024-01-02" in str(err.value) and "USDT->USD on 2024-03-04" in str(err.value)
    s = compute_gains_from_events(EVENTS, RateTable(), jurisdiction="us", year="2024", options={"peg": {"USDT": "USD"}})
    # buy: 40000 USDT for 1 BTC, fee 0.001 BTC -> 0.999 BTC costing 40000 (fee capitalised)
    # sell 0.5 BTC: 30000 USDT - 30 fee = 29970 proceeds; cost 0.5/0.999 x 40000 = 20020.02002…
    [d] = [x for x in s.disposals if x.asset == "BTC"]
    assert d.proceeds == D(29970)
    assert d.cost.quantize(D("0.00001")) == D("20020.02002")
    assert "assumed peg (asked for by the user): 1 USDT = 1 USD" in s.notes


def test_ledger_rates_reversals_and_accounts(ledger):
    ledger.append(EVENTS + [
        trade("2024-01-05T12:00:00", "buy", "ETH", "USD", "2", "2000", "e1", account="kraken:main"),
        trade("2024-02-05T12:00:00", "sell", "ETH", "USD", "1", "2500", "e2", account="kraken:main"),
        trade("2024-02-06T12:00:00", "sell", "ETH", "USD", "1", "9999", "typo", account="kraken:main"),
    ], actor="manual:test", reason="test")
    ledger.append([Reversal(time=at("2024-02-07T00:00:00"), source="t", external_id="r1",
                            target_key="trade:t:typo", reason="wrong price")], actor="manual:test", reason="fix")
    write_rates(ledger, [RateRow("USDT", "USD", at(day), D("0.999"), "test")
                         for day in ("2024-01-02T00:00:00", "2024-03-04T00:00:00")])
    s = compute_gains(ledger, jurisdiction="us", year="2024")
    eth = [d for d in s.disposals if d.asset == "ETH"]
    assert [d.gain for d in eth] == [D(500)]  # 2500 - 2000; the reversed sale is gone
    btc = [d for d in s.disposals if d.asset == "BTC"]
    # proceeds (30000 - 30) x 0.999 = 29940.03; cost 0.5/0.999 x (40000 x 0.999 = 39960) = 20000
    assert btc[0].proceeds == D("29940.03") and btc[0].cost == D(20000)
    assert any("USDT/USD from test" in n for n in s.notes)
    only = compute_gains(ledger, jurisdiction="us", year="2024", accounts=["kraken:main"])
    assert [d.account for d in only.disposals] == ["kraken:main"] and only.gain == D(500)


def test_transfer_between_accounts_keeps_basis_through_gains():
    events = [trade("2023-01-10T17:00:00", "buy", "BTC", "USD", "1", "20000", "b", account="kraken:main"),
              Transfer(time=at("2023-06-01T00:00:00"), source="t", external_id="tr", from_account="kraken:main",
                       to_account="okx:main", asset="BTC", quantity=D(1)),
              trade("2024-02-01T17:00:00", "sell", "BTC", "USD", "1", "43000", "s", account="okx:main")]
    s = compute_gains_from_events(events, RateTable(), jurisdiction="us", year="2024", accounts=["okx:main"])
    [d] = s.disposals
    # cost 20000 and acquisition date 10 Jan 2023 travel with the coin: held > 1 year -> long, gain 23000
    assert (d.cost, d.term, d.gain, d.lots[0].acquired_at) == (D(20000), "long", D(23000), at("2023-01-10T17:00:00"))


def test_only_the_tax_year_needs_rates():
    # a 2025 trade in EUR needs no EUR->USD rate for the 2024 report
    events = [trade("2024-01-02T17:00:00", "buy", "BTC", "USD", "1", "100", "b"),
              trade("2024-05-02T17:00:00", "sell", "BTC", "USD", "0.5", "300", "s"),
              trade("2025-03-02T17:00:00", "sell", "BTC", "EUR", "0.5", "300", "s2")]
    assert compute_gains_from_events(events, RateTable(), jurisdiction="us", year="2024").gain == D(100)
    with pytest.raises(MissingDataError, match="EUR->USD on 2025-03-02"):
        compute_gains_from_events(events, RateTable(), jurisdiction="us", year="2025")


def test_summary_helper_arithmetic():
    from taxreport.jurisdictions.base import DisposalResult

    rows = [DisposalResult(at("2024-01-01T00:00:00"), "a", "BTC", D(1), D(100), D(60), D(40), (), "fifo"),
            DisposalResult(at("2024-01-02T00:00:00"), "a", "BTC", D(1), D(50), D("75.5"), D("-25.5"), (), "fifo")]
    # proceeds 150, cost 135.5, gains 40, losses 25.5, net 14.5
    t = totals(rows)
    assert (t.proceeds, t.cost, t.gains, t.losses, t.gain, t.count) == (D(150), D("135.5"), D(40), D("25.5"), D("14.5"), 2)
    breakdown = UsBreakdown(short=t)
    s = summarise("xx", "USD", "fifo", "2024", at("2024-01-01T00:00:00"), at("2025-01-01T00:00:00"), rows,
                  D(0), D("14.5"), breakdown, [], ["n"])
    assert (s.gain, s.taxable_gain, s.breakdown, s.notes, len(s.disposals)) == (D("14.5"), D("14.5"), breakdown, ["n"], 2)


def test_unknown_account_is_an_error():
    from taxreport.errors import InputError

    with pytest.raises(InputError, match="no events in account.s. kraken:typo; known: okx:main"):
        compute_gains_from_events(EVENTS, RateTable(), jurisdiction="us", year="2024", accounts=["kraken:typo"])
