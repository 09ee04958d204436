"""Pure domain model: money, assets, ledger events and the legs they imply. No I/O here."""

from taxreport.model.money import (
    CENT,
    MONEY_CONTEXT,
    D,
    parse_decimal,
    quantize_money,
    decimal_str,
)
from taxreport.model.assets import FIAT, STABLECOINS, is_fiat, is_stablecoin, normalise_asset
from taxreport.model.events import (
    Deposit,
    Event,
    Income,
    Record,
    Reversal,
    Side,
    Trade,
    Transfer,
    Withdrawal,
    EVENT_TYPES,
)
from taxreport.model.codec import event_from_payload
from taxreport.model.legs import Leg, LegKind, legs_of, balances_of

__all__ = [
    "CENT", "MONEY_CONTEXT", "D", "parse_decimal", "quantize_money", "decimal_str",
    "FIAT", "STABLECOINS", "is_fiat", "is_stablecoin", "normalise_asset",
    "Deposit", "Event", "Income", "Record", "Reversal", "Side", "Trade", "Transfer", "Withdrawal",
    "event_from_payload", "EVENT_TYPES",
    "Leg", "LegKind", "legs_of", "balances_of",
]
