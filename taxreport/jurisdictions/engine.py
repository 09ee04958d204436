"""The one tax engine: every country's year runs through :meth:`Jurisdiction.compute`, which does the
common skeleton (choose the method, match, keep the tax year's disposals, report per account, sum
up) and calls the country's :class:`Rules` hooks only where the law differs.

A country module is a :class:`~taxreport.jurisdictions.base.Policy` (data: currency, zone, tax year,
methods, pooling, look-ahead, swap cost, holding rule, forms, allowance table, gifts, income) plus a
:class:`Rules` subclass:

* :class:`LotRules` (the default matching): lots matched by :func:`taxreport.lots.matching.match_lots`
  with the policy's method and pooling; each matched disposal becomes results through
  :meth:`LotRules.results` (default: one result per holding group, short/long by the policy's
  :class:`~taxreport.jurisdictions.holding.Holding`). US, DE and AU use it.
* :class:`PersonRules`: the person's own acquisitions and disposals over every account
  (:func:`person_level`), for countries that pool per person (UK same-day/30-day/s104, CA ACB with
  superficial loss); the country writes :meth:`Rules.match`.
* :meth:`Rules.assess` (every country): the allowance, taxable gain, typed breakdown and notes of
  the year's disposals.

No tax rule lives here (the rules are in the country modules, with their sources).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterable, Iterator, Mapping, Sequence
from zoneinfo import ZoneInfo

from taxreport.errors import MissingDataError, TaxreportError
from taxreport.jurisdictions.base import (Breakdown, DisposalResult, Note, Policy, Pooling, YearSummary, make_result,
                                         notes_of)
from taxreport.jurisdictions.deposit_notes import ZeroCostDeposit
from taxreport.jurisdictions.holding import HoldingEffect, anniversary, local_day_cache
from taxreport.jurisdictions.summary import amount_option, summarise
from taxreport.lots.matching import Cut, match_lots, match_lots_at, ref_of
from taxreport.lots.split import split_disposal
from taxreport.lots.types import Acquisition, Disposal, LotMatch, MatchedDisposal, Move, Movement, OpenLot

ZERO = Decimal(0)
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Context:
    """One computation: the policy, the tax year in UTC and local dates, the method, the options."""

    policy: Policy
    year: str  # as the country writes it
    first_year: int  # the calendar year the tax year starts in
    method: str
    tz: str
    start: datetime
    end: datetime
    options: Mapping[str, Any]
    day_of: Any = field(repr=False, compare=False, default=None)  # memoised local date
    # acquisition moment -> the local date after which its units are held long (the holding rule's anniversary)
    long_after: dict[datetime, date] = field(repr=False, compare=False, default_factory=dict)
    zone: Any = field(repr=False, compare=False, default=None)  # the ZoneInfo of ``tz``

    def local_day(self, moment: datetime) -> date:
        return self.day_of(moment)  # type: ignore[no-any-return]

    @property
    def accounts(self) -> frozenset[str] | None:
        chosen = self.options.get("accounts")
        return frozenset(chosen) if chosen else None

    @property
    def currency(self) -> str:
        return str(self.options.get("currency") or self.policy.currency).upper()

    @property
    def foreign(self) -> bool:
        """Amounts are not in the country's currency: its allowance tables must not be applied."""
        return self.currency != self.policy.currency

    @property
    def zero_cost_assets(self) -> tuple[str, ...]:
        return tuple(self.options.get("zero_cost_assets", ()))

    @property
    def scope(self) -> str:
        default = "universal" if self.policy.pooling is Pooling.UNIVERSAL else "account"
        return str(self.options.get("scope") or default)

    @property
    def horizon(self) -> datetime:
        """Movements from here on cannot change this year (the policy's look-ahead, plus a day for zones)."""
        return self.end + timedelta(days=self.policy.lookahead_days + 1)

    def amount(self, key: str) -> Decimal:
        return amount_option(self.options, key)

    def held_long(self, acquired: datetime | None, sold: datetime) -> bool:
        """The policy's holding rule on local dates (False when the country has none or the date is unknown)."""
        holding = self.policy.holding
        if holding is None or acquired is None:
            return False
        return holding.long(self.local_day(acquired), self.local_day(sold))


@dataclass
class Matched:
    """What a country's matching gives the engine: results of the disposals from the year's start
    (later ones are dropped by the engine), holdings at the year's end, notes."""

    results: list[DisposalResult]
    open_lots: list[OpenLot] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


@dataclass
class Assessment:
    """What a country's rules make of the year's disposals."""

    allowance: Decimal
    taxable_gain: Decimal
    breakdown: Breakdown
    notes: list[Note] = field(default_factory=list)


class Rules:
    """The hooks of a country (subclass one of :class:`LotRules` or :class:`PersonRules`)."""

    def match(self, ctx: Context, movements: Sequence[Movement]) -> Matched:
        raise NotImplementedError

    def match_years(self, ctxs: Sequence[Context], movements: Sequence[Movement], counts: Sequence[int],
                    cutoffs: Sequence[datetime]) -> Iterator[Matched | None]:
        """:meth:`match` of several tax years (``ctxs`` in time order, disjoint), year *i* over
        ``movements[:counts[i]]`` (the movements before ``cutoffs[i]``), yielded one year at a time (so only
        one year's results are held). A country that can match all of them in one pass overrides this; None
        for a year whose one-pass result cannot be shown equal to its own :meth:`match` (the caller computes
        that year alone). This default matches each year alone."""
        for ctx, n in zip(ctxs, counts):
            try:
                matched: Matched | None = self.match(ctx, movements[:n])
            except TaxreportError:
                matched = None
            yield matched

    def assess(self, ctx: Context, reported: list[DisposalResult], whole_year: list[DisposalResult]) -> Assessment:
        """``reported``: the year's disposals in the accounts asked for (all of them when none was
        asked); ``whole_year``: every account's (a threshold tested on the whole taxpayer, DE)."""
        raise NotImplementedError


class LotRules(Rules):
    """Lots matched one by one (FIFO, LIFO, HIFO, specific…), per account or over all accounts."""

    def match(self, ctx: Context, movements: Sequence[Movement]) -> Matched:
        o = ctx.options
        matched = match_lots(movements, method=ctx.method, until=ctx.end, scope=ctx.scope,
                             zero_cost_assets=ctx.zero_cost_assets, selections=o.get("selections"),
                             move_order=o.get("move_order", "fifo"), universal_until=o.get("universal_until"),
                             noted_accounts=ctx.accounts, since=ctx.start)  # the notes count the year's own
        results: list[DisposalResult] = []
        for md in matched.disposals:
            if md.disposal.time >= ctx.start:
                results.extend(self.results(ctx, md))
        return Matched(results, matched.open_lots, notes_of(matched.notes, "matching"))

    def match_years(self, ctxs: Sequence[Context], movements: Sequence[Movement], counts: Sequence[int],
                    cutoffs: Sequence[datetime]) -> Iterator[Matched | None]:
        """One matching pass for every year (:func:`taxreport.lots.matching.match_lots_at` cut at each year's
        end, the notes of each counting from its start): the year's disposals, its open lots at its end and its
        notes are what :meth:`match` gives, because a lot is only ever matched with the past. Every year's options are the last year's except
        ``selections`` (the lots identified up to each year's cutoff); a year is None where they would match
        one of its disposals differently, where its own matching would fail (selling more than held, a
        selection naming no disposal of it), or where its end is past its cutoff (movements it never sees)."""
        last = ctxs[-1]
        o = last.options
        chosen: Mapping[str, Any] = o.get("selections") or {}
        try:
            cuts = match_lots_at(movements, ends=[c.end for c in ctxs], method=last.method, scope=last.scope,
                                 zero_cost_assets=last.zero_cost_assets, selections=chosen,
                                 move_order=o.get("move_order", "fifo"), universal_until=o.get("universal_until"),
                                 noted_accounts=last.accounts, starts=[c.start for c in ctxs])
        except TaxreportError:
            yield from [None] * len(ctxs)
            return
        del movements  # (mem5) matched: the acquisitions no lot or disposal holds are freed
        done = 0  # disposals before the previous year's end: before this year's start
        pending: list[Cut | None] = list(cuts)  # each year's open lots and disposals, dropped once used
        del cuts
        for i, (ctx, cutoff) in enumerate(zip(ctxs, cutoffs)):
            cut = pending[i]
            pending[i] = None
            assert cut is not None
            disposals = cut.result.disposals
            first, done = done, len(disposals)
            own: Mapping[str, Any] = ctx.options.get("selections") or {}
            if ctx.end > cutoff or cut.problems or not self._same_selections(ctx, disposals, own, chosen):
                yield None
                continue
            results: list[DisposalResult] = []
            start = ctx.start
            for md in disposals[first:]:
                if md.disposal.time >= start:
                    results.extend(self.results(ctx, md))
            matched = Matched(results, cut.result.open_lots, notes_of(cut.result.notes, "matching"))
            del results, cut, disposals
            yield matched
            del matched

    @staticmethod
    def _same_selections(ctx: Context, disposals: Sequence[MatchedDisposal], own: Mapping[str, Any],
                         chosen: Mapping[str, Any]) -> bool:
        """Would this year's own matching (its ``selections``: ``own``) take the same lots as the one pass
        (``chosen``) for each of its disposals, and name no disposal it does not match?"""
        if not own and not chosen:
            return True
        refs = {ref_of(md.disposal) for md in disposals} if ctx.method == "specific" else set()
        if any(k not in refs for k in own):
            return False  # its own matching raises: a selection names no disposal before its end
        return all(own.get(k) == chosen.get(k) for k in set(own) | set(chosen) if k in refs)

    def results(self, ctx: Context, md: MatchedDisposal) -> list[DisposalResult]:
        """One result per holding group of the disposal's lots (short/long, taxable/exempt), the
        proceeds and fees shared by quantity (:func:`taxreport.lots.split.split_disposal`).

        The usual case, every lot in one holding group, is built here directly (one result: the disposal's net
        proceeds, the sum of its lots' costs); a disposal whose lots fall in two groups goes through
        :meth:`general_results`, which gives the same for one group (``tests/test_engine_fast_paths.py``). A lot
        is dated in the zone only within a week of its anniversary (:func:`_sure_holding`, tests/test_holding_sure.py)."""
        d = md.disposal
        lots = md.lots
        holding = ctx.policy.holding
        long = False
        if holding is not None:  # Context.held_long, each acquisition's anniversary computed once per computation
            sold = d.time
            # Held for sure long or short (:func:`_sure_holding`): decided by the time elapsed between two UTC
            # moments (a ledger's), without a date.
            sure_long, sure_short = _sure_holding(holding.years)
            in_utc = sold.tzinfo is timezone.utc
            after: dict[datetime, date] | None = None
            sold_day = None
            # The local date of the sale is within a day of its UTC date (a UTC offset is less than 24 hours), so
            # an anniversary more than a day away from the UTC date decides without the zone.
            utc_day: date | None = None
            day_before: date | None = None
            first = True
            for lm in lots:
                acquired = lm.acquired_at
                if acquired is None:
                    key = False
                else:
                    held = sold - acquired if in_utc and acquired.tzinfo is timezone.utc else None
                    if held is not None and held >= sure_long:
                        key = True
                    elif held is not None and held <= sure_short:
                        key = False
                    else:
                        if after is None:
                            after = ctx.long_after
                            if in_utc:
                                utc_day = sold.date()
                                day_before = utc_day - ONE_DAY
                        limit = after.get(acquired)
                        if limit is None:
                            limit = after[acquired] = anniversary(ctx.day_of(acquired), holding.years)
                        if day_before is not None and limit < day_before:
                            key = True  # local date >= UTC date - 1 > limit
                        elif utc_day is not None and limit > utc_day:
                            key = False  # local date <= UTC date + 1 <= limit
                        else:
                            if sold_day is None:  # ctx.local_day, without a memo: each sale's moment is new
                                sold_day = sold.astimezone(ctx.zone).date()
                            key = sold_day > limit
                if first:
                    long, first = key, False
                elif key is not long:
                    return self.general_results(ctx, md)
        cost = ZERO
        if len(lots) == 1:
            lm = lots[0]
            cost += lm.cost
            rule = lm.rule
        elif lots:
            rule = lots[0].rule
            same = True
            for lm in lots:  # the costs summed in order; the lots' one rule, or "mixed"
                cost += lm.cost
                if same and lm.rule != rule:
                    same = False
            if not same:
                rule = "mixed"
        else:
            rule = "mixed"  # no lots: no rule (as the set of the lots' rules, empty)
        proceeds = d.proceeds - d.fee
        exempt = long and holding is not None and holding.effect is HoldingEffect.EXEMPT
        return [make_result(d.time, d.account, d.asset, d.quantity, proceeds, cost, proceeds - cost, lots, rule,
                            "long" if long else "short", exempt, ZERO, "", f"{d.event_key}#{d.leg_index}", d.role,
                            (), None)]

    def general_results(self, ctx: Context, md: MatchedDisposal) -> list[DisposalResult]:
        """:meth:`results` by the general path: the lots grouped by holding and each group's share of the
        proceeds and fees (:func:`taxreport.lots.split.split_disposal`)."""
        d = md.disposal
        lots = md.lots
        holding = ctx.policy.holding
        exempting = holding is not None and holding.effect is HoldingEffect.EXEMPT
        if holding is None:
            keys = [False] * len(lots)
        else:  # Context.held_long, with each acquisition's anniversary computed once per computation
            after = ctx.long_after
            sold_day = d.time.astimezone(ctx.zone).date()  # ctx.local_day, without a memo: each sale's moment is new
            keys = []
            for lm in lots:
                acquired = lm.acquired_at
                if acquired is None:
                    keys.append(False)
                    continue
                limit = after.get(acquired)
                if limit is None:
                    limit = after[acquired] = anniversary(ctx.day_of(acquired), holding.years)
                keys.append(sold_day > limit)
        if all(k is keys[0] for k in keys):  # one holding group: the whole disposal is one result
            cost = ZERO
            for lm in lots:
                cost += lm.cost
            proceeds = d.proceeds - d.fee
            rules = {lm.rule for lm in lots}
            long = bool(keys and keys[0])
            return [DisposalResult(
                time=d.time, account=d.account, asset=d.asset, quantity=d.quantity, proceeds=proceeds, cost=cost,
                gain=proceeds - cost, lots=lots, rule=rules.pop() if len(rules) == 1 else "mixed",
                term="long" if long else "short", exempt=exempting and long, event_key=ref_of(d), role=d.role)]
        each = iter(keys)

        def long_held(lm: LotMatch) -> bool:  # split_disposal asks for the lots in order, once each
            return next(each)

        out = []
        for part in split_disposal(md, long_held):
            proceeds = part.net_proceeds
            rules = {lm.rule for lm in part.lots}
            out.append(DisposalResult(
                time=d.time, account=d.account, asset=d.asset, quantity=part.quantity, proceeds=proceeds,
                cost=part.cost, gain=proceeds - part.cost, lots=part.lots,
                rule=rules.pop() if len(rules) == 1 else "mixed", term="long" if part.key else "short",
                exempt=exempting and bool(part.key), event_key=ref_of(d), role=d.role))
        return out


_SURE: dict[int, tuple[timedelta, timedelta]] = {}


def _sure_holding(years: int) -> tuple[timedelta, timedelta]:
    """``(long, short)``: units held (sale time minus acquisition time) at least ``long`` are held long under
    :meth:`Holding.long <taxreport.jurisdictions.holding.Holding.long>` in every time zone, at most ``short``
    held short, whatever the dates (:meth:`LotRules.results` dates only the lots in between).

    Why: the local dates of two moments differ by the elapsed days plus the change of UTC offset (less than two
    days: an offset is strictly between -24 and +24 hours) plus less than one day of rounding to dates, so by
    less than ``elapsed + 3`` days and more than ``elapsed - 3``; ``years`` years after a date its anniversary
    (29 February to 28 February) comes between ``365 * years - 1`` and ``366 * years`` days later. Long: the
    sale date is after the anniversary, i.e. the local dates differ by more than that. Checked against
    :meth:`Holding.long` on local dates in tests/test_holding_sure.py."""
    sure = _SURE.get(years)
    if sure is None:
        sure = _SURE[years] = (timedelta(days=366 * years + 3), timedelta(days=365 * years - 4))
    return sure


class PersonRules(Rules):
    """Pools per token for the person, over every account (the country writes :meth:`match`; use
    :meth:`own_movements` for its input)."""

    def own_movements(self, ctx: Context, movements: Sequence[Movement]) -> tuple[list[Acquisition | Disposal],
                                                                                   list[Note]]:
        own, notes = person_level(movements, ctx.zero_cost_assets)
        horizon = ctx.horizon  # nothing later can change this year
        return [m for m in own if m.time < horizon], notes_of(notes, "matching")

    def match(self, ctx: Context, movements: Sequence[Movement]) -> Matched:
        own, notes = self.own_movements(ctx, movements)
        return self.year_view(ctx, self.match_person(ctx, own), notes)

    def match_person(self, ctx: Context, own: list[Acquisition | Disposal]) -> Any:
        """The country's matching of the person's acquisitions and disposals (every year up to ``ctx``'s
        horizon): whatever :meth:`year_view` reads."""
        raise NotImplementedError

    def year_view(self, ctx: Context, state: Any, notes: list[Note]) -> Matched:
        """The tax year ``ctx`` of :meth:`match_person`'s result: its disposals and the pools at its end."""
        raise NotImplementedError

    def match_years(self, ctxs: Sequence[Context], movements: Sequence[Movement], counts: Sequence[int],
                    cutoffs: Sequence[datetime]) -> Iterator[Matched | None]:
        """One :meth:`match_person` over the person's movements up to the last year's horizon, viewed per year;
        None for a year whose view cannot be shown equal to its own computation (the caller computes it alone).

        **When the one pass's view of year i is year i's own computation** (issue 14, round 5). Year i alone
        reads the movements before its cutoff (:func:`taxreport.gains.year_cutoff`: the year's end *in the
        country's own zone* plus the look-ahead and a day) and matches those before its horizon (the end *in the
        asked zone* plus the same), so it sees W = the person's items before B = min(cutoff, horizon); the one
        pass sees W' = those before the last year's horizon, W' ⊇ W, and W is W' cut at B (both lists come
        from one time-sorted, stable preparation: :func:`_person_level` is sequential, so its items, notes
        and problems before B are the same in both). Let X = W' minus W, T the earliest date of an item of X
        (its time, or the earlier acquisition date a pool uses), D = T's local date in the asked zone. Year
        i's view equals its own computation when all three hold:

        1. no deposit without basis before the cutoff (its own computation raises it: ``problems``);
        2. :meth:`unchanged_by` ``(ctx, D)``: the country's view of the year depends on no item dated D or later
           (default: D is past the year's last local day plus the look-ahead, e.g. the UK 30-day window ends
           on the 30th day after the year's last day, the CA superficial-loss period too). X is dated D or
           later, so the two matchings agree on every item the view reads;
        3. W sells no more than it holds: its own matching would raise a shortfall (selling more than held)
           that the one pass may not (an acquisition in X after a sale in W, within 30 days, covers that sale
           by the UK 30-day rule and leaves more in the pool), for a sale after the year. A shortfall needs a
           token whose running balance in time order goes below zero before B (UK: a group's shortfall is at
           most its token's disposals to that day minus its acquisitions to that day, acquisitions counted
           by their pool date, which is never later than their time; CA: the pool before a sale holds every
           earlier acquisition), so ``short_at >= B`` (the first such moment, tokens allowed zero cost apart:
           they never raise) rules it out.

        The former test (T at or after the asked zone's horizon, not min(cutoff, horizon)) refused every year
        but the last whenever the asked zone's end fell after the country's own (UTC, any zone west of London
        in summer: an hour or more of trades between the cutoff and the horizon), so a ``--timezone UTC`` UK
        call computed three more years alone (37 s instead of 17 s at 1M trades); and it did not consider 3
        (a year whose own computation raises a shortfall after the year was served the one pass's view).
        ``tests/test_person_years_zones.py`` compares every year with its own computation around the cutoffs
        and horizons, in UTC, London, UTC+14, UTC-12 and a zone whose clocks change in the window."""
        last = ctxs[-1]
        try:
            own_all, notes, problems = _person_level(movements, last.zero_cost_assets)
        except TaxreportError:
            yield from [None] * len(ctxs)
            return
        horizon = last.horizon
        own = [m for m in own_all if m.time < horizon]
        times = [m.time for m in own]
        # suffix minima of each item's earliest date (its time, or the acquisition date it is pooled at)
        earliest: list[datetime | None] = [None] * (len(own) + 1)
        low: datetime | None = None
        for i in range(len(own) - 1, -1, -1):
            m = own[i]
            when = m.date_acquired if type(m) is Acquisition and m.date_acquired < m.time else m.time
            low = when if low is None or when < low else low
            earliest[i] = low
        bounds = [min(cutoff, ctx.horizon) for ctx, cutoff in zip(ctxs, cutoffs)]
        # condition 3 is read up to the last bound short of the one pass's own (a year that sees all it sees
        # raises what it raises): the items before that, in time order
        guarded = [b for b in bounds if b < horizon]
        short_at = _first_short(own[:bisect_left(times, max(guarded))], last.zero_cost_assets) if guarded else None
        valid: list[bool] = []
        firsts: list[datetime | None] = []
        for cutoff, bound in zip(cutoffs, bounds):
            later = earliest[bisect_left(times, bound)]
            firsts.append(later)
            valid.append((short_at is None or short_at >= bound or bound >= horizon)
                         and not any(t < cutoff for t, _ in problems))
        state = None
        if any(valid):
            try:
                state = self.match_person(last, own)
            except TaxreportError:
                state = None
        del movements, own_all, own, times, earliest  # (mem5) matched: freed unless the state holds them
        for ctx, cutoff, ok, later in zip(ctxs, cutoffs, valid, firsts):
            if ok and state is not None and (later is None
                                             or self.unchanged_by(ctx, state, later.astimezone(ctx.zone).date())):
                yield self.year_view(ctx, state, notes_of([n for t, n in notes if t < cutoff], "matching"))
            else:
                yield None

    def unchanged_by(self, ctx: Context, state: Any, first_day: date) -> bool:
        """Whether :meth:`year_view` of ``ctx`` is the same for :meth:`match_person` of the person's items with
        every item dated ``first_day`` (a local date in ``ctx``'s zone; an acquisition dated by its pool date)
        or later left out. This default: ``first_day`` is after the year's last local day plus the policy's
        look-ahead, which holds for the countries that use it: UK, whose same-day, 30-day (TCGA92 s106A(5):
        acquisitions "within the period of thirty days after" the disposal day) and s104 matching of the year's
        disposals and its pools at the year's end read the items of local days up to the last day + 30 and no
        later (an earlier disposal takes its 30-day matches before a later one, so the sales after the year
        come last); CA, whose ACB pool at each of the year's disposals reads earlier items only and whose
        superficial-loss test reads the units acquired and held up to the disposal's day + 30 (ITA s54
        "superficial loss", the 30-day periods). ``state`` is not read here (a country may look at it)."""
        end_day = ctx.end.astimezone(ctx.zone).date()  # the first local day after the year
        return first_day >= end_day + timedelta(days=ctx.policy.lookahead_days)


def _first_short(own: Sequence[Acquisition | Disposal], zero_cost_assets: Iterable[str]) -> datetime | None:
    """The first moment (in ``own``'s time order) at which a token's units acquired so far are fewer than its
    units disposed of so far (tokens allowed zero cost apart), or a non-positive acquisition; None: never."""
    zero_cost = {a.upper() for a in zero_cost_assets}
    held: dict[str, Decimal] = {}
    for m in own:
        asset = m.asset
        if type(m) is Acquisition:
            q = m.quantity
            if q <= 0 and asset not in zero_cost:
                return m.time
            held[asset] = held.get(asset, ZERO) + q
        elif type(m) is Disposal:
            left = held.get(asset, ZERO) - m.quantity
            held[asset] = left
            if left < 0 and asset not in zero_cost:
                return m.time
        elif asset not in zero_cost:
            return m.time  # an item of another kind: not reasoned about
    return None


@dataclass(frozen=True)
class Jurisdiction:
    """A country: its :class:`Policy` and its :class:`Rules`, run by :meth:`compute`."""

    policy: Policy
    rules: Rules

    # the policy's fields every caller reads
    @property
    def code(self) -> str:
        return self.policy.code

    @property
    def name(self) -> str:
        return self.policy.name

    @property
    def currency(self) -> str:
        return self.policy.currency

    @property
    def methods(self) -> tuple[str, ...]:
        return self.policy.methods

    @property
    def timezone(self) -> str:
        return self.policy.timezone

    def year_bounds(self, label: str, tz: str | None = None) -> tuple[datetime, datetime]:
        """UTC ``[start, end)`` of the tax year written ``label`` (InputError if malformed)."""
        return self.policy.year_bounds(label, tz)

    def compute(self, movements: Sequence[Movement], *, year: str, method: str | None = None,
                options: Mapping[str, Any] | None = None) -> YearSummary:
        """Match all ``movements`` (every year, time order) and summarise the tax year ``year``."""
        ctx = self.context(year, method, options)
        return self._summarise(ctx, self.rules.match(ctx, movements))

    def context(self, year: str, method: str | None, options: Mapping[str, Any] | None,
                day_of: Any = None) -> Context:
        policy = self.policy
        opts = dict(options or {})
        chosen = policy.choose_method(method)
        tz = str(opts.get("timezone") or policy.timezone)
        start, end = policy.year_bounds(year, tz)
        return Context(policy, policy.tax_year.label(year), policy.tax_year.first_year(year), chosen, tz, start,
                       end, opts, day_of or local_day_cache(tz), zone=ZoneInfo(tz))

    def compute_years(self, movements: Sequence[Movement], *, years: Sequence[str], counts: Sequence[int],
                      cutoffs: Sequence[datetime], method: str | None,
                      options: Sequence[Mapping[str, Any]]) -> Iterator[YearSummary | None]:
        """:meth:`compute` of several tax years (in time order) with one matching where the country can
        (:meth:`Rules.match_years`): year *i* is what ``compute(movements[:counts[i]], year=years[i],
        options=options[i])`` gives (``movements[:counts[i]]``: the movements before ``cutoffs[i]``), or None
        where that cannot be shown or its computation would fail (the caller then computes it alone); yielded
        one year at a time, in order, each computed when asked for (one year's results held at a time)."""
        ctxs: list[Context] = []
        for year, opts in zip(years, options):
            ctx = self.context(year, method, opts, ctxs[0].day_of if ctxs and ctxs[0].tz == str(
                opts.get("timezone") or self.policy.timezone) else None)
            if ctxs and ctx.start < ctxs[-1].end:
                raise ValueError("compute_years: the years must be in time order and distinct")
            if ctxs and ctxs[0].day_of is ctx.day_of:  # same zone: the anniversaries are the same too
                ctx = replace(ctx, long_after=ctxs[0].long_after)
            ctxs.append(ctx)
        matched_years = self.rules.match_years(ctxs, movements, counts, cutoffs)
        del movements  # (mem5) held by the matching only as long as it needs them
        for ctx, matched in zip(ctxs, matched_years):
            try:
                summary = None if matched is None else self._summarise(ctx, matched)
            except TaxreportError:
                summary = None
            del matched
            yield summary
            del summary  # not held while the next year is computed

    def _summarise(self, ctx: Context, matched: Matched) -> YearSummary:
        policy, start, end = self.policy, ctx.start, ctx.end
        whole = [r for r in matched.results if start <= r.time < end]
        accounts = ctx.accounts
        reported = whole if accounts is None else [r for r in whole if r.account in accounts]
        assessed = self.rules.assess(ctx, reported, whole)
        return summarise(policy.code, policy.currency, ctx.method, ctx.year, start, end, reported,
                         assessed.allowance, assessed.taxable_gain, assessed.breakdown, matched.open_lots,
                         matched.notes + assessed.notes)


def person_level(movements: Iterable[Movement], zero_cost_assets: Iterable[str] = ()
                 ) -> tuple[list[Acquisition | Disposal], list[str]]:
    """The acquisitions and disposals of the *person*, for countries that pool per person (UK, CA).

    A transfer between the person's own accounts changes nothing. Units withdrawn to the person's own
    outside wallet (``Move.to_account is None``) are still theirs; a deposit without cost basis
    (``Move.from_account is None``) is covered by such earlier withdrawals of the asset. Deposited units
    not covered that way have no known cost: an error listing every such deposit
    (:class:`MissingDataError`), unless the asset is in ``zero_cost_assets``, when they become a
    zero-cost acquisition at the deposit (and a note says so). Same semantics as
    :func:`taxreport.lots.matching.match_lots` for the outside wallet.
    """
    out, notes, problems = _person_level(movements, zero_cost_assets)
    if problems:
        raise MissingDataError(f"{len(problems)} deposit(s) without cost basis:\n  "
                               + "\n  ".join(p for _, p in problems))
    return out, [n for _, n in notes]


def _person_level(movements: Iterable[Movement], zero_cost_assets: Iterable[str] = ()
                  ) -> tuple[list[Acquisition | Disposal], list[tuple[datetime, str]], list[tuple[datetime, str]]]:
    """:func:`person_level`, its notes and problems each with the time of the deposit it is about."""
    zero_cost = {a.upper() for a in zero_cost_assets}
    items = sorted(movements, key=lambda m: m.time)  # stable
    outside: dict[str, Decimal] = {}
    out: list[Acquisition | Disposal] = []
    problems: list[tuple[datetime, str]] = []
    notes: list[tuple[datetime, str]] = []
    for m in items:
        if not isinstance(m, Move):
            out.append(m)
            continue
        if m.from_account is not None and m.to_account is None:
            outside[m.asset] = outside.get(m.asset, ZERO) + m.quantity
        elif m.from_account is None and m.to_account is not None:
            have = outside.get(m.asset, ZERO)
            used = min(have, m.quantity)
            outside[m.asset] = have - used
            missing = m.quantity - used
            if missing > 0:
                ref = f"{m.event_key}#{m.leg_index}"
                if m.asset in zero_cost:
                    out.append(Acquisition(time=m.time, account=m.to_account, asset=m.asset, quantity=missing,
                                           cost=ZERO, event_key=m.event_key, leg_index=m.leg_index,
                                           role="deposit"))
                    notes.append((m.time, ZeroCostDeposit(ref, missing, m.asset, m.time)))  # the year's: uk.py, ca.py
                else:
                    problems.append((m.time, f"deposit {ref} at {m.time.isoformat()} into {m.to_account}: {missing} "
                                    f"{m.asset} without cost basis (give the deposit its cost and acquired_at, "
                                    f"or allow zero cost basis for {m.asset})"))
    return out, notes, problems
