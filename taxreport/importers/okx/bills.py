"""OKX trading-account history with one row per asset leg: variants T2 (Mar 2023), T3 (2023) and
T4 (2025) of ``/shared/REFERENCE.md`` §3a.

One fill is two rows (one per asset leg) sharing ``Order id``; one order may have many fills, in any
row order. For each order we

1. check every leg against ``Balance Change``: per order and asset, the sum of ``Balance Change`` must
   equal the sum of ±``Amount`` (``+`` for a ``Buy`` leg, ``-`` for a ``Sell`` leg) plus ``Fee``
   (negative when charged). A mismatch refuses the file, naming the rows;
2. trust ``Balance Unit`` (T2: the *last* ``Unit`` column) for the leg's asset, never ``Trading Unit``
   (it names the wrong asset on one leg; BittyTax found the same with T2's first ``Unit``);
3. pair the rows into fills: rows sharing the same ``id`` (T2), else rows with the same time and
   ``Filled Price`` whose amounts agree (quote ≈ base × price); rows that cannot be paired one to one
   are summed into one trade per (time, price) and, failing that, per order — never dropped;
4. make one :class:`~taxreport.model.events.Trade` per fill: ``quantity`` = gross base
   (``|Σ Balance Change − Σ Fee|`` of the base rows), ``price`` = ``Filled Price`` when
   ``quantity × price`` is exactly the quote leg, else quote ÷ base (so balances agree with OKX),
   ``fee`` = −``Fee`` in the leg's asset (OKX charges buys in the received asset).

**Convert** rows (OKX "Convert", seen in real 2025-26 exports): ``Trade Type`` ``Spot``, ``Symbol``
like ``TAO-USDC-CONVERT`` and an *empty* ``Action``; the leg's direction is the sign of its ``Balance
Change``. They are trades like any other (base and quote from the symbol without ``-CONVERT``).

**Rounding.** OKX rounds ``Amount``, ``Fee`` and ``Balance Change`` to 8 decimals each on its own, so
one row's ``±Amount + Fee`` may differ from its ``Balance Change`` by 1e-8: accepted per row up to
:data:`~taxreport.importers.okx.common.ROUNDING` and reported (``batch.rounding``); ``Balance
Change`` is what the trade is built from, so ledger balances equal OKX's. More refuses the file.

**Balance chain.** Per asset, in row-id order, each row's ``Balance − Balance Change`` must be the
previous row's ``Balance`` (``Transfer`` rows included); a break is reported (``batch.gaps``).

``external_id`` is ``bills:<row id>+<row id>``: OKX's row (bill) ids are the same in every export that
contains the fill, so an overlapping export of a longer period maps to the same ledger keys.
``Trade Type`` ``Transfer`` rows are moves between the user's own OKX accounts: listed as ignored.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from taxreport.errors import InputError
from taxreport.importers.base import ImportRefused
from taxreport.importers.okx.common import (
    ROUNDING,
    BalanceStep,
    OkxBatch,
    OkxFile,
    Row,
    RowError,
    check_chain,
    make_rows,
    row_order,
    sort_ids,
    split_symbol,
    to_input_error,
)
from taxreport.model.events import Side, Trade, Withdrawal
from taxreport.model.money import unit_price

ZERO = Decimal(0)
PAIR_RELATIVE = Decimal("0.000001")
PAIR_ABSOLUTE = Decimal("0.00000001")


@dataclass(frozen=True)
class BillColumns:
    symbol: str
    action: str
    unit: str
    price: str | None


T2_COLUMNS = BillColumns("Instrument", "Type", "Unit", None)  # "Unit": the last of the two wins
T34_COLUMNS = BillColumns("Symbol", "Action", "Balance Unit", "Filled Price")
CONVERT_SUFFIX = "-CONVERT"
NOTHING = "nothing"  # a Convert leg of 0 (OKX rounded the amount received to 8 decimals: dust)


@dataclass(frozen=True)
class _Leg:
    line: int
    id: str
    order: str
    time: datetime
    symbol: str
    base: str
    quote: str
    action: str  # buy | sell: the direction of THIS leg's asset
    amount: Decimal
    price: Decimal | None
    fee: Decimal  # as in the file: negative when charged
    change: Decimal
    unit: str
    origin: str = ""
    convert: bool = False


def parse_bills(f: OkxFile, variant: str, cols: BillColumns, account: str) -> OkxBatch:
    problems: list[InputError] = []
    rows = make_rows(f, problems)
    batch = OkxBatch(f.path, variant, f.zone_label, rows=len(f.rows))
    orders: dict[str, list[_Leg]] = defaultdict(list)
    broken: set[str] = set()  # orders with a bad row: their order-level checks would only repeat it
    steps: list[BalanceStep] = []
    for row in rows:
        try:
            _step(row, cols, steps)
            kind = row.text("Trade Type")
            if kind.lower() == "transfer":
                what = row.text(cols.action, required=False) or "transfer"
                batch.ignored.append((row.origin, f"Trade Type Transfer ({what}): a move between the "
                                                  "user's own OKX accounts, not a disposal"))
                continue
            if kind.lower() != "spot":
                raise row.error("Trade Type", f"{kind!r} is not supported: this importer reads Spot "
                                              "and Transfer rows (margin/derivatives need another tool)")
            leg = _leg(row, cols)
            _check_leg(row, leg, batch)
            orders[leg.order].append(leg)
        except RowError as exc:
            problems.append(to_input_error(f.path, exc))
            if "Order id" in row.cols:
                broken.add(row.cells[row.cols["Order id"]].strip())
    for order_id, legs in orders.items():
        if order_id in broken:
            continue
        try:
            for fill in _fills(order_id, legs):
                trade = _trade(order_id, fill, account)
                lines = ",".join(str(n) for n in sorted(leg.line for leg in fill))
                batch.add(trade, f"{f.path}:{lines}")
        except RowError as exc:
            problems.append(to_input_error(f.path, exc))
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise ImportRefused(f.path, problems)
    check_chain(steps, batch)
    order = sorted(range(len(batch.events)), key=lambda i: (batch.events[i].time, batch.origins[i]))
    batch.events = [batch.events[i] for i in order]
    batch.origins = [batch.origins[i] for i in order]
    return batch


def _step(row: Row, cols: BillColumns, steps: list[BalanceStep]) -> None:
    """The row's place in its asset's balance chain (every row moves a balance, transfers too)."""
    balance, change = row.dec("Balance"), row.dec("Balance Change")
    when = row.time("Time")
    steps.append(BalanceStep(row.origin, row.line, row_order(row.text("id"), when, row.line),
                             row.text(cols.unit).upper(), change, balance))


def _leg(row: Row, cols: BillColumns) -> _Leg:
    symbol = row.text(cols.symbol)
    convert = symbol.upper().endswith(CONVERT_SUFFIX)
    if convert:
        symbol = symbol[: -len(CONVERT_SUFFIX)]
    try:
        base, quote = split_symbol(symbol)
    except ValueError as exc:
        raise row.error(cols.symbol, str(exc)) from None
    if convert and not row.text(cols.action, required=False):
        # OKX Convert: no Action; the leg's direction is the sign of its balance change. A leg OKX rounded
        # to nothing (Amount and Balance Change 0E-8: dust) has no direction of its own (see _fills)
        change = row.dec("Balance Change")
        action = "buy" if change > 0 else "sell" if change < 0 or row.dec("Amount") != 0 else NOTHING
    else:
        action = row.text(cols.action).lower()
    if action not in ("buy", "sell", NOTHING):
        raise row.error(cols.action, f"{row.text(cols.action)!r} is not Buy or Sell")
    amount = row.dec("Amount")
    price = row.dec(cols.price) if cols.price else None
    if price is not None and price <= 0:
        raise row.error(cols.price, f"must be greater than zero, got {price}")
    unit = row.text(cols.unit).upper()
    if unit not in (base, quote):
        raise row.error(cols.unit, f"{unit} is neither {base} nor {quote} of {symbol}")
    return _Leg(row.line, row.text("id"), row.text("Order id"), row.time("Time"), symbol.upper(), base,
                quote, action, abs(amount), price, row.dec("Fee"), row.dec("Balance Change"), unit,
                row.origin, convert)


def _check_leg(row: Row, leg: _Leg, batch: OkxBatch) -> None:
    """``Balance Change`` = ±``Amount`` + ``Fee`` (``+`` for a Buy leg) within OKX's 8-decimal rounding."""
    expected = (leg.amount if leg.action == "buy" else -leg.amount) + leg.fee
    diff = leg.change - expected
    if abs(diff) > ROUNDING:
        raise row.error("Balance Change", f"{leg.change} {leg.unit} but {leg.action.title()} Amount "
                                          f"{leg.amount} and Fee {leg.fee} give {expected} (more than OKX's "
                                          "1e-8 rounding)")
    if leg.fee < 0 and leg.action == "buy" and leg.change <= 0:
        raise row.error("Fee", f"{-leg.fee} {leg.unit} takes all of the {leg.amount} {leg.unit} received")
    if diff:
        detail = (f"{leg.unit}: Balance Change {leg.change}, Amount and Fee give {expected}: differ by "
                  f"{diff:+} (OKX's 8-decimal rounding; the balance change is kept)")
        batch.rounding.append((leg.origin, detail))


def _lines(legs: list[_Leg]) -> str:
    return ", ".join(str(n) for n in sorted(leg.line for leg in legs))


def _fail(legs: list[_Leg], reason: str) -> RowError:
    return RowError(None, f"{reason} (rows at lines {_lines(legs)})", min(leg.line for leg in legs))


def _fills(order_id: str, legs: list[_Leg]) -> list[list[_Leg]]:
    """Check the order's legs against Balance Change and split them into fills."""
    symbols = {leg.symbol for leg in legs}
    if len(symbols) > 1:
        raise _fail(legs, f"order {order_id} has rows for several pairs ({', '.join(sorted(symbols))})")
    base = [leg for leg in legs if leg.unit == legs[0].base]
    quote = [leg for leg in legs if leg.unit == legs[0].quote]
    if not base or not quote:
        have = legs[0].base if base else legs[0].quote
        raise _fail(legs, f"order {order_id} has only {have} rows: the other leg of the trade is missing")
    nothing = [side for side in (base, quote) if all(leg.action == NOTHING for leg in side)]
    if nothing or any(leg.action == NOTHING for leg in legs):
        given = quote if nothing and nothing[0] is base else base
        if len(nothing) != 1 or any(leg.action != "sell" for leg in given):
            raise _fail(legs, f"order {order_id}: an OKX Convert with a leg of 0 must give the other asset "
                              "(Balance Change below 0) for it; these rows do not")
        return [legs]  # dust given for nothing: one disposal (_trade)
    for side in (base, quote):
        if len({leg.action for leg in side}) > 1:
            raise _fail(side, f"order {order_id}: {side[0].unit} rows are both Buy and Sell")
    if base[0].action == quote[0].action:
        raise _fail(legs, f"order {order_id}: both legs say {base[0].action.title()}; one must be Buy, "
                          "the other Sell")
    for side in (base, quote):
        sign = 1 if side[0].action == "buy" else -1
        expected = sum((sign * leg.amount + leg.fee for leg in side), ZERO)
        change = sum((leg.change for leg in side), ZERO)
        if abs(expected - change) > ROUNDING * len(side):
            raise _fail(side, f"order {order_id}: {side[0].unit} Balance Change sums to {change} but "
                              f"Amount and Fee give {expected}")
    return _pair(base, quote)


def _pair(base: list[_Leg], quote: list[_Leg]) -> list[list[_Leg]]:
    by_id: dict[str, list[_Leg]] = defaultdict(list)
    for leg in base + quote:
        by_id[leg.id].append(leg)
    if all(len(g) == 2 and g[0].unit != g[1].unit for g in by_id.values()):
        return list(by_id.values())  # T2: both legs of a fill carry the same id
    fills: list[list[_Leg]] = []
    leftover: list[_Leg] = []
    buckets: dict[tuple, tuple[list[_Leg], list[_Leg]]] = defaultdict(lambda: ([], []))
    for leg in base:
        buckets[(leg.time, leg.price)][0].append(leg)
    for leg in quote:
        buckets[(leg.time, leg.price)][1].append(leg)
    for (_, price), (bs, qs) in sorted(buckets.items(), key=lambda kv: (kv[0][0], kv[0][1] or ZERO)):
        if not bs or not qs:
            leftover.extend(bs + qs)
            continue
        bs = sorted(bs, key=lambda leg: (leg.amount, leg.id))
        qs = sorted(qs, key=lambda leg: (leg.amount, leg.id))
        if len(bs) == len(qs) and (len(bs) == 1 or price is not None and all(
                _close(q.amount, b.amount * price) for b, q in zip(bs, qs))):
            fills.extend([b, q] for b, q in zip(bs, qs))
        else:
            fills.append(bs + qs)  # several fills at one time and price: summed, never dropped
    if leftover:
        if not any(leg.unit == base[0].unit for leg in leftover) or not any(
                leg.unit == quote[0].unit for leg in leftover):
            raise _fail(leftover, f"order {leftover[0].order}: these rows have no matching other leg "
                                  "at the same time and price")
        fills.append(leftover)
    return fills


def _close(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= max(PAIR_ABSOLUTE, abs(a) * PAIR_RELATIVE)


def _trade(order_id: str, fill: list[_Leg], account: str) -> Trade | Withdrawal:
    first = fill[0]
    if any(leg.action == NOTHING for leg in fill):
        return _given_for_nothing(fill, account)
    bs = [leg for leg in fill if leg.unit == first.base]
    qs = [leg for leg in fill if leg.unit == first.quote]
    gross_base = abs(sum((leg.change - leg.fee for leg in bs), ZERO))
    gross_quote = abs(sum((leg.change - leg.fee for leg in qs), ZERO))
    if gross_base == 0 or gross_quote == 0:
        raise _fail(fill, f"order {order_id}: a fill with a zero amount")
    prices = {leg.price for leg in fill}
    price = prices.pop() if len(prices) == 1 else None
    if price is None or gross_base * price != gross_quote:
        price = unit_price(gross_quote, gross_base)
    charged = [leg for leg in fill if leg.fee != 0]
    fee_assets = {leg.unit for leg in charged}
    if len(fee_assets) > 1:
        raise _fail(charged, f"order {order_id}: fees in two assets ({', '.join(sorted(fee_assets))}) "
                             "in one fill")
    fee = -sum((leg.fee for leg in charged), ZERO)
    try:
        return Trade(time=max(leg.time for leg in fill), source="okx",
                     external_id="bills:" + "+".join(sort_ids([leg.id for leg in fill])),
                     account=account, side=Side(bs[0].action), base=first.base, quote=first.quote,
                     quantity=gross_base, price=price, fee=fee,
                     fee_asset=fee_assets.pop() if fee_assets else None, order_id=order_id,
                     note="OKX Convert" if any(leg.convert for leg in fill) else "")
    except ValueError as exc:
        raise _fail(fill, str(exc)) from None


def _given_for_nothing(fill: list[_Leg], account: str) -> Withdrawal:
    """An OKX Convert of dust whose received leg OKX rounded to 0 (``Amount`` and ``Balance Change``
    ``0E-8``, e.g. 0.00000001 SLX converted to 0.00000000 USDC): the asset given left the account and
    nothing came back. It is not a trade (a price of 0 is not a price); it is a disposal whose stated
    value is 0 in the other asset: a :class:`Withdrawal` ``purpose='spend'``, ``value`` 0."""
    given = [leg for leg in fill if leg.action == "sell"]
    got = next(leg for leg in fill if leg.action == NOTHING)
    fee = -sum((leg.fee for leg in given), ZERO)
    try:
        return Withdrawal(time=max(leg.time for leg in fill), source="okx",
                          external_id="bills:" + "+".join(sort_ids([leg.id for leg in fill])), account=account,
                          asset=given[0].unit, quantity=abs(sum((leg.change - leg.fee for leg in given), ZERO)),
                          fee=fee, purpose="spend", value=ZERO, value_currency=got.unit,
                          note=f"OKX Convert {got.symbol} (order {got.order}): the {got.unit} received was "
                               "rounded to 0 by OKX; a disposal for nothing")
    except ValueError as exc:
        raise _fail(fill, str(exc)) from None
