"""Main's import code before issue 14's fast path (commit 50952bb), kept verbatim as the oracle of the
differential tests in tests/test_import_fast.py: ``taxreport/model/money.py``'s parse_decimal, check_bounds,
parse_amount and decimal_str, ``taxreport/importers/base.py``'s file_lines and the whole of
``taxreport/importers/canonical_csv.py`` (only its imports are pointed here). Never used by taxreport itself.
"""
# ruff: noqa
# mypy: ignore-errors

from __future__ import annotations

import decimal
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Iterator

from taxreport.errors import InputError
from taxreport.importers.base import BOM

_WIDE = decimal.Context(prec=1000, Emax=999999, Emin=-999999)
MAX_UNITS = Decimal("1e15")
MIN_MAGNITUDE = Decimal("1e-30")
MAX_DIGITS = 30

def parse_decimal(value: object, *, what: str = "number") -> Decimal:
    """Parse a text/int/Decimal into a finite Decimal, or raise ``ValueError`` naming ``what``.

    Accepts Java's scientific zeros (``0E-8``), surrounding spaces and thousands separators are
    refused (ambiguous between locales). Floats are refused: they are never exact.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"{what}: refusing binary float {value!r}; pass text or Decimal")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError(f"{what}: empty")
        if "," in text:
            raise ValueError(f"{what}: {value!r} has a comma; use '.' as decimal point and no separators")
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{what}: {value!r} is not a number") from None
    else:
        raise ValueError(f"{what}: unsupported type {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{what}: {value!r} is not a finite number")
    return result


def check_bounds(value: Decimal, *, what: str = "number", text: object = None) -> Decimal:
    """``value`` when it is within the sane range of an amount read from outside, else ``ValueError``
    naming ``what`` (see the module docstring). ``text`` is the value as written, for the message."""
    raw = str(text).strip() if text is not None else str(value)
    shown = repr(raw if len(raw) <= 40 else raw[:37] + "...")
    if value.is_zero():
        return value
    # adjusted() is the exponent of the leading digit: no arithmetic, so 1E+999999999 cannot overflow
    if value.adjusted() >= MAX_UNITS.adjusted():
        raise ValueError(f"{what}: {shown} is out of range (must be below 1e15)")
    if value.adjusted() < MIN_MAGNITUDE.adjusted():
        raise ValueError(f"{what}: {shown} is out of range (must be 0 or at least 1e-30 in size)")
    if len("".join(map(str, value.as_tuple().digits)).strip("0")) > MAX_DIGITS:
        raise ValueError(f"{what}: {shown} has more than {MAX_DIGITS} significant digits")
    return value


def parse_amount(value: object, *, what: str = "number") -> Decimal:
    """:func:`parse_decimal` for a number read from a file or a user (quantity, price, fee, value):
    also refuses values outside the bounds of :func:`check_bounds`. Zeros of any exponent (``0E-18``)
    are zero."""
    result = parse_decimal(value, what=what)
    if result.is_zero():
        return Decimal(0)
    return check_bounds(result, what=what, text=value)


def decimal_str(value: Decimal) -> str:
    """Canonical text of a Decimal: no exponent, no trailing zeros (``0E-8`` -> ``0``).

    Used for storage and hashing, so equal numbers always have equal text.
    """
    if value == 0:
        return "0"
    # normalize() under a context wide enough for any stored value: never rounds (a price from
    # unit_price() has up to 60 digits and must be stored as it is)
    return format(value.normalize(_WIDE), "f")


def file_lines(path: str | Path) -> Iterator[str]:
    """The file's lines, read one at a time (a million-row file is never held whole), decoded as
    :func:`read_text` decodes a whole file: UTF-8, every byte-order mark removed. The file is opened now
    (one that cannot be read is refused here); a byte that is not UTF-8 raises :class:`InputError` naming
    the file and the byte's offset when the reading reaches it."""
    name = str(path)
    try:
        fh = Path(path).open("rb")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=name) from exc

    def lines() -> Iterator[str]:
        offset = 0
        with fh:
            for raw in fh:  # split at b"\n", which is never inside a UTF-8 sequence
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InputError(f"not UTF-8 text (byte {offset + exc.start})", file=name) from None
                offset += len(raw)
                yield line.replace(BOM, "") if BOM in line else line
    return lines()



# --- taxreport/importers/canonical_csv.py at 50952bb ------------------------------------------------
import dataclasses
from pathlib import Path
from typing import Iterator, Sequence

from taxreport.errors import InputError
from taxreport.importers.base import ImportRefused, ParsedBatch, csv_lines
from taxreport.model.events import Event, Trade, parse_time


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
    col = {h: i for i, h in enumerate(header)}
    try:
        for line, cells in lines:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                problems.append(InputError(f"has {len(cells)} cells, the header has {len(header)}",
                                           file=name, line=line))
                continue
            try:
                event = make({h: cells[i].strip() for h, i in col.items()})
            except _FieldError as exc:
                problems.append(InputError(exc.reason, file=name, line=line, field=exc.field))
                continue
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


def _trade(row: dict[str, str], default_account: str | None) -> Trade:
    def need(field: str) -> str:
        if not row[field]:
            raise _FieldError(field, "is empty")
        return row[field]

    def number(field: str) -> object:
        try:
            return parse_amount(need(field), what=field)
        except ValueError as exc:
            raise _FieldError(field, str(exc).split(": ", 1)[-1]) from None

    account = row["account"] or default_account
    if not account:
        raise _FieldError("account", "is empty and no --account was given")
    if default_account and row["account"] and row["account"] != default_account:
        raise _FieldError("account", f"is {row['account']!r} but --account says {default_account!r}")
    side = need("side").lower()
    if side not in ("buy", "sell"):
        raise _FieldError("side", f"{row['side']!r} is not buy or sell")
    try:
        when = parse_time(need("timestamp"), what="timestamp")
    except ValueError as exc:
        raise _FieldError("timestamp", str(exc).split(": ", 1)[-1] + " (use ISO 8601 with Z or an offset)") from None
    fee = number("fee") if row["fee"] else parse_decimal("0")
    trade_id = row["id"] or None
    try:
        return Trade(time=when, source=SOURCE, external_id=f"{account}/{trade_id}" if trade_id else None,
                     account=account, side=side, base=need("base"), quote=need("quote"),
                     quantity=number("quantity"), price=number("price"), fee=fee,
                     fee_asset=row["fee_asset"] or None)
    except ValueError as exc:
        field, _, reason = str(exc).partition(": ")
        raise _FieldError(field if field in COLUMNS else "row", reason or str(exc)) from None


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
