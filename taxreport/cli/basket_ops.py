"""``taxreport basket status|invest|stop|history``: operate a basket (paper, sandbox or live).

* ``status``: total value (members at mid price + quote cash), invested (every ``basket invest`` and
  paper funding, in the quote asset), total P&L = value - invested, today's P&L = value - (value after
  the last rebalance before 00:00 UTC today + invested since), allocation vs target, last and next
  rebalance. Reads only; writes nothing.
* ``invest AMOUNT``: at least the basket's minimum investment (100 of the quote asset by default);
  paper mode deposits the cash first; then buys to the target weights.
* ``stop``: sells every member to the quote asset — a TAXABLE DISPOSAL, so it warns and asks first —
  or, with ``--keep-assets``, only stops rebalancing (``rebalance run`` then refuses the basket until
  the next ``basket invest``).
* ``history``: past rebalances from the audit trail (trigger, status, orders, traded, fees).
"""

from __future__ import annotations

from datetime import datetime, time, timezone
from decimal import Decimal
from pathlib import Path

import click

from taxreport.cli.common import echo_json, format_option, open_ledger, print_table
from taxreport.cli.rebalance_run import (
    basket_lock,
    basket_state,
    exec_options,
    make_engine,
    open_venue,
    report_run,
    sync_paper_funding,
    venue_options,
)
from taxreport.errors import InputError

ZERO = Decimal(0)


def _journal(ctx: click.Context, venue):  # noqa: ANN001, ANN202
    from taxreport.rebalance.journal import Journal

    return Journal(open_ledger(ctx), venue.basket.name, venue.account, venue.exchange.name, venue.clock)


@click.command("status")
@venue_options
@format_option()
@click.pass_context
def status(ctx: click.Context, basket_ref: str, paper: bool, live: bool, sandbox: bool, paper_state: Path | None,
           prices: str | None, walk: str | None, seed: int | None, at: str | None, fmt: str) -> None:
    """Value, P&L (total and today), allocation vs target, last and next rebalance.

    \b
    Examples:
      taxreport basket status --basket core --paper
      taxreport basket status --basket core --paper --prices BTC=70000 --format json
      taxreport basket status --basket core --live
    """
    from taxreport.model.money import decimal_str, money_str
    from taxreport.rebalance.planner import asset_rows
    from taxreport.rebalance.triggers import next_run

    venue = open_venue(ctx, basket_ref, paper=paper, live=live, sandbox=sandbox, paper_state=paper_state,
                       prices=prices, walk=walk, seed=seed, at=at, readonly=True)
    b, ex = venue.basket, venue.exchange
    journal = _journal(ctx, venue)
    now = venue.clock() if venue.clock else datetime.now(timezone.utc)
    balances = venue.paper.total_balances() if venue.paper is not None else ex.fetch_balances()
    symbols = [f"{a}/{b.quote}" for a in b.weights if a != b.quote]
    tickers = ex.fetch_tickers(symbols)
    mids = {s.split("/")[0]: (t.bid + t.ask) / 2 for s, t in tickers.items()}
    held = {a: q for a, q in balances.items() if a in b.weights}
    cash = ZERO if b.quote in b.weights else balances.get(b.quote, ZERO)
    members_value = sum((held.get(a, ZERO) * (mids[a] if a != b.quote else 1) for a in b.weights), ZERO)
    value = members_value + cash
    rows = asset_rows(b, held, mids)[0] if members_value > 0 else ()
    recs = journal.records()
    invests = [r for r in recs if r.record_type == "basket.invest"]
    invested = sum((Decimal(r.data["amount"]) for r in invests), ZERO)
    day_start = datetime.combine(now.date(), time(0), tzinfo=timezone.utc)
    runs = [r for r in recs if r.record_type == "rebalance.done"]
    done = [r for r in runs if r.data.get("status") != "skipped"]
    snaps = [r for r in runs if r.time <= day_start and r.data.get("value_after") is not None]
    base = Decimal(snaps[-1].data["value_after"]) if snaps else ZERO
    since = snaps[-1].time if snaps else None
    today = value - base - sum((Decimal(r.data["amount"]) for r in invests if since is None or r.time >= since),
                               ZERO)
    state, _ = basket_state(journal)
    last = done[-1] if done else None
    nxt = None if state == "stopped" else next_run(b, now)
    out = {
        "basket": b.name, "venue": venue.mode, "account": venue.account, "quote": b.quote, "as_of": now,
        "state": state, "total_value": value, "cash": cash, "invested": invested, "total_pnl": value - invested,
        "total_pnl_pct": (value - invested) / invested * 100 if invested else None, "today_pnl": today, "today_pnl_since": since,
        "last_rebalance": None if last is None else {"time": last.time, "rebalance_id": last.data["rebalance_id"],
                                                      "status": last.data["status"]},
        "next_rebalance": nxt,
        "allocation": [{"asset": r.asset, "quantity": r.quantity, "price": r.price, "value": r.value,
                        "weight": r.weight, "target": r.target, "drift": r.drift} for r in rows],
    }
    if fmt == "json":
        echo_json(out)
        return
    q = b.quote
    print_table(f"basket {b.name} ({venue.mode}, account {venue.account}) at {now:%Y-%m-%d %H:%M} UTC",
                [("asset", "left"), ("quantity", "right"), (f"price {q}", "right"), (f"value {q}", "right"),
                 ("weight", "right"), ("target", "right"), ("drift pp", "right")],
                [(r.asset, decimal_str(r.quantity), money_str(r.price), money_str(r.value), f"{money_str(r.weight)}%",
                  f"{money_str(r.target)}%", f"{'+' if r.drift > 0 else ''}{money_str(r.drift)}") for r in rows])
    pct = f" ({money_str(out['total_pnl_pct'])}%)" if invested else ""
    click.echo(f"total value   {money_str(value)} {q}  (members {money_str(members_value)} + cash {money_str(cash)})")
    click.echo(f"invested      {money_str(invested)} {q}")
    click.echo(f"total P&L     {money_str(value - invested)} {q}{pct}")
    click.echo(f"today's P&L   {money_str(today)} {q}  (since "
               + (f"the value recorded at {since:%Y-%m-%d %H:%M} UTC)" if since else "the first investment)"))
    click.echo("last rebalance " + (f"{last.time:%Y-%m-%d %H:%M} UTC ({last.data['status']}, id "
                                    f"{last.data['rebalance_id']})" if last else "never"))
    click.echo("next rebalance " + ("none: the basket is stopped" if nxt is None else
                                    f"{nxt:%Y-%m-%d %H:%M} UTC ({b.mode})"))


@click.command("invest")
@click.argument("amount")
@venue_options
@exec_options
@format_option()
@click.pass_context
def invest(ctx: click.Context, amount: str, basket_ref: str, paper: bool, live: bool, sandbox: bool,
           paper_state: Path | None, prices: str | None, walk: str | None, seed: int | None, at: str | None,
           yes: bool, fill_timeout: float, reprices: int, offset_ticks: int, market_finish: bool, fmt: str) -> None:
    """Add AMOUNT of the quote asset to the basket and buy to the target weights (minimum 100).

    \b
    Examples:
      taxreport basket invest 10000 --basket core --paper --prices BTC=60000,ETH=3000,SOL=150
      taxreport basket invest 500 --basket core --live
    """
    from taxreport.model.money import decimal_str, parse_decimal
    from taxreport.rebalance.basket import check_investment, resolve_basket
    from taxreport.rebalance.executor import run_rebalance

    try:
        cash = parse_decimal(amount, what="AMOUNT")
    except ValueError as exc:
        raise InputError(str(exc).partition(": ")[2], field="AMOUNT") from None
    check_investment(resolve_basket(basket_ref)[0], cash)
    venue = open_venue(ctx, basket_ref, paper=paper, live=live, sandbox=sandbox, paper_state=paper_state,
                       prices=prices, walk=walk, seed=seed, at=at, yes=yes,
                       confirm=f"Invest {amount} in basket")
    b = venue.basket
    with basket_lock(b.name):
        engine = make_engine(ctx, venue, fill_timeout=fill_timeout, reprices=reprices, offset_ticks=offset_ticks,
                             market_finish=market_finish)
        engine.recover()
        moment = engine.clock()
        if venue.paper is not None:
            venue.paper.deposit(b.quote, cash, ref=f"{venue.paper.id_prefix}:invest:{len(venue.paper.fundings) + 1}")
            sync_paper_funding(open_ledger(ctx), venue)
        else:
            free = engine.retrier.call("fetch balances", venue.exchange.fetch_balances).get(b.quote, ZERO)
            if free < cash:
                raise InputError(f"only {decimal_str(free)} {b.quote} free on {b.exchange}: deposit first",
                                 field="AMOUNT")
        engine.journal.record("basket.invest", f"{b.name}:{moment:%Y%m%d%H%M%S%f}:invest",
                              {"amount": cash, "quote": b.quote, "venue": venue.mode})
        result = run_rebalance(engine, invest=cash, trigger={"reason": f"invest {decimal_str(cash)} {b.quote}",
                                                             "venue": venue.mode})
    report_run(result, venue, fmt)


@click.command("stop")
@venue_options
@exec_options
@click.option("--keep-assets", is_flag=True, help="Only stop rebalancing; sell nothing.")
@format_option()
@click.pass_context
def stop(ctx: click.Context, basket_ref: str, paper: bool, live: bool, sandbox: bool, paper_state: Path | None,
         prices: str | None, walk: str | None, seed: int | None, at: str | None, yes: bool, fill_timeout: float,
         reprices: int, offset_ticks: int, market_finish: bool, keep_assets: bool, fmt: str) -> None:
    """Stop a basket: sell every member to the quote asset (a TAXABLE DISPOSAL), or --keep-assets.

    \b
    Examples:
      taxreport basket stop --basket core --paper --keep-assets
      taxreport basket stop --basket core --paper --yes
      taxreport basket stop --basket core --live
    """
    from taxreport.model.money import decimal_str
    from taxreport.rebalance.executor import run_rebalance

    venue = open_venue(ctx, basket_ref, paper=paper, live=live, sandbox=sandbox, paper_state=paper_state,
                       prices=prices, walk=walk, seed=seed, at=at, yes=yes,
                       confirm=None if keep_assets else "Sell every member of basket", started=True)
    b = venue.basket
    with basket_lock(b.name):
        engine = make_engine(ctx, venue, fill_timeout=fill_timeout, reprices=reprices, offset_ticks=offset_ticks,
                             market_finish=market_finish)
        engine.recover()
        stamp = f"{b.name}:{engine.clock():%Y%m%d%H%M%S%f}:stop"
        if keep_assets:
            engine.journal.record("basket.stop", stamp, {"keep_assets": True, "venue": venue.mode})
            click.echo(f"basket {b.name} stopped; its assets stay where they are. `basket invest` starts it again.")
            return
        held = engine.retrier.call("fetch balances", venue.exchange.fetch_balances)
        selling = ", ".join(f"{decimal_str(held[a])} {a}" for a in b.weights if a != b.quote and held.get(a))
        click.echo(f"WARNING: this sells {selling or 'nothing'} for {b.quote}. Every sale is a TAXABLE "
                   "DISPOSAL: it realises a capital gain or loss in this tax year.", err=True)
        if not yes:
            click.confirm("Sell everything and stop the basket?", abort=True, err=True)
        result = run_rebalance(engine, liquidate=True, trigger={"reason": "basket stop: sell every member",
                                                                "venue": venue.mode})
        engine.journal.record("basket.stop", stamp, {"keep_assets": False, "venue": venue.mode,
                                                     "rebalance_id": result.rebalance_id})
    report_run(result, venue, fmt)


@click.command("history")
@click.option("--basket", "basket_ref", required=True, metavar="NAME_OR_FILE", help="Basket name or .toml file.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the last N rebalances.")
@format_option()
@click.pass_context
def history(ctx: click.Context, basket_ref: str, limit: int | None, fmt: str) -> None:
    """Past rebalances of a basket, from the ledger's audit trail (every venue).

    \b
    Examples:
      taxreport basket history --basket core
      taxreport basket history --basket core --limit 5 --format json
    """
    from taxreport.model.money import money_str
    from taxreport.rebalance.basket import resolve_basket
    from taxreport.rebalance.journal import Journal

    b = resolve_basket(basket_ref)[0]
    journal = Journal(open_ledger(ctx), b.name, b.account, "-")
    runs: dict[str, dict] = {}
    for rec in journal.records(all_accounts=True):
        rid = rec.data.get("rebalance_id")
        key = (rec.account, rid)
        if rec.record_type == "rebalance.trigger":
            runs[key] = {"rebalance_id": rid, "time": rec.time, "account": rec.account,
                         "venue": rec.data.get("venue", ""), "reason": rec.data.get("reason", ""),
                         "max_drift": Decimal(rec.data["max_drift"]), "status": "running"}
        elif rec.record_type == "rebalance.done" and key in runs:
            d = rec.data
            runs[key].update(status=d["status"], finished=rec.time, orders=sum(x["orders"] for x in d["legs"]),
                             bought=Decimal(d["bought"]), sold=Decimal(d["sold"]),
                             fees={k: Decimal(v) for k, v in d["fees"].items()},
                             value_after=None if d.get("value_after") is None else Decimal(d["value_after"]),
                             error=d.get("error") or d.get("skipped"))
    items = list(runs.values())[-limit:] if limit else list(runs.values())
    if not items and fmt != "json":
        click.echo(f"basket {b.name} has no rebalances yet")
        return
    if fmt == "json":
        echo_json(items)
        return
    q = b.quote
    print_table(f"{len(items)} rebalance(s) of basket {b.name} (amounts in {q}; fees in --format json)",
                [("started (UTC)", "left"), ("id", "left"), ("trigger", "left"), ("status", "left"),
                 ("orders", "right"), ("sold", "right"), ("bought", "right"), ("value after", "right")],
                [(f"{r['time']:%Y-%m-%d %H:%M}", r["rebalance_id"], _short(r["reason"]),
                  r["status"] + (f": {_short(r['error'])}" if r.get("error") and r["status"] != "skipped" else ""),
                  r.get("orders", ""), money_str(r["sold"]) if "sold" in r else "",
                  money_str(r["bought"]) if "bought" in r else "",
                  money_str(r["value_after"]) if r.get("value_after") is not None else "") for r in items])


def _short(text: str, width: int = 28) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
