"""``taxreport prices …``: the rate store. Each subcommand is looked up lazily from :data:`PRICE_COMMANDS`,
so another module (e.g. ``taxreport.cli.prices_candles``) can add one without touching this file's code."""

from __future__ import annotations

import click

from taxreport.cli.common import echo_json, format_option, open_ledger, parse_when, print_table
from taxreport.cli.lazy import LazyGroup

PRICE_COMMANDS: dict[str, tuple[str, str]] = {
    "import": ("taxreport.cli.prices_cmds:prices_import", "Import rates from a CSV or the ECB reference-rate file."),
    "fetch": ("taxreport.cli.prices_cmds:prices_fetch", "Fetch daily/hourly closes from an exchange (network)."),
    "list": ("taxreport.cli.prices_cmds:prices_list", "Show the stored rate pairs and their date ranges."),
    "candles": ("taxreport.cli.prices_candles:candles", "Import OHLCV candles for backtests."),
}


@click.group("prices", cls=LazyGroup, lazy=PRICE_COMMANDS)
def prices() -> None:
    """Prices and FX rates used to value every trade in the tax currency.

    A rate values the moments of its own UTC day (latest rate at or before the moment); a missing rate
    is an error listing every gap, never a guess.

    \b
    Examples:
      taxreport prices import sample_exports/demo_rates.csv
      taxreport prices import eurofxref-hist.csv
      taxreport prices fetch --exchange kraken --symbol USDT/USD --since 2024-01-01 --until 2025-01-01
      taxreport prices list
    """


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--source", default=None, help="Source name stored with each rate (default: file:<name>, or ecb).")
@format_option()
@click.pass_context
def prices_import(ctx: click.Context, files: tuple[str, ...], source: str | None, fmt: str) -> None:
    """Import rates: a CSV 'timestamp,base,quote,rate' (1 BASE = RATE QUOTE; a date means the whole UTC
    day) or the ECB euro reference-rate CSV ('Date,USD,JPY,…', units per 1 EUR; N/A cells are gaps).

    A file with any bad row is refused whole. Re-importing adds nothing; a different rate for the same
    pair, time and source is refused.

    \b
    Examples:
      taxreport prices import sample_exports/demo_rates.csv
      taxreport prices import eurofxref-hist.csv --source ecb
    """
    from taxreport.prices.csv_import import parse_rate_file
    from taxreport.prices.store import write_rates

    led = open_ledger(ctx)
    out = []
    for path in files:
        layout, rows, gaps = parse_rate_file(path, source=source)
        s = write_rates(led, rows)
        out.append({"path": path, "layout": layout, "rows": s.rows, "added": s.added, "duplicates": s.duplicates,
                    "gaps": gaps})
    if fmt == "json":
        echo_json(out)
        return
    for o in out:
        gaps = f", {o['gaps']} N/A gaps skipped" if o["gaps"] else ""
        click.echo(f"{o['path']} ({o['layout']}): {o['rows']} rates, {o['added']} added, "
                   f"{o['duplicates']} duplicates{gaps}")


@click.command("fetch")
@click.option("--exchange", required=True, help="ccxt exchange id, e.g. kraken, okx, binance.")
@click.option("--symbol", "symbols", multiple=True, required=True, help="Pair like BTC/USD (repeatable).")
@click.option("--since", required=True, help="First day, YYYY-MM-DD (UTC).")
@click.option("--until", default=None, help="End day, exclusive (default: now).")
@click.option("--timeframe", default="1d", show_default=True, help="Candle size: 1d, 1h, …")
@format_option()
@click.pass_context
def prices_fetch(ctx: click.Context, exchange: str, symbols: tuple[str, ...], since: str, until: str | None,
                 timeframe: str, fmt: str) -> None:
    """Fetch candle closes through ccxt (public data, no API key) into the rate store.

    Each close is stored at its candle's end time, so it values the following moments. Already stored
    candles are not fetched again. Needs the network.

    \b
    Examples:
      taxreport prices fetch --exchange kraken --symbol USDT/USD --symbol BTC/USD --since 2024-01-01
      taxreport prices fetch --exchange okx --symbol BTC/USDT --since 2024-01-01 --timeframe 1h
    """
    from datetime import datetime, timezone

    from rich.progress import Progress

    from taxreport.prices.fetch import fetch_rates, open_exchange

    start = parse_when(since, what="--since")
    end = parse_when(until, what="--until") or datetime.now(timezone.utc)
    led = open_ledger(ctx)
    ex = open_exchange(exchange)
    results = []
    with Progress(transient=True) as progress:
        for symbol in symbols:
            task = progress.add_task(f"{symbol}", total=None)
            results.append(fetch_rates(led, ex, symbol, since=start, until=end, timeframe=timeframe,
                                       progress=lambda n, task=task: progress.advance(task, n)))
    if fmt == "json":
        echo_json([r.__dict__ for r in results])
        return
    for r in results:
        click.echo(f"{r.symbol} ({r.source}): {r.fetched} fetched in {r.requests} request(s), {r.added} added, "
                   f"{r.cached} already stored")


@click.command("list")
@format_option()
@click.pass_context
def prices_list(ctx: click.Context, fmt: str) -> None:
    """List the stored rate pairs.

    \b
    Example:
      taxreport prices list --format json
    """
    from taxreport.prices.store import stored_pairs

    rows = stored_pairs(open_ledger(ctx))
    if fmt == "json":
        echo_json([{"base": b, "quote": q, "count": n, "first": lo, "last": hi} for b, q, n, lo, hi in rows])
        return
    print_table("Stored rates", [("pair", "left"), ("rates", "right"), ("first", "left"), ("last", "left")],
                [(f"{b}/{q}", n, lo, hi) for b, q, n, lo, hi in rows])
