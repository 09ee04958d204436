"""``taxreport review``: every problem that blocks or distorts a tax year, with the command that fixes
it (the list itself is built by :mod:`taxreport.review`)."""

from __future__ import annotations

from typing import Any

import click

from taxreport.cli.common import echo_json, format_option, open_ledger
from taxreport.cli.fit import Col, echo_line, print_fitted
from taxreport.errors import TaxreportError


@click.command("review")
@click.option("--year", "-y", default=None,
              help="Only what can touch this tax year (2024, or 2024-25 for uk/au); `all` (as `gains -y all`) or "
                   "no --year: the whole ledger.")
@click.option("--jurisdiction", "-j", default=None,
              help="Country (us, uk, de, au, ca): sets the year's bounds and checks the rates it needs.")
@click.option("--include-simulated", is_flag=True, help="Review simulated accounts as if they were real.")
@click.option("--via", multiple=True, help="Intermediate currency for crossing rates, e.g. USD (as for gains).")
@click.option("--peg", multiple=True, help="Assume a 1:1 peg, e.g. USDT=USD (as for gains).")
@click.option("--allow-zero-cost", multiple=True, metavar="ASSET",
              help="Assets you accept a zero cost basis for (as for gains).")
@format_option()
@click.pass_context
def review(ctx: click.Context, year: str | None, jurisdiction: str | None, include_simulated: bool,
           via: tuple[str, ...], peg: tuple[str, ...], allow_zero_cost: tuple[str, ...], fmt: str) -> None:
    """List what blocks or distorts a tax year: deposits without basis, unmatched or ambiguous transfers,
    negative balances, missing rates, simulated accounts, a broken ledger chain. Each item has its kind,
    the event it is about (ref), a one-line explanation and the command that fixes it. Exit status 1
    when any item is blocking (gains and exports refuse such a year).

    \b
    Examples:
      taxreport review
      taxreport review --year 2024 -j us
      taxreport review -y 2024-25 -j uk --via USD --peg USDT=USD --format json
    """
    from taxreport.review import review_ledger

    options: dict[str, Any] = {}
    if via:
        options["via"] = [v.strip().upper() for v in via]
    if peg:
        from taxreport.cli.common import parse_pairs

        options["peg"] = {k.upper(): v.upper() for k, v in parse_pairs(",".join(peg), option="--peg")}
    if allow_zero_cost:
        options["zero_cost_assets"] = [a.strip().upper() for a in allow_zero_cost]
    if year is not None and year.strip().lower() == "all":  # as `gains --year all`: every year, the whole ledger
        year = None
    items, end = review_ledger(open_ledger(ctx, readonly=True, must_exist=True), jurisdiction=jurisdiction, year=year,
                               include_simulated=include_simulated, options=options)
    blocking = [i for i in items if i.blocking]
    if fmt == "json":
        echo_json({"year": year, "jurisdiction": jurisdiction, "year_end": end, "blocking": len(blocking),
                   "items": [i.as_json() for i in items]})
    elif not items:
        echo_line("nothing to review" + (f" for {year}" if year else ""))
    else:
        # a narrow terminal (taxreport/cli/fit.py): a kind, a ref, a time or a command's word is never split; when
        # the table cannot keep them whole, each item is one line of header=value fields
        print_fitted(f"{len(items)} item(s) to review, {len(blocking)} blocking" + (f" ({year})" if year else ""),
                     [Col("kind"), Col("blocking"), Col("ref"), Col("explanation", wrap=True), Col("fix", wrap=True)],
                     [(i.kind, "yes" if i.blocking else "no", i.ref, i.explanation, i.fix) for i in items])
        if not jurisdiction:
            echo_line("note: rates are checked only with -j (the country decides the currency)")
    if blocking:
        raise TaxreportError(f"{len(blocking)} blocking item(s): fix them with the commands shown")
