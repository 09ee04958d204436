"""``taxreport import csv``: the canonical trade CSV."""

from __future__ import annotations

from pathlib import Path

import click

from taxreport.cli.common import echo_json, format_option, open_ledger
from taxreport.cli.import_cmds import echo_summary
from taxreport.errors import TaxreportError


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
    from taxreport.importers.base import bar_total
    from taxreport.importers.fast_csv import encoded_stream, write_file

    # Every file is checked before anything is written: one bad file refuses the whole command. One file is
    # checked as it is written (one transaction, rolled back at a bad row: the file is never held whole);
    # several files are first read through once to check them all.
    if len(files) > 1:
        for path in files:
            check = encoded_stream(path, account=account)  # raises what iter_canonical_csv raises (fast_csv)
            try:
                for _ in check:
                    pass
            finally:
                check.close()
    new_file = new_ledger_file(ctx)
    # the first file's reading starts before the ledger is opened (its second process, if any, works meanwhile)
    first = encoded_stream(files[0], account=account)
    try:
        led = open_ledger(ctx)
    except BaseException:
        first.close()
        raise
    summaries = []
    try:
        for i, path in enumerate(files):
            summaries.append(write_file(led, path, account=account, actor="importer:csv", reason=f"import csv {path}",
                                        total=bar_total(path), chunks=first if i == 0 else None))
    except TaxreportError:
        drop_new_ledger(led, new_file)
        raise
    finally:
        first.close()
    if fmt == "json":
        echo_json([s.__dict__ for s in summaries])
        return
    for s in summaries:
        echo_summary(s.path, s.rows, s.added, s.duplicates)


def drop_new_ledger(led, new_file: Path | None) -> None:  # noqa: ANN001 - a Ledger
    """After a refused import: the ledger this command created (``new_file``) goes too, if nothing is in it."""
    if new_file is not None and led.count() == 0:
        led.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            new_file.with_name(new_file.name + suffix).unlink(missing_ok=True)


def new_ledger_file(ctx: click.Context) -> Path | None:
    """The SQLite file of ``--db`` when it does not exist yet (this command creates it), else None."""
    from taxreport.config import database_url
    from taxreport.ledger.store import sqlite_path

    path = sqlite_path(database_url(ctx.find_root().obj.get("db") if ctx.find_root().obj else None))
    return path if path is not None and not path.exists() else None
