"""The PDF summary: totals in the extracted text, repeated table headers, and the safety rules
(autoescaping, a URL fetcher that refuses everything but the bundled assets)."""

from __future__ import annotations

import dataclasses
import io

import pytest
from pypdf import PdfReader
from reports_fixtures import rebalance_records, sample_events, t, us_summary

from taxreport.jurisdictions.base import DisposalResult
from taxreport.lots.types import LotMatch
from taxreport.model.money import D
from taxreport.reports import data as report_data
from taxreport.reports import pdf

EVIL_FILE = '<img src="file:///etc/passwd">'
EVIL_HTTP = '<img src="http://127.0.0.1:9/track.png">'


def _text(blob: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(blob)).pages]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from taxreport.ledger import Ledger

    path = tmp_path_factory.mktemp("pdf") / "l.sqlite3"
    led = Ledger(f"sqlite:///{path}")
    led.append([*sample_events(), *rebalance_records()], actor="importer:test", reason="fixture")
    summary = us_summary()
    # hostile text in imported data: an account name and a note
    d = summary.disposals[0]
    summary.disposals[0] = dataclasses.replace(d, account=EVIL_FILE)
    summary.notes.append(EVIL_HTTP)
    data = report_data.collect(summary, list(led.rows()))
    led.close()
    blob, fetcher = pdf.render_pdf(data)
    return blob, fetcher, "\n".join(_text(blob))


def test_totals_in_the_text(rendered):
    _, _, text = rendered
    # hand-computed in reports_fixtures.us_summary
    for figure in ("15,192.86", "9,012.28", "6,186.20", "5.63", "6,180.57", "3,980.57", "2,200.00",
                   "7,142.85", "-5.63", "1,050.01"):
        assert figure in text, figure
    for words in ("Capital gains year-end summary", "United States", "tax year 2024", "fifo",
                  "synthetic daily closes", "Reconciliation", "Rebalance log", "Disclaimer", "not tax advice"):
        assert words in text, words
    assert "12,500.50 USDT" in text  # rebalance log: value before the second rebalance


def test_hostile_text_is_printed_not_fetched(rendered):
    blob, fetcher, text = rendered
    assert fetcher.refused == []  # nothing but the bundled assets was even requested
    assert set(fetcher.served) == {"taxreport:report.css", "taxreport:allocation.png", "taxreport:values.png"}
    flat = text.replace("\n", "")
    assert "file:///etc/passwd" in flat and "127.0.0.1:9/track.png" in flat  # shown as text
    assert "root:x:0:0" not in text


def test_fetcher_refuses_everything_but_bundled_assets():
    from weasyprint import HTML

    fetcher = pdf.bundled_fetcher({"taxreport:a.css": (b"p { color: red }", "text/css")})
    assert fetcher.fetch("taxreport:a.css").read() == b"p { color: red }"
    for url in ("file:///etc/passwd", "http://127.0.0.1:9/x", "https://example.com/x", "data:text/plain,hi",
                "taxreport:other.css"):
        with pytest.raises(ValueError, match="refuses"):
            fetcher.fetch(url)
    # and through weasyprint itself, with raw markup that bypassed the templates
    fetcher = pdf.bundled_fetcher({})
    blob = HTML(string=f'<p>x</p>{EVIL_FILE}<link rel="stylesheet" href="http://127.0.0.1:9/s.css">'
                       '<img src="/etc/hostname">', base_url="taxreport:", url_fetcher=fetcher).write_pdf()
    assert "file:///etc/passwd" in fetcher.refused
    assert "http://127.0.0.1:9/s.css" in fetcher.refused
    assert b"root:x:0:0" not in blob and "root:" not in "".join(_text(blob))


def test_autoescape_is_on():
    html = pdf.render_html(report_data.collect(_with_account(EVIL_FILE), []), {})
    assert EVIL_FILE not in html
    assert "&lt;img src=&#34;file:///etc/passwd&#34;&gt;" in html


def _with_account(account: str):
    s = us_summary()
    s.disposals[0] = dataclasses.replace(s.disposals[0], account=account)
    return s


def test_long_disposal_table_paginates_with_repeated_header():
    s = us_summary()
    lot = LotMatch(quantity=D("1"), cost=D("10"), acquired_at=t("2024-01-01T00:00:00"), account="a",
                   lot_ref="x#1", rule="fifo")
    s.disposals = [DisposalResult(time=t("2024-05-01T00:00:00"), account="a", asset="BTC", quantity=D("1"),
                                  proceeds=D("11"), cost=D("10"), gain=D("1"), lots=(lot,), rule="fifo",
                                  term="short") for _ in range(150)]
    blob, fetcher = pdf.render_pdf(report_data.collect(s, []))
    pages = _text(blob)
    table_pages = [p for p in pages if "2024-05-01" in p]
    assert len(table_pages) >= 3
    assert all("Gain / loss" in p and "Proceeds" in p for p in table_pages)  # thead repeated on every page
    assert fetcher.refused == []


def test_reconciliation_section_shows_the_report():
    from taxreport.reconcile.report import FillRef, ReconcileReport

    fill = FillRef(side_of="okx", key="trade:okx:1", origin="okx.csv:2", time=t("2024-04-01T10:00:00"), side="buy",
                   base="BTC", quote="USDT", quantity=D("0.01"), price=D("60000"), fee=D("0.00001"),
                   fee_asset="BTC", order_id="O1")
    report = ReconcileReport(account="okx:main", files=("/data/okx.csv",), variants=("T4",),
                             start=t("2024-01-01T00:00:00"), end=t("2025-01-01T00:00:00"), tolerance=D("0.000001"),
                             only_in_okx=(fill,))
    html = pdf.render_html(report_data.collect(us_summary(), [], reconciliation=report), {})
    assert "differences found" in html
    assert "Fills only in the exchange history</td><td class=\"num\">1" in html
    assert "okx.csv" in html and "/data/" not in html  # file names only, no local paths
    assert "only in okx" in html and "0.01" in html
    clean = ReconcileReport(account="okx:main", files=("okx.csv",), variants=("T4",), start=t("2024-01-01T00:00:00"),
                            end=t("2025-01-01T00:00:00"), tolerance=D("0.000001"))
    html = pdf.render_html(report_data.collect(us_summary(), [], reconciliation=clean), {})
    assert "status ok" in html and ">reconciled<" in html
