"""UK capital gains computation as CSV, laid out the way HMRC's manuals work a disposal through.

Sources: HMRC Cryptoassets Manual CRYPTO22200-22257 (matching order: same day, TCGA 1992 s105; next 30
days, s106A; Section 104 pool, s104; https://www.gov.uk/hmrc-internal-manuals/cryptoassets-manual/crypto22250)
and the SA108 "Capital gains summary" boxes (disposal proceeds, allowable costs, gains, losses). The
matching itself is done by :mod:`taxreport.jurisdictions.uk`; this module only presents it.

One row per matching part of each disposal (a disposal matched partly on the same day, partly within
30 days and partly from the pool has three rows), with:

* the disposal (UK local date, token, quantity disposed, disposal number ``#``);
* the rule used and the quantity matched under it, with the acquisition date for the same-day and
  30-day rules (a pool has no single date);
* gross proceeds and disposal costs allocated to the part in proportion to quantity (exact; the last
  part takes the remainder), the matched cost, the allowable cost (matched cost + disposal costs)
  and the gain or loss of the part;
* the Section 104 pool of that token **after** the disposal (quantity and pooled cost), from the UK
  module's typed detail (:class:`taxreport.jurisdictions.uk.UkDetail`: ``pool_quantity_after``,
  ``pool_cost_after``).

Then total rows: proceeds, allowable costs, gains, losses, net gain, the annual exempt amount and the
taxable gain. Amounts are rounded half-up to the penny only here (totals from unrounded values).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from taxreport.errors import InputError
from taxreport.lots.split import allocate
from taxreport.jurisdictions.base import DisposalResult, YearSummary
from taxreport.jurisdictions.uk import UkDetail
from taxreport.reports.cells import Num, money, qty, render_csv, write_csv

HEADER = ["#", "Disposal date", "Token", "Quantity disposed", "Matching rule", "Quantity matched",
          "Acquisition date", "Disposal proceeds", "Disposal costs", "Matched cost", "Allowable costs",
          "Gain or loss", "Pool quantity after", "Pool cost after", "Ledger events"]

RULES = {
    "same-day": "Same day (TCGA92 s105)",
    "30-day": "Next 30 days (TCGA92 s106A)",
    "s104": "Section 104 pool (TCGA92 s104)",
    "zero-cost": "No acquisition: zero cost (allowed by user)",
}
ZERO = Decimal(0)


def _uk(d: DisposalResult) -> UkDetail:
    if not isinstance(d.detail, UkDetail):
        raise InputError(f"UK disposal {d.event_key} of {d.asset} has no UK figures (not computed by the UK rules)",
                         field="detail")
    return d.detail


def _parts(d: DisposalResult) -> list[tuple[Any, Decimal, Decimal]]:
    """``(lot, proceeds part, disposal-cost part)`` for each matching part, allocated exactly."""
    gross, fees = _uk(d).gross_proceeds, _uk(d).disposal_costs
    lots = list(d.lots)
    if not lots:
        raise InputError(f"UK disposal {d.event_key} of {d.asset} has no matching parts", field="lots")
    qs = [m.quantity for m in lots]
    return list(zip(lots, allocate(gross, qs), allocate(fees, qs)))


def rows(summary: YearSummary) -> list[list[Any]]:
    from taxreport.jurisdictions.base import get

    if "hmrc" not in get(summary.jurisdiction).policy.forms:  # the country's policy lists its forms
        raise InputError(f"the HMRC computation is for the UK; the summary is for {summary.jurisdiction!r}",
                         field="--jurisdiction")
    out: list[list[Any]] = []
    for n, d in enumerate(summary.disposals, start=1):
        day = summary.local_date(d.time).isoformat()
        detail = _uk(d)
        keys = detail.event_keys or (d.event_key,)
        pool_q, pool_c = detail.pool_quantity_after, detail.pool_cost_after
        for lot, g, f in _parts(d):
            acquired = summary.local_date(lot.acquired_at).isoformat() if lot.acquired_at and \
                lot.rule in ("same-day", "30-day") else ""
            out.append([Num(str(n)), Num(day), d.asset, Num(qty(d.quantity)), RULES.get(lot.rule, lot.rule),
                        Num(qty(lot.quantity)), Num(acquired), Num(money(g)), Num(money(f)),
                        Num(money(lot.cost)), Num(money(lot.cost + f)), Num(money(g - f - lot.cost)),
                        Num(qty(pool_q)), Num(money(pool_c)), " ".join(str(k) for k in keys)])
    gross = sum((_uk(d).gross_proceeds for d in summary.disposals), ZERO)
    allowable = sum((_uk(d).allowable_costs for d in summary.disposals), ZERO)
    col = HEADER.index
    totals = [  # (label, column, value)
        ("Total disposal proceeds (SA108)", col("Disposal proceeds"), gross),
        ("Total allowable costs (SA108)", col("Allowable costs"), allowable),
        ("Gains in the year", col("Gain or loss"), summary.gains),
        ("Losses in the year", col("Gain or loss"), -summary.losses),
        ("Net gain", col("Gain or loss"), summary.gain),
        ("Annual exempt amount", col("Gain or loss"), summary.allowance),
        ("Taxable gain", col("Gain or loss"), summary.taxable_gain),
    ]
    for label, column, value in totals:
        row: list[Any] = ["Total", Num(summary.year), label] + [""] * (len(HEADER) - 3)
        row[column] = Num(money(value))
        out.append(row)
    return out


def render(summary: YearSummary) -> str:
    return render_csv(HEADER, rows(summary))


def export(summary: YearSummary, path: Any) -> int:
    """Write the UK computation CSV; return the number of rows."""
    return write_csv(path, HEADER, rows(summary))

