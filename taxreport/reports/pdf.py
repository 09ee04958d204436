"""The PDF year-end report: a summary of a few pages (jinja2 templates from the repository's
``templates/`` folder rendered by weasyprint, charts from :mod:`.charts`) followed by appendices drawn
by :mod:`.appendix` (reportlab) and joined with pypdf:

* the summary: headline figures, totals, the country's categories and figures, per-asset totals and
  chart, portfolio charts, holdings at year end summarised per asset and account, reconciliation,
  rebalances and ledger events summarised, notes. Its length does not grow with the number of
  disposals, lots or ledger events.
* Appendix A: every disposal, one line each, with column totals at the end (equal to the summary's);
  Appendix B: the rebalance log. Both say "page n of m" on every page.

WeasyPrint lays out HTML at ~0.4 s per page, so the long tables do not go through it (issue #14:
10,000 disposals took 507 s); the appendix pages are placed directly (see :mod:`.appendix`).

Safety (the report shows text from imported files: notes, account and basket names):

* jinja2 runs with **autoescaping on** and ``StrictUndefined``: imported text is always text, never
  markup, so ``<img src="file:///etc/passwd">`` in a note prints as those characters.
* weasyprint gets :class:`BundledOnlyFetcher`, a URL fetcher that serves only the bundled assets
  (the stylesheet and the chart images, under the ``taxreport:`` scheme) and refuses every other URL
  (``file:``, ``http(s):``, ``data:``…), recording what it refused. So even markup that reached the
  renderer could not read a local file or call the network.
* The appendices are drawn by reportlab from plain text (no markup, nothing fetched); text that could
  start a spreadsheet formula does not matter in a PDF, so it is printed as it is.

Reproducible: the only time in the file is :meth:`ReportData.generated_time` (``SOURCE_DATE_EPOCH`` when set,
:mod:`taxreport.clock`); WeasyPrint's summary, reportlab's appendix (``invariant=1``) and pypdf's join write
no /ID, no creation date and no random font subset names, so the same data and time give the same bytes
(tests/test_reproducible_outputs.py).

jinja2, matplotlib, weasyprint, reportlab and pypdf are imported inside the functions only. No tax rule
lives here.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from decimal import Decimal
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from taxreport.model.money import decimal_str, quantize_money
from taxreport.reports import appendix
from taxreport.reports.data import ReportData, audit_summary, breakdown_view, rebalance_summary
from taxreport.simulated import banner_note



def _templates_dir() -> Path:
    """The report templates: ``taxreport/templates`` inside an installed wheel (``templates/`` at the top
    of the repository is mapped there as package data, see pyproject.toml/setup.py), else the checkout's."""
    package = Path(__file__).resolve().parents[1] / "templates"
    return package if (package / "report.html").is_file() else Path(__file__).resolve().parents[2] / "templates"


TEMPLATES = _templates_dir()
SCHEME = "taxreport:"
DISCLAIMER = (
    "This summary was produced by taxreport, open-source software, from the transactions recorded in the "
    "user's ledger and the prices named above. It is not tax advice. Figures depend on the completeness of "
    "the imported records and on the lot-matching method shown; check them against your own records and "
    "the current rules of your tax authority, or have them reviewed by a qualified tax adviser, before filing.")
MAX_FINDINGS = 60
ROUNDING = ("Amounts are computed exactly and rounded half-up to the cent only for presentation; totals are "
            "rounded once from unrounded values, so a total can differ by one cent from the sum of the "
            "rounded lines above it.")


def bundled_fetcher(assets: dict[str, tuple[bytes, str]]) -> Any:
    """A weasyprint URL fetcher serving only ``assets`` (``{"taxreport:name": (body, mime type)}``)."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class BundledOnlyFetcher(URLFetcher):
        def __init__(self) -> None:
            super().__init__(timeout=1, allowed_protocols=("taxreport",), allow_redirects=False)
            self.assets = dict(assets)
            self.served: list[str] = []
            self.refused: list[str] = []

        def fetch(self, url: str, headers: Any = None) -> Any:  # noqa: ARG002 - weasyprint's signature
            if url in self.assets:
                body, mime = self.assets[url]
                self.served.append(url)
                return URLFetcherResponse(url, body=body, headers={"Content-Type": mime})
            self.refused.append(url)
            raise ValueError(f"taxreport refuses to fetch {url[:80]!r}: only bundled template assets are allowed")

    return BundledOnlyFetcher()


def _money(value: Decimal | None) -> str:
    """Rounded to the cent with thousands separators; a value that rounds to zero is ``0.00`` (never ``-0.00``:
    ``quantize_money``)."""
    return "" if value is None else f"{quantize_money(value):,}"


def _negative(value: Decimal | None) -> bool:
    """Shown in red only when the *presented* (rounded) amount is below zero."""
    return value is not None and quantize_money(value) < 0


@dataclass(frozen=True)
class Holding:
    """Open lots of one asset in one account (the pool for pooled countries), summarised."""

    asset: str
    account: str
    lots: int
    quantity: Decimal
    cost: Decimal
    acquired: str  # local dates: "2024-01-05" or "2024-01-05 – 2024-11-30", or "pool"


def holdings(summary: Any) -> list[Holding]:
    """The year-end open lots per (asset, account), in the summary's local dates."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for lot in summary.open_lots:
        groups.setdefault((lot.asset, lot.account or "all accounts (pooled)"), []).append(lot)
    out = []
    for (asset, account), lots in sorted(groups.items()):
        times = [lot.acquired_at for lot in lots if lot.acquired_at]
        # local dates keep the order of the instants: only the first and the last need converting
        days = [summary.local_date(min(times)), summary.local_date(max(times))] if times else []
        acquired = "pool" if not days else (days[0].isoformat() if days[0] == days[-1]
                                            else f"{days[0].isoformat()} – {days[-1].isoformat()}")
        out.append(Holding(asset, account, len(lots), sum((lot.quantity for lot in lots), Decimal(0)),
                           sum((lot.cost for lot in lots), Decimal(0)), acquired))
    return out


def _qty(value: Decimal | None) -> str:
    return "" if value is None else decimal_str(value)


def _jurisdiction(code: str) -> tuple[str, str]:
    """``(name, timezone)`` of a jurisdiction code; the code itself and UTC when the module is missing."""
    try:
        from taxreport.jurisdictions.base import get

        j = get(code)
        return j.name, j.timezone
    except Exception:  # noqa: BLE001 - the summary is still presentable without the module
        return code.upper(), "UTC"


def context(data: ReportData, assets: dict[str, tuple[bytes, str]],
            appendices: list[tuple[str, int, int]] | None = None) -> dict[str, Any]:
    """The template's variables. ``appendices``: ``(title, lines, pages)`` of each appendix that follows."""
    s = data.summary
    name, _ = _jurisdiction(s.jurisdiction)
    tz = s.timezone
    zone = ZoneInfo(tz)
    local = lambda t: t.astimezone(zone)  # noqa: E731
    last_day = local(s.year_end) - timedelta(microseconds=1)
    price_notes = [n for n in s.notes if any(w in n.lower() for w in ("price", "rate", "peg", "fx"))]
    other_notes = [n for n in s.notes if n not in price_notes]
    # one sign convention in every report: a loss is a negative amount
    totals = [("Proceeds (net of disposal fees)", s.proceeds), ("Allowable cost", s.cost), ("Gains", s.gains),
              ("Losses", -s.losses),
              ("Net gain", s.gain), ("Allowance / threshold", s.allowance), ("Taxable gain", s.taxable_gain)]
    view = breakdown_view(s.breakdown)
    recon = reconciliation_view(data.reconciliation)
    appendices = appendices or []
    return {
        "s": s, "jurisdiction_name": name, "timezone": tz,
        "period": f"{local(s.year_start):%d %B %Y} – {last_day:%d %B %Y}",
        "generated": data.generated_time(),
        "price_notes": price_notes, "other_notes": other_notes,
        "totals": totals, "breakdown": view.lines, "breakdown_groups": view.groups, "per_asset": data.per_asset,
        "disposal_count": len(s.disposals), "holdings": holdings(s),
        "rebalance_summary": rebalance_summary(data.rebalances), "audit": audit_summary(data.audit),
        "appendices": appendices, "chain_verified": data.chain_verified,
        "has_allocation": "taxreport:allocation.png" in assets, "has_values": "taxreport:values.png" in assets,
        "has_gains_chart": "taxreport:gains.png" in assets,
        "allocation_time": data.allocation_time, "value_currency": data.value_currency,
        "reconciliation": recon, "reconciliation_note": data.reconciliation_note,
        "disclaimer": DISCLAIMER, "rounding": ROUNDING, "local": local,
        # events helper (issue #12): income section; SIMULATED banner on every page
        "income": s.income, "simulated": simulated_accounts_of(s),
    }


def simulated_accounts_of(summary: Any) -> str:
    """The simulated accounts a summary made with --include-simulated names in its SIMULATED note, else ""
    (events helper, issue #12)."""
    note = banner_note(summary.notes)  # by its note code
    return note[note.find("(") + 1:note.find(")")] if "(" in note else ("simulated accounts" if note else "")


def reconciliation_view(report: Any) -> dict[str, Any] | None:
    """A presentable view of a :class:`taxreport.reconcile.report.ReconcileReport`: ``status``, ``ok``,
    summary ``lines`` and the ``findings`` that are not clean matches (at most :data:`MAX_FINDINGS`)."""
    if report is None:
        return None
    from taxreport.reconcile.output import finding_lines

    c = report.counts()
    lines = [("Account", report.account),
             ("Files", ", ".join(Path(f).name for f in report.files)),
             ("Period compared (UTC, end exclusive)", f"{report.start:%Y-%m-%d %H:%M} – {report.end:%Y-%m-%d %H:%M}"),
             ("Fills matched", str(c["matched"])), ("Fills with differences", str(c["mismatched"])),
             ("Fills only in the exchange history", str(c["only_in_okx"])),
             ("Fills only in the ledger", str(c["only_in_ledger"])),
             ("Assets whose running balances diverge", str(c["diverging_balances"])),
             ("Exchange rows not compared", str(len(report.not_compared)))]
    findings = [f for f in finding_lines(report) if f["finding"] not in ("matched", "balance_ok")]
    return {"ok": report.ok, "status": "reconciled" if report.ok else "differences found", "lines": lines,
            "findings": findings[:MAX_FINDINGS], "more": max(0, len(findings) - MAX_FINDINGS)}


def render_html(data: ReportData, assets: dict[str, tuple[bytes, str]],
                appendices: list[tuple[str, int, int]] | None = None) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = _money
    env.filters["qty"] = _qty
    env.filters["first_upper"] = lambda text: str(text)[:1].upper() + str(text)[1:]  # "Sa108 … 30 Oct", not "oct"
    env.tests["negative"] = _negative
    return env.get_template("report.html").render(**context(data, assets, appendices))


def chart_assets(data: ReportData) -> dict[str, tuple[bytes, str]]:
    from taxreport.reports import charts

    assets: dict[str, tuple[bytes, str]] = {}
    if data.allocation:
        assets["taxreport:allocation.png"] = (charts.allocation_chart(data.allocation), "image/png")
    if len(data.values) >= 1:
        assets["taxreport:values.png"] = (charts.value_chart(data.values, data.value_currency), "image/png")
    if data.per_asset:
        assets["taxreport:gains.png"] = (charts.gains_chart([(a.asset, a.gain) for a in data.per_asset],
                                                            data.summary.currency), "image/png")
    return assets


def disposals_table(data: ReportData) -> appendix.Table:
    """Appendix A: one line per disposal (local date, rounded amounts, exact quantity) and the column
    totals, summed from the unrounded lines and rounded once (they equal the summary's totals)."""
    s = data.summary
    zone = ZoneInfo(s.timezone)
    rows = []
    proceeds = cost = gain = Decimal(0)
    for n, d in enumerate(s.disposals, start=1):
        proceeds += d.proceeds
        cost += d.cost
        gain += d.gain
        rows.append((f"{n:,}", d.time.astimezone(zone).date().isoformat(), d.asset, _qty(d.quantity),
                     _money(d.proceeds), _money(d.cost), _money(d.gain), d.rule,
                     "exempt" if d.exempt else (d.term or ""), d.account))
    columns = (appendix.Column("#", "right"), appendix.Column("Date"), appendix.Column("Asset"),
               appendix.Column("Quantity", "right"), appendix.Column("Proceeds", "right"),
               appendix.Column("Cost", "right"),
               appendix.Column("Gain / loss", "right", negative_red=True),
               appendix.Column("Rule", wrap=True), appendix.Column("Term"), appendix.Column("Account", wrap=True))
    intro = (f"One line per disposal of the period, in {s.currency}, in the order the tax computation made them. "
             "Proceeds are net of disposal fees; cost includes acquisition fees; a loss is negative. Dates are "
             f"local dates in {s.timezone}, the dates the tax year and holding periods are decided on. Amounts "
             "are rounded to the cent for presentation; the totals are rounded once from the unrounded lines. "
             "Every lot matched to each disposal is listed in the XLSX workbook.")
    totals = (f"Total ({len(rows):,} disposals)", "", "", "", _money(proceeds), _money(cost), _money(gain), "", "", "")
    return appendix.Table("Appendix A: disposals", intro, columns, rows, totals, empty="No disposals in this period.")


def rebalances_table(data: ReportData) -> appendix.Table:
    """Appendix B: the rebalance log (one line per rebalance of the period)."""
    rows = [(r.time.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M"), r.basket, r.reason,
             _money(r.max_drift) if r.max_drift is not None else "", f"{r.orders:,}",
             f"{_money(r.total_value)} {r.quote}".strip() if r.total_value is not None else "", r.status)
            for r in data.rebalances]
    columns = (appendix.Column("Date (UTC)"), appendix.Column("Basket", wrap=True), appendix.Column("Trigger", wrap=True),
               appendix.Column("Max drift (pp)", "right"), appendix.Column("Orders", "right"),
               appendix.Column("Value before", "right"), appendix.Column("Status", wrap=True))
    intro = ("Every rebalance of the period from the rebalancer's records (trigger, plan, done): the largest drift "
             "from target in percentage points, the orders planned, the basket's value before trading.")
    return appendix.Table("Appendix B: rebalance log", intro, columns, rows, None,
                          empty="No rebalances recorded in this period.")


def render_pdf(data: ReportData) -> tuple[bytes, Any]:
    """``(pdf bytes, the fetcher used)``: the fetcher's ``served``/``refused`` lists show every URL
    weasyprint asked for."""
    import io
    import logging

    from pypdf import PdfReader, PdfWriter
    from weasyprint import HTML

    if not (TEMPLATES / "report.html").is_file():
        from taxreport.errors import TaxreportError

        raise TaxreportError(f"the PDF templates are missing: expected {TEMPLATES}/report.html (reinstall taxreport)")
    s = data.summary
    tables = [disposals_table(data)] + ([rebalances_table(data)] if data.rebalances else [])
    plans = [appendix.layout(t) for t in tables]
    listed = [(t.title, len(t.rows), len(p.pages)) for t, p in zip(tables, plans)]
    assets = {"taxreport:report.css": ((TEMPLATES / "report.css").read_bytes(), "text/css")}
    assets.update(chart_assets(data))
    html = render_html(data, assets, listed)
    fetcher = bundled_fetcher(assets)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    document = HTML(string=html, base_url=SCHEME, url_fetcher=fetcher).render()
    summary_pages = len(document.pages)
    summary_pdf = document.write_pdf()
    total = summary_pages + sum(len(p.pages) for p in plans)
    name, _ = _jurisdiction(s.jurisdiction)
    generated = data.generated_time()
    simulated = simulated_accounts_of(s)
    frame = appendix.Frame(
        scope=f"{name} · tax year {s.year} · {s.currency}",
        generated=f"Generated {generated:%Y-%m-%d %H:%M} UTC by taxreport",
        banner=f"SIMULATED: includes simulated accounts ({simulated}); not a tax figure" if simulated else "",
        first_pdf_page=summary_pages + 1, pdf_pages=total)
    appendix_pdf = appendix.render(plans, frame)
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(summary_pdf)))
    writer.append(PdfReader(io.BytesIO(appendix_pdf)), import_outline=False)
    page = summary_pages
    for (title, _, pages) in listed:  # a bookmark per appendix: a 2,000-page PDF stays navigable
        writer.add_outline_item(title=title, page_number=page)
        page += pages
    writer.add_metadata({"/Title": f"Capital gains summary {s.year} ({name})", "/Creator": "taxreport"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), fetcher


def export(data: ReportData, path: Any) -> Path:
    """Write the PDF atomically to ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    pdf, _ = render_pdf(data)
    tmp = target.with_name(target.name + ".partial")
    tmp.write_bytes(pdf)
    tmp.replace(target)
    return target
