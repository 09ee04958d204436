"""A generic trade CSV importer driven by a column mapping (a TOML file), for exchanges without a
dedicated importer. One CSV row is one fill. Example mapping (every key is documented in
README.md ("Importing OKX history"), "Other exchanges")::

    source = "kraken"             # origin of the facts: natural keys are trade:kraken:<account>/<id>
    skip_lines = 0                # lines before the header row (metadata)
    delimiter = ","

    [time]
    column = "time"
    format = "%Y-%m-%d %H:%M:%S.%f"   # strptime format, or "iso", "unix", "unix_ms"
    zone = "UTC"                      # IANA name or UTC±H[:MM], for times without an offset

    [columns]
    side = "type"
    symbol = "pair"               # or: base = "…" and quote = "…"
    quantity = "vol"              # base quantity
    price = "price"               # or: cost = "cost" (quote total; price = cost / quantity)
    fee = "fee"                   # optional
    fee_asset = "fee_currency"    # optional column; else [fee] asset
    id = "txid"                   # optional: without it a row's content identifies it
    order_id = "ordertxid"        # optional

    [symbol]
    separator = "/"
    quotes = ["ZEUR", "EUR"]      # optional: for pairs written without the separator (Kraken's XXBTZEUR),
                                  # the quote is the longest listed suffix

    [assets]                      # optional renames of base, quote and fee assets (Kraken: XXBT/XBT is BTC)
    XXBT = "BTC"
    XBT = "BTC"
    ZEUR = "EUR"

    [sides]
    buy = ["buy"]
    sell = ["sell"]

    [fee]
    asset = "quote"               # "quote", "base" or an asset symbol, when there is no fee_asset column
    negative_means_charged = false

A file with any bad row is refused whole (file:line: column: reason); nothing is guessed.

**Rows without an id** are identified by their content (the trade's own key), as the canonical CSV's. Two
*identical* rows of one file are two fills (two equal fills of one order in one minute are common where
an exchange writes minute times), never one fill and a "duplicate": the second and later copies get the
external id ``<account>/<content digest>:<n>`` (``n`` = 1, 2, … their occurrence among identical rows of
the file: :func:`~taxreport.importers.base.nth_copy`, shared with the canonical CSV; the rule
:class:`~taxreport.importers.records.RowIds` applies to Koinly and BittyTax rows), so
re-importing the file, or an overlapping export holding the same rows, adds nothing. The first copy keeps
its content key (the key every earlier version wrote).

**Signs.** ``quantity`` may be written negative for a sale (some exchanges sign the base amount); a
negative quantity on a *buy* row contradicts its side and is refused, not turned positive.
"""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Iterator

from taxreport.errors import InputError
from taxreport.importers.base import ImportRefused, ParsedBatch, file_lines, nth_copy, read_text
from taxreport.importers.okx.common import checked_decimal, resolve_zone
from taxreport.model.events import Event, Side, Trade, utc
from taxreport.model.money import unit_price


@dataclass(frozen=True)
class Mapping:
    source: str
    columns: dict[str, str]
    time_format: str
    zone: tzinfo
    separator: str = "/"
    buy: tuple[str, ...] = ("buy",)
    sell: tuple[str, ...] = ("sell",)
    fee_asset: str = "quote"
    negative_means_charged: bool = False
    skip_lines: int = 0
    delimiter: str = ","
    path: str = ""
    quotes: tuple[str, ...] = ()  # longest first
    assets: tuple[tuple[str, str], ...] = ()

    def asset(self, symbol: str) -> str:
        """``symbol`` under the mapping's ``[assets]`` renames (as written, then upper-case)."""
        for name, new in self.assets:
            if symbol == name or symbol.upper() == name.upper():
                return new
        return symbol


REQUIRED = ("side", "quantity")
KNOWN_KEYS: dict[str, tuple[str, ...]] = {  # "" = the top level; [columns] is checked on its own
    "": ("source", "skip_lines", "delimiter", "time", "columns", "symbol", "sides", "fee", "assets"),
    "time": ("column", "format", "zone"),
    "symbol": ("separator", "quotes"),
    "sides": ("buy", "sell"),
    "fee": ("asset", "negative_means_charged"),
}


def load_mapping(path: str | Path) -> Mapping:
    name = str(path)
    try:
        data = tomllib.loads(read_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", file=name) from exc

    def bad(key: str, reason: str) -> InputError:
        return InputError(reason, file=name, field=key)

    for table, keys in KNOWN_KEYS.items():
        part = data if table == "" else data.get(table, {})
        if not isinstance(part, dict):
            raise bad(table, "must be a table")
        if unknown_keys := sorted(set(part) - set(keys)):
            where = f"[{table}] " if table else ""
            raise bad(f"{table}.{unknown_keys[0]}" if table else unknown_keys[0],
                      f"unknown {where}key(s) {', '.join(unknown_keys)} (known: {', '.join(keys)}); a misspelt "
                      "key is never ignored")
    source = data.get("source")
    if not isinstance(source, str) or not source.strip() or ":" in source:
        raise bad("source", "must name the exchange, e.g. source = \"kraken\" (no colon)")
    cols = data.get("columns")
    if not isinstance(cols, dict) or not all(isinstance(v, str) and v for v in cols.values()):
        raise bad("columns", "a [columns] table of column names is required")
    allowed = {"side", "symbol", "base", "quote", "quantity", "price", "cost", "fee", "fee_asset", "id", "order_id"}
    if unknown := sorted(set(cols) - allowed):
        raise bad("columns", f"unknown keys {', '.join(unknown)} (known: {', '.join(sorted(allowed))})")
    for key in REQUIRED:
        if key not in cols:
            raise bad(f"columns.{key}", "is required")
    has_pair = "base" in cols and "quote" in cols
    if ("symbol" in cols) == has_pair or ("symbol" in cols and ("base" in cols or "quote" in cols)):
        raise bad("columns.symbol", "give either symbol, or both base and quote")
    if ("price" in cols) == ("cost" in cols):
        raise bad("columns.price", "give either price or cost")
    time = data.get("time") or {}
    if not isinstance(time, dict) or not isinstance(time.get("column"), str):
        raise bad("time.column", "is required")
    cols = dict(cols) | {"time": time["column"]}
    zone_text = str(time.get("zone", "UTC"))
    try:
        zone = resolve_zone(zone_text)[0]
    except ValueError as exc:
        raise bad("time.zone", f"{zone_text!r} is neither an IANA zone nor UTC±H") from exc
    sides = data.get("sides") or {}
    fee = data.get("fee") or {}
    symbol = data.get("symbol") or {}
    quotes = symbol.get("quotes", []) if isinstance(symbol, dict) else None
    if not isinstance(quotes, list) or not all(isinstance(q, str) and q.strip() for q in quotes):
        raise bad("symbol.quotes", "must be a list of quote assets, e.g. quotes = [\"ZEUR\", \"EUR\"]")
    renames = data.get("assets") or {}
    if not isinstance(renames, dict) or not all(isinstance(v, str) and v.strip() for v in renames.values()):
        raise bad("assets", "must be a table of renames, e.g. XBT = \"BTC\"")
    return Mapping(
        source=source.strip(), columns=cols, time_format=str(time.get("format", "iso")), zone=zone,
        separator=str((data.get("symbol") or {}).get("separator", "/")),
        buy=tuple(str(s).lower() for s in sides.get("buy", ["buy"])),
        sell=tuple(str(s).lower() for s in sides.get("sell", ["sell"])),
        fee_asset=str(fee.get("asset", "quote")), negative_means_charged=bool(fee.get("negative_means_charged", False)),
        skip_lines=int(data.get("skip_lines", 0)), delimiter=str(data.get("delimiter", ",")), path=name,
        quotes=tuple(sorted((q.strip() for q in quotes), key=len, reverse=True)),
        assets=tuple((str(k), v.strip()) for k, v in renames.items()))


class _Bad(Exception):
    def __init__(self, column: str | None, reason: str) -> None:
        super().__init__(reason)
        self.column, self.reason = column, reason


def parse_mapped(path: str | Path, mapping: Mapping, *, account: str) -> ParsedBatch:
    """Every trade of the file in a :class:`ParsedBatch` (:class:`ImportRefused` if any row is bad)."""
    batch = ParsedBatch(str(path))
    for event, origin in iter_mapped(path, mapping, account=account):
        batch.add(event, origin)
    return batch


def _body_lines(path: str | Path, skip: int) -> Iterator[str]:
    """The file's lines after the first ``skip`` (lines as ``str.splitlines`` counts them, so a preamble
    ends where a text editor shows it end), split again as ``csv`` reads a text (at ``\n``, ``\r\n`` and
    ``\r``), read a block at a time."""
    pieces = (piece for line in file_lines(path) for piece in line.splitlines(keepends=True))
    for _ in range(skip):
        if next(pieces, None) is None:
            return
    pending: list[str] = []
    for piece in pieces:
        if piece.endswith(("\n", "\r")):
            yield "".join((*pending, piece)) if pending else piece
            pending = []
        else:
            pending.append(piece)  # a line break csv does not split at (\u2028, \x0c…): the line goes on
    if pending:
        yield "".join(pending)


def iter_mapped(path: str | Path, mapping: Mapping, *, account: str) -> Iterator[tuple[Event, str]]:
    """The file's trades with their origins, read a row at a time (what ``import mapped`` streams into the
    ledger). A bad header raises before the first trade; after the first bad row no more trades are yielded,
    the rest is still checked, and :class:`ImportRefused` lists every bad row at the end."""
    name = str(path)
    reader = csv.reader(_body_lines(path, mapping.skip_lines), delimiter=mapping.delimiter)
    problems: list[InputError] = []
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(reader)]
    except StopIteration:
        raise InputError("empty file: no header row", file=name) from None
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", file=name, line=mapping.skip_lines + 1) from exc
    missing = [c for c in mapping.columns.values() if c not in header]
    if missing:
        raise InputError(f"header {mapping.delimiter.join(header)!r} lacks the mapped columns "
                         f"{', '.join(missing)} (mapping {mapping.path})", file=name, line=mapping.skip_lines + 1)
    index = {h: i for i, h in enumerate(header)}
    start = mapping.skip_lines + 2
    seen: dict[str, int] = {}  # content keys of id-less rows -> copies so far (module docstring)
    try:
        for cells in reader:
            line = start
            start = mapping.skip_lines + reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                problems.append(InputError(f"has {len(cells)} cells, the header has {len(header)}",
                                           file=name, line=line))
                continue
            row = {key: cells[index[col]].strip() for key, col in mapping.columns.items()}
            try:
                trade = _trade(row, mapping, account)
            except _Bad as exc:
                column = mapping.columns.get(exc.column or "", exc.column)
                problems.append(InputError(exc.reason, file=name, line=line, field=column))
                continue
            if trade.external_id is None:
                trade = nth_copy(trade, seen, account)
            if not problems:
                yield trade, f"{name}:{line}"
    except csv.Error as exc:
        problems.append(InputError(f"malformed CSV: {exc}", file=name, line=start))
    if problems:
        raise ImportRefused(name, problems)


def _split(symbol: str, m: Mapping) -> tuple[str, str]:
    """``BASE<separator>QUOTE``; without the separator, ``BASEQUOTE`` where QUOTE is the longest of the
    mapping's ``[symbol] quotes`` it ends with (Kraken's ``XXBTZEUR``). Anything else is refused."""
    parts = symbol.split(m.separator) if m.separator and m.separator in symbol else []
    if len(parts) == 2 and all(p.strip() for p in parts):
        return parts[0].strip(), parts[1].strip()
    if not parts:
        text = symbol.strip()
        for quote in m.quotes:
            if len(text) > len(quote) and text.upper().endswith(quote.upper()):
                return text[: -len(quote)], text[-len(quote):]
    also = f" nor BASEQUOTE with QUOTE one of {', '.join(m.quotes)}" if m.quotes else ""
    raise _Bad("symbol", f"{symbol!r} is not BASE{m.separator}QUOTE{also}")


def _time(text: str, m: Mapping) -> datetime:
    if not text:
        raise _Bad("time", "is empty")
    try:
        if m.time_format in ("unix", "unix_ms"):
            seconds = checked_decimal(text, what="time") / (1000 if m.time_format == "unix_ms" else 1)
            return datetime.fromtimestamp(0, timezone.utc) + _seconds(seconds)
        value = (datetime.fromisoformat(text.replace("Z", "+00:00")) if m.time_format == "iso"
                 else datetime.strptime(text, m.time_format))
    except (ValueError, OverflowError) as exc:
        why = str(exc).removeprefix("time: ")  # the InputError names the column already
        raise _Bad("time", f"{text!r} does not match the format {m.time_format!r} ({why})") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=m.zone)
    return utc(value)


def _seconds(seconds: Decimal):  # noqa: ANN202
    from datetime import timedelta

    whole = int(seconds)
    return timedelta(seconds=whole, microseconds=int((seconds - whole) * 1_000_000))


def _number(row: dict[str, str], key: str) -> Decimal:
    if not row[key]:
        raise _Bad(key, "is empty")
    try:
        return checked_decimal(row[key], what=key)
    except ValueError as exc:
        raise _Bad(key, str(exc).split(": ", 1)[-1]) from None


def _trade(row: dict[str, str], m: Mapping, account: str) -> Trade:
    side_text = row["side"].lower()
    side = "buy" if side_text in m.buy else "sell" if side_text in m.sell else None
    if side is None:
        raise _Bad("side", f"{row['side']!r} is none of {', '.join(m.buy + m.sell)}")
    if "symbol" in row:
        base, quote = _split(row["symbol"], m)
    else:
        base, quote = row["base"], row["quote"]
    base, quote = m.asset(base), m.asset(quote)
    quantity = _number(row, "quantity")
    if quantity < 0 and side == "buy":
        raise _Bad("quantity", f"{row['quantity']} is negative on a {row['side']!r} (buy) row: a buy cannot "
                               "lower the base amount")
    quantity = abs(quantity)
    price = _number(row, "price") if "price" in row else None
    if price is None:
        if quantity == 0:
            raise _Bad("quantity", "is zero")
        price = unit_price(abs(_number(row, "cost")), quantity)
    fee = _number(row, "fee") if row.get("fee") else Decimal(0)
    if m.negative_means_charged:
        fee = -fee
    fee_asset = m.asset(row.get("fee_asset") or {"quote": quote, "base": base}.get(m.fee_asset, m.fee_asset))
    when = _time(row["time"], m)
    ident = row.get("id") or None
    try:
        return Trade(time=when, source=m.source, external_id=f"{account}/{ident}" if ident else None,
                     account=account, side=Side(side), base=base, quote=quote, quantity=quantity, price=price, fee=fee,
                     fee_asset=fee_asset if fee else None, order_id=row.get("order_id") or None)
    except ValueError as exc:
        key, _, reason = str(exc).partition(": ")
        if key in ("base", "quote") and "symbol" in row:  # both come from the one symbol column
            key = "symbol"
        raise _Bad(key if key in row else None, reason or str(exc)) from None
