"""Audit: UK matching worked example computed by hand from the rule text.

Rules (HMRC Cryptoassets Manual CRYPTO22200; TCGA92 s105 same day, s106A 30 days, s104 pool;
https://www.gov.uk/hmrc-internal-manuals/cryptoassets-manual/crypto22200):
1. all acquisitions of a token on one (UK local) day are one acquisition, all disposals one disposal;
   they are matched first;
2. then acquisitions in the 30 days AFTER the disposal, earliest first, earlier disposals first;
3. then the s104 pool at average cost, fees included (TCGA92 s38).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from taxreport.errors import InputError
from taxreport.gains import compute_gains_from_events
from test_tax_audit_helpers import cents, rates, trade

D = Decimal

EVENTS = [
    # s104 pool: 10 BTC for £10,000 + £100 fee = £10,100; then 5 BTC for £6,000: pool 15 / £16,100.
    trade("2024-05-01T10:00:00", "buy", "BTC", "GBP", "10", "1000", "b1", fee="100", fee_asset="GBP"),
    trade("2024-06-01T10:00:00", "buy", "BTC", "GBP", "5", "1200", "b2"),
    # 2024-07-09T23:30Z is 00:30 BST on 10 July: the same UK day as the two sells below.
    trade("2024-07-09T23:30:00", "buy", "BTC", "GBP", "1", "1900", "b3", account="B"),
    trade("2024-07-10T09:00:00", "sell", "BTC", "GBP", "4", "2000", "s1", fee="40", fee_asset="GBP"),
    trade("2024-07-10T15:00:00", "sell", "BTC", "GBP", "2", "2100", "s2", account="B"),
    trade("2024-07-20T10:00:00", "sell", "BTC", "GBP", "2", "2000", "s3"),
    trade("2024-07-25T10:00:00", "buy", "BTC", "GBP", "3", "1500", "b4"),
    trade("2024-08-09T10:00:00", "buy", "BTC", "GBP", "1", "1600", "b5"),  # day 30 after 10 July
    trade("2024-08-10T10:00:00", "buy", "BTC", "GBP", "2", "1700", "b6"),  # day 31 after 10 July, day 21 after 20 July
    trade("2024-12-01T10:00:00", "sell", "BTC", "GBP", "7", "3000", "s4", fee="21", fee_asset="GBP"),
]


def test_uk_year_same_day_thirty_day_and_pool():
    s = compute_gains_from_events(EVENTS, rates(), jurisdiction="uk", year="2024-25")
    by_day = {d.detail.local_date: d for d in s.disposals}
    assert sorted(by_day) == ["2024-07-10", "2024-07-20", "2024-12-01"]

    # 10 July: ONE disposal of 6 BTC (4 + 2), gross 8,000 + 4,200 = £12,200, fees £40, net £12,160.
    #   same day: 1 BTC bought 00:30 BST that day, £1,900;
    #   30 days (11 Jul - 9 Aug): 25 Jul 3 BTC £4,500, then 9 Aug 1 BTC £1,600 -> 4 BTC £6,100;
    #   (10 Aug is day 31: not matched to 10 July)
    #   pool: 1 BTC of 15 / £16,100 -> £1,073.333…
    #   cost = 1,900 + 6,100 + 1,073.33 = £9,073.33; gain = 12,160 - 9,073.33 = £3,086.67
    #   pool after: 14 BTC / £15,026.666…
    jul10 = by_day["2024-07-10"]
    assert jul10.quantity == D(6)
    assert jul10.detail.gross_proceeds == D(12200) and jul10.detail.disposal_costs == D(40)
    assert cents(jul10.cost) == D("9073.33")
    assert cents(jul10.gain) == D("3086.67")
    rules = {}
    for lot in jul10.lots:
        rules[lot.rule] = rules.get(lot.rule, D(0)) + lot.quantity
    assert rules == {"same-day": D(1), "30-day": D(4), "s104": D(1)}
    assert jul10.detail.pool_quantity_after == D(14)
    assert cents(jul10.detail.pool_cost_after) == D("15026.67")

    # 20 July: 2 BTC for £4,000. 30-day window 21 Jul - 19 Aug: 25 Jul and 9 Aug were used by the
    # earlier disposal (10 July goes first); 10 Aug 2 BTC £3,400 matches -> gain 4,000 - 3,400 = £600.
    jul20 = by_day["2024-07-20"]
    assert [(m.rule, m.quantity, m.cost) for m in jul20.lots] == [("30-day", D(2), D(3400))]
    assert jul20.gain == D(600)

    # 1 Dec: 7 BTC for £21,000, fee £21 -> net £20,979. Pool 14 / £15,026.666… (10 Aug never entered
    # the pool); 7 BTC cost £7,513.333…; gain = £13,465.67. Pool after: 7 / £7,513.33.
    dec = by_day["2024-12-01"]
    assert [m.rule for m in dec.lots] == ["s104"]
    assert cents(dec.cost) == D("7513.33")
    assert cents(dec.gain) == D("13465.67")
    assert dec.detail.pool_quantity_after == D(7)

    # Year: 3,086.666… + 600 + 13,465.666… = £17,152.33; AEA 2024-25 £3,000; taxable £14,152.33.
    assert cents(s.gain) == D("17152.33")
    assert s.allowance == D(3000)
    assert cents(s.taxable_gain) == D("14152.33")
    assert s.breakdown.sa108_number_of_disposals == 3
    # SA108 proceeds: 12,200 + 4,000 + 21,000 = £37,200; allowable costs include fees:
    # 9,073.33 + 40 + 3,400 + 7,513.33 + 21 = £20,047.67
    assert s.breakdown.sa108_disposal_proceeds == D(37200)
    assert cents(s.breakdown.sa108_allowable_costs) == D("20047.67")


def test_uk_same_day_buys_and_sells_matched_before_30_day():
    # Sell 5 on 1 Mar; on 10 Mar buy 5 and sell 5. The 10 Mar acquisition is matched with the 10 Mar
    # disposal first (same-day rule beats the 30-day rule, CRYPTO22200), so 1 Mar falls to the pool.
    # Pool: 10 @ £100 = £1,000. 1 Mar: 5 from pool £500, proceeds 5 x 150 = £750, gain £250.
    # 10 Mar: buy 5 @ £120 = £600 same day; sell 5 @ £130 = £650; gain £50.
    ev = [trade("2024-02-01T12:00:00", "buy", "ETH", "GBP", "10", "100", "p"),
          trade("2024-03-01T12:00:00", "sell", "ETH", "GBP", "5", "150", "x1"),
          trade("2024-03-10T09:00:00", "sell", "ETH", "GBP", "5", "130", "x2"),
          trade("2024-03-10T12:00:00", "buy", "ETH", "GBP", "5", "120", "y1")]
    s = compute_gains_from_events(ev, rates(), jurisdiction="uk", year="2023-24")
    g = {d.detail.local_date: d for d in s.disposals}
    assert [(m.rule, m.cost) for m in g["2024-03-01"].lots] == [("s104", D(500))]
    assert g["2024-03-01"].gain == D(250)
    assert [(m.rule, m.cost) for m in g["2024-03-10"].lots] == [("same-day", D(600))]
    assert g["2024-03-10"].gain == D(50)


def test_account_filter_refused_for_uk_person_level_pooling():
    # The UK pools per person: 10 July mixes accounts A and B in ONE disposal, which --account cannot
    # split. Filtering used to drop the 'A,B' group silently; now it is a clear error.
    with pytest.raises(InputError) as err:
        compute_gains_from_events(EVENTS, rates(), jurisdiction="uk", year="2024-25", accounts=["A"])
    assert "per person" in str(err.value) and "--account" in str(err.value)


def test_uk_bed_and_breakfast_across_the_tax_year_end():
    # Pool: 2 ETH for £2,000 (1 June 2024).
    # 5 Apr 2025 13:00 BST (2024-25): sell 1 for £1,500; 20 Apr 2025 buy 1 for £1,400 is within the next
    #   30 days -> matched (s106A) although it is in the next tax year: gain 1,500 - 1,400 = £100.
    # 2025-04-05T23:30Z is 00:30 BST on 6 April -> tax year 2025-26: sell 1 for £1,600. Its 30 days
    #   (7 Apr - 6 May) hold only the 20 Apr buy, already used by the earlier disposal -> pool:
    #   1 of 2 / £2,000 = £1,000; gain £600.
    ev = [trade("2024-06-01T12:00:00", "buy", "ETH", "GBP", "2", "1000", "k1"),
          trade("2025-04-05T12:00:00", "sell", "ETH", "GBP", "1", "1500", "k2"),
          trade("2025-04-05T23:30:00", "sell", "ETH", "GBP", "1", "1600", "k3"),
          trade("2025-04-20T12:00:00", "buy", "ETH", "GBP", "1", "1400", "k4")]
    a = compute_gains_from_events(ev, rates(), jurisdiction="uk", year="2024-25")
    assert [(d.detail.local_date, d.rule, d.gain) for d in a.disposals] == [("2025-04-05", "30-day", D(100))]
    # the pool at the end of 2024-25 is still 2 ETH / £2,000 (the 30-day match never touched it)
    assert [(lot.quantity, lot.cost) for lot in a.open_lots] == [(D(2), D(2000))]
    b = compute_gains_from_events(ev, rates(), jurisdiction="uk", year="2025-26")
    assert [(d.detail.local_date, d.rule, d.gain) for d in b.disposals] == [("2025-04-06", "s104", D(600))]
