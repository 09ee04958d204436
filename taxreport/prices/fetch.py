"""``taxreport prices fetch``: rates from exchange candles. The candles themselves are fetched by the
one ccxt ``fetch_ohlcv`` implementation, :func:`taxreport.prices.candles_fetch.fetch_candles` (paging,
bounded retries with backoff, only closed candles, the ``candles`` table as a resumable cache); this
module only turns the cached candles into rates.

Each closed candle becomes a rate ``base->quote`` = the candle's **close**, at the candle's **end** time
(open + timeframe), with source ``ccxt:<exchange>:<timeframe>``: the last price known at that moment
(see :mod:`taxreport.prices.rates` for which stored rate values a moment). Candles that have not closed
yet are neither cached nor turned into rates.

The candles are cached under the source name ``<exchange>`` (the same series ``taxreport prices candles
fetch`` fills), so either command reuses what the other downloaded; a fetch only asks the exchange for
candles after the cached series. Rates are written idempotently (:func:`taxreport.prices.store.write_rates`):
a rate already stored is a duplicate, a *different* close for a stored rate is refused.

ccxt is imported only inside :func:`taxreport.prices.candles_fetch.ccxt_client`; everything here takes
any object with ccxt's ``fetch_ohlcv`` signature (tests pass a fake, never the network).
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from sqlalchemy import and_, select

from taxreport.errors import InputError
from taxreport.ledger import schema
from taxreport.model.events import format_time
from taxreport.prices.candles import EPOCH, MONDAY, CandleStore, timeframe_delta
from taxreport.prices.candles_fetch import fetch_candles
from taxreport.prices.store import RateRow, write_rates


@dataclass(frozen=True)
class FetchSummary:
    symbol: str  # BASE/QUOTE of the stored rates
    source: str  # rate source, ccxt:<exchange>:<timeframe>
    requests: int  # fetch_ohlcv calls made
    fetched: int  # closed candles received from the exchange (and cached)
    added: int  # rates added to the rate store
    cached: int  # rates of the window already stored before this fetch
    retries: int = 0  # transient errors retried
    incomplete: int = 0  # still-forming candles received and left out


def split_symbols(symbols: Iterable[str]) -> list[str]:
    """``--symbol A --symbol B`` and ``--symbols A,B`` (may be mixed): each symbol once, in order."""
    out: list[str] = []
    for item in symbols:
        for part in item.split(","):
            text = part.strip()
            if text and text not in out:
                out.append(text)
    return out


def rate_pair(symbol: str) -> tuple[str, str]:
    """``(BASE, QUOTE)`` of a ccxt symbol ``BASE/QUOTE`` (a ``:SETTLE`` suffix is dropped)."""
    base, slash, quote = symbol.strip().partition("/")
    quote = quote.split(":")[0]
    if not slash or not base.strip() or not quote.strip():
        raise InputError(f"{symbol!r} is not a symbol like BTC/USD", field="--symbol")
    return base.strip().upper(), quote.strip().upper()


def candle_floor(moment: datetime, step: timedelta) -> datetime:
    """Open time of the candle containing ``moment`` (weekly candles open on Monday 00:00 UTC)."""
    origin = MONDAY if step == timedelta(days=7) else EPOCH
    return moment - (moment - origin) % step


def fetch_rates(ledger, exchange: Any, symbol: str, *, since: datetime, until: datetime,  # noqa: ANN001
                timeframe: str = "1d", limit: int = 100, now: datetime | None = None,
                progress: Callable[[int], None] | None = None, max_attempts: int = 5,
                base_delay: float = 1.0, max_delay: float = 30.0,
                sleep: Callable[[float], None] = _time.sleep) -> FetchSummary:
    """Store closes of ``symbol`` (``BASE/QUOTE``) for candles ending in ``(since, until]`` as rates."""
    base, quote = rate_pair(symbol)
    market = symbol.strip()
    step = timeframe_delta(timeframe)
    now = now or datetime.now(timezone.utc)
    until = min(until, now)
    exchange_id = getattr(exchange, "id", None) or "exchange"
    source = f"ccxt:{exchange_id}:{timeframe}"
    first_open = candle_floor(since, step)  # the candle ending just after `since` opens here
    c = schema.rates.c
    with ledger.engine.connect() as conn:
        cached = sum(1 for (t,) in conn.execute(select(c.time).where(and_(
            c.base == base, c.quote == quote, c.source == source,
            c.time > format_time(since), c.time <= format_time(until)))))
    store = CandleStore.of(ledger)
    [got] = fetch_candles(exchange, [market], timeframe, first_open, store=store, source=exchange_id,
                          until=until, limit=limit, max_attempts=max_attempts, base_delay=base_delay,
                          max_delay=max_delay, sleep=sleep, now=now,
                          on_page=(lambda _s, n: progress(n)) if progress else None)
    # rates from the cache: also candles fetched earlier (by this command or `prices candles fetch`)
    candles = store.load([market], timeframe, source=exchange_id, start=first_open, end=until)[market]
    rows = [RateRow(base, quote, k.time + step, k.close, source,
                    f"{exchange_id} {market} {timeframe} candle {format_time(k.time + step)}")
            for k in candles if since < k.time + step <= until]
    written = write_rates(ledger, rows)
    return FetchSummary(symbol=f"{base}/{quote}", source=source, requests=got.requests,
                        fetched=got.added + got.unchanged, added=written.added, cached=cached,
                        retries=got.retries, incomplete=got.incomplete)


def default_since(days: int = 365) -> datetime:
    return datetime.now(timezone.utc) - timedelta(days=days)
