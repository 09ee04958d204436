"""Audit: crypto-to-crypto trades, a fee paid in a third asset, stablecoin lots, transfers between own
accounts (no disposal; lots keep dates and cost), per-account vs universal lots, --account.

IRS virtual-currency FAQ Q16 (an exchange of virtual currency for other property is a disposal at the
fair market value received), Q24-Q26 (basis = fair market value when received); Pub. 544 (selling
expenses reduce the amount realised). A fee paid in another token disposes of that token at its market
value (the same value is the selling expense). A transfer between one's own wallets is not a disposal.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.errors import InputError
from taxreport.gains import compute_gains_from_events
from test_tax_audit_helpers import rates, trade, transfer

D = Decimal


def test_crypto_to_crypto_with_fee_in_third_asset():
    ev = [
        trade("2024-01-05T15:00:00", "buy", "BTC", "USD", "1", "30000", "t1"),
        trade("2024-01-05T15:00:00", "buy", "BNB", "USD", "1", "300", "t2"),
        # sell 1 BTC for 15 ETH (price 15 ETH/BTC) paying 0.01 BNB.  ETH $3,800, BNB $600 that day.
        trade("2024-06-01T15:00:00", "sell", "BTC", "ETH", "1", "15", "t3", fee="0.01", fee_asset="BNB"),
        # ETH received: basis = its market value 15 x 3,800 = $57,000; sold for $60,000
        trade("2024-07-01T15:00:00", "sell", "ETH", "USD", "15", "4000", "t4"),
    ]
    table = rates(("ETH", "USD", "2024-06-01T00:00:00", "3800"), ("BNB", "USD", "2024-06-01T00:00:00", "600"))
    s = compute_gains_from_events(ev, table, jurisdiction="us", year="2024")
    by = {(d.asset, d.role): d for d in s.disposals}
    # BTC: proceeds = value received 57,000 - selling expense 0.01 x 600 = 6 -> 56,994; basis 30,000
    btc = by[("BTC", "trade")]
    assert (btc.proceeds, btc.cost, btc.gain) == (D(56994), D(30000), D(26994))
    # BNB fee: disposal of 0.01 BNB at $6, basis 0.01 x 300 = $3, gain $3
    bnb = by[("BNB", "fee")]
    assert (bnb.quantity, bnb.proceeds, bnb.cost, bnb.gain) == (D("0.01"), D(6), D(3), D(3))
    # ETH: 60,000 - 57,000 = 3,000 (same market value on both legs of the swap)
    eth = by[("ETH", "trade")]
    assert (eth.proceeds, eth.cost, eth.gain) == (D(60000), D(57000), D(3000))
    assert s.gain == D(29997)


def test_stablecoin_lots_are_disposed_of_at_market_value():
    # 10,000 USDT bought for $10,000; 5,000 USDT spent on 0.1 BTC when USDT = $0.998: USDT disposal
    # proceeds 5,000 x 0.998 = $4,990, basis $5,000 -> loss $10; BTC basis $4,990. (The IRS values both at
    # the FMV of the BTC received; no BTC rate is stored, so the USDT given values the swap, as noted.)
    ev = [trade("2024-02-01T15:00:00", "buy", "USDT", "USD", "10000", "1", "u1"),
          trade("2024-03-01T15:00:00", "buy", "BTC", "USDT", "0.1", "50000", "u2")]
    s = compute_gains_from_events(ev, rates(("USDT", "USD", "2024-03-01T00:00:00", "0.998")),
                                  jurisdiction="us", year="2024")
    [d] = s.disposals
    assert (d.asset, d.proceeds, d.cost, d.gain) == ("USDT", D(4990), D(5000), D(-10))
    [btc] = [lot for lot in s.open_lots if lot.asset == "BTC"]
    assert btc.cost == D(4990)


TRANSFER = [
    trade("2023-01-10T15:00:00", "buy", "BTC", "USD", "1", "20000", "m1", account="A"),
    # A -> B, 1 BTC with a 0.0001 BTC network fee: 0.9999 arrives; the fee is a disposal at market
    # value ($60,000/BTC -> $6), basis 0.0001 x 20,000 = $2, gain $4, long-term (lot of 10 Jan 2023).
    transfer("2024-03-01T15:00:00", "A", "B", "BTC", "1", "m2", fee="0.0001"),
    # B sells 0.9999 at $70,000 = $69,993; basis 0.9999 x 20,000 = $19,998 -> $49,995, long-term:
    # the lot kept its 10 Jan 2023 date and cost through the transfer.
    trade("2024-06-01T15:00:00", "sell", "BTC", "USD", "0.9999", "70000", "m3", account="B"),
]


def test_transfer_between_own_accounts_keeps_date_and_cost():
    s = compute_gains_from_events(TRANSFER, rates(("BTC", "USD", "2024-03-01T00:00:00", "60000")),
                                  jurisdiction="us", year="2024")
    got = sorted((d.account, d.role, d.term, d.proceeds, d.cost, d.gain) for d in s.disposals)
    assert got == [("A", "fee", "long", D(6), D(2), D(4)),
                   ("B", "trade", "long", D(69993), D(19998), D(49995))]
    assert s.breakdown.long.gain == D(49999)
    # --account B: only the sale in B
    sb = compute_gains_from_events(TRANSFER, rates(("BTC", "USD", "2024-03-01T00:00:00", "60000")),
                                   jurisdiction="us", year="2024", accounts=["B"])
    assert [(d.account, d.gain) for d in sb.disposals] == [("B", D(49995))]


POOLS = [
    trade("2023-05-01T15:00:00", "buy", "BTC", "USD", "1", "20000", "p1", account="A"),
    trade("2024-05-01T15:00:00", "buy", "BTC", "USD", "1", "40000", "p2", account="B"),
    trade("2024-06-01T15:00:00", "sell", "BTC", "USD", "1", "50000", "p3", account="B"),
]


def test_per_account_vs_universal_lots():
    # per account (default): B's sale uses B's own lot: 50,000 - 40,000 = 10,000 short
    s = compute_gains_from_events(POOLS, rates(), jurisdiction="us", year="2024")
    assert [(d.term, d.cost, d.gain) for d in s.disposals] == [("short", D(40000), D(10000))]
    # universal FIFO (before 2025): the oldest lot in any account, A's: 50,000 - 20,000 = 30,000 long
    u = compute_gains_from_events(POOLS, rates(), jurisdiction="us", year="2024", options={"scope": "universal"})
    assert [(d.term, d.cost, d.gain) for d in u.disposals] == [("long", D(20000), D(30000))]


def test_account_filter_refused_for_canada_and_cli_message(tmp_path):
    with pytest.raises(InputError) as err:
        compute_gains_from_events(POOLS, rates(), jurisdiction="ca", year="2024", accounts=["B"], currency="USD")
    assert "per person" in str(err.value)
    db = tmp_path / "l.db"
    csv = tmp_path / "t.csv"
    csv.write_text("timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id\n"
                   "2024-05-01T10:00:00Z,A,buy,BTC,GBP,1,100,0,,x1\n"
                   "2024-05-02T10:00:00Z,B,buy,BTC,GBP,1,100,0,,x2\n"
                   "2024-06-01T10:00:00Z,A,sell,BTC,GBP,1,150,0,,x3\n"
                   "2024-06-01T11:00:00Z,B,sell,BTC,GBP,1,160,0,,x4\n")
    runner = CliRunner()
    base = ["--db", str(db)]
    r = runner.invoke(root, base + ["import", "csv", str(csv)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(root, base + ["gains", "-j", "uk", "-y", "2024-25", "--account", "A"])
    assert r.exit_code != 0
    assert "error:" in r.output and "per person" in r.output
    # without --account: one same-day disposal of 2 BTC, proceeds 310, cost 200, gain 110
    r = runner.invoke(root, base + ["gains", "-j", "uk", "-y", "2024-25", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert '"gain": "110.00"' in r.output


def test_universal_until_2025_allocation_oldest_lots_first_alphabetical():
    ev = [
        trade("2023-05-01T15:00:00", "buy", "BTC", "USD", "1", "20000", "g1", account="A"),
        trade("2024-05-01T15:00:00", "buy", "BTC", "USD", "1", "40000", "g2", account="B"),
        # 2024, universal FIFO: B's sale of 0.5 takes half of A's 2023 lot ($10,000)
        trade("2024-06-01T15:00:00", "sell", "BTC", "USD", "0.5", "50000", "g3", account="B"),
        trade("2025-03-01T15:00:00", "sell", "BTC", "USD", "0.5", "60000", "g4", account="B"),
        trade("2025-04-01T15:00:00", "sell", "BTC", "USD", "1", "60000", "g5", account="A"),
    ]
    from taxreport.jurisdictions.calendar import local_midnight_utc
    from datetime import date

    opts = {"scope": "universal", "universal_until": local_midnight_utc(date(2025, 1, 1), "America/New_York")}
    s24 = compute_gains_from_events(ev, rates(), jurisdiction="us", year="2024", options=opts)
    assert [(d.cost, d.gain) for d in s24.disposals] == [(D(10000), D(15000))]  # 25,000 - 10,000
    # 1 Jan 2025: A holds 1, B holds 0.5; the pool holds 0.5 of lot g1 ($10,000) and 1 of g2 ($40,000).
    # Oldest first, accounts alphabetical: A gets 0.5 g1 ($10,000) + 0.5 g2 ($20,000); B gets 0.5 g2 ($20,000).
    s25 = compute_gains_from_events(ev, rates(), jurisdiction="us", year="2025", options=opts)
    got = sorted((d.account, d.term, d.proceeds, d.cost, d.gain) for d in s25.disposals)
    assert got == [
        # A: 1 BTC for $60,000: 0.5 of g1 (May 2023, long) 30,000 - 10,000; 0.5 of g2 (May 2024, short) 30,000 - 20,000
        ("A", "long", D(30000), D(10000), D(20000)),
        ("A", "short", D(30000), D(20000), D(10000)),
        # B: 0.5 of g2, held 1 May 2024 -> 1 Mar 2025: short, 30,000 - 20,000
        ("B", "short", D(30000), D(20000), D(10000)),
    ]


def test_selling_a_stablecoin_on_a_fiat_base_pair_realises_the_cash_received():
    # Bought 1000 USDT for 1000 USD (SELL USD/USDT 1000 @ 1: cost = the 1000 USD paid), then sold them
    # back as BUY USD/USDT 1000 @ 1 on a day the market rate is 1 USDT = 0.998 USD. Amount realised is
    # the cash received (IRS Pub. 544): proceeds 1000, cost 1000, gain 0 — not 998 and a $2 loss.
    from taxreport.gains import compute_gains_from_events

    events = [trade("2024-03-01T10:00:00", "sell", "USD", "USDT", "1000", "1", "f1"),
              trade("2024-06-03T10:00:00", "buy", "USD", "USDT", "1000", "1", "f2")]
    table = rates(("USDT", "USD", "2024-03-01T00:00:00", "1.000"), ("USDT", "USD", "2024-06-03T00:00:00", "0.998"))
    summary = compute_gains_from_events(events, table, jurisdiction="us", year="2024")
    (d,) = summary.disposals
    assert (d.asset, d.proceeds, d.cost, d.gain) == ("USDT", D("1000"), D("1000"), D("0"))
