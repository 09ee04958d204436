"""HMRC's own worked examples, Cryptoassets Manual CRYPTO22251-22256, reproduced through the UK module.

HMRC writes "20XX"; we put each example in a real tax year. HMRC rounds to whole pounds in its tables
(e.g. £937.50 shown as £938); we keep exact values and compare exactly, rounding only where the text
says so. Opening pools are built from acquisitions long before (outside every 30-day window).
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from taxreport.jurisdictions.uk import JURISDICTION as UK
from taxreport.lots.types import Acquisition, Disposal
from taxreport.model.money import quantize_money

D = Decimal


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def buy(when: str, qty: str, cost: str, key: str, asset: str = "TOK", account: str = "okx") -> Acquisition:
    return Acquisition(time=t(when), account=account, asset=asset, quantity=D(qty), cost=D(cost),
                       event_key=key, leg_index=0)


def sell(when: str, qty: str, proceeds: str, key: str, asset: str = "TOK", account: str = "okx",
         fee: str = "0") -> Disposal:
    return Disposal(time=t(when), account=account, asset=asset, quantity=D(qty), proceeds=D(proceeds),
                    fee=D(fee), event_key=key, leg_index=0)


def test_crypto22251_basic_section_104_pool():
    # Victoria: 100 token A for £1,000, then 50 for £125,000 -> pool 150 / £126,000.
    # Sells 50 for £300,000: cost = 126,000 x 50/150 = £42,000; gain = 300,000 - 42,000 = £258,000.
    # Pool after: 100 / £84,000.
    moves = [buy("2022-01-10T12:00:00", "100", "1000", "a1"),
             buy("2023-09-18T12:00:00", "50", "125000", "a2"),
             sell("2023-12-01T12:00:00", "50", "300000", "d1")]
    s = UK.compute(moves, year="2023-24")
    [r] = s.disposals
    assert (r.proceeds, r.cost, r.gain) == (D("300000"), D("42000"), D("258000"))
    assert r.rule == "s104"
    assert (r.detail.pool_quantity_after, r.detail.pool_cost_after) == (D("100"), D("84000"))


def test_crypto22252_same_day_rule():
    # Martyn: pool 5,000 token B / £500. On 23 June: sells 1,000 for £800 (morning), buys 1,600 for
    # £1,000 (afternoon), sells 500 for £600 (evening). The two disposals are one disposal of 1,500 for
    # £1,400, matched with the same-day acquisition: cost = 1,000 x 1,500/1,600 = £937.50 (HMRC shows
    # £938); gain = 1,400 - 937.50 = £462.50 (HMRC: 1,400 - 938 = £462).
    # The other 100 tokens and 1,000 x 100/1,600 = £62.50 go into the pool: 5,100 / £562.50 (HMRC £562).
    moves = [buy("2022-01-10T12:00:00", "5000", "500", "a0"),
             sell("2023-06-23T08:00:00", "1000", "800", "d1"),
             buy("2023-06-23T14:00:00", "1600", "1000", "a1"),
             sell("2023-06-23T19:00:00", "500", "600", "d2")]
    s = UK.compute(moves, year="2023-24")
    [r] = s.disposals
    assert r.quantity == D("1500")
    assert (r.proceeds, r.cost, r.gain) == (D("1400"), D("937.5"), D("462.5"))
    assert quantize_money(r.cost, D("1")) == D("938")
    assert r.rule == "same-day"
    assert r.detail.event_keys == ("d1#0", "d2#0")
    assert (r.detail.pool_quantity_after, r.detail.pool_cost_after) == (D("5100"), D("562.5"))
    assert s.breakdown.sa108_number_of_disposals == 1


def test_crypto22253_thirty_day_rule_across_tax_years():
    # Rachel: pool 2,000 token C / £1,000.
    # 31 Mar: sells 1,000 for £400. 20 Apr: sells 500 for £150. Buys 700 for £175 (21 Apr),
    # 500 for £100 (28 Apr), 500 for £150 (1 May).
    # 31 Mar: 30-day 21/04 700 (£175) + 28/04 300 (100 x 300/500 = £60): cost £235, gain 400-235 = £165.
    # 20 Apr: 30-day 28/04 200 (100 x 200/500 = £40) + 01/05 300 (150 x 300/500 = £90): cost £130,
    #         gain 150-130 = £20. (1 May is 31 days after 31 Mar, so not in its window.)
    # The 200 tokens left from 1 May (150 x 200/500 = £60) go into the pool: 2,200 / £1,060.
    # In 2023 the two disposals fall in different UK tax years (31 Mar -> 2022-23, 20 Apr -> 2023-24).
    moves = [buy("2022-01-10T12:00:00", "2000", "1000", "a0"),
             sell("2023-03-31T12:00:00", "1000", "400", "d1"),
             sell("2023-04-20T12:00:00", "500", "150", "d2"),
             buy("2023-04-21T12:00:00", "700", "175", "a1"),
             buy("2023-04-28T12:00:00", "500", "100", "a2"),
             buy("2023-05-01T12:00:00", "500", "150", "a3")]
    y1 = UK.compute(moves, year="2022-23")
    [r1] = y1.disposals
    assert (r1.cost, r1.gain, r1.rule) == (D("235"), D("165"), "30-day")
    assert [(m.quantity, m.cost, m.lot_ref) for m in r1.lots] == [
        (D("700"), D("175"), "a1#0"), (D("300"), D("60"), "a2#0")]
    assert (r1.detail.pool_quantity_after, r1.detail.pool_cost_after) == (D("2000"), D("1000"))
    y2 = UK.compute(moves, year="2023-24")
    [r2] = y2.disposals
    assert (r2.cost, r2.gain) == (D("130"), D("20"))
    assert [(m.quantity, m.cost) for m in r2.lots] == [(D("200"), D("40")), (D("300"), D("90"))]
    [pool] = y2.open_lots
    assert (pool.quantity, pool.cost) == (D("2200"), D("1060"))


def test_crypto22254_same_day_with_section_104_pool():
    # Daniel: pool 8,000 token D / £1,000. On 31 January: disposals 5,000 for £500 and 2,000 for £142
    # (one disposal of 7,000 for £642); acquisitions 4,000/£320, 1,000/£75, 1,000/£70, 500/£35 (one
    # acquisition of 6,500 for £500). Same day: 6,500 at £500. Pool: 500 at 1,000 x 500/8,000 = £62.50
    # (HMRC £63). Gain = 642 - 500 - 62.50 = £79.50 (HMRC £79). Pool after: 7,500 / £937.50 (HMRC £937).
    moves = [buy("2023-01-10T12:00:00", "8000", "1000", "a0"),
             sell("2024-01-31T09:00:00", "5000", "500", "d1"),
             buy("2024-01-31T10:00:00", "4000", "320", "a1"),
             buy("2024-01-31T11:00:00", "1000", "75", "a2"),
             buy("2024-01-31T12:00:00", "1000", "70", "a3"),
             sell("2024-01-31T13:00:00", "2000", "142", "d2"),
             buy("2024-01-31T14:00:00", "500", "35", "a4")]
    s = UK.compute(moves, year="2023-24")
    [r] = s.disposals
    assert [(m.rule, m.quantity, m.cost) for m in r.lots] == [
        ("same-day", D("6500"), D("500")), ("s104", D("500"), D("62.5"))]
    assert (r.proceeds, r.gain, r.rule) == (D("642"), D("79.5"), "same-day+s104")
    assert (r.detail.pool_quantity_after, r.detail.pool_cost_after) == (D("7500"), D("937.5"))


def test_crypto22255_thirty_day_with_section_104_pool():
    # Melanie: pool 14,000 token E / £200,000. 30 Aug sells 4,000 for £160,000; 11 Sep buys 500 for
    # £17,500. 30-day: 500 at £17,500. Pool: 3,500 at 200,000 x 3,500/14,000 = £50,000.
    # Gain = 160,000 - 17,500 - 50,000 = £92,500. Pool after: 10,500 / £150,000.
    moves = [buy("2022-01-10T12:00:00", "14000", "200000", "a0"),
             sell("2023-08-30T12:00:00", "4000", "160000", "d1"),
             buy("2023-09-11T12:00:00", "500", "17500", "a1")]
    s = UK.compute(moves, year="2023-24")
    [r] = s.disposals
    assert [(m.rule, m.quantity, m.cost) for m in r.lots] == [
        ("30-day", D("500"), D("17500")), ("s104", D("3500"), D("50000"))]
    assert r.gain == D("92500")
    assert (r.detail.pool_quantity_after, r.detail.pool_cost_after) == (D("10500"), D("150000"))
    [pool] = s.open_lots  # the 500 bought on 11 Sep were all used by the 30-day rule
    assert (pool.quantity, pool.cost) == (D("10500"), D("150000"))


def test_crypto22256_same_day_thirty_day_and_pool():
    # Gulferaz: pool 100,000 token F / £300,000.
    # 31 Jul: buys 10,000 for £45,000 and sells 30,000 for £150,000. 5 Aug: sells 20,000 for £100,000.
    # 6 Aug: buys 50,000 for £225,000. 7 Aug: sells 100,000 for £150,000.
    # 31 Jul: same day 10,000 (£45,000) + 30-day 20,000 of 6 Aug (225,000 x 20,000/50,000 = £90,000):
    #         gain = 150,000 - 135,000 = £15,000; the pool is untouched (HMRC text).
    # 5 Aug: 30-day 20,000 of 6 Aug (£90,000): gain = 100,000 - 90,000 = £10,000 (HMRC text).
    # 6 Aug: the other 10,000 (£45,000) join the pool: 110,000 / £345,000.
    # 7 Aug (the retrieved HMRC excerpt stops before this line; computed by the same rules):
    #         pool cost = 345,000 x 100,000/110,000 = £313,636.36...; loss = 150,000 - 313,636.36
    #         = -£163,636.36; pool after 10,000 / 345,000/11 = £31,363.64.
    moves = [buy("2022-01-10T12:00:00", "100000", "300000", "a0"),
             buy("2023-07-31T09:00:00", "10000", "45000", "a1"),
             sell("2023-07-31T10:00:00", "30000", "150000", "d1"),
             sell("2023-08-05T10:00:00", "20000", "100000", "d2"),
             buy("2023-08-06T10:00:00", "50000", "225000", "a2"),
             sell("2023-08-07T10:00:00", "100000", "150000", "d3")]
    s = UK.compute(moves, year="2023-24")
    r1, r2, r3 = s.disposals
    assert [(m.rule, m.quantity, m.cost) for m in r1.lots] == [
        ("same-day", D("10000"), D("45000")), ("30-day", D("20000"), D("90000"))]
    assert r1.gain == D("15000")
    assert (r1.detail.pool_quantity_after, r1.detail.pool_cost_after) == (D("100000"), D("300000"))
    assert [(m.rule, m.quantity, m.cost) for m in r2.lots] == [("30-day", D("20000"), D("90000"))]
    assert r2.gain == D("10000")
    assert r3.rule == "s104"
    assert quantize_money(r3.cost) == D("313636.36")
    assert quantize_money(r3.gain) == D("-163636.36")
    assert quantize_money(r3.detail.pool_cost_after) == D("31363.64")
    assert r3.cost + r3.detail.pool_cost_after == D("345000")  # exact: nothing lost to rounding
    assert s.breakdown.sa108_gains_before_losses == D("25000")
    assert quantize_money(s.breakdown.sa108_losses_in_year) == D("163636.36")
    assert s.taxable_gain == 0  # net loss: nothing taxable, the loss carries forward
    assert quantize_money(s.breakdown.losses_carried_forward) == D("138636.36")


# --- CRYPTO22257: crypto-to-crypto swaps, through the whole pipeline (trades -> legs -> valuation) -------
# HMRC Cryptoassets Manual CRYPTO22257 (Elina, tokens G and H), values as HMRC states them for each swap
# ("value of G" / "value of H" at the time); HMRC's result for the year is a net loss of £972.
# The rule (TCGA92 s38(1)(a) and the manual's working): a disposal's proceeds are the value of the tokens
# received; an acquisition's allowable cost is the value of the tokens given.
# (when, given asset, given qty, received asset, received qty, £ per G, £ per H)
C22257 = [("2024-08-31T10:00:00", "G", "1000", "H", "10000", "3.2", "0.32"),  # G £3,200 -> H £3,200
          ("2024-08-31T12:00:00", "H", "5000", "G", "600", "3.2", "0.34"),  # H £1,700 -> G £1,920
          ("2024-08-31T14:00:00", "G", "550", "H", "5000", "3.2", "0.33"),  # G £1,760 -> H £1,650
          ("2024-09-04T12:00:00", "H", "2000", "G", "180", "3.1", "0.28"),  # H £560 -> G £558
          ("2024-09-16T12:00:00", "G", "400", "H", "4000", "2.7", "0.27"),  # G £1,080 -> H £1,080
          ("2024-10-27T12:00:00", "H", "12000", "G", "900", "2.7", "0.2")]  # H £2,400 -> G £2,430


def _c22257_events(base: str) -> list:
    """Elina's swaps written on the pair ``base``/other: the same economic swaps either way round."""
    from taxreport.model.events import Trade

    quote = "H" if base == "G" else "G"
    events = [Trade(time=t("2024-01-01T12:00:00"), source="hmrc", external_id="open", account="okx", side="buy",
                    base="G", quote="GBP", quantity=D(100000), price=D(3))]  # pool: 100,000 G for £300,000
    for i, (when, given, given_qty, _, got_qty, _, _) in enumerate(C22257):
        side, qty, other = ("sell", D(given_qty), D(got_qty)) if given == base else ("buy", D(got_qty), D(given_qty))
        events.append(Trade(time=t(when), source="hmrc", external_id=str(i), account="okx", side=side,
                            base=base, quote=quote, quantity=qty, price=other / qty))
    return events


def _c22257_rates():  # noqa: ANN202
    from taxreport.prices.rates import RateTable

    return RateTable.from_rows([row for when, *_, g, h in C22257
                                for row in (("G", "GBP", t(when), D(g), "hmrc"), ("H", "GBP", t(when), D(h), "hmrc"))])


def test_crypto22257_crypto_to_crypto_swaps_either_way_round():
    # Hand working (HMRC's, per disposal):
    # 31 Aug, G: one same-day disposal of 1,000 + 550 = 1,550 G; proceeds = value of H received
    #   3,200 + 1,650 = £4,850. Cost: same day 600 G (cost = 5,000 H given = £1,700); 30 days: 180 G of
    #   4 Sep (cost = 2,000 H given = £560); pool 770 x £3 = £2,310. Total £4,570; gain £280.
    # 31 Aug, H: 5,000 H disposed for 600 G = £1,920; same-day acquisitions 10,000 H (£3,200) + 5,000 H
    #   (£1,760) = 15,000 H for £4,960: cost 4,960 x 5,000/15,000 = £1,653.33; gain £266.67.
    # 4 Sep, H: 2,000 H for 180 G = £558; 30 days: 2,000 of the 4,000 H of 16 Sep (£1,080): £540; gain £18.
    # 16 Sep, G: 400 G for 4,000 H = £1,080; pool 400 x £3 = £1,200; loss £120.
    # 27 Oct, H: 12,000 H for 900 G = £2,430; pool 10,000 H (£3,306.67) + 2,000 H (£540) = £3,846.67;
    #   loss £1,416.67.
    # Net: 280 + 266.67 + 18 - 120 - 1,416.67 = -£972 (HMRC: "a loss of £972").
    from taxreport.gains import compute_gains_from_events

    for base in ("G", "H"):  # the pair written G/H or H/G
        s = compute_gains_from_events(_c22257_events(base), _c22257_rates(), jurisdiction="uk", year="2024-25")
        assert quantize_money(s.gain) == D("-972.00"), base
        got = [(d.asset, quantize_money(d.proceeds), quantize_money(d.cost)) for d in s.disposals]
        assert got == [("G", D("4850.00"), D("4570.00")), ("H", D("1920.00"), D("1653.33")),
                       ("H", D("558.00"), D("540.00")), ("G", D("1080.00"), D("1200.00")),
                       ("H", D("2430.00"), D("3846.67"))], base
