"""Audit: US holding period (29 Feb lots, local dates), fees; DE Freigrenze and anniversary.

US: IRS Pub. 544 "Holding Period": count from the day after acquisition; long-term = more than one
year. Rev. Rul. 66-7 (calendar months; exclude the acquisition day, include the sale day): a lot bought on
the last day of a month (29 Feb 2024) completes one year at the end of 28 Feb 2025, so 1 Mar 2025 is
long-term. Acquisition fees add to basis; selling fees reduce the amount realised (Pub. 544, Pub. 551).
DE: § 23 Abs. 1 Satz 1 Nr. 2 EStG (within one year, §§ 187(1), 188(2)/(3) BGB) and § 23 Abs. 3 Satz 5
EStG: "Gewinne bleiben steuerfrei, wenn der aus den privaten Veräußerungsgeschäften erzielte Gesamtgewinn
im Kalenderjahr weniger als 1 000 Euro betragen hat" (from VZ 2024) - the net of § 23 gains and losses.
"""

from __future__ import annotations

from decimal import Decimal

from taxreport.gains import compute_gains_from_events
from test_tax_audit_helpers import rates, trade

D = Decimal


def test_us_leap_day_lot_and_new_york_dates():
    # Buy 1 BTC on 29 Feb 2024 (10:00 New York) for $50,000 + $50 fee: basis $50,050.
    ev = [trade("2024-02-29T15:00:00", "buy", "BTC", "USD", "1", "50000", "b", fee="50", fee_asset="USD"),
          # a) 28 Feb 2025: 0.5 @ $80,000 = $40,000 - $40 fee = $39,960; basis $25,025; gain $14,935 SHORT
          trade("2025-02-28T15:00:00", "sell", "BTC", "USD", "0.5", "80000", "a", fee="40", fee_asset="USD"),
          # b) 2025-03-01T03:00Z is 22:00 on 28 Feb in New York: 0.25 @ $84,000 = $21,000;
          #    basis $12,512.50; gain $8,487.50 SHORT
          trade("2025-03-01T03:00:00", "sell", "BTC", "USD", "0.25", "84000", "b2"),
          # c) 1 Mar 2025 10:00 New York: 0.25 @ $88,000 = $22,000; basis $12,512.50; gain $9,487.50 LONG
          trade("2025-03-01T15:00:00", "sell", "BTC", "USD", "0.25", "88000", "c")]
    s = compute_gains_from_events(ev, rates(), jurisdiction="us", year="2025")
    got = [(d.event_key.split(":")[-1], d.term, d.proceeds, d.cost, d.gain) for d in s.disposals]
    assert got == [("a#0", "short", D(39960), D(25025), D(14935)),
                   ("b2#0", "short", D(21000), D("12512.5"), D("8487.5")),
                   ("c#0", "long", D(22000), D("12512.5"), D("9487.5"))]
    # short 14,935 + 8,487.50 = $23,422.50; long $9,487.50; net $32,910
    assert s.breakdown.short.gain == D("23422.5")
    assert s.breakdown.long.gain == D("9487.5")
    assert s.taxable_gain == D(32910)


def test_us_one_sale_split_short_and_long():
    # FIFO: lot 1 bought 15 Mar 2023 (1 ETH, $1,600), lot 2 bought 1 Jan 2024 (1 ETH, $2,200).
    # Sell 2 ETH on 16 Mar 2024 for $8,000 with $80 fee: shared by quantity -> each ETH $4,000 - $40.
    #   lot 1: held 15 Mar 2023 -> 16 Mar 2024, more than one year: LONG, gain 3,960 - 1,600 = $2,360
    #   lot 2: SHORT, gain 3,960 - 2,200 = $1,760
    ev = [trade("2023-03-15T15:00:00", "buy", "ETH", "USD", "1", "1600", "l1"),
          trade("2024-01-01T15:00:00", "buy", "ETH", "USD", "1", "2200", "l2"),
          trade("2024-03-16T15:00:00", "sell", "ETH", "USD", "2", "4000", "s", fee="80", fee_asset="USD")]
    s = compute_gains_from_events(ev, rates(), jurisdiction="us", year="2024")
    got = sorted((d.term, d.proceeds, d.cost, d.gain) for d in s.disposals)
    assert got == [("long", D(3960), D(1600), D(2360)), ("short", D(3960), D(2200), D(1760))]


def _de_events(loss_sale_price: str):
    return [
        # exempt: BTC held 1 May 2022 -> 1 May 2024 (> 1 year): gain 30,000 not taxable, not counted
        trade("2022-05-01T10:00:00", "buy", "BTC", "EUR", "1", "30000", "x1"),
        trade("2024-05-01T10:00:00", "sell", "BTC", "EUR", "1", "60000", "x2"),
        # ETH lot 1: 2,000 + 2 fee = 2,002; lot 2: 2,500
        trade("2024-01-10T10:00:00", "buy", "ETH", "EUR", "1", "2000", "e1", fee="2", fee_asset="EUR"),
        trade("2024-02-10T10:00:00", "buy", "ETH", "EUR", "1", "2500", "e2"),
        # FIFO: 3,203 - 1 fee - 2,002 = +1,200
        trade("2024-06-10T10:00:00", "sell", "ETH", "EUR", "1", "3203", "e3", fee="1", fee_asset="EUR"),
        # second ETH (cost 2,500) at the given price: a loss
        trade("2024-07-10T10:00:00", "sell", "ETH", "EUR", "1", loss_sale_price, "e4"),
        # SOL: 2 bought 15 Mar 2023 for 200; sold 1 on the anniversary 15 Mar 2024 (still within the year:
        # taxable, +50) and 1 the day after (16 Mar 2024: exempt, +70)
        trade("2023-03-15T10:00:00", "buy", "SOL", "EUR", "2", "100", "o1"),
        trade("2024-03-15T10:00:00", "sell", "SOL", "EUR", "1", "150", "o2"),
        trade("2024-03-16T10:00:00", "sell", "SOL", "EUR", "1", "170", "o3"),
    ]


def test_de_freigrenze_exactly_reached_makes_everything_taxable():
    # loss sale at 2,250: 2,250 - 2,500 = -250. Net § 23 = 1,200 - 250 + 50 = 1,000 = Freigrenze 2024:
    # not "weniger als 1 000 Euro", so the whole 1,000 is taxable.
    s = compute_gains_from_events(_de_events("2250"), rates(), jurisdiction="de", year="2024")
    assert s.breakdown.taxable.gain == D(1000)
    assert s.breakdown.exempt.gain == D(30070)  # 30,000 + 70
    assert s.allowance == D(1000)
    assert s.taxable_gain == D(1000)
    sol = sorted((d.time.day, d.exempt, d.gain) for d in s.disposals if d.asset == "SOL")
    assert sol == [(15, False, D(50)), (16, True, D(70))]


def test_de_net_one_cent_below_freigrenze_is_tax_free():
    # loss sale at 2,249.99: loss 250.01; net 1,200 - 250.01 + 50 = 999.99 < 1,000: tax-free.
    s = compute_gains_from_events(_de_events("2249.99"), rates(), jurisdiction="de", year="2024")
    assert s.breakdown.taxable.gain == D("999.99")
    assert s.taxable_gain == D(0)


def _two_accounts(b_price: str):
    return [trade("2024-01-10T10:00:00", "buy", "ETH", "EUR", "1", "2000", "a1", account="A"),
            trade("2024-05-10T10:00:00", "sell", "ETH", "EUR", "1", "2800", "a2", account="A"),  # +800
            trade("2024-01-10T10:00:00", "buy", "SOL", "EUR", "10", "100", "b1", account="B"),
            trade("2024-05-10T10:00:00", "sell", "SOL", "EUR", "10", b_price, "b2", account="B")]


def test_de_freigrenze_is_per_person_even_with_account_filter():
    # A: +800, B: 10 x (150 - 100) = +500. Whole year: 1,300 >= 1,000 -> all 1,300 taxable.
    # Reporting only account A must not re-test the Freigrenze on A's 800 alone (that said "tax-free");
    # A's disposals are taxable: taxable part from A = €800.
    s = compute_gains_from_events(_two_accounts("150"), rates(), jurisdiction="de", year="2024")
    assert s.taxable_gain == D(1300)
    a = compute_gains_from_events(_two_accounts("150"), rates(), jurisdiction="de", year="2024", accounts=["A"])
    assert [d.gain for d in a.disposals] == [D(800)]
    assert a.taxable_gain == D(800)
    # B at 110: +100; whole year 900 < 1,000 -> nothing taxable, also for A alone.
    a2 = compute_gains_from_events(_two_accounts("110"), rates(), jurisdiction="de", year="2024", accounts=["A"])
    assert a2.taxable_gain == D(0)


def test_de_leap_day_acquisition_period_ends_28_february():
    # Bought 29 Feb 2024 (Berlin). § 187(1) BGB: the period starts 1 Mar 2024; § 188(2),(3): February
    # 2025 has no 29th, so the one-year period ends at the end of 28 Feb 2025.
    # Sale on 28 Feb 2025: inside the year -> taxable, 1 x (130 - 100) = +30.
    # Sale on 1 Mar 2025 (00:30 Berlin = 2025-02-28T23:30Z): outside -> exempt, +40.
    ev = [trade("2024-02-29T10:00:00", "buy", "DOT", "EUR", "2", "100", "l1"),
          trade("2025-02-28T10:00:00", "sell", "DOT", "EUR", "1", "130", "l2"),
          trade("2025-02-28T23:30:00", "sell", "DOT", "EUR", "1", "140", "l3")]
    s = compute_gains_from_events(ev, rates(), jurisdiction="de", year="2025")
    assert [(d.exempt, d.gain) for d in s.disposals] == [(False, D(30)), (True, D(40))]
    # net § 23 gain 30 < 1,000: tax-free
    assert s.breakdown.taxable.gain == D(30) and s.taxable_gain == D(0)
