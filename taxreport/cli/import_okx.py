"""``taxreport import okx``: OKX trading and funding history CSV exports (every known variant)."""

from __future__ import annotations

from datetime import tzinfo

import click

from taxreport.cli.common import echo_json, format_option, okx_time_zone_option, open_ledger


@click.command("okx")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--account", default="okx:main", show_default=True,
              help="Ledger account the OKX history belongs to (trading and funding rows alike).")
@click.option("--show-ignored/--no-show-ignored", default=True, show_default=True,
              help="List every ignored and already-recorded row with its reason.")
@okx_time_zone_option()
@format_option()
@click.pass_context
def import_okx(ctx: click.Context, files: tuple[str, ...], account: str, show_ignored: bool,
               time_zone: tuple[tzinfo, str] | None, fmt: str) -> None:
    """Import OKX trading-history (T0-T5) and funding-history (F1, F1', F2) CSV exports.

    The variant is recognised from the header row (after OKX's optional metadata line and BOM); the
    metadata line's "Time Zone:UTC+H" is applied to the Time column (absent: --time-zone, else UTC;
    check the time zone column of the summary against your OKX display time zone). Each file is
    checked against OKX's own balance columns and written in one transaction; a file with any bad
    row is refused whole, naming file:line and column. Re-importing a file, or an overlapping
    export of a longer period, adds nothing and counts the duplicates. Transfers, staking, savings
    and dust moves are not disposals: they are listed as ignored with the reason. Simple Earn
    subscriptions/redemptions become transfers to/from ACCOUNT:earn, Deposit yield is income,
    Convert rows are trades. OKX's 8-decimal rounding (at most 1e-8 per row) and breaks in OKX's
    own running-balance chain are reported, never silently absorbed. Fills the
    rebalancer already recorded (same OKX order id, or the same fill) and deposits/withdrawals
    already in the account (same asset and amount within 10 minutes) are reported, not imported.

    \b
    Examples:
      taxreport import okx trading-history.csv funding-history.csv
      taxreport import okx okx-2024.csv okx-2025.csv --account okx:main --format json
      taxreport import okx "OKX Funding History.csv" --time-zone Europe/Rome
    """
    from taxreport.errors import TaxreportError
    from taxreport.importers.okx import import_okx_file
    led = open_ledger(ctx)
    summaries = []
    failed: list[str] = []
    for path in files:
        try:
            summaries.append(import_okx_file(led, path, account=account, zone_if_none=time_zone))
        except TaxreportError as exc:
            if len(files) == 1:
                raise
            failed.append(str(exc))
            click.echo(f"error: {exc}", err=True)
    if fmt == "json":
        echo_json([s.__dict__ for s in summaries] + [{"error": e} for e in failed])
    else:
        _print(summaries, show_ignored)
    if failed:
        raise TaxreportError(f"{len(failed)} of {len(files)} files refused (nothing written from them); "
                             "the others were imported")


def _print(summaries, show_ignored: bool) -> None:  # noqa: ANN001
    from taxreport.cli.import_cmds import print_okx_summaries  # fitted to the terminal: a path is never split

    print_okx_summaries(summaries, show_ignored)
