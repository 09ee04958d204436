"""OKEx's older trade exports: T0 (≤2019) and T1 (~2020) of ``/shared/REFERENCE.md`` §3a.

* **T0** ``time,type,size,balance,fee,currency``: rows come in buy/sell pairs (BittyTax
  ``parse_okx_trades_v1``), one row per asset; ``time`` is China Standard Time (``Asia/Shanghai``,
  as BittyTax's ``TZ_INFOS``). The file names no pair, so the quote asset is the one that ranks first
  in fiat > stablecoins > BTC > ETH > OKB; two unranked assets are refused, not guessed. ``size`` is
  taken as the gross amount and ``fee`` (on the buy row, in the asset received) as charged whatever
  its printed sign. No ids: ``external_id`` is a hash of the two rows' text, identical in every export.
* **T1** ``Order ID,Trade ID,Trade Time,Pairs,Amount,Price,Total,taker/maker,Fee,unit`` with a BOM
  on every header cell (everytrade ``OkxBeanV1``): one row per fill; ``Amount`` is signed (+ buy,
  − sell) in the base, whose asset ``unit`` names (another asset refuses the row); ``Total`` and ``Fee``
  carry a unit suffix (``-104.97 USDT``). ``Total`` holds
  binary-float noise (``104.976405810000002816``), so ``Amount × Price`` is the quote amount and
  ``Total`` is only checked against it. ``external_id`` is ``t1:<Trade ID>``.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from zoneinfo import ZoneInfo

from taxreport.errors import InputError
from taxreport.importers.base import ImportRefused
from taxreport.importers.okx.common import (
    OkxBatch,
    OkxFile,
    Row,
    RowError,
    checked_decimal,
    make_rows,
    split_symbol,
    to_input_error,
)
from taxreport.importers.records import quote_rank
from taxreport.model.events import Side, Trade
from taxreport.model.money import unit_price

CHINA = ZoneInfo("Asia/Shanghai")
TOTAL_RELATIVE = Decimal("0.000001")


def _finish(f: OkxFile, batch: OkxBatch, problems: list[InputError]) -> OkxBatch:
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise ImportRefused(f.path, problems)
    return batch


def parse_t0(f: OkxFile, account: str) -> OkxBatch:
    problems: list[InputError] = []
    rows = make_rows(f, problems)
    batch = OkxBatch(f.path, "T0", "Asia/Shanghai (OKEx ≤2019 exports are China Standard Time)",
                     rows=len(f.rows))
    if len(rows) % 2:
        problems.append(InputError("T0 rows come in buy/sell pairs but this row has no partner",
                                   file=f.path, line=rows[-1].line))
        rows = rows[:-1]
    for first, second in zip(rows[0::2], rows[1::2]):
        try:
            batch.add(_t0_trade(first, second, account), f"{f.path}:{first.line},{second.line}")
        except RowError as exc:
            problems.append(to_input_error(f.path, exc))
    return _finish(f, batch, problems)


def _t0_time(row: Row):  # noqa: ANN202
    text = row.text("time")
    if text.upper().endswith(" CST"):
        text = text[:-4]
    from taxreport.importers.okx.common import parse_local_time

    try:
        return parse_local_time(text, CHINA)
    except ValueError as exc:
        raise row.error("time", str(exc)) from None


def _t0_trade(a: Row, b: Row, account: str) -> Trade:
    kinds = {a.text("type").lower(): a, b.text("type").lower(): b}
    if set(kinds) != {"buy", "sell"}:
        raise b.error("type", f"rows {a.line} and {b.line} must be one buy and one sell, got "
                              f"{a.text('type')!r} and {b.text('type')!r}")
    buy, sell = kinds["buy"], kinds["sell"]
    when = _t0_time(buy)
    if _t0_time(sell) != when:
        raise sell.error("time", f"differs from its buy row at line {buy.line}")
    got, gave = buy.text("currency").upper(), sell.text("currency").upper()
    got_qty, gave_qty = abs(buy.dec("size")), abs(sell.dec("size"))
    buy_fee, sell_fee = abs(buy.dec("fee")), abs(sell.dec("fee"))
    if buy_fee and sell_fee:
        raise sell.error("fee", f"both rows of the pair (lines {buy.line}, {sell.line}) carry a fee")
    fee, fee_asset = (buy_fee, got) if buy_fee else (sell_fee, gave) if sell_fee else (Decimal(0), None)
    rank_got, rank_gave = quote_rank(got), quote_rank(gave)
    if rank_got is None and rank_gave is None or rank_got == rank_gave:
        raise buy.error("currency", f"cannot tell base from quote in {got}/{gave}: neither is fiat, a "
                                    "stablecoin, BTC, ETH or OKB")
    got_is_quote = rank_gave is None or rank_got is not None and rank_got < rank_gave
    if got_is_quote:  # received the quote asset: a sale of the base
        side, base, quote, qty, quote_qty = "sell", gave, got, gave_qty, got_qty
    else:
        side, base, quote, qty, quote_qty = "buy", got, gave, got_qty, gave_qty
    if qty == 0 or quote_qty == 0:
        raise buy.error("size", f"a trade with a zero amount (lines {buy.line}, {sell.line})")
    raw = "\n".join(",".join(c.strip() for c in r.cells) for r in (a, b))
    try:
        return Trade(time=when, source="okx", external_id="t0:" + hashlib.sha256(raw.encode()).hexdigest()[:32],
                     account=account, side=Side(side), base=base, quote=quote, quantity=qty,
                     price=unit_price(quote_qty, qty), fee=fee, fee_asset=fee_asset)
    except ValueError as exc:
        raise buy.error(None, str(exc)) from None


def parse_t1(f: OkxFile, account: str) -> OkxBatch:
    problems: list[InputError] = []
    batch = OkxBatch(f.path, "T1", f.zone_label, rows=len(f.rows))
    for row in make_rows(f, problems):
        try:
            batch.add(_t1_trade(row, account), row.origin)
        except RowError as exc:
            problems.append(to_input_error(f.path, exc))
    return _finish(f, batch, problems)


def _with_unit(row: Row, name: str) -> tuple[Decimal, str]:
    text = row.text(name)
    number, _, unit = text.partition(" ")
    if not unit.strip():
        raise row.error(name, f"{text!r} should be an amount followed by its asset, e.g. '-1.5 USDT'")
    try:
        return checked_decimal(number, what=name), unit.strip().upper()
    except ValueError as exc:
        raise row.error(name, str(exc).split(": ", 1)[-1]) from None


def _t1_trade(row: Row, account: str) -> Trade:
    try:
        base, quote = split_symbol(row.text("Pairs"), "_")
    except ValueError as exc:
        raise row.error("Pairs", str(exc)) from None
    unit = row.text("unit").upper()
    if unit != base:  # the unit of Amount: the pair's base (everytrade OkxBeanV1 refuses the same contradiction)
        raise row.error("unit", f"{unit} is not {base}, the base of {row.text('Pairs')} (the unit of Amount)")
    amount = row.dec("Amount")
    if amount == 0:
        raise row.error("Amount", "is zero")
    price = row.dec("Price")
    if price <= 0:
        raise row.error("Price", f"must be greater than zero, got {price}")
    total, total_unit = _with_unit(row, "Total")
    if total_unit != quote:
        raise row.error("Total", f"is in {total_unit}, expected the quote asset {quote}")
    expected = abs(amount) * price
    if abs(abs(total) - expected) > expected * TOTAL_RELATIVE:
        raise row.error("Total", f"{abs(total)} does not match Amount × Price = {expected}")
    fee, fee_unit = _with_unit(row, "Fee")
    if fee_unit not in (base, quote):
        raise row.error("Fee", f"is in {fee_unit}, neither {base} nor {quote}")
    try:
        return Trade(time=row.time("Trade Time"), source="okx", external_id="t1:" + row.text("Trade ID"),
                     account=account, side=Side.BUY if amount > 0 else Side.SELL, base=base, quote=quote,
                     quantity=abs(amount), price=price, fee=-fee, fee_asset=fee_unit if fee else None,
                     order_id=row.text("Order ID"))
    except ValueError as exc:
        raise row.error(None, str(exc)) from None
