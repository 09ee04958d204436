"""The rebalance planner: a PURE function from (basket, balances, prices, markets) to a :class:`Plan`.

No I/O, no clock, no exchange: the executor, ``rebalance plan`` and the backtester feed it numbers.

How a plan is made (worked example, tested in tests/test_planner.py): holdings BTC $5,500, ETH $2,850,
SOL $2,100 (total $10,450), target 50/30/20 -> targets $5,225 / $3,135 / $2,090 -> SELL $275 BTC,
BUY $285 ETH, SELL $10 SOL.

1. Value each member at ``prices`` (quote per unit; a stablecoin quote member is worth 1). The total is
   the members' value, plus ``invest`` (new quote cash) when the quote asset is not itself a member.
   A quote balance that is not a member is funding cash only: it pays for fees, it is not rebalanced.
   ``invest`` must be covered by the quote balance; when the quote is a member it is counted already.
2. Per non-quote member: ``delta = target value - value``; quantity ``|delta| / price`` (valuation
   price), truncated DOWN to the market's amount step (never rounded up; a sell never exceeds the
   balance). Limit price: the touch (bid for sells, ask for buys) when ``tickers`` are given, else the
   plain price; moved by ``price_offset`` (a fraction; positive crosses the spread: sells lower, buys
   higher) and put on the market's tick rounding AWAY from a worse price (sells up, buys down).
3. Legs under the market's minimum amount, the market's minimum cost (None on OKX spot) or the
   basket's ``min_notional`` become :class:`DustLeg` with the reason; they are reported, never retried.
   A dust leg's quantity is the wanted amount cut to 1/1000 of the amount step (for reading only; its
   notional is exact).
4. Sells come first. Buys are funded by the quote balance plus the sells' proceeds net of fees; if
   the buys (plus their fee when ``buy_fee_in="quote"``) would cost more, every buy is scaled down by
   the same factor (re-truncated, re-checked for dust) and a note says so. So the projected quote
   balance (``Plan.quote_after``) never goes negative. On OKX a spot buy's fee is charged in the coin
   bought (``buy_fee_in="base"``): the buy then costs exactly its notional in quote.
   Fees: ``fee_rate`` for every leg, or each market's ``taker_fee`` when None (conservative).

Trigger logic (when to run) lives in :mod:`taxreport.rebalance.triggers` and is re-exported here.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Callable, Collection, Mapping

from taxreport.errors import InputError, MissingDataError
from taxreport.exchanges.base import Market, Ticker
from taxreport.model.money import decimal_str, money_str
from taxreport.rebalance.triggers import band_width, next_run, outside_band, should_rebalance, trade_needed
from taxreport.rebalance.types import AssetRow, Basket, DustLeg, Plan, PlannedOrder

__all__ = ["plan", "plan_liquidation", "asset_rows", "plan_to_dict", "truncate_to_step", "round_to_tick",
           "band_width", "next_run", "outside_band", "should_rebalance", "trade_needed"]

ZERO, ONE, HUNDRED = Decimal(0), Decimal(1), Decimal(100)
Precision = Callable[[str, Decimal], Decimal]


def truncate_to_step(amount: Decimal, step: Decimal) -> Decimal:
    """Largest multiple of ``step`` not above ``amount`` (ccxt's TRUNCATE for tick-size markets)."""
    if step <= 0:
        return amount
    return (amount / step).to_integral_value(rounding=ROUND_FLOOR) * step


def round_to_tick(price: Decimal, tick: Decimal, side: str) -> Decimal:
    """Price on the tick, rounded away from a worse price: sells up, buys down."""
    if tick <= 0:
        return price
    rounding = ROUND_CEILING if side == "sell" else ROUND_FLOOR
    return (price / tick).to_integral_value(rounding=rounding) * tick


def _norm(mapping: Mapping[str, Decimal], what: str) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for key, value in mapping.items():
        if not isinstance(value, Decimal):
            raise InputError(f"{value!r} is not a Decimal", field=f"{what} {key}")
        out[key.strip().upper()] = out.get(key.strip().upper(), ZERO) + value
    return out


def asset_rows(basket: Basket, balances: Mapping[str, Decimal], prices: Mapping[str, Decimal], *,
               invest: Decimal = ZERO) -> tuple[tuple[AssetRow, ...], Decimal]:
    """Current vs target per member, and the basket's total value (see step 1 of the module doc)."""
    balances, prices = _norm(balances, "balance"), _norm(prices, "price")
    negative = sorted(a for a, q in balances.items() if q < 0)
    if negative:
        raise InputError(f"negative balance for {', '.join(negative)}", field="balances")
    if invest < 0:
        raise InputError("must not be negative", field="invest")
    missing = [a for a in basket.weights if a != basket.quote and a not in prices]
    if missing:
        raise MissingDataError(f"no price for {', '.join(missing)} in {basket.quote}")
    bad = [a for a in basket.weights if a != basket.quote and prices[a] <= 0]
    if bad:
        raise InputError(f"price must be positive for {', '.join(bad)}", field="prices")
    quote_member = basket.quote in basket.weights
    if invest > balances.get(basket.quote, ZERO):
        raise InputError(f"cannot invest {decimal_str(invest)} {basket.quote}: only "
                         f"{decimal_str(balances.get(basket.quote, ZERO))} {basket.quote} available",
                         field="invest")
    values = {}
    for asset in basket.weights:
        price = ONE if asset == basket.quote else prices[asset]
        values[asset] = (balances.get(asset, ZERO), price, balances.get(asset, ZERO) * price)
    total = sum((v for _, _, v in values.values()), ZERO) + (ZERO if quote_member else invest)
    if total <= 0:
        raise InputError(f"basket {basket.name!r} holds nothing to rebalance: invest first "
                         f"(`taxreport basket invest`)", field="balances")
    rows = []
    for asset, target in basket.weights.items():
        qty, price, value = values[asset]
        weight = value / total * HUNDRED
        rows.append(AssetRow(asset=asset, quantity=qty, price=price, value=value, weight=weight,
                             target=target, drift=weight - target, target_value=total * target / HUNDRED))
    return tuple(rows), total


class _Legs:
    """Turns value deltas into orders or dust for one plan (shared by plan and plan_liquidation)."""

    def __init__(self, basket: Basket, markets: Mapping[str, Market], tickers: Mapping[str, Ticker] | None,
                 prices: Mapping[str, Decimal], fee_rate: Decimal | None, price_offset: Decimal,
                 amount_to_precision: Precision | None, price_to_precision: Precision | None) -> None:
        self.basket, self.markets, self.tickers, self.prices = basket, markets, tickers or {}, prices
        self.fee_rate, self.offset = fee_rate, price_offset
        self.amount_p, self.price_p = amount_to_precision, price_to_precision
        self.dust: list[DustLeg] = []

    def market(self, asset: str) -> Market:
        symbol = f"{asset}/{self.basket.quote}"
        if symbol not in self.markets:
            raise InputError(f"no market {symbol} on {self.basket.exchange}", field=f"weights.{asset}")
        return self.markets[symbol]

    def fee(self, market: Market) -> Decimal:
        return market.taker_fee if self.fee_rate is None else self.fee_rate

    def limit_price(self, asset: str, market: Market, side: str) -> Decimal:
        ticker = self.tickers.get(market.symbol)
        ref = (ticker.bid if side == "sell" else ticker.ask) if ticker else self.prices[asset]
        if ref <= 0:
            raise InputError(f"no usable {'bid' if side == 'sell' else 'ask'} for {market.symbol}",
                             field="tickers")
        raw = ref * (ONE - self.offset) if side == "sell" else ref * (ONE + self.offset)
        if self.price_p:
            return self.price_p(market.symbol, raw)
        return round_to_tick(raw, market.price_tick, side)

    def quantity(self, market: Market, amount: Decimal) -> Decimal:
        if self.amount_p:
            return self.amount_p(market.symbol, amount)
        return truncate_to_step(amount, market.amount_step)

    def leg(self, asset: str, side: str, wanted: Decimal, limit: Decimal) -> PlannedOrder | None:
        """An order for ``wanted`` base units at ``limit``, or None (recorded as dust)."""
        market = self.market(asset)
        qty = self.quantity(market, wanted) if wanted > 0 else ZERO
        notional = qty * limit
        reason = None
        if qty <= 0:
            reason = f"below the amount step {decimal_str(market.amount_step)} {asset}"
        elif market.min_amount is not None and qty < market.min_amount:
            reason = f"below minimum amount {decimal_str(market.min_amount)} {asset}"
        elif market.min_cost is not None and notional < market.min_cost:
            reason = f"below the exchange minimum cost {decimal_str(market.min_cost)} {self.basket.quote}"
        elif notional < self.basket.min_notional:
            reason = f"below minimum notional {decimal_str(self.basket.min_notional)} {self.basket.quote}"
        if reason:
            shown = truncate_to_step(wanted, market.amount_step / 1000)  # readable: 3 digits past the step
            self.dust.append(DustLeg(asset=asset, side=side, quantity=shown, notional=wanted * limit,
                                     reason=reason))
            return None
        return PlannedOrder(asset=asset, symbol=market.symbol, side=side, quantity=qty, limit_price=limit,
                            notional=notional)

    def fund(self, sells: list[PlannedOrder], buys: list[tuple[str, Decimal, Decimal]],
             quote_balance: Decimal, buy_fee_in: str, notes: list[str]) -> tuple[list[PlannedOrder], Decimal]:
        """Size the buys so they fit the quote balance plus the sells' net proceeds."""
        # a rebate (negative fee) is not counted on: the order may fill as taker
        budget = quote_balance + sum((o.notional * (ONE - max(self.fee(self.markets[o.symbol]), ZERO))
                                      for o in sells), ZERO)

        def cost(order: PlannedOrder) -> Decimal:
            extra = self.fee(self.markets[order.symbol]) if buy_fee_in == "quote" else ZERO
            return order.notional * (ONE + max(extra, ZERO))

        orders = [o for o in (self.leg(a, "buy", q, p) for a, q, p in buys) if o]
        needed = sum((cost(o) for o in orders), ZERO)
        if needed > budget:
            factor = budget / needed if budget > 0 else ZERO
            # scale the already-truncated quantities: truncating q x factor again keeps cost <= budget
            orders = [o for o in (self.leg(o.asset, "buy", o.quantity * factor, o.limit_price) for o in orders) if o]
            pct = format((factor * HUNDRED).quantize(Decimal("0.01"), rounding=ROUND_FLOOR), "f")
            notes.append(f"buys scaled to {pct}% "
                         f"to fit the {decimal_str(budget)} {self.basket.quote} available after sells and fees "
                         f"(they would cost {decimal_str(needed)})")
            needed = sum((cost(o) for o in orders), ZERO)
        return orders, budget - needed


def plan(basket: Basket, balances: Mapping[str, Decimal], prices: Mapping[str, Decimal],
         markets: Mapping[str, Market], *, fee_rate: Decimal | None = None,
         tickers: Mapping[str, Ticker] | None = None, price_offset: Decimal = ZERO, invest: Decimal = ZERO,
         buy_fee_in: str = "quote", gate_check: bool = False,
         amount_to_precision: Precision | None = None, price_to_precision: Precision | None = None,
         buy_only: bool = False, only: Collection[str] | None = None) -> Plan:
    """The orders that bring ``balances`` back to the basket's target weights (module doc: how).

    ``gate_check=True`` returns a plan without orders (``skipped`` says why) when no asset is beyond
    the basket's band (threshold, hybrid) or gate (daily, weekly): what a scheduled run would do.
    ``amount_to_precision``/``price_to_precision`` (e.g. the ccxt adapter's methods) replace the
    market-step arithmetic when given. ``buy_only`` (``basket invest --buy-only``) plans no sells:
    the cash buys the underweight members, scaled to fit. ``only`` (``--only-drifted``) plans legs
    for these members only (the others are left as they are).
    """
    if buy_fee_in not in ("quote", "base"):
        raise ValueError("buy_fee_in must be 'quote' or 'base'")
    rows, total = asset_rows(basket, balances, prices, invest=invest)
    bal = _norm(balances, "balance")
    quote_balance = bal.get(basket.quote, ZERO)
    max_drift = max(abs(r.drift) for r in rows)
    base = dict(basket=basket.name, quote=basket.quote, total_value=total, rows=rows, max_drift=max_drift,
                quote_balance=quote_balance)
    if gate_check:
        go, reason = trade_needed(basket, rows)
        if not go:
            return Plan(orders=(), dust=(), skipped=reason, quote_after=quote_balance, **base)
    legs = _Legs(basket, markets, tickers, _norm(prices, "price"), fee_rate, price_offset,
                 amount_to_precision, price_to_precision)
    sells: list[PlannedOrder] = []
    buys: list[tuple[str, Decimal, Decimal]] = []
    for row in rows:
        if row.asset == basket.quote or (only is not None and row.asset not in only):
            continue
        delta = row.target_value - row.value
        if buy_only and delta < 0:
            continue
        if delta == 0:
            legs.market(row.asset)
            continue
        side = "buy" if delta > 0 else "sell"
        market = legs.market(row.asset)
        limit = legs.limit_price(row.asset, market, side)
        wanted = abs(delta) / row.price
        if side == "sell":
            order = legs.leg(row.asset, side, min(wanted, row.quantity), limit)
            if order:
                sells.append(order)
        else:
            buys.append((row.asset, wanted, limit))
    notes: list[str] = []
    orders, quote_after = legs.fund(sells, buys, quote_balance, buy_fee_in, notes)
    for dust in legs.dust:
        notes.append(f"{dust.side} {dust.asset} ({money_str(dust.notional)} {basket.quote}) dropped as dust: "
                     f"{dust.reason}")
    return Plan(orders=tuple(_ordered(sells) + _ordered(orders)), dust=tuple(legs.dust), notes=tuple(notes),
                quote_after=quote_after, **base)


def plan_liquidation(basket: Basket, balances: Mapping[str, Decimal], prices: Mapping[str, Decimal],
                     markets: Mapping[str, Market], *, fee_rate: Decimal | None = None,
                     tickers: Mapping[str, Ticker] | None = None, price_offset: Decimal = ZERO,
                     amount_to_precision: Precision | None = None,
                     price_to_precision: Precision | None = None) -> Plan:
    """``basket stop``: sell every non-quote member to the quote asset (a taxable disposal).
    Remainders below the step or minimums stay behind as dust legs."""
    rows, total = asset_rows(basket, balances, prices)
    legs = _Legs(basket, markets, tickers, _norm(prices, "price"), fee_rate, price_offset,
                 amount_to_precision, price_to_precision)
    sells = []
    for row in rows:
        if row.asset != basket.quote and row.quantity > 0:
            market = legs.market(row.asset)
            order = legs.leg(row.asset, "sell", row.quantity, legs.limit_price(row.asset, market, "sell"))
            if order:
                sells.append(order)
    quote_balance = _norm(balances, "balance").get(basket.quote, ZERO)
    proceeds = sum((o.notional * (ONE - max(legs.fee(markets[o.symbol]), ZERO)) for o in sells), ZERO)
    notes = tuple(f"{d.asset} remainder {decimal_str(d.quantity)} stays: {d.reason}" for d in legs.dust)
    return Plan(basket=basket.name, quote=basket.quote, total_value=total, rows=rows,
                orders=tuple(_ordered(sells)), dust=tuple(legs.dust), max_drift=max(abs(r.drift) for r in rows),
                notes=notes, quote_balance=quote_balance, quote_after=quote_balance + proceeds)


def _ordered(orders: list[PlannedOrder]) -> list[PlannedOrder]:
    return sorted(orders, key=lambda o: (-o.notional, o.asset))


def plan_to_dict(p: Plan) -> dict:
    """JSON/audit-trail form of a plan (Decimals kept; :func:`echo_json` makes them exact strings)."""
    return {
        "basket": p.basket, "quote": p.quote, "total_value": p.total_value, "max_drift": p.max_drift,
        "skipped": p.skipped, "quote_balance": p.quote_balance, "quote_after": p.quote_after,
        "rows": [{"asset": r.asset, "quantity": r.quantity, "price": r.price, "value": r.value,
                  "weight": r.weight, "target": r.target, "drift": r.drift, "target_value": r.target_value}
                 for r in p.rows],
        "orders": [{"asset": o.asset, "symbol": o.symbol, "side": o.side, "quantity": o.quantity,
                    "limit_price": o.limit_price, "notional": o.notional} for o in p.orders],
        "dust": [{"asset": d.asset, "side": d.side, "quantity": d.quantity, "notional": d.notional,
                  "reason": d.reason} for d in p.dust],
        "notes": list(p.notes),
    }


def order_leg(basket: Basket, markets: Mapping[str, Market], prices: Mapping[str, Decimal], asset: str, side: str,
              quantity: Decimal, *, fee_rate: Decimal | None = None, tickers: Mapping[str, Ticker] | None = None,
              price_offset: Decimal = ZERO, amount_to_precision: Precision | None = None,
              price_to_precision: Precision | None = None) -> tuple[PlannedOrder | DustLeg, Decimal]:
    """One leg of ``quantity`` units made exactly as :func:`plan` makes its legs (amount step, tick,
    touch price, minimums), and its fee rate; a :class:`DustLeg` (with the reason) when it is too small.
    For legs a rebalance does not derive from weights (the tax-aware loss harvest's sell and rebuy)."""
    legs = _Legs(basket, markets, tickers, _norm(prices, "price"), fee_rate, price_offset,
                 amount_to_precision, price_to_precision)
    market = legs.market(asset)
    order = legs.leg(asset, side, quantity, legs.limit_price(asset, market, side))
    return (order if order is not None else legs.dust[-1]), legs.fee(market)
