"""The tax-aware policies (taxreport.rebalance.tax_policy): pure decisions, hand-computed, with the
official source of each rule in the comment."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from taxreport.errors import InputError
from taxreport.rebalance.basket import basket_to_toml, parse_basket
from taxreport.rebalance.tax_policy import (
    HeldLot, TaxSettings, allowance_check, deferrable_quantity, harvest_losses, partial_weights, tax_aware_defaults,
    tax_budget_factor, tax_minimising_selection, turns_long_within,
)


def test_defer_short_term_uses_the_holding_period_of_pub_544() -> None:
    # Pub. 544 "Holding Period": bought 15 Mar 2023, sold 15 Mar 2024 is short-term, sold 16 Mar 2024
    # long-term. From 1 Mar 2024: 14 days later is 15 Mar (still short) -> not deferrable with N = 14;
    # 15 days later is 16 Mar (long) -> deferrable with N = 15. Already long-term lots are never deferred.
    assert not turns_long_within(date(2023, 3, 15), date(2024, 3, 1), 14)
    assert turns_long_within(date(2023, 3, 15), date(2024, 3, 1), 15)
    assert not turns_long_within(date(2023, 1, 1), date(2024, 3, 1), 30)
    assert not turns_long_within(None, date(2024, 3, 1), 30)  # a pool (UK s104) has no holding period
    lots = [HeldLot("a", date(2023, 3, 15), D("0.4"), D(8000)), HeldLot("b", date(2023, 9, 1), D("0.6"), D(15000))]
    # with N = 30 from 1 Mar 2024: lot a turns long on 16 Mar (15 days) -> 0.4 deferrable; lot b not.
    assert deferrable_quantity(lots, date(2024, 3, 1), 30) == D("0.4")


def test_tax_budget_shrinks_to_half_the_band_or_skips() -> None:
    # Budget 1% of 10,000 moved = 100. Estimated tax 50 -> within budget, keep everything (k = 1).
    assert tax_budget_factor(D(50), D(10000), D(1), D(8), D(3)) == (D(1), None)
    # Tax 300 > 100: shrink so the largest drift (8pp) is left at half the 3pp band: k = 1 - 1.5/8 = 0.8125.
    k, why = tax_budget_factor(D(300), D(10000), D(1), D(8), D(3))
    assert k == D("0.8125") and why is not None and "3.00%" in why and "half the 3pp band" in why
    # Nothing beyond the band (2pp <= 3pp): skip (k = 0).
    k, why = tax_budget_factor(D(300), D(10000), D(1), D(2), D(3))
    assert k == 0 and why is not None and "skipped" in why


def test_partial_weights_trade_k_of_the_way() -> None:
    # current 58/42, target 50/50, k = 0.625: 58 + 0.625 x (50 - 58) = 53; 42 + 0.625 x 8 = 47 (sum 100).
    w = partial_weights({"BTC": D(58), "ETH": D(42)}, {"BTC": D(50), "ETH": D(50)}, D("0.625"))
    assert w == {"BTC": D(53), "ETH": D(47)} and sum(w.values()) == 100


def test_use_allowance_de_freigrenze_and_uk_annual_exempt_amount() -> None:
    # DE § 23 Abs. 3 Satz 5 EStG: Freigrenze €1,000 from VZ 2024; a gain AT the threshold is fully
    # taxable. 800 -> 999.99 stays below (headroom 0.01, no warning); 800 -> 1,000 crosses it.
    below = allowance_check("de", "2024", D(800), D("999.99"))
    assert below is not None and below.headroom == D("0.01") and below.warning is None
    over = allowance_check("de", "2024", D(800), D(1000))
    assert over is not None and over.warning is not None and "WHOLE" in over.warning
    # 2023: €600 (before the Wachstumschancengesetz).
    assert allowance_check("de", "2023", D(0), D(0)).allowance == D(600)  # type: ignore[union-attr]
    # UK annual exempt amount 2024-25 £3,000 (TCGA92 s1K): 2,000 -> 3,500 goes over by 500.
    uk = allowance_check("uk", "2024-25", D(2000), D(3500))
    assert uk is not None and uk.allowance == D(3000) and uk.headroom == D(-500)
    assert uk.warning is not None and "500.00 becomes taxable" in uk.warning
    assert allowance_check("us", "2024", D(0), D(1)) is None


def test_harvest_losses_allowed_in_the_us_refused_where_a_rule_applies() -> None:
    # Lot a: 1 unit cost 1,000, price 700 -> down 30% (> 20%): loss 300. Lot b: cost 800, down 12.5%: kept.
    lots = [HeldLot("a", date(2024, 1, 1), D(1), D(1000)), HeldLot("b", date(2024, 2, 1), D(1), D(800))]
    us = harvest_losses("us", lots, D(700), D(20))
    assert us.allowed and [lot.lot_ref for lot in us.lots] == ["a"] and us.loss == D(300)
    # UK: TCGA92 s106A(5) 30-day rule; CA: superficial loss ITA s54; AU: TR 2008/1.
    for code, words in (("uk", "s106A"), ("ca", "superficial"), ("au", "TR 2008/1")):
        decision = harvest_losses(code, lots, D(700), D(20))
        assert not decision.allowed and words in decision.reason and decision.loss == D(300)
    assert not harvest_losses("us", lots, D(950), D(20)).allowed  # nothing down more than 20%


def test_tax_minimising_lot_choice_losses_then_long_then_short() -> None:
    # Price 50,000 on 15 Jan 2025. Lot L (1 BTC, 2023-01-01, 20,000: long-term gain 30,000), lot X
    # (1 BTC, 2024-11-01, 60,000: a 10,000 loss), lot S (1 BTC, 2024-12-01, 45,000: short gain 5,000).
    # Selling 2.5: the loss lot X first, then the long-term lot L, then 0.5 of S.
    lots = [HeldLot("L", date(2023, 1, 1), D(1), D(20000)), HeldLot("X", date(2024, 11, 1), D(1), D(60000)),
            HeldLot("S", date(2024, 12, 1), D(1), D(45000))]
    assert tax_minimising_selection(lots, D("2.5"), D(50000), date(2025, 1, 15)) == [
        ("X", D(1)), ("L", D(1)), ("S", D("0.5"))]
    with pytest.raises(InputError):
        tax_minimising_selection(lots, D(4), D(50000), date(2025, 1, 15))


def test_tax_table_in_the_basket_toml_round_trips_and_refuses_bad_values() -> None:
    text = ('name = "t"\n[weights]\nBTC = 60\nETH = 40\n[tax]\njurisdiction = "us"\nmethod = "hifo"\n'
            'marginal_rate = 0.32\ndefer_short_term = 30\ntax_budget = 1.5\nchoose_lots = true\n')
    basket = parse_basket(text, file="t.toml")
    assert basket.tax == TaxSettings("us", method="hifo", marginal_rate=D("0.32"), defer_short_term=30,
                                     tax_budget=D("1.5"), choose_lots=True)
    assert parse_basket(basket_to_toml(basket), file="t.toml") == basket
    with pytest.raises(InputError) as bad:
        parse_basket(text.replace('"us"', '"uk"'), file="t.toml")
    assert "tax.method" in str(bad.value) and "t.toml" in str(bad.value)  # uk has no hifo
    with pytest.raises(InputError) as bad:
        parse_basket(text.replace("marginal_rate = 0.32", "marginal_rate = 32"), file="t.toml")
    assert "tax.marginal_rate" in str(bad.value) and "t.toml:8" in str(bad.value)
    with pytest.raises(InputError) as bad:
        parse_basket('[weights]\nBTC = 60\nETH = 40\n[tax]\njurisdiction = "de"\nchoose_lots = true\n',
                          file="t.toml")
    assert "does not let you choose lots" in str(bad.value)
    with pytest.raises(InputError) as bad:
        parse_basket('[weights]\nBTC = 60\nETH = 40\n[tax]\njurisdiction = "us"\ntax_budegt = 1\n',
                          file="t.toml")
    assert "unknown key" in str(bad.value)


def test_tax_aware_defaults_per_country() -> None:
    us, uk, de = tax_aware_defaults("us"), tax_aware_defaults("uk"), tax_aware_defaults("de")
    assert us.choose_lots and us.defer_short_term == 30 and not us.use_allowance
    assert not uk.choose_lots and uk.defer_short_term is None and uk.use_allowance
    assert de.defer_short_term == 30 and de.use_allowance and not de.choose_lots
