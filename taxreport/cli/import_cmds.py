"""``taxreport import …``: bring trades and other events into the ledger. Each format is its own lazily loaded command."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from taxreport.cli.lazy import LazyGroup

if TYPE_CHECKING:
    from taxreport.importers.okx import OkxImportSummary

IMPORTERS: dict[str, tuple[str, str]] = {
    "csv": ("taxreport.cli.import_csv:import_csv", "Import the canonical trade CSV (any exchange)."),
    "okx": ("taxreport.cli.import_okx:import_okx", "Import OKX trading and funding history CSV exports."),
    "mapped": ("taxreport.cli.import_mapped:import_mapped", "Import another exchange's CSV with a column mapping."),
    "koinly": ("taxreport.cli.import_records:import_koinly", "Import Koinly Universal CSV files."),
    "bittytax": ("taxreport.cli.import_records:import_bittytax", "Import BittyTax transaction records (CSV)."),
}


@click.group("import", cls=LazyGroup, lazy=IMPORTERS)
def import_group() -> None:
    """Import trades into the ledger. A file with a bad row is refused whole; re-importing adds nothing.

    \b
    Examples:
      taxreport import csv trades.csv --account kraken:main
      taxreport import okx trading-history.csv funding-history.csv --account okx:main
      taxreport import koinly koinly-2024.csv
      taxreport import bittytax records.csv
    """


def echo_summary(path: str, rows: int, added: int, duplicates: int) -> None:
    """The line an import prints per file (``import csv`` and ``import mapped``): on a terminal wrapped between
    words (:func:`taxreport.cli.fit.echo_line`: a long path never split), piped exactly as it is."""
    from taxreport.cli.fit import echo_line

    # (a duplicate is a row whose key is stored already or came earlier in the same file, e.g. the same id twice:
    # the ledger skips both alike, so the line never claims "already in the ledger" for the second kind)
    echo_line(f"{path}: {rows} rows, {added} added, {duplicates} duplicates "
              "(already in the ledger or earlier in the file)")


def print_okx_summaries(summaries: Sequence[OkxImportSummary], show_ignored: bool) -> None:
    """``import okx``'s summary: one row per file, then per file its notes, the breaks in OKX's own balance chain,
    its 8-decimal roundings and (``show_ignored``) the rows not imported. The tables are fitted to the terminal
    (:func:`taxreport.cli.fit.print_fitted`: a path, a row's ``file:line`` or a figure is never split; too narrow
    for a table, one line of ``header=value`` fields per row), the notes wrapped between words on a terminal."""
    from taxreport.cli.fit import Col, echo_line, print_fitted

    print_fitted("OKX import",
                 [Col("file"), Col("variant"), Col("time zone", wrap=True), Col("rows", "right"),
                  Col("added", "right"), Col("dup", "right"), Col("ignored", "right"), Col("known", "right"),
                  Col("rounded", "right"), Col("gaps", "right")],
                 [(s.path, s.variant, s.time_zone, s.rows, s.added, s.duplicates, len(s.ignored),
                   len(s.already_recorded), len(s.rounding), len(s.gaps)) for s in summaries],
                 caption="dup = already in the ledger or earlier in the file (same key); known = already recorded by the rebalancer "
                         "(same OKX order or fill) or by hand (same deposit/withdrawal)")

    def rows(title: str, why: str, items: Sequence[tuple[str, str]], caption: str | None = None) -> None:
        print_fitted(title, [Col("row"), Col(why, wrap=True)], list(items), caption=caption)

    for s in summaries:
        for note in s.notes:
            echo_line(f"note: {s.path}: {note}")
        if s.gaps:
            rows(f"{s.path}: OKX's running balance does not follow from row to row", "gap", s.gaps,
                 "reported, not refused: each row itself is consistent")
        if s.rounding:
            rows(f"{s.path}: OKX's 8-decimal rounding (≤ 1e-8 per row, balance change kept)", "difference",
                 s.rounding)
    if show_ignored:
        for s in summaries:
            if s.ignored or s.already_recorded:
                rows(f"{s.path}: rows not imported", "why", [*s.ignored, *s.already_recorded])
