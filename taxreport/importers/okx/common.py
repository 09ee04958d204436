"""Shared pieces of the OKX CSV parsers: reading a file (optional UTF-8 BOM, optional metadata line),
the time zone the metadata line declares, local-time parsing, and row access that turns every bad cell
into ``file:line: column: reason``.

Sources for the layouts and traps: ``/shared/REFERENCE.md`` §3 (BittyTax ``conv/parsers/okx.py``,
everytrade-plugins ``OkxBeanV1/V2``), summarised in README.md ("Importing OKX history").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from itertools import pairwise
from typing import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from taxreport.errors import InputError
from taxreport.importers.base import csv_lines, file_lines
from taxreport.model.events import Event
from taxreport.model.money import parse_amount

BOM = "\ufeff"
_META = re.compile(r"^[A-Za-z][A-Za-z ]*:")
_ZONE = re.compile(r"^(?:UTC|GMT)\s*(?:([+-])\s*(\d{1,2})(?::?(\d{2}))?)?$", re.IGNORECASE)
_LOCAL = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$")


class RowError(Exception):
    """A bad cell (``column`` is a header name) or a bad row (``column`` None)."""

    def __init__(self, column: str | None, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.column, self.reason, self.line = column, reason, line


@dataclass
class OkxFile:
    """A read OKX export: its header, the time zone of its ``Time`` column and its data rows."""

    path: str
    header: list[str]
    header_line: int
    zone: tzinfo
    zone_label: str  # e.g. "UTC+8 (metadata line)" or "UTC (no metadata line)"
    metadata: str | None
    rows: list[tuple[int, list[str]]] = field(default_factory=list)


@dataclass
class OkxBatch:
    """What a parser makes of one file; nothing has been written yet."""

    path: str
    variant: str
    zone_label: str
    rows: int = 0
    events: list[Event] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (origin, reason)
    already_recorded: list[tuple[str, str]] = field(default_factory=list)  # (origin, reason)
    rounding: list[tuple[str, str]] = field(default_factory=list)  # (origin, detail): OKX's 1e-8 roundings
    gaps: list[tuple[str, str]] = field(default_factory=list)  # (origin, detail): balance chain breaks
    notes: list[str] = field(default_factory=list)  # file-level remarks (unused columns, earn balance…)

    def add(self, event: Event, origin: str) -> None:
        self.events.append(event)
        self.origins.append(origin)


def checked_decimal(text: str, *, what: str) -> Decimal:
    """A number read from an export: :func:`~taxreport.model.money.parse_amount` (exact, and refusing
    ``1e400``, ``1E+30`` or 40 significant digits at the door, never later in a report)."""
    return parse_amount(text, what=what)


ROUNDING = Decimal("0.00000001")
"""OKX writes Amount, Fee and Balance Change (and funding Amount/Before/After Balance) each rounded to
8 decimals on its own, so one row's ``±Amount + Fee`` may differ from its ``Balance Change`` by one unit
of the 8th decimal. Up to this much per row is accepted and reported; more refuses the file."""


@dataclass(frozen=True)
class BalanceStep:
    """One row's effect on one asset's running balance, as OKX states it."""

    origin: str
    line: int
    order: tuple  # sort key: OKX's row id (numeric ids in number order), then time and line
    asset: str
    change: Decimal
    after: Decimal
    before: Decimal | None = None  # funding rows state it; trading rows imply it (after − change)


def check_chain(steps: list[BalanceStep], batch: OkxBatch) -> None:
    """Per asset, in OKX's own order, each row must start from the balance the previous row left:
    ``before`` (or ``after − change``) = previous ``after``. A break is a row missing from the export
    (or one OKX never lists): it is reported in ``batch.gaps``, never silently absorbed, and the
    import goes on (the rows themselves are consistent). Differences up to :data:`ROUNDING` are
    OKX's rounding of its Balance column (seen in real exports): reported in ``batch.rounding``."""
    by_asset: dict[str, list[BalanceStep]] = {}
    for step in steps:
        by_asset.setdefault(step.asset, []).append(step)
    for asset, chain in sorted(by_asset.items()):
        chain.sort(key=lambda s: s.order)
        for prev, step in pairwise(chain):
            start = step.before if step.before is not None else step.after - step.change
            gap = start - prev.after
            if gap and abs(gap) <= ROUNDING:
                detail = (f"{asset}: this row starts from {start}, the previous row (line {prev.line}) left "
                          f"{prev.after}: {gap:+} (OKX's 8-decimal rounding of its Balance column)")
                batch.rounding.append((step.origin, detail))
            elif abs(gap) > ROUNDING:
                detail = (f"{asset}: this row starts from a balance of {start} but the previous row (line "
                          f"{prev.line}) left {prev.after}: {gap:+} {asset} unaccounted for (a row missing "
                          "from the export?)")
                batch.gaps.append((step.origin, detail))


def row_order(row_id: str, when: datetime, line: int) -> tuple:
    """OKX's order of rows: bill ids grow with time (rows of one second are in id order, not file order)."""
    return (0, int(row_id), when, line) if row_id.isdigit() else (1, 0, when, line)


def parse_zone(text: str) -> tuple[tzinfo, str]:
    """``UTC+8`` / ``UTC-3:30`` / ``UTC`` / ``GMT+09:00`` -> a fixed-offset zone (ValueError if odd)."""
    m = _ZONE.match(text.strip())
    if not m:
        raise ValueError(f"time zone {text.strip()!r} is not of the form UTC+H, UTC-H:MM or UTC")
    sign, hours, minutes = m.groups()
    if sign is None:
        return timezone.utc, "UTC"
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
    if delta > timedelta(hours=14):
        raise ValueError(f"time zone {text.strip()!r} is more than 14 hours from UTC")
    return timezone(-delta if sign == "-" else delta), text.strip()


def resolve_zone(text: str) -> tuple[tzinfo, str]:
    """A zone a user names (``--time-zone``, a mapping's ``time.zone``): ``UTC±H[:MM]`` (:func:`parse_zone`)
    or an IANA name (``Europe/Rome``: its summer and winter offsets). ValueError if it is neither."""
    try:
        return parse_zone(text)
    except ValueError:
        pass
    try:
        return ZoneInfo(text.strip()), text.strip()
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{text.strip()!r} is neither an IANA time zone (Europe/Rome) nor UTC±H[:MM]") from None


def clean_cell(cell: str) -> str:
    """A header cell without BOMs (T1 puts one on every cell) and surrounding spaces."""
    return cell.replace(BOM, "").strip()


def read_okx_file(path: str, zone_if_none: tuple[tzinfo, str] | None = None) -> OkxFile:
    """Read the file; raise :class:`InputError` naming the file for an empty or undecodable file. Its rows are
    held (OKX rows are paired and their balance chain checked across the file), once: the file is read a block
    at a time, never as one text beside its rows.

    The ``Time`` column's zone: the metadata line's ``Time Zone:`` when it names one (the file's own word
    wins); else ``zone_if_none`` (the user's ``--time-zone``); else UTC. OKX writes times in the display time
    zone of the account, and not every export says which: GiacenzeCrypto's ``config/import/OKX_Funding.json``
    records a real 2026 export whose first line named no zone and whose times were Europe/Rome, two hours
    ahead of the same bill's API ``ts`` ("bill 'Received' del 28/07/2026: ts API 10:02:03Z, CSV 12:02:03")."""
    name = str(path)
    records: list[tuple[int, list[str]]] = []
    try:
        for line, cells in csv_lines(file_lines(path, universal=True)):
            if any(x.strip() for x in cells):
                records.append((line, cells))
    except InputError as exc:
        raise InputError(exc.reason, file=name, line=exc.line) from exc
    if not records:
        raise InputError("empty file: expected an OKX trading or funding history export", file=name)
    metadata = None
    zone: tzinfo = timezone.utc
    label = "UTC (no metadata line)"
    if zone_if_none is not None:
        zone, label = zone_if_none[0], f"{zone_if_none[1]} (--time-zone; no metadata line)"
    first_line, first = records[0]
    if first and _META.match(clean_cell(first[0])):
        metadata = ",".join(c for c in first if c.strip())
        for cell in first:
            key, sep, value = clean_cell(cell).partition(":")
            if sep and key.strip().lower() == "time zone":
                try:
                    zone, label = parse_zone(value)
                except ValueError as exc:
                    raise InputError(str(exc), file=name, line=first_line, field="Time Zone") from exc
                label = f"{label} (metadata line)"
                break
        else:
            label = ("UTC (metadata line names no time zone)" if zone_if_none is None else
                     f"{zone_if_none[1]} (--time-zone; the metadata line names none)")
        records = records[1:]
        if not records:
            raise InputError("only a metadata line: no header row", file=name, line=first_line)
    header_line, header = records[0]
    header = [clean_cell(h) for h in header]
    while len(header) > 1 and header[-1] == "":
        header.pop()  # trailing empty cells after the last column (spreadsheet re-saves)
    return OkxFile(name, header, header_line, zone, label, metadata, records[1:])


def parse_local_time(text: str, zone: tzinfo) -> datetime:
    """``YYYY-MM-DD HH:MM[:SS[.ffffff]]`` in ``zone`` -> UTC. Other shapes are refused, not guessed."""
    raw = text.strip()
    m = _LOCAL.match(raw)
    if not m:
        if re.match(r"^\d{1,2}/\d{1,2}/\d{2,4}", raw):
            raise ValueError(f"{raw!r} looks re-saved by a spreadsheet (day and month are ambiguous); "
                             "use the file as downloaded from OKX (YYYY-MM-DD HH:MM:SS)")
        raise ValueError(f"{raw!r} is not a time of the form YYYY-MM-DD HH:MM:SS")
    y, mo, d, h, mi, s, frac = m.groups()
    try:
        local = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0),
                         int((frac or "0").ljust(6, "0")), tzinfo=zone)
        return local.astimezone(timezone.utc)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"{raw!r} is not a valid date and time ({exc})") from None


class Row:
    """One data row with named access; ``cols`` maps a header name to its index (last one wins)."""

    def __init__(self, f: OkxFile, line: int, cells: Sequence[str], cols: dict[str, int]) -> None:
        self.file, self.line, self.cells, self.cols = f, line, cells, cols

    @property
    def origin(self) -> str:
        return f"{self.file.path}:{self.line}"

    def where(self, name: str) -> str:
        return f"{name} (column {self.cols[name] + 1})"

    def text(self, name: str, *, required: bool = True) -> str:
        value = self.cells[self.cols[name]].strip()
        if required and not value:
            raise RowError(self.where(name), "is empty", self.line)
        return value

    def dec(self, name: str) -> Decimal:
        try:
            return checked_decimal(self.text(name), what=name)
        except ValueError as exc:
            raise RowError(self.where(name), str(exc).split(": ", 1)[-1], self.line) from None

    def time(self, name: str, zone: tzinfo | None = None) -> datetime:
        try:
            return parse_local_time(self.text(name), zone or self.file.zone)
        except ValueError as exc:
            raise RowError(self.where(name), str(exc), self.line) from None

    def error(self, name: str | None, reason: str) -> RowError:
        return RowError(self.where(name) if name else None, reason, self.line)


def make_rows(f: OkxFile, problems: list[InputError]) -> list[Row]:
    """Rows with the header's width; a row of another width is a problem (extra empty cells are fine)."""
    cols = {name: i for i, name in enumerate(f.header) if name}
    width = len(f.header)
    out: list[Row] = []
    for line, cells in f.rows:
        if len(cells) > width and not any(c.strip() for c in cells[width:]):
            cells = cells[:width]
        if len(cells) != width:
            problems.append(InputError(f"has {len(cells)} cells, the header has {width}", file=f.path, line=line))
            continue
        out.append(Row(f, line, cells, cols))
    return out


def to_input_error(path: str, exc: RowError) -> InputError:
    return InputError(exc.reason, file=path, line=exc.line, field=exc.column)


def split_symbol(text: str, sep: str = "-") -> tuple[str, str]:
    """``BTC-USDT`` -> ``("BTC", "USDT")`` (ValueError when it is not two parts)."""
    parts = [p.strip().upper() for p in text.split(sep)]
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"{text!r} is not a spot pair like BTC{sep}USDT")
    return parts[0], parts[1]


def sort_ids(ids: Sequence[str]) -> list[str]:
    """Numeric ids in numeric order (OKX bill ids are integers), others after, in text order."""
    return sorted(set(ids), key=lambda s: (0, len(s), s) if s.isdigit() else (1, 0, s))
