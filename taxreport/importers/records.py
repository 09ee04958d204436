"""What the "sent / received / fee" importers share (Koinly Universal CSV, BittyTax records): a CSV
read by column *name*, every bad cell as ``file:line: column: reason``, stable ids for rows that carry
none, and one rule for turning "gave X, got Y" into a :class:`~taxreport.model.events.Trade`.

**Which side is the quote.** A row only says what was given and what was received. The quote is the
asset that ranks first in fiat > stablecoins > BTC > ETH > OKB (the same ranking the OKX T0 importer
uses, :func:`quote_rank`); when neither ranks, the asset *given* is the quote (a purchase of the asset
received). The choice only names the pair: both legs are valued at market either way.

**Fees** (both formats, documented by Koinly and BittyTax): the amount given excludes a fee in the
same asset (it is deducted on top) and the amount received is before a fee in the received asset.
That is exactly :class:`Trade`'s convention (``quantity`` gross, fee on top / out of the base), so
``quantity`` = the base amount as written and ``price`` = quote amount ÷ base amount.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from taxreport.errors import InputError
from taxreport.importers.base import csv_lines, file_lines
from taxreport.model.assets import FIAT, STABLECOINS
from taxreport.model.events import Event, Side, Trade
from taxreport.model.money import parse_amount, unit_price

QUOTE_RANK_AFTER_STABLES = ("BTC", "ETH", "OKB")
_GROUPED = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")


def quote_rank(asset: str) -> int | None:
    """Lower ranks are more likely the quote of a pair: fiat 0, stablecoins 1, BTC 2, ETH 3, OKB 4."""
    if asset in FIAT:
        return 0
    if asset in STABLECOINS or asset in ("USDK",):
        return 1
    if asset in QUOTE_RANK_AFTER_STABLES:
        return 2 + QUOTE_RANK_AFTER_STABLES.index(asset)
    return None


def received_is_quote(received: str, given: str) -> bool:
    """True when the asset received is the quote, i.e. the row is a *sale* of the asset given."""
    got, gave = quote_rank(received), quote_rank(given)
    return got is not None and (gave is None or got < gave)


class CellError(Exception):
    """A bad cell (``column`` is the header name) or a bad row (``column`` None)."""

    def __init__(self, column: str | None, reason: str) -> None:
        super().__init__(reason)
        self.column, self.reason = column, reason


@dataclass
class Table:
    """A CSV file read by column name (header matched case-insensitively, spaces trimmed)."""

    path: str
    header: list[str]
    rows: Iterable[tuple[int, list[str]]]  # (line, cells) of the non-blank data rows: a list, or a stream
    index: dict[str, int] = field(default_factory=dict)  # lower-case name -> position

    @classmethod
    def read(cls, path: str, *, required: Sequence[str], what: str, stream: bool = False) -> Table:
        """The file's header, checked, and its rows: all of them in a list, or with ``stream`` an iterator that
        reads them from the file as it is consumed (a bad byte or malformed CSV further on is then raised
        when the reading reaches it)."""
        records = _records(path)
        first = next(records, None)
        if first is None:
            raise InputError(f"empty file: expected {what} with the header {','.join(required)}", file=path)
        line, header = first
        header = [h.strip() for h in header]
        while len(header) > 1 and header[-1] == "":
            header.pop()
        index = {h.lower(): i for i, h in enumerate(header) if h}
        missing = [c for c in required if c.lower() not in index]
        if missing or len(index) != len([h for h in header if h]):
            why = f"missing {', '.join(missing)}" if missing else "a column appears twice"
            raise InputError(f"header {','.join(header)!r} is not {what} ({why}; expected "
                             f"{','.join(required)})", file=path, line=line)
        return cls(path, header, records if stream else list(records), index)

    def has(self, name: str) -> bool:
        return name.lower() in self.index

    def extra_columns(self, known: Sequence[str]) -> list[str]:
        lower = {k.lower() for k in known}
        return [h for h in self.header if h and h.lower() not in lower]


def _records(path: str) -> Iterator[tuple[int, list[str]]]:
    """The non-blank CSV records of the file, read a block at a time (:func:`file_lines`)."""
    try:
        for line, cells in csv_lines(file_lines(path, universal=True)):
            if any(c.strip() for c in cells):
                yield line, cells
    except InputError as exc:
        raise InputError(exc.reason, file=path, line=exc.line) from exc


class Cells:
    """One data row of a :class:`Table`: named, trimmed access; every failure is a :class:`CellError`."""

    def __init__(self, table: Table, line: int, cells: list[str]) -> None:
        self.table, self.line, self.cells = table, line, cells
        width = len(table.header)
        if len(cells) > width and not any(c.strip() for c in cells[width:]):
            self.cells = cells[:width]
        if len(self.cells) != width:
            raise CellError(None, f"has {len(cells)} cells, the header has {width}")

    def text(self, name: str) -> str:
        i = self.table.index.get(name.lower())
        return "" if i is None else self.cells[i].strip()

    def need(self, name: str) -> str:
        value = self.text(name)
        if not value:
            raise CellError(name, "is empty")
        return value

    def amount(self, name: str, *, grouped: bool = False) -> Decimal | None:
        """The cell as an exact, bounded amount (None when empty). ``grouped`` accepts thousands
        separators written as ``20,086.56`` (only well-formed groups of three)."""
        text = self.text(name)
        if not text:
            return None
        if grouped and _GROUPED.match(text):
            text = text.replace(",", "")
        try:
            value = parse_amount(text, what=name)
        except ValueError as exc:
            raise CellError(name, str(exc).split(": ", 1)[-1]) from None
        if value < 0:
            raise CellError(name, f"must not be negative, got {text}")
        return value

    def positive(self, name: str, *, grouped: bool = False) -> Decimal:
        value = self.amount(name, grouped=grouped)
        if value is None:
            raise CellError(name, "is empty")
        if value == 0:
            raise CellError(name, "must be greater than zero")
        return value

    def asset(self, name: str) -> str:
        from taxreport.model.assets import normalise_asset

        try:
            return normalise_asset(self.need(name), what=name)
        except ValueError as exc:
            raise CellError(name, str(exc).split(": ", 1)[-1]) from None

    def fingerprint(self) -> str:
        return "\x1f".join(c.strip() for c in self.cells)


class RowIds:
    """Stable ids for rows without one: a hash of the row's cells plus its occurrence among identical
    rows of the file, so re-importing the file adds nothing while two identical rows (two equal fills
    in one second) stay two events."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.seen: dict[str, int] = {}

    def __call__(self, *fingerprints: str) -> str:
        digest = hashlib.sha256("\x1e".join(fingerprints).encode()).hexdigest()[:32]
        n = self.seen.get(digest, 0)
        self.seen[digest] = n + 1
        return f"{self.prefix}:{digest}" + (f":{n}" if n else "")


def make_trade(*, time, source: str, external_id: str, account: str, given: tuple[Decimal, str],
               received: tuple[Decimal, str], fee: Decimal | None, fee_asset: str | None,
               side: str | None = None, note: str = "", fields: tuple[str, str] = ("Received", "Fee")) -> Trade:
    """The :class:`Trade` of "gave ``given``, got ``received``" (see the module docstring); ``side``
    forces ``buy`` (received is the base) or ``sell`` (given is the base). ``fields`` name the
    received-currency and fee-amount columns in errors."""
    if given[1] == received[1]:
        raise CellError(fields[0], f"is {received[1]}, the same asset as the one sent: not a trade")
    if fee and fee_asset == received[1] and fee >= received[0]:
        raise CellError(fields[1], f"{fee} {fee_asset} is not less than the {received[0]} {fee_asset} received")
    sale = received_is_quote(received[1], given[1]) if side is None else side == "sell"
    base, quote = (given, received) if sale else (received, given)
    return Trade(time=time, source=source, external_id=external_id, account=account,
                 side=Side.SELL if sale else Side.BUY, base=base[1], quote=quote[1], quantity=base[0],
                 price=unit_price(quote[0], base[0]), fee=fee or Decimal(0), fee_asset=fee_asset if fee else None,
                 note=note)


def where(path: str, line: int, exc: CellError) -> InputError:
    return InputError(exc.reason, file=path, line=line, field=exc.column)


def invalid(path: str, line: int, exc: ValueError) -> InputError:
    """A model's ``"field: reason"`` refusal of the event a row makes, placed at ``path:line``."""
    field, _, reason = str(exc).partition(": ")
    return InputError(reason or str(exc), file=path, line=line, field=field if reason else None)


@dataclass
class RecordsStream:
    """What a records importer makes of one file, read as it is consumed: ``items`` yields ``(event,
    origin)`` and raises :class:`~taxreport.importers.base.ImportRefused` at its end if any row was bad (after
    the first bad row nothing more is yielded, the rest is still checked). ``rows`` counts the data rows read
    (final once ``items`` is exhausted); ``notes`` are known before the first row."""

    path: str
    notes: list[str]
    items: Iterator[tuple[Event, str]] = field(default_factory=lambda: iter(()))
    rows: int = 0

    def collect(self) -> RecordsBatch:
        """The whole stream in a :class:`RecordsBatch` (for callers that hold every event anyway)."""
        batch = RecordsBatch(self.path, notes=self.notes)
        for event, origin in self.items:
            batch.add(event, origin)
        batch.rows = self.rows
        return batch


@dataclass
class RecordsBatch:
    """What a records importer makes of one file (nothing written yet)."""

    path: str
    events: list[Event] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    rows: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, event: Event, origin: str) -> None:
        self.events.append(event)
        self.origins.append(origin)
