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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Sequence

from taxreport.errors import InputError, LedgerError
from taxreport.jurisdictions import base as jbase
from taxreport.jurisdictions.base import Note, Pooling, YearSummary, notes_of
from taxreport.jurisdictions.engine import Jurisdiction
from taxreport.lots.valuation import SwapStats, value_events
from taxreport.model.events import Event
from taxreport.prices.rates import Pricer, RateTable

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
    from taxreport.review import refuse_blocking

    refuse_blocking(ledger, events, jurisdiction=request.jurisdiction, year=request.year,
                    options=request.engine_options(), verify=False)


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


# A ledger this large waits for its state to settle (at most a second) before a one-year call, so the other
# years it computes on a miss can be stored; a smaller one is computed in well under that.
FILL_MIN_ROWS = 20_000
CACHE_NAME = "gains_for"  # the derived cache's name of a tax year's summary (one entry per year and request)


def _cache_key(request: GainsRequest) -> dict[str, str]:
    return {"request": repr(request)}


YearHook = Callable[[GainsRequest, YearSummary], object]


def gains_for(ledger: Any, request: GainsRequest, *, each_year: YearHook | None = None) -> YearSummary:
    """The tax year's summary from a ledger: :func:`load_events`, its rate store, the engine. Computed once
    per verified ledger state and request (:mod:`taxreport.ledger.derived`: a repeated call on an unchanged
    ledger reads the stored summary without walking the chain again).

    On a miss, **every** tax year of the ledger is computed from that one read of the ledger (the chain walked
    once, the rates loaded once) and each is stored under the key its own one-year call uses, so the next
    ``gains``/``export`` of another year (same country, method and options) is a hit. The other years are
    computed and stored one at a time, before the year asked for, so at most one other year's summary is held
    beside the events. A year that cannot be computed (blocking review items, missing rates) is not stored
    and is left to its own call to report; the year asked for reports its error as before. ``each_year(request,
    summary)`` is called, inside the ledger's pin, for each other year computed that way (the ``gains`` command
    stores each year's ``--format json`` document with it: :meth:`DerivedCache.put_bytes`)."""
    from taxreport.prices.store import load_table

    if not hasattr(ledger, "engine"):  # not a taxreport Ledger: nothing to key on
        return compute_request(load_events(ledger, request), load_table(ledger), request)
    from taxreport import progress
    from taxreport.ledger.derived import cache_for, wait_until_settled

    if getattr(ledger, "_pin", None) is None and ledger.head()[0] >= FILL_MIN_ROWS:
        wait_until_settled(ledger)  # right after an import: at most a second, so the years computed are kept
    with ledger.pinned():
        cache = cache_for(ledger)
        hit = cache.lookup(CACHE_NAME, _cache_key(request))
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        cache.misses += 1
        with progress.step(f"Computing {request.jurisdiction.upper()} {request.year}", ledger.head()[0]):
            events = load_events(ledger, request)  # the year asked for is refused first if it is blocked
            table = load_table(ledger)
            if cache.pinned_state() is not None:  # the other years are worth computing only if they are kept
                others = [y for y in _ledger_years(ledger, request) if y != request.year]
                _fill_years(ledger, events, table, request, others, keep=(), strict=False, computed=each_year)
            summary = compute_request(events, table, request)
            del events
            cache.put(CACHE_NAME, _cache_key(request), summary)
        return summary


def _ledger_years(ledger: Any, request: GainsRequest) -> list[str]:
    from taxreport.gains_years import ledger_years

    return ledger_years(ledger, request)


def gains_for_years(ledger: Any, request: GainsRequest, years: Sequence[str], *,
                    advance: Callable[[], object] | None = None) -> dict[str, YearSummary]:
    """:func:`gains_for` of each of ``years`` (``request.year`` ignored) from one read of the ledger: each year
    is read from the derived cache, or computed over the events and rates loaded once and stored there.
    Exports that write several years can call this (one walk of the chain for all of them)."""
    with ledger.pinned():
        return _fill_years(ledger, None, None, request, years, keep=None, strict=True, advance=advance)


def _fill_years(ledger: Any, events: list[Event] | None, table: RateTable | None, request: GainsRequest,
                years: Sequence[str], *, keep: Iterable[str] | None, strict: bool,
                advance: Callable[[], object] | None = None, computed: YearHook | None = None
                ) -> dict[str, YearSummary]:
    """Each of ``years`` from the cache or computed and stored (inside the ledger's pin). Returns the summaries
    of ``keep`` (every year when None; the others are dropped once stored, to bound memory).
    ``strict=False``: a year whose computation fails is skipped (not stored) instead of raising."""
    from dataclasses import replace

    from taxreport.errors import TaxreportError
    from taxreport.ledger.derived import cache_for
    from taxreport.prices.store import load_table

    kept = None if keep is None else set(keep)
    out: dict[str, YearSummary] = {}
    cache = cache_for(ledger)
    for year in years:
        one = replace(request, year=year)
        summary = cache.lookup(CACHE_NAME, _cache_key(one))
        if summary is None:
            try:
                if events is None:
                    events = _verified_events(ledger)
                _refuse_blocked(ledger, events, one)  # as load_events does
                if table is None:
                    table = load_table(ledger)
                summary = compute_request(events, table, one)
            except TaxreportError:
                if strict:
                    raise
                continue
            cache.put(CACHE_NAME, _cache_key(one), summary)
            if computed is not None:
                computed(one, summary)
        if kept is None or year in kept:
            out[year] = summary
        summary = None
        if advance is not None:
            advance()
    return out


def make_pricer(rates: RateTable | Pricer, currency: str, options: dict[str, Any] | None = None) -> Pricer:
    if isinstance(rates, Pricer):
        return rates
    o = options or {}
    return Pricer(rates, currency, via=tuple(o.get("via", ())), peg=o.get("peg"),
                  lookback_days=int(o.get("rate_lookback_days", 0)))


def year_cutoff(j: Jurisdiction, year: str) -> datetime:
    """The last moment whose events a tax year's computation reads (the year's end plus the country's
    look-ahead, e.g. the UK 30-day rule, plus a day for time zones)."""
    _, year_end = j.year_bounds(year)
    return year_end + timedelta(days=1 + j.policy.lookahead_days)


def compute_gains_from_events(events: Iterable[Event], rates: RateTable | Pricer, *, jurisdiction: str,
                              year: str, method: str | None = None, accounts: Sequence[str] | None = None,
                              currency: str | None = None, options: dict[str, Any] | None = None) -> YearSummary:
    """The tax year's summary from ``events`` (every year; reversals applied here)."""
    j = jbase.get(jurisdiction)
    policy = j.policy
    opts = dict(options or {})
    cur = (currency or j.currency).upper()
    # --- events helper (issue #12): simulated accounts out unless asked, basis supplements, own transfers ---
    from taxreport.jurisdictions.gifts import gifts_for
    from taxreport.prepare import prepare_events

    prepared = prepare_events(events if isinstance(events, list) else list(events),
                              include_simulated=bool(opts.pop("include_simulated", False)))
    events, gifts = gifts_for(prepared.events, policy.gift_is_disposal)  # a US/DE gift is no disposal for the donor
    if gifts:
        prepared.notes.append(f"{gifts} gift(s) given: no disposal for the donor in {j.name} (the lots leave "
                              "without gain or loss; see taxreport/jurisdictions/gifts.py)")
    if accounts and not prepared.included_simulated:
        simulated = [a for a in accounts if a in prepared.simulated]
        if simulated:
            raise InputError(f"{', '.join(simulated)} holds simulated money and is left out of every tax figure; "
                             "add --include-simulated to see it (the report then says SIMULATED)", field="--account")
    # --- end events helper ---
    if accounts and policy.pooling is Pooling.PERSON:
        # A same-day group (UK) or the ACB pool and superficial-loss test (CA) span every account of
        # the person: a per-account view would drop or misstate mixed disposals, so refuse it.
        raise InputError(f"{j.name} pools each token per person across all accounts (one disposal can mix "
                         f"accounts), so gains cannot be reported per account; run without --account",
                         field="--account")
    if accounts:
        opts["accounts"] = tuple(accounts)
        events = events if isinstance(events, list) else list(events)
        seen = {a for e in events for a in e.accounts}
        unknown = [a for a in accounts if a not in seen]
        if unknown:
            raise InputError(f"no events in account(s) {', '.join(unknown)}; known: {', '.join(sorted(seen)) or 'none'}",
                             field="--account")
    pricer = make_pricer(rates, cur, opts)
    cutoff = year_cutoff(j, year)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of small acyclic objects: generational GC passes only cost time
    try:
        swaps = SwapStats()
        movements = value_events(events, pricer, until=cutoff, swap_cost=policy.swap_cost, stats=swaps)
        # --- events helper (issue #12): income as income, valued with the same rates ---
        from taxreport.jurisdictions.income import income_of_year

        income_start, income_end = j.year_bounds(year, opts.get("timezone"))
        income = income_of_year(events, pricer, jurisdiction=j.code, start=income_start, end=income_end,
                                rules=policy.income) if policy.income is not None else None
        # --- end events helper ---
        pricer.raise_if_missing()
        opts.setdefault("currency", cur)
        summary = j.compute(movements, year=year, method=method, options=opts)
    finally:
        if gc_was_enabled:
            gc.enable()
    summary.timezone = str(opts.get("timezone") or j.timezone)
    if cur != j.currency:
        summary.notes.append(Note(f"amounts are in {cur}, not {j.currency} as {j.name} requires (--currency)",
                                  "currency"))
        summary.currency = cur
    if accounts:
        summary.notes.append(Note(f"only disposals in {', '.join(sorted(accounts))} are reported; lots were matched "
                                  "over all accounts; thresholds and allowances apply to the whole taxpayer",
                                  "accounts"))
    summary.notes[:0] = notes_of(pricer.notes() + swaps.notes(), "price")
    summary.income = income  # events helper (issue #12)
    summary.notes[:0] = notes_of(prepared.notes, "events")  # the SIMULATED banner keeps its code (prepare.py)
    return summary


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
