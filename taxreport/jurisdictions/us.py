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
* The $3,000 capital-loss limit and carryovers belong to Schedule D and are not applied here
  (``taxable_gain`` is the net gain, floored at 0).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Sequence

from taxreport.errors import InputError
from taxreport.jurisdictions.base import DisposalResult, YearSummary
from taxreport.jurisdictions.calendar import calendar_year_bounds, local_date
from taxreport.jurisdictions.holding import held_more_than_one_year, local_day_cache
from taxreport.jurisdictions.summary import choose_method, summarise, totals
from taxreport.lots.matching import match_kwargs, match_lots, ref_of
from taxreport.lots.split import split_disposal
from taxreport.lots.valuation import SwapCost
from taxreport.lots.types import LotMatch, Movement
from taxreport.model.money import decimal_str

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
        net = st["gain"] + lt["gain"]
        breakdown = {
            "short": st, "long": lt, "timezone": tz,
            "form8949": {"reporting": how, "short_box": short_box, "long_box": long_box},
        }
        notes = list(matched.notes) + [
            f"lot method {method}; lots tracked {'per account' if opts.get('scope', 'account') == 'account' else 'universally' if not opts.get('universal_until') else 'universally, then per account'}",
            f"dates are local dates in {tz}; long-term = held more than one year (Pub. 544)",
            f"Form 8949 boxes {short_box} (short) / {long_box} (long): assumed 1099 reporting '{how}' "
            "(option form8949_reporting)",
            "no wash-sale rule for digital assets that are not securities (IRC §1091 covers stock or securities)",
            "proceeds are net of disposal fees; the $3,000 loss limit and carryovers are not applied",
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


def form8949_rows(summary: YearSummary) -> list[dict[str, Any]]:
    """Form 8949 rows (columns a-h, part and box) of a US :class:`YearSummary`, short-term first.

    Amounts are exact Decimals (round with :func:`taxreport.model.money.money_str` when printing).
    Date acquired is the lot's local date, or ``VARIOUS`` when a row combines lots of several dates.
    """
    tz = summary.breakdown.get("timezone", UnitedStates.timezone)
    boxes = summary.breakdown.get("form8949", {})
    rows = []
    for term in ("short", "long"):
        for r in summary.disposals:
            if r.term != term:
                continue
            dates = {local_date(lm.acquired_at, tz) for lm in r.lots if lm.acquired_at is not None}
            rows.append({
                "part": "I" if term == "short" else "II",
                "box": boxes.get("short_box" if term == "short" else "long_box", ""),
                "description": f"{decimal_str(r.quantity)} {r.asset}",
                "date_acquired": dates.pop().isoformat() if len(dates) == 1 else "VARIOUS",
                "date_sold": local_date(r.time, tz).isoformat(),
                "proceeds": r.proceeds, "cost": r.cost, "code": r.adjustment_code,
                "adjustment": r.adjustment, "gain": r.gain,
            })
    return rows


JURISDICTION = UnitedStates()
