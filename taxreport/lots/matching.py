"""Lot matching: valued movements in, matched disposals and open lots out. No gain arithmetic here
(see the jurisdiction modules) and no I/O.

:func:`match_lots` walks the movements in time order and keeps one pool per (pool key, asset):

* the pool key is the **account** (``scope="account"``, the default; US rules require per-wallet /
  per-account tracking from 1 Jan 2025, Rev. Proc. 2024-28) or one **universal** pool for every account
  (``scope="universal"``, e.g. for years before 2025). With ``universal_until`` (a UTC moment, e.g.
  1 Jan 2025 00:00 local time) the pool is universal before that moment and per account from it on:
  at the moment, the universal pool's lots are allocated to the accounts that actually hold the units,
  **oldest lots first, accounts in alphabetical order**, each account receiving exactly its balance
  (a standing "global allocation" rule in the sense of Rev. Proc. 2024-28 §5; the notes state it);
* the **outside** pool holds lots withdrawn to the user's own wallets (:class:`Move` with
  ``to_account=None``); a later deposit without cost basis (``from_account=None``) draws from it (FIFO);
* a :class:`Move` between own accounts takes lots from the source pool in **FIFO** order (or the
  method's order with ``move_order="method"``) and adds them, with their original dates and cost, to the
  destination pool.

Disposals take lots with the method's taker (:data:`taxreport.lots.pools.TAKERS`). ``specific``
identification takes the lots named for that disposal in ``selections`` (disposal ref -> list of
``(lot ref, quantity or None)``; a ref is ``"event_key#leg_index"``) and falls back to FIFO for
disposals with no selection (IRS virtual-currency FAQ Q41: units not specifically identified are
deemed sold first-in, first-out).

Selling or moving more than is held is an **error** naming the movement and the shortfall, collected
for all movements and raised once (:class:`~taxreport.errors.MissingDataError`), unless the asset is in
``zero_cost_assets``: then the missing units get a zero-cost lot dated at the movement (rule
``zero-cost``) and a note says so.

The notes that count (the zero cost assumed per asset, the disposals ``specific`` matched FIFO) count the
movements of the period reported: from ``since`` (:func:`match_lots`; ``starts`` of :func:`match_lots_at`, a tax
year's start) up to ``until``, never those of earlier years, which the matching still reads for the lots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import islice
from operator import le
from typing import Callable, Iterable, Mapping, Sequence

from taxreport.errors import InputError, MissingDataError
from taxreport.lots.pools import POOL_CLASSES, TAKERS, Lot, Pool, take_fifo, take_named
from taxreport.lots.types import (Acquisition, Disposal, MatchedDisposal, Move, Movement, OpenLot, make_lot_match,
                                  make_matched_disposal)
from taxreport.model.money import decimal_str

ZERO = Decimal(0)
METHODS = ("fifo", "lifo", "hifo", "specific", "average")
OUTSIDE = "<outside>"
UNIVERSAL = "<all accounts>"

Selections = Mapping[str, Sequence[tuple[str, Decimal | None]]]


@dataclass
class MatchResult:
    disposals: list[MatchedDisposal]
    open_lots: list[OpenLot]
    notes: list[str] = field(default_factory=list)


def ref_of(m: Acquisition | Disposal | Move) -> str:
    return f"{m.event_key}#{m.leg_index}"


def match_lots(movements: Iterable[Movement], *, method: str = "fifo", scope: str = "account",
               zero_cost_assets: Iterable[str] = (), selections: Selections | None = None,
               until: datetime | None = None, move_order: str = "fifo",
               universal_until: datetime | None = None, sort: bool = True,
               state: MatchState | None = None, noted_accounts: frozenset[str] | None = None,
               since: datetime | None = None) -> MatchResult:
    """Match every disposal among ``movements`` (all years) with time ``< until`` (if given).

    ``since`` (optional, a UTC moment, e.g. the tax year's start): the notes count only the movements at or
    after it (the zero cost assumed, the disposals matched FIFO by ``specific``: see the module docstring); the
    disposals, open lots and problems are the same with or without it (None: the notes count every movement).

    ``state`` (optional, :class:`MatchState`): start from the pools left by an earlier call over the movements
    before these (none of these earlier than those) instead of empty pools, and leave the pools at the end in
    it (resumable matching, see :class:`MatchState`). ``noted_accounts``: the accounts whose disposals the
    specific-identification note counts (the accounts reported, ``--account``; None: every account)."""
    cut = match_lots_at(movements, ends=None if until is None else (until,), method=method, scope=scope,
                        zero_cost_assets=zero_cost_assets, selections=selections, move_order=move_order,
                        universal_until=universal_until, sort=sort, state=state, noted_accounts=noted_accounts,
                        starts=(since,))[0]
    problems = cut.problems + [f"specific identification names disposal {dref}, which is not in the ledger "
                               "(or not a disposal)" for dref in cut.unused_selections]
    if problems:
        shown = problems[:200]
        more = f"\n  … and {len(problems) - 200} more" if len(problems) > 200 else ""
        raise MissingDataError(f"{len(problems)} lot matching problem(s) (selling or moving more than is "
                               "held is never given a zero cost silently):\n  " + "\n  ".join(shown) + more)
    return cut.result


@dataclass
class Cut:
    """The matching as it stands at one moment (:func:`match_lots_at`): what :func:`match_lots` with
    ``until`` at that moment (and ``since`` at the cut's start) returns, or the problems it raises."""

    result: MatchResult  # the disposals before the moment, the open lots at it, the notes of the cut's movements
    problems: list[str]  # selling or moving more than is held, before the moment
    unused_selections: list[str]  # selections naming no disposal before the moment (sorted)


def fallback_note(fallback: Mapping[str, int]) -> str:
    """The note on the disposals that method ``specific`` matched FIFO because no lots were named for them (IRS FAQ
    Q41), counted per asset (most first, then by name): a basket bot names the lots of its crypto sells, but each buy
    it pays in USDT is a USDT disposal nobody names lots for, and one total would hide which assets were not
    identified."""
    per_asset = ", ".join(f"{asset} {n}" for asset, n in sorted(fallback.items(), key=lambda kv: (-kv[1], kv[0])))
    return (f"specific identification: {sum(fallback.values())} disposal(s) had no named lots and were matched FIFO: "
            f"{per_asset}")


def in_time_order(times: Sequence[datetime]) -> bool:
    """Whether each of ``times`` is at or before the next (one pass at C speed; the matching and the every-year pass
    of :mod:`taxreport.gains` take a ledger's usual time order from it)."""
    return all(map(le, times, islice(times, 1, None)))


def match_lots_at(movements: Iterable[Movement], *, ends: Sequence[datetime] | None, method: str = "fifo",
                  scope: str = "account", zero_cost_assets: Iterable[str] = (), selections: Selections | None = None,
                  move_order: str = "fifo", universal_until: datetime | None = None, sort: bool = True,
                  state: MatchState | None = None, noted_accounts: frozenset[str] | None = None,
                  starts: Sequence[datetime | None] | None = None) -> list[Cut]:
    """One matching pass, cut at each of ``ends`` (ascending UTC moments; None: one cut after the last
    movement): cut *i* is exactly what :func:`match_lots` with ``until=ends[i]`` and ``since=starts[i]``
    computes (the same disposals, open lots, notes and problems), because matching only ever looks back.
    ``starts`` (one per cut, each at or before its end and at or after the previous one; None, or a None
    item: from the first movement): cut *i*'s notes count the movements from ``starts[i]`` to ``ends[i]``
    (a tax year's own). Several tax years are matched in one pass this way
    (:meth:`taxreport.jurisdictions.engine.Jurisdiction.compute_years`).
    ``state``, ``noted_accounts``: as :func:`match_lots` (the pools and count are left as they stand after the last
    movement matched)."""
    if state is not None and universal_until is not None:
        raise InputError("a resumed matching cannot switch from a universal pool (universal_until)",
                         field="universal_until")
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; known: {', '.join(METHODS)}", field="--method")
    if scope not in ("account", "universal"):
        raise InputError(f"scope must be 'account' or 'universal', not {scope!r}", field="scope")
    n_cuts = 1 if ends is None else len(ends)
    froms: list[datetime | None] = [None] * n_cuts if starts is None else list(starts)
    if len(froms) != n_cuts:
        raise InputError(f"{len(froms)} start(s) for {n_cuts} cut(s)", field="starts")
    previous: datetime | None = None
    for i, start in enumerate(froms):
        if start is None and previous is None:
            continue
        if start is None or (previous is not None and start < previous) or (ends is not None and start > ends[i]):
            raise InputError("each start must be at or before its end and at or after the previous start",
                             field="starts")
        previous = start
    items = list(movements)
    if sort and not in_time_order([m.time for m in items]):
        items.sort(key=lambda m: m.time)  # stable: ledger order within one moment
    zero_ok = frozenset(zero_cost_assets)
    selections = selections or {}
    unused_selections = set(selections)
    pool_cls = POOL_CLASSES.get(method, Pool)
    hifo = method == "hifo"
    specific = method == "specific"
    taker = TAKERS["fifo" if method == "specific" else method]
    mover = taker if move_order == "method" else (TAKERS["average"] if method == "average" else take_fifo)
    pools: dict[tuple[str, str], Pool] = state.pools if state is not None else {}
    universal = scope == "universal"
    if universal_until is not None and not universal:
        raise InputError("universal_until needs scope 'universal'", field="universal_until")
    balances: dict[tuple[str, str], Decimal] = {}  # actual units per (account, asset), while universal
    track = universal_until is not None
    problems: list[str] = []
    tallies = [_Tally() for _ in range(n_cuts)]  # per cut: what its notes count, from its start
    counting: list[_Tally] = []  # the tallies of the cuts whose start is passed and which are not yet made
    opened = 0  # the cuts whose start is passed
    while opened < n_cuts and froms[opened] is None:  # from the first movement
        counting.append(tallies[opened])
        opened += 1
    open_at = froms[opened] if opened < n_cuts else None  # the next start
    out: list[MatchedDisposal] = []
    seq = state.seq if state is not None else 0
    cuts: list[Cut] = []
    stops = list(ends) if ends is not None else []
    next_stop = stops[0] if stops else None

    def pool(key: str, asset: str) -> Pool:
        p = pools.get((key, asset))
        if p is None:
            p = pools[(key, asset)] = pool_cls(hifo)
        return p

    def shortfall(what: str, asset: str, need: Decimal, time: datetime, account: str | None,
                  parts: list) -> None:
        if asset in zero_ok:
            for t in counting:
                t.zero_cost[asset] = t.zero_cost.get(asset, ZERO) + need
            parts.append((Lot(None, account, time, need, ZERO, -1), need, ZERO))
        else:
            problems.append(f"{what}: short by {decimal_str(need)} {asset}")

    def cut(until: datetime | None) -> None:
        nonlocal track, universal, opened, open_at
        if opened <= len(cuts):  # a start after every movement matched: nothing counted
            counting.extend(tallies[opened:len(cuts) + 1])
            opened = len(cuts) + 1
            open_at = froms[opened] if opened < n_cuts else None
        tally = tallies[len(cuts)]
        counting.remove(tally)
        if track and universal_until is not None and (until is None or until > universal_until):
            _allocate(pools, balances, pool)  # the transition falls in the matched period, after the last movement
            track = universal = False
        notes = []
        if universal_until is not None:
            notes.append(f"one universal lot pool until {universal_until.isoformat()}, per account from then on; "
                         "lots allocated to accounts oldest first, accounts in alphabetical order (Rev. Proc. 2024-28)")
        for asset, qty in sorted(tally.zero_cost.items()):
            notes.append(f"zero cost basis assumed, as asked, for {decimal_str(qty)} {asset} sold or moved "
                         "without known lots")
        if tally.fallback:
            notes.append(fallback_note(tally.fallback))
        open_lots = []
        for (key, asset), p in sorted(pools.items()):
            for lot in p.open_lots():
                open_lots.append(OpenLot(None if key == UNIVERSAL else (None if key == OUTSIDE else lot.account),
                                         asset, lot.quantity, lot.cost, lot.acquired, lot.ref,
                                         {"pool": key}))
        cuts.append(Cut(MatchResult(out[:] if stops else out, open_lots, notes), problems[:],
                        sorted(unused_selections)))

    for m in items:
        if open_at is not None and m.time >= open_at:
            while open_at is not None and m.time >= open_at:
                counting.append(tallies[opened])
                opened += 1
                open_at = froms[opened] if opened < n_cuts else None
        if next_stop is not None and m.time >= next_stop:
            while next_stop is not None and m.time >= next_stop:
                cut(next_stop)
                stops.pop(0)
                next_stop = stops[0] if stops else None
            if next_stop is None:
                break
        seq += 1
        if track:
            if universal_until is not None and m.time >= universal_until:
                _allocate(pools, balances, pool)
                track = universal = False
            else:
                _track(balances, m)
        if type(m) is Acquisition:
            key = UNIVERSAL if universal else m.account
            p = pools.get((key, m.asset))
            if p is None:
                p = pool(key, m.asset)
            p.add(Lot(f"{m.event_key}#{m.leg_index}", m.account, m.acquired_at or m.time, m.quantity, m.cost, seq))
        elif type(m) is Disposal:
            key = UNIVERSAL if universal else m.account
            p = pools.get((key, m.asset))
            if p is None:
                p = pool(key, m.asset)
            rule = method
            if specific:
                dref = ref_of(m)
                chosen = selections.get(dref)
            else:
                chosen = None
            if chosen is not None:
                unused_selections.discard(dref)
                parts = []
                need = m.quantity
                for lot_ref, qty in chosen:
                    if qty is not None and qty > need:
                        problems.append(f"disposal {dref} ({decimal_str(m.quantity)} {m.asset}): the named lots "
                                        f"add up to more than it (at lot {lot_ref})")
                    want = need if qty is None else min(qty, need)
                    got = take_named(p, lot_ref, want)
                    got_q = sum((g[1] for g in got), ZERO)
                    if got_q < want and (qty is not None or got_q == 0):
                        problems.append(f"disposal {dref}: lot {lot_ref} has only {decimal_str(got_q)} "
                                        f"{m.asset} left in {key} (asked for {decimal_str(want)})")
                    parts.extend(got)
                    need -= got_q
                if need > 0:
                    problems.append(f"disposal {dref} ({decimal_str(m.quantity)} {m.asset}): the named lots "
                                    f"cover only {decimal_str(m.quantity - need)}")
            else:
                if specific and (noted_accounts is None or m.account in noted_accounts):
                    for t in counting:
                        t.fallback[m.asset] = t.fallback.get(m.asset, 0) + 1
                    rule = "fifo"
                parts = taker(p, m.quantity)
                if len(parts) == 1:
                    lot, q, c = parts[0]
                    need = m.quantity - q
                    if need <= 0:  # the usual sale: one lot, matched in full
                        out.append(make_matched_disposal(m, (make_lot_match(
                            q, c, lot.acquired, lot.account, lot.ref, "zero-cost" if lot.seq == -1 else rule),)))
                        continue
                else:
                    taken = ZERO
                    for part in parts:  # sum(quantities, ZERO), in order
                        taken += part[1]
                    need = m.quantity - taken
                if need > 0:
                    shortfall(f"disposal {ref_of(m)} at {m.time.isoformat()} in {m.account} "
                              f"({decimal_str(m.quantity)} {m.asset})", m.asset, need, m.time, m.account, parts)
            if len(parts) == 1:
                lot, q, c = parts[0]
                out.append(make_matched_disposal(m, (make_lot_match(q, c, lot.acquired, lot.account, lot.ref,
                                                                    "zero-cost" if lot.seq == -1 else rule),)))
            else:
                out.append(make_matched_disposal(m, tuple([
                    make_lot_match(q, c, lot.acquired, lot.account, lot.ref, "zero-cost" if lot.seq == -1 else rule)
                    for lot, q, c in parts])))
        elif type(m) is Move:
            src = OUTSIDE if m.from_account is None else (UNIVERSAL if universal else m.from_account)
            dst = OUTSIDE if m.to_account is None else (UNIVERSAL if universal else m.to_account)
            if src == dst:
                continue
            parts = mover(pool(src, m.asset), m.quantity)
            need = m.quantity - sum((q for _, q, _ in parts), ZERO)
            if need > 0:
                what = (f"deposit {ref_of(m)} without cost basis into {m.to_account}" if m.from_account is None
                        else f"move {ref_of(m)} from {m.from_account}")
                shortfall(f"{what} at {m.time.isoformat()} ({decimal_str(m.quantity)} {m.asset}; give the "
                          "deposit its cost and acquired_at, or allow zero cost basis)" if m.from_account is None
                          else f"{what} at {m.time.isoformat()} ({decimal_str(m.quantity)} {m.asset})",
                          m.asset, need, m.time, m.to_account, parts)
            target = pool(dst, m.asset)
            for lot, q, c in parts:
                acct = m.to_account if m.to_account is not None else lot.account
                target.add(Lot(lot.ref, acct, lot.acquired, q, c, lot.seq if lot.seq >= 0 else seq))
        else:  # pragma: no cover - contract violation
            raise TypeError(f"not a movement: {m!r}")

    if state is not None:
        state.seq = seq
    if ends is None:
        cut(None)
    while stops:  # the moments after the last movement
        cut(stops.pop(0))
    return cuts


@dataclass(eq=False)
class _Tally:
    """What one cut's notes count, from its start: the zero cost assumed per asset, the disposals per asset that
    method ``specific`` matched FIFO (no named lots, in the noted accounts)."""

    zero_cost: dict[str, Decimal] = field(default_factory=dict)
    fallback: dict[str, int] = field(default_factory=dict)


def _track(balances: dict[tuple[str, str], Decimal], m: Movement) -> None:
    if type(m) is Acquisition:
        balances[(m.account, m.asset)] = balances.get((m.account, m.asset), ZERO) + m.quantity
    elif type(m) is Disposal:
        balances[(m.account, m.asset)] = balances.get((m.account, m.asset), ZERO) - m.quantity
    elif type(m) is Move:
        if m.from_account is not None:
            balances[(m.from_account, m.asset)] = balances.get((m.from_account, m.asset), ZERO) - m.quantity
        if m.to_account is not None:
            balances[(m.to_account, m.asset)] = balances.get((m.to_account, m.asset), ZERO) + m.quantity


def _allocate(pools: dict[tuple[str, str], Pool], balances: dict[tuple[str, str], Decimal],
              pool: Callable[[str, str], Pool]) -> None:
    """Split every universal pool into per-account pools (rule in the module docstring)."""
    for (key, asset), universal_pool in sorted(pools.items()):
        if key != UNIVERSAL:
            continue
        del pools[(key, asset)]
        holders = sorted((acct, qty) for (acct, a), qty in balances.items() if a == asset and qty > 0)
        for acct, qty in holders:
            target = pool(acct, asset)
            for lot, q, c in take_fifo(universal_pool, qty) if isinstance(universal_pool, Pool) else \
                    TAKERS["average"](universal_pool, qty):
                target.add(Lot(lot.ref, acct, lot.acquired, q, c, lot.seq))


@dataclass
class MatchState:
    """The matching's state after a prefix of the movements: the pools (open lots per pool and asset) and the
    count of movements matched (each lot's arrival order). :func:`match_lots` with ``state=`` starts from it and
    leaves the pools at the end in it, so matching the movements in two calls (the second's none earlier than
    the first's) gives the same disposals and open lots as one call over all of them. Used by the rebalancer's
    tax preview to resume at the last event it has seen (:mod:`taxreport.rebalance.tax_resume`)."""

    pools: dict[tuple[str, str], Pool] = field(default_factory=dict)
    seq: int = 0

    def copy(self) -> "MatchState":
        """An independent copy (matching more movements from it leaves this one as it is), holding only what
        can still be matched: the lots already used up are left out (every taker skips them), so a copy costs
        the open lots, not the history."""
        return MatchState({k: _pool_copy(p) for k, p in self.pools.items()}, self.seq)


def _pool_copy(pool: Pool) -> Pool:
    """A copy of ``pool`` without its used-up lots (a lot with no date is kept: :meth:`Pool.add` reads it)."""
    import heapq
    from copy import copy

    if not isinstance(pool, Pool):  # an average pool: quantity and cost
        return copy(pool)
    out = Pool(pool.heap is not None)
    fresh: dict[int, Lot] = {}
    for lot in pool.lots[pool.head:]:
        if lot.quantity > 0 or lot.acquired is None:
            fresh[id(lot)] = Lot(lot.ref, lot.account, lot.acquired, lot.quantity, lot.cost, lot.seq)
    out.lots = list(fresh.values())
    out.quantity = pool.quantity
    out.added = pool.added  # the HIFO tie-break of the lots added after the copy continues the count
    if pool.heap is not None:  # same keys (the same tie-breaks): the same order of taking
        out.heap = [(*entry[:4], fresh[id(entry[4])]) for entry in pool.heap if id(entry[4]) in fresh]
        heapq.heapify(out.heap)
    return out
