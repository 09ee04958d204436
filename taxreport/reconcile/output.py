"""Render a :class:`~taxreport.reconcile.report.ReconcileReport`: rich tables for the terminal, a CSV
(one line per finding; exact decimals), and a JSON-ready dict."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Any

from taxreport.model.events import format_time
from taxreport.model.money import decimal_str
from taxreport.reconcile.report import FillMatch, FillRef, ReconcileReport

CSV_COLUMNS = ("finding", "time", "side", "pair", "okx_quantity", "ledger_quantity", "okx_price", "ledger_price",
               "okx_fee", "ledger_fee", "fee_asset", "okx_ref", "ledger_ref", "how", "detail")


def _d(value) -> str:  # noqa: ANN001
    return "" if value is None else decimal_str(value)


def _fill_line(finding: str, o: FillRef | None, r: FillRef | None, how: str = "", detail: str = "") -> dict:
    one = o or r
    assert one is not None
    return {
        "finding": finding, "time": format_time(one.time), "side": one.side, "pair": one.pair,
        "okx_quantity": _d(o.quantity) if o else "", "ledger_quantity": _d(r.quantity) if r else "",
        "okx_price": _d(o.price) if o else "", "ledger_price": _d(r.price) if r else "",
        "okx_fee": _d(o.fee) if o else "", "ledger_fee": _d(r.fee) if r else "",
        "fee_asset": one.fee_asset or "",
        "okx_ref": f"{o.origin} order {o.order_id or '-'}" if o else "",
        "ledger_ref": f"{r.origin} {r.key}" if r else "", "how": how, "detail": detail,
    }


def _diff_text(m: FillMatch) -> str:
    return "; ".join(f"{d.field}: OKX {d.okx} vs ledger {d.ledger}" for d in m.differences)


def finding_lines(report: ReconcileReport) -> list[dict[str, str]]:
    """Every finding as a flat dict of text (the CSV rows, also handy for the PDF)."""
    lines = [_fill_line("mismatch", m.okx, m.ledger, m.how, _diff_text(m)) for m in report.mismatched]
    lines += [_fill_line("only_in_okx", o, None, detail="in OKX's history, not in the ledger")
              for o in report.only_in_okx]
    lines += [_fill_line("only_in_ledger", None, r, detail="in the ledger, not in OKX's history")
              for r in report.only_in_ledger]
    lines += [_fill_line("matched", m.okx, m.ledger, m.how) for m in report.matched]
    for b in report.balances:
        lines.append({c: "" for c in CSV_COLUMNS} | {
            "finding": "balance_diverges" if not b.ok else "balance_ok", "pair": b.asset,
            "time": b.first_divergence.isoformat() if b.first_divergence else "",
            "okx_quantity": _d(b.okx), "ledger_quantity": _d(b.ledger),
            "detail": (f"running balances first differ at the end of {b.first_divergence}: OKX "
                       f"{_d(b.okx_at_divergence)} vs ledger {_d(b.ledger_at_divergence)}") if not b.ok else
                      "net change over the period agrees"})
    return lines


def zone_note(report: ReconcileReport) -> str:
    """The warning for files that name no time zone and were read as UTC (empty when there are none)."""
    if not report.zone_assumed:
        return ""
    names = ", ".join(report.zone_assumed)
    return (f"{names} {'names' if len(report.zone_assumed) == 1 else 'name'} no time zone: read as UTC. OKX writes "
            "times in your account's display time zone; if it is not UTC, give it with --time-zone (as to "
            "`taxreport import okx`), e.g. --time-zone Europe/Rome.")


def write_csv(report: ReconcileReport, path: str | Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(finding_lines(report))


def to_dict(report: ReconcileReport) -> dict[str, Any]:
    data = dataclasses.asdict(report)
    data["ok"] = report.ok
    data["counts"] = report.counts()
    return data


def print_report(report: ReconcileReport) -> None:
    from rich.table import Table

    from taxreport.cli.common import console

    from taxreport.cli.fit import Col, echo_line, print_fitted

    out = console()
    period = f"{format_time(report.start)} … {format_time(report.end)} (end exclusive)"
    # plain lines and the findings: on a narrow terminal a path, a time or a figure is never split (cli/fit.py)
    files = ", ".join(f"{f} ({v}, times in {z})" for f, v, z in zip(report.files, report.variants, report.time_zones))
    echo_line(f"Reconcile {report.account}: {files}, {period}, tolerance {decimal_str(report.tolerance)} (relative)")
    if report.zone_assumed:
        echo_line(zone_note(report))
    counts = report.counts()
    summary = Table(title="Summary", header_style="bold")
    summary.add_column("finding")
    summary.add_column("count", justify="right")
    for name, n in counts.items():
        style = "" if name == "matched" or n == 0 else "red"
        summary.add_row(name.replace("_", " "), f"[{style}]{n}[/{style}]" if style else str(n))
    out.print(summary)
    problems = [line for line in finding_lines(report) if line["finding"] not in ("matched", "balance_ok")]
    if problems:
        rows = []
        for line in problems:
            okx = " ".join(filter(None, [line["okx_quantity"], line["okx_price"] and "@ " + line["okx_price"],
                                         line["okx_fee"] and "fee " + line["okx_fee"]]))
            led = " ".join(filter(None, [line["ledger_quantity"], line["ledger_price"] and "@ " + line["ledger_price"],
                                         line["ledger_fee"] and "fee " + line["ledger_fee"]]))
            refs = "; ".join(filter(None, [line["detail"], line["okx_ref"], line["ledger_ref"]]))
            when = line["time"][:19].replace("T", " ")
            rows.append((line["finding"].replace("_", " "), when, line["side"], line["pair"], okx, led, refs))
        print_fitted("Findings", [Col("finding", wrap=True), Col("time", wrap=True), Col("side"), Col("pair"),
                                  Col("okx", wrap=True), Col("ledger", wrap=True), Col("detail / refs", wrap=True)],
                     rows)
    bal = Table(title="Balances over the period (net change per asset)", header_style="bold")
    for name, justify in (("asset", "left"), ("OKX", "right"), ("ledger", "right"), ("first divergence", "left")):
        bal.add_column(name, justify=justify)  # type: ignore[arg-type]
    for b in report.balances:
        bal.add_row(b.asset, _d(b.okx), _d(b.ledger),
                    f"[red]{b.first_divergence}[/red]" if b.first_divergence else "agrees")
    out.print(bal)
    if report.not_compared:
        echo_line(f"{len(report.not_compared)} OKX rows not compared (internal moves, not disposals).")
    if report.okx_rounding:
        echo_line(f"{len(report.okx_rounding)} OKX rows show OKX's own 8-decimal rounding (≤ 1e-8, accepted; "
                  "`taxreport import okx` lists them).")
    for origin, detail in report.okx_gaps:
        echo_line(f"gap in OKX's own balance chain {origin}: {detail}")
    out.print("[green]Everything reconciles.[/green]" if report.ok else
              "[red]Does NOT reconcile[/red]: see the findings above.")
