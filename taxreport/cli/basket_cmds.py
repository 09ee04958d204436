"""``taxreport basket …``: each subcommand lives in its own module, imported only when used."""

from __future__ import annotations

import click

from taxreport.cli.lazy import LazyGroup

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "create": ("taxreport.cli.basket_define:create", "Create a basket (target weights) and save it as TOML."),
    "show": ("taxreport.cli.basket_define:show", "Show a basket's definition."),
    "list": ("taxreport.cli.basket_define:list_baskets", "List saved baskets."),
    "status": ("taxreport.cli.basket_ops:status", "Value, P&L, allocation vs target, last/next rebalance."),
    "invest": ("taxreport.cli.basket_ops:invest", "Add AMOUNT of the quote asset and buy to target weights."),
    "stop": ("taxreport.cli.basket_ops:stop", "Stop a basket (sells everything unless --keep-assets)."),
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
