"""``taxreport backtest``: compare rebalancing strategies on price history, before and after tax."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import click

from taxreport.cli.common import echo_json, format_option, open_ledger, parse_when
from taxreport.errors import InputError

DEFAULT_COMPARE = "buy-and-hold,daily,weekly,threshold:5"
PIPED_WIDTH = 1000  # the width a file or a pipe gets: no table of the backtest is that wide, so none is squeezed


def _decimal(text: str | None, what: str) -> Decimal | None:
    from taxreport.model.money import parse_decimal

    if text is None:
        return None
    try:
        return parse_decimal(text.strip().rstrip("%"), what=what) / (100 if text.strip().endswith("%") else 1)
    except ValueError as exc:
        raise InputError(str(exc).partition(": ")[2] or str(exc), field=what) from None


def _fx(values: tuple[str, ...]) -> dict[str, Decimal]:
    from taxreport.cli.plan_tax import parse_fx  # one parser of --fx for every command

    return parse_fx(values)


def _check_tax_options(codes: list[str], method: str | None) -> None:
    """Unknown jurisdictions and a method no chosen country allows fail before any replay starts."""
    from taxreport.jurisdictions.base import get

    countries = [get(c) for c in codes]
    if method and countries and not any(method.lower() in j.methods for j in countries):
        allowed = sorted({m for j in countries for m in j.methods})
        raise InputError(f"method {method!r} is not allowed for {', '.join(codes)}; use one of "
                         f"{', '.join(allowed)}", field="--method")


def _load_candles(ctx: click.Context, basket, timeframe: str, source: str | None, prices_file: str | None,  # noqa: ANN001
                  start, end):  # noqa: ANN001, ANN202
    symbols = [f"{a}/{basket.quote}" for a in basket.weights if a != basket.quote]
    if prices_file:
        from taxreport.prices.candles import parse_ohlcv_csv

        out: dict[str, list] = {s: [] for s in symbols}
        for candle in parse_ohlcv_csv(prices_file, timeframe=timeframe):
            if candle.symbol in out:
                out[candle.symbol].append(candle)
        return out
    from taxreport.prices.candles import CandleStore

    return CandleStore.of(open_ledger(ctx)).load(symbols, timeframe, source=source, start=start, end=end)


def _stored_fx_rows(ctx: click.Context, currencies: set[str], start, end) -> list[tuple]:  # noqa: ANN001
    """Rates between USD, EUR and the tax currencies from the ledger's rate store (e.g. ECB imports)."""
    from sqlalchemy import and_, select

    from taxreport.ledger.schema import rates
    from taxreport.model.events import format_time, parse_time

    names = sorted(currencies | {"USD", "EUR"})
    c = rates.c
    stmt = select(c.base, c.quote, c.time, c.rate, c.source).where(and_(
        c.base.in_(names), c.quote.in_(names), c.time >= format_time(start - timedelta(days=7)),
        c.time <= format_time(end + timedelta(days=1))))
    with open_ledger(ctx).engine.connect() as conn:
        return [(b, q, parse_time(t), Decimal(r), src) for b, q, t, r, src in conn.execute(stmt)]


def _markets(markets_file: str | None):  # noqa: ANN202
    from taxreport.exchanges.markets import default_markets, markets_from_fixture

    return markets_from_fixture(markets_file) if markets_file else default_markets()


def strategy_report(run, grid, taxes: list, liquidations: dict | None = None,  # noqa: ANN001
                    fx: dict[str, Decimal] | None = None, liquidate_at: Any = None) -> dict[str, Any]:
    """Every metric of one strategy, as the table and ``--format json`` show it."""
    from taxreport.rebalance import metrics
    from taxreport.rebalance.tax_policy import final_max_drift

    m = metrics.summary(run.values, timeframe=grid.timeframe, traded_notional=run.traded_notional)
    out: dict[str, Any] = {"strategy": run.label, "mode": run.strategy.basket.mode if run.strategy.rebalances else None,
                           **m, "fees": run.fees, "traded_notional": run.traded_notional,
                           "rebalances": run.rebalances, "orders": run.orders, "fills": len(run.trades),
                           "dust_legs": run.dust_legs, "notes": list(run.notes), "tax": {},
                           "tax_aware": run.strategy.tax_aware, "final_max_drift": final_max_drift(run, grid)}
    for t in taxes:
        rate = Decimal(1) if t.currency == "USD" else (fx or {}).get(t.currency)
        out["tax"][t.jurisdiction] = {
            "currency": t.currency, "error": t.error, "taxable_disposals": t.disposals,
            "crypto_disposals": t.crypto_disposals, "realised_gain": t.realised_gain,
            "taxable_gain": t.taxable_gain, "estimated_tax": t.estimated_tax, "illustrative_rate": t.rate,
            "estimate": True, "years": _years_after_tax(run, grid, t, rate, liquidate_at),
            "final_value": out["final_value"], "final_max_drift": out["final_max_drift"],
            "after_tax": out["final_value"] - t.estimated_tax / rate if rate and t.error is None else None,
        }
        if run.jurisdiction is not None:  # a +tax-aware replay of this country's policies
            out["tax"][t.jurisdiction].update(rebalances=run.rebalances, orders=run.orders, fees=run.fees,
                                              policy_decisions=dict(sorted(run.decisions.items())))
        sold = (liquidations or {}).get(t.jurisdiction)
        if sold is not None:  # everything sold at the last close (tax_preview.liquidation_preview)
            rate = Decimal(1) if t.currency == "USD" else (fx or {}).get(t.currency)
            ok = sold.error is None and t.error is None
            out["tax"][t.jurisdiction].update({
                "liquidation_gain": sold.realised_gain if ok else None,
                "liquidation_tax": sold.estimated_tax if ok else None, "liquidation_error": sold.error,
                "after_tax_if_liquidated": (out["final_value"] - (t.estimated_tax + sold.estimated_tax) / rate)
                if ok and rate else None})
    return out


def _years_after_tax(run, grid, t, rate: Decimal | None, liquidate_at: Any = None) -> list[dict[str, Any]]:  # noqa: ANN001
    """Each tax year's figures plus the value at its last bar, that value after the estimated tax of this
    and every earlier year, and after the tax of selling everything then too (``liquidate_at(code, bar)``:
    tax_preview.liquidation_preview), in the quote asset; None without a rate to the tax currency."""
    from taxreport.jurisdictions.base import get
    from taxreport.rebalance.backtest_tax import year_labels

    if t.error is not None:
        return list(t.years)
    bounds = {label: hi for label, _lo, hi in year_labels(get(t.jurisdiction), grid.close_time(0),
                                                          grid.close_time(len(grid.times) - 1) + grid.step)}
    out, paid = [], Decimal(0)
    for year in t.years:
        paid += year["estimated_tax"]
        hi = bounds.get(year["year"])
        last = max((i for i in range(len(grid.times)) if hi is None or grid.close_time(i) < hi), default=0)
        value = run.values[last]
        sold = liquidate_at(t.jurisdiction, last) if liquidate_at is not None and rate else None
        out.append({**year, "value_at_end": value,
                    "after_tax_value": value - paid / rate if rate else None,
                    "liquidation_tax": sold.estimated_tax if sold is not None and sold.error is None else None,
                    "after_tax_if_liquidated": value - (paid + sold.estimated_tax) / rate
                    if sold is not None and sold.error is None and rate else None})
    return out


def _pct(value: Decimal | None) -> str:
    from taxreport.model.money import money_str

    return "n/a" if value is None else f"{money_str(value * 100)}%"


def _num(value: Decimal | None, unit: str = "0.01") -> str:
    from taxreport.model.money import money_str

    return "n/a" if value is None else money_str(value, Decimal(unit))


@click.command("backtest")
@click.option("--basket", "basket_ref", required=True, metavar="NAME_OR_FILE", help="Basket name or .toml file.")
@click.option("--from", "date_from", default=None, help="First bar (UTC date); default: the first common bar.")
@click.option("--to", "date_to", default=None, help="Last day included (UTC date); default: the last common bar.")
@click.option("--compare", default=DEFAULT_COMPARE, show_default=True,
              help="Strategies: buy-and-hold, daily, weekly, threshold:X, hybrid:X, hybrid:weekly:X, basket; "
                   "any with the suffix +tax-aware (weekly+tax-aware): replayed once per --jurisdiction with that "
                   "country's tax policies (the basket's [tax] table, else sensible defaults), the same code "
                   "as rebalance plan/run.")
@click.option("--timeframe", default="1d", show_default=True, type=click.Choice(["1h", "4h", "1d", "1w"]))
@click.option("--source", default=None, help="Candle source to use when several are stored (see `prices candles list`).")
@click.option("--candles", "prices_file", default=None, type=click.Path(dir_okay=False),
              help="Read OHLCV candles from this CSV instead of the database (elsewhere --prices means "
                   "NAME=NUMBER prices; here it is a file, so it has its own name).")
@click.option("--initial", default="10000", show_default=True, help="Quote cash invested at the first bar.")
@click.option("--fee-rate", default="0.001", show_default=True,
              help="Fee per fill as a fraction (0.001 = 0.1%); 'market' uses the market table's maker/taker fees.")
@click.option("--slippage", default="0", show_default=True,
              help="Fill price worse than the close by this fraction each side (0.0005 = 5 bps).")
@click.option("--min-notional", default=None, help="Minimum order value in the quote asset (default: the basket's).")
@click.option("--gate", default=None, help="Override the basket's gate for daily/weekly (0: always trade).")
@click.option("--markets", "markets_file", default=None, type=click.Path(dir_okay=False),
              help="ccxt market table JSON (default: the bundled OKX spot table).")
@click.option("--jurisdiction", "jurisdictions", default="us", show_default=True,
              help="Comma-separated tax jurisdictions for the after-tax columns (us, uk, de, au, ca), or 'none'.")
@click.option("--method", default=None, help="Lot method for the tax engine where the country allows a choice "
              "(e.g. fifo, hifo for the US); default: the country's default.")
@click.option("--fx", "fx_rates", multiple=True, metavar="CUR=RATE",
              help="ASSUMED flat rate 1 USD = RATE CUR for non-USD jurisdictions, e.g. --fx GBP=0.79 (repeatable, or "
                   "comma-separated: --fx GBP=0.79,EUR=0.92).")
@click.option("--out", "-o", "charts_dir", default=None, type=click.Path(file_okay=False),
              help="Folder for the value and allocation-drift charts (PNG and SVG); --out names every output "
                   "path in taxreport.")
@format_option()
@click.pass_context
def backtest(ctx: click.Context, basket_ref: str, date_from: str | None, date_to: str | None, compare: str,
             timeframe: str, source: str | None, prices_file: str | None, initial: str, fee_rate: str,
             slippage: str, min_notional: str | None, gate: str | None, markets_file: str | None,
             jurisdictions: str, method: str | None, fx_rates: tuple[str, ...], charts_dir: str | None, fmt: str) -> None:
    """Replay a basket over price history with several strategies and compare them, before and after tax.

    Every strategy runs through the same planner and paper exchange as `rebalance run --paper`
    (fees, slippage, amount steps, minimum order sizes), starting from the same INITIAL cash bought
    at the target weights on the first bar. Realised gains per tax year come from the real tax engine;
    the estimated tax applies one ILLUSTRATIVE flat rate per country and is labelled an estimate.
    The quote stablecoin is assumed worth 1 USD.

    \b
    Examples:
      taxreport prices candles import sample_exports/prices/synthetic_ohlcv_1d.csv --source synthetic
      taxreport backtest --basket core.toml --from 2023-01-01 --to 2024-12-31 \\
          --compare buy-and-hold,daily,weekly,threshold:5 --out out/
      taxreport backtest --basket core --compare weekly,threshold:5,hybrid:3 --fee-rate 0.0008 \\
          --slippage 0.0005 --jurisdiction us,uk --fx GBP=0.79 --format json
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from taxreport.rebalance.backtest import Settings, price_grid, run_backtest
    from taxreport.rebalance.backtest_tax import estimate, rate_rows
    from taxreport.rebalance.basket import resolve_basket
    from taxreport.rebalance.strategies import parse_strategies
    from taxreport.rebalance.tax_policy import tax_method

    basket, _path = resolve_basket(basket_ref)
    start = parse_when(date_from, what="--from")
    end = parse_when(date_to, what="--to", end_of_day=True)
    if start and end and end <= start:
        raise InputError("must be after --from", field="--to")
    settings = Settings(initial=_decimal(initial, "--initial"),  # type: ignore[arg-type]
                        fee_rate=None if fee_rate.strip().lower() == "market" else _decimal(fee_rate, "--fee-rate"),
                        slippage=_decimal(slippage, "--slippage"),  # type: ignore[arg-type]
                        min_notional=_decimal(min_notional, "--min-notional"))
    gate_pp = _decimal(gate, "--gate")
    if gate_pp is not None and not 0 <= gate_pp <= 100:
        raise InputError(f"must be between 0 and 100 (percentage points), got {gate}", field="--gate")
    strategies = parse_strategies(compare, basket, gate=gate_pp)
    codes = [c.strip().lower() for c in jurisdictions.split(",") if c.strip() and c.strip().lower() != "none"]
    _check_tax_options(codes, method)
    fx = _fx(fx_rates)
    grid = price_grid(_load_candles(ctx, basket, timeframe, source, prices_file, start, end), basket, timeframe,
                      start=start, end=end)
    markets = _markets(markets_file)
    from taxreport.rebalance.backtest import backtest_markets
    from taxreport.rebalance.tax_preview import liquidation_preview

    bt_markets = backtest_markets(markets, grid, settings)

    from taxreport.rebalance.backtest import TaxReplay

    fx_rows: list[tuple] = []
    if not prices_file:
        from taxreport.jurisdictions.base import get

        wanted = {get(c).currency for c in codes} - {"USD"} - set(fx)
        if wanted:
            fx_rows = _stored_fx_rows(ctx, wanted, grid.times[0], grid.close_time(len(grid.times) - 1))
    replays = [TaxReplay(code, fx, tuple(fx_rows)) for code in codes]
    replays_per = sum(len(replays) if s.tax_aware and replays else 1 for s in strategies)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} bars"),
                  TimeElapsedColumn(), transient=True, disable=fmt == "json") as progress:
        task = progress.add_task("backtest", total=len(grid.times) * replays_per)
        runs = run_backtest(strategies, grid, markets, settings, tax=replays,
                            progress=lambda label, n: progress.update(task, advance=n, description=label))
        rows = rate_rows(grid, runs, fx) + fx_rows
        reports: list[dict[str, Any]] = []
        for run in runs:
            progress.update(task, description=f"tax: {run.label}")
            mine = [run.jurisdiction] if run.jurisdiction else codes
            taxes = [estimate(run, grid, code, fx=fx, rows=rows, method=tax_method(run.strategy, code, method))
                     for code in mine]
            sold = {code: liquidation_preview(run, grid, code, rows=rows, markets=bt_markets, fx=fx,
                                              method=tax_method(run.strategy, code, method), fee_rate=settings.fee_rate)
                    for code in mine}
            def liquidate_at(code: str, bar: int, run=run):  # noqa: ANN001, ANN202 - per tax year's end
                return liquidation_preview(run, grid, code, rows=rows, markets=bt_markets, fx=fx, bar=bar,
                                           method=tax_method(run.strategy, code, method), fee_rate=settings.fee_rate)

            report = strategy_report(run, grid, taxes, sold, fx, liquidate_at)
            if run.jurisdiction and reports and reports[-1]["strategy"] == run.label:
                reports[-1]["tax"].update(report["tax"])  # one row; each country's figures from its own replay
            else:
                reports.append(report)
        runs = [r for n, r in enumerate(runs) if n == 0 or r.label != runs[n - 1].label]  # charts: one per strategy
    charts = []
    if charts_dir:
        from taxreport.rebalance.backtest_charts import write_charts

        charts = [str(p) for p in write_charts(runs, grid, charts_dir, title=basket.name)]
    notes = [
        "All strategies start from the same initial cash bought at the target weights on the first bar.",
        f"Fills at the close {'±' + format(settings.slippage * 100, 'f') + '%' if settings.slippage else 'exactly'}; "
        f"fee {'from the market table' if settings.fee_rate is None else format(settings.fee_rate * 100, 'f') + '%'} per fill.",
        f"{basket.quote} is assumed worth 1 USD when valuing for tax.",
        "Estimated tax = the tax engine's taxable gain per tax year x one ILLUSTRATIVE flat rate per country "
        "(not your rate). Realised gains only: gains still held at the end are not taxed here.",
    ]
    notes += [f"ASSUMED flat rate 1 USD = {r} {c}" for c, r in fx.items()]
    result = {
        "basket": basket.name, "quote": basket.quote, "timeframe": grid.timeframe,
        "from": grid.times[0], "to": grid.close_time(len(grid.times) - 1), "bars": len(grid.times),
        "initial": settings.initial, "fee_rate": settings.fee_rate, "slippage": settings.slippage,
        "jurisdictions": codes, "strategies": reports, "charts": charts, "notes": notes,
    }
    if fmt == "json":
        echo_json(result)
        return
    _print(result, fx)


def _print(result: dict[str, Any], fx: dict[str, Decimal]) -> None:
    from rich.console import Console
    from rich.table import Table

    from taxreport.model.money import money_str

    import sys

    # A terminal: rich wraps text and titles at its width. Files and pipes: every line whole (a script or a file
    # reads the lines, it has no width): the tables at their full width, text never wrapped (soft_wrap), and a
    # table's title on a line of its own above it (rich wraps a title to its table's width).
    piped = not sys.stdout.isatty()
    console = Console(width=PIPED_WIDTH, soft_wrap=True) if piped else Console()

    def titled(title: str) -> Table:
        if piped:
            console.print(title, markup=False, highlight=False)
        return Table(title=None if piped else title, header_style="bold")

    q = result["quote"]
    table = titled(f"Backtest {result['basket']}: {result['bars']} {result['timeframe']} bars, "
                   f"{result['from']:%Y-%m-%d} to {result['to']:%Y-%m-%d} (last close), "
                   f"{money_str(result['initial'])} {q} invested; values in {q}")
    for header in ("strategy", "final", "return", "ann.vol", "max DD", "Sharpe", "turnover", "fees", "rebal",
                   "orders"):
        table.add_column(header, justify="left" if header == "strategy" else "right",
                         no_wrap=header == "strategy")
    for s in result["strategies"]:
        table.add_row(s["strategy"], money_str(s["final_value"]), _pct(s["total_return"]),
                      _pct(s["annualised_volatility"]), _pct(s["max_drawdown"]), _num(s["sharpe"]),
                      _num(s["turnover"]), money_str(s["fees"]), str(s["rebalances"]), str(s["orders"]))
    console.print(table)
    if any(s.get("tax_aware") for s in result["strategies"]):  # +tax-aware: show both end inside the band
        console.print("  largest drift from target at the end: " + ", ".join(
            f"{s['strategy']} {_num(s['final_max_drift'])}pp" if not s.get("tax_aware") or not s["tax"] else
            s["strategy"] + " " + "/".join(f"{c.upper()} {_num(t['final_max_drift'])}pp" for c, t in s["tax"].items())
            for s in result["strategies"]))
        console.print("  each +tax-aware row is replayed once per country with that country's policies "
                      "(rebalance/tax_plan.py, as rebalance plan/run): its after-tax figures are that replay's")
    for code in result["jurisdictions"]:
        first = result["strategies"][0]["tax"][code]
        cur = first["currency"]
        tax = titled(f"After tax, {code.upper()}: gains from the tax engine in {cur}; tax is an ESTIMATE; "
                     f"'after tax' = final value minus est. tax, in {q}; 'if sold' = after the tax of selling everything "
                     "at the last close too")
        errors: dict[str, None] = {}
        for header in ("strategy", "disposals", "crypto", "realised", "taxable", "est. tax", "after tax",
                       "if sold"):
            tax.add_column(header, justify="left" if header == "strategy" else "right",
                           no_wrap=header == "strategy")
        for s in result["strategies"]:
            t = s["tax"][code]
            if t["error"]:
                tax.add_row(s["strategy"], "n/a", "", "", "", "", "n/a", "n/a")
                errors.setdefault(t["error"], None)
                continue
            after = money_str(t["after_tax"]) if t.get("after_tax") is not None else "n/a"
            tax.add_row(s["strategy"], str(t["taxable_disposals"]), str(t["crypto_disposals"]),
                        money_str(t["realised_gain"]), money_str(t["taxable_gain"]), money_str(t["estimated_tax"]), after,
                        _num(t.get("after_tax_if_liquidated")))
        console.print(tax)
        for error in errors:
            console.print(f"  {code.upper()}: {error}", style="red")
        console.print(f"  illustrative rate {money_str(first['illustrative_rate'] * 100)}% on each tax year's "
                      "taxable gain — an estimate, not tax advice", style="dim")
    for s in result["strategies"]:
        for note in s["notes"][:3]:
            console.print(f"  note ({s['strategy']}): {note}", style="yellow")
        if len(s["notes"]) > 3:
            console.print(f"  … and {len(s['notes']) - 3} more notes (see --format json)", style="yellow")
    for note in result["notes"]:
        console.print(f"  {note}", style="dim")
    for path in result["charts"]:
        console.print(f"  chart: {path}")
