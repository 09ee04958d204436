"""``taxreport rebalance plan``: a dry run. Prints current vs target per asset, the orders a rebalance
would place, and the legs dropped as dust. Never places an order: with ``--paper`` it needs no
exchange at all; without it, it reads balances and tickers from the live exchange (read-only)."""

from __future__ import annotations

from pathlib import Path

import click

from taxreport.cli.common import asset_numbers, echo_json, format_option
from taxreport.cli.fit import echo_line
from taxreport.errors import InputError


@click.command("plan")
@click.option("--basket", "basket_ref", required=True, metavar="NAME_OR_FILE", help="Basket name or path to a .toml file.")
@click.option("--paper", is_flag=True, help="Plan the paper basket from its own holdings (or from --balances and "
              "--prices); no exchange is contacted.")
@click.option("--balances", default=None, help="Paper balances, e.g. BTC=0.1,ETH=1.2,USDT=50 (missing assets are 0).")
@click.option("--prices", default=None, help="Paper prices in the quote asset, e.g. BTC=55000,ETH=2375.")
@click.option("--markets", "markets_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Paper market rules (JSON list of ccxt markets) [default: the bundled OKX spot table].")
@click.option("--fee-rate", default=None, help="Fee per leg as a fraction, e.g. 0.001 [default: each market's taker fee].")
@click.option("--buy-fee-in", type=click.Choice(["quote", "base"]), default=None,
              help="Asset a buy's fee is charged in [default: base on okx (as OKX spot does), quote elsewhere].")
@click.option("--price-offset", default="0", show_default=True,
              help="Limit price offset from the touch as a fraction; positive crosses the spread (0.001 = 0.1%).")
@click.option("--invest", default="0", show_default=True, help="Quote cash to add to the basket (as `basket invest`).")
@click.option("--as-scheduled", is_flag=True, help="Apply the basket's gate/band like a scheduled run: no orders when inside it.")
@click.option("--sandbox", is_flag=True, help="Live read-only: use the exchange's demo/sandbox (OKX demo trading).")
@click.option("--fx", "fx_rates", multiple=True, metavar="CUR=RATE",
              help="Tax preview: ASSUMED flat rate 1 USD = RATE CUR when the ledger has no rate, e.g. --fx GBP=0.79.")
@click.option("--at", "at", default=None, metavar="TIME",
              help="Tax preview: the moment of the sales (ISO 8601 or YYYY-MM-DD) [default: now].")
@format_option()
@click.pass_context
def plan(ctx: click.Context, basket_ref: str, paper: bool, balances: str | None, prices: str | None, markets_file: Path | None,
         fee_rate: str | None, buy_fee_in: str | None, price_offset: str, invest: str, as_scheduled: bool,
         sandbox: bool, fx_rates: tuple[str, ...], at: str | None, fmt: str) -> None:
    """Dry run: the orders a rebalance would place now (nothing is sent).

    \b
    Examples:
      taxreport rebalance plan --basket core --paper --balances BTC=0.1,ETH=1.2,USDT=50 \\
          --prices BTC=55000,ETH=2375,SOL=180
      taxreport rebalance plan --basket core --paper --balances BTC=0.1,ETH=1,SOL=10.5 \\
          --prices BTC=55000,ETH=2850,SOL=200 --fee-rate 0 --format json
      taxreport rebalance plan --basket core --paper --prices BTC=58000   # the paper basket's own holdings
      taxreport rebalance plan --basket core            # live balances and tickers, read-only
      taxreport rebalance plan --basket ./core.toml --sandbox --as-scheduled
      taxreport --db ledger.sqlite rebalance plan --basket taxed --paper --balances BTC=0.5,ETH=4 \
          --prices BTC=60000,ETH=3000 --at 2025-03-01 --format json     # with a [tax] table: tax preview

    \b
    Tax preview (a [tax] table in the basket; lots from the --db ledger): per sell leg the lots it
    would consume under the country's rules, gain or loss, term (short/long, DE exempt), the plan's
    realised gain and ESTIMATED tax at the basket's marginal_rate. The orders shown are the
    TAX-ADJUSTED plan `rebalance run` sends, with one line per policy decision and its rule:
      defer_short_term N  do not sell lots turning long-term/tax-free within N days (US/DE/AU)
      tax_budget X        over X% of the value moved in tax: shrink to half the band, or skip
      use_allowance       UK/DE: stay within the annual exempt amount / below the Freigrenze
      harvest_losses Y    US: sell and rebuy lots down more than Y% (refused in UK/CA/AU: the rule)
      choose_lots         US/AU: the lots that minimise tax, recorded at each sale by `run`
    """
    from taxreport.model.money import parse_decimal
    from taxreport.rebalance.basket import resolve_basket, validate_markets
    from taxreport.rebalance.planner import plan as make_plan

    basket, path = resolve_basket(basket_ref)
    try:
        fee = parse_decimal(fee_rate, what="--fee-rate") if fee_rate is not None else None
        offset = parse_decimal(price_offset, what="--price-offset")
        cash = parse_decimal(invest, what="--invest")
    except ValueError as exc:
        raise InputError(str(exc).partition(": ")[2], field=str(exc).partition(": ")[0]) from None
    if fee is not None and not 0 <= fee < 1:
        raise InputError("must be a fraction between 0 and 1, e.g. 0.001", field="--fee-rate")
    if not -1 < offset < 1:
        raise InputError("must be a fraction between -1 and 1, e.g. 0.001", field="--price-offset")
    fee_side = buy_fee_in or ("base" if basket.exchange == "okx" else "quote")
    extra: dict = {}
    extra_json: dict = {}
    if paper and balances is None:  # the paper basket as it stands: its own holdings, its venue's prices
        from taxreport.cli.rebalance_run import open_venue
        from taxreport.exchanges.markets import DATA_FILE, markets_from_fixture

        if markets_file is not None:
            raise InputError("--markets goes with --balances (a plan from given numbers)", field="--markets")
        try:
            venue = open_venue(ctx, basket_ref, paper=True, live=False, sandbox=False, prices=prices, at=at,
                               readonly=True, started=True)
        except InputError as exc:
            if exc.field != "--paper":
                raise
            raise InputError(f"{exc.reason}; or plan from given numbers: add --balances and --prices (e.g. "
                             "--balances BTC=0.1,ETH=1.2,USDT=50 --prices BTC=55000,ETH=2375)", field="--paper") from None
        markets = markets_from_fixture(DATA_FILE)  # open_venue checked the members against it
        ex = venue.exchange
        price_of = {s.split("/")[0]: p for s, p in ex.prices.items() if s.endswith(f"/{basket.quote}")}
        tickers, source = None, f"paper ({venue.account}, the basket's own holdings)"
        heading = f"{venue.account}, the basket's own holdings"
        owned = _basket_owned(ctx, basket, False, ex.fetch_balances(), cash, where=venue.account)
        if owned is None:
            raise InputError(f"basket {basket.name} is not invested yet: `taxreport basket invest AMOUNT --basket "
                             f"{basket.name} --paper`, or plan from numbers with --balances and --prices",
                             field="--balances")
        held, cash, warnings = owned
        for warning in warnings:
            echo_line(f"WARNING: {warning}", err=True)
        # the tax preview reads the lots where `rebalance run --paper` trades (paper:<owner>), as the run does
        # (tax_run.adjust_check), not the basket's live account
        from dataclasses import replace

        basket = replace(basket, account=venue.account)
    elif paper:
        assert balances is not None
        if prices is None:
            raise InputError("--paper --balances plans from given numbers: add --prices "
                             "(e.g. --balances BTC=0.1,ETH=1.2,USDT=50 --prices BTC=55000,ETH=2375)",
                             field="--prices")
        from taxreport.exchanges.markets import DATA_FILE, markets_from_fixture

        markets = markets_from_fixture(markets_file or DATA_FILE)
        validate_markets(basket, markets, file=str(markets_file or DATA_FILE))
        held, price_of, tickers, source = asset_numbers(balances, "--balances"), asset_numbers(prices, "--prices"), None, "paper"
        heading = "paper"
        missing = [a for a in basket.weights if a != basket.quote and a not in price_of]
        if missing:
            raise InputError(f"no price for {', '.join(missing)}: every member of basket {basket.name!r} needs "
                             f"one (add {'=…,'.join(missing)}=…)", field="--prices")
    else:
        if balances is not None or prices is not None or markets_file is not None:
            raise InputError("--balances/--prices/--markets are for paper plans: add --paper", field="--paper")
        from taxreport.errors import TaxreportError
        from taxreport.exchanges.base import NetworkError

        try:
            exchange, markets, held, price_of, tickers = _live_inputs(basket, sandbox)
        except NetworkError as exc:  # transient, but a dry run does not retry: say so and stop
            raise TaxreportError(f"cannot reach the exchange ({exc}); try again, or plan offline with "
                                 "--paper --balances … --prices …") from None
        extra["amount_to_precision"] = exchange.amount_to_precision
        source = f"{basket.exchange}{' sandbox' if sandbox else ''} (read-only)"
        heading = f"{basket.exchange}{' sandbox' if sandbox else ''}, read-only"
        owned = _basket_owned(ctx, basket, sandbox, held, cash)
        if owned is None:  # never invested, nothing given with --invest: what would the whole account do
            scope = "the whole account (the basket is not invested yet; `basket invest` isolates it)"
        else:
            held, cash, warnings = owned
            scope = "the basket's own holdings"
            for warning in warnings:
                echo_line(f"WARNING: {warning}", err=True)
        extra_json["scope"] = scope

    def planned(b, gate: bool = as_scheduled):  # noqa: ANN001, ANN202 - the tax policies re-plan with other weights
        return make_plan(b, held, price_of, markets, fee_rate=fee, tickers=tickers, price_offset=offset,
                         invest=cash, buy_fee_in=fee_side, gate_check=gate, **extra)

    def leg(asset, side, quantity):  # noqa: ANN001, ANN202 - the loss harvest's sell and rebuy
        from taxreport.rebalance.planner import order_leg

        return order_leg(basket, markets, price_of, asset, side, quantity, fee_rate=fee, tickers=tickers,
                         price_offset=offset, amount_to_precision=extra.get("amount_to_precision"))

    result = planned(basket)
    from taxreport.cli.plan_tax import print_decisions, print_preview, tax_aware_plan
    from taxreport.rebalance.tax_run import preview_fee

    result, taxed = tax_aware_plan(basket, result, lambda b: planned(b, False), leg,
                                   fee_rate=preview_fee(fee, markets, basket), fx=fx_rates, at=at)
    if fmt == "json":
        from taxreport.rebalance.planner import plan_to_dict
        from taxreport.config import shown_path

        echo_json({"source": source, "basket_file": shown_path(path), "fee_rate": fee if fee is not None else "market taker",
                   "buy_fee_in": fee_side, **extra_json, **plan_to_dict(result),
                   **({"tax": taxed.record()} if taxed is not None else {})})
        return
    _print_plan(result, heading)
    if "scope" in extra_json:
        echo_line(f"planned from {extra_json['scope']}")
    if taxed is not None and taxed.preview is not None:
        print_preview(taxed.preview)
        print_decisions(taxed)


def _basket_owned(ctx: click.Context, basket, sandbox: bool, account: dict, invest,  # noqa: ANN001, ANN202
                  where: str | None = None):
    """A live plan sees what the BASKET owns (capped by the account): a basket not invested yet owns
    only the cash ``--invest`` gives it; its own cash is invested. None for a basket never invested
    and no ``--invest``: the caller then plans the whole account, and says so."""
    from taxreport.cli.common import open_ledger
    from taxreport.errors import InputError as _InputError
    from taxreport.rebalance.holdings import capped_balances
    from taxreport.rebalance.journal import Journal

    where = where or (f"sandbox:{basket.name}" if sandbox else basket.account)
    book = Journal(open_ledger(ctx), basket.name, where, basket.exchange, quote=basket.quote).sync()
    if book.state == "new" and not invest:
        return None
    assets = list(basket.weights) + ([] if basket.quote in basket.weights else [basket.quote])
    owned = dict(book.holdings)
    owned[basket.quote] = owned.get(basket.quote, 0) + invest
    held, short = capped_balances(owned, account, assets)
    if invest > held.get(basket.quote, 0):
        raise _InputError(f"cannot invest {invest} {basket.quote}: the account has only "
                          f"{account.get(basket.quote, 0)} {basket.quote} free", field="--invest")
    cash = 0 if basket.quote in basket.weights else held.get(basket.quote, 0)
    return held, type(invest)(cash), [s.message(basket.name, where) for s in short]


def _live_inputs(basket, sandbox: bool):  # noqa: ANN001, ANN202
    """Markets, free balances, mid prices and tickers from the live exchange; places nothing."""
    from taxreport.exchanges.ccxt_exchange import CcxtExchange
    from taxreport.rebalance.basket import validate_markets

    exchange = CcxtExchange(basket.exchange, sandbox=sandbox)
    markets = exchange.load_markets()
    validate_markets(basket, markets)
    symbols = [f"{a}/{basket.quote}" for a in basket.weights if a != basket.quote]
    tickers = exchange.fetch_tickers(symbols)
    missing = [s for s in symbols if s not in tickers]
    if missing:
        from taxreport.errors import MissingDataError

        raise MissingDataError(f"{basket.exchange} returned no ticker for {', '.join(missing)}")
    prices = {tickers[s].symbol.split("/")[0]: (tickers[s].bid + tickers[s].ask) / 2 for s in symbols}
    return exchange, markets, exchange.fetch_balances(), prices, tickers


def _print_plan(p, heading: str) -> None:  # noqa: ANN001
    """The plan's tables and lines; ``heading``: where the numbers come from, in the title's parentheses (the
    JSON's ``source`` says it with its own parentheses, which the title would double)."""
    from taxreport.cli.fit import Col, print_fitted
    from taxreport.model.money import decimal_str, money_str

    def pct(value) -> str:  # noqa: ANN001
        return money_str(value)

    rows = [(r.asset, decimal_str(r.quantity), money_str(r.value), f"{pct(r.weight)}%", f"{pct(r.target)}%",
             f"{'+' if r.drift > 0 else ''}{pct(r.drift)}", money_str(r.target_value - r.value)) for r in p.rows]
    # narrow terminals (:mod:`taxreport.cli.fit`): a figure is never split; the target column goes first
    print_fitted(f"basket {p.basket}: {money_str(p.total_value)} {p.quote} ({heading})",
                 [Col("asset", wrap=True), Col("quantity", "right"), Col(f"value {p.quote}", "right"),
                  Col("weight", "right"), Col("target", "right", drop=1), Col("drift pp", "right"),
                  Col("to trade", "right")], rows)
    if p.skipped:
        echo_line(f"no orders: {p.skipped}")
    elif p.orders:
        print_fitted("orders (sells first)", [Col("#", "right"), Col("side"), Col("symbol"), Col("quantity", "right"),
                                              Col("limit price", "right"), Col(f"notional {p.quote}", "right")],
                    [(i, o.side.upper(), o.symbol, decimal_str(o.quantity), decimal_str(o.limit_price),
                      money_str(o.notional))
                     for i, o in enumerate(p.orders, start=1)])
    else:
        echo_line("no orders: the basket is on target (or every leg is dust)")
    if p.dust:
        print_fitted("dropped as dust (not traded, not retried)",
                     [Col("side"), Col("asset"), Col("quantity", "right"), Col(f"notional {p.quote}", "right"),
                      Col("why", wrap=True)],
                    [(d.side, d.asset, decimal_str(d.quantity), money_str(d.notional), d.reason) for d in p.dust])
    for note in p.notes:
        if "dropped as dust" not in note:
            echo_line(f"note: {note}")
    echo_line(f"{p.quote} now {decimal_str(p.quote_balance)}, after the orders {decimal_str(p.quote_after)} "
              f"(fees included); largest drift {money_str(p.max_drift)}pp. Amounts are rounded to the cent "
              "for display only.")
