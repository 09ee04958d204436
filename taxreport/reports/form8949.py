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
remainder, so the rows of a disposal add up to its totals. Amounts are printed to the cent so that
the form's arithmetic holds on its face (see :func:`rows`): (h) = (d) - (e) + (g) on every row, and
each box's "Totals" row (line 2) is the sum of its printed rows, its (d), (e) and (g) equal to the
exact totals rounded once.
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
from taxreport.reports.cells import Num, apportion_cents, money, render_csv, write_csv

HEADER = ["Part", "Box", "(a) Description of property", "(b) Date acquired", "(c) Date sold or disposed of",
          "(d) Proceeds", "(e) Cost or other basis", "(f) Code(s)", "(g) Amount of adjustment",
          "(h) Gain or (loss)"]

PARTS = {"short": "I", "long": "II"}
ZERO = Decimal(0)


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


# Form 8949 line 2 (2025 form): "Enter each total here and include on your Schedule D, line 1b (if Box A or
# Box G above is checked), line 2 (if Box B or Box H above is checked), or line 3 (if Box C or Box I above is
# checked)"; Part II: "line 8b (if Box D or Box J above is checked), line 9 (if Box E or Box K above is
# checked), or line 10 (if Box F or Box L above is checked)".
SCHEDULE_D_LINE = {"A": "1b", "G": "1b", "B": "2", "H": "2", "C": "3", "I": "3",
                   "D": "8b", "J": "8b", "E": "9", "K": "9", "F": "10", "L": "10"}


@dataclass(frozen=True)
class BoxTotals:
    """One box's line 2 as printed (the sums of its printed rows), and the Schedule D line it goes to."""

    part: str
    box: str
    rows: int
    proceeds: Decimal
    cost: Decimal
    adjustment: Decimal

    @property
    def gain(self) -> Decimal:
        return self.proceeds - self.cost + self.adjustment

    @property
    def schedule_d_line(self) -> str:
        return SCHEDULE_D_LINE[self.box]


def rows(summary: YearSummary, *, tz: str | None = None, reporting: str | None = None) -> list[list[Any]]:
    """CSV rows: each line, then a "Totals" row after each box (Form 8949 line 2).

    The printed figures obey the form's own arithmetic: column (h) is "Subtract column (e) from column
    (d) and combine the result with column (g)" of the printed cells of its row, and line 2 is "Totals.
    Add the amounts in columns (d), (e), (g), and (h) (subtract negative amounts)" (Form 8949, column
    (h) heading and line 2). So (d), (e) and (g) are printed to the cent by :func:`apportion_cents` (each
    row within a cent of its exact value, the rows of a box adding up to the box's exact total rounded
    once, the figure ``taxreport gains`` shows), (h) is derived from them, and the totals are the sums
    of the printed rows. A box's total (h) is therefore its printed (d) - (e) + (g), which can differ by
    a cent from the exact gain rounded once."""
    return _printed(summary, tz=tz, reporting=reporting)[0]


def box_totals(summary: YearSummary, *, tz: str | None = None, reporting: str | None = None) -> list[BoxTotals]:
    """Each box's printed line 2 (the "Totals" rows of :func:`rows`) with its Schedule D line."""
    return _printed(summary, tz=tz, reporting=reporting)[1]


def _printed(summary: YearSummary, *, tz: str | None, reporting: str | None) -> tuple[list[list[Any]], list[BoxTotals]]:
    out: list[list[Any]] = []
    totals: list[BoxTotals] = []
    all_lines = lines(summary, tz=tz, reporting=reporting)
    groups: dict[tuple[str, str], list[Line]] = {}
    for ln in all_lines:
        groups.setdefault((ln.term, ln.box), []).append(ln)
    for (term, box), group in groups.items():
        ds = apportion_cents([ln.proceeds for ln in group])
        es = apportion_cents([ln.cost for ln in group])
        gs = apportion_cents([ln.adjustment for ln in group])
        for ln, d, e, g in zip(group, ds, es, gs):
            out.append([PARTS[term], box, ln.description, Num(_date(ln.acquired)), Num(_date(ln.sold)),
                        Num(money(d)), Num(money(e)), ln.code, Num(money(g) if ln.adjustment else ""),
                        Num(money(d - e + g))])
        t = BoxTotals(PARTS[term], box, len(group), sum(ds, ZERO), sum(es, ZERO), sum(gs, ZERO))
        totals.append(t)
        out.append([t.part, box, "Totals", "", "", Num(money(t.proceeds)), Num(money(t.cost)), "",
                    Num(money(t.adjustment) if any(ln.adjustment for ln in group) else ""), Num(money(t.gain))])
    return out, totals


def render(summary: YearSummary, **options: Any) -> str:
    return render_csv(HEADER, rows(summary, **options))


def export(summary: YearSummary, path: Any, **options: Any) -> int:
    """Write the Form 8949 CSV; return the number of rows (lines and totals)."""
    return write_csv(path, HEADER, rows(summary, **options))

