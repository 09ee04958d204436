"""The canonical trade CSV: the documented way to bring any trade into the ledger.

Header (every column present, in any order, no others)::

    timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id

* ``timestamp``: ISO 8601 with an offset or ``Z`` (``2024-03-01T12:00:00Z``); naive times are refused.
* ``account``: e.g. ``kraken:main``; may be empty when ``--account`` is given.
* ``side``: ``buy`` or ``sell``; ``quantity`` in ``base``; ``price`` in ``quote`` per ``base``.
  A fiat quote is allowed: buying BTC for GBP is one row.
* ``fee``: may be empty (no fee); negative for a rebate; ``fee_asset`` is required with a fee.
* ``id``: the venue's trade id; re-importing a row with the same account and id adds nothing. When
  empty, the row's content identifies it.
"""

from __future__ import annotations

from pathlib import Path

from taxreport.errors import InputError
from taxreport.importers.base import ImportRefused, ParsedBatch, csv_lines, read_text
from taxreport.model.events import Trade, parse_time
from taxreport.model.money import parse_decimal

COLUMNS = ("timestamp", "account", "side", "base", "quote", "quantity", "price", "fee", "fee_asset", "id")
SOURCE = "csv"


def parse_canonical_csv(path: str | Path, *, account: str | None = None) -> ParsedBatch:
    name = str(path)
    text = read_text(path)
    batch = ParsedBatch(name)
    problems: list[InputError] = []
    lines = csv_lines(text)
    try:
        first = next(lines, None)
    except InputError as exc:
        raise ImportRefused(name, [InputError(exc.reason, file=name, line=exc.line)]) from exc
    if first is None:
        raise InputError("empty file: expected the header " + ",".join(COLUMNS), file=name)
    _, header = first
    header = [h.strip() for h in header]
    missing = [c for c in COLUMNS if c not in header]
    extra = [h for h in header if h not in COLUMNS]
    if missing or extra or len(set(header)) != len(header):
        detail = "; ".join(filter(None, [
            f"missing {', '.join(missing)}" if missing else "",
            f"unknown {', '.join(extra)}" if extra else "",
            "a column appears twice" if len(set(header)) != len(header) else "",
        ]))
        raise InputError(f"header {','.join(header)!r} is not the canonical trade header "
                         f"{','.join(COLUMNS)} ({detail})", file=name, line=1)
    col = {h: i for i, h in enumerate(header)}
    try:
        for line, cells in lines:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                problems.append(InputError(f"has {len(cells)} cells, the header has {len(header)}",
                                           file=name, line=line))
                continue
            row = {h: cells[i].strip() for h, i in col.items()}
            try:
                batch.add(_trade(row, account), f"{name}:{line}")
            except _FieldError as exc:
                problems.append(InputError(exc.reason, file=name, line=line, field=exc.field))
    except InputError as exc:
        problems.append(InputError(exc.reason, file=name, line=exc.line))
    if problems:
        raise ImportRefused(name, problems)
    return batch


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
            return parse_decimal(need(field), what=field)
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
