"""``taxreport import mapped``: another exchange's trade CSV, read through a TOML column mapping."""

from __future__ import annotations

import click

from taxreport.cli.common import echo_json, format_option, open_ledger
from taxreport.cli.import_cmds import echo_summary


@click.command("mapped")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--mapping", "mapping_path", required=True, type=click.Path(dir_okay=False),
              help="TOML file naming the columns (time with format and zone, side, symbol or base/quote, "
                   "quantity, price or cost, fee, fee asset, id).")
@click.option("--account", required=True, help="Ledger account, e.g. kraken:main.")
@format_option()
@click.pass_context
def import_mapped(ctx: click.Context, files: tuple[str, ...], mapping_path: str, account: str, fmt: str) -> None:
    """Import trades from any exchange's CSV with a column mapping (one row = one fill).

    Each file is written in one transaction; a file with any bad row is refused whole, naming
    file:line and the column. Rows with an id column are idempotent (re-importing adds nothing);
    without one, a row's content identifies it. See README.md ("Other exchanges: a column mapping") for every
    mapping key.

    \b
    Examples:
      taxreport import mapped kraken-trades.csv --mapping kraken.toml --account kraken:main
      taxreport import mapped trades.csv --mapping mymap.toml --account bybit:main --format json
    """
    from taxreport.importers.base import bar_total, write_stream
    from taxreport.importers.mapped import iter_mapped, load_mapping

    mapping = load_mapping(mapping_path)
    led = open_ledger(ctx)
    summaries = []
    for path in files:  # each file written as it is read, in one transaction (a bad row rolls it back)
        summaries.append(write_stream(led, path, iter_mapped(path, mapping, account=account),
                                      actor=f"importer:{mapping.source}",
                                      reason=f"import mapped {path} with {mapping_path}",
                                      total=bar_total(path, skip=1 + mapping.skip_lines)))
    if fmt == "json":
        echo_json([s.__dict__ for s in summaries])
        return
    for s in summaries:
        echo_summary(s.path, s.rows, s.added, s.duplicates)
