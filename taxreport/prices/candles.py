"""OHLCV candles: the price history behind backtests and charts, stored in the ledger database's
``candles`` table (see :mod:`taxreport.ledger.schema`), never in the event chain.

* :func:`parse_ohlcv_csv` reads a CSV file with the header ``timestamp,symbol,open,high,low,close,volume``
  (one file may hold many symbols such as ``BTC/USDT``). Timestamps are ISO 8601 with ``Z``/offset, a
  plain date ``YYYY-MM-DD`` (UTC midnight) or integer epoch **milliseconds** (ccxt's convention).
  Numbers are parsed as ``Decimal``. A file with any bad row is refused whole, every problem named as
  ``file:line: field: reason``; nothing is written.
* :class:`CandleStore` saves candles idempotently: a candle already stored with the same values is
  counted as unchanged; the same (source, symbol, timeframe, time) with *different* values is refused
  unless ``replace=True`` (nothing is ever overwritten silently).
* :func:`fetch_candles` pages through a ccxt exchange's ``fetch_ohlcv`` with bounded retries and uses
  the table as a cache (lives in :mod:`taxreport.prices.candles_fetch`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Iterable, Sequence

from taxreport.errors import InputError, TaxreportError
from taxreport.model.money import decimal_str, parse_decimal

HEADER = ("timestamp", "symbol", "open", "high", "low", "close", "volume")
TIMEFRAMES: dict[str, timedelta] = {
    "1m": timedelta(minutes=1), "5m": timedelta(minutes=5), "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30), "1h": timedelta(hours=1), "4h": timedelta(hours=4), "1d": timedelta(days=1),
    "1w": timedelta(days=7),
}
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class Candle:
    symbol: str  # "BTC/USDT"
    timeframe: str  # "1d"
    time: datetime  # open time, UTC
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    def values(self) -> tuple[str, str, str, str, str]:
        return tuple(decimal_str(v) for v in (self.open, self.high, self.low, self.close, self.volume))  # type: ignore[return-value]


def timeframe_delta(timeframe: str) -> timedelta:
    try:
        return TIMEFRAMES[timeframe]
    except KeyError:
        raise InputError(f"unknown timeframe {timeframe!r}; known: {', '.join(TIMEFRAMES)}",
                         field="timeframe") from None


def check_symbol(symbol: str) -> str:
    """``BTC/USDT`` (upper case, one slash, both sides non-empty) or ValueError."""
    text = symbol.strip()
    base, slash, quote = text.partition("/")
    if not slash or not base or not quote or "/" in quote or not (base + quote).replace("-", "").isalnum():
        raise ValueError(f"{symbol!r} is not a market symbol like BTC/USDT")
    return text.upper()


def parse_timestamp(text: str) -> datetime:
    raw = text.strip()
    if raw.isdigit():
        if len(raw) < 12:
            raise ValueError(f"{raw!r}: integer timestamps must be epoch milliseconds (13 digits), "
                             "not seconds")
        return EPOCH + timedelta(milliseconds=int(raw))
    if len(raw) == 10 and raw[4] == "-" and raw[7] == "-":
        try:
            return datetime.fromisoformat(raw).replace(tzinfo=timezone.utc)
        except ValueError:
            raise ValueError(f"{raw!r} is not a date") from None
    from taxreport.model.events import parse_time

    try:
        return parse_time(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not an ISO 8601 time with offset/Z, a date or epoch milliseconds") from None


MONDAY = datetime(1970, 1, 5, tzinfo=timezone.utc)  # weekly candles open on Monday 00:00 UTC (ccxt)


def aligned(moment: datetime, step: timedelta) -> bool:
    origin = MONDAY if step == timedelta(days=7) else EPOCH
    return (moment - origin) % step == timedelta(0)


def make_candle(symbol: str, timeframe: str, moment: datetime, cells: Sequence[object]) -> Candle:
    """Validate one candle; ValueError text starts with the offending field name."""
    names = ("open", "high", "low", "close", "volume")
    values: list[Decimal] = []
    for name, cell in zip(names, cells):
        try:
            values.append(parse_decimal(cell, what=name))
        except ValueError as exc:
            raise ValueError(str(exc)) from None
    o, h, lo, c, v = values
    for name, value in zip(names[:4], values[:4]):
        if value <= 0:
            raise ValueError(f"{name}: must be greater than zero, got {value}")
    if v < 0:
        raise ValueError(f"volume: must not be negative, got {v}")
    if h < max(o, c, lo):
        raise ValueError(f"high: {h} is below open/close/low")
    if lo > min(o, c):
        raise ValueError(f"low: {lo} is above open/close")
    return Candle(symbol, timeframe, moment, o, h, lo, c, v)


def parse_ohlcv_csv(path: str | Path, *, timeframe: str = "1d") -> list[Candle]:
    """Every candle of an OHLCV CSV file, or :class:`ImportRefused` listing every bad row."""
    from taxreport.importers.base import ImportRefused, csv_lines, read_text

    name = str(path)
    step = timeframe_delta(timeframe)
    problems: list[InputError] = []
    candles: list[Candle] = []
    seen: dict[tuple[str, datetime], int] = {}
    lines = csv_lines(read_text(path))
    try:
        first = next(lines, None)
    except InputError as exc:
        raise InputError(exc.reason, file=name, line=exc.line) from None
    if first is None:
        raise InputError("empty file; expected the header " + ",".join(HEADER), file=name)
    header_line, header = first
    if tuple(h.strip().lower() for h in header) != HEADER:
        raise InputError(f"header is {','.join(header)!r}; expected {','.join(HEADER)}", file=name,
                         line=header_line, field="header")
    try:
        for line, cells in lines:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(HEADER):
                problems.append(InputError(f"{len(cells)} cells, expected {len(HEADER)}", file=name, line=line))
                continue
            try:
                moment = parse_timestamp(cells[0])
                if not aligned(moment, step):
                    raise ValueError(f"{cells[0].strip()} is not on a {timeframe} boundary (UTC)")
            except ValueError as exc:
                problems.append(InputError(str(exc), file=name, line=line, field="timestamp"))
                continue
            try:
                symbol = check_symbol(cells[1])
            except ValueError as exc:
                problems.append(InputError(str(exc), file=name, line=line, field="symbol"))
                continue
            try:
                candle = make_candle(symbol, timeframe, moment, cells[2:])
            except ValueError as exc:
                field, _, why = str(exc).partition(": ")
                problems.append(InputError(why, file=name, line=line, field=field))
                continue
            earlier = seen.get((symbol, moment))
            if earlier is not None:
                problems.append(InputError(f"{symbol} at {cells[0].strip()} already given on line {earlier}",
                                           file=name, line=line, field="timestamp"))
                continue
            seen[(symbol, moment)] = line
            candles.append(candle)
    except InputError as exc:  # malformed CSV (quotes)
        problems.append(InputError(exc.reason, file=name, line=exc.line))
    if problems:
        raise ImportRefused(name, problems)
    if not candles:
        raise InputError("no candles in the file (only a header)", file=name)
    _check_spacing(candles, step, timeframe, name)
    return candles


def _check_spacing(candles: Sequence[Candle], step: timedelta, timeframe: str, name: str) -> None:
    """Refuse a file whose rows are never one ``timeframe`` apart (e.g. daily rows imported as 1h)."""
    times: dict[str, list[datetime]] = {}
    for k in candles:
        times.setdefault(k.symbol, []).append(k.time)
    for symbol, moments in times.items():
        if len(moments) < 2:
            continue
        moments.sort()
        closest = min(b - a for a, b in zip(moments, moments[1:]))
        if closest > step:
            raise InputError(f"no two {symbol} rows are {timeframe} apart (closest: {closest}); the file does not "
                             f"look like {timeframe} candles: pass the right --timeframe", file=name, field="timeframe")


@dataclass(frozen=True)
class SaveResult:
    added: int
    unchanged: int
    replaced: int = 0


class CandleStore:
    """Candles in the ledger database. ``engine`` is a SQLAlchemy engine (``Ledger.engine``)."""

    def __init__(self, engine) -> None:  # noqa: ANN001
        self.engine = engine

    @classmethod
    def of(cls, ledger) -> "CandleStore":  # noqa: ANN001
        return cls(ledger.engine)

    def save(self, candles: Sequence[Candle], *, source: str, replace: bool = False) -> SaveResult:
        """Write ``candles`` under ``source`` in one transaction (see the module docstring)."""
        from sqlalchemy import and_, select, update

        from taxreport.ledger.schema import candles as table
        from taxreport.model.events import format_time

        if not source or source != source.strip():
            raise InputError("must be a non-empty name without spaces around it", field="source")
        c = table.c
        added = unchanged = replaced = 0
        with self.engine.begin() as conn:
            groups: dict[tuple[str, str], list[Candle]] = {}
            for candle in candles:
                groups.setdefault((candle.symbol, candle.timeframe), []).append(candle)
            for (symbol, timeframe), group in groups.items():
                times = [format_time(k.time) for k in group]
                stored: dict[str, tuple[str, ...]] = {}
                lo, hi = min(times), max(times)
                stmt = select(c.time, c.open, c.high, c.low, c.close, c.volume).where(and_(
                    c.source == source, c.symbol == symbol, c.timeframe == timeframe, c.time >= lo, c.time <= hi))
                for row in conn.execute(stmt):
                    stored[row.time] = tuple(row[1:])
                rows = []
                for text, candle in zip(times, group):
                    values = candle.values()
                    old = stored.get(text)
                    if old is None:
                        rows.append({"source": source, "symbol": symbol, "timeframe": timeframe, "time": text,
                                     **dict(zip(("open", "high", "low", "close", "volume"), values))})
                        stored[text] = values
                        added += 1
                    elif tuple(old) == values:
                        unchanged += 1
                    elif replace:
                        conn.execute(update(table).where(and_(
                            c.source == source, c.symbol == symbol, c.timeframe == timeframe, c.time == text))
                            .values(**dict(zip(("open", "high", "low", "close", "volume"), values))))
                        stored[text] = values
                        replaced += 1
                    else:
                        raise TaxreportError(
                            f"{symbol} {timeframe} {text} from {source!r} is already stored with different "
                            f"values (stored close {old[3]}, new close {values[3]}); nothing was written. "
                            "Use another --source name, or --replace to overwrite")
                for start in range(0, len(rows), 1000):
                    conn.execute(table.insert(), rows[start:start + 1000])
        return SaveResult(added, unchanged, replaced)

    def load(self, symbols: Iterable[str], timeframe: str, *, source: str | None = None,
             start: datetime | None = None, end: datetime | None = None) -> dict[str, list[Candle]]:
        """Candles per symbol in time order, ``start <= time < end``. Without ``source`` the one
        source holding the symbol is used; several sources for one symbol is an error (never mixed)."""
        from sqlalchemy import and_, select

        from taxreport.ledger.schema import candles as table
        from taxreport.model.events import format_time, parse_time

        c = table.c
        out: dict[str, list[Candle]] = {}
        with self.engine.connect() as conn:
            for symbol in symbols:
                conds = [c.symbol == symbol, c.timeframe == timeframe]
                if start is not None:
                    conds.append(c.time >= format_time(start))
                if end is not None:
                    conds.append(c.time < format_time(end))
                chosen = source
                if chosen is None:
                    found = sorted(r[0] for r in conn.execute(select(c.source).where(and_(*conds)).distinct()))
                    if len(found) > 1:
                        raise InputError(f"{symbol} {timeframe} candles come from several sources "
                                         f"({', '.join(found)}); choose one", field="--source")
                    chosen = found[0] if found else None
                if chosen is not None:
                    conds.append(c.source == chosen)
                stmt = select(c.time, c.open, c.high, c.low, c.close, c.volume).where(and_(*conds)).order_by(c.time)
                out[symbol] = [
                    Candle(symbol, timeframe, parse_time(r.time), Decimal(r.open), Decimal(r.high),
                           Decimal(r.low), Decimal(r.close), Decimal(r.volume))
                    for r in conn.execute(stmt)] if chosen is not None else []
        return out

    def summary(self) -> list[tuple[str, str, str, int, str, str]]:
        """``(source, symbol, timeframe, count, first time, last time)`` for every stored series."""
        from sqlalchemy import func, select

        from taxreport.ledger.schema import candles as table

        c = table.c
        stmt = (select(c.source, c.symbol, c.timeframe, func.count(), func.min(c.time), func.max(c.time))
                .group_by(c.source, c.symbol, c.timeframe).order_by(c.source, c.symbol, c.timeframe))
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(stmt)]  # type: ignore[misc]

    def last_time(self, source: str, symbol: str, timeframe: str) -> datetime | None:
        from sqlalchemy import and_, func, select

        from taxreport.ledger.schema import candles as table
        from taxreport.model.events import parse_time

        c = table.c
        with self.engine.connect() as conn:
            value = conn.execute(select(func.max(c.time)).where(and_(
                c.source == source, c.symbol == symbol, c.timeframe == timeframe))).scalar_one_or_none()
        return parse_time(value) if value else None

    def times(self, source: str, symbol: str, timeframe: str, start: datetime, end: datetime) -> set[datetime]:
        """Open times of the stored candles of one series with ``start <= time < end``."""
        from sqlalchemy import and_, select

        from taxreport.ledger.schema import candles as table
        from taxreport.model.events import format_time, parse_time

        c = table.c
        with self.engine.connect() as conn:
            return {parse_time(t) for (t,) in conn.execute(select(c.time).where(and_(
                c.source == source, c.symbol == symbol, c.timeframe == timeframe,
                c.time >= format_time(start), c.time < format_time(end))))}

    def first_time(self, source: str, symbol: str, timeframe: str) -> datetime | None:
        from sqlalchemy import and_, func, select

        from taxreport.ledger.schema import candles as table
        from taxreport.model.events import parse_time

        c = table.c
        with self.engine.connect() as conn:
            value = conn.execute(select(func.min(c.time)).where(and_(
                c.source == source, c.symbol == symbol, c.timeframe == timeframe))).scalar_one_or_none()
        return parse_time(value) if value else None
