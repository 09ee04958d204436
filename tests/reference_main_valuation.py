"""main's valuation at 507e35c, verbatim: :class:`Pricer` (taxreport/prices/rates.py, lines 102-285) and
``_consideration``, ``value_legs``, ``value_event_list`` (taxreport/lots/valuation.py, lines 98-256), copied
byte for byte, for ``tests/test_valuation_spans.py`` to compare this branch's code with (issue 14, round 6:
the rate spans of ``value_event_list`` and the twin-class record makers).

Only the imports are this file's own: the record makers are bound to the dataclasses themselves
(``make_acquisition = Acquisition``: the class called positionally builds what a maker must build), and
``SwapCost``/``SwapStats``/``RateTable`` are the package's (unchanged by that work; the callers pass them).
Never edit the copied code: recopy it from main's history if it must change.
"""
# ruff: noqa
# mypy: ignore-errors

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from taxreport.errors import MissingDataError
from taxreport.lots.types import Acquisition, Disposal, Move, Movement
from taxreport.lots.valuation import SwapCost, SwapStats
from taxreport.model.assets import FIAT
from taxreport.model.events import Event, Side, Trade
from taxreport.model.legs import Leg, LegKind, _require_positive, event_legs
from taxreport.prices.rates import RateTable

ONE = Decimal(1)
ZERO = Decimal(0)
ACQUIRE, DISPOSE, MOVE_OUT, MOVE_IN = LegKind.ACQUIRE, LegKind.DISPOSE, LegKind.MOVE_OUT, LegKind.MOVE_IN
make_acquisition, make_disposal, make_move = Acquisition, Disposal, Move


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

    def notes(self) -> list[str]:
        out = []
        for asset in sorted(self.pegs_used):
            out.append(f"assumed peg (asked for by the user): 1 {asset} = 1 {self.peg[asset]}")
        for route, count in sorted(self.used.items()):
            out.append(f"rates: {route} ({count} valuation(s))")
        if self.lookback_days:
            out.append(f"rates up to {self.lookback_days} day(s) old were accepted (--rate-lookback)")
        if self.used:
            out.append("rate rule: latest rate at or before each moment on the same UTC day")
        return out

    def state(self) -> tuple[frozenset[tuple[str, str, date]], dict[str, int], frozenset[str],
                             tuple[str, datetime] | None, Decimal | None]:
        """What this pricer has recorded so far (gaps, routes and their counts, pegs, the one-entry cache):
        :meth:`resumed` continues from it. A multi-year computation values the ledger once and takes each
        year's state at that year's cutoff (:func:`taxreport.gains.compute_request_years`), so each year's
        notes and gaps are exactly those of a valuation that stopped there."""
        return frozenset(self.missing), dict(self.used), frozenset(self.pegs_used), self._last, self._last_rate

    def resumed(self, state: tuple[frozenset[tuple[str, str, date]], dict[str, int], frozenset[str],
                                   tuple[str, datetime] | None, Decimal | None]) -> "Pricer":
        """A pricer over the same table and options, in ``state`` (from :meth:`state`)."""
        other = Pricer(self.table, self.currency, via=self.via, peg=self.peg, lookback_days=self.lookback_days)
        missing, used, pegs, other._last, other._last_rate = state
        other.missing = set(missing)
        other.used.update(used)
        other.pegs_used = set(pegs)
        return other

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


def _consideration(leg: Leg, pricer: Pricer, swap_cost: SwapCost, stats: SwapStats) -> Decimal:
    """The value of the leg's consideration (before its fee)."""
    va, vq, t = leg.value_asset, leg.value_quantity, leg.time
    if va is None:
        return pricer.value(leg.asset, leg.quantity if vq is None else vq, t)
    assert vq is not None
    swap = leg.swap
    if swap is None:
        return pricer.value(va, vq, t)
    received = (swap.received_asset, swap.received_quantity)
    given = (swap.given_asset, swap.given_quantity)
    first, other = (received, given) if leg.kind is DISPOSE or swap_cost is SwapCost.RECEIVED else (given, received)
    exchanged = pricer.known_value(first[0], first[1], t)
    if exchanged is None:
        exchanged = pricer.known_value(other[0], other[1], t)
        if exchanged is None:  # neither side can be valued: name both gaps
            exchanged = pricer.value(first[0], first[1], t) + pricer.value(other[0], other[1], t)
        else:
            stats.by_fallback += 1
    else:
        stats.by_rule += 1
    rest = vq - swap.gross_of(va)  # fee units of the quote inside the consideration (+ or -)
    return exchanged + pricer.value(va, rest, t) if rest else exchanged


def value_legs(legs: Iterable[Leg], pricer: Pricer, swap_cost: SwapCost = SwapCost.RECEIVED,
               stats: SwapStats | None = None) -> list[Movement]:
    """The valued movements of ``legs`` (ledger order kept), fiat legs skipped.

    An amount already in the pricer's currency (the consideration of a leg that is not a swap, or a fee) is
    taken as it is, without a call to the pricer: exactly what :meth:`Pricer.value` returns for it (the amount,
    or ``Decimal(0)`` for a zero amount; ``tests/test_valuation_fast.py`` checks both ways agree)."""
    stats = stats if stats is not None else SwapStats()
    out: list[Movement] = []
    append = out.append
    value = pricer.value
    currency = pricer.currency
    fiat = FIAT
    for leg in legs:
        asset = leg.asset
        if asset in fiat:
            continue
        kind = leg.kind
        if kind is DISPOSE:
            t = leg.time
            vq = leg.value_quantity
            if leg.value_asset == currency and leg.swap is None and vq is not None:
                gross = vq if vq else ZERO
            else:
                gross = _consideration(leg, pricer, swap_cost, stats)
            fa = leg.fee_asset
            if not fa:
                fee = ZERO
            elif fa == currency:
                fee = leg.fee_quantity or ZERO
            else:
                fee = value(fa, leg.fee_quantity, t)
            append(make_disposal(t, leg.account, asset, leg.quantity, gross, fee, leg.event_key, leg.index, leg.role))
        elif kind is ACQUIRE:
            t = leg.time
            vq = leg.value_quantity
            if leg.value_asset == currency and leg.swap is None and vq is not None:
                cost = vq if vq else ZERO
            else:
                cost = _consideration(leg, pricer, swap_cost, stats)
            fa = leg.fee_asset
            if fa:
                cost += (leg.fee_quantity or ZERO) if fa == currency else value(fa, leg.fee_quantity, t)
            append(make_acquisition(t, leg.account, asset, leg.quantity, cost, leg.event_key, leg.index, leg.role,
                                    None))
        elif kind is MOVE_OUT:
            to = leg.counter_account if leg.role == "transfer" else None
            append(make_move(leg.time, asset, leg.quantity, leg.account, to, leg.event_key, leg.index))
        elif kind is MOVE_IN:
            if leg.role == "transfer":
                continue  # the MOVE_OUT twin already moved the lots
            t = leg.time
            if leg.value_quantity is not None and leg.value_asset is not None:
                at = leg.acquired_at or t
                cost = value(leg.value_asset, leg.value_quantity, at)
                append(Acquisition(t, leg.account, asset, leg.quantity, cost, leg.event_key, leg.index,
                                   "deposit", leg.acquired_at))
            else:
                append(Move(t, asset, leg.quantity, None, leg.account, leg.event_key, leg.index))
    return out


def value_event_list(events: Iterable[Event], pricer: Pricer, swap_cost: SwapCost = SwapCost.RECEIVED,
                     stats: SwapStats | None = None) -> list[Movement]:
    """``value_legs(chain.from_iterable(map(event_legs, events)), ...)`` (reversals **not** applied), with a fast
    path for the usual event, a trade of a token against fiat with its fee in one of the two (issue 14, round 3):
    its one crypto movement is built from the trade itself, without building its two legs
    (:func:`taxreport.model.legs._trade_legs`, whose fiat branch it follows line by line) and without valuing
    them one by one. The pricer is asked the same questions in the same order (the consideration, then the fee),
    a trade whose fee leaves nothing received raises the same error at the same point, and every other event goes
    through its legs (``tests/test_valuation_fused.py`` compares both ways on seeded random ledgers)."""
    stats = stats if stats is not None else SwapStats()
    out: list[Movement] = []
    append = out.append
    value = pricer.value
    currency = pricer.currency
    fiat = FIAT
    t: Trade
    pending: list[Leg] = []  # legs of the events in between, valued in order before the next fast trade
    for e in events:
        if type(e) is Trade:
            t = e
            base, quote, fee, fa = t.base, t.quote, t.fee, t.fee_asset
            fast = quote in fiat and base not in fiat and (fee == ZERO or fa == base or fa == quote)
        else:
            fast = False
        if not fast:  # a swap, a fiat base, a fee in a third asset, any other event: through its legs
            try:
                pending.extend(event_legs(e))
            except BaseException:  # as the lazy chain: the legs before it are valued before its error is raised
                if pending:
                    value_legs(pending, pricer, swap_cost, stats)
                raise
            continue
        if pending:
            out.extend(value_legs(pending, pricer, swap_cost, stats))
            pending = []
        k, tm, qty = t.natural_key, t.time, t.quantity
        gross_quote = qty * t.price
        own_base = fee if fa == base else ZERO
        own_quote = fee if fa == quote else ZERO
        buy = t.side is Side.BUY
        if buy:  # the checks of _trade_legs, before anything is valued
            if own_quote:
                gross_quote + own_quote  # noqa: B018 - the quote leg's quantity, computed as _trade_legs does
            units = qty - own_base
            if units <= ZERO:
                _require_positive(units, t, "the base received after the fee")
        else:
            units = qty + own_base
            quote_in = gross_quote - own_quote
            if quote_in <= ZERO:
                _require_positive(quote_in, t, "the quote received after the fee")
        # the crypto leg's consideration (quote, gross_quote) and its fee (quote, own_quote), valued as value_legs
        # values them: an amount in the currency as it is, anything else through the pricer
        if quote == currency:
            worth = gross_quote if gross_quote else ZERO
        else:
            worth = value(quote, gross_quote, tm)
        if buy:
            if own_quote:
                worth += own_quote if quote == currency else value(quote, own_quote, tm)
            append(make_acquisition(tm, t.account, base, units, worth, k, 1, "trade", None))
        else:
            if not own_quote:
                fee_value = ZERO
            elif quote == currency:
                fee_value = own_quote
            else:
                fee_value = value(quote, own_quote, tm)
            append(make_disposal(tm, t.account, base, units, worth, fee_value, k, 0, "trade"))
    if pending:
        out.extend(value_legs(pending, pricer, swap_cost, stats))
    return out
