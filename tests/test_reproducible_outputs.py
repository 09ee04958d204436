"""Reproducible outputs: with ``SOURCE_DATE_EPOCH`` set, the PDF, the XLSX workbook and the charts written
twice from the same ledger are the same bytes and say the epoch's time; without it they say the current
time (taxreport/clock.py quotes the reproducible-builds.org specification). The ledger's ``recorded_at``
follows only the explicit ``TAXREPORT_RECORDED_AT``. ``rebalance plan --format json`` names a basket file
under ``$TAXREPORT_HOME`` relative to it, so the demo's plan does not depend on where the clone is."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import zipfile
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from reports_fixtures import rebalance_records, sample_events, us_summary

from taxreport import clock
from taxreport.cli.main import root
from taxreport.errors import TaxreportError
from taxreport.ledger import Ledger
from taxreport.reports import charts, pdf, xlsx
from taxreport.reports import data as report_data

EPOCH = "1735689600"  # date -u -d 2025-01-01T00:00:00Z +%s
EPOCH_TIME = datetime(2025, 1, 1, tzinfo=timezone.utc)
SAMPLE = Path(__file__).parent.parent / "sample_exports" / "prices" / "synthetic_ohlcv_1d.csv"


def test_source_date_epoch_is_read_as_the_specification_says(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert clock.source_date_epoch() is None
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "")  # empty: unset
    assert clock.source_date_epoch() is None
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    assert clock.source_date_epoch() == EPOCH_TIME and clock.generation_time() == EPOCH_TIME
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert clock.generation_time() == datetime(1970, 1, 1, tzinfo=timezone.utc)
    # "an integer with no fractional component", "identical to the output format of `date +%s`"
    for bad in ("1735689600.5", "2025-01-01", " 1735689600", "1e9", "99999999999999999999"):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", bad)
        with pytest.raises(TaxreportError, match="^SOURCE_DATE_EPOCH=") as err:
            clock.generation_time()
        assert "\n" not in str(err.value)


def test_without_source_date_epoch_the_generation_time_is_now(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    before = datetime.now(timezone.utc)
    got = clock.generation_time()
    assert before <= got <= datetime.now(timezone.utc) and got.tzinfo is timezone.utc


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    path = tmp_path_factory.mktemp("repro") / "l.sqlite3"
    with Ledger(f"sqlite:///{path}") as led:
        led.append([*sample_events(), *rebalance_records()], actor="importer:test", reason="fixture")
        rows = list(led.rows())
    return report_data.collect(us_summary(), rows)  # no `now`: the report's time comes from taxreport.clock


def _pdf_text(blob: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(blob)).pages)


def test_pdf_twice_with_source_date_epoch_is_the_same_bytes(report, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    first, _ = pdf.render_pdf(report)
    second, _ = pdf.render_pdf(report)
    assert first == second
    text = _pdf_text(first)
    # the summary's line and every appendix page's footer
    assert text.count("Generated 2025-01-01 00:00 UTC by taxreport") >= 2
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(EPOCH) + 86400 + 3600 + 60))
    third, _ = pdf.render_pdf(report)
    assert "Generated 2025-01-02 01:01 UTC by taxreport" in _pdf_text(third)
    assert "2025-01-01 00:00" not in _pdf_text(third)


def test_pdf_without_source_date_epoch_says_the_current_time(report, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    before = datetime.now(timezone.utc)
    blob, _ = pdf.render_pdf(report)
    after = datetime.now(timezone.utc)
    text = _pdf_text(blob)
    assert any(f"Generated {t:%Y-%m-%d %H:%M} UTC by taxreport" in text for t in (before, after))


def _core_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return z.read("docProps/core.xml").decode()


def test_xlsx_twice_with_source_date_epoch_is_the_same_bytes(report, monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    a = xlsx.export(report, tmp_path / "a.xlsx")
    b = xlsx.export(report, tmp_path / "b.xlsx")
    assert a.read_bytes() == b.read_bytes()
    core = _core_xml(a)
    assert '<dcterms:created xsi:type="dcterms:W3CDTF">2025-01-01T00:00:00Z</dcterms:created>' in core
    assert '<dcterms:modified xsi:type="dcterms:W3CDTF">2025-01-01T00:00:00Z</dcterms:modified>' in core
    with zipfile.ZipFile(a) as z:  # XlsxWriter dates every entry itself (1980-01-31), not with the clock
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 31, 0, 0, 0)}


def test_xlsx_without_source_date_epoch_says_the_current_time(report, monkeypatch, tmp_path):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    core = _core_xml(xlsx.export(report, tmp_path / "now.xlsx"))
    after = datetime.now(timezone.utc)
    created = core.split('<dcterms:created xsi:type="dcterms:W3CDTF">')[1].split("<")[0]
    assert before <= datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) <= after


def test_report_charts_are_the_same_bytes(report):
    assert charts.value_chart(report.values, "USDT") == charts.value_chart(report.values, "USDT")
    assert charts.allocation_chart(report.allocation) == charts.allocation_chart(report.allocation)


def _backtest_charts(tmp_path: Path, name: str) -> dict[str, bytes]:
    basket = tmp_path / "core.toml"
    basket.write_text('name = "core"\nquote = "USDT"\nmode = "weekly"\n[weights]\nBTC = 50\nETH = 30\nSOL = 20\n',
                      encoding="utf-8")
    out = tmp_path / name
    res = CliRunner().invoke(root, ["--db", f"sqlite:///{tmp_path / 'bt.sqlite3'}", "backtest", "--basket", str(basket),
                                    "--candles", str(SAMPLE), "--from", "2023-01-01", "--to", "2023-03-31",
                                    "--compare", "buy-and-hold,weekly", "--jurisdiction", "us", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_backtest_charts_twice_with_source_date_epoch_are_the_same_bytes(monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    first, second = _backtest_charts(tmp_path, "one"), _backtest_charts(tmp_path, "two")
    assert sorted(first) == ["backtest_drift.png", "backtest_drift.svg", "backtest_value.png", "backtest_value.svg"]
    assert first == second
    svg = first["backtest_value.svg"].decode()
    assert "<dc:date>2025-01-01T00:00:00+00:00</dc:date>" in svg
    assert b"Software" not in first["backtest_value.png"]  # no matplotlib version in the PNG's text chunks


def test_backtest_svg_without_source_date_epoch_is_dated_now(monkeypatch, tmp_path):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    before = datetime.now(timezone.utc)
    svg = _backtest_charts(tmp_path, "now")["backtest_value.svg"].decode()
    dated = datetime.fromisoformat(svg.split("<dc:date>")[1].split("<")[0])
    assert before.replace(microsecond=0) <= dated <= datetime.now(timezone.utc)


def _recorded(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT recorded_at FROM events")}


def test_the_ledger_ignores_source_date_epoch_and_follows_only_taxreport_recorded_at(monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)  # a shell that sets it for builds must not date real rows
    monkeypatch.delenv("TAXREPORT_RECORDED_AT", raising=False)
    before = datetime.now(timezone.utc)
    with Ledger(f"sqlite:///{tmp_path / 'now.sqlite3'}") as led:
        led.append(sample_events()[:2], actor="importer:test", reason="fixture")
    (stamp,) = _recorded(tmp_path / "now.sqlite3")
    assert before <= datetime.fromisoformat(stamp.replace("Z", "+00:00")) <= datetime.now(timezone.utc)

    monkeypatch.setenv("TAXREPORT_RECORDED_AT", "2025-01-01T01:00:00+01:00")
    for name in ("a", "b"):
        with Ledger(f"sqlite:///{tmp_path / name}.sqlite3") as led:
            led.append(sample_events(), actor="importer:test", reason="fixture")
            assert led.verify().ok
    assert _recorded(tmp_path / "a.sqlite3") == {"2025-01-01T00:00:00.000000Z"}
    with sqlite3.connect(tmp_path / "a.sqlite3") as a, sqlite3.connect(tmp_path / "b.sqlite3") as b:
        query = "SELECT seq, hash FROM events ORDER BY seq"
        assert a.execute(query).fetchall() == b.execute(query).fetchall()  # the same chain, hash for hash


def test_a_malformed_taxreport_recorded_at_is_one_line_and_writes_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("TAXREPORT_RECORDED_AT", "2025-01-01 00:00")  # no zone: never guessed
    db = tmp_path / "l.sqlite3"
    csv = tmp_path / "t.csv"
    csv.write_text("timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id\n"
                   "2024-01-05T10:00:00Z,kraken:main,buy,BTC,USD,0.5,44000,22,USD,K-1\n", encoding="utf-8")
    res = CliRunner().invoke(root, ["--db", str(db), "import", "csv", str(csv)])
    assert res.exit_code != 0
    assert res.output.strip().splitlines()[-1] == ("error: TAXREPORT_RECORDED_AT='2025-01-01 00:00' is not an ISO 8601 "
                                                   "time with its zone (e.g. 2025-01-01T00:00:00Z); unset it to record "
                                                   "the current time")
    with Ledger(f"sqlite:///{db}") as led:
        assert list(led.rows()) == []


def _plan(*args: str) -> dict:
    res = CliRunner().invoke(root, ["rebalance", "plan", *args, "--paper", "--balances", "BTC=0.1,ETH=1,SOL=10.5",
                                    "--prices", "BTC=55000,ETH=2850,SOL=200", "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_plan_json_names_a_basket_under_taxreport_home_relative_to_it(monkeypatch, tmp_path):
    for home in (tmp_path / "one", tmp_path / "two"):  # two homes (two clones): the same JSON
        monkeypatch.setenv("TAXREPORT_HOME", str(home))
        res = CliRunner().invoke(root, ["basket", "create", "core", "--weights", "BTC=50,ETH=30,SOL=20"])
        assert res.exit_code == 0, res.output
        data = _plan("--basket", "core")
        assert data["basket_file"] == "$TAXREPORT_HOME/config/baskets/core.toml"
        assert Path(os.path.expandvars(data["basket_file"])) == home / "config" / "baskets" / "core.toml"
    # a relative TAXREPORT_HOME (the demo's is absolute; a user's may not be)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TAXREPORT_HOME", "one")
    assert _plan("--basket", "core")["basket_file"] == "$TAXREPORT_HOME/config/baskets/core.toml"


def test_plan_json_names_any_other_basket_file_as_given(monkeypatch, tmp_path):
    monkeypatch.setenv("TAXREPORT_HOME", str(tmp_path / "home"))
    mine = tmp_path / "mine.toml"
    mine.write_text('[weights]\nBTC = 50\nETH = 30\nSOL = 20\n', encoding="utf-8")
    assert _plan("--basket", str(mine))["basket_file"] == str(mine)
    monkeypatch.chdir(tmp_path)
    assert _plan("--basket", "mine.toml")["basket_file"] == "mine.toml"
    monkeypatch.delenv("TAXREPORT_HOME")  # no home: where the path is, as it is
    assert _plan("--basket", str(mine))["basket_file"] == str(mine)


def test_events_that_record_an_act_take_the_recording_time(monkeypatch, tmp_path):
    """`ledger basis` and `ledger reverse` write events whose time is the moment of the act: the ledger's
    recording clock (TAXREPORT_RECORDED_AT when set, else now), as the rows' recorded_at."""
    from taxreport.model.events import Deposit

    db = tmp_path / "l.sqlite3"
    with Ledger(f"sqlite:///{db}") as led:
        led.append([Deposit(time=datetime(2024, 6, 3, 9, tzinfo=timezone.utc), source="csv", external_id="D-1",
                            account="okx:main", asset="USDT", quantity=Decimal("10000"))],
                   actor="importer:test", reason="fixture")
    before = datetime.now(timezone.utc)
    res = CliRunner().invoke(root, ["--db", str(db), "ledger", "basis", "deposit:csv:D-1", "--cost", "10000",
                                    "--cost-currency", "USD"])
    assert res.exit_code == 0, res.output
    monkeypatch.setenv("TAXREPORT_RECORDED_AT", "2025-05-01T00:00:00Z")
    res = CliRunner().invoke(root, ["--db", str(db), "ledger", "reverse", "deposit:csv:D-1", "--reason", "test"])
    assert res.exit_code == 0, res.output
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT kind, time FROM events"))
    basis = datetime.fromisoformat(rows["basis"].replace("Z", "+00:00"))
    assert before <= basis <= datetime.now(timezone.utc)
    assert rows["reversal"] == "2025-05-01T00:00:00.000000Z"
