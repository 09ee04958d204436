"""``taxreport export …``: Koinly and CoinTracker CSV, Form 8949 CSV, the HMRC computation CSV, the XLSX
workbook, the PDF summary, and ``all`` of them into one folder. The formats are documented in their
modules under :mod:`taxreport.reports`; XlsxWriter, matplotlib, weasyprint and reportlab load only when used."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click

from taxreport import progress
from taxreport.cli.common import echo_json, format_option, open_ledger, print_table
from taxreport.cli.gains_options import gains_options, request_from_flags
from taxreport.errors import InputError


def _year_options(need_jurisdiction: bool, simulated_flag: bool = False) -> Callable:
    def deco(f: Callable) -> Callable:
        f = click.option("--year", "-y", required=True, help="Tax year as the country writes it: 2024, or 2024-25 "
                         "for uk/au.")(f)
        f = click.option("--jurisdiction", "-j", required=need_jurisdiction, default=None,
                         help="Country code: us, uk, de, au, ca." + (
                             "" if need_jurisdiction else " Decides the year's bounds (default: calendar year, UTC)."))(f)
        f = click.option("--account", "accounts", multiple=True,
                         help="Only this account (repeatable). Default: every account.")(f)
        f = click.option("--out", "-o", default=None, type=click.Path(),
                         help="Output file, or an existing folder to write the descriptive name into "
                         "(default: that name in the current folder).")(f)
        if simulated_flag:  # events helper (issue #12); the gains exports get it from gains_options
            f = click.option("--include-simulated", is_flag=True,
                             help="Put simulated accounts (paper, local venue) back in; not a tax report then.")(f)
        return f
    return deco



def _out_path(kw: dict, default_name: str | Path) -> Path:
    """``--out``: a file, or an existing folder (then the format's descriptive name inside it, as ``export all``
    does), never the folder itself; default: the descriptive name in the current folder."""
    out = kw.get("out")
    if not out:
        return Path(default_name)
    path = Path(out)
    return path / Path(default_name).name if path.is_dir() else path

def _events(ctx: click.Context, kw: dict[str, Any]) -> list:
    """The ledger's events (chain verified; reversals and supplied cost bases applied) without simulated
    accounts unless --include-simulated; a year with blocking review items is refused (events helper,
    issue #12)."""
    from taxreport.gains import load_events
    from taxreport.model.legs import effective_events
    from taxreport.prepare import apply_basis
    from taxreport.review import refuse_blocking
    from taxreport.simulated import without_simulated

    ledger = open_ledger(ctx, readonly=True, must_exist=True)
    stored = load_events(ledger)
    refuse_blocking(ledger, stored, jurisdiction=kw.get("jurisdiction"), year=kw["year"],
                    options={"include_simulated": bool(kw.get("include_simulated"))}, verify=False)
    return apply_basis(without_simulated(effective_events(stored), include=bool(kw.get("include_simulated"))))


def _summary(ctx: click.Context, kw: dict[str, Any]):  # noqa: ANN202 - YearSummary
    """The gains of the export's request (the same flags and engine path as ``taxreport gains``)."""
    return _computed(ctx, kw)[1]


def _computed(ctx: click.Context, kw: dict[str, Any]) -> tuple[list, Any]:
    """``(the ledger's events, the request's YearSummary)`` from **one** verified read of the ledger (pinned:
    the chain is walked once). The summary is the one ``taxreport gains`` computes and keeps in the derived
    cache (:func:`taxreport.gains.gains_for_years`: verified, blocking review items refused, computed, stored),
    so an export after a ``gains`` or another export of the same request reads it instead of computing it,
    and a ``gains`` after an export reads it too."""
    from taxreport.gains import gains_for_years, load_events

    ledger = open_ledger(ctx, readonly=True, must_exist=True)
    request = _request(kw)
    with ledger.pinned():
        summary = gains_for_years(ledger, request, [request.year])[request.year]
        return load_events(ledger), summary


def _tx_events(events: list, kw: dict[str, Any]) -> list:
    """The Koinly/CoinTracker events of an already verified read (as :func:`_events` makes them)."""
    from taxreport.model.legs import effective_events
    from taxreport.prepare import apply_basis
    from taxreport.simulated import without_simulated

    return apply_basis(without_simulated(effective_events(events), include=bool(kw.get("include_simulated"))))


def _request(kw: dict[str, Any]):  # noqa: ANN202 - GainsRequest
    request = request_from_flags(kw["jurisdiction"], kw["year"], kw)
    if kw.get("form8949_reporting"):
        request = request.with_options(form8949_reporting=kw["form8949_reporting"])
    return request


def _bounds(jurisdiction: str | None, year: str):  # noqa: ANN202
    from taxreport.jurisdictions.calendar import calendar_year_bounds

    if jurisdiction:
        from taxreport.jurisdictions.base import get

        return get(jurisdiction).year_bounds(year)
    return calendar_year_bounds(year, "UTC")


def _tx_export(ctx: click.Context, fmt_name: str, kw: dict[str, Any], only_year: bool) -> tuple[Path, int, list]:
    """Write the Koinly or CoinTracker CSV (the registry's writer); ``(path, rows written, the rows)``."""
    from taxreport.reports.registry import FORMATS
    from taxreport.reports.txrows import tx_rows

    fmt = FORMATS[fmt_name]
    start, end = _bounds(kw.get("jurisdiction"), kw["year"])
    events = _events(ctx, kw)  # events helper (issue #12): simulated accounts out unless asked
    path = _out_path(kw, fmt.path(kw.get("jurisdiction"), kw["year"]))
    rows = tx_rows(events, start=start if only_year else None, end=end, accounts=list(kw.get("accounts") or ()) or None)
    with progress.step(f"Writing {path}", len(rows)):  # speed helper (issue 14): a spinner on long work
        n = fmt.write(rows, path)
    return path, n, rows


def _tx_notes(fmt_name: str, rows: list) -> list[str]:
    """What the user must know about rows the format cannot fully express (one line each)."""
    from taxreport.reports.registry import FORMATS
    from taxreport.reports.txrows import simulated_note

    notes = FORMATS[fmt_name].notes
    return [n for n in [simulated_note(rows, fmt_name), *(notes(rows) if notes else [])] if n]


def _form_export(ctx: click.Context, fmt_name: str, kw: dict[str, Any]) -> Any:
    """A country form (Form 8949, the HMRC computation) from the request's summary: the country must offer
    it (its Policy.forms; default: the one country that does) and simulated accounts are refused."""
    from taxreport.reports.registry import FORMATS, refuse_simulated

    fmt = FORMATS[fmt_name]
    kw["jurisdiction"] = kw.get("jurisdiction") or fmt.countries()[0]
    fmt.check_country(kw["jurisdiction"])
    refuse_simulated(fmt, bool(kw.get("include_simulated")))
    path = _out_path(kw, fmt.path(kw["jurisdiction"], kw["year"]))
    summary = _summary(ctx, kw)
    with progress.step(f"Writing {path}", len(summary.disposals)):  # speed helper (issue 14)
        n = fmt.write(summary, path)  # dates, boxes and matching as the computation chose them
    _done(path, fmt.describe(None, n))
    return summary


def _schedule_d_table(summary: Any) -> None:
    """Where each box's Form 8949 line 2 goes on Schedule D (the form's line 2 says which line), with the
    printed totals (the sums of the printed rows, as in the CSV's Totals rows)."""
    from taxreport.reports.cells import money
    from taxreport.reports.form8949 import box_totals

    totals = box_totals(summary)
    if not totals:
        click.echo("no disposals in the year: no Form 8949 lines and nothing for Schedule D lines 1b-3, 8b-10")
        return
    print_table(f"Schedule D (Form 1040) {summary.year}: Form 8949 line 2 totals",
                [("Schedule D line", "left"), ("Form 8949", "left"), ("rows", "right"), ("(d) proceeds", "right"),
                 ("(e) cost", "right"), ("(g) adjustment", "right"), ("(h) gain or (loss)", "right")],
                [[t.schedule_d_line, f"Part {t.part}, box {t.box}", t.rows, money(t.proceeds), money(t.cost),
                  money(t.adjustment), money(t.gain)] for t in totals])


def _report_data(ctx: click.Context, summary: Any, events: list, recon_files: tuple[str, ...],
                 recon_account: str | None) -> Any:
    """Everything the workbook and the PDF show, from the summary, the ledger's events (read and verified
    once by :func:`_computed`) and the stored rows of the tax year (read by time in SQL, for the audit
    trail and the rebalance records)."""
    from taxreport.clock import generation_time
    from taxreport.reports.data import collect

    ledger = open_ledger(ctx, readonly=True, must_exist=True)
    report, note = None, "not run for this report (add --reconcile-okx FILE to include it)"
    if recon_files:
        from taxreport.reconcile import reconcile_okx

        report = reconcile_okx(ledger, list(recon_files), account=recon_account or "okx:main",
                               start=summary.year_start, end=summary.year_end)
    rows = list(ledger.rows(start=summary.year_start, end=summary.year_end))
    from taxreport.simulated import banner_note, simulated_accounts  # audit rows of real accounts (issue #12)

    sim = set() if banner_note(summary.notes) else set(simulated_accounts(events))
    rows = [r for r in rows if not sim.intersection(r.event.accounts)] if sim else rows
    # the summary came from load_events, which verified the hash chain (taxreport.gains)
    return collect(summary, rows, reconciliation=report, reconciliation_note=note,
                   now=generation_time(), chain_verified=True)


def _done(path: Path, what: str) -> None:
    click.echo(f"wrote {path} ({what})")


@click.group()
def export() -> None:
    """Year-end exports for tax software and accountants.

    \b
    Examples:
      taxreport export koinly --year 2024 --out koinly-2024.csv
      taxreport export cointracker --year 2024 --account okx:main
      taxreport export form8949 --year 2025 --jurisdiction us --reporting not-reported
      taxreport export hmrc --year 2024-25 --jurisdiction uk
      taxreport export xlsx --year 2024 --jurisdiction de
      taxreport export pdf --year 2024 --jurisdiction us --reconcile-okx okx-trades.csv
      taxreport export all --year 2024 --jurisdiction us --out exports/
    """


def _rows_command(name: str, doc: str, only_year_help: str) -> None:
    """Add ``export NAME`` for the registry's rows format ``name`` (Koinly, CoinTracker): one file."""

    def command(ctx: click.Context, only_year: bool, **kw: Any) -> None:
        path, n, rows = _tx_export(ctx, name, kw, only_year)
        _done(path, f"{n} rows")
        for note in _tx_notes(name, rows):
            click.echo(note, err=True)

    command.__doc__ = doc  # the --help text (click reads it when the command is made, below)
    made = click.option("--only-year", is_flag=True, help=only_year_help)(click.pass_context(command))
    export.command(name)(_year_options(need_jurisdiction=False, simulated_flag=True)(made))


_rows_command("koinly", """Koinly universal CSV: every ledger event (trades, fees, deposits, withdrawals, income, transfers).

    \b
    Examples:
      taxreport export koinly --year 2024
      taxreport export koinly --year 2024-25 --jurisdiction uk --account okx:main --out okx.csv
    """, "Only the year's rows (default: all history up to the year's end, which Koinly needs for cost basis).")

_rows_command("cointracker", """CoinTracker CSV (exactly its 8 columns). Lists rows whose category must be set in CoinTracker.

    \b
    Examples:
      taxreport export cointracker --year 2024
      taxreport export cointracker --year 2024 --account kraken:main --out kraken.csv
    """, "Only the year's rows (default: all history up to the year's end).")


@export.command("form8949")
@_year_options(need_jurisdiction=False)
@gains_options(accounts=False)
@click.option("--reporting", type=click.Choice(["reported", "not-reported", "none"]), default=None,
              help="What your broker's Form 1099-DA/1099-B shows: basis reported (A/D, G/J), basis not "
              "reported (B/E, H/K) or no form (C/F, I/L). Default: none before 2025, not-reported from 2025.")
@click.pass_context
def form8949_cmd(ctx: click.Context, reporting: str, **kw: Any) -> None:
    """US Form 8949 lines (columns a-h), Part I short-term and Part II long-term, with the box; then each
    box's totals and the Schedule D line they go on (1b/2/3 short-term, 8b/9/10 long-term).

    \b
    Examples:
      taxreport export form8949 --year 2024
      taxreport export form8949 --year 2025 --reporting not-reported --method hifo
    """
    if reporting:
        kw["form8949_reporting"] = reporting
    _schedule_d_table(_form_export(ctx, "form8949", kw))


@export.command("hmrc")
@_year_options(need_jurisdiction=False)
@gains_options(accounts=False)
@click.pass_context
def hmrc_cmd(ctx: click.Context, **kw: Any) -> None:
    """UK computation: each disposal's matching (same day, 30 days, s104 pool) and the pool after it.

    \b
    Examples:
      taxreport export hmrc --year 2024-25
      taxreport export hmrc --year 2024-25 --out hmrc.csv
    """
    _form_export(ctx, "hmrc", kw)


@export.command("xlsx")
@_year_options(need_jurisdiction=True)
@gains_options(accounts=False)
@click.pass_context
def xlsx_cmd(ctx: click.Context, **kw: Any) -> None:
    """Workbook: summary, per asset, disposals with lots, open lots, rebalances, audit trail.

    \b
    Examples:
      taxreport export xlsx --year 2024 --jurisdiction us
      taxreport export xlsx --year 2024-25 --jurisdiction uk --out uk.xlsx
    """
    from taxreport.reports.registry import FORMATS

    fmt = FORMATS["xlsx"]
    events, summary = _computed(ctx, kw)
    data = _report_data(ctx, summary, events, (), None)
    out = _out_path(kw, fmt.path(kw["jurisdiction"], kw["year"]))
    with progress.step(f"Writing {out}", len(data.audit)):  # speed helper (issue 14)
        path = fmt.write(data, out)
    _done(path, f"{len(data.summary.disposals)} disposals, {len(data.audit)} ledger events")


@export.command("pdf")
@_year_options(need_jurisdiction=True)
@gains_options(accounts=False)
@click.option("--reconcile-okx", "recon_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="OKX CSV history to reconcile against the ledger for the year and include (repeatable).")
@click.option("--reconcile-account", default=None, help="Ledger account for --reconcile-okx (default okx:main).")
@click.pass_context
def pdf_cmd(ctx: click.Context, recon_files: tuple[str, ...], reconcile_account: str | None, **kw: Any) -> None:
    """PDF: a few-page summary (totals, per asset, charts, holdings per asset, reconciliation, audit), then
    Appendix A (every disposal, with totals) and Appendix B (the rebalance log).

    \b
    Examples:
      taxreport export pdf --year 2024 --jurisdiction us
      taxreport export pdf --year 2024 -j us --reconcile-okx trades.csv --reconcile-account okx:main
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from taxreport.reports.registry import FORMATS

    fmt = FORMATS["pdf"]
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True) as progress:
        task = progress.add_task("computing gains…")
        events, summary = _computed(ctx, kw)
        data = _report_data(ctx, summary, events, recon_files, reconcile_account)
        progress.update(task, description="rendering PDF…")
        path = fmt.write(data, _out_path(kw, fmt.path(kw["jurisdiction"], kw["year"])))
    _done(path, fmt.describe(data, path))


@export.command("all")
@_year_options(need_jurisdiction=True)
@gains_options(accounts=False)
@click.option("--reconcile-okx", "recon_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="OKX CSV history to reconcile and include in the PDF (repeatable).")
@click.option("--reconcile-account", default=None, help="Ledger account for --reconcile-okx (default okx:main).")
@format_option()
@click.pass_context
def all_cmd(ctx: click.Context, recon_files: tuple[str, ...], reconcile_account: str | None, fmt: str,
            **kw: Any) -> None:
    """Every export for the year into the folder --out (default: exports-<year>), then list the files.

    Koinly, CoinTracker, the XLSX workbook and the PDF always; Form 8949 for us, the HMRC computation
    for uk. The gains are computed first: if that fails, nothing is written.

    \b
    Examples:
      taxreport export all --year 2024 --jurisdiction us --out exports/
      taxreport export all --year 2024-25 --jurisdiction uk --out exports/ --format json
    """
    from rich.progress import BarColumn, Progress, TextColumn

    from taxreport.reports.background import Background
    from taxreport.reports.registry import offered
    from taxreport.reports.txrows import simulated_note, tx_rows

    j, year = kw["jurisdiction"].lower(), kw["year"]
    folder = Path(kw.get("out") or f"exports-{year}")
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} exists and is not a folder", field="--out")
    accounts = list(kw.get("accounts") or ()) or None
    include_simulated = bool(kw.get("include_simulated"))
    formats = offered(j)  # the registry's formats this country offers (its Policy.forms for country forms)
    held_back = [f for f in formats if f.filing and include_simulated]  # a filing form never mixes simulated
    formats = [f for f in formats if f not in held_back]
    results: dict[str, tuple[Path, str]] = {}
    notes: list[str] = []
    rows: list = []
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  transient=True) as progress:
        task = progress.add_task("computing gains…", total=len(formats) + 1)
        stored, summary = _computed(ctx, kw)  # one verified read of the ledger for every file
        data = _report_data(ctx, summary, stored, recon_files, reconcile_account)
        inputs: dict[str, Any] = {"summary": summary, "report": data}
        folder.mkdir(parents=True, exist_ok=True)
        # the workbook (the longest file) is written by a forked child while this process writes the rest,
        # started as soon as its input is ready (before the rows of the CSV formats are built)
        children = {f.name: Background(f.write, inputs[f.needs], folder / f.path(j, year))
                    for f in formats if f.background and f.needs != "rows"}
        if any(f.needs == "rows" for f in formats):  # one set of rows for every rows format
            events = _tx_events(stored, kw)  # events helper (issue #12): simulated accounts out unless asked
            rows = tx_rows(events, end=summary.year_end, accounts=accounts)
            del events
        inputs["rows"] = rows
        del stored
        children.update({f.name: Background(f.write, rows, folder / f.path(j, year))
                         for f in formats if f.background and f.needs == "rows"})
        progress.advance(task)
        for f in formats:
            if f.background:
                continue
            progress.update(task, description=f"{f.name}…")
            value = inputs[f.needs]
            result = f.write(value, folder / f.path(j, year))
            results[f.name] = (Path(result) if isinstance(result, Path) else folder / f.path(j, year),
                               f.describe(value, result))
            if f.notes and f.notes_in_all:
                notes.extend(f.notes(value))
            progress.advance(task)
        for f in formats:
            if f.background:
                progress.update(task, description=f"{f.name}…")
                results[f.name] = (Path(children[f.name].wait()), f.describe(inputs[f.needs], None))
                progress.advance(task)
    if any(f.needs == "rows" for f in formats):
        notes.insert(0, simulated_note(rows, "all"))
    notes.extend(f"note: {f.name} not written: a filing form has no column to mark simulated trades "
                 "(--include-simulated)" for f in held_back)
    for note in notes:
        if note:
            click.echo(note, err=True)
    listing = [{"format": f.name, "path": str(results[f.name][0]), "bytes": results[f.name][0].stat().st_size,
                "content": results[f.name][1]} for f in formats]
    if fmt == "json":
        echo_json({"folder": str(folder), "files": listing})
        return
    print_table(f"Exports for {j.upper()} {year} in {folder}", [("format", "left"), ("file", "left"),
                                                               ("bytes", "right"), ("content", "left")],
                [(x["format"], x["path"], str(x["bytes"]), x["content"]) for x in listing])
