"""Capital gains for a tax year: the orchestration the CLI, the exporters and the backtester call.

**One request in**: a :class:`GainsRequest` (typed; built from the CLI flags in one place,
:mod:`taxreport.cli.gains_options`) is what ``gains``, every ``export`` and ``backtest`` pass here;
:func:`gains_for` runs it over a ledger. **The one place the ledger's events are loaded and filtered**
before legs, valuation and matching is :func:`load_events` (filters such as "exclude simulated
accounts" belong there).

Two lower entry points with stable signatures:

* :func:`compute_gains` (ledger in): loads every event, applies reversals, loads the rate store, then
  :func:`compute_gains_from_events`.
* :func:`compute_gains_from_events` (pure: a list of events plus a :class:`RateTable` or a ready
  :class:`Pricer`): legs (:mod:`taxreport.model.legs`) -> valued movements
  (:mod:`taxreport.lots.valuation`) -> the jurisdiction module's ``compute`` (lot matching + its rules)
  -> :class:`~taxreport.jurisdictions.base.YearSummary`.

``options`` (all optional; the CLI flags in brackets):

=====================  ==========================================================================
``via``                intermediates for one-hop rate crossing, e.g. ``["USD"]`` [``--via``]
``peg``                ``{"USDT": "USD"}``: assume 1:1, only when asked [``--peg USDT=USD``]
``rate_lookback_days`` accept rates up to N days old (weekends in ECB data) [``--rate-lookback``]
``scope``              ``"account"`` (default) or ``"universal"`` lot pools [``--universal``]
``zero_cost_assets``   assets whose unmatched units get zero cost basis [``--allow-zero-cost``]
``selections``         specific identification, see :mod:`taxreport.lots.selections` [``--lots``]
``move_order``         ``"fifo"`` (default) or ``"method"``: which lots a transfer moves
``timezone``           IANA zone of the local dates (default: the jurisdiction's) [``--timezone``]
``accounts``           report only disposals in these accounts (set by ``accounts=``); refused for
                       countries that pool per person (``Policy.pooling`` is ``PERSON``: UK, CA)
=====================  ==========================================================================

Matching always sees **all** accounts, so lots transferred between accounts keep their basis;
``accounts`` only restricts which disposals are reported and summed.

Only legs before the end of the tax year (plus the policy's ``lookahead_days``, plus one day for time
zones) are valued, so later years need no rates.
"""

from __future__ import annotations

import gc
from bisect import bisect_left
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from operator import attrgetter
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

from taxreport.errors import InputError, LedgerError, TaxreportError
from taxreport.jurisdictions import base as jbase
from taxreport.jurisdictions.base import Note, Pooling, YearSummary, notes_of
from taxreport.jurisdictions.engine import Jurisdiction
from taxreport.lots.matching import in_time_order
from taxreport.lots.valuation import SwapStats, value_event_list, value_events
from taxreport.model.events import Event
from taxreport.model.money import in_money_context
from taxreport.prices.rates import Pricer, RateTable

T = TypeVar("T")


@dataclass(frozen=True)
class GainsRequest:
    """Everything that decides one tax year's gains (the ``gains`` flags; ``export`` and ``backtest``
    take the same). Values are already checked and normalised (:mod:`taxreport.cli.gains_options`)."""

    jurisdiction: str
    year: str
    method: str | None = None
    accounts: tuple[str, ...] = ()
    currency: str | None = None  # None: the country's
    via: tuple[str, ...] = ()
    peg: Mapping[str, str] = field(default_factory=dict)
    rate_lookback_days: int = 0
    universal: bool = False
    universal_until: datetime | None = None  # UTC instant (local midnight of the date given)
    zero_cost_assets: tuple[str, ...] = ()
    selections: Mapping[str, list[tuple[str, Decimal | None]]] | None = None  # --lots (method specific)
    timezone: str | None = None  # None: the country's
    country_options: Mapping[str, str] = field(default_factory=dict)  # --option KEY=VALUE
    include_simulated: bool = False  # events helper (issue #12): --include-simulated

    def engine_options(self) -> dict[str, Any]:
        """The options mapping the jurisdiction modules read (see the table above)."""
        o: dict[str, Any] = dict(self.country_options)
        if self.via:
            o["via"] = list(self.via)
        if self.peg:
            o["peg"] = dict(self.peg)
        if self.rate_lookback_days:
            o["rate_lookback_days"] = self.rate_lookback_days
        if self.universal or self.universal_until:
            o["scope"] = "universal"
        if self.universal_until:
            o["universal_until"] = self.universal_until
        if self.zero_cost_assets:
            o["zero_cost_assets"] = list(self.zero_cost_assets)
        if self.selections is not None:
            o["selections"] = self.selections
        if self.timezone:
            o["timezone"] = self.timezone
        if self.include_simulated:
            o["include_simulated"] = True  # events helper (issue #12)
        return o

    def with_options(self, **country_options: str) -> "GainsRequest":
        from dataclasses import replace

        return replace(self, country_options={**self.country_options, **country_options})


def _verified_events(ledger: Any) -> list[Event]:
    """Refuse to report from a ledger whose hash chain does not verify: every report says its figures
    come from the hash-chained ledger, so an edited, deleted or reordered row stops it (one line, why).
    The check and the events come from one pass over the rows (:meth:`Ledger.verified_events`)."""
    result, events = ledger.verified_events()
    if not result.ok:
        raise LedgerError(f"the ledger's hash chain does not verify ({result.problem}); "
                          "no report is made from it (see 'taxreport ledger verify')")
    return list(events)


def load_events(ledger: Any, request: GainsRequest | None = None) -> list[Event]:
    """THE place the ledger's events are loaded (after the chain is verified) and filtered for every
    gains computation, report and export. ``request`` is what filters may read. Reversals are applied
    later, by the legs."""
    events = _verified_events(ledger)
    if request is not None:
        _refuse_blocked(ledger, events, request)
    return events


def _refuse_blocked(ledger: Any, events: list[Event], request: GainsRequest) -> None:
    """events helper (issue #12): a year with blocking review items is refused."""
    _refusal(ledger, events, request)(request)


def _refusal(ledger: Any, events: list[Event], request: GainsRequest,
             ready: list[Any] | None = None) -> Callable[[GainsRequest], None]:
    """:func:`_refuse_blocked` for every year of ``request`` (the same but for ``year``) over ``events``: the
    review items found once (:func:`taxreport.review.year_refusal`), each year then refused in microseconds (a
    first call at 1M trades checked each year it fills from the start: 0.1-0.14 s each). ``ready``: a list that
    receives the preparation of ``events`` the review read (:func:`taxreport.prepare.prepare_events`, as
    :func:`_prepared` makes it), for the one pass over the same list to take instead of preparing it again
    (~0.2 s at 1M trades); the taker empties the list."""
    from taxreport.prepare import prepare_events
    from taxreport.review import year_refusal

    options = request.engine_options()
    try:
        prepared = prepare_events(events, include_simulated=bool(options.get("include_simulated")))
    except TaxreportError:
        prepared = None  # year_refusal meets the same error and refuses every year with it
    refuse = year_refusal(ledger, events, options=options, verify=False, prepared=prepared)
    if ready is not None and prepared is not None:
        ready.append((events, bool(options.get("include_simulated")), prepared))
    del prepared

    def refuse_year(one: GainsRequest) -> None:
        refuse(one.jurisdiction, one.year)
    return refuse_year


def compute_request(events: Iterable[Event], rates: RateTable | Pricer, request: GainsRequest) -> YearSummary:
    """:func:`compute_gains_from_events` for a :class:`GainsRequest`. With ``method="specific"``, the
    lots identified at the time of sale and recorded in the ledger
    (:mod:`taxreport.rebalance.lot_identification`) are used; a ``--lots`` row for the same disposal wins."""
    from dataclasses import replace

    from taxreport.rebalance.lot_identification import recorded_selections

    events = events if isinstance(events, list) else list(events)
    recorded = recorded_selections(events, until=year_cutoff(jbase.get(request.jurisdiction), request.year))
    if recorded and request.method == "specific":
        request = replace(request, selections={**recorded, **(request.selections or {})})
    summary = compute_gains_from_events(events, rates, jurisdiction=request.jurisdiction, year=request.year,
                                        method=request.method, accounts=list(request.accounts) or None,
                                        currency=request.currency, options=request.engine_options())
    shown = set(recorded) & {d.event_key for d in summary.disposals}  # not the sales left out (simulated…)
    if shown and request.method != "specific" and "specific" in jbase.get(request.jurisdiction).methods:
        if request.method is None:  # no method asked for: the lots identified at the sale ARE the lots sold
            # (IRS virtual-currency FAQ Q39-Q40: specific identification made at the time of the sale;
            # FAQ Q41: units not so identified are deemed sold first-in, first-out)
            summary = compute_request(events, rates, replace(request, method="specific"))
            summary.notes.append(Note(f"{len(shown)} sale(s) use the lots identified at the time of sale and "
                                      "recorded in the ledger (lots.identified); the others are matched FIFO "
                                      "(--method fifo ignores the identifications)", "method"))
            return summary
        summary.notes.append(Note(f"{len(shown)} sale(s) have their lots identified at the time of sale in the "
                                  f"ledger (lots.identified records), which --method {request.method} ignores; "
                                  "without --method (or with --method specific) they are used", "method"))
    return summary


YearResult = YearSummary | TaxreportError  # a year's summary, or the error its own computation raises


def compute_request_years(events: Iterable[Event], rates: RateTable | Pricer, request: GainsRequest,
                          years: Sequence[str]) -> dict[str, YearResult]:
    """:func:`compute_request` of each of ``years`` (``request.year`` ignored), each equal to its own one-year
    call (the same summary, or the same error as a value), from one preparation, one valuation and one
    matching of the events (:func:`stream_request_years`, collected)."""
    found: dict[str, YearResult] = {}
    stream_request_years(events, rates, request, years, found.__setitem__)
    return {y: found[y] for y in dict.fromkeys(years)}


def stream_request_years(events: Iterable[Event], rates: RateTable | Pricer, request: GainsRequest,
                         years: Sequence[str], each: Callable[[str, YearResult], object], *,
                         reload: Callable[[], list[Event]] | None = None, ready: list[Any] | None = None) -> None:
    """:func:`compute_request_years`, each year handed to ``each(year, summary or error)`` as soon as it is
    computed and not kept here (a caller that stores and drops each holds one year's summary at a time).
    Years come in time order, except those computed again (below), which come last. From one preparation,
    one valuation and one matching of the events (:func:`_years_from_events`); a year that cannot be shown
    equal that way is computed alone. With no ``method``, the years that show lots identified at the time of
    sale are computed again with ``specific`` (also in one pass), as :func:`compute_request` does.

    ``reload`` (with ``events`` a list): the one pass may empty ``events`` once it has valued them (so they can be
    freed while the years are matched and written); whatever needs them again afterwards (a year computed alone)
    first refills the list with ``reload()`` (the same events: :meth:`Ledger.forget_events`). ``ready``: see
    :func:`_refusal` (emptied here, taken or not)."""
    from dataclasses import replace

    from taxreport.model.events import Record
    from taxreport.model.legs import has_kind
    from taxreport.rebalance.lot_identification import recorded_selections

    events = events if isinstance(events, list) else list(events)
    years = list(dict.fromkeys(years))
    j = jbase.get(request.jurisdiction)
    identified = has_kind(events, Record)  # no record at all: nothing identified in any year
    try:
        recorded = {y: recorded_selections(events, until=year_cutoff(j, y)) if identified else {} for y in years}
        order = sorted(years, key=lambda y: j.year_bounds(y, request.timezone)[0])
    except TaxreportError:
        if ready is not None:
            ready.clear()
        for y in years:
            each(y, _one_year(events, rates, replace(request, year=y)))
        return

    def one(year: str, method: str | None) -> GainsRequest:
        r = replace(request, year=year, method=method)
        if recorded[year] and method == "specific":
            r = replace(r, selections={**recorded[year], **(request.selections or {})})
        return r

    again: dict[str, int] = {}  # year -> sales shown with lots identified at the time of sale

    def first(year: str, summary: YearResult) -> None:
        if not isinstance(summary, TaxreportError):
            shown = set(recorded[year]) & {d.event_key for d in summary.disposals}
            if shown and request.method != "specific" and "specific" in j.methods:
                if request.method is None:
                    again[year] = len(shown)
                    return  # computed again below
                summary.notes.append(Note(f"{len(shown)} sale(s) have their lots identified at the time of sale in "
                                          f"the ledger (lots.identified records), which --method {request.method} "
                                          "ignores; without --method (or with --method specific) they are used",
                                          "method"))
        each(year, summary)

    def second(year: str, summary: YearResult) -> None:
        if not isinstance(summary, TaxreportError):
            summary.notes.append(Note(f"{again[year]} sale(s) use the lots identified at the time of sale and "
                                      "recorded in the ledger (lots.identified); the others are matched FIFO "
                                      "(--method fifo ignores the identifications)", "method"))
        each(year, summary)

    try:
        _pass(events, rates, [one(y, request.method) for y in order], first, reload, ready)
    finally:
        if ready is not None:
            ready.clear()
    if again:
        _pass(_refilled(events, reload), rates, [one(y, "specific") for y in again], second, None)


def _refilled(events: list[Event], reload: Callable[[], list[Event]] | None) -> list[Event]:
    """``events`` as they were given, refilled by ``reload`` if the one pass emptied them."""
    if reload is not None and not events:
        events[:] = reload()
    return events


def _pass(events: list[Event], rates: RateTable | Pricer, requests: list[GainsRequest],
          each: Callable[[str, YearResult], object], reload: Callable[[], list[Event]] | None = None,
          ready: list[Any] | None = None) -> None:
    """:func:`_years_from_events` of ``requests``, each year it leaves open computed alone, handed to ``each``
    in order. ``reload``: see :func:`stream_request_years`."""
    done: set[int] = set()

    def got(i: int, summary: YearSummary | None) -> None:
        r = requests[i]
        each(r.year, summary if summary is not None
             else _one_year_from_events(_refilled(events, reload), rates, r))
        done.add(i)

    def release() -> None:
        events.clear()

    tax_year = jbase.get(requests[0].jurisdiction).policy.tax_year
    if isinstance(rates, RateTable) and len({tax_year.label(r.year) for r in requests}) == len(requests) > 1:
        try:
            _years_from_events(events, rates, requests, got, release if reload is not None and events else None,
                               ready)
        except TaxreportError:
            pass  # each year not yet handed over is computed alone: it says what is wrong with it
    for i in range(len(requests)):
        if i not in done:
            got(i, None)


def _one_year_from_events(events: list[Event], rates: RateTable | Pricer, request: GainsRequest) -> YearResult:
    try:
        return compute_gains_from_events(events, rates, jurisdiction=request.jurisdiction, year=request.year,
                                         method=request.method, accounts=list(request.accounts) or None,
                                         currency=request.currency, options=request.engine_options())
    except TaxreportError as e:
        return e


def _one_year(events: list[Event], rates: RateTable | Pricer, request: GainsRequest) -> YearResult:
    try:
        return compute_request(events, rates, request)
    except TaxreportError as e:
        return e


CACHE_NAME = "gains_for"  # the derived cache's name of a tax year's summary (one entry per year and request)


def _cache_key(request: GainsRequest) -> dict[str, str]:
    return {"request": repr(request)}


YearHook = Callable[[GainsRequest, YearSummary], object]


def gains_for(ledger: Any, request: GainsRequest, *, each_year: YearHook | None = None) -> YearSummary:
    """The tax year's summary from a ledger (:func:`gains_for_as`, the summary as it is)."""
    return gains_for_as(ledger, request, _itself, each_year=each_year)


def _itself(summary: YearSummary) -> YearSummary:
    return summary


def gains_for_as(ledger: Any, request: GainsRequest, shape: Callable[[YearSummary], T], *,
                 each_year: YearHook | None = None) -> T:
    """The tax year's summary from a ledger: :func:`load_events`, its rate store, the engine. Computed once
    per verified ledger state and request (:mod:`taxreport.ledger.derived`: a repeated call on an unchanged
    ledger reads the stored summary without walking the chain again).

    On a miss, **every** tax year of the ledger is computed from that one read of the ledger (the chain walked
    once, the rates loaded once) and each is stored under the key its own one-year call uses, so the next
    ``gains``/``export`` of another year (same country, method and options) is a hit. The years are computed
    one at a time, in time order, in one pass. A year that cannot be computed (blocking review items, missing
    rates) is not stored and is left to its own call to report; the year asked for reports its error as before.
    ``each_year(request, summary)`` is called, inside the ledger's pin, for each other year computed that way
    (the ``gains`` command stores each year's ``--format json`` document with it: :meth:`DerivedCache.put_bytes`);
    it only stores.

    **The schedule** (issue 14 round 7): as soon as a large year is computed, its entries (its summary, and what
    ``each_year`` or ``shape`` hand over: its document) go to a writer child of its own
    (:meth:`DerivedCache.one_writer`, :meth:`DerivedCache.later`), which stores them on another core while this
    process matches the next year; several writers run at once and this process is never held for one, so at 1M
    trades it only matches, and the cores stay busy until the last entry is written. The call waits for every
    writer before it returns (:func:`_joined`); a year's summary is held until its writer ended. When no core is
    idle (or the year is small, or the cache off) the entries are stored here as the year comes, as before.

    Returned: ``shape(summary)``, called as soon as the year's summary is computed (inside the one pass, before
    the later years are computed): ``gains --format json`` hands its document to the year's writer there (printed
    from the stored bytes once that writer ended, :func:`taxreport.cli.gains_cmd._print_document`)."""
    from taxreport.prices.store import load_table

    if not hasattr(ledger, "engine"):  # not a taxreport Ledger: nothing to key on
        return shape(compute_request(load_events(ledger, request), load_table(ledger), request))
    from taxreport import progress
    from taxreport.ledger.derived import cache_for

    with ledger.pinned():
        cache = cache_for(ledger)
        hit = cache.lookup(CACHE_NAME, _cache_key(request))
        if hit is not None:
            return shape(hit)
        cache.misses += 1

        def stored(summary: YearSummary) -> T:
            with cache.one_writer():  # by a writer child (with what ``shape`` hands it: e.g. the document)
                cache.later(partial(cache.put, CACHE_NAME, _cache_key(request), summary),
                            size=len(summary.disposals), holds=summary)
                return shape(summary)

        with progress.step(f"Computing {request.jurisdiction.upper()} {request.year}", ledger.head()[0]), \
                _joined(cache):
            events = _verified_events(ledger)  # as load_events(ledger, request), the refusals found once
            ready: list[Any] = []  # the preparation the refusals read, for the one pass (then emptied)
            refuse = _refusal(ledger, events, request, ready)
            refuse(request)  # the year asked for is refused first if it is blocked
            table = load_table(ledger)
            if cache.pinned_state() is not None:  # the other years are worth computing only if they are kept
                others = [y for y in _ledger_years(ledger, request) if y != request.year]
                result = _fill_years(ledger, events, table, request, others, keep=(), strict=False,
                                     computed=each_year, asked=request.year, asked_as=stored,
                                     refuse=refuse, ready=ready)[request.year]
            else:
                ready.clear()
                result = _one_year(events, table, request)
                if not isinstance(result, TaxreportError):
                    result = stored(result)
            ready.clear()
            if isinstance(result, TaxreportError):
                raise result
            del events
        return result  # type: ignore[no-any-return]


def _ledger_years(ledger: Any, request: GainsRequest) -> list[str]:
    from taxreport.gains_years import ledger_years

    return ledger_years(ledger, request)


def gains_for_years(ledger: Any, request: GainsRequest, years: Sequence[str], *,
                    advance: Callable[[], object] | None = None) -> dict[str, YearSummary]:
    """:func:`gains_for` of each of ``years`` (``request.year`` ignored) from one read of the ledger: each year
    is read from the derived cache, or computed over the events and rates loaded once and stored there.
    Exports that write several years can call this (one walk of the chain for all of them)."""
    from taxreport.ledger.derived import cache_for

    with ledger.pinned(), _joined(cache_for(ledger)):
        return _fill_years(ledger, None, None, request, years, keep=None, strict=True, advance=advance)


@contextmanager
def _joined(cache: Any) -> Iterator[None]:
    """The block, then (also when it raises) the wait for the entries it left to writer children
    (:meth:`DerivedCache.later`), inside the ledger's pin; Python's cyclic collector paused until then (as it was
    before, after). The years' summaries stay alive until their writers end, and a collection run meanwhile (the
    one pass re-enables it after matching) would traverse every one of their objects and, writing into each, copy
    every page the writers share with this process (issue 14 round 7: ~1 s of CPU at 1M trades)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        try:
            cache.join()
        finally:
            if was:
                gc.enable()


def _fill_years(ledger: Any, events: list[Event] | None, table: RateTable | None, request: GainsRequest,
                years: Sequence[str], *, keep: Iterable[str] | None, strict: bool,
                advance: Callable[[], object] | None = None, computed: YearHook | None = None,
                asked: str | None = None, asked_as: Callable[[YearSummary], Any] | None = None,
                refuse: Callable[[GainsRequest], None] | None = None, ready: list[Any] | None = None
                ) -> dict[str, Any]:
    """Each of ``years`` from the cache or computed and stored (inside the ledger's pin), the missing ones in
    one pass (:func:`stream_request_years`: each handed to a writer as it comes, :meth:`DerivedCache.one_writer`;
    held until that writer ended). Returns the summaries of ``keep`` (every year when None; the others are dropped
    once stored).
    ``strict=False``: a year whose computation fails is skipped (not stored) instead of raising (``strict``:
    the first such year, in the order of ``years``, raises its error). ``asked``: a year (already checked for
    blocking review items) computed in the same pass and returned as it is (its error, or its summary, or
    ``asked_as(summary)`` called as soon as it is computed), not stored here. ``refuse``: :func:`_refusal` of
    ``events`` (found here once when not given), ``ready`` what it prepared (:func:`_refusal`)."""
    from dataclasses import replace

    from taxreport.ledger.derived import cache_for
    from taxreport.prices.store import load_table

    kept = None if keep is None else set(keep)
    out: dict[str, Any] = {}
    cache = cache_for(ledger)
    errors: dict[str, TaxreportError] = {}
    todo: list[str] = []
    for year in years:
        summary = cache.lookup(CACHE_NAME, _cache_key(replace(request, year=year)))
        if summary is not None:
            if kept is None or year in kept:
                out[year] = summary
            summary = None
            if advance is not None:
                advance()
            continue
        try:
            if events is None:
                events = _verified_events(ledger)
            if refuse is None:
                ready = []
                refuse = _refusal(ledger, events, request, ready)
            refuse(replace(request, year=year))  # as load_events does
            todo.append(year)
        except TaxreportError as e:
            errors[year] = e
    if asked is not None:
        todo.append(asked)

    def store(year: str, result: YearResult) -> None:
        if year == asked:
            out[year] = asked_as(result) if asked_as is not None and not isinstance(result, TaxreportError) \
                else result
            return
        if isinstance(result, TaxreportError):
            errors[year] = result
        else:
            one = replace(request, year=year)
            with cache.one_writer():  # the year's document, then its summary: by a writer child when the year is
                # big (DerivedCache.later), while this process matches the next year
                if computed is not None:
                    cache.later(partial(computed, one, result), size=len(result.disposals), holds=result)
                cache.later(partial(cache.put, CACHE_NAME, _cache_key(one), result), size=len(result.disposals),
                            holds=result)
            if kept is None or year in kept:
                out[year] = result
        if advance is not None:
            advance()

    if todo:
        try:
            if events is None:
                events = _verified_events(ledger)
            if table is None:
                table = load_table(ledger)
            if hasattr(ledger, "forget_events"):  # only this list holds them now: the pass may free them
                ledger.forget_events()
            stream_request_years(events, table, request, todo, store, reload=lambda: _released(ledger),
                                 ready=ready)
            events = None
        except TaxreportError as e:
            for y in todo:
                if y not in out and y not in errors:
                    store(y, e)
    if strict:
        for year in years:
            if year in errors:
                raise errors[year]
    return {y: out[y] for y in [*years, *([asked] if asked is not None else [])] if y in out}


def _released(ledger: Any) -> list[Event]:
    """The events of ``ledger`` once more, after the one pass let them go (:meth:`Ledger.forget_events`)."""
    return _verified_events(ledger)


def make_pricer(rates: RateTable | Pricer, currency: str, options: dict[str, Any] | None = None,
                years: Sequence[tuple[datetime, datetime]] = ()) -> Pricer:
    """A pricer over ``rates`` with the user's options (``rates`` itself if it is one); ``years``: the tax years'
    UTC ``[start, end)`` whose valuations a new pricer also counts apart (:meth:`Pricer.count_years`)."""
    if isinstance(rates, Pricer):
        return rates
    o = options or {}
    return Pricer(rates, currency, via=tuple(o.get("via", ())), peg=o.get("peg"),
                  lookback_days=int(o.get("rate_lookback_days", 0))).count_years(years)


def year_cutoff(j: Jurisdiction, year: str) -> datetime:
    """The last moment whose events a tax year's computation reads (the year's end plus the country's
    look-ahead, e.g. the UK 30-day rule, plus a day for time zones)."""
    _, year_end = j.year_bounds(year)
    return year_end + timedelta(days=1 + j.policy.lookahead_days)


def _prepared(events: list[Event], j: Jurisdiction, accounts: Sequence[str] | None,
              include_simulated: bool, ready: list[Any] | None = None) -> tuple[Any, list[Event], list[datetime]]:
    """The events a computation reads, the one place for the one-year and the every-year computation (events
    helper, issue #12): simulated accounts out unless asked, basis supplements, own transfers
    (:func:`taxreport.prepare.prepare_events`), gifts given out of the donor's disposals where the country says
    so; and the refusals of ``accounts`` (a simulated account, a country that pools per person, an account with
    no events). Returns the preparation (its notes, simulated accounts), the events and the times of the gifts
    given that are no disposal (each year's note: :func:`taxreport.jurisdictions.gifts.gift_note`). ``ready``: a preparation
    already made of this very list (:func:`_refusal`), taken from it when it is one."""
    from taxreport.jurisdictions.gifts import gifts_for
    from taxreport.prepare import prepare_events

    policy = j.policy
    made = ready.pop() if ready else None
    if made is not None and made[0] is events and made[1] == include_simulated:
        prepared = made[2]
    else:
        prepared = prepare_events(events, include_simulated=include_simulated)
    del made
    events, gifts = gifts_for(prepared.events, policy.gift_is_disposal)  # a US/DE gift is no disposal for the donor
    if accounts and not prepared.included_simulated:
        simulated = [a for a in accounts if a in prepared.simulated]
        if simulated:
            raise InputError(f"{', '.join(simulated)} holds simulated money and is left out of every tax figure; "
                             "add --include-simulated to see it (the report then says SIMULATED)", field="--account")
    if accounts and policy.pooling is Pooling.PERSON:
        # A same-day group (UK) or the ACB pool and superficial-loss test (CA) span every account of
        # the person: a per-account view would drop or misstate mixed disposals, so refuse it.
        raise InputError(f"{j.name} pools each token per person across all accounts (one disposal can mix "
                         f"accounts), so gains cannot be reported per account; run without --account",
                         field="--account")
    if accounts:
        events = events if isinstance(events, list) else list(events)
        seen = {a for e in events for a in e.accounts}
        unknown = [a for a in accounts if a not in seen]
        if unknown:
            raise InputError(f"no events in account(s) {', '.join(unknown)}; known: {', '.join(sorted(seen)) or 'none'}",
                             field="--account")
    return prepared, events, gifts


@in_money_context
def compute_gains_from_events(events: Iterable[Event], rates: RateTable | Pricer, *, jurisdiction: str,
                              year: str, method: str | None = None, accounts: Sequence[str] | None = None,
                              currency: str | None = None, options: dict[str, Any] | None = None) -> YearSummary:
    """The tax year's summary from ``events`` (every year; reversals applied here)."""
    j = jbase.get(jurisdiction)
    policy = j.policy
    opts = dict(options or {})
    cur = (currency or j.currency).upper()
    prepared, events, gifts = _prepared(events if isinstance(events, list) else list(events), j, accounts,
                                 bool(opts.pop("include_simulated", False)))
    if accounts:
        opts["accounts"] = tuple(accounts)
    # the year as the engine's context reads it: its document counts the valuations of its own moments
    income_start, income_end = j.year_bounds(year, opts.get("timezone"))
    pricer = make_pricer(rates, cur, opts, [(income_start, income_end)])
    cutoff = year_cutoff(j, year)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of small acyclic objects: generational GC passes only cost time
    try:
        swaps = SwapStats()
        movements = value_events(events, pricer, until=cutoff, swap_cost=policy.swap_cost, stats=swaps)
        # --- events helper (issue #12): income as income, valued with the same rates ---
        from taxreport.jurisdictions.income import income_of_year

        income = income_of_year(events, pricer, jurisdiction=j.code, start=income_start, end=income_end,
                                rules=policy.income) if policy.income is not None else None
        # --- end events helper ---
        pricer.raise_if_missing()
        opts.setdefault("currency", cur)
        summary = j.compute(movements, year=year, method=method, options=opts)
    finally:
        if gc_was_enabled:
            gc.enable()
    return _finish(summary, j, cur, opts, accounts, pricer, swaps, income, prepared.notes, gifts,
                   (income_start, income_end))


def _finish(summary: YearSummary, j: Jurisdiction, cur: str, opts: Mapping[str, Any], accounts: Sequence[str] | None,
            pricer: Pricer, swaps: SwapStats, income: Any, event_notes: Sequence[str], gifts: Sequence[datetime],
            within: tuple[datetime, datetime]) -> YearSummary:
    """The notes and fields every year's summary gets after the engine (one place for the one-year and the
    multi-year computation); ``within``: the year's UTC ``[start, end)``, whose valuations its rate notes count
    (all of the pricer's if it was handed in without the year counted), and its gift note the gifts given in it
    (``gifts``: their times)."""
    from taxreport.jurisdictions.gifts import gift_note

    summary.timezone = str(opts.get("timezone") or j.timezone)
    if cur != j.currency:
        summary.notes.append(Note(f"amounts are in {cur}, not {j.currency} as {j.name} requires (--currency)",
                                  "currency"))
        summary.currency = cur
    if accounts:
        summary.notes.append(Note(f"only disposals in {', '.join(sorted(accounts))} are reported; lots were matched "
                                  "over all accounts; thresholds and allowances apply to the whole taxpayer",
                                  "accounts"))
    summary.notes[:0] = notes_of(pricer.notes(within if pricer.bounds else None) + swaps.notes(within), "price")
    summary.income = income  # events helper (issue #12)
    gift = gift_note(gifts, j.name, *within)
    # the SIMULATED banner keeps its code (prepare.py)
    summary.notes[:0] = notes_of([*event_notes, *([gift] if gift else [])], "events")
    return summary


@in_money_context
def _years_from_events(events: list[Event], rates: RateTable, requests: Sequence[GainsRequest],
                       each: Callable[[int, YearSummary | None], object],
                       release: Callable[[], object] | None = None, ready: list[Any] | None = None) -> None:
    """:func:`compute_gains_from_events` of each of ``requests`` (one per tax year, in time order; they differ
    only in ``year`` and ``selections``) from ONE preparation, ONE valuation (up to the last year's cutoff) and
    one matching (:meth:`Jurisdiction.compute_years`), handed to ``each(i, summary)`` one year at a time, in
    order (so only one year's summary need be held). Year *i* is equal to its own one-year computation, or
    None where that cannot be shown or its own computation would fail (the caller computes it alone):

    * its events are those before its cutoff; the one valuation values them first only when they are a prefix
      of the events before the last cutoff (a ledger in time order; not one with older rows appended later);
    * the rate notes, swap counts and missing rates are the pricer's state at that prefix's end
      (:meth:`Pricer.state`), its income is valued from there, as the one-year computation does;
    * a missing rate, a matching problem or a refused assessment of that year: None.

    ``release()`` is called once the events are valued (and the income read from them), after this function
    has dropped its own references to them: the caller may then free them while the years are matched."""
    last = requests[-1]
    j = jbase.get(last.jurisdiction)
    policy = j.policy
    options = [r.engine_options() for r in requests]
    include_simulated = bool(options[-1].get("include_simulated", False))
    for o in options:
        o.pop("include_simulated", None)
    accounts = list(last.accounts) or None
    cur = (last.currency or j.currency).upper()
    # --- as compute_gains_from_events (same checks, same order, same notes) ---
    from taxreport.jurisdictions.income import income_of_year
    from taxreport.model.events import Reversal
    from taxreport.model.legs import effective_events

    prepared, events, gifts = _prepared(events, j, accounts, include_simulated, ready)
    if accounts:
        for o in options:
            o["accounts"] = tuple(accounts)
    bounds = [j.year_bounds(r.year, o.get("timezone")) for r, o in zip(requests, options)]
    pricer = make_pricer(rates, cur, options[-1], bounds)
    cutoffs = [year_cutoff(j, r.year) for r in requests]
    items = events if isinstance(events, list) else list(events)
    if any(type(e) is Reversal for e in items):
        items = effective_events(items)
    last_cut = cutoffs[-1]
    # the events before each cutoff: the first n of ``items`` (else that year is computed alone)
    counts: list[int | None] = []
    times = list(map(attrgetter("time"), items))
    if in_time_order(times):  # (nearly always) prefixes by bisection, at C
        items = items[:bisect_left(times, last_cut)]  # speed (the loops below: ~0.35 s at 1M trades)
        counts.extend(bisect_left(times, cutoff) for cutoff in cutoffs[:-1])
    else:
        items = [e for e in items if e.time < last_cut]
        for cutoff in cutoffs[:-1]:
            n = 0
            for e in items:  # stop at the first event past the cutoff
                if e.time >= cutoff:
                    break
                n += 1
            counts.append(n if all(e.time >= cutoff for e in items[n:]) else None)
    del times
    counts.append(len(items))
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of small acyclic objects: generational GC passes only cost time
    try:
        swaps = SwapStats()
        movements: list[Any] = []
        at: dict[int, tuple[Any, tuple[int, int, int], int]] = {}  # events valued -> pricer state, swaps, movements
        done = 0
        for n in sorted({c for c in counts if c is not None}):
            movements.extend(value_event_list(items[done:n], pricer, policy.swap_cost, swaps))
            done = n
            at[n] = (pricer.state(), (swaps.by_rule, swaps.by_fallback, len(swaps.fallback_times)), len(movements))
        years: list[int] = []  # the requests computed in one pass
        year_pricers: dict[int, tuple[Pricer, SwapStats, Any]] = {}
        for i, (opts, count) in enumerate(zip(options, counts)):
            if count is None:
                continue
            state, (by_rule, by_fallback, fallbacks), _ = at[count]
            year_pricer = pricer.resumed(state)
            income = None
            if policy.income is not None:
                start, end = bounds[i]
                income = income_of_year(events, year_pricer, jurisdiction=j.code, start=start, end=end,
                                        rules=policy.income)
            if year_pricer.missing:
                continue  # its own computation raises the missing rates
            opts.setdefault("currency", cur)
            years.append(i)
            year_pricers[i] = (year_pricer, SwapStats(by_rule, by_fallback, swaps.fallback_times[:fallbacks]), income)
        event_notes = prepared.notes
        if release is not None:  # valued: only the movements are matched from here
            del events, items, prepared
            release()
        summaries = j.compute_years(
            movements, years=[requests[i].year for i in years], counts=[at[counts[i]][2] for i in years],  # type: ignore[index]
            cutoffs=[cutoffs[i] for i in years], method=last.method, options=[options[i] for i in years])
        del movements  # the matching holds them only as long as it needs them (compute_years)
        for i in range(len(requests)):
            summary = next(summaries) if i in year_pricers else None
            if summary is not None:
                year_pricer, year_swaps, income = year_pricers.pop(i)
                summary = _finish(summary, j, cur, options[i], accounts, year_pricer, year_swaps, income,
                                  event_notes, gifts, bounds[i])
            each(i, summary)
            del summary
    finally:
        if gc_was_enabled:
            gc.enable()


def compute_gains(ledger: Any, *, jurisdiction: str, year: str, method: str | None = None,
                  accounts: Sequence[str] | None = None, currency: str | None = None,
                  options: dict[str, Any] | None = None) -> YearSummary:
    """:func:`compute_gains_from_events` over the ledger's events (:func:`load_events`) and its rate store."""
    from taxreport.prices.store import load_table

    events = load_events(ledger)
    from taxreport.review import refuse_blocking  # events helper (issue #12): blocking review items stop the year

    refuse_blocking(ledger, events, jurisdiction=jurisdiction, year=year, options=options, verify=False)
    return compute_gains_from_events(events, load_table(ledger), jurisdiction=jurisdiction, year=year,
                                     method=method, accounts=accounts, currency=currency, options=options)
