"""The review list: every problem that blocks or distorts a tax year, each with what it is, where, why
in one line, and the command that fixes it (``taxreport review``). ``taxreport gains`` refuses a year
with blocking items and points here.

Item kinds (``blocking`` ones stop ``gains`` and the exports for the years they touch):

====================== ========= ==================================================================
kind                   blocking  meaning
====================== ========= ==================================================================
ledger_chain           yes       the audit chain is broken (an edited, deleted or reordered row)
conflict               yes       events that contradict each other (two bases for one deposit, a link
                                 naming a reversed event): nothing else can be reviewed until fixed
deposit_without_basis  yes       coins arrived with no cost basis, not from another own account and
                                 not covered by earlier withdrawals to an own wallet
ambiguous_transfer     yes       a withdrawal/deposit fits more than one counterpart: not guessed
negative_balance       yes       an account sells or sends more of an asset than it holds
missing_rate           yes       a rate needed to value the year is not in the rate store (with -j)
unmatched_transfer     no        a withdrawal to an own wallet with no deposit found (lots wait in the
                                 outside pool), or a deposit drawn from such coins
simulated_account      no        a simulated account (paper, local venue) is in the ledger: left out
gift_without_basis     no        a gift received with no stated basis: acquired at market value (the
                                 UK rule); a US donee takes the donor's basis (IRC §1015)
gift_given             no        coins given away: a disposal at market value (UK, AU, CA); none for
                                 the donor in the US and DE (:mod:`taxreport.jurisdictions.gifts`)
lost_coins             no        coins recorded as lost: a disposal; whether its loss is allowed
                                 depends on the country (UK: negligible value claim, TCGA 1992 s24(2);
                                 US: personal casualty and theft losses are not deductible for
                                 2018-2025, IRC §165(h)(5))
====================== ========= ==================================================================

:func:`review_events` is pure (events in, items out); :func:`review_ledger` adds the checks that need
the database (the chain, the rate store).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from taxreport.errors import InputError
from taxreport.lots.own_transfers import DEFAULT_WINDOW
from taxreport.model.assets import FIAT
from taxreport.model.events import Deposit, Event, GiftIn, Trade, Withdrawal
from taxreport.model.legs import any_kind, event_legs, kinds_in
from taxreport.model.money import decimal_str
from taxreport.prepare import Prepared, prepare_events

ZERO = Decimal(0)
BLOCKING = frozenset({"conflict", "ledger_chain", "deposit_without_basis", "ambiguous_transfer", "negative_balance",
                      "missing_rate"})


@dataclass(frozen=True, slots=True)
class ReviewItem:
    kind: str
    ref: str
    explanation: str
    fix: str
    time: datetime | None = None
    account: str | None = None
    asset: str | None = None

    @classmethod
    def about(cls, kind: str, event: "Deposit | GiftIn | Withdrawal", explanation: str, fix: str) -> "ReviewItem":
        """An item about one event of one account and asset (its key, time, account and asset)."""
        return cls(kind, event.natural_key, explanation, fix, event.time, event.account, event.asset)

    @property
    def blocking(self) -> bool:
        return self.kind in BLOCKING

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "blocking": self.blocking, "ref": self.ref, "time": self.time,
                "account": self.account, "asset": self.asset, "explanation": self.explanation, "fix": self.fix}


def _q(value: Decimal) -> str:
    return decimal_str(value)


def _when(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def review_prepared(prepared: Prepared, *, zero_cost_assets: Sequence[str] = (),
                    balances: bool = True) -> list[ReviewItem]:
    """The items found in an already prepared history (see :func:`review_events`); ``balances=False``
    skips the negative-balance walk (lot matching reports a shortfall itself, naming it)."""
    items: list[ReviewItem] = []
    for acc in sorted(prepared.simulated.values(), key=lambda s: s.account):
        state = "included (--include-simulated): reports say SIMULATED" if prepared.included_simulated \
            else "left out of gains, income and every export"
        items.append(ReviewItem("simulated_account", acc.declared_by,
                                f"{acc.account} holds simulated money ({acc.venue}); {state}",
                                "nothing to do; add --include-simulated to gains/export to see it",
                                account=acc.account))
    m = prepared.transfers
    for event, candidates in m.ambiguous:
        what = "withdrawal" if isinstance(event, Withdrawal) else "deposit"
        other = ", ".join(c.natural_key for c in candidates)
        if isinstance(event, Withdrawal):
            fix = f"taxreport ledger link {event.natural_key} {candidates[0].natural_key}"
        else:
            fix = f"taxreport ledger link {candidates[0].natural_key} {event.natural_key}"
        items.append(ReviewItem.about("ambiguous_transfer", event,
                                f"{what} of {_q(event.quantity)} {event.asset} in {event.account} fits several "
                                f"counterparts ({other}); not guessed",
                                fix + "   (name the right pair)"))
    zero_ok = {a.upper() for a in zero_cost_assets}
    # Deposits without basis: covered by coins withdrawn earlier to an own wallet (the outside pool), or not.
    outside: dict[str, Decimal] = defaultdict(lambda: ZERO)
    flows, noted = _flows_and_noted(prepared, {e.natural_key for e in (*m.unmatched_withdrawals,
                                                                        *m.unmatched_deposits)})
    for e in flows:
        if e.asset in FIAT:
            continue  # fiat has no lots: money to or from a bank needs no pairing
        if isinstance(e, Withdrawal):
            outside[e.asset] += e.quantity
            items.append(ReviewItem.about(
                "unmatched_transfer", e,
                f"withdrawal of {_q(e.quantity)} {e.asset} from {e.account} to an own wallet: no deposit into "
                "another account matches it; its lots wait in the outside pool",
                f"if it arrived in another account: taxreport ledger add deposit --account OTHER --asset {e.asset} "
                f"--quantity {_q(e.quantity)} --time T; if it was given or lost: taxreport ledger reverse "
                f"{e.natural_key} --reason ... and taxreport ledger add gift-out|lost ..."))
        elif outside[e.asset] >= e.quantity:
            outside[e.asset] -= e.quantity
            items.append(ReviewItem.about(
                "unmatched_transfer", e,
                f"deposit of {_q(e.quantity)} {e.asset} into {e.account} without basis takes the lots of coins "
                "withdrawn earlier to an own wallet",
                f"if these are other coins: taxreport ledger basis {e.natural_key} --cost AMOUNT --cost-currency CUR "
                "--acquired-at T"))
        elif e.asset not in zero_ok:
            items.append(ReviewItem.about(
                "deposit_without_basis", e,
                f"deposit of {_q(e.quantity)} {e.asset} into {e.account} at {_when(e.time)} has no cost basis and "
                "comes from no other own account",
                f"taxreport ledger basis {e.natural_key} --cost AMOUNT --cost-currency CUR --acquired-at T"))
    for ev in noted:
        if type(ev) is GiftIn and ev.cost is None:
            items.append(ReviewItem.about(
                "gift_without_basis", ev,
                f"gift of {_q(ev.quantity)} {ev.asset} into {ev.account} without a stated basis: acquired at market "
                "value (UK TCGA 1992 s17); a US donee takes the donor's basis and date (IRC §1015, §1223)",
                f"taxreport ledger basis {ev.natural_key} --cost DONOR_COST --cost-currency CUR --acquired-at T"))
        elif isinstance(ev, Withdrawal) and ev.purpose == "gift":
            items.append(ReviewItem.about(
                "gift_given", ev,
                f"gift of {_q(ev.quantity)} {ev.asset} from {ev.account}: a disposal at market value in the UK (TCGA "
                "1992 s17), AU (s116-30) and CA (s69(1)(b)); no disposal for the donor in the US (IRC §1015) and DE "
                "(§ 23 Abs. 1 Satz 3 EStG): check it was a gift (a spouse's is no gain/no loss in the UK, s58)",
                f"if it was not a gift: taxreport ledger reverse {ev.natural_key} --reason ... and add it again"))
        elif isinstance(ev, Withdrawal) and ev.purpose == "lost":
            items.append(ReviewItem.about(
                "lost_coins", ev,
                f"{_q(ev.quantity)} {ev.asset} lost from {ev.account}: a disposal at the value recorded; the loss is "
                "allowed in the UK only with a negligible value claim (TCGA 1992 s24(2)), in the US personal "
                "casualty/theft losses are not deductible 2018-2025 (IRC §165(h)(5))",
                f"check with your adviser; to change it: taxreport ledger reverse {ev.natural_key} --reason ..."))
    if balances:
        items.extend(_negative_balances(prepared.events, zero_ok))
    return items


def _flows_and_noted(prepared: Prepared, unmatched: set[str]
                     ) -> tuple[list[Withdrawal | Deposit], list[GiftIn | Withdrawal]]:
    """From one walk of the prepared events: the unmatched withdrawals and deposits (keys ``unmatched``) by time,
    and the gifts received without basis, gifts given and lost coins in ledger order. A history holding none
    of those kinds is not walked."""
    if not unmatched and not any_kind(kinds_in(prepared.events), GiftIn, Withdrawal):
        return [], []
    flows: list[Withdrawal | Deposit] = []
    noted: list[GiftIn | Withdrawal] = []
    for e in prepared.events:
        if type(e) is Trade:
            continue
        if isinstance(e, (Withdrawal, Deposit)) and e.natural_key in unmatched:
            flows.append(e)
        if (type(e) is GiftIn and e.cost is None) or (isinstance(e, Withdrawal) and e.purpose in ("gift", "lost")):
            noted.append(e)  # type: ignore[arg-type]
    flows.sort(key=lambda e: e.time)
    return flows, noted


def _negative_balances(events: Sequence[Event], zero_ok: set[str]) -> list[ReviewItem]:
    """The first moment each (account, asset) goes below zero (crypto only; fiat has no lots)."""
    balance: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    reported: set[tuple[str, str]] = set()
    out: list[ReviewItem] = []
    for e in sorted(events, key=lambda x: x.time):
        legs = event_legs(e)
        for leg in legs:
            if leg.asset in FIAT:
                continue
            key = (leg.account, leg.asset)
            balance[key] += leg.sign * leg.quantity
        for leg in legs:
            key = (leg.account, leg.asset)
            if leg.asset in FIAT or key in reported or balance[key] >= 0 or leg.asset in zero_ok:
                continue
            reported.add(key)
            out.append(ReviewItem(
                "negative_balance", leg.event_key,
                f"{leg.account} holds {_q(balance[key])} {leg.asset} after this event at {_when(leg.time)}: more "
                "was sold or sent than the ledger shows arriving",
                f"import the missing history of {leg.account}, or: taxreport ledger add deposit --account "
                f"{leg.account} --asset {leg.asset} --quantity {_q(-balance[key])} --time BEFORE "
                "--cost AMOUNT --cost-currency CUR", leg.time, leg.account, leg.asset))
    return out


def review_events(events: Sequence[Event], *, include_simulated: bool = False,
                  window: timedelta = DEFAULT_WINDOW, zero_cost_assets: Sequence[str] = ()) -> list[ReviewItem]:
    """Every review item of a history (pure; reversals applied here)."""
    return review_prepared(prepare_events(events, include_simulated=include_simulated, window=window),
                           zero_cost_assets=zero_cost_assets)


def for_year(items: Sequence[ReviewItem], end: datetime | None) -> list[ReviewItem]:
    """The items that can touch a tax year ending (exclusive) at ``end``: everything before its end, and
    every item without a time (the chain, simulated accounts)."""
    return [i for i in items if end is None or i.time is None or i.time < end]


def review_ledger(ledger, *, jurisdiction: str | None = None, year: str | None = None,
                  include_simulated: bool = False, options: dict[str, Any] | None = None,
                  check_rates: bool = True) -> tuple[list[ReviewItem], datetime | None]:
    """All items of the ledger (for the year, if given; ``jurisdiction`` decides the year's bounds and
    enables the rate check). Returns the items and the year's end (exclusive, UTC) or None."""
    from taxreport.jurisdictions.calendar import calendar_year_bounds

    opts = dict(options or {})
    items: list[ReviewItem] = []
    verified = ledger.verify()
    if not verified.ok:
        items.append(ReviewItem("ledger_chain", f"row {verified.first_bad_seq}",
                                f"the audit chain is broken: {verified.problem}",
                                "restore the ledger from a backup; `taxreport ledger verify` names the first bad row"))
    events = ledger.events()
    try:
        prepared = prepare_events(events, include_simulated=include_simulated)
    except InputError as exc:  # two bases for one deposit, a link to a reversed event…: listed, not a crash
        items.append(ReviewItem("conflict", exc.field or "ledger", exc.reason,
                                "taxreport ledger reverse KEY --reason ... (the event named above)"))
        return items, None
    items.extend(review_prepared(prepared, zero_cost_assets=opts.get("zero_cost_assets", ())))
    end: datetime | None = None
    if year is not None:
        if jurisdiction:
            from taxreport.jurisdictions.base import get

            j = get(jurisdiction)
            end = j.year_bounds(year)[1]
        else:
            end = calendar_year_bounds(year, "UTC")[1]
    if jurisdiction and check_rates:
        items.extend(_missing_rates(ledger, prepared.events, jurisdiction, end, opts))
    return for_year(items, end), end


def _missing_rates(ledger, events: Sequence[Event], jurisdiction: str, end: datetime | None,
                   opts: dict[str, Any]) -> list[ReviewItem]:
    from taxreport.gains import make_pricer
    from taxreport.jurisdictions.base import get
    from taxreport.lots.valuation import value_events
    from taxreport.prices.store import load_table

    j = get(jurisdiction)
    pricer = make_pricer(load_table(ledger), (opts.get("currency") or j.currency).upper(), opts)
    until = end + timedelta(days=1 + j.policy.lookahead_days) if end else None
    try:
        value_events(list(events), pricer, until=until, swap_cost=j.policy.swap_cost)
    except ValueError:
        return []  # a malformed event is reported by gains itself
    out = []
    for base, quote, day in sorted(pricer.missing):
        out.append(ReviewItem("missing_rate", f"{base}->{quote}@{day.isoformat()}",
                              f"no {base}->{quote} rate on {day.isoformat()} (needed to value events of that day)",
                              f"taxreport prices import RATES.csv (a row {day.isoformat()},{base},{quote},RATE), or "
                              f"taxreport prices fetch; or --via USD / --peg {base}=USD if that is what you mean",
                              datetime(day.year, day.month, day.day, tzinfo=UTC), None, base))
    return out


def refuse_blocking(ledger, events: Sequence[Event], *, jurisdiction: str | None, year: str,
                    options: dict[str, Any] | None = None, verify: bool = True) -> None:
    """Raise a one-line :class:`~taxreport.errors.TaxreportError` if the year has blocking items (the
    chain, deposits without basis, ambiguous transfers), pointing to ``taxreport review``. Missing rates
    and negative balances are left to the computation, which names every one itself."""
    year_refusal(ledger, events, options=options, verify=verify)(jurisdiction, year)


def year_refusal(ledger, events: Sequence[Event], *, options: dict[str, Any] | None = None,  # noqa: ANN001
                 verify: bool = True, prepared: Prepared | None = None) -> Callable[[str | None, str], None]:
    """:func:`refuse_blocking` for several years of one history (issue 14: a first ``gains`` call checks every
    year it fills): the items, which do not depend on the year, found once (~0.1 s at 1M trades); then
    ``refuse(jurisdiction, year)`` raises what :func:`refuse_blocking` raises for that year (an error met while
    finding them, e.g. a conflicting basis, is raised for every year, as each call raised it). ``options``: the
    same for every year (their time zone decides each year's end). ``prepared``: ``events`` already prepared as
    here (:func:`prepare_events` with the options' ``include_simulated``), read instead of preparing them again."""
    from taxreport.errors import TaxreportError

    opts = options or {}
    items: list[ReviewItem] = []
    failed: TaxreportError | None = None
    try:
        verified = ledger.verify() if verify else None  # verify=False: the caller checked the chain already
        if verified is not None and not verified.ok:
            items.append(ReviewItem("ledger_chain", f"row {verified.first_bad_seq}", verified.problem, ""))
        if prepared is None:
            prepared = prepare_events(events, include_simulated=bool(opts.get("include_simulated")))
        items.extend(review_prepared(prepared, zero_cost_assets=opts.get("zero_cost_assets", ()), balances=False))
        del prepared
    except TaxreportError as exc:
        failed = exc

    def refuse(jurisdiction: str | None, year: str) -> None:
        from taxreport.jurisdictions.base import get

        if failed is not None:
            raise failed
        if jurisdiction:
            j = get(jurisdiction)
            code = j.code
            end = j.year_bounds(year, opts.get("timezone"))[1]
        else:
            from taxreport.jurisdictions.calendar import calendar_year_bounds

            code, end = "", calendar_year_bounds(year, "UTC")[1]
        blocking = [i for i in for_year(items, end) if i.blocking]
        if blocking:
            shown = "; ".join(f"{i.kind} {i.ref}" for i in blocking[:3])
            more = f" and {len(blocking) - 3} more" if len(blocking) > 3 else ""
            where = f"-j {code} " if code else ""
            raise TaxreportError(f"{len(blocking)} blocking problem(s) for {code + ' ' if code else ''}{year} "
                                 f"({shown}{more}); run `taxreport review {where}--year {year}` for each one's fix")
    return refuse
