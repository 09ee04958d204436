"""``taxreport prices fetch``: candles through ccxt ``fetch_ohlcv``, paged, cached in the rate store.

Each fetched candle is stored as a rate ``base->quote`` = the candle's **close**, at the candle's
**end** time (open + timeframe), with source ``ccxt:<exchange>:<timeframe>``: the last price known at
that moment (see :mod:`taxreport.prices.rates` for which stored rate values a moment). Candles that
have not closed yet are not stored.

Caching: rates already in the store for the same pair, source and times are not fetched again; a
fetch starts at the first expected candle that is missing. ccxt is imported only inside
:func:`open_exchange`; everything else takes any object with ccxt's ``fetch_ohlcv`` signature (tests
pass a fake, never the network). Floats from ccxt become Decimal here, through their shortest text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable

from sqlalchemy import and_, select

from taxreport.errors import InputError, TaxreportError
from taxreport.ledger import schema
from taxreport.model.events import format_time
from taxreport.prices.store import RateRow, write_rates

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


def timeframe_seconds(timeframe: str) -> int:
    try:
        return int(timeframe[:-1]) * _UNITS[timeframe[-1]]
    except (KeyError, ValueError):
        raise InputError(f"{timeframe!r} is not a timeframe like 1h or 1d", field="--timeframe") from None


@dataclass(frozen=True)
class FetchSummary:
    symbol: str
    source: str
    requests: int
    fetched: int
    added: int
    cached: int  # expected candles already in the store (not fetched)


def open_exchange(exchange_id: str) -> Any:
    """A public (keyless) ccxt exchange, markets loaded once."""
    import ccxt  # noqa: PLC0415 - network command only

    cls = getattr(ccxt, exchange_id, None)
    if cls is None:
        raise InputError(f"unknown exchange {exchange_id!r}", field="--exchange")
    exchange = cls({"enableRateLimit": True})
    if not exchange.has.get("fetchOHLCV"):
        raise TaxreportError(f"{exchange_id} does not offer fetch_ohlcv")
    return exchange


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def fetch_rates(ledger, exchange: Any, symbol: str, *, since: datetime, until: datetime,  # noqa: ANN001
                timeframe: str = "1d", limit: int = 500, now: datetime | None = None,
                progress: Callable[[int], None] | None = None) -> FetchSummary:
    """Fetch closes of ``symbol`` (``BASE/QUOTE``) for candles ending in ``(since, until]``."""
    if "/" not in symbol:
        raise InputError(f"{symbol!r} is not a symbol like BTC/USD", field="--symbol")
    base, quote = (s.strip().upper() for s in symbol.split("/", 1))
    quote = quote.split(":")[0]
    step = timeframe_seconds(timeframe)
    now = now or datetime.now(timezone.utc)
    until = min(until, now)
    exchange_id = getattr(exchange, "id", "exchange")
    source = f"ccxt:{exchange_id}:{timeframe}"
    c = schema.rates.c
    with ledger.engine.connect() as conn:
        stored = {t for (t,) in conn.execute(select(c.time).where(
            and_(c.base == base, c.quote == quote, c.source == source)))}
    # expected candle open times: aligned to the timeframe grid
    epoch = int(since.timestamp())
    first_open = epoch - epoch % step
    expected = []
    t = first_open
    while True:
        end = datetime.fromtimestamp(t + step, timezone.utc)
        if end > until:
            break
        if end > since:
            expected.append(t)
        t += step
    missing = [t for t in expected if format_time(datetime.fromtimestamp(t + step, timezone.utc)) not in stored]
    cached = len(expected) - len(missing)
    rows: list[RateRow] = []
    requests = 0
    if missing:
        cursor = missing[0]
        last = expected[-1]
        while cursor <= last:
            batch = exchange.fetch_ohlcv(symbol, timeframe, since=cursor * 1000, limit=limit)
            requests += 1
            if not batch:
                break
            newest = cursor
            for candle in batch:
                opened = int(candle[0]) // 1000
                newest = max(newest, opened)
                end = datetime.fromtimestamp(opened + step, timezone.utc)
                if opened < cursor - step or end > until or end <= since:
                    continue
                if format_time(end) in stored:
                    continue
                rows.append(RateRow(base, quote, end, _to_decimal(candle[4]), source,
                                    f"{exchange_id} {symbol} {timeframe} candle {format_time(end)}"))
            if progress:
                progress(len(batch))
            if newest + step <= cursor:  # no progress: stop rather than loop
                break
            cursor = newest + step
    # one row per time (pages may overlap)
    unique = {r.time: r for r in rows}
    summary = write_rates(ledger, sorted(unique.values(), key=lambda r: r.time))
    return FetchSummary(symbol=f"{base}/{quote}", source=source, requests=requests, fetched=len(unique),
                        added=summary.added, cached=cached)


def default_since(days: int = 365) -> datetime:
    return datetime.now(timezone.utc) - timedelta(days=days)
