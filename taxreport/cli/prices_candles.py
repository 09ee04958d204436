"""``taxreport prices candles …``: import, fetch and list OHLCV candles (the backtester's price history)."""

from __future__ import annotations

import click

from taxreport.cli.common import echo_json, format_option, open_ledger, parse_when, print_table
from taxreport.errors import InputError

TIMEFRAME = click.Choice(["1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w"])


@click.group()
def candles() -> None:
    """OHLCV candles for backtests and charts, kept in the ledger database (not in the audit chain).

    \b
    Examples:
      taxreport prices candles import sample_exports/prices/synthetic_ohlcv_1d.csv --source synthetic
      taxreport prices candles fetch --exchange okx --symbols BTC/USDT,ETH/USDT --timeframe 1d --since 2024-01-01
      taxreport prices candles list
    """


@candles.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--timeframe", type=TIMEFRAME, default="1d", show_default=True,
              help="Bar length of the file's rows; every timestamp must sit on this boundary (UTC).")
@click.option("--source", default="csv", show_default=True,
              help="Name the series is stored under (e.g. synthetic, okx-export); kept apart from others.")
@click.option("--replace", is_flag=True, help="Overwrite stored candles that differ (default: refuse).")
@format_option()
@click.pass_context
def import_candles(ctx: click.Context, files: tuple[str, ...], timeframe: str, source: str, replace: bool,
                   fmt: str) -> None:
    """Import OHLCV CSV files (header timestamp,symbol,open,high,low,close,volume); `taxreport prices
    import FILE` recognises these files by their header and does the same.

    One file may hold many symbols (BTC/USDT, ETH/USDT…). Timestamps: ISO 8601 with Z or offset, a
    date (UTC midnight) or epoch milliseconds. A file with a bad row is refused whole, naming
    file:line: field. Importing the same file again adds nothing.

    \b
    Examples:
      taxreport prices candles import sample_exports/prices/synthetic_ohlcv_1d.csv --source synthetic
      taxreport prices candles import btc_1h.csv --timeframe 1h --source binance-export
    """
    from taxreport.prices.candles import CandleStore, parse_ohlcv_csv

    parsed = [(f, parse_ohlcv_csv(f, timeframe=timeframe)) for f in files]  # all files checked first
    store = CandleStore.of(open_ledger(ctx))
    out = []
    for name, rows in parsed:
        saved = store.save(rows, source=source, replace=replace)
        symbols = sorted({k.symbol for k in rows})
        out.append({"file": name, "rows": len(rows), "symbols": symbols, "added": saved.added,
                    "unchanged": saved.unchanged, "replaced": saved.replaced, "source": source,
                    "timeframe": timeframe})
    if fmt == "json":
        echo_json(out)
        return
    for r in out:
        click.echo(f"{r['file']}: {r['rows']} candles of {', '.join(r['symbols'])} ({timeframe}, source "
                   f"{source}): {r['added']} added, {r['unchanged']} already stored"
                   + (f", {r['replaced']} replaced" if r["replaced"] else ""))


@candles.command("fetch")
@click.option("--exchange", "exchange_id", default="okx", show_default=True, help="ccxt exchange id.")
@click.option("--symbols", required=True, help="Comma-separated markets, e.g. BTC/USDT,ETH/USDT.")
@click.option("--timeframe", type=TIMEFRAME, default="1d", show_default=True)
@click.option("--since", required=True, help="First candle (UTC date or ISO time).")
@click.option("--until", default=None, help="Stop before this time (default: now; only closed candles are kept).")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True, help="Candles per request.")
@click.option("--retries", type=click.IntRange(1, 20), default=5, show_default=True,
              help="Attempts per request on network errors (exponential backoff, capped at 30 s).")
@format_option()
@click.pass_context
def fetch(ctx: click.Context, exchange_id: str, symbols: str, timeframe: str, since: str, until: str | None,
          limit: int, retries: int, fmt: str) -> None:
    """Download candles through ccxt fetch_ohlcv (NETWORK) into the local cache.

    Pages through the history, retries timeouts and rate limits with backoff, and stores each page as
    it arrives under the source name EXCHANGE; a series already cached from --since on is only
    extended. No API key is needed. `taxreport prices fetch` uses the same code and cache and also
    stores the closes as rates.

    \b
    Examples:
      taxreport prices candles fetch --exchange okx --symbols BTC/USDT,ETH/USDT,SOL/USDT \\
          --timeframe 1d --since 2024-01-01
      taxreport prices candles fetch --symbols BTC/USDT --timeframe 1h --since 2024-06-01 --until 2024-07-01
    """
    from rich.progress import Progress

    from taxreport.prices.candles import CandleStore, check_symbol
    from taxreport.prices.candles_fetch import ccxt_client, fetch_candles

    try:
        wanted = [check_symbol(s) for s in symbols.split(",") if s.strip()]
    except ValueError as exc:
        raise InputError(str(exc), field="--symbols") from None
    if not wanted:
        raise InputError("give at least one market", field="--symbols")
    start = parse_when(since, what="--since")
    end = parse_when(until, what="--until")
    store = CandleStore.of(open_ledger(ctx))
    client = ccxt_client(exchange_id)
    with Progress(transient=True, disable=fmt == "json") as progress:
        task = progress.add_task(f"fetching {timeframe} candles", total=None)
        results = fetch_candles(client, wanted, timeframe, start, store=store, source=exchange_id, until=end,
                                limit=limit, max_attempts=retries,
                                on_page=lambda s, n: progress.update(task, advance=n, description=f"{s}"))
    rows = [{"symbol": r.symbol, "requests": r.requests, "retries": r.retries, "added": r.added,
             "unchanged": r.unchanged, "incomplete_skipped": r.incomplete, "notes": r.notes} for r in results]
    if fmt == "json":
        echo_json(rows)
        return
    print_table(f"{exchange_id} {timeframe} candles", [("symbol", "left"), ("requests", "right"),
                ("retries", "right"), ("added", "right"), ("already stored", "right"),
                ("incomplete (not kept)", "right"), ("notes", "left")],
                [(r["symbol"], r["requests"], r["retries"], r["added"], r["unchanged"], r["incomplete_skipped"],
                  "; ".join(r["notes"])) for r in rows])


@candles.command("list")
@format_option()
@click.pass_context
def list_candles(ctx: click.Context, fmt: str) -> None:
    """Stored candle series: source, symbol, timeframe, count, first and last bar.

    \b
    Example:
      taxreport prices candles list --format json
    """
    from taxreport.prices.candles import CandleStore

    rows = CandleStore.of(open_ledger(ctx)).summary()
    if fmt == "json":
        echo_json([dict(zip(("source", "symbol", "timeframe", "count", "first", "last"), r)) for r in rows])
        return
    print_table("stored candles", [("source", "left"), ("symbol", "left"), ("timeframe", "left"),
                ("count", "right"), ("first", "left"), ("last", "left")], rows)
