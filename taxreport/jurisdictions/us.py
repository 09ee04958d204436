"""United States: capital gains on digital assets for individuals (Form 8949 / Schedule D).

Rules and their sources:

* Crypto is property; each sale, crypto-to-crypto trade or spend is a disposal (IRS Notice 2014-21;
  IRS virtual-currency FAQ https://www.irs.gov/individuals/international-taxpayers/frequently-asked-questions-on-virtual-currency-transactions).
* **Lot identification**: units may be specifically identified if their basis can be identified;
  otherwise they are deemed sold first-in, first-out (FAQ Q39-Q41). FIFO is the default here; LIFO and
  HIFO are standing specific-identification orders; ``specific`` takes the lots the user names
  (:mod:`taxreport.lots.selections`). Average cost is not allowed for digital assets.
* **Per-wallet / per-account basis** from 1 Jan 2025 (Treas. Reg. §1.1012-1(j) as amended by
  T.D. 10000; transition safe harbor Rev. Proc. 2024-28): lots are tracked per account by default
  (option ``scope="universal"`` for earlier years, and ``universal_until`` for the 1 Jan 2025 switch with
  the allocation rule described in :mod:`taxreport.lots.matching`).
* **Holding period**: long-term when held *more than one year*; counting starts the day after
  acquisition, so bought 15 Mar 2023 and sold 15 Mar 2024 is short-term, sold 16 Mar 2024 is
  long-term (IRS Pub. 544, "Holding Period"; IRC §1222). See :mod:`taxreport.jurisdictions.holding`.
  Dates are local dates in ``timezone`` (default ``America/New_York``; option ``timezone``).
* **Tax year**: the calendar year (local dates).
* **Fees**: acquisition fees are added to basis; selling fees reduce the amount realised, so proceeds
  (Form 8949 column d) are reported **net** of disposal fees, with no column (f) code.
* **No wash-sale rule**: IRC §1091 applies to "stock or securities"; digital assets that are not
  securities are not covered under current law (the Build Back Better extension was not enacted).
  Losses are reported as realised.
* **Form 8949 box** (data table :data:`BOXES`): for tax year 2025 on, digital assets use boxes G/H/I
  (short) and J/K/L (long) (2025 Instructions for Form 8949; Form 1099-DA). Option
  ``form8949_reporting``: ``"reported"`` (1099-DA shows basis reported: G/J), ``"not-reported"``
  (1099-DA without basis: H/K) or ``"none"`` (no 1099-DA: I/L). **Default for 2025 on:
  "not-reported" (H/K)**, because brokers report gross proceeds but no basis for 2025 sales
  (basis reporting starts with assets acquired from 2026). Before 2025 the boxes are A/B/C and D/E/F
  and the default is ``"none"`` (C/F): no 1099-B was issued for crypto by most exchanges.
  **Per account** (a broker that issues a 1099-DA and an exchange that does not, in the same year):
  option ``form8949_reporting@ACCOUNT`` (e.g. ``--option form8949_reporting@coinbase:main=reported``)
  overrides the reporting for that account's disposals (Form 8949 instructions: a separate Form 8949
  for each box).
* **Capital-loss limit and carryover** (IRC §1211(b), §1212(b); Schedule D lines 6, 14, 21 and the
  Capital Loss Carryover Worksheet in the Schedule D instructions / Pub. 550): carryovers in (options
  ``short_term_loss_carryover``, ``long_term_loss_carryover``) keep their character and are netted
  first; a net capital loss is deductible up to $3,000 ($1,500 married filing separately, option
  ``filing_status=mfs``; data table :data:`LOSS_LIMIT`); the rest carries over, the deduction using the
  short-term loss first. Assumes taxable income before the deduction is not negative (worksheet line 1).
  ``taxable_gain`` is the net gain after carryovers, floored at 0; the breakdown's ``schedule_d`` holds
  the deduction and the carryovers out (:func:`schedule_d`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Sequence

from taxreport.errors import InputError
from taxreport.jurisdictions.base import DisposalResult, YearSummary
from taxreport.jurisdictions.calendar import calendar_year_bounds
from taxreport.jurisdictions.holding import held_more_than_one_year, local_day_cache
from taxreport.jurisdictions.summary import amount_option, choose_method, summarise, totals
from taxreport.lots.matching import match_kwargs, match_lots, ref_of
from taxreport.lots.split import split_disposal
from taxreport.lots.valuation import SwapCost
from taxreport.lots.types import LotMatch, Movement

ZERO = Decimal(0)

# first tax year -> {reporting: (short box, long box)}
BOXES: tuple[tuple[int, dict[str, tuple[str, str]]], ...] = (
    (0, {"reported": ("A", "D"), "not-reported": ("B", "E"), "none": ("C", "F")}),
    (2025, {"reported": ("G", "J"), "not-reported": ("H", "K"), "none": ("I", "L")}),
)
DEFAULT_REPORTING: tuple[tuple[int, str], ...] = ((0, "none"), (2025, "not-reported"))


def _from_table(table: tuple, year: int):  # noqa: ANN202
    found = table[0][1]
    for first, value in table:
        if year >= first:
            found = value
    return found


# IRC §1211(b): the most of a net capital loss deductible against other income in a year.
LOSS_LIMIT: dict[str, Decimal] = {"single": Decimal(3000), "mfj": Decimal(3000), "hoh": Decimal(3000),
                                  "mfs": Decimal(1500)}


@dataclass(frozen=True)
class ScheduleD:
    """The capital-loss arithmetic of Schedule D for one year (all USD, unrounded)."""

    short_net: Decimal  # line 7: short-term gains - losses - short-term carryover in
    long_net: Decimal  # line 15: the same for long-term
    net: Decimal  # line 16
    loss_deduction: Decimal  # line 21: the part of a net loss deducted this year (positive)
    short_carryover_out: Decimal  # to next year's line 6
    long_carryover_out: Decimal  # to next year's line 14


def schedule_d(short_gain: Decimal, long_gain: Decimal, short_in: Decimal, long_in: Decimal,
               limit: Decimal) -> ScheduleD:
    """Net the year's gains with the carryovers in, apply the loss limit, and carry the rest forward
    (Capital Loss Carryover Worksheet: the deduction absorbs the short-term net loss first)."""
    st, lt = short_gain - short_in, long_gain - long_in
    net = st + lt
    if net >= 0:
        return ScheduleD(st, lt, net, ZERO, ZERO, ZERO)
    deduction = min(limit, -net)
    if st < 0 and lt < 0:
        from_short = min(deduction, -st)
        return ScheduleD(st, lt, net, deduction, -st - from_short, -lt - (deduction - from_short))
    if st < 0:  # the long-term gain absorbed part of the short-term loss
        return ScheduleD(st, lt, net, deduction, -net - deduction, ZERO)
    return ScheduleD(st, lt, net, deduction, ZERO, -net - deduction)


def form8949_boxes(year: int, reporting: str | None = None) -> tuple[str, str, str]:
    """``(reporting, short box, long box)`` for ``year``."""
    how = reporting or _from_table(DEFAULT_REPORTING, year)
    boxes = _from_table(BOXES, year)
    if how not in boxes:
        raise InputError(f"form8949_reporting must be one of {', '.join(boxes)}, not {how!r}", field="--option")
    return how, *boxes[how]


class UnitedStates:
    code = "us"
    name = "United States"
    currency = "USD"
    methods = ("fifo", "lifo", "hifo", "specific")
    timezone = "America/New_York"
    swap_cost = SwapCost.RECEIVED  # crypto/crypto cost: FMV received (IRS FAQ)
    lookahead_days = 0  # nothing after the year changes its gains

    def year_bounds(self, label: str, tz: str | None = None):  # noqa: ANN201
        return calendar_year_bounds(label, tz or self.timezone)

    def compute(self, movements: Sequence[Movement], *, year: str, method: str | None = None,
                options: dict[str, Any] | None = None) -> YearSummary:
        opts = options or {}
        method = choose_method(self, method)
        tz = opts.get("timezone") or self.timezone
        start, end = self.year_bounds(year, tz)
        how, short_box, long_box = form8949_boxes(int(year), opts.get("form8949_reporting"))
        per_account: dict[str, dict[str, str]] = {}
        for key, value in opts.items():
            if isinstance(key, str) and key.startswith("form8949_reporting@"):
                acct_how, acct_short, acct_long = form8949_boxes(int(year), str(value))
                per_account[key.split("@", 1)[1]] = {"reporting": acct_how, "short_box": acct_short,
                                                     "long_box": acct_long}
        matched = match_lots(movements, method=method, until=end, **match_kwargs(opts))
        accounts = set(opts["accounts"]) if opts.get("accounts") else None
        day_of = local_day_cache(tz)
        results: list[DisposalResult] = []
        for md in matched.disposals:
            d = md.disposal
            if d.time < start or (accounts is not None and d.account not in accounts):
                continue
            sold = day_of(d.time)

            def term_of(lm: LotMatch, sold: date = sold) -> str:
                return _term(lm.acquired_at, sold, day_of)

            for part in split_disposal(md, term_of):
                proceeds = part.net_proceeds
                rules = {lm.rule for lm in part.lots}
                results.append(DisposalResult(
                    time=d.time, account=d.account, asset=d.asset, quantity=part.quantity, proceeds=proceeds,
                    cost=part.cost, gain=proceeds - part.cost, lots=part.lots,
                    rule=rules.pop() if len(rules) == 1 else "mixed", term=str(part.key),
                    event_key=ref_of(d), role=d.role))
        short = [r for r in results if r.term == "short"]
        long_ = [r for r in results if r.term == "long"]
        st, lt = totals(short), totals(long_)
        status = str(opts.get("filing_status", "single")).lower()
        if status not in LOSS_LIMIT:
            raise InputError(f"filing_status must be one of {', '.join(LOSS_LIMIT)}, not {status!r}", field="--option")
        sched = schedule_d(st["gain"], lt["gain"], amount_option(opts, "short_term_loss_carryover"),
                           amount_option(opts, "long_term_loss_carryover"), LOSS_LIMIT[status])
        net = sched.net
        breakdown = {
            "short": st, "long": lt, "timezone": tz,
            "form8949": {"reporting": how, "short_box": short_box, "long_box": long_box,
                         **({"by_account": per_account} if per_account else {})},
            "schedule_d": {"short_net_after_carryover": sched.short_net, "long_net_after_carryover": sched.long_net,
                           "net": sched.net, "loss_deduction": sched.loss_deduction,
                           "short_term_loss_carryover_out": sched.short_carryover_out,
                           "long_term_loss_carryover_out": sched.long_carryover_out},
        }
        notes = list(matched.notes) + [
            f"lot method {method}; lots tracked {'per account' if opts.get('scope', 'account') == 'account' else 'universally' if not opts.get('universal_until') else 'universally, then per account'}",
            f"dates are local dates in {tz}; long-term = held more than one year (Pub. 544)",
            f"Form 8949 boxes {short_box} (short) / {long_box} (long): assumed 1099 reporting '{how}' "
            "(option form8949_reporting)",
            "no wash-sale rule for digital assets that are not securities (IRC §1091 covers stock or securities)",
            "proceeds are net of disposal fees (Form 8949 column d)",
            f"Schedule D: net capital loss deductible up to ${LOSS_LIMIT[status]} ({status}); carryovers in/out in "
            "the breakdown (options short_term_loss_carryover, long_term_loss_carryover, filing_status)",
        ]
        if int(year) >= 2025 and opts.get("scope") == "universal" and not opts.get("universal_until"):
            notes.append("WARNING: a universal lot pool is not allowed for digital assets from 1 Jan 2025 "
                         "(Treas. Reg. §1.1012-1(j), Rev. Proc. 2024-28); use --universal-until 2025-01-01")
        if int(year) < 2025 and opts.get("scope", "account") == "account":
            notes.append("per-account lots were only required from 1 Jan 2025 (Rev. Proc. 2024-28); "
                         "--universal gives the pooled method used before")
        return summarise(self.code, self.currency, method, year, start, end, results, ZERO, max(net, ZERO),
                         breakdown, matched.open_lots, notes)


def _term(acquired, sold: date, day_of) -> str:  # noqa: ANN001
    if acquired is None:
        return "short"
    return "long" if held_more_than_one_year(day_of(acquired), sold) else "short"


JURISDICTION = UnitedStates()
