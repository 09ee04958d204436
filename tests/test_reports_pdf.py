"""The PDF: a summary of a few pages (WeasyPrint) plus appendices (reportlab): totals in the extracted
text, the appendix's totals equal to the summary's, page counts that scale, "page n of m" headers, and
the safety rules (autoescaping, a URL fetcher that refuses everything but the bundled assets)."""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta

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
                  "synthetic daily closes", "Reconciliation", "Appendix B: rebalance log", "Disclaimer",
                  "not tax advice"):
        assert words in text, words
    assert "12,500.50 USDT" in text  # rebalance log: value before the second rebalance


def test_hostile_text_is_printed_not_fetched(rendered):
    blob, fetcher, text = rendered
    assert fetcher.refused == []  # nothing but the bundled assets was even requested
    assert set(fetcher.served) == {"taxreport:report.css", "taxreport:allocation.png", "taxreport:values.png",
                                   "taxreport:gains.png"}
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
    s = us_summary()
    s.notes.append(EVIL_FILE)
    s.open_lots[0] = dataclasses.replace(s.open_lots[0], account=EVIL_HTTP)
    html = pdf.render_html(report_data.collect(s, []), {})
    assert EVIL_FILE not in html and EVIL_HTTP not in html
    assert "&lt;img src=&#34;file:///etc/passwd&#34;&gt;" in html
    assert "&lt;img src=&#34;http://127.0.0.1:9/track.png&#34;&gt;" in html  # the holdings table


def _disposals(n: int, *, account: str = "okx:main") -> list[DisposalResult]:
    """``n`` disposals of 0.5 BTC: proceeds 110.005, cost 100, gain 10.005 (odd) or a loss of 10.005 (even:
    proceeds 89.995)."""
    lot = LotMatch(quantity=D("0.5"), cost=D("100"), acquired_at=t("2024-01-01T00:00:00"), account=account,
                   lot_ref="x#1", rule="fifo")
    out = []
    for i in range(1, n + 1):
        proceeds = D("110.005") if i % 2 else D("89.995")
        out.append(DisposalResult(time=t("2024-05-01T00:00:00"), account=account, asset="BTC", quantity=D("0.5"),
                                  proceeds=proceeds, cost=D("100"), gain=proceeds - D("100"), lots=(lot,), rule="fifo",
                                  term="short"))
    return out


def _pages(blob: bytes) -> tuple[list[str], list[str]]:
    """(summary pages, appendix pages) of a rendered PDF's text."""
    pages = _text(blob)
    first = next(i for i, p in enumerate(pages) if p.startswith("Appendix A: disposals (page 1 of"))
    return pages[:first], pages[first:]


def test_appendix_totals_equal_the_summary(rendered):
    """us_summary's three disposals (hand arithmetic in reports_fixtures.us_summary): Appendix A lists them
    with local dates and exact quantities, and its totals are the summary's: proceeds 15,192.855 ->
    15,192.86, cost 9,012.283 -> 9,012.28, net gain 6,180.572 -> 6,180.57."""
    blob, _, _ = rendered
    summary, appendix = _pages(blob)
    assert len(appendix) == 2  # A: disposals (one page), B: the two rebalances
    a = appendix[0]
    assert "Appendix A: disposals (page 1 of 1)" in a
    assert "2024-03-12 BTC 0.1 7,142.85 4,404.40 2,738.45 fifo short" in a
    assert "2024-08-05 SOL 10 1,050.01 1,055.63 -5.63 fifo short kraken:main" in a
    assert "Total (3 disposals) 15,192.86 9,012.28 6,180.57" in a
    assert "Proceeds\n15,192.86 USD" in summary[0] or "15,192.86 USD" in summary[0]
    assert "Appendix A: disposals: 3 lines on 1 page" in summary[0]  # the cover announces the appendices
    assert "Appendix B: rebalance log (page 1 of 1)" in appendix[1]
    assert "2024-06-03 00:00 demo schedule 1.00 2 12,500.50 USDT completed" in appendix[1]
    n = len(summary) + len(appendix)
    assert f"PDF page {len(summary) + 1} of {n}" in a and f"PDF page {n} of {n}" in appendix[1]


def test_summary_stays_short_and_the_appendix_scales():
    """150 and 1,500 disposals: the summary has the same number of pages; Appendix A grows about tenfold,
    repeats its header row and says "page n of m" on every page; its totals equal the summary's.
    Totals: 750 gains of 10.005 and 750 losses of 10.005 -> net 0.00; proceeds 750 * 110.005 +
    750 * 89.995 = 150,000.00; cost 1,500 * 100 = 150,000.00."""
    counts = {}
    for n in (150, 1500):
        s = us_summary()
        s.disposals = _disposals(n)
        if n == 1500:
            s.proceeds, s.cost, s.gain = D("150000.000"), D("150000"), D("0")
        blob, fetcher = pdf.render_pdf(report_data.collect(s, []))
        assert fetcher.refused == []
        summary, appendix = _pages(blob)
        counts[n] = (len(summary), len(appendix))
        m = len(appendix)
        for i, page in enumerate(appendix, start=1):
            assert f"Appendix A: disposals (page {i} of {m})" in page
            assert "# Date Asset Quantity Proceeds Cost Gain / loss Rule Term Account" in page
        assert f"{n:,} 2024-05-01 BTC 0.5 " in appendix[-1]
    assert counts[150][0] == counts[1500][0] <= 5
    assert 8 * counts[150][1] <= counts[1500][1] <= 11 * counts[150][1]
    assert "Total (1,500 disposals) 150,000.00 150,000.00 0.00" in appendix[-1]


def test_open_lots_are_summarised_per_asset_and_account():
    """5,000 open lots (2,500 BTC and 2,500 ETH of 0.01 each, cost 1.5 each): two holdings lines, not 5,000:
    BTC 2,500 lots, quantity 25, cost 3,750.00, acquired 2024-01-01 (hour 0) to 2024-07-27 (hour 4,998 =
    208 days 6 hours); the summary stays as short as with one lot."""
    from taxreport.lots.types import OpenLot

    s = us_summary()
    s.open_lots = [OpenLot(account="okx:main", asset=("BTC", "ETH")[i % 2], quantity=D("0.01"), cost=D("1.5"),
                           acquired_at=t("2024-01-01T00:00:00") + timedelta(hours=i), lot_ref=f"l#{i}")
                   for i in range(5000)]
    lines = pdf.holdings(s)
    assert [(h.asset, h.lots, h.quantity, h.cost) for h in lines] == [("BTC", 2500, D("25.00"), D("3750.0")),
                                                                     ("ETH", 2500, D("25.00"), D("3750.0"))]
    blob, _ = pdf.render_pdf(report_data.collect(s, []))
    summary, _ = _pages(blob)
    base, _ = _pages(pdf.render_pdf(report_data.collect(us_summary(), []))[0])
    assert len(summary) == len(base)
    assert "BTC okx:main 2,500 25 3,750.00 2024-01-01 – 2024-07-27" in "\n".join(summary).replace("\n", " ")


def test_appendix_wraps_long_text_and_keeps_every_character():
    """A long account name wraps inside its column (nothing cut off); non-ASCII text is drawn in DejaVu
    Sans like the rest; a loss is drawn as a negative amount."""
    s = us_summary()
    long_name = "kraken:Geschäftskonto-München-Sparplan-2024-sehr-lang"
    s.disposals = _disposals(2, account=long_name)
    blob, _ = pdf.render_pdf(report_data.collect(s, []))
    _, appendix = _pages(blob)
    flat = appendix[0].replace("\n", "")
    assert long_name in flat.replace(" ", "")
    assert "-10.01" in appendix[0]  # 89.995 - 100 = -10.005 -> -10.01 (half-up)


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
