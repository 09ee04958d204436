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

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from taxreport.errors import MissingDataError
from taxreport.jurisdictions.base import Breakdown, DisposalResult, Note, Policy, Pooling, YearSummary, notes_of
from taxreport.jurisdictions.holding import HoldingEffect, local_day_cache
from taxreport.jurisdictions.summary import amount_option, summarise
from taxreport.lots.matching import match_lots, ref_of
from taxreport.lots.split import split_disposal
from taxreport.lots.types import Acquisition, Disposal, LotMatch, MatchedDisposal, Move, Movement, OpenLot

ZERO = Decimal(0)


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
                             move_order=o.get("move_order", "fifo"), universal_until=o.get("universal_until"))
        results: list[DisposalResult] = []
        for md in matched.disposals:
            if md.disposal.time >= ctx.start:
                results.extend(self.results(ctx, md))
        return Matched(results, matched.open_lots, notes_of(matched.notes, "matching"))

    def results(self, ctx: Context, md: MatchedDisposal) -> list[DisposalResult]:
        """One result per holding group of the disposal's lots (short/long, taxable/exempt), the
        proceeds and fees shared by quantity (:func:`taxreport.lots.split.split_disposal`)."""
        d = md.disposal
        sold = d.time
        exempting = ctx.policy.holding is not None and ctx.policy.holding.effect is HoldingEffect.EXEMPT

        def long_held(lm: LotMatch) -> bool:
            return ctx.held_long(lm.acquired_at, sold)

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


class PersonRules(Rules):
    """Pools per token for the person, over every account (the country writes :meth:`match`; use
    :meth:`own_movements` for its input)."""

    def own_movements(self, ctx: Context, movements: Sequence[Movement]) -> tuple[list[Acquisition | Disposal],
                                                                                   list[Note]]:
        own, notes = person_level(movements, ctx.zero_cost_assets)
        horizon = ctx.horizon  # nothing later can change this year
        return [m for m in own if m.time < horizon], notes_of(notes, "matching")


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
        policy = self.policy
        opts = dict(options or {})
        chosen = policy.choose_method(method)
        tz = str(opts.get("timezone") or policy.timezone)
        start, end = policy.year_bounds(year, tz)
        ctx = Context(policy, policy.tax_year.label(year), policy.tax_year.first_year(year), chosen, tz, start,
                      end, opts, local_day_cache(tz))
        matched = self.rules.match(ctx, movements)
        whole = [r for r in matched.results if start <= r.time < end]
        accounts = ctx.accounts
        reported = whole if accounts is None else [r for r in whole if r.account in accounts]
        assessed = self.rules.assess(ctx, reported, whole)
        return summarise(policy.code, policy.currency, chosen, ctx.year, start, end, reported, assessed.allowance,
                         assessed.taxable_gain, assessed.breakdown, matched.open_lots,
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
    zero_cost = {a.upper() for a in zero_cost_assets}
    items = sorted(movements, key=lambda m: m.time)  # stable
    outside: dict[str, Decimal] = {}
    out: list[Acquisition | Disposal] = []
    problems: list[str] = []
    notes: list[str] = []
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
                    notes.append(f"deposit {ref}: {missing} {m.asset} without known cost basis taken at zero "
                                 f"cost, as asked")
                else:
                    problems.append(f"deposit {ref} at {m.time.isoformat()} into {m.to_account}: {missing} "
                                    f"{m.asset} without cost basis (give the deposit its cost and acquired_at, "
                                    f"or allow zero cost basis for {m.asset})")
    if problems:
        raise MissingDataError(f"{len(problems)} deposit(s) without cost basis:\n  " + "\n  ".join(problems))
    return out, notes
