"""``taxreport basket …``: each subcommand lives in its own module, imported only when used."""

from __future__ import annotations

import click

from taxreport.cli.lazy import LazyGroup

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "create": ("taxreport.cli.basket_define:create", "Create a basket (target weights) and save it as TOML."),
    "show": ("taxreport.cli.basket_define:show", "Show a basket's definition."),
    "presets": ("taxreport.cli.basket_define:presets", "List the risk-profile presets of your presets file."),
    "list": ("taxreport.cli.basket_define:list_baskets", "List baskets with venue, state, value, last run."),
    "status": ("taxreport.cli.basket_ops:status", "Own value, P&L (total, today), allocation, last/next run."),
    "invest": ("taxreport.cli.basket_ops:invest", "Add AMOUNT of the quote asset and buy to target weights."),
    "stop": ("taxreport.cli.basket_ops:stop", "Stop a basket: sell what it owns (or --keep-assets) and release it."),
    "history": ("taxreport.cli.basket_ops:history", "Past rebalances of a basket from the audit trail."),
}


@click.group(cls=LazyGroup, lazy=SUBCOMMANDS)
def basket() -> None:
    """Rebalancing baskets: target weights over 2–20 assets, rebalanced on a schedule or a drift band.

    \b
    Examples:
      taxreport basket create core --weights BTC=50,ETH=30,SOL=20 --mode weekly
      taxreport basket show core
      taxreport basket status --basket core --paper
    """
