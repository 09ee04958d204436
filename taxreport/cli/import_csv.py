"""``taxreport import csv``: the canonical trade CSV."""

from __future__ import annotations

import click

from taxreport.cli.common import echo_json, format_option, open_ledger


@click.command("csv")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--account", help="Account for rows whose account cell is empty, e.g. kraken:main.")
@format_option()
@click.pass_context
def import_csv(ctx: click.Context, files: tuple[str, ...], account: str | None, fmt: str) -> None:
    """Import trades from the canonical CSV: timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id,
    or events of every kind from its events form (a type column: trade, deposit, withdrawal, transfer,
    income, gift-in, gift-out, lost; see the README).

    Timestamps are ISO 8601 with an offset or Z; side is buy/sell; price is in the quote asset;
    fee may be empty. Every file is checked before anything is written; a file with any bad row
    refuses the whole command, naming every bad line and field. Each file is written in one transaction.

    \b
    Example:
      taxreport import csv trades.csv --account kraken:main
      taxreport import csv events.csv   # header type,timestamp,account,asset,quantity,...
    """
    from taxreport.importers.base import write_batch
    from taxreport.importers.canonical_csv import parse_canonical_csv

    # Every file is parsed before anything is written: one bad file refuses the whole command.
    batches = [parse_canonical_csv(path, account=account) for path in files]
    led = open_ledger(ctx)
    summaries = [write_batch(led, batch, actor="importer:csv", reason=f"import csv {batch.path}")
                 for batch in batches]
    if fmt == "json":
        echo_json([s.__dict__ for s in summaries])
        return
    for s in summaries:
        click.echo(f"{s.path}: {s.rows} rows, {s.added} added, {s.duplicates} duplicates (already in the ledger)")
