"""The tax preview part of ``rebalance plan`` (edges only: read the ledger, print; the logic is
:mod:`taxreport.rebalance.tax_preview`)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import click

from taxreport.cli.fit import echo_line
from taxreport.errors import InputError


def parse_fx(values: tuple[str, ...]) -> dict[str, Decimal]:
    """``--fx GBP=0.79`` (1 USD = 0.79 GBP), repeatable or comma-separated (``--fx GBP=0.79,EUR=0.92``, as
    ``backtest --jurisdiction uk,de`` is written); the one parser of ``--fx`` (rebalance plan/run, backtest)."""
    from taxreport.model.money import parse_decimal

    out: dict[str, Decimal] = {}
    for item in (part for value in values for part in value.split(",")):
        cur, sep, rate = item.partition("=")
        try:
            value = parse_decimal(rate, what="--fx") if sep else None
        except ValueError:
            value = None
        if not sep or not cur.strip().isalpha() or value is None or value <= 0:
            raise InputError(f"{item!r} must look like GBP=0.79 (1 USD = 0.79 GBP)", field="--fx")
        out[cur.strip().upper()] = value
    return out


def tax_preview_for(basket: Any, plan: Any, *, fee_rate: Decimal | None, fx: tuple[str, ...], at: str | None) -> Any:
    """The plan's :class:`~taxreport.rebalance.tax_preview.TaxPreview` from the ledger (``--db``), or
    None when the basket has no ``[tax]`` table."""
    if basket.tax is None:
        return None
    from taxreport.cli.common import open_ledger, parse_when
    from taxreport.rebalance.tax_preview import preview_from_ledger

    now = parse_when(at, what="--at") if at else datetime.now(timezone.utc)
    assert now is not None
    return preview_from_ledger(open_ledger(click.get_current_context(), readonly=True), plan, basket, now,
                               fee_rate=fee_rate if fee_rate is not None else Decimal(0), fx=parse_fx(fx))


def print_preview(p: Any) -> None:
    """The tax preview: one row per lot a sell leg would consume (:func:`preview_lines`), then the totals."""
    from taxreport.model.money import money_str

    if p.error:
        echo_line(f"tax preview ({p.jurisdiction}): not available: {p.error}")
        return
    table = preview_table(p)
    if table is not None:
        from taxreport.cli.fit import print_fitted

        print_fitted(*table)
    echo_line(f"realised gain {money_str(p.realised_gain)} {p.currency}; taxable gain of {p.year} "
              f"{money_str(p.taxable_before)} -> {money_str(p.taxable_after)}; ESTIMATED tax "
              f"{money_str(p.estimated_tax)} {p.currency} at {p.rate * 100}%"
              f"{' (illustrative rate: set marginal_rate in [tax])' if p.rate_is_default else ''}")
    for line in p.advice:
        if not line.startswith(("defer-short-term:", "tax-budget:", "use-allowance:", "harvest-losses:")):
            echo_line(f"tax advice: {line}")
    from taxreport.simulated import banner_note

    if banner_note(p.notes):
        echo_line(banner_note(p.notes))


def preview_lines(p: Any, width: int) -> list[Any]:
    """The lots table of a tax preview for a terminal ``width`` columns wide (:func:`taxreport.cli.fit.fitted`:
    no date or amount is ever split across lines nor cut; a terminal too narrow for the table gets one line
    of ``name=value`` words per lot); none when no sell consumes a lot."""
    from taxreport.cli.fit import fitted

    table = preview_table(p)
    return [] if table is None else fitted(*table, width)


def preview_table(p: Any) -> tuple[str, list[Any], list[list[str]]] | None:
    """The tax preview's lots table (title, columns, rows; None: no lot), printed by :func:`print_preview` at the
    terminal's width. Money to the cent (display only; ``--format json`` has every digit).

    Columns that say nothing the title does not are left out: ``rule`` when every lot's rule is the
    preview's method (e.g. ``specific``), ``term`` when no lot has one (UK and CA pool). ``#`` is the sell's
    number in the orders table above (sells come first there)."""
    from taxreport.cli.fit import Col
    from taxreport.model.money import decimal_str, money_str

    lots = [(n, leg.asset, lot) for n, leg in enumerate(p.legs, start=1) for lot in leg.lots]
    if not lots:
        return None
    show_term = any(lot.term for _n, _asset, lot in lots)
    show_rule = any(lot.rule != p.method for _n, _asset, lot in lots)
    columns = [Col("#", "right"), Col("asset"), Col("acquired"), Col("quantity", "right"), Col("cost", "right"),
               Col("gain", "right")] + ([Col("term")] if show_term else []) + ([Col("rule")] if show_rule else [])
    rows = [[str(n), asset, lot.acquired.isoformat() if lot.acquired else "pool", decimal_str(lot.quantity),
             money_str(lot.cost), money_str(lot.gain)] + ([lot.term or "-"] if show_term else [])
            + ([lot.rule] if show_rule else []) for n, asset, lot in lots]
    return f"tax preview: {p.jurisdiction.upper()} {p.year}, method {p.method}, {p.currency}", columns, rows


def tax_aware_plan(basket: Any, plan: Any, replan: Any, make_leg: Any, *, fee_rate: Decimal, fx: tuple[str, ...],
                   at: str | None) -> tuple[Any, Any]:
    """The plan a tax-aware basket would trade and its :class:`~taxreport.rebalance.tax_plan.TaxedPlan`
    (None without a ``[tax]`` table): the SAME :func:`~taxreport.rebalance.tax_plan.tax_adjusted_plan`
    ``rebalance run`` trades, over the ``--db`` ledger at ``--at``."""
    if basket.tax is None:
        return plan, None
    from taxreport.cli.common import open_ledger, parse_when
    from taxreport.rebalance.tax_plan import tax_adjusted_plan
    from taxreport.rebalance.tax_run import cached_context, ledger_inputs

    now = parse_when(at, what="--at") if at else datetime.now(timezone.utc)
    assert now is not None
    ledger = open_ledger(click.get_current_context(), readonly=True)
    events, rates = ledger_inputs(ledger)
    assumed = parse_fx(fx)
    ctx = cached_context(ledger, events, rates, plan, basket, now, fee_rate=fee_rate, fx=assumed)
    taxed = tax_adjusted_plan(events, rates, plan, basket, now, replan=replan, make_leg=make_leg,
                              fee_rate=fee_rate, fx=assumed, context=ctx)
    return taxed.plan, taxed


def print_decisions(taxed: Any) -> None:
    for d in taxed.decisions:
        echo_line(f"tax policy {d.text()}")
    if taxed.changed:
        echo_line("the tax policies changed the trades: the orders above are what `rebalance run` sends")
