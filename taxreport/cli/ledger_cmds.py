"""``taxreport ledger …``: add a manual trade, list, verify the audit trail, balances, reverse."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from taxreport.cli.common import echo_json, format_option, open_ledger, option_group, parse_when
from taxreport.cli.fit import Col, echo_line, print_fitted
from taxreport.clock import recording_time
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


class _KindGroup(click.Group):
    """``ledger add KIND …``; ``ledger add --side …`` (no kind) is still read as ``ledger add trade``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0].startswith("-") and args[0] not in ("--help", "-h"):
            args = ["trade", *args]
        return super().parse_args(ctx, args)


@ledger.group("add", cls=_KindGroup)
def add() -> None:
    """Record one event by hand: trade, deposit, withdrawal, transfer, income, gift-in, gift-out, lost.

    Every entry is a new audited event (actor manual:cli); nothing is ever edited. Give --id to make an
    entry unique; without one an identical entry is a duplicate and adds nothing.

    \b
    Examples:
      taxreport ledger add deposit --time 2024-01-02T09:00:00Z --account okx:main --asset USDT \\
          --quantity 1000 --cost 1000 --cost-currency USD
      taxreport ledger add trade --time 2024-03-01T12:00:00Z --account kraken:main \\
          --side buy --base BTC --quote GBP --quantity 0.5 --price 30000 --fee 15 --fee-asset GBP
      taxreport ledger add income --time 2024-05-01T00:00:00Z --account okx:main --asset ETH \\
          --quantity 0.01 --kind staking --value 30 --value-currency USD
    """


_common = option_group(
    click.option("--time", "when", required=True, help="ISO 8601 time with offset or Z, e.g. 2024-03-01T12:00:00Z."),
    click.option("--id", "event_id", default=None,
                 help="Your id for this event. Without one, an identical entry is treated as a duplicate."),
    click.option("--note", default="", help="Free text kept with the event."),
    click.option("--reason", default="manual entry", show_default=True, help="Why it is written (audit trail)."),
)


_one_asset = option_group(
    click.option("--account", required=True, help="Account, e.g. okx:main."),
    click.option("--asset", required=True, help="Asset, e.g. BTC."),
    click.option("--quantity", required=True, help="Quantity (exact decimal, > 0)."),
)


_cost = option_group(
    click.option("--cost", default=None, help="Cost basis of the whole quantity (exact decimal)."),
    click.option("--cost-currency", default=None, help="Currency of --cost, e.g. USD."),
    click.option("--acquired-at", default=None, help="When the coins were originally acquired (ISO 8601)."),
)


_value = option_group(
    click.option("--value", default=None, help="Value of the whole quantity (default: from the rate store)."),
    click.option("--value-currency", default=None, help="Currency of --value, e.g. USD."),
)


def _build(factory, **kw):  # noqa: ANN001, ANN003, ANN202
    """Build the event; a bad value is one line naming its option."""
    from taxreport.model.money import parse_amount

    try:
        for name in ("quantity", "price", "fee", "cost", "value"):
            if kw.get(name) is not None:
                kw[name] = parse_amount(kw[name], what=name)
        for name in ("acquired_at",):
            if kw.get(name) is not None:
                kw[name] = parse_when(kw[name], what=f"--{name.replace('_', '-')}")
        return factory(**kw)
    except ValueError as exc:
        field, _, why = str(exc).partition(": ")
        raise InputError(why or str(exc), field=f"--{field.replace('_', '-')}") from None


def _write(ctx: click.Context, event, reason: str) -> None:  # noqa: ANN001
    result = open_ledger(ctx).append([event], actor="manual:cli", reason=reason)
    if result.duplicates:
        echo_line(f"duplicate: {event.natural_key} is already in the ledger; nothing written "
                  "(give --id to record a separate identical entry)")
    else:
        echo_line(f"recorded {event.natural_key} as row {result.added[0]}")


def _time(when: str) -> datetime:
    return parse_when(when, what="--time") or datetime.now(timezone.utc)


@add.command("trade")
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
def add_trade(ctx: click.Context, when: str, account: str, side: str, base: str, quote: str, quantity: str,
              price: str, fee: str, fee_asset: str | None, trade_id: str | None, note: str, reason: str) -> None:
    """Record one manual trade (``ledger add --side …`` without a kind means this).

    \b
    Example:
      taxreport ledger add trade --time 2024-03-01T12:00:00Z --account kraken:main \\
          --side buy --base BTC --quote GBP --quantity 0.5 --price 30000 --fee 15 --fee-asset GBP
    """
    from taxreport.model.events import Trade

    trade = _build(Trade, time=parse_when(when, what="time") or datetime.now(timezone.utc), source="manual",
                   external_id=trade_id, account=account, side=side, base=base, quote=quote, quantity=quantity,
                   price=price, fee=fee, fee_asset=fee_asset, note=note)
    _write(ctx, trade, reason)


@add.command("deposit")
@_common
@_one_asset
@_cost
@click.pass_context
def add_deposit(ctx: click.Context, when: str, event_id: str | None, note: str, reason: str, account: str,
                asset: str, quantity: str, cost: str | None, cost_currency: str | None,
                acquired_at: str | None) -> None:
    """Coins arriving from outside: with --cost/--cost-currency (and --acquired-at) they are a lot with
    that basis; without, they must come from another own account (matched to its withdrawal) or
    `taxreport review` lists them.

    \b
    Examples:
      taxreport ledger add deposit --time 2024-01-02T09:00:00Z --account okx:main --asset USDT \\
          --quantity 1000 --cost 1000 --cost-currency USD --acquired-at 2023-12-30T10:00:00Z
      taxreport ledger add deposit --time 2024-06-02T09:00:00Z --account kraken:main --asset BTC --quantity 0.1
    """
    from taxreport.model.events import Deposit

    _write(ctx, _build(Deposit, **_arrival(when, event_id, note, account, asset, quantity, cost, cost_currency,
                                           acquired_at)), reason)


def _arrival(when: str, event_id: str | None, note: str, account: str, asset: str, quantity: str,
             cost: str | None, cost_currency: str | None, acquired_at: str | None) -> dict:
    """The fields of a manual deposit or gift received (the two share their options)."""
    return dict(time=_time(when), source="manual", external_id=event_id, note=note, account=account, asset=asset,
                quantity=quantity, cost=cost, cost_currency=cost_currency, acquired_at=acquired_at)


@add.command("gift-in")
@_common
@_one_asset
@_cost
@click.pass_context
def add_gift_in(ctx: click.Context, when: str, event_id: str | None, note: str, reason: str, account: str,
                asset: str, quantity: str, cost: str | None, cost_currency: str | None,
                acquired_at: str | None) -> None:
    """Coins received as a gift. US: give the donor's basis and date (--cost, --acquired-at; IRC §1015).
    Without --cost they are acquired at market value on receipt (UK: TCGA 1992 s17).

    \b
    Examples:
      taxreport ledger add gift-in --time 2024-02-01T00:00:00Z --account ledger:cold --asset BTC \\
          --quantity 0.05 --cost 900 --cost-currency USD --acquired-at 2021-03-01T00:00:00Z
    """
    from taxreport.model.events import GiftIn

    _write(ctx, _build(GiftIn, **_arrival(when, event_id, note, account, asset, quantity, cost, cost_currency,
                                          acquired_at)), reason)


@add.command("withdrawal")
@_common
@_one_asset
@click.option("--fee", default="0", show_default=True, help="Fee in the same asset, on top of --quantity.")
@click.option("--purpose", type=click.Choice(["own-wallet", "spend", "donation"]), default="own-wallet",
              show_default=True, help="own-wallet moves lots (matched to a deposit if one fits); spend and "
                                      "donation are disposals.")
@_value
@click.pass_context
def add_withdrawal(ctx: click.Context, when: str, event_id: str | None, note: str, reason: str, account: str,
                   asset: str, quantity: str, fee: str, purpose: str, value: str | None,
                   value_currency: str | None) -> None:
    """Coins leaving an account. To your own wallet or account (default) it is no disposal: a deposit
    into another of your accounts within 48 hours, of the same amount give or take the fee, is matched
    to it and the lots move with their dates and cost.

    \b
    Examples:
      taxreport ledger add withdrawal --time 2024-04-01T10:00:00Z --account okx:main --asset BTC \\
          --quantity 0.1 --fee 0.0002
      taxreport ledger add withdrawal --time 2024-04-02T10:00:00Z --account okx:main --asset ETH \\
          --quantity 0.2 --purpose spend --value 650 --value-currency USD
    """
    from taxreport.model.events import Withdrawal

    _write(ctx, _build(Withdrawal, time=_time(when), source="manual", external_id=event_id, note=note,
                       account=account, asset=asset, quantity=quantity, fee=fee, purpose=purpose, value=value,
                       value_currency=value_currency), reason)


def _disposal_kind(kind: str, purpose: str, doc: str):  # noqa: ANN202
    @add.command(kind, help=doc)
    @_common
    @_one_asset
    @click.option("--fee", default="0", show_default=True, help="Network fee in the same asset, on top.")
    @_value
    @click.pass_context
    def command(ctx: click.Context, when: str, event_id: str | None, note: str, reason: str, account: str,
                asset: str, quantity: str, fee: str, value: str | None, value_currency: str | None) -> None:
        from taxreport.model.events import Withdrawal

        if purpose == "lost" and value is None:
            value, value_currency = "0", "USD"  # nothing received for lost coins
        _write(ctx, _build(Withdrawal, time=_time(when), source="manual", external_id=event_id, note=note,
                           account=account, asset=asset, quantity=quantity, fee=fee, purpose=purpose, value=value,
                           value_currency=value_currency), reason)
    return command


_disposal_kind("gift-out", "gift", """Coins given away: UK, AU and CA see a disposal at market value when
given (--value to state it); in the US and DE the donor has no disposal and the lots just leave.

\b
Examples:
  taxreport ledger add gift-out --time 2024-07-01T00:00:00Z --account ledger:cold --asset ETH --quantity 0.5
""")
_disposal_kind("lost", "lost", """Coins lost (keys lost, a failed exchange): a disposal for nothing (--value
0 unless given), so their cost is a loss; whether it is allowed depends on the country (see `taxreport review`).

\b
Examples:
  taxreport ledger add lost --time 2024-08-01T00:00:00Z --account hot:wallet --asset SOL --quantity 3
""")


@add.command("transfer")
@_common
@click.option("--from", "from_account", required=True, help="Account the coins leave, e.g. okx:main.")
@click.option("--to", "to_account", required=True, help="Account they arrive in, e.g. kraken:main.")
@click.option("--asset", required=True, help="Asset, e.g. BTC.")
@click.option("--quantity", required=True, help="Quantity leaving --from, fee included.")
@click.option("--fee", default="0", show_default=True, help="Part of --quantity lost on the way (a disposal).")
@click.pass_context
def add_transfer(ctx: click.Context, when: str, event_id: str | None, note: str, reason: str, from_account: str,
                 to_account: str, asset: str, quantity: str, fee: str) -> None:
    """A move between two of your own accounts: lots keep their dates and cost; the fee is a disposal.

    \b
    Examples:
      taxreport ledger add transfer --time 2024-04-01T10:00:00Z --from okx:main --to kraken:main \\
          --asset BTC --quantity 0.1 --fee 0.0002
    """
    from taxreport.model.events import Transfer

    _write(ctx, _build(Transfer, time=_time(when), source="manual", external_id=event_id, note=note,
                       from_account=from_account, to_account=to_account, asset=asset, quantity=quantity, fee=fee),
           reason)


@add.command("income")
@_common
@_one_asset
@click.option("--kind", "income_type", required=True,
              type=click.Choice(["staking", "airdrop", "reward", "interest", "mining", "other"]),
              help="What kind of income.")
@_value
@click.pass_context
def add_income(ctx: click.Context, when: str, event_id: str | None, note: str, reason: str, account: str,
               asset: str, quantity: str, income_type: str, value: str | None, value_currency: str | None) -> None:
    """Coins received as income (staking, airdrop, reward, interest, mining): income at their value when
    received (per country: `gains --format json`, section income) and a lot with that cost. Without
    --value they are valued from the rate store.

    \b
    Examples:
      taxreport ledger add income --time 2024-05-01T00:00:00Z --account okx:main --asset ETH \\
          --quantity 0.01 --kind staking --value 30 --value-currency USD
    """
    from taxreport.model.events import Income

    _write(ctx, _build(Income, time=_time(when), source="manual", external_id=event_id, note=note,
                       account=account, asset=asset, quantity=quantity, income_type=income_type, value=value,
                       value_currency=value_currency), reason)


@ledger.command("basis")
@click.argument("ref")
@click.option("--cost", required=True, help="Cost basis of the whole deposit (exact decimal).")
@click.option("--cost-currency", required=True, help="Currency of --cost, e.g. USD.")
@click.option("--acquired-at", default=None, help="When the coins were originally acquired (ISO 8601).")
@click.option("--reason", default="cost basis supplied", show_default=True, help="Why (audit trail).")
@click.pass_context
def basis(ctx: click.Context, ref: str, cost: str, cost_currency: str, acquired_at: str | None,
          reason: str) -> None:
    """Give a deposit (or gift received) already in the ledger its cost basis: a new audited event,
    never an edit. REF is the key `taxreport review` or `ledger list --format json` shows.

    \b
    Examples:
      taxreport ledger basis deposit:okx:123456 --cost 1000 --cost-currency USD \\
          --acquired-at 2023-12-30T10:00:00Z
    """
    from taxreport.model.events import BasisSupplement, Deposit, GiftIn
    from taxreport.model.legs import effective_events

    led = open_ledger(ctx)
    events = effective_events(led.events(kinds=["deposit", "gift-in", "basis", "reversal"]))
    target = next((e for e in events if isinstance(e, (Deposit, GiftIn)) and e.natural_key == ref), None)
    if target is None:
        raise InputError(f"no deposit or gift received with key {ref!r} (see `taxreport review`)", field="REF")
    if target.cost is not None:
        raise InputError(f"{ref} already carries a cost basis ({target.cost} {target.cost_currency}); reverse it "
                         "and write it again to change it", field="REF")
    earlier = next((e for e in events if isinstance(e, BasisSupplement) and e.target_key == ref), None)
    if earlier is not None:
        raise InputError(f"{ref} already has a basis ({earlier.natural_key}); reverse that one first: taxreport "
                         f"ledger reverse {earlier.natural_key} --reason ...", field="REF")
    event = _build(BasisSupplement, time=recording_time(), source="manual", target_key=ref, cost=cost,
                   cost_currency=cost_currency, acquired_at=acquired_at)
    if event.acquired_at is not None and event.acquired_at > target.time:
        raise InputError(f"{acquired_at} is after the deposit arrived ({target.time.isoformat()})",
                         field="--acquired-at")
    _write(ctx, event, reason)


@ledger.command("link")
@click.argument("withdrawal_ref")
@click.argument("deposit_ref")
@click.option("--reason", default="own transfer named by the user", show_default=True, help="Why (audit trail).")
@click.pass_context
def link(ctx: click.Context, withdrawal_ref: str, deposit_ref: str, reason: str) -> None:
    """State that a withdrawal and a deposit are one transfer between your own accounts (for pairs
    `taxreport review` lists as ambiguous or unmatched).

    \b
    Examples:
      taxreport ledger link withdrawal:okx:w-1 deposit:csv:kraken:main/d-9
    """
    from taxreport.lots.own_transfers import match_own_transfers
    from taxreport.model.events import TransferLink
    from taxreport.model.legs import effective_events

    event = _build(TransferLink, time=recording_time(), source="manual", withdrawal_key=withdrawal_ref,
                   deposit_key=deposit_ref)
    led = open_ledger(ctx)
    events = effective_events(led.events(kinds=["withdrawal", "deposit", "link", "reversal"]))
    match_own_transfers([*events, event])  # refuses a link that cannot be one transfer, naming why
    _write(ctx, event, reason)


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
    rev = Reversal(time=recording_time(), source="manual", external_id=natural_key,
                   target_key=natural_key, reason=reason)
    result = led.append([rev], actor="manual:cli", reason=reason)
    echo_line(f"reversed {natural_key}" if result.added else f"{natural_key} was already reversed this way")


def _describe(ev) -> tuple[str, str]:  # noqa: ANN001
    from taxreport.model.events import Deposit, Income, Record, Reversal, Trade, Transfer, Withdrawal

    if isinstance(ev, Trade):
        fee = f" fee {ev.fee} {ev.fee_asset}" if ev.fee else ""
        return ev.account, f"{ev.side} {ev.quantity} {ev.base} @ {ev.price} {ev.quote}{fee}"
    if isinstance(ev, Transfer):
        return f"{ev.from_account}→{ev.to_account}", f"{ev.quantity} {ev.asset} (fee {ev.fee})"
    if isinstance(ev, Withdrawal) and ev.purpose != "own-wallet":
        return ev.account, f"{ev.quantity} {ev.asset} ({ev.purpose})"
    if isinstance(ev, Income):
        return ev.account, f"{ev.quantity} {ev.asset} ({ev.income_type} income)"
    if isinstance(ev, (Deposit, Withdrawal)):
        return ev.account, f"{ev.quantity} {ev.asset}"
    if isinstance(ev, Reversal):
        return "", f"reverses {ev.target_key}: {ev.reason}"
    from taxreport.model.events import AccountDeclaration, BasisSupplement, GiftIn, TransferLink

    if isinstance(ev, GiftIn):
        return ev.account, f"{ev.quantity} {ev.asset} received as a gift"
    if isinstance(ev, BasisSupplement):
        return "", f"basis of {ev.target_key}: {ev.cost} {ev.cost_currency}"
    if isinstance(ev, TransferLink):
        return "", f"{ev.withdrawal_key} → {ev.deposit_key}"
    if isinstance(ev, AccountDeclaration):
        return ev.account, f"{'SIMULATED' if ev.simulated else 'real'} account ({ev.venue})"
    if isinstance(ev, Record):
        return ev.account or "", ev.record_type
    return "", ""


@ledger.command("list")
@click.option("--asset", help="Only events involving this asset.")
@click.option("--account", help="Only events of this account.")
@click.option("--kind", "kinds", multiple=True,
              type=click.Choice(["trade", "transfer", "deposit", "withdrawal", "income", "reversal", "record", "gift-in",
                                 "basis", "link", "account"]),
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
    rows = list(open_ledger(ctx, readonly=True, must_exist=True).rows(kinds=kinds or None, account=account, asset=asset,
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
    # a narrow terminal (cli/fit.py): an account, a figure or an actor is never split; "written by" goes first
    print_fitted(f"{len(rows)} events", [Col("#", "right"), Col("time (UTC)", wrap=True), Col("kind"), Col("account"),
                                         Col("what", wrap=True), Col("written by", drop=1)], table)


@ledger.command("verify")
@format_option()
@click.pass_context
def verify(ctx: click.Context, fmt: str) -> None:
    """Check the hash chain: any edited, deleted or reordered row is named. Exit 1 if broken.

    \b
    Example:
      taxreport ledger verify
    """
    result = open_ledger(ctx, readonly=True, must_exist=True).verify()
    if fmt == "json":
        echo_json({"ok": result.ok, "rows": result.rows, "head_hash": result.head_hash,
                   "first_bad_row": result.first_bad_seq, "problem": result.problem})
    elif result.ok:
        echo_line(f"ledger OK: {result.rows} events, chain head {result.head_hash}")
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
    events = open_ledger(ctx, readonly=True, must_exist=True).events()
    totals = balances_of(events, at=moment - timedelta(microseconds=1) if moment else None)
    from taxreport.model.money import decimal_str

    # a quantity as the ledger stores it (no exponent, no trailing zeros): a sum with a quantity computed through
    # a 50-digit quotient (price = cost / volume) read -40.34000000000000000000000000000000000000000000000
    items = [(acc, a, decimal_str(q)) for (acc, a), q in totals.items()
             if (not account or acc == account) and (not asset or a == asset.upper())]
    if fmt == "json":
        echo_json([{"account": acc, "asset": a, "quantity": q} for acc, a, q in items])
        return
    title = f"Balances at {moment:%Y-%m-%d %H:%M} UTC" if moment else "Balances now"
    print_fitted(title, [Col("account"), Col("asset"), Col("quantity", "right")], items)
