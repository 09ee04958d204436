"""``taxreport rebalance …``: plan (dry run) and run (paper or live)."""

from __future__ import annotations

import click

from taxreport.cli.lazy import LazyGroup

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "plan": ("taxreport.cli.rebalance_plan:plan", "Dry run: the orders a rebalance would place."),
    "run": ("taxreport.cli.rebalance_run:run", "Rebalance once, --if-due (cron) or --loop (daemon)."),
}


@click.group(cls=LazyGroup, lazy=SUBCOMMANDS)
def rebalance() -> None:
    """Plan and run rebalances. Every order, fill and disposal is written to the ledger.

    \b
    Examples:
      taxreport rebalance plan --basket core --paper --balances BTC=0.1,ETH=1.2,SOL=10,USDT=50 \\
          --prices BTC=55000,ETH=2375,SOL=180
      taxreport rebalance run --basket core --paper
    """
