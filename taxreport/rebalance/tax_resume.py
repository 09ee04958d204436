"""The rebalancer's tax preview resumed from the last event it has seen (issue #14: a check's cost flat in the
basket's age). A check previews its plans against the tax year before the plan (the REAL engine, see
:mod:`taxreport.rebalance.tax_preview`); run from the first event every time, that costs time in proportion to
the ledger. Here the engine's work is split at the events already seen:

* the **saved state** (:class:`EngineState`): for the countries that match lots one by one (US, DE, AU:
  :class:`~taxreport.jurisdictions.engine.LotRules`) the lot pools after every event seen (open lots per pool
  and asset, :class:`taxreport.lots.matching.MatchState`); for the UK (same day, 30 days, s104: TCGA92 s104,
  s105, s106A) a :class:`Window`: the s104 pools at a cut day 31 days before the latest day seen, the 30-day
  parts the final sales up to it took from later days, and the movements after it; and the year's disposal
  results already final, the accounts declared simulated, and which events it covers (the same event objects,
  checked one by one) with the stored rate rows that valued them;
* a check **resumes** from it: only the events appended since (and the plan's hypothetical sales) are taken
  into legs and valued (the same :func:`taxreport.lots.valuation.value_events`), then matched: from the saved
  pools (the same :func:`taxreport.lots.matching.match_lots`) or, for the UK, the window again with them (the
  UK's own ``match``, over a few weeks of movements); the results go through the country's own ``results`` and
  ``assess`` hooks, as :meth:`taxreport.jurisdictions.engine.Jurisdiction.compute` calls them, so the year's
  figures are the full computation's (``tests/test_tax_resume.py`` computes them both ways and compares).

When resuming would not be exact, the state is built again from the first event (or, where it cannot be, the
full computation runs):

* **CA** (superficial loss looks 30 days both ways and changes the ACB, ITA s54) always computes in full, as
  does a country whose rules write their own ``match`` (other than the UK);
* the request has options a resumed matching cannot honour (``universal_until``, ``--account``, another
  currency); a UK history with units moved to or from the person's own wallets;
* an event since the state is anything but a trade, a deposit with its cost or an audit record (a reversal,
  basis supplement, transfer link, withdrawal, deposit without basis, gift, income or account declaration can
  change how EARLIER events are read), is earlier than an event already seen (the matching's time order), is
  later than the preview's moment, or (UK) falls on a day before the latest day seen;
* the stored rate rows are not the state's rows plus rows later than every event it covers (a rate imported
  since for an earlier moment), or a lot identification recorded since names a sale the state has matched;
* the state covers an event at or after the moment of the extra rows (the plan's prices at the preview's
  moment, a fill's price): such a row may value it.

**Across processes** (cron ``rebalance run --if-due``, a systemd timer, ``basket stop``): each check saves the
states it used to a file in the user's cache folder with the chain head they cover (:func:`save_states`); the
next process reads only the events appended since that head, verified to continue the hash chain
(:func:`chain_events`, :class:`ChainEvents`), and resumes from the file. A missing, unreadable, edited (its
digest), foreign (another ledger) or older (another code version) file, or a chain that does not continue from
its head, makes the check read the ledger whole and build the state from the first event (the notes below).

What a resumed summary does not reproduce: the summary's notes (price routes counted, matching notes) cover
only the events since the state; the preview reads no note of it.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Sequence

from taxreport.jurisdictions.base import DisposalResult, YearSummary, get
from taxreport.jurisdictions.engine import Context, LotRules
from taxreport.lots.matching import MatchState
from taxreport.model.events import Deposit, Event, Record, Trade
from taxreport.model.money import in_money_context

ZERO = Decimal(0)


@dataclass
class EngineState:
    """The engine's state after ``events`` (module doc): pools, the year's results so far, simulated accounts."""

    key: tuple[Any, ...]  # what the matching depends on besides the events and rates (country, method, options)
    events: Sequence[Event]  # the events covered, in ledger order (compared by identity with a later list;
    # a ChainEvents in a new process; empty in the saved file, which covers a chain head instead: Persisted)
    rows: list[tuple[Any, ...]]  # the stored rate rows they were valued with (the plan's prices at now left out)
    last_time: datetime | None
    simulated: frozenset[str]
    match: MatchState | None  # the lot pools (countries matching lots one by one: US, DE, AU)
    since: datetime  # results kept for the disposals from here on (the start of the state's tax year)
    results: list[DisposalResult] = field(default_factory=list)  # final: not changed by any later event
    window: Window | None = None  # the UK's: the pools at a cut day and the movements after it


@dataclass
class Window:
    """The UK matching resumed (same day, 30 days, s104: :mod:`taxreport.jurisdictions.uk_matching`). A sale's
    matching is final once 30 days after its day are known; ``cut`` is the last day whose sales are final (31
    days before ``last_day``, the latest day of a movement seen; a later event may not be on an earlier day).
    ``inputs`` give the matching of every day after ``cut`` exactly as the whole history does: one acquisition
    per token holding its Section 104 pool at the end of ``cut`` (dated 31 days before it, so no rule but s104
    can use it), for each final sale that took units of a later day under the 30-day rule a sale of just those
    units on its day (it takes them again, in the same order, at the same cost), then every movement after
    ``cut``. The results of the sales up to ``cut`` are the state's ``results``."""

    cut: date
    last_day: date
    inputs: list[Any]


# (store id, key) -> the latest state: in-process (``rebalance run --loop``, the backtest, the benchmarks)
_STATES: dict[tuple[str, tuple[Any, ...]], EngineState] = {}


def resumable(code: str, request: Any) -> bool:
    """Whether ``code``'s computation for ``request`` can be resumed (module doc)."""
    j = get(code)
    if not _by_lots(code) and code != "uk":
        return False
    options = request.engine_options()
    return not request.accounts and "universal_until" not in options and request.currency in (None, j.currency)


def _by_lots(code: str) -> bool:
    rules = get(code).rules
    return isinstance(rules, LotRules) and type(rules).match is LotRules.match


def _state_key(request: Any) -> tuple[Any, ...]:
    opts = request.engine_options()
    opts.pop("selections", None)
    return (request.jurisdiction, request.method, repr(sorted((k, repr(v)) for k, v in opts.items())))


def _same_rates(state: EngineState, rows: Sequence[tuple[Any, ...]]) -> bool:
    """Whether ``rows`` value the state's events as its own rows did: the same rows, plus rows later than every
    event it covers (a rate is read at or before its moment, so a later row values none of them)."""
    n = len(state.rows)
    if len(rows) < n or state.rows != list(rows[:n]):
        return False
    last = state.last_time
    return last is None or all(row[2] > last for row in rows[n:])


def _continues(state: EngineState, events: Sequence[Event]) -> bool:
    """Whether ``events`` starts with the state's events (the same objects in a long-running process: the list
    comparison stops at identity, so this costs a pointer comparison per event)."""
    n = len(state.events)
    if state.events is events:
        return True
    return len(events) >= n and list(state.events) == list(events[:n])


def _simple(e: Event) -> bool:
    """An event whose reading depends on itself alone (module doc)."""
    kind = type(e)
    return kind is Trade or kind is Record or (kind is Deposit and e.cost is not None)  # type: ignore[attr-defined]


@dataclass
class Resumed:
    """A check's engine at ``now``: the state after every event up to now, from which each preview's
    hypothetical sales are matched (:meth:`summary`)."""

    code: str
    request: Any
    table: Any  # the check's RateTable (stored rates and the plan's prices)
    now: datetime
    state: EngineState  # after every event of the check's ledger (not saved when an event is at ``now``)

    @in_money_context  # as the whole computation (taxreport.gains): the same digits whatever ran before
    def summary(self, extra: Sequence[Event] = (), request: Any | None = None) -> YearSummary:
        """The year's summary with ``extra`` (hypothetical sales at ``now``) after the ledger's events, as
        :func:`taxreport.gains.compute_request` gives it over all the events (``request``: e.g. with the
        preview's selections)."""
        req = request or self.request
        st = self.state
        ctx, opts = _context(self.code, req)
        if st.window is not None:
            moves = _valued(self.code, ctx, opts, self.table, list(extra), st.simulated, req.include_simulated)
            if any(_day(m, ctx.tz) < st.window.last_day for m in moves):  # not after what the state has seen
                from taxreport.gains import compute_request

                return compute_request(list(st.events) + list(extra), self.table, req)
            matched = get(self.code).rules.match(ctx, st.window.inputs + moves)
            later = [r for r in matched.results if _day_of(r.time, ctx.tz) > st.window.cut]
            return _summarise(self.code, ctx, [r for r in st.results if r.time >= ctx.start] + later,
                              matched.open_lots, list(matched.notes))
        assert st.match is not None
        match = st.match.copy() if extra else st.match  # nothing to match: the pools are only read
        selections = dict(req.selections or {}) if req.method == "specific" else None
        results, open_lots, notes = _advance(self.code, ctx, opts, self.table, list(extra), match, st.simulated,
                                             req.include_simulated, selections or None)
        return _summarise(self.code, ctx, [r for r in st.results if r.time >= ctx.start] + results, open_lots, notes)


def _day_of(moment: datetime, tz: str) -> date:
    from taxreport.jurisdictions.calendar import local_date

    return local_date(moment, tz)


def _day(m: Any, tz: str) -> date:
    """The UK day of a movement: an acquisition's is the day it was acquired (``date_acquired``)."""
    from taxreport.lots.types import Acquisition

    return _day_of(m.date_acquired if isinstance(m, Acquisition) else m.time, tz)


def _context(code: str, request: Any) -> tuple[Context, dict[str, Any]]:
    from taxreport.jurisdictions.holding import local_day_cache

    j = get(code)
    policy = j.policy
    opts = request.engine_options()
    opts.pop("include_simulated", None)
    opts.setdefault("currency", j.currency)
    opts["__year__"] = request.year  # the request's label (year_cutoff reads it; no country reads this key)
    chosen = policy.choose_method(request.method)
    tz = str(opts.get("timezone") or policy.timezone)
    start, end = policy.year_bounds(request.year, tz)
    ctx = Context(policy, policy.tax_year.label(request.year), policy.tax_year.first_year(request.year), chosen, tz,
                  start, end, opts, local_day_cache(tz))
    return ctx, opts


def _valued(code: str, ctx: Context, opts: dict[str, Any], table: Any, events: list[Event], simulated: frozenset[str],
            include_simulated: bool) -> list[Any]:
    """The valued movements of ``events`` (each readable alone, :func:`_simple`), as
    :func:`taxreport.gains.compute_gains_from_events` makes them."""
    from taxreport.gains import make_pricer, year_cutoff
    from taxreport.lots.valuation import SwapStats, value_events

    j = get(code)
    kept = events if include_simulated or not simulated else \
        [e for e in events if not any(a in simulated for a in e.accounts)]
    pricer = make_pricer(table, ctx.currency, opts)
    movements = value_events(kept, pricer, until=year_cutoff(j, str(opts["__year__"])), swap_cost=j.policy.swap_cost,
                             stats=SwapStats())
    pricer.raise_if_missing()
    return movements


def _advance(code: str, ctx: Context, opts: dict[str, Any], table: Any, events: list[Event], match: MatchState,
             simulated: frozenset[str], include_simulated: bool, selections: dict[str, Any] | None
             ) -> tuple[list[DisposalResult], list[Any], list[str]]:
    """Legs, valuation and matching of ``events`` (each readable alone, :func:`_simple`) from ``match``
    (updated), as :func:`taxreport.gains.compute_gains_from_events` and ``LotRules.match`` do them."""
    from taxreport.lots.matching import match_lots

    movements = _valued(code, ctx, opts, table, events, simulated, include_simulated)
    matched = match_lots(movements, method=ctx.method, until=ctx.end, scope=ctx.scope,
                         zero_cost_assets=ctx.zero_cost_assets, selections=selections,
                         move_order=opts.get("move_order", "fifo"), state=match)
    rules = get(code).rules
    assert isinstance(rules, LotRules)
    results = [r for md in matched.disposals if md.disposal.time >= ctx.start for r in rules.results(ctx, md)]
    return results, matched.open_lots, matched.notes


def _window(code: str, ctx: Context, inputs: list[Any], old: Window | None, results: list[DisposalResult],
            since: datetime) -> tuple[Window, list[DisposalResult]]:
    """The UK state after ``inputs`` (a previous window's inputs and the movements since, or every movement):
    the new cut, its inputs, and the final results (``results``, of the sales up to the previous cut, plus
    those between the two cuts)."""
    from zoneinfo import ZoneInfo

    from taxreport.jurisdictions.uk_matching import match_uk
    from taxreport.lots.types import Acquisition, Disposal

    tz = ctx.tz
    real = inputs if old is None else inputs[_synthetic(old):]
    days = [_day(m, tz) for m in real]
    last_day = max([*days, *([old.last_day] if old else [])]) if days or old else date.min
    cut = max(last_day - timedelta(days=31), old.cut if old else date.min)
    own = sorted(inputs, key=lambda m: m.time)
    groups, history = match_uk(own, tz=tz, zero_cost_assets=ctx.zero_cost_assets)
    matched = get(code).rules.match(ctx, inputs)
    low = old.cut if old else date.min
    final = results + [r for r in matched.results if low < _day_of(r.time, tz) <= cut and r.time >= since]
    pools: dict[str, tuple[Decimal, Decimal]] = {}
    for h in history:  # per token in day order
        if h.day <= cut:
            pools[h.asset] = (h.quantity, h.cost)
    pool_day = cut - timedelta(days=31)
    noon = datetime.combine(pool_day, time(12), ZoneInfo(tz)).astimezone(ZoneInfo("UTC"))
    head: list[Any] = [Acquisition(time=noon, account="<s104>", asset=asset, quantity=q, cost=c,
                                   event_key=f"s104-pool:{asset}", leg_index=0, role="s104")
                       for asset, (q, c) in sorted(pools.items()) if q > 0]
    for g in groups:
        if g.day <= cut:
            later = sum((lm.quantity for lm in g.lots if lm.rule == "30-day" and lm.acquired_at is not None
                         and _day_of(lm.acquired_at, tz) > cut), ZERO)
            if later > 0:
                first = g.items[0]
                head.append(Disposal(time=first.time, account=first.account, asset=g.asset, quantity=later,
                                     proceeds=ZERO, fee=ZERO, event_key=f"30-day-part:{first.event_key}",
                                     leg_index=first.leg_index, role="30-day-part"))
    tail = [m for m, d in zip(real, days) if d > cut]
    return Window(cut, last_day, sorted(head, key=lambda m: m.time) + tail), final


def _synthetic(window: Window) -> int:
    """How many of the window's inputs are the synthetic pool acquisitions and 30-day parts (they come first)."""
    n = 0
    for m in window.inputs:
        if m.role not in ("s104", "30-day-part"):
            break
        n += 1
    return n


def _summarise(code: str, ctx: Context, results: list[DisposalResult], open_lots: list[Any],
               notes: list[str]) -> YearSummary:
    from taxreport.jurisdictions.base import notes_of
    from taxreport.jurisdictions.summary import summarise

    j = get(code)
    whole = [r for r in results if ctx.start <= r.time < ctx.end]
    assessed = j.rules.assess(ctx, whole, whole)
    summary = summarise(j.code, j.currency, ctx.method, ctx.year, ctx.start, ctx.end, whole, assessed.allowance,
                        assessed.taxable_gain, assessed.breakdown, open_lots,
                        notes_of(notes, "matching") + assessed.notes)
    summary.timezone = ctx.tz
    return summary


@in_money_context
def resume(events: Sequence[Event], base_rows: Sequence[tuple[Any, ...]], table: Any, request: Any, now: datetime, *,
           store: str, extras_from: datetime | None = None) -> Resumed | None:
    """The check's engine at ``now`` over ``events`` (the ledger, every event at or before ``now``), resumed from
    the state saved under ``store`` when it covers a prefix of them, else built from the first event; the new
    state is saved. ``table`` is ``base_rows`` plus rows none earlier than ``extras_from`` (default ``now``: the
    plan's prices): a state is used and saved only when every event it covers is earlier than that, so those rows
    value none of them. None when the computation cannot be resumed (module doc): the caller computes in full."""
    code = request.jurisdiction
    if not resumable(code, request) or request.selections:
        return None
    fresh = now if extras_from is None else min(now, extras_from)
    key = _state_key(request)
    ctx, opts = _context(code, request)
    saved = _STATES.get((store, key))
    state: EngineState | None = None
    if saved is not None and saved.since <= ctx.start and (saved.last_time is None or saved.last_time < fresh) \
            and _continues(saved, events) and _same_rates(saved, base_rows):
        try:
            state = _resumed(code, ctx, opts, key, saved, events, base_rows, table, request, now)
        except Exception:  # noqa: BLE001 - built from the first event below (the full computation says why)
            state = None
    disk = events.saved.states.get(key) if isinstance(events, ChainEvents) and state is None else None
    if disk is not None and isinstance(events, ChainEvents) and disk.since <= ctx.start \
            and (disk.last_time is None or disk.last_time < fresh) and _same_rates(disk, base_rows):
        try:  # a new process: the state saved on disk after the chain's head it covers, and the events since
            state = _resumed(code, ctx, opts, key, disk, events, base_rows, table, request, now,
                             covered=events.saved.count)
        except Exception:  # noqa: BLE001 - built from the first event below (the full computation says why)
            state = None
    if state is None:
        from taxreport.rebalance.tax_preview import ledger_at

        whole = _all(events)  # a new process with no usable saved state reads the ledger whole here
        if len(ledger_at(whole, now)) != len(whole):  # an event after now, or a correction of one
            return None
        state = _built(code, ctx, opts, key, whole, base_rows, table, request)
        if state is None:
            return None
    if state.last_time is None or state.last_time < fresh:
        _STATES[(store, key)] = state  # every event is earlier than the extra rows: they value none of them
    return Resumed(code, request, table, now, state)


def _resumed(code: str, ctx: Context, opts: dict[str, Any], key: tuple[Any, ...], saved: EngineState,
             events: Sequence[Event], base_rows: Sequence[tuple[Any, ...]], table: Any, request: Any,
             now: datetime, covered: int | None = None) -> EngineState | None:
    """The saved state advanced by the events since (None when one of them cannot be read alone); ``covered``:
    how many of ``events`` it covers (default: its own events)."""
    from taxreport.gains import year_cutoff
    from taxreport.rebalance.lot_identification import recorded_selections

    new = list(events[len(saved.events) if covered is None else covered:])
    last = saved.last_time
    if not all(_simple(e) and e.time <= now and (last is None or e.time >= last) for e in new):
        return None
    kept = [r for r in saved.results if r.time >= ctx.start]
    times = [e.time for e in new] + ([last] if last is not None else [])
    last_time = max(times) if times else None
    if saved.window is not None:
        moves = _valued(code, ctx, opts, table, list(new), saved.simulated, request.include_simulated)
        if any(_day(m, ctx.tz) < saved.window.last_day for m in moves):
            return None
        window, final = _window(code, ctx, saved.window.inputs + moves, saved.window, kept, ctx.start)
        return EngineState(key, _kept(events), list(base_rows), last_time, saved.simulated, None, ctx.start, final,
                           window)
    assert saved.match is not None
    recorded = recorded_selections(new, until=year_cutoff(get(code), request.year)) \
        if request.method == "specific" else None
    match = saved.match.copy() if new else saved.match
    results, _, _ = _advance(code, ctx, opts, table, list(new), match, saved.simulated, request.include_simulated,
                             recorded or None)
    return EngineState(key, _kept(events), list(base_rows), last_time, saved.simulated, match, ctx.start,
                       kept + results)


def _built(code: str, ctx: Context, opts: dict[str, Any], key: tuple[Any, ...], events: list[Event],
           rows: Sequence[tuple[Any, ...]], table: Any, request: Any) -> EngineState | None:
    """The state after every event, from the first one (the steps of compute_gains_from_events)."""
    from taxreport.gains import make_pricer, year_cutoff
    from taxreport.jurisdictions.gifts import gifts_for
    from taxreport.lots.matching import match_lots
    from taxreport.lots.types import Move
    from taxreport.lots.valuation import SwapStats, value_events
    from taxreport.prepare import prepare_events
    from taxreport.rebalance.lot_identification import recorded_selections
    from taxreport.simulated import simulated_accounts

    j = get(code)
    sim = frozenset(simulated_accounts(events))
    last = max((e.time for e in events), default=None)
    try:
        prepared = prepare_events(events, include_simulated=request.include_simulated)
        evs, _ = gifts_for(prepared.events, j.policy.gift_is_disposal)
        pricer = make_pricer(table, ctx.currency, opts)
        cutoff = year_cutoff(j, request.year)
        movements = value_events(evs, pricer, until=cutoff, swap_cost=j.policy.swap_cost, stats=SwapStats())
        if j.policy.income is not None:
            from taxreport.jurisdictions.income import income_of_year

            start, end = j.year_bounds(request.year, opts.get("timezone"))
            income_of_year(evs, pricer, jurisdiction=j.code, start=start, end=end, rules=j.policy.income)
        pricer.raise_if_missing()
        if not _by_lots(code):  # the UK: same day, 30 days, s104 over a window of days
            if any(type(m) is Move for m in movements):  # units to and from own wallets: not resumed
                return None
            window, final = _window(code, ctx, movements, None, [], ctx.start)
            return EngineState(key, _kept(events), list(rows), last, sim, None, ctx.start, final, window)
        recorded = recorded_selections(events, until=cutoff) if request.method == "specific" else None
        match = MatchState()
        matched = match_lots(movements, method=ctx.method, until=ctx.end, scope=ctx.scope,
                             zero_cost_assets=ctx.zero_cost_assets, selections=recorded or None,
                             move_order=opts.get("move_order", "fifo"), state=match)
    except Exception:  # noqa: BLE001 - the full computation reports it, as gains would
        return None
    rules = j.rules
    assert isinstance(rules, LotRules)
    results = [r for md in matched.disposals if md.disposal.time >= ctx.start for r in rules.results(ctx, md)]
    return EngineState(key, _kept(events), list(rows), last, sim, match, ctx.start, results)


def forget(store: str | None = None) -> None:
    """Drop the saved states (of ``store``, or all): tests and benchmarks that compare with a cold start."""
    for k in [k for k in _STATES if store is None or k[0] == store]:
        del _STATES[k]
    for name in [name for name in _SIMULATED if store is None or name == store]:
        del _SIMULATED[name]




# store id -> (the events read, the accounts declared simulated in them)
_SIMULATED: dict[str, tuple[list[Event], frozenset[str]]] = {}


def simulated_in(events: Sequence[Event], *, store: str) -> frozenset[str]:
    """The accounts declared simulated in ``events`` (:func:`taxreport.simulated.simulated_accounts`), read
    on from the events seen at the previous call under ``store`` (a reversal since: read whole)."""
    from taxreport.model.events import AccountDeclaration, Reversal
    from taxreport.simulated import simulated_accounts

    if isinstance(events, ChainEvents) and events._whole is None and \
            not any(type(e) is Reversal for e in events.tail):  # the saved accounts and the declarations since
        return events.saved.simulated | {e.account for e in events.tail
                                         if type(e) is AccountDeclaration and e.simulated}
    saved = _SIMULATED.get(store)
    items = list(events)
    found: frozenset[str] | None = None
    if saved is not None and len(items) >= len(saved[0]) and saved[0] == items[:len(saved[0])]:
        new = items[len(saved[0]):]
        if not any(type(e) is Reversal for e in new):
            found = saved[1] | {e.account for e in new if type(e) is AccountDeclaration and e.simulated}
    if found is None:
        found = frozenset(simulated_accounts(items))
    _SIMULATED[store] = (items, found)
    return found


def _kept(events: Sequence[Event]) -> Sequence[Event]:
    """The events a state covers: a copy of a list (the caller's list may change), a ChainEvents as it is."""
    return events if isinstance(events, ChainEvents) else list(events)


def _all(events: Sequence[Event]) -> list[Event]:
    return events.full() if isinstance(events, ChainEvents) else events if isinstance(events, list) else list(events)


# --- the state across processes (cron ``rebalance run --if-due``, a systemd timer, ``basket stop``) -----------
#
# A check in a new process finds no state in ``_STATES``. The states a check used are saved in a file of the
# user's cache folder, one per ledger (``<cache>/tax-resume/<id>.state``), with the chain head (seq and hash)
# and the number of events they cover. The next process reads the file, asks the ledger for the events appended
# since that head (:meth:`taxreport.ledger.Ledger.appended_since`: verified to continue the hash chain from it;
# None when it does not: rows deleted, a head that went back, a bad row) and resumes from the saved state with
# those events alone (:class:`ChainEvents`): the events before the head are neither read nor decoded unless a
# step needs them (an event since that rereads the past, a new tax year's state, a full computation), which
# then reads and verifies the ledger whole (the loader). The file holds lots, amounts, times and rate rows: no
# secret. It is refused, and the state built from the first event, when it is missing, unreadable, written by
# another code version (:func:`taxreport.ledger.derived.code_version`), for another ledger, or its content is
# not the one its digest names (an edit); an edit that recomputes the digest is out of reach, as for the
# derived cache (whoever can write the user's cache folder can run code as the user).

_MAGIC = b"taxreport-tax-resume 1\n"


@dataclass
class Persisted:
    """What the file holds: the states saved after the events up to ``head`` (``count`` events)."""

    store: str
    head_seq: int
    head_hash: str
    count: int
    simulated: frozenset[str]  # the accounts declared simulated in those events (simulated_in)
    states: dict[tuple[Any, ...], EngineState]  # by key; their ``events`` empty (the head says which)


class ChainEvents(Sequence[Event]):
    """The ledger's verified events up to ``head``: the ``saved.count`` events a saved state covers (not read
    unless needed: ``load()``, the ledger's events read and verified whole) and the ``tail`` appended since."""

    def __init__(self, saved: Persisted, tail: list[Event], head: tuple[int, str],
                 load: Callable[[], list[Event]]) -> None:
        self.saved = saved
        self.tail = tail
        self.head = head
        self._load = load
        self._n = saved.count + len(tail)
        self._whole: list[Event] | None = None

    def __len__(self) -> int:
        return self._n

    def full(self) -> list[Event]:
        """Every event (the ledger read whole, the first time)."""
        if self._whole is None:
            items = self._load()
            if len(items) < self._n:
                from taxreport.errors import TaxreportError

                raise TaxreportError("the ledger holds fewer events than its chain head said a moment ago")
            self._whole = items[:self._n]
        return self._whole

    def __getitem__(self, i: Any) -> Any:
        c = self.saved.count
        if self._whole is None:
            if isinstance(i, slice):
                start, stop, step = i.indices(self._n)
                if step == 1 and start >= c:
                    return self.tail[start - c:max(stop - c, 0)]
            elif isinstance(i, int) and c <= (i if i >= 0 else i + self._n) < self._n:
                return self.tail[(i if i >= 0 else i + self._n) - c]
        return self.full()[i]

    def __iter__(self) -> Iterator[Event]:
        return iter(self.full())


def _state_file(store: str) -> Path:
    from taxreport.ledger.derived import cache_root

    return cache_root() / "tax-resume" / f"{hashlib.sha256(store.encode()).hexdigest()[:24]}.state"


def _digest(body: bytes) -> bytes:
    from taxreport.ledger.derived import code_version

    return hashlib.sha256(code_version().encode() + b"\0" + body).hexdigest().encode()


def read_saved(store: str) -> Persisted | None:
    """The states saved for ``store`` (None: none, unreadable, another code version, edited: module notes)."""
    from taxreport.ledger.derived import cache_enabled

    if not cache_enabled():
        return None
    try:
        data = _state_file(store).read_bytes()
    except OSError:
        return None
    if not data.startswith(_MAGIC):
        return None
    digest, sep, body = data[len(_MAGIC):].partition(b"\n")
    if not sep or digest != _digest(body):  # an edit, a truncated write or another code version
        return None
    try:
        saved = pickle.loads(body)
    except Exception:  # noqa: BLE001 - an unreadable state is rebuilt, never trusted
        return None
    if not isinstance(saved, Persisted) or saved.store != store:
        return None
    return saved


def chain_events(ledger: Any, load: Callable[[], list[Event]]) -> ChainEvents | None:
    """The ledger's events as a check in a new process needs them (:class:`ChainEvents`): the saved state's head
    and the events appended since, verified to continue the chain; None when there is no usable saved state or
    the chain does not continue from its head (the caller reads the ledger whole)."""
    store = str(ledger.url)
    saved = read_saved(store)
    if saved is None:
        return None
    appended = ledger.appended_since(saved.head_seq, saved.head_hash)
    if appended is None:
        return None
    seq, digest, new = appended
    return ChainEvents(saved, list(new), (seq, digest), load)


def save_states(store: str, head: tuple[int, str], events: Sequence[Event]) -> bool:
    """Write the states this process holds for ``store`` that cover exactly ``events`` (the ledger up to
    ``head``), for the next process (atomically: a reader sees the old file or the new one). False when
    nothing was written (no such state, cache off or not writable)."""
    import os
    import tempfile

    from taxreport.ledger.derived import cache_enabled

    if not cache_enabled():
        return False
    n = len(events)
    # the pools without their used-up lots (MatchState.copy): the file holds the open lots, not the history
    states = {k: replace(st, events=[], match=None if st.match is None else st.match.copy())
              for (s, k), st in _STATES.items() if s == store and (st.events is events or len(st.events) == n)}
    if not states:
        return False
    saved = Persisted(store, head[0], head[1], n, simulated_in(events, store=store), states)
    path = _state_file(store)
    tmp: str | None = None
    try:
        body = pickle.dumps(saved, protocol=pickle.HIGHEST_PROTOCOL)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(_MAGIC + _digest(body) + b"\n" + body)
        os.replace(tmp, path)
        return True
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        return False
