"""US Form 8949 ("Sales and Other Dispositions of Capital Assets") as CSV, from a US :class:`YearSummary`.

Sources: IRS Instructions for Form 8949 and the form itself (https://www.irs.gov/forms-pubs/about-form-8949):
columns (a) description of property, (b) date acquired, (c) date sold or disposed of, (d) proceeds,
(e) cost or other basis, (f) code(s), (g) amount of adjustment, (h) gain or (loss) = (d) - (e) + (g);
Part I short-term (held one year or less), Part II long-term (more than one year; Pub. 544: the
holding period starts the day after acquisition and includes the day of sale).
Boxes: up to tax year 2024 A/B/C (short) and D/E/F (long) for transactions reported on Form 1099-B
with basis reported / basis not reported / not reported to you; from tax year 2025 digital assets use
the new boxes G/H/I (short) and J/K/L (long) for Form 1099-DA with basis reported / basis not
reported / no 1099-DA (Form 1099-DA filer instructions, "Applicable checkbox on Form 8949", codes G,
H, J, K). The box table lives in the US module (:data:`taxreport.jurisdictions.us.BOXES`); the boxes
the US computation chose are in ``summary.breakdown.form8949``
(:class:`taxreport.jurisdictions.us.Form8949`) and are used as they are.

One CSV row per lot matched: a disposal that used several lots is split, its proceeds (and any
adjustment) allocated to the lots in proportion to quantity, exactly, with the last lot taking the
remainder, so the rows of a disposal add up to its totals. Amounts are rounded half-up to the cent
for presentation only; the "Totals" row of each box is summed from unrounded values and rounded
once, so it can differ by a cent from the sum of the rounded rows (taxreport's rounding policy).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from taxreport.errors import InputError
from taxreport.lots.split import allocate
from taxreport.jurisdictions.holding import held_more_than_one_year
from taxreport.jurisdictions.base import DisposalResult, YearSummary
from taxreport.model.money import decimal_str
from taxreport.reports.cells import Num, money, render_csv, write_csv

HEADER = ["Part", "Box", "(a) Description of property", "(b) Date acquired", "(c) Date sold or disposed of",
          "(d) Proceeds", "(e) Cost or other basis", "(f) Code(s)", "(g) Amount of adjustment",
          "(h) Gain or (loss)"]

PARTS = {"short": "I", "long": "II"}


def box_for(tax_year: int, reporting: str | None, term: str) -> str:
    """The box for ``term`` from the US module's table (:func:`taxreport.jurisdictions.us.form8949_boxes`,
    the single source of the box rules); ``reporting`` None means the module's default for the year."""
    from taxreport.jurisdictions.us import form8949_boxes

    _, short_box, long_box = form8949_boxes(tax_year, reporting)
    return short_box if term == "short" else long_box


@dataclass(frozen=True)
class Line:
    term: str
    box: str
    description: str
    acquired: date | None
    sold: date
    proceeds: Decimal
    cost: Decimal
    code: str
    adjustment: Decimal

    @property
    def gain(self) -> Decimal:
        return self.proceeds - self.cost + self.adjustment


def lines(summary: YearSummary, *, tz: str | None = None, reporting: str | None = None) -> list[Line]:
    """The Form 8949 lines of ``summary`` (one per lot), Part I before Part II, by box and date.

    Boxes: ``reporting`` (reported / not-reported / none) when given, else the boxes the US computation
    chose (``breakdown.form8949``), else the US module's default for the year. Dates: local dates
    in ``tz``, else the summary's zone (the one every report uses)."""
    from taxreport.jurisdictions.base import get

    if "form8949" not in get(summary.jurisdiction).policy.forms:  # the country's policy lists its forms
        raise InputError(f"Form 8949 is a US form; the summary is for {summary.jurisdiction!r}",
                         field="--jurisdiction")
    year = int(summary.year[:4])
    from taxreport.jurisdictions.us import UsBreakdown

    chosen = summary.breakdown.form8949 if isinstance(summary.breakdown, UsBreakdown) else None
    if reporting is None and chosen is not None:
        boxes = {"short": chosen.short_box, "long": chosen.long_box}
    else:
        boxes = {term: box_for(year, reporting, term) for term in PARTS}
    by_account: dict[str, dict[str, str]] = {}
    if reporting is None and chosen is not None and chosen.by_account:
        for account, b in chosen.by_account.items():  # a broker's 1099-DA for one account, none for another
            by_account[account] = {"short": b.short_box, "long": b.long_box}
    zone = ZoneInfo(tz or summary.timezone)
    out: list[Line] = []
    for d in summary.disposals:
        out.extend(_disposal_lines(d, zone, by_account.get(d.account, boxes)))
    out.sort(key=lambda ln: (ln.term != "short", ln.box, ln.sold, ln.description))
    return out


def _disposal_lines(d: DisposalResult, zone: ZoneInfo, boxes: dict[str, str]) -> list[Line]:
    sold = d.time.astimezone(zone).date()
    lots = d.lots or ()
    if not lots:
        raise InputError(f"disposal {d.event_key or d.time.isoformat()} of {d.asset} has no matched lots",
                         field="lots")
    qs = [m.quantity for m in lots]
    result: list[Line] = []
    for lot, proceeds, adjustment in zip(lots, allocate(d.proceeds, qs), allocate(d.adjustment, qs)):
        acquired = lot.acquired_at.astimezone(zone).date() if lot.acquired_at else None
        term = d.term if d.term in PARTS else None
        if term is None:
            if acquired is None:
                raise InputError(f"disposal {d.event_key}: no holding period (term) and no acquisition date",
                                 field="term")
            term = "long" if held_more_than_one_year(acquired, sold) else "short"
        result.append(Line(term=term, box=boxes[term],
                           description=f"{decimal_str(lot.quantity)} {d.asset}", acquired=acquired, sold=sold,
                           proceeds=proceeds, cost=lot.cost, code=d.adjustment_code, adjustment=adjustment))
    return result


def _date(value: date | None) -> str:
    return value.strftime("%m/%d/%Y") if value else "VARIOUS"


def rows(summary: YearSummary, *, tz: str | None = None, reporting: str | None = None) -> list[list[Any]]:
    """CSV rows: each line, then a "Totals" row after each box (Form 8949 line 2)."""
    out: list[list[Any]] = []
    all_lines = lines(summary, tz=tz, reporting=reporting)
    groups: dict[tuple[str, str], list[Line]] = {}
    for ln in all_lines:
        groups.setdefault((ln.term, ln.box), []).append(ln)
    for (term, box), group in groups.items():
        for ln in group:
            out.append([PARTS[term], box, ln.description, Num(_date(ln.acquired)), Num(_date(ln.sold)),
                        Num(money(ln.proceeds)), Num(money(ln.cost)), ln.code,
                        Num(money(ln.adjustment) if ln.adjustment else ""), Num(money(ln.gain))])
        p = sum((ln.proceeds for ln in group), Decimal(0))
        c = sum((ln.cost for ln in group), Decimal(0))
        a = sum((ln.adjustment for ln in group), Decimal(0))
        out.append([PARTS[term], box, "Totals", "", "", Num(money(p)), Num(money(c)), "",
                    Num(money(a) if a else ""), Num(money(p - c + a))])
    return out


def render(summary: YearSummary, **options: Any) -> str:
    return render_csv(HEADER, rows(summary, **options))


def export(summary: YearSummary, path: Any, **options: Any) -> int:
    """Write the Form 8949 CSV; return the number of rows (lines and totals)."""
    return write_csv(path, HEADER, rows(summary, **options))

