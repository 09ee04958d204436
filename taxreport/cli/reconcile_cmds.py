"""``taxreport reconcile …``: check an exchange's own history against the ledger before filing."""

from __future__ import annotations

from datetime import tzinfo

import click

from taxreport.cli.common import echo_json, format_option, okx_time_zone_option, open_ledger, parse_when
from taxreport.cli.fit import echo_line
from taxreport.reconcile.report import NotReconciled


@click.group()
def reconcile() -> None:
    """Compare an exchange's history with the ledger; exit non-zero when they disagree.

    \b
    Examples:
      taxreport reconcile okx trading-history.csv funding-history.csv --basket core
      taxreport reconcile okx okx-2025.csv --account okx:main --from 2025-01-01 --to 2025-12-31 \\
          --csv reconcile.csv
    """


@reconcile.command("okx")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--basket", default=None, help="Basket name or .toml file: compare its account.")
@click.option("--account", default=None, help="Ledger account (default: the basket's, else okx:main).")
@click.option("--from", "start", default=None, help="Start (YYYY-MM-DD, UTC midnight, inclusive). "
                                                   "Default: the first OKX row.")
@click.option("--to", "end", default=None, help="End (YYYY-MM-DD, inclusive day). Default: the last OKX row.")
@click.option("--tolerance", default="0.000001", show_default=True,
              help="Relative tolerance for quantity, price, fee and balances.")
@click.option("--out", "-o", "--csv", "csv_out", default=None, type=click.Path(dir_okay=False),
              help="Also write every finding to this CSV file.")
@okx_time_zone_option()
@format_option()
@click.pass_context
def okx(ctx: click.Context, files: tuple[str, ...], basket: str | None, account: str | None, start: str | None,
        end: str | None, tolerance: str, csv_out: str | None, time_zone: tuple[tzinfo, str] | None,
        fmt: str) -> None:
    """Reconcile OKX CSV history (any variant `import okx` reads) with the ledger.

    Reports fills matched, fills only in OKX (made outside the bot or missed by it), fills only in
    the ledger, fills whose quantity, price or fee differ beyond --tolerance, and per asset the
    running balances from both sides with the first day they diverge. Exits with status 2 when
    anything does not reconcile, so it can gate a filing.

    Each file is read exactly as `import okx` reads it: its "Time Zone:" line wins, else --time-zone
    (give the zone you imported the file with), else UTC; the report names the zone of each file and
    warns when a file names none.

    \b
    Examples:
      taxreport reconcile okx sample_exports/okx/trading-history.csv \\
          sample_exports/okx/funding-history.csv --basket demo --csv reconcile.csv
      taxreport reconcile okx okx.csv --account okx:main --from 2025-01-01 --to 2025-06-30 --format json
      taxreport reconcile okx "OKX Funding History.csv" --time-zone Europe/Rome
    """
    from taxreport.errors import InputError
    from taxreport.model.money import parse_decimal
    from taxreport.reconcile import reconcile_okx
    from taxreport.reconcile.output import print_report, to_dict, write_csv

    if basket and account:
        raise InputError("give --basket or --account, not both", field="--account")
    if basket:
        from taxreport.rebalance.basket import resolve_basket

        account = resolve_basket(basket)[0].account
    try:
        tol = parse_decimal(tolerance, what="--tolerance")
    except ValueError as exc:
        raise InputError(str(exc).split(": ", 1)[-1], field="--tolerance") from exc
    report = reconcile_okx(open_ledger(ctx), list(files), account=account or "okx:main",
                           start=parse_when(start, what="--from"),
                           end=parse_when(end, what="--to", end_of_day=True), tolerance=tol,
                           zone_if_none=time_zone)
    if csv_out:
        from pathlib import Path

        Path(csv_out).parent.mkdir(parents=True, exist_ok=True)  # as `export --out` does
        write_csv(report, csv_out)
    if fmt == "json":
        echo_json(to_dict(report))
    else:
        print_report(report)
        if csv_out:
            echo_line(f"findings written to {csv_out}")
    if not report.ok:
        c = report.counts()
        raise NotReconciled(f"OKX history does not reconcile with {report.account}: {c['mismatched']} mismatched, "
                            f"{c['only_in_okx']} only in OKX, {c['only_in_ledger']} only in the ledger, "
                            f"{c['diverging_balances']} diverging balances"
                            + (f"; {', '.join(report.zone_assumed)} named no time zone and was read as UTC "
                               "(see --time-zone)" if report.zone_assumed else ""))
