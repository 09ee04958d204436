"""Fetch OHLCV candles from an exchange through ccxt's ``fetch_ohlcv``: paging, bounded retries, and
the ``candles`` table as a local cache (fetching starts at the first candle from ``since`` on that is
not stored yet, so a cached series is only extended and a hole in it is filled).

Only closed candles are stored: the still-forming last candle ccxt returns is counted as
``incomplete`` and left out (it would change later). ccxt numbers are floats; they become
``Decimal`` here, at the boundary, through their shortest text form (``repr``), which is the text the
exchange sent. Transient errors (ccxt ``NetworkError``: timeouts, rate limits, unavailable) are retried
with exponential backoff capped at ``max_delay``, at most ``max_attempts`` times; an ``ExchangeError``
(bad symbol, unsupported timeframe) fails at once with its message.

This is the ONLY ccxt ``fetch_ohlcv`` implementation: ``taxreport prices candles fetch`` stores its
candles, and ``taxreport prices fetch`` (:mod:`taxreport.prices.fetch`) fetches through it into the same
cache, then stores the closes as rates. This is a network command; tests drive it with a fake exchange
object that has ``fetch_ohlcv``.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Sequence

from taxreport.errors import TaxreportError
from taxreport.prices.candles import EPOCH, MONDAY, Candle, CandleStore, aligned, make_candle, timeframe_delta


@dataclass
class FetchResult:
    symbol: str
    requests: int = 0
    retries: int = 0
    added: int = 0
    unchanged: int = 0
    incomplete: int = 0
    start: datetime | None = None  # where fetching started (after the cache)
    notes: list[str] = field(default_factory=list)


def _ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def _number(value: object) -> object:
    if isinstance(value, float):
        return repr(value)  # shortest text that round-trips: what the exchange sent
    return value


def _transient_types() -> tuple[type[BaseException], ...]:
    from taxreport.exchanges.base import NetworkError

    types: list[type[BaseException]] = [NetworkError, TimeoutError, ConnectionError]
    try:
        import ccxt

        types.append(ccxt.NetworkError)
    except ImportError:  # pragma: no cover - ccxt is a dependency
        pass
    return tuple(types)


def call_with_retry(fn: Callable[[], object], *, what: str, max_attempts: int = 5, base_delay: float = 1.0,
                    max_delay: float = 30.0, sleep: Callable[[float], None] = _time.sleep,
                    on_retry: Callable[[int, BaseException], None] | None = None) -> object:
    """``fn()``; transient errors retried with delays base, 2*base, 4*base… (each <= max_delay)."""
    transient = _transient_types()
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except transient as exc:
            if attempt >= max_attempts:
                raise TaxreportError(f"{what}: gave up after {attempt} attempts: "
                                     f"{type(exc).__name__}: {exc}") from exc
            if on_retry:
                on_retry(attempt, exc)
            sleep(min(max_delay, base_delay * (2 ** (attempt - 1))))
        except TaxreportError:
            raise
        except Exception as exc:  # ccxt ExchangeError and friends: fail fast
            raise TaxreportError(f"{what}: {type(exc).__name__}: {exc}") from exc


def rows_to_candles(rows: Sequence[Sequence[object]], symbol: str, timeframe: str, *, where: str) -> list[Candle]:
    out = []
    for row in rows:
        if len(row) < 6:
            raise TaxreportError(f"{where}: {symbol}: OHLCV row {row!r} has fewer than 6 values")
        ts = row[0]
        if not isinstance(ts, int) or isinstance(ts, bool):
            raise TaxreportError(f"{where}: {symbol}: timestamp {ts!r} is not epoch milliseconds")
        moment = EPOCH + timedelta(milliseconds=ts)
        try:
            out.append(make_candle(symbol, timeframe, moment, [_number(v) for v in row[1:6]]))
        except ValueError as exc:
            raise TaxreportError(f"{where}: {symbol} {moment.isoformat()}: {exc}") from None
    return out


def resume_point(store: CandleStore, source: str, symbol: str, timeframe: str, since: datetime,
                 end: datetime) -> datetime:
    """Open time of the first candle from ``since`` on (on the timeframe grid) that is not cached:
    fetching starts there, so a hole in the cached series is filled, never skipped over. ``since``
    itself when nothing from ``since`` on is cached; ``end`` or later when everything is."""
    step = timeframe_delta(timeframe)
    cursor = since
    if not aligned(since, step):
        origin = MONDAY if step == timedelta(days=7) else EPOCH
        cursor = since - (since - origin) % step + step
    if cursor >= end:
        return since
    cached = store.times(source, symbol, timeframe, cursor, end)
    if cursor not in cached:
        return since
    while cursor in cached:
        cursor += step
    return cursor


def fetch_candles(client, symbols: Sequence[str], timeframe: str, since: datetime, *, store: CandleStore,  # noqa: ANN001
                  source: str, until: datetime | None = None, limit: int = 100, max_attempts: int = 5,
                  base_delay: float = 1.0, max_delay: float = 30.0,
                  sleep: Callable[[float], None] = _time.sleep, now: datetime | None = None,
                  on_page: Callable[[str, int], None] | None = None) -> list[FetchResult]:
    """Fetch ``symbols`` from ``since`` up to ``until`` (default: now) into ``store`` under ``source``.

    Each page is saved as it arrives, so an interrupted fetch keeps what it got and resumes there.
    """
    step = timeframe_delta(timeframe)
    now = now or datetime.now(timezone.utc)
    end = min(until, now) if until else now
    results = []
    for symbol in symbols:
        result = FetchResult(symbol)
        cursor = resume_point(store, source, symbol, timeframe, since, end)
        if cursor > since:
            result.notes.append(f"cached up to {(cursor - step).isoformat()}")
        result.start = cursor

        def count_retry(_attempt: int, _exc: BaseException, r: FetchResult = result) -> None:
            r.retries += 1

        while cursor < end:
            page = call_with_retry(
                lambda c=cursor, s=symbol: client.fetch_ohlcv(s, timeframe, _ms(c), limit),
                what=f"fetch_ohlcv {symbol} {timeframe}", max_attempts=max_attempts, base_delay=base_delay,
                max_delay=max_delay, sleep=sleep, on_retry=count_retry)
            result.requests += 1
            candles = [k for k in rows_to_candles(page or [], symbol, timeframe, where=source) if k.time >= cursor]
            if not candles:
                break
            closed = [k for k in candles if k.time + step <= now and k.time < end]
            result.incomplete += sum(1 for k in candles if k.time + step > now)
            if closed:
                saved = store.save(closed, source=source)
                result.added += saved.added
                result.unchanged += saved.unchanged
            following = max(k.time for k in candles) + step
            if following <= cursor:
                break
            cursor = following
            if on_page:
                on_page(symbol, len(candles))
        results.append(result)
    return results


def ccxt_client(exchange_id: str):  # noqa: ANN201
    """A public (key-less) ccxt client; OHLCV needs no credentials."""
    import ccxt

    cls = getattr(ccxt, exchange_id, None)
    if cls is None or not isinstance(cls, type):
        raise TaxreportError(f"unknown exchange {exchange_id!r} (not a ccxt exchange id)")
    client = cls({"enableRateLimit": True})
    if not client.has.get("fetchOHLCV"):
        raise TaxreportError(f"{exchange_id} does not offer OHLCV candles through ccxt")
    return client


__all__ = ["FetchResult", "call_with_retry", "ccxt_client", "fetch_candles", "resume_point", "rows_to_candles"]
