"""Split one matched disposal into groups of its lots (e.g. short/long term, exempt/taxable), with
the disposal's proceeds and fee shared by quantity. The last group takes the remainder, so the
groups' proceeds and fees add up exactly to the disposal's."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Hashable

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


def split_disposal(md: MatchedDisposal, key: Callable[[LotMatch], Hashable]) -> list[Part]:
    d = md.disposal
    groups: dict[Hashable, list[LotMatch]] = {}
    for lm in md.lots:
        groups.setdefault(key(lm), []).append(lm)
    if len(groups) <= 1:
        k = next(iter(groups)) if groups else None
        lots = md.lots
        return [Part(k, lots, d.quantity, d.proceeds, d.fee, sum((m.cost for m in lots), ZERO))]
    parts: list[Part] = []
    left_p, left_f = d.proceeds, d.fee
    items = list(groups.items())
    for i, (k, lots) in enumerate(items):
        q = sum((m.quantity for m in lots), ZERO)
        if i == len(items) - 1:
            p, f = left_p, left_f
        else:
            p = share(d.proceeds, q, d.quantity)
            f = share(d.fee, q, d.quantity)
            left_p -= p
            left_f -= f
        parts.append(Part(k, tuple(lots), q, p, f, sum((m.cost for m in lots), ZERO)))
    return parts
