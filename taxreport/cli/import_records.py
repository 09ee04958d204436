"""``taxreport import koinly`` and ``taxreport import bittytax``: other tax tools' files as ledger events."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import click

from taxreport.cli.common import echo_json, format_option, open_ledger
from taxreport.cli.fit import echo_line

if TYPE_CHECKING:
    from taxreport.model.events import Event


def _write(ctx: click.Context, files: tuple[str, ...], read: Callable[[str], Any], actor: str, what: str,
           fmt: str) -> None:
    """Every file is checked before anything is written (one bad file refuses the command); each file is then
    one transaction, written as it is read (``read(path)`` gives a :class:`RecordsStream`: the file is never
    held whole, and a bad row found further on rolls the file's transaction back)."""
    from taxreport.cli.import_csv import drop_new_ledger, new_ledger_file
    from taxreport.errors import TaxreportError
    from taxreport.importers.base import bar_total

    if len(files) > 1:
        for path in files:
            for _ in read(path).items:
                pass
    new_file = new_ledger_file(ctx)
    led = open_ledger(ctx)
    out = []
    try:
        for path in files:
            stream = read(path)
            kinds: dict[str, int] = {}
            result = led.append_stream(_counted(stream.items, kinds), actor=actor, reason=f"import {what} {path}",
                                       label=f"Importing {Path(path).name}", total=bar_total(path))
            out.append({"path": path, "rows": stream.rows, "events": sum(kinds.values()), "added": result.added_count,
                        "duplicates": result.duplicates, "kinds": kinds, "notes": list(stream.notes)})
    except TaxreportError:
        drop_new_ledger(led, new_file)
        raise
    if fmt == "json":
        echo_json(out)
        return
    for s in out:
        kinds_text = ", ".join(f"{n} {k}" for k, n in sorted(s["kinds"].items()))
        echo_line(f"{s['path']}: {s['rows']} rows -> {s['events']} events ({kinds_text or 'none'}); "
                  f"{s['added']} added, {s['duplicates']} duplicates "
                  "(already in the ledger or earlier in the file)")
        for note in s["notes"]:
            echo_line(f"  note: {note}", indent=4)


def _counted(items: Iterator[tuple[Event, str]], kinds: dict[str, int]) -> Iterator[tuple[Event, str]]:
    """``items`` unchanged, each event counted in ``kinds`` by its kind."""
    for event, origin in items:
        kinds[event.kind] = kinds.get(event.kind, 0) + 1
        yield event, origin


@click.command("koinly")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--account", help="Ledger account for every row (one Koinly file = one wallet). Without it, "
                                "each row's account is read from taxreport's own description ('… on ACCOUNT').")
@format_option()
@click.pass_context
def import_koinly(ctx: click.Context, files: tuple[str, ...], account: str | None, fmt: str) -> None:
    """Import Koinly Universal CSV files (the layout `taxreport export koinly` writes).

    Sent+Received = a trade; Received only = a deposit (Net Worth = its cost basis) or income (Label
    Reward, Staking, Airdrop, Mining, Fork, Lending interest, Income, Fee refund…; Net Worth = its
    value); Sent only = a withdrawal (Label Gift, Donation, Lost, or taxreport's "withdrawal (spend)";
    Net Worth = its value). A sent and a received row with the same TxHash in two accounts are one
    transfer. A received Gift is a gift-in (basis only from taxreport's own "(cost basis …)" text, Net
    Worth kept in the note); unknown labels are refused, never guessed. Dates are UTC. Every file is checked
    before anything is written; re-importing adds nothing.

    \b
    Examples:
      taxreport import koinly koinly-2024.csv
      taxreport import koinly my-wallet.csv --account ledger:cold --format json
    """
    from taxreport.importers.koinly import SOURCE, iter_koinly

    _write(ctx, files, lambda path: iter_koinly(path, account=account), f"importer:{SOURCE}", "koinly", fmt)


@click.command("bittytax")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--account", help="Ledger account for every row (default: each row's Wallet).")
@click.option("--value-currency", default="GBP", show_default=True,
              help="Currency of plain 'Buy Value'/'Sell Value' columns (BittyTax's local currency); "
                   "'Buy Value in EUR' headers name their own.")
@format_option()
@click.pass_context
def import_bittytax(ctx: click.Context, files: tuple[str, ...], account: str | None, value_currency: str,
                    fmt: str) -> None:
    """Import BittyTax transaction records (CSV: Type, Buy/Sell/Fee Quantity/Asset/Value, Wallet,
    Timestamp, Note).

    Trade, Deposit, Withdrawal, Stake/Unstake (moves to WALLET:staked), income types (Mining,
    Staking-Reward, Interest, Dividend, Income, Fork, Airdrop, Referral, Cashback, Fee-Rebate), Spend,
    Gift-Sent, Charity-Sent and Lost; Gift-Received is a gift-in without basis (Buy Value in the note,
    listed by `taxreport review`). Gift-Spouse, loans and margin
    are not supported. Timestamps without a zone are UTC (UTC, GMT, BST, ±HH:MM accepted). Every file
    is checked before anything is written; re-importing adds nothing.

    \b
    Examples:
      taxreport import bittytax records.csv
      taxreport import bittytax records.csv --account coinbase:main --value-currency GBP --format json
    """
    from taxreport.importers.bittytax import SOURCE, iter_bittytax

    _write(ctx, files, lambda path: iter_bittytax(path, account=account, value_currency=value_currency),
           f"importer:{SOURCE}", "bittytax", fmt)
