"""Holdings of one asset in one pool (an account, the universal pool or the outside wallet), and
the booking methods as small functions chosen from a table (:data:`TAKERS`).

A :class:`Pool` keeps its lots sorted by (date acquired, arrival order). The taker functions remove
``quantity`` units in the order of their method and return the parts taken as
``(lot, quantity, cost)``; a lot taken partly keeps its unit cost, and the cost of the part is
``cost * taken / held`` (:func:`share`) with the *remaining* cost obtained by subtraction, so that cost matched + cost
remaining == cost acquired exactly. A lot taken whole gives its exact remaining cost.

* ``fifo``: earliest acquired first (IRS default when units are not identified).
* ``lifo``: latest acquired first.
* ``hifo``: highest unit cost first (ties: earliest first); a heap with lazy deletion.
* ``average``: :class:`AveragePool`, one running quantity and cost; every unit costs the average.

Specific identification takes named lots first (:func:`take_named`).
"""

from __future__ import annotations

import heapq
from bisect import insort
from datetime import datetime
from decimal import Decimal
from typing import Callable

ZERO = Decimal(0)
Q20 = Decimal("1e-20")


def share(total: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """``total * part / whole``, quantized to ``total``'s own exponent or 1e-20, whichever is finer.

    Division rounds at 50 digits; quantizing the share to a fixed exponent makes ``total - share``
    exact, so shares always add back up to the total (cost matched + cost remaining == cost acquired).
    1e-20 of a currency unit is far below the cent, so presented amounts are unaffected.
    """
    exp = exponent(total)  # finite amounts only (never NaN/Infinity here)
    quantum = Q20 if exp >= -20 else Decimal(1).scaleb(exp)
    return (total * part / whole).quantize(quantum)


def exponent(value: Decimal) -> int:
    """``value.as_tuple().exponent`` of a finite Decimal, read from its text (``as_tuple`` builds a named tuple of
    every digit: several times slower). The text is ``[-]digits[.digits]`` (the exponent is minus the count of
    digits after the point) or ``[-]d[.digits]E<n>`` (``n`` minus that count); tests/test_pools_exponent.py
    compares both ways."""
    text = str(value)
    if "E" in text or "e" in text:  # (a context with capitals=0 writes a lower-case e)
        mantissa, _, power = text.upper().partition("E")
        return int(power) - len(mantissa.partition(".")[2])
    return -len(text.partition(".")[2])


class Lot:
    """A (remaining part of an) acquisition. Mutable inside a pool only."""

    __slots__ = ("ref", "account", "acquired", "quantity", "cost", "seq")

    def __init__(self, ref: str | None, account: str | None, acquired: datetime | None, quantity: Decimal,
                 cost: Decimal, seq: int) -> None:
        self.ref, self.account, self.acquired = ref, account, acquired
        self.quantity, self.cost, self.seq = quantity, cost, seq

    def sort_key(self) -> tuple:
        return (self.acquired, self.seq)

    def take(self, quantity: Decimal) -> Decimal:
        """Remove ``quantity`` (<= held) and return its cost."""
        if quantity >= self.quantity:
            cost = self.cost
            self.quantity, self.cost = ZERO, ZERO
            return cost
        cost = share(self.cost, quantity, self.quantity)
        self.quantity -= quantity
        self.cost -= cost
        return cost


Part = tuple[Lot, Decimal, Decimal]  # (lot, quantity taken, cost taken)


class Pool:
    """Lots of one asset in one pool."""

    __slots__ = ("lots", "head", "heap", "quantity", "added")

    def __init__(self, hifo: bool = False) -> None:
        self.lots: list[Lot] = []
        self.head = 0  # lots before ``head`` are empty
        self.heap: list | None = [] if hifo else None
        self.quantity = ZERO
        self.added = 0  # lots added so far: the HIFO tie-break

    def add(self, lot: Lot) -> None:
        lots = self.lots
        if not lots:
            lots.append(lot)
        elif (acquired := lot.acquired) is None or (last := lots[-1]).acquired is None or acquired > last.acquired \
                or (acquired == last.acquired and lot.seq >= last.seq):  # (acquired, seq) in order: at the end
            lots.append(lot)
        else:
            insort(lots, lot, lo=self.head, key=Lot.sort_key)
        if self.heap is not None:
            unit = lot.cost / lot.quantity if lot.quantity else ZERO
            # Equal unit cost, date and sequence (parts of one lot moved back and forth): the part added to this
            # pool first is taken first. (Before, the tie went by id(lot), a memory address: the same ledger
            # could be matched differently from one run to the next.)
            self.added += 1
            heapq.heappush(self.heap, (-unit, lot.acquired, lot.seq, self.added, lot))
        self.quantity += lot.quantity

    def open_lots(self) -> list[Lot]:
        return [lot for lot in self.lots[self.head:] if lot.quantity > 0]


def take_fifo(pool: Pool, quantity: Decimal) -> list[Part]:
    parts: list[Part] = []
    lots = pool.lots
    i = pool.head
    need = quantity
    n = len(lots)
    while need > 0 and i < n:  # Lot.take inlined (the hot loop of every FIFO matching)
        lot = lots[i]
        held = lot.quantity
        if held > 0:
            if need < held:
                cost = share(lot.cost, need, held)
                parts.append((lot, need, cost))
                lot.quantity = held - need
                lot.cost -= cost
                need -= need  # as Lot.take's caller did: nothing left to take
                break
            cost = lot.cost
            lot.quantity = lot.cost = ZERO
            parts.append((lot, held, cost))
            need -= held
            i += 1
        elif held == 0:
            i += 1
    pool.head = i
    if i > 4096 and i * 2 > len(lots):  # compact the consumed prefix now and then
        del lots[:i]
        pool.head = 0
    pool.quantity -= quantity - need
    return parts


def take_lifo(pool: Pool, quantity: Decimal) -> list[Part]:
    parts: list[Part] = []
    lots = pool.lots
    need = quantity
    while need > 0 and len(lots) > pool.head:
        lot = lots[-1]
        if lot.quantity > 0:
            q = need if need < lot.quantity else lot.quantity
            parts.append((lot, q, lot.take(q)))
            need -= q
        if lot.quantity == 0:
            lots.pop()
    pool.quantity -= quantity - need
    return parts


def take_hifo(pool: Pool, quantity: Decimal) -> list[Part]:
    heap = pool.heap
    if heap is None:
        raise ValueError("pool was not created for HIFO")
    parts: list[Part] = []
    need = quantity
    while need > 0 and heap:
        lot = heap[0][-1]
        if lot.quantity > 0:
            q = need if need < lot.quantity else lot.quantity
            parts.append((lot, q, lot.take(q)))
            need -= q
        if lot.quantity == 0:
            heapq.heappop(heap)
    pool.quantity -= quantity - need
    return parts


def take_named(pool: Pool, ref: str, quantity: Decimal) -> list[Part]:
    """Up to ``quantity`` from the lot(s) called ``ref`` in this pool (specific identification)."""
    parts: list[Part] = []
    need = quantity
    for lot in pool.lots[pool.head:]:
        if need <= 0:
            break
        if lot.ref == ref and lot.quantity > 0:
            q = need if need < lot.quantity else lot.quantity
            parts.append((lot, q, lot.take(q)))
            need -= q
    pool.quantity -= quantity - need
    return parts


class AveragePool:
    """Average cost: one quantity and one cost; every unit costs ``cost / quantity``. The one
    average-cost pool: the ``average`` method here, the UK Section 104 pool
    (:mod:`taxreport.jurisdictions.uk_matching`) and the Canadian ACB (:mod:`taxreport.jurisdictions.ca`).
    Units taken carry their share of the cost; the last units carry exactly what is left. The share is
    :func:`share` (quantized, so matched + remaining cost add up exactly) or, with ``quantize=False``,
    the plain 50-digit quotient the UK and Canadian computations have always used (their worked
    examples are tested to 1e-40)."""

    __slots__ = ("quantity", "cost", "seq", "quantize")

    def __init__(self, hifo: bool = False, *, quantize: bool = True) -> None:  # noqa: ARG002 - as Pool
        self.quantity = ZERO
        self.cost = ZERO
        self.seq = 0
        self.quantize = quantize

    def add(self, lot: Lot) -> None:
        self.add_units(lot.quantity, lot.cost)

    def add_units(self, quantity: Decimal, cost: Decimal) -> None:
        self.quantity += quantity
        self.cost += cost

    def add_cost(self, amount: Decimal) -> None:
        """More cost for the units held (CA: a denied superficial loss added to the ACB)."""
        self.cost += amount

    def take_units(self, quantity: Decimal) -> tuple[Decimal, Decimal]:
        """Take up to ``quantity`` units: ``(units taken, their cost)``."""
        q = quantity if quantity < self.quantity else self.quantity
        if q <= 0:
            return ZERO, ZERO
        if q == self.quantity:
            cost = self.cost
            self.quantity, self.cost = ZERO, ZERO
        else:
            cost = share(self.cost, q, self.quantity) if self.quantize else self.cost * q / self.quantity
            self.quantity -= q
            self.cost -= cost
        return q, cost

    def open_lots(self) -> list[Lot]:
        if self.quantity <= 0:
            return []
        return [Lot(None, None, None, self.quantity, self.cost, 0)]


def take_average(pool: AveragePool, quantity: Decimal) -> list[Part]:
    q, cost = pool.take_units(quantity)
    if q <= 0:
        return []
    return [(Lot(None, None, None, q, cost, 0), q, cost)]


TAKERS: dict[str, Callable] = {
    "fifo": take_fifo,
    "lifo": take_lifo,
    "hifo": take_hifo,
    "average": take_average,
}
POOL_CLASSES: dict[str, type] = {"average": AveragePool}
