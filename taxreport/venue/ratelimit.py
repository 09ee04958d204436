"""The local OKX venue's per-endpoint rate limits: OKX answers a request over an endpoint's limit
with ``50011`` and HTTP 429, and does not carry it out.

OKX v5, Rate Limits: "If a request is rejected by our system due to rate limit, the system returns
error code 50011 (Rate limit reached. Please refer to API documentation and throttle requests
accordingly)", "Each endpoint has its own rate limit", "Public unauthenticated REST requests are
rate limited based on IP address; private REST requests are rate limited based on User ID". Each
endpoint's page states "Rate Limit: N requests per 2 seconds"; the numbers below are those pages'
(the same ones ccxt 4.5's ``okx.py`` encodes as request costs: cost c at its 100 ms base is 20/c
requests per 2 seconds, e.g. ``trade/fills-history`` cost 2 -> 10, ``trade/order`` cost 1/3 -> 60).
Place order is limited per instrument ("Rate limit rule: User ID + Instrument ID"). The venue has
one user, so one window per endpoint (and per instrument for orders). Requests the venue refused
for the limit do not count.

Before this module the venue never rate-limited by count (only the random ``rate_limit`` fault):
kinder than OKX, so a client that polls too fast was never caught here.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW = 2.0  # seconds: every OKX REST limit is stated "per 2 seconds"

#: path -> requests per 2 seconds (OKX v5 endpoint pages; ccxt okx.py costs agree)
LIMITS: dict[str, int] = {
    "/api/v5/public/time": 10,
    "/api/v5/public/instruments": 20,
    "/api/v5/market/tickers": 20,
    "/api/v5/market/ticker": 20,
    "/api/v5/market/books": 40,
    "/api/v5/market/books-full": 40,
    "/api/v5/market/candles": 40,
    "/api/v5/market/history-candles": 20,
    "/api/v5/asset/currencies": 12,  # "6 requests per second"
    "/api/v5/account/balance": 10,
    "/api/v5/trade/order": 60,  # GET (order details) and POST (place order, per instrument) alike
    "/api/v5/trade/batch-orders": 300,  # counted per order: "300 orders per 2 seconds"
    "/api/v5/trade/cancel-order": 60,
    "/api/v5/trade/orders-pending": 60,
    "/api/v5/trade/orders-history": 40,
    "/api/v5/trade/orders-history-archive": 20,
    "/api/v5/trade/fills": 60,
    "/api/v5/trade/fills-history": 10,
}


class RateLimits:
    """Sliding 2-second windows, one per (method, path, instrument). Thread-safe."""

    def __init__(self, *, enabled: bool = True, clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled
        self.clock = clock
        self._seen: dict[tuple[str, str, str], deque[float]] = {}
        self._lock = threading.Lock()
        self.refused = 0  # requests answered 50011 for the limit (for tests and --show)

    def admit(self, method: str, path: str, inst: str = "", weight: int = 1) -> bool:
        """True when the request is within its endpoint's limit (and then it is counted)."""
        limit = LIMITS.get(path)
        if not self.enabled or limit is None:
            return True
        key = (method, path, inst if (method, path) == ("POST", "/api/v5/trade/order") else "")
        now = self.clock()
        with self._lock:
            seen = self._seen.setdefault(key, deque())
            while seen and seen[0] <= now - WINDOW:
                seen.popleft()
            if len(seen) + weight > limit:
                self.refused += 1
                return False
            seen.extend([now] * weight)
            return True
