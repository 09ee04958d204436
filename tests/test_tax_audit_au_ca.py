"""Audit: AU CGT discount and loss ordering; CA ACB with a partial superficial loss.

AU: ITAA 1997 s115-25(1) - acquired at least 12 months before the CGT event, excluding the day of
acquisition and the day of the event (ATO "CGT discount": acquired 2 Feb 2001 -> discount from 3 Feb
2002); s102-5 method statement: capital losses are applied before the discount, and the taxpayer may
apply them to non-discount gains first; 50% discount for individuals (s115-100). Dates: Australia/Sydney.
CA: ITA s47 average cost of identical property; s54 "superficial loss" (CRA "What is a superficial loss":
identical property bought in the 30 days before or after the sale and still owned 30 days after);
denied part = loss x min(S, P, B) / S (IT-456R para. 12 example); the denied loss is added to the ACB
of the substituted property (s53(1)(f)). Dates: America/Toronto.
"""

from __future__ import annotations

from decimal import Decimal

from taxreport.gains import compute_gains_from_events
from taxreport.jurisdictions.ca import SuperficialTest
from test_tax_audit_helpers import cents, rates, trade

D = Decimal


def test_au_year_loss_discount_and_non_discount_gains():
    ev = [
        # BTC bought 1 Jul 2023 12:00 Sydney for 40,000 + 40 fee = 40,040; sold 2 Jul 2024 for 100,000 - 100:
        # gain 59,860, discount (2 Jul 2024 is after the anniversary 1 Jul 2024)
        trade("2023-07-01T02:00:00", "buy", "BTC", "AUD", "1", "40000", "b1", fee="40", fee_asset="AUD"),
        trade("2024-07-02T02:00:00", "sell", "BTC", "AUD", "1", "100000", "b2", fee="100", fee_asset="AUD"),
        # ADA: 1,000 bought 15 Nov 2023 for 500. 500 sold on the anniversary 15 Nov 2024 for 500: gain 250,
        # NOT discount (12 months excluding both days not reached); 500 sold 16 Nov 2024: gain 250, discount
        trade("2023-11-15T02:00:00", "buy", "ADA", "AUD", "1000", "0.5", "a1"),
        trade("2024-11-15T02:00:00", "sell", "ADA", "AUD", "500", "1", "a2"),
        trade("2024-11-16T02:00:00", "sell", "ADA", "AUD", "500", "1", "a3"),
        # ETH: 10 bought 1 Aug 2024 for 40,000; 5 sold 1 Oct 2024 for 25,000: gain 5,000, non-discount
        trade("2024-08-01T02:00:00", "buy", "ETH", "AUD", "10", "4000", "e1"),
        trade("2024-10-01T02:00:00", "sell", "ETH", "AUD", "5", "5000", "e2"),
        # SOL: loss 20,000 - 12,000 = 8,000
        trade("2024-09-01T02:00:00", "buy", "SOL", "AUD", "100", "200", "o1"),
        trade("2025-01-10T02:00:00", "sell", "SOL", "AUD", "100", "120", "o2"),
    ]
    s = compute_gains_from_events(ev, rates(), jurisdiction="au", year="2024-25")
    b = s.breakdown
    # non-discount gains 5,000 + 250 = 5,250; discount gains 59,860 + 250 = 60,110; losses 8,000
    assert b.non_discount_gains == D(5250)
    assert b.discount_gains == D(60110)
    assert b.capital_losses == D(8000)
    # losses to non-discount gains first: 5,250 -> 0, remaining 2,750 off 60,110 -> 57,360;
    # discount 50%: 28,680; net capital gain 28,680
    assert b.steps.discount_gains_after_losses == D(57360)
    assert b.steps.discount_amount == D(28680)
    assert s.taxable_gain == D(28680)
    assert b.steps.net_capital_loss_carried_forward == D(0)


def test_ca_partial_superficial_loss_then_replacement_sold():
    ev = [
        # 100 ETH at $10 = $1,000 (ACB $10)
        trade("2024-01-02T15:00:00", "buy", "ETH", "CAD", "100", "10", "c1"),
        # sell 40 at $5 on 1 Mar 2024: proceeds 200, ACB 400, loss $200
        trade("2024-03-01T15:00:00", "sell", "ETH", "CAD", "40", "5", "c2"),
        # buy 10 at $6 on 15 Mar 2024 ($60): inside 31 Jan - 31 Mar 2024
        trade("2024-03-15T15:00:00", "buy", "ETH", "CAD", "10", "6", "c3"),
        # sell all 70 at $12 = $840 with $8.40 outlays on 1 Jun 2024
        trade("2024-06-01T15:00:00", "sell", "ETH", "CAD", "70", "12", "c4", fee="8.40", fee_asset="CAD"),
    ]
    s = compute_gains_from_events(ev, rates(), jurisdiction="ca", year="2024")
    first, second = s.disposals
    # S = 40, P = 10 (bought 31 Jan - 31 Mar; the 2 Jan buy is outside), B = 70 held on 31 Mar.
    # denied = 200 x min(40, 10, 70) / 40 = $50; allowed loss $150
    assert first.detail.superficial_test == SuperficialTest(sold=D(40), acquired_in_period=D(10),
                                                            held_at_period_end=D(70))
    assert first.adjustment == D(50)
    assert first.gain == D(-150)
    # pool after the sale 60 / $600; 15 Mar: + $60 + denied $50 -> 70 / $710
    # 1 Jun: 840 - 8.40 - 710 = $121.60
    assert second.cost == D(710)
    assert second.gain == D("121.6")
    # year: -150 + 121.60 = -$28.40; allowable capital loss 1/2 = $14.20; taxable 0
    assert s.gain == D("-28.4")
    assert s.taxable_gain == D(0)
    assert cents(s.breakdown.allowable_capital_loss) == D("14.20")
    assert s.breakdown.superficial_losses_denied == D(50)


def test_ca_loss_not_superficial_when_sold_out_within_30_days():
    # Buy 10 @ $100 on 1 Apr, sell 10 @ $80 on 10 Apr (loss $200), buy 10 @ $85 on 20 Apr, sell 10 @ $90
    # on 5 May. On 10 May (30 days after 10 Apr) nothing is held: B = 0 -> the loss stands (CRA).
    # Second sale: ACB 850, gain 900 - 850 = $50. Net -$150.
    ev = [trade("2024-04-01T15:00:00", "buy", "SOL", "CAD", "10", "100", "d1"),
          trade("2024-04-10T15:00:00", "sell", "SOL", "CAD", "10", "80", "d2"),
          trade("2024-04-20T15:00:00", "buy", "SOL", "CAD", "10", "85", "d3"),
          trade("2024-05-05T15:00:00", "sell", "SOL", "CAD", "10", "90", "d4")]
    s = compute_gains_from_events(ev, rates(), jurisdiction="ca", year="2024")
    assert [(d.gain, d.adjustment) for d in s.disposals] == [(D(-200), D(0)), (D(50), D(0))]


def test_ca_superficial_loss_substitute_bought_before_the_sale():
    # 10 @ $100 (1 Mar) + 10 @ $80 (20 Mar): pool 20 / $1,800, ACB $90.
    # 25 Mar: sell 10 @ $70 = $700; ACB $900; loss $200. S = 10, P = 20 (both buys within 24 Feb - 24 Apr),
    # B = 10 on 24 Apr -> min = 10 = S: the whole $200 is denied and added to the units still held
    # (bought before the sale): pool 10 / $900 + $200 = $1,100.
    # 1 Jun: sell 10 @ $120 = $1,200 -> gain $100. Year net $100 (= proceeds 1,900 - cost 1,800).
    ev = [trade("2024-03-01T15:00:00", "buy", "ADA", "CAD", "10", "100", "f1"),
          trade("2024-03-20T15:00:00", "buy", "ADA", "CAD", "10", "80", "f2"),
          trade("2024-03-25T15:00:00", "sell", "ADA", "CAD", "10", "70", "f3"),
          trade("2024-06-01T15:00:00", "sell", "ADA", "CAD", "10", "120", "f4")]
    s = compute_gains_from_events(ev, rates(), jurisdiction="ca", year="2024")
    first, second = s.disposals
    assert (first.cost, first.adjustment, first.gain) == (D(900), D(200), D(0))
    assert first.detail.pool_cost_after == D(1100)
    assert (second.cost, second.gain) == (D(1100), D(100))
    assert s.gain == D(100)
    assert s.taxable_gain == D(50)
