"""Shared builders for the tax-audit worked examples (tests/test_tax_audit_*.py)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from taxreport.model.events import Trade, Transfer
from taxreport.prices.rates import RateTable

D = Decimal
UTC = timezone.utc
CENT = D("0.01")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def trade(when: str, side: str, base: str, quote: str, qty: str, price: str, tid: str, account: str = "A",
          fee: str = "0", fee_asset: str | None = None) -> Trade:
    return Trade(time=at(when), source="audit", external_id=tid, account=account, side=side, base=base,
                 quote=quote, quantity=D(qty), price=D(price), fee=D(fee), fee_asset=fee_asset)


def transfer(when: str, src: str, dst: str, asset: str, qty: str, tid: str, fee: str = "0") -> Transfer:
    return Transfer(time=at(when), source="audit", external_id=tid, from_account=src, to_account=dst,
                    asset=asset, quantity=D(qty), fee=D(fee))


def rates(*rows: tuple[str, str, str, str]) -> RateTable:
    """``(base, quote, iso time, rate)`` rows."""
    return RateTable.from_rows((b, q, at(t), D(r), "audit") for b, q, t, r in rows)


def cents(x: Decimal) -> Decimal:
    from taxreport.model.money import quantize_money

    return quantize_money(x)
