"""Basket files: loading, every refusal (with file, line and field), round trip, name resolution."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from taxreport.errors import InputError
from taxreport.exchanges.markets import markets_from_fixture
from taxreport.rebalance.basket import (basket_to_toml, baskets_dir, check_investment, list_saved, load_basket,
                                        parse_basket, resolve_basket, save_basket, validate_markets)
from taxreport.rebalance.types import Basket

FIXTURES = Path(__file__).parent / "fixtures"

CORE = """\
name = "core"
exchange = "okx"
account = "okx:main"
quote = "USDT"
mode = "weekly"        # daily | weekly | threshold | hybrid
threshold = 5          # percentage points (threshold, hybrid)
[weights]
BTC = 50
ETH = 30
SOL = 20
"""


def refused(text: str, file: str = "b.toml") -> InputError:
    with pytest.raises(InputError) as info:
        parse_basket(text, file=file)
    return info.value


def test_issue_layout_loads_with_defaults():
    b = parse_basket(CORE)
    assert b.name == "core" and b.exchange == "okx" and b.account == "okx:main" and b.quote == "USDT"
    assert b.mode == "weekly" and b.threshold == Decimal(5) and b.band == "absolute"
    assert b.weights == {"BTC": Decimal(50), "ETH": Decimal(30), "SOL": Decimal(20)}
    assert list(b.weights) == ["BTC", "ETH", "SOL"]
    assert (b.gate, b.cooldown_minutes, b.min_notional, b.min_investment) == (Decimal(3), 5, Decimal(5), Decimal(100))
    assert b.daily_at == "00:00" and b.weekly_on == "monday" and b.max_weight is None


def test_fractional_weights_are_exact_decimals():
    b = parse_basket('name="thirds"\n[weights]\nBTC = 33.33\nETH = 33.33\nSOL = 33.34\n')
    assert b.weights["SOL"] == Decimal("33.34") and sum(b.weights.values()) == 100


def test_weights_not_summing_to_exactly_100_are_refused_with_line():
    # 3 x 33.333 = 99.999: a float sum might round to 100, Decimal does not
    err = refused('name = "x"\n[weights]\nBTC = 33.333\nETH = 33.333\nSOL = 33.333\n')
    assert err.field == "weights" and err.file == "b.toml" and err.line == 2
    assert "sum to 99.999" in str(err)
    assert "sum to 101" in str(refused('name="x"\n[weights]\nBTC=51\nETH=50\n'))


@pytest.mark.parametrize("weights,fragment", [
    ("BTC = 100", "needs 2-20 assets, got 1"),
    ("\n".join(f"A{i} = 4.75" for i in range(20)) + "\nB = 5", "needs 2-20 assets, got 21"),
    ("BTC = 100\nETH = 0", "positive"),
    ("BTC = 110\nETH = -10", "positive"),
    ('BTC = "lots"\nETH = 50', "positive"),
])
def test_asset_count_and_weight_values(weights, fragment):
    assert fragment in str(refused(f'name = "x"\n[weights]\n{weights}\n'))


def test_twenty_assets_are_fine():
    lines = "\n".join(f"A{i} = 5" for i in range(20))
    assert len(parse_basket(f'name="wide"\n[weights]\n{lines}\n').weights) == 20


def test_case_variant_duplicates_are_refused():
    err = refused('name = "x"\n[weights]\nBTC = 50\nbtc = 30\nETH = 20\n')
    assert err.field == "weights.btc" and err.line == 4
    assert "duplicate asset" in str(err) and "'BTC'" in str(err)


def test_exact_duplicate_key_is_refused_by_toml_with_line():
    err = refused('name = "x"\n[weights]\nBTC = 50\nBTC = 50\n')
    assert "not valid TOML" in str(err) and err.line == 4


def test_stablecoin_members_and_quote_member_rule():
    b = parse_basket('name="cash"\n[weights]\nBTC = 60\nUSDC = 30\nUSDT = 10\n')
    assert b.weights["USDT"] == 10  # the USDT quote as a 10% cash reserve
    err = refused('name="x"\nquote = "BTC"\n[weights]\nBTC = 50\nETH = 50\n')
    assert err.field == "weights.BTC" and "only if it is a stablecoin" in str(err)


def test_max_weight_cap():
    err = refused('name="x"\nmax_weight = 40\n[weights]\nBTC = 50\nETH = 30\nSOL = 20\n')
    assert err.field == "weights.BTC" and "above max_weight 40%" in str(err) and err.line == 4
    assert parse_basket('name="x"\nmax_weight = 50\n[weights]\nBTC = 50\nETH = 50\n').max_weight == 50


@pytest.mark.parametrize("line,field,fragment", [
    ('mode = "monthly"', "mode", "one of daily, weekly, threshold, hybrid"),
    ("threshold = 0", "threshold", "must be > 0"),
    ('band = "wide"', "band", "absolute, relative"),
    ('daily_at = "24:00"', "daily_at", "HH:MM"),
    ('weekly_on = "funday"', "weekly_on", "weekday"),
    ("cooldown_minutes = 2.5", "cooldown_minutes", "whole number"),
    ("gate = -1", "gate", ">= 0"),
    ("min_notional = true", "min_notional", "must be a number"),
    ("treshold = 5", "treshold", "unknown key"),
    ('exchange = "OK X"', "exchange", "ccxt exchange id"),
    ('name = "my basket"', "name", "letters, digits"),
])
def test_bad_fields_name_file_line_and_field(line, field, fragment):
    err = refused(f"{line}\n[weights]\nBTC = 50\nETH = 50\n", file="/tmp/x.toml")
    assert err.field == field and err.line == 1 and err.file == "/tmp/x.toml"
    assert fragment in str(err)
    assert str(err).startswith(f"/tmp/x.toml:1: {field}: ")


def test_missing_weights_and_missing_name():
    assert "missing: add a [weights] table" in str(refused('name = "x"\n'))
    with pytest.raises(InputError, match="name: missing"):
        parse_basket("[weights]\nBTC=50\nETH=50\n")


def test_optional_fields_parse():
    b = parse_basket('name="h"\nmode="HYBRID"\nband="relative"\nthreshold=15\ndaily_at="08:30"\n'
                     'weekly_on="Fri"\ncalendar="weekly"\ncooldown_minutes=0\ngate=0\nmin_notional=10.5\n'
                     'min_investment=250\n[weights]\nBTC=80\nETH=20\n[extra]\nnote="x"\n')
    assert (b.mode, b.band, b.threshold, b.daily_at, b.weekly_on, b.calendar) == \
        ("hybrid", "relative", Decimal(15), "08:30", "friday", "weekly")
    assert (b.cooldown_minutes, b.gate, b.min_notional, b.min_investment) == (0, 0, Decimal("10.5"), 250)
    assert b.extra == {"note": "x"}


def test_round_trip_is_exact(tmp_path):
    b = parse_basket('name="rt"\naccount="okx:bot \\"1\\""\nthreshold=2.5\nmax_weight=60\n'
                     '[weights]\nBTC=33.33\nETH=33.33\nSOL=33.34\n[extra]\nnote="é"\n')
    path = save_basket(b, tmp_path / "rt.toml")
    again = load_basket(path)
    assert again == b and again.account == 'okx:bot "1"'
    assert parse_basket(basket_to_toml(again)) == b


def test_save_refuses_overwrite_without_force(tmp_path):
    b = parse_basket(CORE)
    save_basket(b, tmp_path / "core.toml")
    with pytest.raises(InputError, match="exists already"):
        save_basket(b, tmp_path / "core.toml")
    save_basket(b, tmp_path / "core.toml", overwrite=True)


def test_resolve_by_name_and_by_path(tmp_path):
    saved = save_basket(parse_basket(CORE))
    assert saved == baskets_dir() / "core.toml"
    basket, path = resolve_basket("core")
    assert basket.name == "core" and path == saved
    other = tmp_path / "elsewhere.toml"
    other.write_text(CORE.replace('name = "core"\n', ""))
    basket, path = resolve_basket(str(other))
    assert basket.name == "elsewhere" and path == other  # name defaults to the file name
    (baskets_dir() / "alias.toml").write_text(CORE)  # says name = "core"
    with pytest.raises(InputError, match="the file says name = 'core' but is found as 'alias'"):
        resolve_basket("alias")
    with pytest.raises(InputError, match="no basket named 'nope'"):
        resolve_basket("nope")
    with pytest.raises(InputError, match="no such basket file"):
        resolve_basket(str(tmp_path / "missing.toml"))


def test_list_saved_reports_broken_files_instead_of_hiding_them():
    save_basket(parse_basket(CORE))
    (baskets_dir() / "broken.toml").write_text('name = "broken"\n[weights]\nBTC = 50\nETH = 40\n')
    listed = {p.stem: (b, e) for p, b, e in list_saved()}
    assert listed["core"][0].name == "core" and listed["core"][1] is None
    assert listed["broken"][0] is None and "sum to 90" in listed["broken"][1]


def test_unknown_market_on_the_exchange_is_refused():
    markets = markets_from_fixture(FIXTURES / "okx_markets.json")
    validate_markets(parse_basket(CORE), markets)
    with pytest.raises(InputError, match="no such market on okx: PEPE/USDT"):
        validate_markets(parse_basket('name="x"\n[weights]\nBTC=50\nPEPE=50\n'), markets)
    # a stablecoin quote member needs no market
    validate_markets(parse_basket('name="c"\n[weights]\nBTC=90\nUSDT=10\n'), markets)


def test_minimum_investment():
    b = parse_basket(CORE)
    check_investment(b, Decimal(100))
    with pytest.raises(InputError, match="99.99 USDT is below the minimum investment of 100 USDT"):
        check_investment(b, Decimal("99.99"))


def test_basket_is_the_shared_value_object():
    assert isinstance(parse_basket(CORE), Basket)


def test_resolve_a_saved_basket_s_file_name_from_anywhere(tmp_path, monkeypatch):
    """`backtest --help` shows `--basket core.toml`: after `basket create core` that is the saved file,
    found in the baskets folder when the current folder has no core.toml (a file there wins)."""
    saved = save_basket(parse_basket(CORE))
    monkeypatch.chdir(tmp_path)
    basket, path = resolve_basket("core.toml")
    assert basket.name == "core" and path == saved
    local = tmp_path / "core.toml"
    local.write_text(CORE)
    assert resolve_basket("core.toml")[1] == Path("core.toml")
    with pytest.raises(InputError, match="no such basket file"):
        resolve_basket("other.toml")
    with pytest.raises(InputError, match="no such basket file"):
        resolve_basket("sub/core.toml")
