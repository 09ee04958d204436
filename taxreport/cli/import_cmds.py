"""``taxreport import …``: bring trades and other events into the ledger. Each format is its own lazily loaded command."""

from __future__ import annotations

import click

from taxreport.cli.lazy import LazyGroup

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

    echo_line(f"{path}: {rows} rows, {added} added, {duplicates} duplicates (already in the ledger)")
