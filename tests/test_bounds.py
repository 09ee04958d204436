"""Bounds at the door (issue #12 item 7) and exact unit prices: taxreport.model.money.parse_amount,
check_bounds, unit_price, and decimal_str never rounding what it stores."""

from __future__ import annotations

from decimal import Decimal

import pytest

from taxreport.importers.base import ImportRefused
from taxreport.importers.mapped import load_mapping, parse_mapped
from taxreport.model.money import decimal_str, parse_amount, parse_decimal, unit_price

D = Decimal


@pytest.mark.parametrize("text, reason", [
    ("1e400", "'1e400' is out of range (must be below 1e15)"),
    ("1E+30", "'1E+30' is out of range (must be below 1e15)"),
    ("1000000000000000", "is out of range (must be below 1e15)"),  # exactly 1e15
    ("-1e15", "is out of range"),
    ("1E+999999999", "is out of range"),  # beyond Decimal's own exponent limit: no Overflow, a message
    ("1e-31", "must be 0 or at least 1e-30 in size"),
    ("1.0000000000000000000000000000001", "more than 30 significant digits"),
    ("1." + "1" * 5000, "more than 30 significant digits"),
])
def test_out_of_range_is_refused_with_the_value_named(text, reason):
    with pytest.raises(ValueError) as info:
        parse_amount(text, what="quantity")
    assert str(info.value).startswith("quantity: ") and reason in str(info.value)
    assert len(str(info.value)) < 120  # one readable line, even for a 5000-digit cell


@pytest.mark.parametrize("text, value", [
    ("999999999999999.9", D("999999999999999.9")),  # just below 1e15
    ("0E-18", D(0)), ("-0", D(0)),  # Java's zeros are zero
    ("0.011478630000000000", D("0.01147863")),  # trailing zeros do not count as digits
    ("1e-30", D("1e-30")),
    ("123456789012345.123456789012345", D("123456789012345.123456789012345")),  # 30 digits
])
def test_sane_values_pass_unchanged(text, value):
    assert parse_amount(text, what="x") == value


def test_parse_decimal_itself_stays_unbounded_for_stored_values():
    # a stored 50-digit price (quote ÷ base) must read back: the bound is for input only
    assert parse_decimal("2400.1234568461538461538461538461538461538461538462") > 0


@pytest.mark.parametrize("total, qty", [("1.06265576", "0.00506778"), ("312.01604939", "0.13"), ("1", "3"),
                                        ("50", "57.19923035"), ("0.00002554", "0.00000016")])
def test_unit_price_gives_the_total_back_exactly_and_is_stored_as_is(total, qty):
    price = unit_price(D(total), D(qty))
    assert D(qty) * price == D(total)
    assert D(decimal_str(price)) == price  # decimal_str does not round the 60-digit price


def test_mapped_importer_refuses_1e30_at_the_door(tmp_path):
    m = tmp_path / "m.toml"
    m.write_text('source = "x"\n[time]\ncolumn = "t"\n[columns]\nside = "s"\nsymbol = "p"\nquantity = "q"\n'
                 'cost = "c"\n')
    p = tmp_path / "x.csv"
    p.write_text("t,s,p,q,c\n2024-01-01T00:00:00Z,buy,BTC/USD,1E+30,1\n2024-01-01T00:00:00Z,buy,BTC/USD,3,1\n")
    with pytest.raises(ImportRefused) as info:
        parse_mapped(p, load_mapping(m), account="x:main")
    (problem,) = info.value.problems
    assert (problem.line, problem.field) == (2, "q") and "'1E+30' is out of range" in problem.reason
    p.write_text("t,s,p,q,c\n2024-01-01T00:00:00Z,buy,BTC/USD,3,1\n")
    (t,) = parse_mapped(p, load_mapping(m), account="x:main").events
    assert t.quantity * t.price == D(1)  # 1 USD for 3 BTC: 0.333… kept exact enough to give 1 back
