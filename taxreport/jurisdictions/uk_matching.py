"""UK share-matching for cryptoassets held by an individual: same day, next 30 days, Section 104 pool.

Pure functions over valued movements (:mod:`taxreport.lots.types`), used by :mod:`.uk`.

Rules and sources (HMRC Cryptoassets Manual, CRYPTO22200 onward; TCGA 1992 s104, s105, s106A):

1. **Same day** (TCGA92 s105(1), CRYPTO22200): all acquisitions of a token on one day are treated as a
   single acquisition and all disposals on one day as a single disposal; they are matched first.
2. **Next 30 days** (TCGA92 s106A(5), CRYPTO22200): what is left of a disposal is matched with
   acquisitions of the same token in the 30 days *after* the disposal day, earliest acquisition first;
   an earlier disposal takes its matches before a later one (CRYPTO22253, CRYPTO22256).
3. **Section 104 pool** (TCGA92 s104): everything else is pooled at average cost. Acquisitions that the
   first two rules do not use go into the pool on their own day (CRYPTO22252, CRYPTO22253).

Worked examples reproduced in ``tests/test_uk_hmrc_examples.py``: CRYPTO22251-22256
(https://www.gov.uk/hmrc-internal-manuals/cryptoassets-manual/crypto22250).

Choices made here (documented in README.md, "Capital gains: United Kingdom, Canada, Australia"):

* "Day" is the **UK local date** (Europe/London): an event at 2024-04-05T23:30Z is on 6 April (BST).
* Pooling is **per token across all the person's accounts** (HMRC pools per token for the individual);
  a transfer between the person's own accounts (:class:`~taxreport.lots.types.Move`) changes nothing.
* The acquisition date of an acquisition is ``date_acquired`` (the original date of a deposit with
  known basis).
* The same-day group of disposals is reported as **one** disposal (that is how HMRC computes it and how
  SA108 counts disposals); the UK detail's ``event_keys`` (:class:`taxreport.jurisdictions.uk.UkDetail`) lists every ledger event
  in the group.
* The 30-day rule's exception for tokens acquired while not UK resident is not modelled.
* Amounts are exact Decimals; HMRC's examples round to whole pounds, we round only when presenting.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Iterable
from zoneinfo import ZoneInfo

from taxreport.errors import MissingDataError
from taxreport.lots.pools import AveragePool
from taxreport.lots.types import Acquisition, Disposal, LotMatch, Movement

ZERO = Decimal(0)
THIRTY_DAYS = timedelta(days=30)


@dataclass
class _AcqDay:
    day: date
    first_time: datetime
    refs: list[str] = field(default_factory=list)
    quantity: Decimal = ZERO
    cost: Decimal = ZERO
    # the units not yet used by the same-day / 30-day rules: the day's single acquisition is one average
    # (its units cost alike), so it is the one average-cost pool (lots.pools.AveragePool, unquantized as
    # the Section 104 pool), whose last units carry exactly the cost left: matched + pooled = acquired
    unused: AveragePool = field(default_factory=lambda: AveragePool(quantize=False))

    @property
    def remaining(self) -> Decimal:
        return self.unused.quantity

    def take(self, quantity: Decimal) -> Decimal:
        """Use ``quantity`` units (<= :attr:`remaining`) of this day's single acquisition; their cost."""
        return self.unused.take_units(quantity)[1]

    @property
    def ref(self) -> str:
        return ",".join(self.refs)


@dataclass
class _DispDay:
    day: date
    items: list[Disposal] = field(default_factory=list)
    quantity: Decimal = ZERO
    remaining: Decimal = ZERO  # not yet matched
    lots: list[LotMatch] = field(default_factory=list)
    pool_after: tuple[Decimal, Decimal] = (ZERO, ZERO)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class UkDisposal:
    """One same-day group of disposals of one token, matched."""

    asset: str
    day: date
    items: tuple[Disposal, ...]
    quantity: Decimal
    lots: tuple[LotMatch, ...]
    pool_quantity_after: Decimal
    pool_cost_after: Decimal
    notes: tuple[str, ...]


@dataclass(frozen=True)
class PoolState:
    asset: str
    day: date  # the pool as it stood at the end of this local day
    quantity: Decimal
    cost: Decimal


def match_uk(movements: Iterable[Movement], *, tz: str = "Europe/London",
             zero_cost_assets: Iterable[str] = ()) -> tuple[list[UkDisposal], list[PoolState]]:
    """Match every disposal in ``movements`` (all years) by the UK rules.

    ``movements`` are the person's acquisitions and disposals (see
    :func:`taxreport.jurisdictions.engine.person_level`; moves are ignored here). Returns the matched same-day disposal groups in date order (then token) and the
    history of every token's Section 104 pool (one entry per day on which it changed). Selling more
    than is held raises :class:`MissingDataError` naming the disposal and the shortfall, unless the
    token is in ``zero_cost_assets`` (then the missing units get a zero cost and the disposal says so).
    """
    zero_cost = {a.upper() for a in zero_cost_assets}
    acq_by_asset: dict[str, dict[date, _AcqDay]] = {}
    disp_by_asset: dict[str, dict[date, _DispDay]] = {}
    zone = ZoneInfo(tz)  # local_date(moment, tz), with the zone looked up once
    for m in movements:
        if isinstance(m, Acquisition):
            when = m.date_acquired
            day = when.astimezone(zone).date()
            days = acq_by_asset.get(m.asset)
            if days is None:
                days = acq_by_asset[m.asset] = {}
            a = days.get(day)
            if a is None:
                a = days[day] = _AcqDay(day=day, first_time=when)
            elif when < a.first_time:
                a.first_time = when
            a.refs.append(f"{m.event_key}#{m.leg_index}")
            a.quantity += m.quantity
            a.cost += m.cost
        elif isinstance(m, Disposal):
            if m.quantity <= 0:
                raise MissingDataError(f"disposal {m.event_key}#{m.leg_index}: quantity {m.quantity} is not positive")
            day = m.time.astimezone(zone).date()
            days_d = disp_by_asset.get(m.asset)
            if days_d is None:
                days_d = disp_by_asset[m.asset] = {}
            d = days_d.get(day)
            if d is None:
                d = days_d[day] = _DispDay(day=day)
            d.items.append(m)
            d.quantity += m.quantity
        # Move: units stay with the same person; pools are per person, so nothing changes.
    groups: list[UkDisposal] = []
    history: list[PoolState] = []
    for asset in sorted(set(acq_by_asset) | set(disp_by_asset)):
        g, h = _match_asset(asset, acq_by_asset.get(asset, {}), disp_by_asset.get(asset, {}),
                            asset in zero_cost)
        groups.extend(g)
        history.extend(h)
    groups.sort(key=lambda g: (g.day, g.items[0].time, g.asset))
    return groups, history


def _match_asset(asset: str, acqs: dict[date, _AcqDay], disps: dict[date, _DispDay],
                 zero_cost: bool) -> tuple[list[UkDisposal], list[PoolState]]:
    for a in acqs.values():
        a.unused = AveragePool(quantize=False)
        a.unused.add_units(a.quantity, a.cost)
    for d in disps.values():
        d.remaining = d.quantity

    # 1. Same day (s105): the day's single disposal against the day's single acquisition.
    for day, d in disps.items():
        same = acqs.get(day)
        if same is not None and same.remaining > 0:
            a = same
            q = min(d.remaining, a.remaining)
            d.lots.append(LotMatch(quantity=q, cost=a.take(q), acquired_at=a.first_time, account=None,
                                   lot_ref=a.ref, rule="same-day"))
            d.remaining -= q

    # 2. Next 30 days (s106A): earlier disposals first, each against the earliest acquisitions.
    acq_days = sorted(acqs)
    for day in sorted(disps):
        d = disps[day]
        if d.remaining <= 0:
            continue
        last = day + THIRTY_DAYS
        i = bisect_right(acq_days, day)
        while d.remaining > 0 and i < len(acq_days) and acq_days[i] <= last:
            a = acqs[acq_days[i]]
            if a.remaining > 0:
                q = min(d.remaining, a.remaining)
                d.lots.append(LotMatch(quantity=q, cost=a.take(q), acquired_at=a.first_time, account=None,
                                       lot_ref=a.ref, rule="30-day"))
                d.remaining -= q
            i += 1

    # 3. Section 104 pool, day by day. After the same-day rule a day cannot have both an unmatched
    #    acquisition and an unmatched disposal, so the order inside a day does not matter.
    pool = AveragePool(quantize=False)
    history: list[PoolState] = []
    for day in sorted(set(acqs) | set(disps)):
        changed = False
        acq = acqs.get(day)
        if acq is not None and acq.remaining > 0:
            pool.add_units(*acq.unused.take_units(acq.remaining))  # what the day did not match, pooled
            changed = True
        disp = disps.get(day)
        if disp is not None:
            if disp.remaining > 0:
                take, cost = pool.take_units(disp.remaining)
                if take > 0:
                    disp.lots.append(LotMatch(quantity=take, cost=cost, acquired_at=None, account=None,
                                              lot_ref=None, rule="s104"))
                    changed = True
                short = disp.remaining - take
                if short > 0:
                    if not zero_cost:
                        first = disp.items[0]
                        raise MissingDataError(
                            f"{asset}: disposal {first.event_key}#{first.leg_index} on {day.isoformat()} "
                            f"sells {disp.quantity} but only {disp.quantity - short} can be matched "
                            f"(shortfall {short}); import the missing acquisitions or allow acq zero cost "
                            f"basis for {asset}")
                    disp.lots.append(LotMatch(quantity=short, cost=ZERO, acquired_at=None, account=None,
                                           lot_ref=None, rule="zero-cost"))
                    disp.notes.append(f"{short} {asset} had no acquisition to match: zero cost basis "
                                   f"used because the user allowed it")
                disp.remaining = ZERO
            disp.pool_after = (pool.quantity, pool.cost)
        if changed:
            history.append(PoolState(asset=asset, day=day, quantity=pool.quantity, cost=pool.cost))

    groups = [
        UkDisposal(asset=asset, day=disp.day, items=tuple(sorted(disp.items, key=lambda x: x.time)),
                   quantity=disp.quantity, lots=tuple(disp.lots), pool_quantity_after=disp.pool_after[0],
                   pool_cost_after=disp.pool_after[1], notes=tuple(disp.notes))
        for disp in disps.values()
    ]
    return groups, history

