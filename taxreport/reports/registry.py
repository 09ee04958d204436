"""The export formats, one entry each: what the format needs, its default file name, its pure writer,
and which countries offer it (issue #13 item 3: exporters are pure formatters in a registry).

``taxreport export all`` writes every format of :data:`FORMATS` the country offers (:func:`offered`), in
this order; the per-format commands in :mod:`taxreport.cli.export_cmds` are thin wrappers driven by the
same entries (file name, writer, which countries). A country form (``form=True``: Form 8949, the HMRC
computation) is offered where the country's :class:`taxreport.jurisdictions.base.Policy` lists it in
``forms``; every other format is offered everywhere.

What a format needs (``needs``):

* ``"rows"``: the ledger's events laid out as :class:`taxreport.reports.txrows.TxRow` (Koinly, CoinTracker);
* ``"summary"``: the year's :class:`taxreport.jurisdictions.base.YearSummary` (Form 8949, HMRC);
* ``"report"``: :class:`taxreport.reports.data.ReportData` (the summary plus audit trail, rebalances,
  reconciliation: the XLSX workbook and the PDF).

A filing form (``filing=True``) is handed to a tax authority: it has no column that could say a row is
simulated, so it is never written from a summary that includes simulated accounts
(:func:`refuse_simulated`). The writers import their heavy libraries (XlsxWriter, WeasyPrint,
reportlab) only when called.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

from taxreport.errors import InputError

Needs = Literal["rows", "summary", "report"]


def _writer(module: str, name: str) -> Callable[[Any, Path], Any]:
    """``module.name`` imported when first called (keeps ``import taxreport.cli`` light)."""

    def write(value: Any, path: Path) -> Any:
        return getattr(importlib.import_module(module), name)(value, path)

    write.__qualname__ = f"{module}.{name}"
    return write


def _rows(value: Any, result: Any) -> str:
    return f"{result} rows"


@dataclass(frozen=True)
class Format:
    """One export format."""

    name: str  # the `taxreport export NAME` command and the format's name in `export all`'s listing
    needs: Needs
    file_name: str  # default file name: {year} the tax year, {j} the country code (or "all")
    write: Callable[[Any, Path], Any]  # pure writer: (rows | summary | report data, path) -> count or path
    describe: Callable[[Any, Any], str] = _rows  # (input, writer's result) -> the listing's "content"
    form: bool = False  # a country form: offered where the country's Policy.forms lists `name`
    filing: bool = False  # filed with a tax authority: refused when simulated accounts are included
    scope: str = ""  # a country form's one-line scope ("Form 8949 is a US form") for refusals
    notes: Callable[[Sequence[Any]], list[str]] | None = None  # what the user must know about the rows
    notes_in_all: bool = True  # `export all` prints `notes` too (False: `describe` already says it)
    background: bool = False  # `export all` writes it in a forked child (reports/background.py)

    def path(self, jurisdiction: str | None, year: str) -> str:
        return self.file_name.format(year=year, j=(jurisdiction or "all").lower())

    def countries(self) -> list[str]:
        """The country codes that offer this format (every country for a non-form format)."""
        from taxreport.jurisdictions.base import codes, get

        return [c for c in codes() if not self.form or self.name in get(c).policy.forms]

    def offered_by(self, jurisdiction: str | None) -> bool:
        if not self.form:
            return True
        if not jurisdiction:
            return False
        from taxreport.jurisdictions.base import get

        return self.name in get(jurisdiction).policy.forms

    def check_country(self, jurisdiction: str) -> None:
        """Raise the one-line refusal when ``jurisdiction`` does not offer this form."""
        if not self.offered_by(jurisdiction):
            default = self.countries()
            use = f"; use --jurisdiction {default[0]}" if default else ""
            raise InputError(f"{self.scope or self.name + ' is not offered here'}{use}, not {jurisdiction!r}",
                             field="--jurisdiction")


def refuse_simulated(fmt: Format, include_simulated: bool) -> None:
    """A filing form is never made from simulated accounts: its columns cannot say a row is simulated,
    and a filer must not mix paper trades into a return without noticing."""
    if fmt.filing and include_simulated:
        raise InputError(f"{fmt.name} is a filing form and has no column to mark simulated trades; run it "
                         "without --include-simulated (use export xlsx/pdf/koinly to see simulated accounts)",
                         field="--include-simulated")


def koinly_notes(rows: Sequence[Any]) -> list[str]:
    from taxreport.reports import koinly

    gifts = koinly.untagged_gifts(rows)
    if not gifts:
        return []
    return [f"note: {len(gifts)} received gifts are plain deposits (Koinly documents no tag for a received gift "
            "and values an untagged deposit at market price): set their cost basis in Koinly where the donor's "
            "basis applies (it is in the Description when known)"]


def cointracker_notes(rows: Sequence[Any]) -> list[str]:
    from taxreport.reports import cointracker

    untagged = [r for r in rows if cointracker.needs_manual_tag(r)]
    if not untagged:
        return []
    kinds = sorted({r.income_type or r.purpose or r.kind for r in untagged})
    return [f"note: {len(untagged)} CoinTracker rows have no tag ({', '.join(kinds)}); CoinTracker documents no "
            "CSV tag we could verify for them: set their category in CoinTracker after import"]


def _cointracker_content(rows: Sequence[Any], n: Any) -> str:
    from taxreport.reports import cointracker

    untagged = sum(cointracker.needs_manual_tag(r) for r in rows)
    return f"{n} rows" + (f"; {untagged} need a category set in CoinTracker" if untagged else "")


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("koinly", "rows", "koinly-{year}.csv", _writer("taxreport.reports.koinly", "write"),
           notes=koinly_notes),
    Format("cointracker", "rows", "cointracker-{year}.csv", _writer("taxreport.reports.cointracker", "write"),
           describe=_cointracker_content, notes=cointracker_notes, notes_in_all=False),
    Format("form8949", "summary", "form8949-{year}.csv", _writer("taxreport.reports.form8949", "export"),
           form=True, filing=True, scope="Form 8949 is a US form"),
    Format("hmrc", "summary", "hmrc-computation-{year}.csv", _writer("taxreport.reports.hmrc", "export"),
           form=True, filing=True, scope="the HMRC computation is for the UK"),
    Format("xlsx", "report", "taxreport-{j}-{year}.xlsx", _writer("taxreport.reports.xlsx", "export"),
           describe=lambda data, _path: f"{len(data.audit)} events", background=True),
    Format("pdf", "report", "taxreport-{j}-{year}.pdf", _writer("taxreport.reports.pdf", "export"),
           describe=lambda data, _path: f"{len(data.summary.disposals)} disposals"),
)}


def offered(jurisdiction: str | None) -> list[Format]:
    """The formats ``jurisdiction`` offers, in :data:`FORMATS` order (the order ``export all`` lists)."""
    return [f for f in FORMATS.values() if f.offered_by(jurisdiction)]
