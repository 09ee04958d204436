"""The ``taxreport`` command: a thin shell over the package. Each command group lives in its own
module and is imported only when used (see :mod:`taxreport.cli.lazy`)."""

from __future__ import annotations

import sys

import click

from taxreport import __version__
from taxreport.cli.lazy import LazyGroup

COMMANDS: dict[str, tuple[str, str]] = {
    "ledger": ("taxreport.cli.ledger_cmds:ledger", "Add, list, verify and total the ledger's events."),
    "import": ("taxreport.cli.import_cmds:import_group", "Bring trades into the ledger from CSV exports."),
    "prices": ("taxreport.cli.prices_cmds:prices", "Import and fetch prices, FX rates and OHLCV candles."),
    "gains": ("taxreport.cli.gains_cmd:gains", "Capital gains for a tax year and jurisdiction."),
    "basket": ("taxreport.cli.basket_cmds:basket", "Create, inspect, fund and stop rebalancing baskets."),
    "rebalance": ("taxreport.cli.rebalance_cmds:rebalance", "Plan and run rebalances (paper or live)."),
    "reconcile": ("taxreport.cli.reconcile_cmds:reconcile", "Check exchange history against the ledger."),
    "export": ("taxreport.cli.export_cmds:export", "Write Koinly, CoinTracker, Form 8949, XLSX and PDF reports."),
    "backtest": ("taxreport.cli.backtest_cmd:backtest", "Compare rebalancing strategies before and after tax."),
    "venue": ("taxreport.cli.venue_cmds:venue", "Run a local OKX-compatible venue (rehearsals, fault tests)."),
    "review": ("taxreport.cli.review_cmd:review", "What blocks or distorts a tax year, and how to fix each item."),
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="TAXREPORT_DB", metavar="URL_OR_PATH",
              help="Ledger database: a SQLAlchemy URL (sqlite:///…, postgresql+psycopg://…) or a file "
                   "path. Default: $TAXREPORT_DB, else ledger.sqlite3 in the user data directory.")
@click.version_option(__version__, prog_name="taxreport")
@click.pass_context
def root(ctx: click.Context, db: str | None) -> None:
    """Run a crypto rebalancing basket and file taxes on every sale it causes.

    \b
    Examples:
      taxreport import csv trades.csv --account kraken:main
      taxreport ledger balances
      taxreport ledger verify
      taxreport --db postgresql+psycopg://me@localhost/tax ledger list --asset BTC
    """
    ctx.ensure_object(dict)
    ctx.obj["db"] = db
    from taxreport.cli.progress import terminal_progress

    ctx.with_resource(terminal_progress())  # progress bars of long work, on a terminal only


def main() -> None:
    try:
        root.main(prog_name="taxreport")
    except KeyboardInterrupt:  # pragma: no cover - interactive
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
