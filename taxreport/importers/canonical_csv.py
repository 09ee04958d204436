"""The canonical trade CSV: the documented way to bring any trade into the ledger.

Header (every column present, in any order, no others)::

    timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id

* ``timestamp``: ISO 8601 with an offset or ``Z`` (``2024-03-01T12:00:00Z``); naive times are refused.
* ``account``: e.g. ``kraken:main``; may be empty when ``--account`` is given.
* ``side``: ``buy`` or ``sell``; ``quantity`` in ``base``; ``price`` in ``quote`` per ``base``.
  A fiat quote is allowed: buying BTC for GBP is one row.
* ``fee``: may be empty (no fee); negative for a rebate; ``fee_asset`` is required with a fee.
* ``id``: the venue's trade id; re-importing a row with the same account and id adds nothing. When
  empty, the row's content identifies it, and two *identical* id-less rows of one file are two fills (two
  equal fills in the same second are common in exports without ids), never one fill and a "duplicate": the
  second and later copies get the id ``<account>/<content digest>:<n>``
  (:func:`~taxreport.importers.base.nth_copy`, the rule of every importer), so re-importing the file, or an
  overlapping export holding the same rows, still adds nothing. The same holds for every row of the events
  form except ``basis`` (stating a basis twice is one statement).

**Events form** (the header has a ``type`` column): one row per event of any kind. Required columns
``type,timestamp,account,quantity``; any of :data:`EVENT_OPTIONAL` may follow, in any order (no others).
A cell a row's type does not use must be empty (a filled one is refused: it would be silently lost).

==============  ======================================================================================
``type``        uses
==============  ======================================================================================
``trade``       ``side, base, quote, price, fee, fee_asset`` (as the trade form; ``asset`` empty)
``deposit``     ``asset``; ``cost, cost_currency, acquired_at`` when the basis is known
``gift-in``     ``asset``; ``cost, cost_currency, acquired_at`` (the donor's basis) when known
``withdrawal``  ``asset, fee`` (to an own wallet: no disposal; matched to a deposit if one fits)
``gift-out``    ``asset, fee, value, value_currency`` (a disposal at ``value``, else market value)
``lost``        ``asset, fee, value, value_currency`` (a disposal for ``value``, 0 when empty)
``transfer``    ``asset, to_account, fee`` (``account`` is where the coins leave; ``quantity`` includes
                the fee)
``income``      ``asset, income_type`` (staking, airdrop, reward, interest, mining, other), ``value,
                value_currency`` (else valued from the rate store)
``basis``       ``target`` (the key of a deposit or gift already in the ledger), ``cost, cost_currency,
                acquired_at``: the basis supplied afterwards, as ``taxreport ledger basis`` does
                (``account`` and ``quantity`` empty; ``timestamp`` is when you state it)
==============  ======================================================================================

Example::

    type,timestamp,account,asset,quantity,cost,cost_currency,income_type,value,value_currency,id
    deposit,2024-01-02T09:00:00Z,okx:main,USDT,1000,1000,USD,,,,d-1
    income,2024-05-01T00:00:00Z,okx:main,ETH,0.01,,,staking,30,USD,i-1
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Iterator, Sequence

from taxreport.errors import InputError
from taxreport.importers.base import ImportRefused, ParsedBatch, csv_lines, file_lines, nth_copy
from taxreport.model.events import Event, Side, Trade, parse_time
from taxreport.model.money import parse_amount, parse_decimal

COLUMNS = ("timestamp", "account", "side", "base", "quote", "quantity", "price", "fee", "fee_asset", "id")
SOURCE = "csv"
EVENT_REQUIRED = ("type", "timestamp", "account", "quantity")
EVENT_OPTIONAL = ("side", "base", "quote", "price", "fee", "fee_asset", "asset", "to_account", "cost",
                  "cost_currency", "acquired_at", "value", "value_currency", "income_type", "id", "note", "target")
EVENT_TYPES = ("trade", "deposit", "gift-in", "withdrawal", "gift-out", "lost", "transfer", "income", "basis")
# The cells each type reads (besides type, timestamp, account, quantity, id, note).
USES: dict[str, frozenset[str]] = {
    "trade": frozenset({"side", "base", "quote", "price", "fee", "fee_asset"}),
    "deposit": frozenset({"asset", "cost", "cost_currency", "acquired_at"}),
    "gift-in": frozenset({"asset", "cost", "cost_currency", "acquired_at"}),
    "withdrawal": frozenset({"asset", "fee"}),
    "gift-out": frozenset({"asset", "fee", "value", "value_currency"}),
    "lost": frozenset({"asset", "fee", "value", "value_currency"}),
    "transfer": frozenset({"asset", "to_account", "fee"}),
    "income": frozenset({"asset", "income_type", "value", "value_currency"}),
    "basis": frozenset({"target", "cost", "cost_currency", "acquired_at"}),
}


def parse_canonical_csv(path: str | Path, *, account: str | None = None) -> ParsedBatch:
    """Every event of the file, held in a :class:`ParsedBatch` (:class:`ImportRefused` if any row is bad)."""
    batch = ParsedBatch(str(path))
    for event, origin in iter_canonical_csv(path, account=account):
        batch.add(event, origin)
    return batch


def iter_canonical_csv(path: str | Path, *, account: str | None = None) -> Iterator[tuple[Event, str]]:
    """The file's events with their origins (``file:line``), read a line at a time: what ``import csv``
    streams into the ledger. Every row is checked; after the first bad row no more events are yielded, the
    rest is still checked, and at the end :class:`ImportRefused` lists every bad row (so a writer that
    appends as it reads, in one transaction, writes nothing). A bad header raises before the first event."""
    name = str(path)
    lines = csv_lines(file_lines(path))
    try:
        first = next(lines, None)
    except InputError as exc:
        if exc.file:  # the file itself (not UTF-8): as read_text says it
            raise
        raise ImportRefused(name, [InputError(exc.reason, file=name, line=exc.line)]) from exc
    if first is None:
        raise InputError("empty file: expected the header " + ",".join(COLUMNS), file=name)
    _, header = first
    header = [h.strip() for h in header]
    if "type" in header:
        _check_events_header(name, header)
        blank = dict.fromkeys((*EVENT_REQUIRED, *EVENT_OPTIONAL), "")

        def make(row: dict[str, str]) -> Event:
            return _event({**blank, **row}, account)
    else:
        _check_trade_header(name, header)

        def make(row: dict[str, str]) -> Event:
            return _trade(row, account)
    problems: list[InputError] = []
    width = len(header)
    strip = str.strip
    seen: dict[str, int] = {}  # content keys of id-less rows -> copies so far (nth_copy)
    try:
        for line, cells in lines:
            if len(cells) != width:
                if any(c.strip() for c in cells):
                    problems.append(InputError(f"has {len(cells)} cells, the header has {width}",
                                               file=name, line=line))
                continue
            row = dict(zip(header, map(strip, cells)))
            try:
                event = make(row)
            except _FieldError as exc:
                if any(c.strip() for c in cells):  # a blank line is skipped (it always lacks a required cell)
                    problems.append(InputError(exc.reason, file=name, line=line, field=exc.field))
                continue
            if event.external_id is None and event.kind != "basis":
                event = nth_copy(event, seen, row["account"] or account or "")
            if not problems:
                yield event, f"{name}:{line}"
    except InputError as exc:
        if exc.file:  # the file itself (not UTF-8): as read_text says it
            raise
        problems.append(InputError(exc.reason, file=name, line=exc.line))
    if problems:
        raise ImportRefused(name, problems)


def _header_problems(header: list[str], required: Sequence[str], optional: Sequence[str] = ()) -> str:
    """What is wrong with ``header`` ("" when nothing): missing and unknown columns, a repeated column."""
    missing = [c for c in required if c not in header]
    extra = [h for h in header if h not in required and h not in optional]
    return "; ".join(filter(None, [
        f"missing {', '.join(missing)}" if missing else "",
        f"unknown {', '.join(extra)}" if extra else "",
        "a column appears twice" if len(set(header)) != len(header) else "",
    ]))


def _check_trade_header(name: str, header: list[str]) -> None:
    detail = _header_problems(header, COLUMNS)
    if detail:
        raise InputError(f"header {','.join(header)!r} is not the canonical trade header "
                         f"{','.join(COLUMNS)} ({detail})", file=name, line=1)


class _FieldError(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


_SIDES = {"buy": Side.BUY, "sell": Side.SELL}
_ZERO = parse_decimal("0")


def _trade(row: dict[str, str], default_account: str | None) -> Trade:
    """The trade of one row (cells already trimmed); every bad cell is a :class:`_FieldError`. The one
    reading of the trade columns, shared by both forms of the file (written straight, no helper per cell:
    it runs once per row of a million-row file)."""
    account = row["account"] or default_account
    if not account:
        raise _FieldError("account", "is empty and no --account was given")
    if default_account and row["account"] and row["account"] != default_account:
        raise _FieldError("account", f"is {row['account']!r} but --account says {default_account!r}")
    text = row["side"]
    if not text:
        raise _FieldError("side", "is empty")
    side = _SIDES.get(text.lower())
    if side is None:
        raise _FieldError("side", f"{text!r} is not buy or sell")
    text = row["timestamp"]
    if not text:
        raise _FieldError("timestamp", "is empty")
    try:
        when = parse_time(text, what="timestamp")
    except ValueError as exc:
        raise _FieldError("timestamp", str(exc).split(": ", 1)[-1] + " (use ISO 8601 with Z or an offset)") from None
    fee = _amount(row, "fee") if row["fee"] else _ZERO
    trade_id = row["id"] or None
    base = row["base"]
    if not base:
        raise _FieldError("base", "is empty")
    quote = row["quote"]
    if not quote:
        raise _FieldError("quote", "is empty")
    quantity = _amount(row, "quantity")
    price = _amount(row, "price")
    try:
        return Trade(time=when, source=SOURCE, external_id=f"{account}/{trade_id}" if trade_id else None,
                     account=account, side=side, base=base, quote=quote, quantity=quantity, price=price, fee=fee,
                     fee_asset=row["fee_asset"] or None)
    except ValueError as exc:
        field, _, reason = str(exc).partition(": ")
        raise _FieldError(field if field in COLUMNS else "row", reason or str(exc)) from None


def _amount(row: dict[str, str], field: str) -> Decimal:
    """The cell ``field`` as an amount (:func:`parse_amount`); empty or bad: :class:`_FieldError`."""
    text = row[field]
    if not text:
        raise _FieldError(field, "is empty")
    try:
        return parse_amount(text, what=field)
    except ValueError as exc:
        raise _FieldError(field, str(exc).split(": ", 1)[-1]) from None


def _check_events_header(name: str, header: list[str]) -> None:
    """The events form's header (module docstring)."""
    detail = _header_problems(header, EVENT_REQUIRED, EVENT_OPTIONAL)
    if detail:
        raise InputError(f"header {','.join(header)!r} is not the canonical events header: "
                         f"{','.join(EVENT_REQUIRED)} and any of {','.join(EVENT_OPTIONAL)} ({detail})",
                         file=name, line=1)


def _event(row: dict[str, str], default_account: str | None):  # noqa: ANN202 - an Event
    from taxreport.model.events import Deposit, GiftIn, Income, Transfer, Withdrawal

    kind = row["type"].lower()
    if kind not in EVENT_TYPES:
        raise _FieldError("type", f"{row['type']!r} is not one of {', '.join(EVENT_TYPES)}" if row["type"]
                          else "is empty")
    for cell in EVENT_OPTIONAL:
        if row[cell] and cell not in USES[kind] and cell not in ("id", "note"):
            raise _FieldError(cell, f"is not used by a {kind} row; leave it empty")
    if kind == "trade":
        trade = _trade(row, default_account)
        return dataclasses.replace(trade, note=row["note"]) if row["note"] else trade
    if kind == "basis":
        return _basis(row)
    account = row["account"] or default_account
    if not account:
        raise _FieldError("account", "is empty and no --account was given")
    if default_account and row["account"] and row["account"] != default_account:
        raise _FieldError("account", f"is {row['account']!r} but --account says {default_account!r}")
    try:
        when = parse_time(row["timestamp"] or "", what="timestamp") if row["timestamp"] else None
    except ValueError as exc:
        raise _FieldError("timestamp", str(exc).split(": ", 1)[-1] + " (use ISO 8601 with Z or an offset)") from None
    if when is None:
        raise _FieldError("timestamp", "is empty")

    def number(cell: str, default: str | None = None):  # noqa: ANN202
        if not row[cell]:
            if default is None:
                return None
            return parse_decimal(default)
        try:
            return parse_amount(row[cell], what=cell)
        except ValueError as exc:
            raise _FieldError(cell, str(exc).split(": ", 1)[-1]) from None

    def moment(cell: str):  # noqa: ANN202
        if not row[cell]:
            return None
        try:
            return parse_time(row[cell], what=cell)
        except ValueError as exc:
            raise _FieldError(cell, str(exc).split(": ", 1)[-1]) from None

    if not row["quantity"]:
        raise _FieldError("quantity", "is empty")
    if not row["asset"]:
        raise _FieldError("asset", "is empty")
    common = {"time": when, "source": SOURCE, "external_id": f"{account}/{row['id']}" if row["id"] else None,
              "note": row["note"], "account": account, "asset": row["asset"], "quantity": number("quantity")}
    try:
        if kind in ("deposit", "gift-in"):
            cls = Deposit if kind == "deposit" else GiftIn
            return cls(**common, cost=number("cost"), cost_currency=row["cost_currency"] or None,
                       acquired_at=moment("acquired_at"))
        if kind in ("withdrawal", "gift-out", "lost"):
            purpose = {"withdrawal": "own-wallet", "gift-out": "gift", "lost": "lost"}[kind]
            value, currency = number("value"), row["value_currency"] or None
            if kind == "lost" and value is None and currency is None:
                value, currency = parse_decimal("0"), "USD"  # nothing received for lost coins
            return Withdrawal(**common, fee=number("fee", "0"), purpose=purpose, value=value, value_currency=currency)
        if kind == "transfer":
            if not row["to_account"]:
                raise _FieldError("to_account", "is empty (a transfer goes from account to to_account)")
            del common["account"]
            return Transfer(**common, from_account=account, to_account=row["to_account"], fee=number("fee", "0"))
        if not row["income_type"]:
            raise _FieldError("income_type", "is empty (staking, airdrop, reward, interest, mining, other)")
        return Income(**common, income_type=row["income_type"].lower(), value=number("value"),
                      value_currency=row["value_currency"] or None)
    except ValueError as exc:
        field, _, reason = str(exc).partition(": ")
        known = (*EVENT_REQUIRED, *EVENT_OPTIONAL)
        raise _FieldError(field if field in known else ("account" if field == "from_account" else "row"),
                          reason or str(exc)) from None



def _basis(row: dict[str, str]):  # noqa: ANN202 - a BasisSupplement
    """A ``basis`` row: the cost basis of an event already in the ledger (``target``: its key, as
    ``taxreport review`` shows it), like ``taxreport ledger basis``; ``account`` and ``quantity`` stay empty."""
    from taxreport.model.events import BasisSupplement

    for cell in ("account", "quantity"):
        if row[cell]:
            raise _FieldError(cell, "is not used by a basis row (the target event has them); leave it empty")
    for cell in ("target", "cost", "cost_currency"):
        if not row[cell]:
            raise _FieldError(cell, "is empty (a basis row needs target, cost and cost_currency)")
    try:
        when = parse_time(row["timestamp"], what="timestamp") if row["timestamp"] else None
        acquired = parse_time(row["acquired_at"], what="acquired_at") if row["acquired_at"] else None
    except ValueError as exc:
        field, _, reason = str(exc).partition(": ")
        raise _FieldError(field, reason + " (use ISO 8601 with Z or an offset)") from None
    if when is None:
        raise _FieldError("timestamp", "is empty")
    try:
        cost = parse_amount(row["cost"], what="cost")
        return BasisSupplement(time=when, source=SOURCE, external_id=row["id"] or None, note=row["note"],
                               target_key=row["target"], cost=cost, cost_currency=row["cost_currency"],
                               acquired_at=acquired)
    except ValueError as exc:
        field, _, reason = str(exc).partition(": ")
        raise _FieldError(field if field in EVENT_OPTIONAL else "row", reason or str(exc)) from None
