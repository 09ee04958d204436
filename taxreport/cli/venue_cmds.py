"""``taxreport venue okx``: run the local OKX-compatible venue (:mod:`taxreport.venue`) on 127.0.0.1,
or show its books (``--show``)."""

from __future__ import annotations

from pathlib import Path

import click

from taxreport.cli.common import asset_numbers, echo_json


@click.group("venue")
def venue() -> None:
    """Local trading venues that speak a real exchange's API (for rehearsals and fault tests).

    \b
    Examples:
      taxreport venue okx --state ~/okx-venue --port 8765 --fund USDT=10000
      taxreport venue okx --state ~/okx-venue --show
      taxreport venue okx --state ~/okx-venue --export-trades trades.csv --export-funding funding.csv
      taxreport reconcile okx trades.csv --basket core
      taxreport import okx funding.csv --account okx:core
    """


@venue.command("okx")
@click.option("--state", "state_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory of the venue's books (created on first start; kept across restarts).")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="TCP port on 127.0.0.1 (0: a free one; the URL is written to STATE/url).")
@click.option("--faults", default=None, metavar="SPEC",
              help="Injected faults, e.g. drop_response=0.1,rate_limit=0.05,fill_lag=2 (see the README).")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the price path and the fault dice.")
@click.option("--fund", default=None, help="New state only: starting balances, e.g. USDT=10000.")
@click.option("--prices", default=None, help="New state only: starting mid prices, e.g. BTC=60000,ETH=3000.")
@click.option("--show", is_flag=True, help="Print the books (balances, orders, fills) as JSON and exit.")
@click.option("--export-trades", "export_trades", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the venue's fills as OKX's Trading history CSV (for `reconcile okx`) and exit (venue stopped).")
@click.option("--export-funding", "export_funding", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Write the venue's --fund deposits as OKX's Funding history CSV (for `import okx`) and exit.")
@click.option("--backdate", "backdate_days", type=click.IntRange(1, 3650), default=None, metavar="DAYS",
              help="Move every time in the (stopped) venue's books DAYS days back, as if the bot had been down "
                   "that long (OKX forgets: fills after 3 days / 3 months, order history after 7 days / 3 months), "
                   "and exit.")
@click.option("--verbose", is_flag=True, help="Log every request to stderr.")
@click.option("--no-rate-limits", is_flag=True,
              help="Do not enforce OKX's per-endpoint request limits (50011, HTTP 429; on by default).")
def okx(state_dir: Path, port: int, faults: str | None, seed: int, fund: str | None, prices: str | None,
        show: bool, export_trades: Path | None, export_funding: Path | None, verbose: bool,
        no_rate_limits: bool, backdate_days: int | None = None) -> None:
    """Run a local OKX v5 venue that ccxt's real okx class can trade on.

    Its API keys are generated on first start and written to STATE/okx.env (mode 600) as the
    TAXREPORT_OKX_* variables the bot reads.

    \b
    Examples:
      taxreport venue okx --state ~/okx-venue --port 8765 --fund USDT=10000
      source ~/okx-venue/okx.env
      taxreport basket invest 1000 --basket core --live --yes --exchange-url http://127.0.0.1:8765
      taxreport venue okx --state ~/okx-venue --faults drop_response=0.1,rate_limit=0.05,fill_lag=2
      taxreport venue okx --state ~/okx-venue --show
      taxreport venue okx --state ~/okx-venue --backdate 8
      taxreport venue okx --state ~/okx-venue --export-trades trades.csv --export-funding funding.csv
      taxreport reconcile okx trades.csv --basket core
      taxreport import okx funding.csv --account okx:core
    """
    from taxreport.venue.faults import parse_faults
    from taxreport.venue.okx import OkxVenue
    from taxreport.venue.server import run_venue

    spec = parse_faults(faults)
    fund_map = asset_numbers(fund, "--fund") if fund else None
    price_map = ({f"{a}/USDT": p for a, p in asset_numbers(prices, "--prices").items()} if prices else None)
    books = OkxVenue(state_dir, seed=seed, fill_lag=spec.fill_lag, fund=fund_map, prices=price_map,
                     clock_skew=spec.clock_skew)
    if backdate_days is not None:
        from datetime import timedelta

        moved = books.backdate(timedelta(days=backdate_days))
        click.echo(f"moved {moved} order(s) and fill(s) {backdate_days} day(s) back")
        return
    if show:
        echo_json(books.snapshot())
        return
    if export_trades is not None or export_funding is not None:
        from taxreport.venue.okx import export_funding_history, export_trading_history

        if export_trades is not None:
            rows = export_trading_history(books, export_trades)
            click.echo(f"{rows} rows written to {export_trades} (OKX Trading history layout, UTC+8)")
        if export_funding is not None:
            rows = export_funding_history(books, export_funding)
            click.echo(f"{rows} rows written to {export_funding} (OKX Funding history layout, UTC+8)")
        return

    def ready(url: str) -> None:
        click.echo(f"OKX venue on {url} (state {state_dir}, keys in {state_dir / 'okx.env'}, "
                   f"faults {spec.text}, seed {seed}, OKX rate limits {'off' if no_rate_limits else 'on'}); "
                   "Ctrl-C stops it", err=True)

    run_venue(books, port=port, faults=spec, seed=seed, quiet=not verbose, on_ready=ready,
              rate_limits=not no_rate_limits)
    click.echo("venue stopped", err=True)
