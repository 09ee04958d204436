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

Then total rows: SA108's number of disposals, disposal proceeds, allowable costs, gains in the year
before losses and losses in the year (the boxes' own words), in 2024-25 the gains and losses before and
on or after 30 October 2024 (the rate change SA108 2024-25 asks about), then net gain, the annual exempt amount and
the taxable gain. Amounts are printed to the penny so that every row's arithmetic holds on its face
(allowable costs = matched cost + disposal costs; gain or loss = disposal proceeds - allowable costs) and
the proceeds and allowable-cost columns add up to their SA108 totals, which are the exact totals
rounded once (:func:`taxreport.reports.cells.apportion_cents`: each printed figure within a penny of
its exact value; a derived matched cost within two). The gains, losses, net and taxable totals are the
year's exact figures rounded once (``taxreport gains``), so they can differ by a penny from the sum of
the printed rows' gains.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from taxreport.errors import InputError
from taxreport.lots.split import allocate
from taxreport.jurisdictions.base import DisposalResult, YearSummary
from taxreport.jurisdictions.uk import UkDetail
from taxreport.reports.cells import Num, apportion_cents, money, qty, render_csv, write_csv

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
    parts = [(n, d, lot, g, f) for n, d in enumerate(summary.disposals, start=1) for lot, g, f in _parts(d)]
    # printed to the cent so each row's arithmetic holds on its face (allowable costs = matched cost +
    # disposal costs, gain = proceeds - allowable costs) and each column adds up to its total row
    printed_proceeds = apportion_cents([g for _, _, _, g, _ in parts])
    printed_costs = apportion_cents([f for _, _, _, _, f in parts])
    printed_allowable = apportion_cents([lot.cost + f for _, _, lot, _, f in parts])
    for (n, d, lot, _, _), g, f, a in zip(parts, printed_proceeds, printed_costs, printed_allowable):
        day = summary.local_date(d.time).isoformat()
        detail = _uk(d)
        keys = detail.event_keys or (d.event_key,)
        acquired = summary.local_date(lot.acquired_at).isoformat() if lot.acquired_at and \
            lot.rule in ("same-day", "30-day") else ""
        out.append([Num(str(n)), Num(day), d.asset, Num(qty(d.quantity)), RULES.get(lot.rule, lot.rule),
                    Num(qty(lot.quantity)), Num(acquired), Num(money(g)), Num(money(f)),
                    Num(money(a - f)), Num(money(a)), Num(money(g - a)),
                    Num(qty(detail.pool_quantity_after)), Num(money(detail.pool_cost_after)),
                    " ".join(str(k) for k in keys)])
    gross = sum((_uk(d).gross_proceeds for d in summary.disposals), ZERO)
    allowable = sum((_uk(d).allowable_costs for d in summary.disposals), ZERO)
    col = HEADER.index
    totals: list[tuple[str, int, Decimal | int]] = [  # (label, column, value)
        ("Number of disposals (SA108)", col("Matching rule"), _number_of_disposals(summary)),
        ("Total disposal proceeds (SA108)", col("Disposal proceeds"), gross),
        ("Total allowable costs (SA108)", col("Allowable costs"), allowable),
        ("Gains in the year, before losses (SA108)", col("Gain or loss"), summary.gains),
        ("Losses in the year (SA108)", col("Gain or loss"), -summary.losses),
        *_rate_change_rows(summary, col("Gain or loss")),
        ("Net gain", col("Gain or loss"), summary.gain),
        ("Annual exempt amount", col("Gain or loss"), summary.allowance),
        ("Taxable gain", col("Gain or loss"), summary.taxable_gain),
    ]
    for label, column, value in totals:
        row: list[Any] = ["Total", Num(summary.year), label] + [""] * (len(HEADER) - 3)
        row[column] = Num(str(value)) if isinstance(value, int) else Num(money(value))
        out.append(row)
    return out


def _rate_change_rows(summary: YearSummary, column: int) -> list[tuple[str, int, Decimal | int]]:
    """2024-25 only: the gains and losses before and on or after 30 October 2024 (the CGT rates changed
    that day; SA108 2024-25 asks for them apart for its adjustment, box 51), from the UK breakdown's
    ``sa108_rate_change_split``; none in other years."""
    from taxreport.jurisdictions.uk import UkBreakdown

    b = summary.breakdown
    if not isinstance(b, UkBreakdown) or not b.sa108_rate_change_split:
        return []
    out: list[tuple[str, int, Decimal | int]] = []
    for period, totals in b.sa108_rate_change_split.items():
        out += [(f"Gains {period}", column, totals.gains), (f"Losses {period}", column, -totals.losses)]
    return out


def _number_of_disposals(summary: YearSummary) -> int:
    """SA108's "Number of disposals": the UK computation's count (a day's disposals of one token are one
    disposal, TCGA92 s105), from its breakdown when the summary carries it."""
    from taxreport.jurisdictions.uk import UkBreakdown

    if isinstance(summary.breakdown, UkBreakdown):
        return summary.breakdown.sa108_number_of_disposals
    return len(summary.disposals)


def render(summary: YearSummary) -> str:
    return render_csv(HEADER, rows(summary))


def export(summary: YearSummary, path: Any) -> int:
    """Write the UK computation CSV; return the number of rows."""
    return write_csv(path, HEADER, rows(summary))

