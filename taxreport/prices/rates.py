"""Exchange rates in memory and the one lookup rule the tax engine uses to value anything.

A rate row says: 1 ``base`` = ``rate`` ``quote`` at ``time`` (UTC), from ``source``.

**Which rate values a moment** (the documented rule):

* The rate used for a moment ``t`` is the **latest stored rate at or before ``t`` on the same UTC
  calendar day**. A daily rate imported from a date-only CSV (or the ECB file) is stored at 00:00 UTC of
  its date, so it values every moment of that UTC day. ``prices fetch`` stores each candle's *close* at
  the candle's *end* time, so a daily close of day D values moments of day D+1 (the last price known
  at ``t``; never a price from the future).
* Nothing older is used unless the user asks for it with ``lookback_days`` (``--rate-lookback N``):
  then the latest rate within the N previous UTC days is accepted (e.g. ECB rates over a weekend).
  The report's notes say so.
* If the pair is not stored directly, its **inverse** is used (EUR->USD = 1 / USD->EUR), then a
  **one-hop cross** through each intermediate the user names, in order (``via=("USD",)``:
  USDT->GBP = USDT->USD x USD->GBP; each hop may itself be inverted).
* A **stablecoin peg** (``USDT = USD`` 1:1) is used **only** when the user passes it (``peg``); the
  report's notes say so. There is no built-in peg.
* A missing rate is **never** guessed or zero: :class:`Pricer` records every missing
  ``(pair, UTC date)`` and :meth:`Pricer.raise_if_missing` raises one
  :class:`~taxreport.errors.MissingDataError` listing all of them.

**What a tax year's note counts**: ``rates: ROUTE (N valuation(s))`` counts the valuations whose moment lies in
the tax year (:meth:`Pricer.count_years`, the year's UTC ``[start, end)`` as the engine's context gives it): a year's
computation values every event from the ledger's first one to its cutoff (earlier years for the lots, the UK's
30 days after the year for its matching rules), but its document speaks of its own valuations.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from taxreport.errors import MissingDataError

ONE = Decimal(1)
UTC = timezone.utc
DAY = timedelta(days=1)


class RateTable:
    """Rates per pair, sorted by time; pure and read-only once built."""

    def __init__(self) -> None:
        self._times: dict[tuple[str, str], list[datetime]] = {}
        self._values: dict[tuple[str, str], list[tuple[Decimal, str]]] = {}

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, datetime, Decimal, str]]) -> "RateTable":
        """Build from ``(base, quote, time, rate, source)``. Several sources at one time: the
        source name sorting first wins (deterministic)."""
        grouped: dict[tuple[str, str], dict[datetime, tuple[Decimal, str]]] = defaultdict(dict)
        for base, quote, time, rate, source in rows:
            slot = grouped[(base, quote)]
            old = slot.get(time)
            if old is None or source < old[1]:
                slot[time] = (rate, source)
        table = cls()
        for pair, by_time in grouped.items():
            times = sorted(by_time)
            table._times[pair] = times
            table._values[pair] = [by_time[t] for t in times]
        return table

    def pairs(self) -> list[tuple[str, str]]:
        return sorted(self._times)

    def __len__(self) -> int:
        return sum(len(t) for t in self._times.values())

    def direct(self, base: str, quote: str, moment: datetime, lookback_days: int = 0
               ) -> tuple[Decimal, str, datetime] | None:
        """``(rate, source, rate time)`` of the stored pair for ``moment`` (rule in the module doc)."""
        times = self._times.get((base, quote))
        if not times:
            return None
        i = bisect_right(times, moment) - 1
        if i < 0:
            return None
        found = times[i]
        if (moment.date() - found.date()).days > lookback_days:
            return None
        rate, source = self._values[(base, quote)][i]
        return rate, source, found

    def direct_span(self, base: str, quote: str, moment: datetime, lookback_days: int = 0
                    ) -> tuple[tuple[Decimal, str, datetime] | None, datetime | None, datetime | None]:
        """:meth:`direct` and the span ``[lo, hi)`` of moments (None: unbounded) over which it gives the same
        answer for any moment of ``moment``'s date: the stored times around ``moment`` (the answer depends only
        on which stored time is the latest at or before the moment, and on the moment's date)."""
        times = self._times.get((base, quote))
        if not times:
            return None, None, None
        i = bisect_right(times, moment) - 1
        hi = times[i + 1] if i + 1 < len(times) else None
        if i < 0:
            return None, None, hi
        found = times[i]
        if (moment.date() - found.date()).days > lookback_days:
            return None, found, hi
        rate, source = self._values[(base, quote)][i]
        return (rate, source, found), found, hi


class Pricer:
    """Values amounts in ``currency`` at moments, using a :class:`RateTable`; collects every gap.

    ``via``: intermediates for one-hop crossing, tried in order. ``peg``: asset -> asset treated as
    equal 1:1 (only what the user asked for). ``lookback_days``: see the module docstring.
    """

    def __init__(self, table: RateTable, currency: str, *, via: Sequence[str] = (),
                 peg: Mapping[str, str] | None = None, lookback_days: int = 0) -> None:
        self.table = table
        self.currency = currency
        self.via = tuple(via)
        self.peg = dict(peg or {})
        self.lookback_days = lookback_days
        self.missing: set[tuple[str, str, date]] = set()
        self.used: dict[str, int] = defaultdict(int)  # description of the route -> count
        self.pegs_used: set[str] = set()
        self._last: tuple[str, datetime] | None = None  # one-entry cache: a trade values one moment
        self._last_rate: Decimal | None = None
        self._routes: dict[tuple[str, str, str, bool], str] = {}
        # asset -> (date, lo, hi, rate, route, pegged, gaps): the last resolution of the asset, valid for the moments
        # of that UTC date in [lo, hi) (None: unbounded), where every stored rate it consulted is the same
        self._memo: dict[str, tuple[date, datetime | None, datetime | None, Decimal | None, str | None, bool,
                                    tuple[tuple[str, str, date], ...]]] = {}
        self._lo: datetime | None = None  # the span of the resolution under way (:meth:`_pair`)
        self._hi: datetime | None = None
        # the tax years' bounds (:meth:`count_years`) and the route counts per year: (index, route) -> count, where
        # index ``i`` is the span ``[bounds[i - 1], bounds[i])`` of the moments valued
        self.bounds: tuple[datetime, ...] = ()
        self.used_in: dict[tuple[int, str], int] = defaultdict(int)

    def count_years(self, years: Iterable[tuple[datetime, datetime]]) -> "Pricer":
        """Count the routes also per tax year (each ``[start, end)`` in UTC), for :meth:`notes` ``within`` one
        of them; call it before anything is valued. Returns this pricer."""
        self.bounds = tuple(sorted({b for year in years for b in year}))
        return self

    # --- public -----------------------------------------------------------------------------
    def value(self, asset: str, quantity: Decimal, moment: datetime) -> Decimal:
        """``quantity`` of ``asset`` in the currency at ``moment``; a gap records and returns 0 (the
        caller must call :meth:`raise_if_missing` before using any result)."""
        if not quantity:
            return Decimal(0)
        if asset == self.currency:
            return quantity
        rate = self.rate(asset, moment)
        return quantity * rate if rate is not None else Decimal(0)

    def known_value(self, asset: str, quantity: Decimal, moment: datetime) -> Decimal | None:
        """Like :meth:`value`, but a gap returns ``None`` and is **not** recorded: for rules with a
        documented fallback (a crypto-to-crypto swap valued by the side given up)."""
        if not quantity:
            return Decimal(0)
        if asset == self.currency:
            return quantity
        missing, self.missing = self.missing, set()
        try:
            rate = self.rate(asset, moment)
        finally:
            self.missing = missing
        return quantity * rate if rate is not None else None

    def rate(self, asset: str, moment: datetime) -> Decimal | None:
        key = (asset, moment)
        if key == self._last:
            return self._last_rate
        result = self._resolve(asset, moment)
        self._last, self._last_rate = key, result
        return result

    def raise_if_missing(self) -> None:
        if not self.missing:
            return
        lines = [f"{b}->{q} on {d.isoformat()}" for b, q, d in sorted(self.missing)]
        raise MissingDataError(
            f"{len(lines)} missing rate(s); import them with 'taxreport prices import' or "
            f"'taxreport prices fetch' (or name an intermediate with --via, or a peg with --peg):\n  "
            + "\n  ".join(lines))

    def notes(self, within: tuple[datetime, datetime] | None = None) -> list[str]:
        """The notes of what was valued; ``within``: a tax year given to :meth:`count_years`, whose route lines
        count the valuations of moments in it only (a route it did not use has none; the peg and rule lines
        speak of every valuation, the earlier years' lots the year's gains are computed from included)."""
        out = []
        for asset in sorted(self.pegs_used):
            out.append(f"assumed peg (asked for by the user): 1 {asset} = 1 {self.peg[asset]}")
        used: Mapping[str, int] = self.used
        if within is not None:
            index = bisect_right(self.bounds, within[0])
            if self.bounds[index - 1:index + 1] != within:
                raise ValueError(f"{within} is not one of the years counted (count_years)")
            used = {route: n for (i, route), n in self.used_in.items() if i == index}
        for route, count in sorted(used.items()):
            out.append(f"rates: {route} ({count} valuation(s))")
        if self.lookback_days:
            out.append(f"rates up to {self.lookback_days} day(s) old were accepted (--rate-lookback)")
        if self.used:
            out.append("rate rule: latest rate at or before each moment on the same UTC day")
        return out

    def state(self) -> tuple[frozenset[tuple[str, str, date]], dict[str, int], frozenset[str],
                             tuple[str, datetime] | None, Decimal | None, dict[tuple[int, str], int]]:
        """What this pricer has recorded so far (gaps, routes and their counts, pegs, the one-entry cache):
        :meth:`resumed` continues from it. A multi-year computation values the ledger once and takes each
        year's state at that year's cutoff (:func:`taxreport.gains.compute_request_years`), so each year's
        notes and gaps are exactly those of a valuation that stopped there."""
        return (frozenset(self.missing), dict(self.used), frozenset(self.pegs_used), self._last, self._last_rate,
                dict(self.used_in))

    def resumed(self, state: tuple[frozenset[tuple[str, str, date]], dict[str, int], frozenset[str],
                                   tuple[str, datetime] | None, Decimal | None, dict[tuple[int, str], int]]
                ) -> "Pricer":
        """A pricer over the same table, options and years counted, in ``state`` (from :meth:`state`)."""
        other = Pricer(self.table, self.currency, via=self.via, peg=self.peg, lookback_days=self.lookback_days)
        other.bounds = self.bounds
        missing, used, pegs, other._last, other._last_rate, used_in = state
        other.missing = set(missing)
        other.used.update(used)
        other.used_in.update(used_in)
        other.pegs_used = set(pegs)
        return other

    def spans(self) -> "RateSpans":
        """A session of :class:`RateSpan` s over this pricer, for a caller that asks the rate of the same asset at
        many moments (:func:`taxreport.lots.valuation.value_event_list`); see :class:`RateSpans`."""
        return RateSpans(self)

    # --- resolution -------------------------------------------------------------------------
    def _resolve(self, asset: str, moment: datetime) -> Decimal | None:
        """The rate of ``asset`` at ``moment`` with its side effects (route counted, peg noted, gaps recorded).

        A resolution depends on the moment only through which stored time of each pair it consults is the latest
        at or before the moment, and through the moment's date (the same-day rule, the gaps' dates). So the last
        resolution of each asset is kept with the span of moments of its date over which all of those are the same
        (issue 14: one resolution per asset and day for daily rates, instead of one per leg); a moment inside it
        gets the same rate and the same side effects, replayed (``tests/test_rates_memo.py``)."""
        day = moment.date()
        memo = self._memo.get(asset)
        if memo is not None and memo[0] == day and (memo[1] is None or memo[1] <= moment) \
                and (memo[2] is None or moment < memo[2]):
            result, route, pegged, gaps = memo[3], memo[4], memo[5], memo[6]
        else:
            self._lo = self._hi = None
            result, route, pegged, gaps = self._lookup(asset, moment)
            self._memo[asset] = (day, self._lo, self._hi, result, route, pegged, gaps)
        if pegged:
            self.pegs_used.add(asset)
        if route is not None:
            self.used[route] += 1
            if self.bounds:
                self.used_in[(bisect_right(self.bounds, moment), route)] += 1
        if gaps:
            self.missing.update(gaps)
        return result

    def _lookup(self, asset: str, moment: datetime
                ) -> tuple[Decimal | None, str | None, bool, tuple[tuple[str, str, date], ...]]:
        """``(rate, route counted, peg used, gaps)`` of ``asset`` at ``moment`` (the rule in the module docstring),
        narrowing ``_lo``/``_hi`` to the span over which each pair consulted gives the same answer."""
        target = self.currency
        pegged = False
        if asset in self.peg:
            pegged = True
            asset = self.peg[asset]
            if asset == target:
                return ONE, None, True, ()
        hit = self._pair(asset, target, moment)
        if hit is not None:
            rate, route = hit
            return rate, route, pegged, ()
        for mid in self.via:
            if mid in (asset, target):
                continue
            first = self._pair(asset, mid, moment)
            second = self._pair(mid, target, moment)
            if first is not None and second is not None:
                return (first[0] * second[0], f"{asset}->{target} crossed via {mid}: {first[1]} x {second[1]}",
                        pegged, ())
        day = moment.date()
        gaps = [(asset, target, day)]
        for mid in self.via:  # name the hops that are missing too, so the user knows what to import
            if mid not in (asset, target):
                if self._pair(asset, mid, moment) is None:
                    gaps.append((asset, mid, day))
                if self._pair(mid, target, moment) is None:
                    gaps.append((mid, target, day))
        return None, None, pegged, tuple(gaps)

    def _pair(self, base: str, quote: str, moment: datetime) -> tuple[Decimal, str] | None:
        hit = self._direct(base, quote, moment)
        if hit is not None:
            return hit[0], self._route(base, quote, hit[1], False)
        hit = self._direct(quote, base, moment)
        if hit is not None:
            return ONE / hit[0], self._route(base, quote, hit[1], True)
        return None

    def _direct(self, base: str, quote: str, moment: datetime) -> tuple[Decimal, str, datetime] | None:
        """:meth:`RateTable.direct`, narrowing the span of the resolution under way to where it gives the same."""
        hit, lo, hi = self.table.direct_span(base, quote, moment, self.lookback_days)
        if lo is not None and (self._lo is None or lo > self._lo):
            self._lo = lo
        if hi is not None and (self._hi is None or hi < self._hi):
            self._hi = hi
        return hit

    def _route(self, base: str, quote: str, source: str, inverse: bool) -> str:
        """The route's description (one string per pair, source and direction, built once)."""
        key = (base, quote, source, inverse)
        found = self._routes.get(key)
        if found is None:
            found = self._routes[key] = (f"{base}/{quote} = 1/({quote}/{base} from {source})" if inverse
                                         else f"{base}/{quote} from {source}")
        return found


class RateSpan:
    """A moment span ``[lo, hi)`` of one UTC day over which :meth:`Pricer.rate` of ``asset`` gives ``rate`` with
    the same side effects: ``route`` counted once per question (none if ``None``), its peg and gaps (recorded by the
    call that opened the span; recording them again changes nothing). ``count``: the questions answered from the
    span since it was opened, not yet added to the pricer's route counts (:meth:`RateSpans.close` adds them)."""

    __slots__ = ("asset", "lo", "hi", "rate", "route", "count", "year")

    def __init__(self, asset: str, lo: datetime, hi: datetime, rate: Decimal | None, route: str | None,
                 year: int = 0) -> None:
        self.asset, self.lo, self.hi, self.rate, self.route = asset, lo, hi, rate, route
        self.count = 0
        self.year = year  # the index of the pricer's counted year (:meth:`Pricer.count_years`) the span lies in


class RateSpans:
    """The rates of a pricer, replayed per span of moments (issue 14, round 6).

    :meth:`Pricer._resolve` keeps one resolution per asset with the span of moments of its UTC date over which it
    holds; a million trades against USD reported in GBP still paid for two calls, a tuple, a ``date()`` and four
    comparisons per trade to replay it. A caller holding a session asks :meth:`get` for the span of an asset that
    holds a moment (two comparisons once it has it) and counts the question on the span itself; where no span
    holds the moment it asks the pricer (:meth:`Pricer.rate`, every side effect recorded there) and
    :meth:`opened` turns the pricer's resolution into the span. The session also carries the pricer's one-entry
    cache (``_last``: an ``(asset, moment)`` asked twice in a row is answered without a side effect): :meth:`last`
    reads it, :meth:`hand_over` writes it back before the pricer is asked anything. :meth:`close` adds the
    counts to the pricer's routes (each route is already in them: the span was opened by a real question, so
    the routes keep the order they were first used in) and ends the session: the pricer is then exactly as the
    same questions asked of it one by one would have left it (``tests/test_valuation_spans.py``)."""

    __slots__ = ("_pricer", "_spans")

    def __init__(self, pricer: Pricer) -> None:
        self._pricer = pricer
        self._spans: dict[str, RateSpan] = {}

    def last(self) -> tuple[str | None, datetime | None, Decimal | None]:
        """The pricer's one-entry cache: ``(asset, moment, rate)``, or ``None`` three times when it is empty."""
        key = self._pricer._last
        if key is None:
            return None, None, None
        return key[0], key[1], self._pricer._last_rate

    def hand_over(self, asset: str | None, moment: datetime | None, rate: Decimal | None) -> None:
        """Write the one-entry cache back (unchanged if ``asset`` is ``None``: nothing was asked)."""
        if asset is not None:
            self._pricer._last = (asset, moment)  # type: ignore[assignment]
            self._pricer._last_rate = rate

    def get(self, asset: str, moment: datetime) -> RateSpan | None:
        """The span of ``asset`` holding ``moment``, else ``None`` (then ask the pricer, and :meth:`opened`)."""
        span = self._spans.get(asset)
        if span is not None and moment.tzinfo is UTC and span.lo <= moment < span.hi:
            return span
        return None

    def opened(self, asset: str, moment: datetime) -> RateSpan | None:
        """The span of the resolution the pricer has just made (or replayed) for ``asset`` at ``moment``
        (:meth:`Pricer.rate` was asked, and did not answer from its one-entry cache); ``None`` if there is none to
        open (a moment not in UTC: its date is not the UTC date the day's bounds below are drawn from)."""
        memo = self._pricer._memo.get(asset)
        if memo is None or moment.tzinfo is not UTC:
            return None
        day, lo, hi, rate, route = memo[0], memo[1], memo[2], memo[3], memo[4]
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        end = start + DAY
        lo = start if lo is None or lo < start else lo
        hi = end if hi is None or hi > end else hi
        if day != moment.date() or not lo <= moment < hi:  # not the resolution of this moment: open nothing
            return None
        year, bounds = 0, self._pricer.bounds
        if bounds:  # a span lies in one counted year (a year may start mid-day in UTC: AU, 1 July in Sydney)
            year = bisect_right(bounds, moment)
            lo = bounds[year - 1] if year and lo < bounds[year - 1] else lo
            hi = bounds[year] if year < len(bounds) and hi > bounds[year] else hi
        old = self._spans.get(asset)
        if old is not None:
            self._add(old)
        span = self._spans[asset] = RateSpan(asset, lo, hi, rate, route, year)
        return span

    def close(self) -> None:
        """Add every span's count to the pricer's route counts; the session ends (no span is kept)."""
        for span in self._spans.values():
            self._add(span)
        self._spans.clear()

    def _add(self, span: RateSpan) -> None:
        if span.count:
            if span.route is not None:
                self._pricer.used[span.route] += span.count
                if self._pricer.bounds:
                    self._pricer.used_in[(span.year, span.route)] += span.count
            span.count = 0
