"""Asset symbols: normalisation, and which symbols are fiat or stablecoins.

Stablecoins are crypto assets with their own lots (a USDT balance has a cost basis and selling it is
a disposal); only fiat currencies are treated as money without lots.
"""

from __future__ import annotations

import re

FIAT: frozenset[str] = frozenset(
    {"USD", "EUR", "GBP", "AUD", "CAD", "CHF", "JPY", "SGD", "HKD", "NZD", "SEK", "NOK", "DKK",
     "PLN", "CZK", "TRY", "BRL", "AED", "KRW", "INR", "ZAR", "MXN"}
)
STABLECOINS: frozenset[str] = frozenset({"USDT", "USDC", "DAI", "TUSD", "FDUSD", "PYUSD", "USDP", "EURC"})

_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,19}$")


_NORMAL: dict[str, str] = {}  # symbols already seen -> their normal form (a history has a few dozen)


def normalise_asset(symbol: str, *, what: str = "asset") -> str:
    """Upper-case and validate an asset symbol (``btc`` -> ``BTC``); raise ``ValueError`` if odd."""
    known = _NORMAL.get(symbol) if type(symbol) is str else None
    if known is not None:
        return known
    text = (symbol or "").strip().upper()
    if not _SYMBOL.match(text):
        raise ValueError(f"{what}: {symbol!r} is not an asset symbol")
    if type(symbol) is str and len(_NORMAL) < 100_000:
        _NORMAL[symbol] = text = symbol if text == symbol else text  # the same object when already normal
    return text


def is_fiat(asset: str) -> bool:
    return asset in FIAT


def is_stablecoin(asset: str) -> bool:
    return asset in STABLECOINS
