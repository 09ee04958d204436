"""Fixes from the CLI sweep: no doubled field names in import errors, ``--currency`` checked up front,
impossible candles refused, no Python codec text in messages, ``basket show <directory>``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxreport.cli.gains_cmd import check_currency
from taxreport.cli.main import root
from taxreport.errors import InputError
from taxreport.exchanges.markets import load_fixture
from taxreport.exchanges.paper import PaperExchange
from taxreport.importers.base import ImportRefused
from taxreport.importers.mapped import load_mapping, parse_mapped
from taxreport.prices.candles import parse_ohlcv_csv
from taxreport.prices.csv_import import parse_rate_file
from taxreport.rebalance.basket import load_basket, resolve_basket

SAMPLES = Path(__file__).parent.parent / "sample_exports"
NOT_UTF8 = b'name = "x"\xff\n'  # the 0xff is byte 10 (counting from 0)


def _run(tmp_path: Path, *args: str):
    """The command on the (empty, existing) ledger in ``tmp_path`` (reading commands refuse a missing one)."""
    from taxreport.ledger import Ledger

    db = tmp_path / "ledger.sqlite3"
    if not db.exists():
        Ledger(f"sqlite:///{db}").close()
    return CliRunner().invoke(root, ["--db", str(db), *args], catch_exceptions=True)


def _problems(exc: ImportRefused) -> list[str]:
    return [str(p) for p in exc.problems]


# ------------------------------------------------------------------------------- 1. doubled field names

def test_rate_csv_errors_name_the_field_once(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("timestamp,base,quote,rate\n"
                 "2024-01-01,BTC,USD,abc\n"
                 "2024-01-01,B TC,USD,1\n"
                 "2024-01-01,BTC,U SD,1\n"
                 "xx,BTC,EUR,1\n"
                 "2024-01-01,BTC,EUR,-2\n")
    with pytest.raises(ImportRefused) as err:
        parse_rate_file(str(f))
    assert _problems(err.value) == [
        f"{f}:2: rate: 'abc' is not a number",
        f"{f}:3: base: 'B TC' is not an asset symbol",
        f"{f}:4: quote: 'U SD' is not an asset symbol",
        f"{f}:5: timestamp: 'xx' is not an ISO 8601 time",
        f"{f}:6: rate: must be greater than zero, got -2",
    ]


def test_rate_csv_with_a_date_column_names_that_column_once(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("date,base,quote,rate\nsoon,BTC,USD,1\n")
    with pytest.raises(ImportRefused) as err:
        parse_rate_file(str(f))
    assert _problems(err.value) == [f"{f}:2: date: 'soon' is not an ISO 8601 time"]


def test_prices_import_cli_shows_the_field_once(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("timestamp,base,quote,rate\n2024-01-01,BTC,USD,abc\n")
    result = _run(tmp_path, "prices", "import", str(f))
    assert result.exit_code != 0
    assert f"{f}:2: rate: 'abc' is not a number" in result.output
    assert "rate: rate:" not in result.output


MAPPING = """\
source = "kraken"
[time]
column = "time"
format = "unix"
zone = "UTC"
[columns]
side = "type"
symbol = "pair"
quantity = "vol"
price = "price"
id = "txid"
[symbol]
separator = "/"
[sides]
buy = ["buy"]
sell = ["sell"]
"""


def test_mapped_import_errors_name_the_column_once(tmp_path):
    mapping, data = tmp_path / "m.toml", tmp_path / "m.csv"
    mapping.write_text(MAPPING)
    data.write_text("time,type,pair,vol,price,txid\n"
                    "1704067200,buy,BTC/USD,abc,100,a\n"
                    "xyz,buy,BTC/USD,1,100,b\n"
                    "1704067200,buy,B TC/USD,1,100,c\n")
    with pytest.raises(ImportRefused) as err:
        parse_mapped(str(data), load_mapping(mapping), account="k:main")
    assert _problems(err.value) == [
        f"{data}:2: vol: 'abc' is not a number",
        f"{data}:3: time: 'xyz' does not match the format 'unix' ('xyz' is not a number)",
        f"{data}:4: pair: 'B TC' is not an asset symbol",  # base/quote come from the pair column
    ]


# ------------------------------------------------------------------------------------ 2. --currency

def test_check_currency_accepts_fiat_and_stablecoins_and_refuses_the_rest():
    assert check_currency(None) is None
    assert check_currency(" eur ") == "EUR"
    assert check_currency("usdt") == "USDT"
    for bad in ("NOTACOIN", "BTC", "", "E U R"):
        with pytest.raises(InputError) as err:
            check_currency(bad)
        assert str(err.value).startswith(f"--currency: {bad!r} is not a currency to report in; use a fiat code (")
        assert "GBP" in str(err.value) and "USDT" in str(err.value)


def test_gains_bad_currency_is_one_error_line_even_on_an_empty_ledger(tmp_path):
    # before the check, an empty ledger needed no rates and the bad code passed silently
    result = _run(tmp_path, "gains", "-j", "us", "-y", "2024", "--currency", "NOTACOIN")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --currency: 'NOTACOIN' is not a currency")


def test_gains_lower_case_fiat_currency_is_used(tmp_path):
    result = _run(tmp_path, "gains", "-j", "us", "-y", "2024", "--currency", "eur", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["currency"] == "EUR"


def test_export_bad_currency_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "f.csv"
    result = _run(tmp_path, "export", "form8949", "--year", "2024", "--currency", "NOTACOIN", "--out", str(out))
    assert result.exit_code == 1
    assert "error: --currency: 'NOTACOIN' is not a currency" in result.output
    assert not out.exists()
    folder = tmp_path / "all"
    result = _run(tmp_path, "export", "all", "-j", "us", "--year", "2024", "--currency", "BTC", "--out", str(folder))
    assert result.exit_code == 1
    assert "error: --currency: 'BTC' is not a currency" in result.output
    assert not folder.exists()


# --------------------------------------------------------------------------------- 3. impossible candles

def test_candles_with_impossible_high_or_low_are_refused(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("timestamp,symbol,open,high,low,close,volume\n"
                 "2024-01-01,BTC/USDT,10,10,10,10,1\n"   # flat candle: fine
                 "2024-01-02,BTC/USDT,10,9,11,10,1\n"    # high < low
                 "2024-01-03,BTC/USDT,10,11,9,12,1\n"    # high below close
                 "2024-01-04,BTC/USDT,12,11,9,10,1\n"    # high below open
                 "2024-01-05,BTC/USDT,10,12,11,11,1\n"   # low above open
                 "2024-01-06,BTC/USDT,11,12,11,10,1\n"   # low above close
                 "2024-01-07,BTC/USDT,10,12,9,11,1\n")   # fine
    with pytest.raises(ImportRefused) as err:
        parse_ohlcv_csv(f)
    assert _problems(err.value) == [
        f"{f}:3: high: 9 is below open/close/low",
        f"{f}:4: high: 11 is below open/close/low",
        f"{f}:5: high: 11 is below open/close/low",
        f"{f}:6: low: 11 is above open/close",
        f"{f}:7: low: 11 is above open/close",
    ]


def test_synthetic_sample_candles_still_import():
    candles = parse_ohlcv_csv(SAMPLES / "prices" / "synthetic_ohlcv_1d.csv")
    assert len(candles) == 2193  # 2194 lines minus the header
    assert all(c.low <= min(c.open, c.close) and c.high >= max(c.open, c.close) for c in candles)


# ------------------------------------------------------------------------------- 4. no codec text

def test_basket_file_not_utf8(tmp_path):
    f = tmp_path / "b.toml"
    f.write_bytes(NOT_UTF8)
    with pytest.raises(InputError) as err:
        load_basket(f)
    assert str(err.value) == f"{f}: not UTF-8 text (byte 10)"
    result = _run(tmp_path, "basket", "show", str(f))
    assert result.exit_code == 1
    assert result.output.strip() == f"error: {f}: not UTF-8 text (byte 10)"


def test_markets_json_not_utf8(tmp_path):
    f = tmp_path / "markets.json"
    f.write_bytes(NOT_UTF8)
    with pytest.raises(InputError) as err:
        load_fixture(f)
    assert str(err.value) == f"{f}: not UTF-8 text (byte 10)"
    assert "codec" not in str(err.value)


def test_paper_state_not_utf8(tmp_path):
    f = tmp_path / "state.json"
    f.write_bytes(NOT_UTF8)
    with pytest.raises(InputError) as err:
        PaperExchange.load(f)
    assert str(err.value) == f"{f}: not UTF-8 text (byte 10)"
    assert "codec" not in str(err.value)


def test_markets_and_state_still_report_bad_json(tmp_path):
    f = tmp_path / "x.json"
    f.write_text("{not json")
    with pytest.raises(InputError, match="cannot read market table: "):
        load_fixture(f)
    with pytest.raises(InputError, match="cannot read paper exchange state: "):
        PaperExchange.load(f)


# ------------------------------------------------------------------------------- 5. basket directory

def test_basket_show_directory_says_it_is_a_directory(tmp_path):
    folder = tmp_path / "baskets-folder"
    folder.mkdir()
    result = _run(tmp_path, "basket", "show", str(folder))
    assert result.exit_code == 1
    assert result.output.strip() == (f"error: {folder}: is a directory, not a basket file "
                                     "(give a .toml file or a basket name)")
    with pytest.raises(InputError, match="is a directory, not a basket file"):
        load_basket(folder)
    with pytest.raises(InputError, match="no such basket file"):  # a missing file keeps its message
        resolve_basket(str(tmp_path / "missing.toml"))


def test_basket_name_that_is_only_a_local_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mydir").mkdir()
    with pytest.raises(InputError) as err:
        resolve_basket("mydir")
    assert str(err.value) == "mydir: is a directory, not a basket file (give a .toml file or a basket name)"
