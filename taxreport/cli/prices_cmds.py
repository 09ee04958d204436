"""``taxreport prices …``: the rate store. Each subcommand is looked up lazily from :data:`PRICE_COMMANDS`,
so another module (e.g. ``taxreport.cli.prices_candles``) can add one without touching this file's code."""

from __future__ import annotations

import click

from taxreport.cli.common import echo_json, format_option, open_ledger, parse_when, print_table
from taxreport.cli.lazy import LazyGroup

PRICE_COMMANDS: dict[str, tuple[str, str]] = {
    "import": ("taxreport.cli.prices_cmds:prices_import",
               "Import a rate CSV, the ECB reference-rate file or OHLCV candles (by header)."),
    "fetch": ("taxreport.cli.prices_cmds:prices_fetch",
              "Fetch candles from an exchange into the candle cache and their closes as rates (network)."),
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
      taxreport prices import sample_exports/prices/synthetic_ohlcv_1d.csv --source synthetic
      taxreport prices fetch --exchange kraken --symbol USDT/USD --since 2024-01-01 --until 2025-01-01
      taxreport prices fetch --exchange okx --symbols BTC/USDT,ETH/USDT --timeframe 1h --since 2024-06-01
      taxreport prices list
    """


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--source", default=None,
              help="Source name stored with each rate or candle (default: file:<name> for rate CSVs, ecb, "
                   "csv for OHLCV files).")
@click.option("--timeframe", type=click.Choice(["1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w"]), default=None,
              help="OHLCV files only: bar length of the rows (default 1d); every timestamp must sit on it.")
@click.option("--replace", is_flag=True, help="OHLCV files only: overwrite stored candles that differ.")
@format_option()
@click.pass_context
def prices_import(ctx: click.Context, files: tuple[str, ...], source: str | None, timeframe: str | None,
                  replace: bool, fmt: str) -> None:
    """Import price files; the layout is recognised by the header row:

    \b
    * rate CSV 'timestamp,base,quote,rate' (1 BASE = RATE QUOTE; a date means the whole UTC day);
    * the ECB euro reference-rate CSV ('Date,USD,JPY,…', units per 1 EUR; N/A cells are gaps);
    * OHLCV candles 'timestamp,symbol,open,high,low,close,volume' (many symbols like BTC/USDT per
      file), stored as price history for backtests, exactly as `taxreport prices candles import`.

    Every file is checked before anything is written; a file with any bad row is refused whole,
    naming file:line: field. Re-importing adds nothing; a different rate (or candle, unless
    --replace) for the same pair/symbol, time and source is refused.

    \b
    Examples:
      taxreport prices import sample_exports/demo_rates.csv
      taxreport prices import eurofxref-hist.csv --source ecb
      taxreport prices import sample_exports/prices/synthetic_ohlcv_1d.csv --source synthetic
      taxreport prices import btc_1h.csv --timeframe 1h --source binance-export
    """
    from taxreport.errors import InputError
    from taxreport.prices.candles import CandleStore, parse_ohlcv_csv
    from taxreport.prices.csv_import import file_layout, parse_rate_file
    from taxreport.prices.store import write_rates

    parsed = []  # every file is parsed (and refused if bad) before anything is written
    for path in files:
        if file_layout(path) == "ohlcv":
            parsed.append((path, "ohlcv", parse_ohlcv_csv(path, timeframe=timeframe or "1d"), 0))
            continue
        for flag, given in (("--timeframe", timeframe is not None), ("--replace", replace)):
            if given:
                raise InputError(f"{flag} applies to OHLCV candle files only, not to a rate file", file=path,
                                 field=flag)
        parsed.append((path, *parse_rate_file(path, source=source)))
    led = open_ledger(ctx)
    out = []
    for path, layout, rows, gaps in parsed:
        if layout == "ohlcv":
            saved = CandleStore.of(led).save(rows, source=source or "csv", replace=replace)
            out.append({"path": path, "layout": layout, "rows": len(rows), "added": saved.added,
                        "duplicates": saved.unchanged, "replaced": saved.replaced,
                        "symbols": sorted({k.symbol for k in rows}), "timeframe": timeframe or "1d",
                        "source": source or "csv"})
            continue
        s = write_rates(led, rows)
        out.append({"path": path, "layout": layout, "rows": s.rows, "added": s.added, "duplicates": s.duplicates,
                    "gaps": gaps})
    if fmt == "json":
        echo_json(out)
        return
    for o in out:
        if o["layout"] == "ohlcv":
            replaced = f", {o['replaced']} replaced" if o["replaced"] else ""
            click.echo(f"{o['path']} (ohlcv): {o['rows']} candles of {', '.join(o['symbols'])} ({o['timeframe']}, "
                       f"source {o['source']}): {o['added']} added, {o['duplicates']} already stored{replaced}")
            continue
        gaps = f", {o['gaps']} N/A gaps skipped" if o["gaps"] else ""
        click.echo(f"{o['path']} ({o['layout']}): {o['rows']} rates, {o['added']} added, "
                   f"{o['duplicates']} duplicates{gaps}")


@click.command("fetch")
@click.option("--exchange", required=True, help="ccxt exchange id, e.g. okx, kraken, binance.")
@click.option("--symbols", "symbol_lists", multiple=True,
              help="Comma-separated pairs, e.g. BTC/USDT,ETH/USDT (may be combined with --symbol).")
@click.option("--symbol", "symbols", multiple=True, help="One pair like BTC/USD (repeatable).")
@click.option("--since", required=True, help="First day, YYYY-MM-DD (UTC).")
@click.option("--until", default=None, help="End day, exclusive (default: now).")
@click.option("--timeframe", default="1d", show_default=True, help="Candle size: 1m 5m 15m 30m 1h 4h 1d 1w.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True, help="Candles per request.")
@click.option("--retries", type=click.IntRange(1, 20), default=5, show_default=True,
              help="Attempts per request on network errors (exponential backoff, capped at 30 s).")
@format_option()
@click.pass_context
def prices_fetch(ctx: click.Context, exchange: str, symbol_lists: tuple[str, ...], symbols: tuple[str, ...],
                 since: str, until: str | None, timeframe: str, limit: int, retries: int, fmt: str) -> None:
    """Fetch candles through ccxt fetch_ohlcv (public data, no API key) into the candle cache and
    their closes into the rate store.

    Each close is stored as a rate at its candle's END time, so it values the following moments.
    Pages through the history, retries timeouts and rate limits with backoff, never keeps a candle
    that has not closed, and only asks the exchange for candles after those already cached (the
    same cache as `taxreport prices candles fetch`). Needs the network.

    \b
    Examples:
      taxreport prices fetch --exchange okx --symbols BTC/USDT,ETH/USDT,SOL/USDT --timeframe 1d --since 2024-01-01
      taxreport prices fetch --exchange kraken --symbol USDT/USD --symbol BTC/USD --since 2024-01-01
      taxreport prices fetch --exchange okx --symbol BTC/USDT --since 2024-06-01 --timeframe 1h --format json
    """
    from datetime import datetime, timezone

    from rich.progress import Progress

    from taxreport.errors import InputError
    from taxreport.prices import candles_fetch
    from taxreport.prices.candles import timeframe_delta
    from taxreport.prices.fetch import fetch_rates, rate_pair, split_symbols

    wanted = split_symbols((*symbol_lists, *symbols))
    if not wanted:
        raise InputError("give at least one pair with --symbols A,B or --symbol A", field="--symbols")
    for symbol in wanted:
        rate_pair(symbol)
    timeframe_delta(timeframe)
    start = parse_when(since, what="--since")
    end = parse_when(until, what="--until") or datetime.now(timezone.utc)
    led = open_ledger(ctx)
    ex = candles_fetch.ccxt_client(exchange)
    results = []
    with Progress(transient=True, disable=fmt == "json") as progress:
        for symbol in wanted:
            task = progress.add_task(f"{symbol}", total=None)
            results.append(fetch_rates(led, ex, symbol, since=start, until=end, timeframe=timeframe, limit=limit,
                                       max_attempts=retries,
                                       progress=lambda n, task=task: progress.advance(task, n)))
    if fmt == "json":
        echo_json([r.__dict__ for r in results])
        return
    for r in results:
        extra = "".join([f", {r.retries} retried" if r.retries else "",
                         f", {r.incomplete} unfinished candle(s) not kept" if r.incomplete else ""])
        click.echo(f"{r.symbol} ({r.source}): {r.fetched} fetched in {r.requests} request(s), {r.added} added, "
                   f"{r.cached} already stored{extra}")


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
