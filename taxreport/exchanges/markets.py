"""Market tables: ccxt market dicts -> :class:`~taxreport.exchanges.base.Market` (Decimal).

ccxt gives market numbers as Python floats (``1e-08``) or strings; each becomes a Decimal through its
shortest text (``str()``), never ``Decimal(float)`` (which would give ``1.0000000000000000209e-8``).

``markets_from_fixture(path)`` reads a JSON list (or symbol-keyed object) of ccxt market dicts — the
shape ``ccxt.okx().set_markets`` accepts — so tests and the paper exchange use the same table the real
ccxt class can load offline. :func:`default_markets` is the bundled OKX spot table
(``taxreport/exchanges/data/okx_spot_markets.json``: BTC, ETH, SOL, XRP, DOGE, USDC against USDT and
ETH/BTC, with OKX's published lot size, minimum size and tick size; fees are OKX's regular-tier spot
rates, maker 0.08% / taker 0.10%). This module does not import ccxt.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from taxreport.errors import InputError
from taxreport.exchanges.base import Market
from taxreport.model.money import parse_decimal

# ccxt precision modes (ccxt.base.decimal_to_precision): DECIMAL_PLACES, SIGNIFICANT_DIGITS, TICK_SIZE
DECIMAL_PLACES, SIGNIFICANT_DIGITS, TICK_SIZE = 2, 3, 4
DATA_FILE = Path(__file__).parent / "data" / "okx_spot_markets.json"


def ccxt_decimal(value: Any, *, what: str = "number") -> Decimal | None:
    """A number from ccxt as an exact Decimal: via its text, never ``Decimal(float)``. None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, float):
        value = repr(value)  # shortest round-tripping text: 1e-08 -> "1e-08"
    return parse_decimal(value, what=what)


def _step(value: Any, mode: int, what: str) -> Decimal:
    number = ccxt_decimal(value, what=what)
    if number is None:
        raise ValueError(f"{what}: missing")
    if mode == TICK_SIZE:
        return number
    if mode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(number))
    raise ValueError(f"{what}: precision mode {mode} (significant digits) has no fixed step")


def market_from_ccxt(market: Mapping[str, Any], *, precision_mode: int = TICK_SIZE) -> Market:
    """One ccxt unified market dict -> :class:`Market`."""
    symbol = market.get("symbol", "?")
    limits = market.get("limits") or {}
    precision = market.get("precision") or {}
    return Market(
        symbol=symbol, base=market["base"], quote=market["quote"],
        amount_step=_step(precision.get("amount"), precision_mode, f"{symbol} precision.amount"),
        price_tick=_step(precision.get("price"), precision_mode, f"{symbol} precision.price"),
        min_amount=ccxt_decimal((limits.get("amount") or {}).get("min"), what=f"{symbol} limits.amount.min"),
        min_cost=ccxt_decimal((limits.get("cost") or {}).get("min"), what=f"{symbol} limits.cost.min"),
        maker_fee=ccxt_decimal(market.get("maker"), what=f"{symbol} maker") or Decimal(0),
        taker_fee=ccxt_decimal(market.get("taker"), what=f"{symbol} taker") or Decimal(0),
    )


def markets_from_ccxt(markets: Iterable[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]], *,
                      precision_mode: int = TICK_SIZE, spot_only: bool = True) -> dict[str, Market]:
    """Every (spot) market of a ccxt market table, keyed by symbol."""
    values = markets.values() if isinstance(markets, Mapping) else markets
    out: dict[str, Market] = {}
    for market in values:
        if spot_only and not market.get("spot", True):
            continue
        out[market["symbol"]] = market_from_ccxt(market, precision_mode=precision_mode)
    return out


def load_fixture(path: str | Path) -> list[dict[str, Any]]:
    """The raw ccxt market dicts of a JSON fixture (for ``set_markets``)."""
    from taxreport.importers.base import read_text

    path = Path(path)
    text = read_text(path)  # unreadable or not UTF-8: InputError naming the file (and the byte)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"cannot read market table: {exc}", file=str(path)) from None
    if isinstance(data, dict):
        data = list(data.values())
    if not isinstance(data, list) or not all(isinstance(m, dict) and "symbol" in m for m in data):
        raise InputError("expected a JSON list of ccxt market objects with a 'symbol'", file=str(path))
    return data


def markets_from_fixture(path: str | Path) -> dict[str, Market]:
    """Markets of a JSON fixture of ccxt market dicts, keyed by symbol."""
    try:
        return markets_from_ccxt(load_fixture(path))
    except (KeyError, ValueError) as exc:
        raise InputError(f"bad market: {exc}", file=str(path)) from None


def default_markets() -> dict[str, Market]:
    """The bundled OKX spot market table (paper exchange, demo, `rebalance plan --paper`)."""
    return markets_from_fixture(DATA_FILE)
