"""The one interface the rebalancer talks to. Implementations: the ccxt adapter (live, OKX by
default) and the paper exchange (tests, demo, backtests). Numbers are ``Decimal`` here; an adapter
converts at its own boundary and nowhere else.

Errors come in two kinds, and the difference is what keeps live trading safe:

* :class:`ExchangeError` and its subclasses are DEFINITE refusals: the venue answered that it did
  not carry the request out (insufficient funds, invalid order, unknown order, bad keys). Fail fast.
* :class:`NetworkError` and its subclasses are AMBIGUOUS: the request may or may not have been
  carried out (timeout, connection reset, 5xx page, OKX ``50004`` "does not indicate success or
  failure", an error code we do not know). A read may simply be retried; a ``create_order`` must be
  resolved by :mod:`taxreport.rebalance.recovery` (wait for its ``expTime``, then look the order and
  its fills up) before anything is concluded. The one exception is :class:`RateLimitExceeded`: the
  venue refused to process the request (OKX ``50011`` / HTTP 429), so it may be sent again as is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from taxreport.errors import TaxreportError


class ExchangeError(TaxreportError):
    """The exchange refused the request (bad order, insufficient funds, auth…): do not retry."""


class InvalidOrder(ExchangeError):
    pass


class InsufficientFunds(ExchangeError):
    pass


class DuplicateClientOrderId(ExchangeError):
    """A PENDING order with this client order id exists already (OKX ``51016``: "clOrdId must be
    unique among all pending orders and the current request"). The order may have landed: resolve it."""


class OrderNotFound(ExchangeError):
    """The venue has no such order (OKX ``51603``, or ``51400``/``51401`` on cancel)."""


class CancelPending(ExchangeError):
    """The order is already being cancelled (OKX ``51410``): look it up again a moment later."""


class AuthenticationError(ExchangeError):
    """Keys refused (wrong key, signature, passphrase, permissions): nothing was carried out."""


class NetworkError(TaxreportError):
    """Transient failure (timeout, connection, rate limit): the request may or may not have landed.
    (A TaxreportError so that one reaching the CLI is one ``error:`` line, never a traceback.)"""


class RequestTimeout(NetworkError):
    pass


class RateLimitExceeded(NetworkError):
    """The venue refused to process the request for now (OKX ``50011``, HTTP 429): retry later."""


class UnknownResult(NetworkError):
    """The venue answered with something we cannot classify (an unknown error code, a 5xx JSON body
    without ``code``): for safety treated like a timeout — the request may have been carried out."""


@dataclass(frozen=True, slots=True)
class Market:
    symbol: str  # "BTC/USDT"
    base: str
    quote: str
    amount_step: Decimal  # smallest increment of the base amount
    price_tick: Decimal
    min_amount: Decimal | None
    min_cost: Decimal | None  # None on OKX spot: we enforce our own minimum notional
    maker_fee: Decimal  # fraction, e.g. 0.0008
    taker_fee: Decimal


@dataclass(frozen=True, slots=True)
class Ticker:
    symbol: str
    bid: Decimal
    ask: Decimal
    last: Decimal
    time: datetime


@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_order_id: str  # 1-32 letters and digits (OKX), deterministic per (basket, rebalance, leg, attempt)
    symbol: str
    side: str  # "buy" | "sell"
    type: str  # "limit" | "market"
    amount: Decimal  # base quantity
    price: Decimal | None  # limit price; None for market
    expires_at: datetime | None = None  # OKX ``expTime``: the venue must not carry it out after this


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    amount: Decimal
    price: Decimal | None
    filled: Decimal
    status: str  # "open" | "closed" | "canceled" | "rejected"
    time: datetime


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. Fills, not orders, are the truth for cost basis (ccxt's order cost excludes
    fees). ``fee`` is in ``fee_asset``; negative is a maker rebate. On OKX a spot buy's fee is in the
    base asset."""

    trade_id: str
    order_id: str
    client_order_id: str
    symbol: str
    side: str
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str
    time: datetime
    taker_or_maker: str = "taker"


class Exchange(ABC):
    """What the rebalancer needs from a venue."""

    name: str  # "okx", "paper"
    #: how far back the venue's API lists an account's own fills and finished orders (None: forever);
    #: recovery never concludes "no fills" for an order older than this (it cannot know)
    history_window: timedelta | None = None

    @abstractmethod
    def load_markets(self) -> dict[str, Market]: ...

    @abstractmethod
    def amount_to_precision(self, symbol: str, amount: Decimal) -> Decimal:
        """Truncate to the market's amount step (never rounds up)."""

    @abstractmethod
    def price_to_precision(self, symbol: str, price: Decimal) -> Decimal: ...

    @abstractmethod
    def fetch_balances(self) -> dict[str, Decimal]:
        """Free balances per asset."""

    @abstractmethod
    def fetch_tickers(self, symbols: list[str]) -> dict[str, Ticker]: ...

    @abstractmethod
    def create_order(self, request: OrderRequest) -> Order: ...

    @abstractmethod
    def fetch_order_by_client_id(self, symbol: str, client_order_id: str) -> Order | None:
        """The order with this client id, or None if the exchange never received it."""

    @abstractmethod
    def cancel_order(self, symbol: str, order_id: str) -> Order: ...

    @abstractmethod
    def fetch_fills(self, symbol: str, order_id: str) -> list[Fill]:
        """Every fill of one order (all pages)."""

    @abstractmethod
    def fetch_my_fills(self, symbol: str, since: datetime | None = None) -> list[Fill]:
        """Every own fill of ``symbol`` since ``since`` (all pages): the look-up of fills by client
        order id (OKX's fills endpoints cannot filter by ``clOrdId``; every fill carries it)."""

    def fetch_day_open(self, symbols: list[str], day_start: datetime) -> dict[str, Decimal] | None:
        """The open price at ``day_start`` (00:00 UTC) of each symbol's daily candle, keyed by base
        asset; None when the venue cannot say (today's P&L is then measured from the prices the bot
        saw near 00:00 UTC, or reported unknown)."""
        return None
