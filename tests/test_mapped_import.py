"""The generic column-mapped CSV importer."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taxreport.cli.main import root
from taxreport.errors import InputError, TaxreportError
from taxreport.importers.base import ImportRefused, write_batch
from taxreport.importers.mapped import load_mapping, parse_mapped
from taxreport.ledger import Ledger

from conftest import FIXTURES

MAPPED = FIXTURES / "mapped"
D = Decimal


def test_symbol_cost_and_fractional_seconds():
    b = parse_mapped(MAPPED / "kraken.csv", load_mapping(MAPPED / "kraken.toml"), account="kraken:main")
    buy, sell = b.events
    assert buy.time == datetime(2024, 3, 1, 12, 0, 0, 500000, tzinfo=timezone.utc)
    # cost 2500 EUR / 0.05 BTC = 50000
    assert (buy.side, buy.base, buy.quote, buy.quantity, buy.price) == ("buy", "BTC", "EUR", D("0.05"), D("50000"))
    assert (buy.fee, buy.fee_asset, buy.order_id, buy.external_id) == (D("4"), "EUR", "OA1", "kraken:main/TX1")
    assert (sell.side, sell.price, sell.fee) == ("sell", D("52000"), D("1.664"))  # 1040 / 0.02
    assert buy.natural_key == "trade:kraken:kraken:main/TX1"


def test_local_zone_with_dst_skip_lines_semicolons_and_negative_fees():
    b = parse_mapped(MAPPED / "local.csv", load_mapping(MAPPED / "local.toml"), account="bp:main")
    summer, winter = b.events
    assert summer.time == datetime(2024, 7, 1, 8, 15, tzinfo=timezone.utc)  # 10:15 CEST = UTC+2
    assert winter.time == datetime(2024, 1, 15, 8, 0, tzinfo=timezone.utc)  # 09:00 CET = UTC+1
    assert (summer.side, summer.fee, summer.fee_asset) == ("buy", D("1.5"), "EUR")  # -1.5 in the file = charged
    assert winter.side == "sell" and b.origins == [f"{MAPPED / 'local.csv'}:3", f"{MAPPED / 'local.csv'}:4"]


def test_bad_rows_name_file_line_and_column(tmp_path):
    p = tmp_path / "k.csv"
    p.write_text("txid,ordertxid,pair,time,type,ordertype,price,cost,fee,vol\n"
                 "T1,O1,BTCEUR,2024-03-01 12:00:00.0,buy,limit,1,1,0,1\n"
                 "T2,O2,BTC/EUR,2024-03-01 12:00:00.0,hold,limit,1,1,0,1\n"
                 "T3,O3,BTC/EUR,yesterday,buy,limit,1,1,0,1\n"
                 "T4,O4,BTC/EUR,2024-03-01 12:00:00.0,buy,limit,1,x,0,1\n")
    with pytest.raises(ImportRefused) as info:
        parse_mapped(p, load_mapping(MAPPED / "kraken.toml"), account="k:main")
    got = [(e.line, e.field) for e in info.value.problems]
    assert got == [(2, "pair"), (3, "type"), (4, "time"), (5, "cost")]
    assert "'x' is not a number" in info.value.problems[3].reason


@pytest.mark.parametrize("toml, key", [
    ('source = "x"\n[time]\ncolumn = "t"\n[columns]\nside = "s"\nquantity = "q"\nprice = "p"\n', "columns.symbol"),
    ('source = "x"\n[time]\ncolumn = "t"\n[columns]\nside = "s"\nsymbol = "y"\nquantity = "q"\n', "columns.price"),
    ('[time]\ncolumn = "t"\n[columns]\nside = "s"\n', "source"),
    ('source = "x"\n[columns]\nside = "s"\nsymbol = "y"\nquantity = "q"\nprice = "p"\n', "time.column"),
    ('source = "x"\n[time]\ncolumn = "t"\nzone = "Mars/Olympus"\n[columns]\nside = "s"\nsymbol = "y"\n'
     'quantity = "q"\nprice = "p"\n', "time.zone"),
    ('source = "x"\n[time]\ncolumn = "t"\n[columns]\nside = "s"\nsymbol = "y"\nquantity = "q"\nprice = "p"\n'
     'colour = "c"\n', "columns"),
])
def test_bad_mappings_are_refused(tmp_path, toml, key):
    p = tmp_path / "m.toml"
    p.write_text(toml)
    with pytest.raises(InputError) as info:
        load_mapping(p)
    assert info.value.field == key


def test_missing_columns_and_idempotent_import(ledger, tmp_path):
    p = tmp_path / "k.csv"
    p.write_text("txid,time\nT1,2024-01-01\n")
    with pytest.raises(InputError, match="lacks the mapped columns"):
        parse_mapped(p, load_mapping(MAPPED / "kraken.toml"), account="k:main")
    batch = parse_mapped(MAPPED / "kraken.csv", load_mapping(MAPPED / "kraken.toml"), account="k:main")
    assert write_batch(ledger, batch, actor="importer:kraken", reason="t").added == 2
    again = write_batch(ledger, batch, actor="importer:kraken", reason="t")
    assert (again.added, again.duplicates) == (0, 2)


def test_cli(tmp_path):
    db = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    runner = CliRunner()
    res = runner.invoke(root, ["--db", db, "import", "mapped", str(MAPPED / "kraken.csv"), "--mapping",
                               str(MAPPED / "kraken.toml"), "--account", "kraken:main"])
    assert res.exit_code == 0, res.output
    assert "2 rows, 2 added, 0 duplicates" in res.output
    res = runner.invoke(root, ["--db", db, "import", "mapped", str(MAPPED / "kraken.csv"), "--mapping",
                               str(MAPPED / "kraken.toml"), "--account", "kraken:main"])
    assert "0 added, 2 duplicates" in res.output


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    led = Ledger(f"sqlite:///{tmp_path_factory.mktemp('m') / 'l.sqlite3'}")
    yield led
    led.close()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.text(max_size=200))
def test_garbage_never_crashes_or_writes(shared, tmp_path_factory, body):
    p = tmp_path_factory.mktemp("g") / "g.csv"
    p.write_text("txid,ordertxid,pair,time,type,ordertype,price,cost,fee,vol\n" + body, encoding="utf-8")
    before = shared.count()
    try:
        batch = parse_mapped(p, load_mapping(MAPPED / "kraken.toml"), account="k:main")
    except TaxreportError:
        pass
    else:
        assert len(batch.events) <= body.count("\n") + 1
    assert shared.count() == before  # parsing never writes


def test_unix_times_and_absurd_numbers(tmp_path):
    m = tmp_path / "m.toml"
    m.write_text('source = "x"\n[time]\ncolumn = "t"\nformat = "unix_ms"\n[columns]\nside = "s"\nsymbol = "p"\n'
                 'quantity = "q"\nprice = "r"\n')
    p = tmp_path / "x.csv"
    p.write_text("t,s,p,q,r\n1700000000123,buy,BTC/USD,1,30000\n1E+999999999,buy,BTC/USD,1,1\n"
                 "1700000000000,buy,BTC/USD,1E+99999,1\n")
    with pytest.raises(ImportRefused) as info:
        parse_mapped(p, load_mapping(m), account="x:main")
    assert [(e.line, e.field) for e in info.value.problems] == [(3, "t"), (4, "q")]
    p.write_text("t,s,p,q,r\n1700000000123,buy,BTC/USD,1,30000\n")
    (t,) = parse_mapped(p, load_mapping(m), account="x:main").events
    assert t.time == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=timezone.utc)
