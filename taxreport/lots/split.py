"""Allocation of a disposal's amounts over its lots: the one place proceeds, fees and adjustments are
shared by quantity (:func:`allocate`; the last part takes the remainder, so parts add up exactly), used
to split one matched disposal into groups of its lots (short/long term, exempt/taxable:
:func:`split_disposal`) and by the per-lot report lines (Form 8949, the HMRC computation)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Hashable, Sequence

from taxreport.lots.pools import share
from taxreport.lots.types import LotMatch, MatchedDisposal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Part:
    key: Hashable
    lots: tuple[LotMatch, ...]
    quantity: Decimal
    proceeds: Decimal  # gross share
    fee: Decimal  # fee share
    cost: Decimal

    @property
    def net_proceeds(self) -> Decimal:
        return self.proceeds - self.fee


def allocate(total: Decimal, quantities: Sequence[Decimal]) -> list[Decimal]:
    """``total`` shared over ``quantities`` pro rata (:func:`~taxreport.lots.pools.share`); the last part
    is the remainder, so the parts add up to ``total`` exactly."""
    whole = sum(quantities, ZERO)
    out: list[Decimal] = []
    left = total
    for i, q in enumerate(quantities):
        part = left if i == len(quantities) - 1 else share(total, q, whole)
        left -= part
        out.append(part)
    return out


def split_disposal(md: MatchedDisposal, key: Callable[[LotMatch], Hashable]) -> list[Part]:
    d = md.disposal
    groups: dict[Hashable, list[LotMatch]] = {}
    for lm in md.lots:
        groups.setdefault(key(lm), []).append(lm)
    if len(groups) <= 1:
        k = next(iter(groups)) if groups else None
        lots = md.lots
        return [Part(k, lots, d.quantity, d.proceeds, d.fee, sum((m.cost for m in lots), ZERO))]
    items = list(groups.items())
    qs = [sum((m.quantity for m in lots), ZERO) for _, lots in items]
    proceeds, fees = allocate(d.proceeds, qs), allocate(d.fee, qs)
    return [Part(k, tuple(lots), q, p, f, sum((m.cost for m in lots), ZERO))
            for (k, lots), q, p, f in zip(items, qs, proceeds, fees)]
