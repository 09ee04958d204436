"""Value objects shared by the basket loader, the planner, the executor and the backtester."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from taxreport.rebalance.tax_policy import TaxSettings


@dataclass(frozen=True)
class Basket:
    name: str
    exchange: str  # ccxt id, "okx" by default
    account: str  # ledger account, e.g. "okx:main"
    quote: str  # "USDT"
    weights: dict[str, Decimal]  # asset -> percent, sums to exactly 100
    mode: str = "weekly"  # daily | weekly | threshold | hybrid | interval
    threshold: Decimal = Decimal(5)  # band, percentage points (or percent of target if relative)
    band: str = "absolute"  # absolute | relative
    daily_at: str = "00:00"  # UTC time of day for daily runs
    weekly_on: str = "monday"  # weekday for weekly runs (00:00 UTC unless daily_at says otherwise)
    cooldown_minutes: int = 5  # threshold checks no more often than this
    gate: Decimal = Decimal(3)  # scheduled runs skip when no asset drifts more than this (pp); 0 = always
    min_notional: Decimal = Decimal(5)  # our own minimum order value in quote (OKX gives none)
    min_investment: Decimal = Decimal(100)
    max_weight: Decimal | None = None  # optional cap, percent
    extra: dict = field(default_factory=dict)
    calendar: str = "daily"  # hybrid mode: check on this calendar (daily | weekly), trade beyond the band
    api_url: str | None = None  # REST base URL of the exchange (regional domain, local venue); None: ccxt's
    every: str | None = None  # interval mode: "4h", "30m", "2d" (30 minutes … 28 days)
    paper_account: str | None = None  # paper venue account shared by several baskets (default: the name)
    tax: TaxSettings | None = None  # the [tax] table: jurisdiction, method, rate, policies (rebalance/tax_policy.py)


@dataclass(frozen=True)
class AssetRow:
    asset: str
    quantity: Decimal
    price: Decimal  # in quote
    value: Decimal  # quantity * price
    weight: Decimal  # current percent of total
    target: Decimal  # target percent
    drift: Decimal  # weight - target, percentage points
    target_value: Decimal


@dataclass(frozen=True)
class PlannedOrder:
    asset: str
    symbol: str  # "BTC/USDT"
    side: str  # "buy" | "sell"
    quantity: Decimal  # base amount, already truncated to the market's step
    limit_price: Decimal  # already on the market's tick
    notional: Decimal  # quantity * limit_price, in quote


@dataclass(frozen=True)
class DustLeg:
    asset: str
    side: str
    quantity: Decimal
    notional: Decimal
    reason: str  # "below minimum amount 0.00001 BTC", "below minimum notional 5 USDT" …


@dataclass(frozen=True)
class Plan:
    basket: str
    quote: str
    total_value: Decimal
    rows: tuple[AssetRow, ...]
    orders: tuple[PlannedOrder, ...]  # sells first, then buys
    dust: tuple[DustLeg, ...]
    max_drift: Decimal  # largest |drift| in percentage points
    skipped: str | None = None  # why no orders (inside the gate/band), None when trading
    notes: tuple[str, ...] = ()  # what the planner adjusted, e.g. "buys scaled to 99.9% to fit 284.7 USDT"
    quote_balance: Decimal = Decimal(0)  # quote asset available before the orders
    quote_after: Decimal = Decimal(0)  # projected quote balance after every order fills (fees included)
    # a tax-aware basket: the tax preview and the policies' decisions (rebalance/tax_plan.py TaxedPlan.record),
    # written with the plan in the audit trail
    tax: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)
