"""``taxreport ledger …``: add a manual trade, list, verify the audit trail, balances, reverse."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from taxreport.cli.common import echo_json, format_option, open_ledger, parse_when, print_table
from taxreport.errors import InputError, LedgerError


@click.group()
def ledger() -> None:
    """The ledger: one exact, append-only, hash-chained record of every event.

    \b
    Examples:
      taxreport ledger add --side buy --base BTC --quote GBP --quantity 0.5 --price 30000 \\
          --fee 15 --fee-asset GBP --account kraken:main --time 2024-03-01T12:00:00Z
      taxreport ledger list --asset BTC --from 2024-01-01 --to 2024-12-31
      taxreport ledger balances --at 2024-12-31
      taxreport ledger verify
    """


@ledger.command("add")
@click.option("--time", "when", required=True, help="ISO 8601 time with offset or Z, e.g. 2024-03-01T12:00:00Z.")
@click.option("--account", required=True, help="Account, e.g. okx:main.")
@click.option("--side", type=click.Choice(["buy", "sell"]), required=True)
@click.option("--base", required=True, help="Asset bought or sold, e.g. BTC.")
@click.option("--quote", required=True, help="Asset paid or received, e.g. USDT or GBP.")
@click.option("--quantity", required=True, help="Quantity of BASE (exact decimal).")
@click.option("--price", required=True, help="Price in QUOTE per BASE (exact decimal).")
@click.option("--fee", default="0", show_default=True, help="Fee amount (negative for a rebate).")
@click.option("--fee-asset", default=None, help="Asset the fee was charged in.")
@click.option("--id", "trade_id", default=None,
              help="Your id for this trade. Without one, an identical entry is treated as a duplicate.")
@click.option("--note", default="", help="Free text kept with the event.")
@click.option("--reason", default="manual entry", show_default=True, help="Why it is written (audit trail).")
@click.pass_context
def add(ctx: click.Context, when: str, account: str, side: str, base: str, quote: str, quantity: str,
        price: str, fee: str, fee_asset: str | None, trade_id: str | None, note: str, reason: str) -> None:
    """Record one manual trade.

    \b
    Example:
      taxreport ledger add --time 2024-03-01T12:00:00Z --account kraken:main \\
          --side buy --base BTC --quote GBP --quantity 0.5 --price 30000 --fee 15 --fee-asset GBP
    """
    from taxreport.model.events import Trade
    from taxreport.model.money import parse_decimal

    try:
        trade = Trade(time=parse_when(when, what="time") or datetime.now(timezone.utc), source="manual",
                      external_id=trade_id, account=account, side=side, base=base, quote=quote,
                      quantity=parse_decimal(quantity, what="quantity"), price=parse_decimal(price, what="price"),
                      fee=parse_decimal(fee, what="fee"), fee_asset=fee_asset, note=note)
    except ValueError as exc:
        field, _, why = str(exc).partition(": ")
        raise InputError(why or str(exc), field=f"--{field.replace('_', '-')}") from None
    result = open_ledger(ctx).append([trade], actor="manual:cli", reason=reason)
    if result.duplicates:
        click.echo(f"duplicate: {trade.natural_key} is already in the ledger; nothing written "
                   "(give --id to record a separate identical trade)")
    else:
        click.echo(f"recorded {trade.natural_key} as row {result.added[0]}")


@ledger.command("reverse")
@click.argument("natural_key")
@click.option("--reason", required=True, help="Why the event is wrong (kept in the audit trail).")
@click.pass_context
def reverse(ctx: click.Context, natural_key: str, reason: str) -> None:
    """Cancel an event by its key (events are never edited; write a corrected one afterwards).

    \b
    Example:
      taxreport ledger reverse trade:manual:42 --reason "wrong price, re-entered as id 42b"
    """
    from taxreport.model.events import Reversal

    led = open_ledger(ctx)
    if not led.has_key(natural_key):
        raise LedgerError(f"no event with key {natural_key!r} (see `taxreport ledger list --format json`)")
    rev = Reversal(time=datetime.now(timezone.utc), source="manual", external_id=natural_key,
                   target_key=natural_key, reason=reason)
    result = led.append([rev], actor="manual:cli", reason=reason)
    click.echo(f"reversed {natural_key}" if result.added else f"{natural_key} was already reversed this way")


def _describe(ev) -> tuple[str, str]:  # noqa: ANN001
    from taxreport.model.events import Deposit, Income, Record, Reversal, Trade, Transfer, Withdrawal

    if isinstance(ev, Trade):
        fee = f" fee {ev.fee} {ev.fee_asset}" if ev.fee else ""
        return ev.account, f"{ev.side} {ev.quantity} {ev.base} @ {ev.price} {ev.quote}{fee}"
    if isinstance(ev, Transfer):
        return f"{ev.from_account}→{ev.to_account}", f"{ev.quantity} {ev.asset} (fee {ev.fee})"
    if isinstance(ev, (Deposit, Withdrawal, Income)):
        return ev.account, f"{ev.quantity} {ev.asset}"
    if isinstance(ev, Reversal):
        return "", f"reverses {ev.target_key}: {ev.reason}"
    if isinstance(ev, Record):
        return ev.account or "", ev.record_type
    return "", ""


@ledger.command("list")
@click.option("--asset", help="Only events involving this asset.")
@click.option("--account", help="Only events of this account.")
@click.option("--kind", "kinds", multiple=True,
              type=click.Choice(["trade", "transfer", "deposit", "withdrawal", "income", "reversal", "record"]),
              help="Only these kinds (repeatable).")
@click.option("--from", "start", help="From this date/time (inclusive), e.g. 2024-01-01.")
@click.option("--to", "end", help="Up to this date (inclusive), e.g. 2024-12-31.")
@click.option("--limit", type=click.IntRange(min=1), help="Show only the last N matching events.")
@format_option()
@click.pass_context
def list_events(ctx: click.Context, asset: str | None, account: str | None, kinds: tuple[str, ...],
                start: str | None, end: str | None, limit: int | None, fmt: str) -> None:
    """List events with their audit fields.

    \b
    Examples:
      taxreport ledger list --asset BTC --from 2024-01-01 --to 2024-12-31
      taxreport ledger list --kind trade --account okx:main --limit 20 --format json
    """
    rows = list(open_ledger(ctx, readonly=True).rows(kinds=kinds or None, account=account, asset=asset,
                                      start=parse_when(start, what="--from"),
                                      end=parse_when(end, what="--to", end_of_day=True)))
    if limit:
        rows = rows[-limit:]
    if fmt == "json":
        echo_json([{"seq": r.seq, "key": r.event.natural_key, "actor": r.actor, "reason": r.reason,
                    "recorded_at": r.recorded_at, "hash": r.hash, **r.event.to_payload()} for r in rows])
        return
    table = []
    for r in rows:
        where, what = _describe(r.event)
        table.append((r.seq, r.event.time, r.event.kind, where, what, r.actor))
    print_table(f"{len(rows)} events", [("#", "right"), ("time (UTC)", "left"), ("kind", "left"),
                                        ("account", "left"), ("what", "left"), ("written by", "left")], table)


@ledger.command("verify")
@format_option()
@click.pass_context
def verify(ctx: click.Context, fmt: str) -> None:
    """Check the hash chain: any edited, deleted or reordered row is named. Exit 1 if broken.

    \b
    Example:
      taxreport ledger verify
    """
    result = open_ledger(ctx, readonly=True).verify()
    if fmt == "json":
        echo_json({"ok": result.ok, "rows": result.rows, "head_hash": result.head_hash,
                   "first_bad_row": result.first_bad_seq, "problem": result.problem})
    elif result.ok:
        click.echo(f"ledger OK: {result.rows} events, chain head {result.head_hash}")
    if not result.ok:
        raise LedgerError(f"ledger verification FAILED at row {result.first_bad_seq}: {result.problem}")


@ledger.command("balances")
@click.option("--at", "at", help="Balances at the end of this date (UTC) or at this ISO time. Default: now.")
@click.option("--account", help="Only this account.")
@click.option("--asset", help="Only this asset.")
@format_option()
@click.pass_context
def balances(ctx: click.Context, at: str | None, account: str | None, asset: str | None, fmt: str) -> None:
    """Quantity held per account and asset, from every event in the ledger.

    \b
    Examples:
      taxreport ledger balances
      taxreport ledger balances --at 2024-12-31 --account okx:main --format json
    """
    from datetime import timedelta

    from taxreport.model.legs import balances_of

    moment = parse_when(at, what="--at", end_of_day=True)
    events = open_ledger(ctx, readonly=True).events()
    totals = balances_of(events, at=moment - timedelta(microseconds=1) if moment else None)
    items = [(acc, a, q) for (acc, a), q in totals.items()
             if (not account or acc == account) and (not asset or a == asset.upper())]
    if fmt == "json":
        echo_json([{"account": acc, "asset": a, "quantity": q} for acc, a, q in items])
        return
    title = f"Balances at {moment:%Y-%m-%d %H:%M} UTC" if moment else "Balances now"
    print_table(title, [("account", "left"), ("asset", "left"), ("quantity", "right")], items)
