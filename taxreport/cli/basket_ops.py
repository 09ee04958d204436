"""``taxreport basket status|invest|stop|history``: operate a basket (paper, sandbox or live).

Everything here works on what the BASKET owns (:mod:`taxreport.rebalance.holdings`: what it was
given by ``basket invest`` and what its own fills bought and sold), capped by what the account
holds; other money in the account (coins held before, other baskets) is never counted or traded.

* ``status``: total value (own members at mid + own cash), invested, total P&L = value - invested,
  today's P&L = value now - (own holdings at 00:00 UTC at the prices at 00:00 UTC) - cash invested
  since, allocation vs target, last and next run (the runner's schedule). Writes nothing to the
  ledger (it remembers the prices it saw, for today's P&L).
* ``invest AMOUNT``: at least the basket's minimum investment; the money becomes the basket's and is
  bought to target (``--buy-only``: no sells; ``--only-drifted``: members outside the band only).
* ``stop``: sells what the basket owns to the quote asset — a TAXABLE DISPOSAL, so it warns and asks
  first — and releases it to the account; ``--keep-assets`` releases the coins unsold.
* ``history``: past rebalances from the audit trail (venue, trigger, status and why, every fill).
"""

from __future__ import annotations

from datetime import datetime, time, timezone
from decimal import Decimal
from pathlib import Path

import click

from taxreport.cli.common import echo_json, format_option, open_ledger
from taxreport.cli.fit import Col, echo_line, print_fitted
from taxreport.cli.rebalance_run import (
    _notifier,
    _paper_lock,
    add_paper_deposit,
    basket_lock,
    exec_options,
    make_engine,
    open_venue,
    report_run,
    sync_paper_funding,
    venue_options,
)
from taxreport.errors import InputError, TaxreportError
from taxreport.rebalance.holdings import value_at

ZERO = Decimal(0)


def _journal(ctx: click.Context, venue):  # noqa: ANN001, ANN202
    from taxreport.rebalance.journal import Journal

    return Journal(open_ledger(ctx), venue.basket.name, venue.account, venue.exchange.name, venue.clock)


def _midnight_value(view, b, book, day_start: datetime, marks: dict[str, Decimal] | None):  # noqa: ANN001
    """Value at 00:00 UTC: the basket's holdings then, at the prices then (None when unknown)."""
    if marks is None:
        return None, ZERO
    held, invested_since = book.holdings_at(day_start)
    value = value_at({a: q for a, q in held.items() if a in b.weights or a == b.quote}, marks, b.quote)
    return (None, ZERO) if value is None else (value, invested_since)


@click.command("status")
@venue_options
@format_option()
@click.pass_context
def status(ctx: click.Context, basket_ref: str, paper: bool, live: bool, sandbox: bool, paper_state: Path | None,
           prices: str | None, walk: str | None, seed: int | None, at: str | None, fmt: str) -> None:
    """The basket's OWN value, P&L (total and today), allocation vs target, last and next run.

    Only what the basket owns is counted (what it was given by `basket invest` and what its own
    fills bought and sold), capped by what the account holds; other money in the account is not.

    \b
    Examples:
      taxreport basket status --basket core --paper
      taxreport basket status --basket core --paper --prices BTC=70000 --format json
      taxreport basket status --basket core --live
    """
    from taxreport.model.money import decimal_str, money_str
    from taxreport.rebalance.holdings import capped_balances
    from taxreport.rebalance.planner import asset_rows
    from taxreport.rebalance.runner import RunnerState, member_symbols, next_due, state_path

    venue = open_venue(ctx, basket_ref, paper=paper, live=live, sandbox=sandbox, paper_state=paper_state,
                       prices=prices, walk=walk, seed=seed, at=at, readonly=True)
    b, ex = venue.basket, venue.exchange
    journal = _journal(ctx, venue)
    book = journal.sync()
    now = venue.clock() if venue.clock else datetime.now(timezone.utc)
    account = venue.paper.total_balances() if venue.paper is not None else ex.fetch_balances()
    symbols = member_symbols(b)
    tickers = ex.fetch_tickers(symbols)
    missing = [s for s in symbols if s not in tickers]
    if missing:
        raise TaxreportError(f"{ex.name} gave no price for {', '.join(missing)}")
    mids = {s.split("/")[0]: (t.bid + t.ask) / 2 for s, t in tickers.items() if s in symbols}
    assets = list(b.weights) + ([] if b.quote in b.weights else [b.quote])
    held, short = capped_balances(book.holdings, account, assets)
    cash = ZERO if b.quote in b.weights else held.get(b.quote, ZERO)
    members_value = sum((held.get(a, ZERO) * (mids[a] if a != b.quote else 1) for a in b.weights), ZERO)
    value = members_value + cash
    rows = asset_rows(b, held, mids, invest=cash)[0] if value > 0 else ()
    invested = book.invested
    state = RunnerState.load(state_path(journal))
    day_start = datetime.combine(now.date(), time(0), tzinfo=timezone.utc)
    marks, source = _day_start_prices(ex, symbols, day_start, state.price_at(day_start), paper=venue.paper is not None)
    state.mark(now, mids)
    state.save()
    base, invested_today = _midnight_value(None, b, book, day_start, marks)
    today = None if base is None else value - base - invested_today
    total_pnl: Decimal | None = value - invested
    pnl_base = invested
    if book.state == "stopped":  # the bot's life: what the stop released minus what had been invested
        total_pnl = None if book.stopped_pnl is None else book.stopped_pnl + value
        pnl_base = ZERO if book.released_value is None or book.stopped_pnl is None \
            else book.released_value - book.stopped_pnl
    due, why = next_due(b, book, state, now)
    last = book.last_trade_run
    out = {
        "basket": b.name, "venue": venue.mode, "account": venue.account, "quote": b.quote, "as_of": now,
        "state": book.state, "total_value": value, "cash": cash, "invested": invested,
        "total_pnl": total_pnl,
        "total_pnl_pct": total_pnl / pnl_base * 100 if total_pnl is not None and pnl_base else None,
        "released_value": book.released_value,
        "today_pnl": today, "value_at_day_start": base, "day_start": day_start, "prices_at_day_start": marks,
        "day_start_prices_from": source, "fees": dict(book.fees),
        "account_shortfalls": [{"asset": x.asset, "basket_holds": x.basket_holds, "account_has": x.account_has}
                               for x in short],
        "last_rebalance": None if last is None else {"time": last.time, "rebalance_id": last.rebalance_id,
                                                      "status": last.status, "why": last.why},
        "next_rebalance": due, "next_reason": why,
        "allocation": [{"asset": r.asset, "quantity": r.quantity, "price": r.price, "value": r.value,
                        "weight": r.weight, "target": r.target, "drift": r.drift} for r in rows],
        "released": dict(book.released),
    }
    if fmt == "json":
        echo_json(out)
        return
    q = b.quote
    for x in short:
        echo_line("WARNING: " + x.message(b.name, venue.account), err=True)
    # 80 columns: the target column (weight - drift, and `basket show`) goes first, never a figure's digits
    print_fitted(f"basket {b.name} ({venue.mode}, account {venue.account}, {book.state}) at {now:%Y-%m-%d %H:%M} UTC",
                 [Col("asset", wrap=True), Col("quantity", "right"), Col(f"price {q}", "right"),
                  Col(f"value {q}", "right"), Col("weight", "right"), Col("target", "right", drop=1),
                  Col("drift pp", "right")],
                [(r.asset, decimal_str(r.quantity), money_str(r.price), money_str(r.value), f"{money_str(r.weight)}%",
                  f"{money_str(r.target)}%", f"{'+' if r.drift > 0 else ''}{money_str(r.drift)}") for r in rows]
                + ([(f"{q} (cash)", decimal_str(cash), "1", money_str(cash),
                     f"{money_str(cash / value * 100)}%", "0.00%", "")] if cash and value else []))
    pct = f" ({money_str(out['total_pnl_pct'])}%)" if out["total_pnl_pct"] is not None else ""

    def status_line(text: str) -> None:  # on a narrow terminal the rest wraps under the value, past the label
        echo_line(text, indent=len("today's P&L   "))

    status_line(f"total value   {money_str(value)} {q}  (members {money_str(members_value)} + cash {money_str(cash)})")
    if book.state == "stopped":
        status_line(f"invested      {money_str(pnl_base)} {q} until the stop, which released "
                    + (f"{money_str(book.released_value)} {q}" if book.released_value is not None else "an unrecorded value"))
    else:
        status_line(f"invested      {money_str(invested)} {q}")
    status_line("total P&L     " + (f"{money_str(total_pnl)} {q}{pct}" if total_pnl is not None else
                                    "unknown (the stop was recorded without the value it released)"))
    status_line("today's P&L   " + (f"{money_str(today)} {q}  (value now vs {money_str(base)} {q} at 00:00 UTC"
                                    + (f" + {money_str(invested_today)} invested since" if invested_today > 0 else
                                       f" - {money_str(-invested_today)} taken out since" if invested_today < 0 else "")
                                    + f"; prices at 00:00 UTC: {source})" if today is not None else
                                    "unknown: no price at 00:00 UTC (the exchange gave no daily candle and no "
                                    "check ran near 00:00 UTC)"))
    status_line("last run      " + (f"{last.time:%Y-%m-%d %H:%M} UTC ({last.status}, id {last.rebalance_id})"
                                    + (f": {last.why}" if last.why and last.status != "completed" else "")
                                    if last else "never"))
    status_line("next run      " + (f"{due:%Y-%m-%d %H:%M} UTC ({why})" if due else why))
    if book.state == "stopped" and book.released:
        status_line("released      " + ", ".join(f"{decimal_str(v)} {k}" for k, v in book.released.items()))


def _day_start_prices(ex, symbols: list[str], day_start: datetime, seen: dict[str, Decimal] | None,  # noqa: ANN001
                      *, paper: bool) -> tuple[dict[str, Decimal] | None, str | None]:
    """The members' prices at 00:00 UTC today, for today's P&L: the exchange's daily candle open
    (ccxt ``fetch_ohlcv(symbol, '1d', since=00:00 UTC, limit=1)``; paper: the paper price in effect
    at 00:00 UTC), completed by the mids the bot saw within an hour of 00:00 UTC; None when neither
    knows (today's P&L is then reported unknown, never guessed)."""
    from taxreport.errors import TaxreportError

    try:
        opened = ex.fetch_day_open(symbols, day_start) or {}
    except (TaxreportError, ValueError):  # no candle answer: the prices seen near 00:00 UTC may still do
        opened = {}
    if not opened and not seen:
        return None, None
    source = ("paper prices" if paper else "daily candle open") if opened else "prices seen near 00:00 UTC"
    if opened and seen and set(seen) - set(opened):
        source += " and prices seen near 00:00 UTC"
    return {**(seen or {}), **opened}, source


def _open_engine(ctx: click.Context, venue, fill_timeout: float, reprices: int, offset_ticks: int,  # noqa: ANN001
                 market_finish: bool):  # noqa: ANN202
    engine = make_engine(ctx, venue, fill_timeout=fill_timeout, reprices=reprices, offset_ticks=offset_ticks,
                         market_finish=market_finish)
    return engine


@click.command("invest")
@click.argument("amount")
@venue_options
@exec_options
@click.option("--buy-only", is_flag=True, help="Only buy (underweight members first); never sell to rebalance.")
@click.option("--only-drifted", is_flag=True, help="Trade only the members outside the band/gate.")
@click.option("--paper-deposit", default=None, metavar="ASSET=QTY,...",
              help="Paper: also put money in the paper ACCOUNT that is NOT the basket's (other holdings).")
@format_option()
@click.pass_context
def invest(ctx: click.Context, amount: str, basket_ref: str, paper: bool, live: bool, sandbox: bool,
           paper_state: Path | None, prices: str | None, walk: str | None, seed: int | None, at: str | None,
           yes: bool, fill_timeout: float, reprices: int, offset_ticks: int, market_finish: bool, buy_only: bool,
           only_drifted: bool, paper_deposit: str | None, fmt: str) -> None:
    """Add AMOUNT of the quote asset to the basket and buy to the target weights (minimum 100).
    The money becomes the basket's: only it (and what it buys) is ever traded by the basket.

    \b
    Examples:
      taxreport basket invest 10000 --basket core --paper --prices BTC=60000,ETH=3000,SOL=150
      taxreport basket invest 500 --basket core --paper --buy-only
      taxreport basket invest 500 --basket core --live
    """
    from taxreport.model.money import decimal_str, parse_decimal
    from taxreport.rebalance.basket import check_investment, resolve_basket
    from taxreport.rebalance.runner import run_check

    try:
        cash = parse_decimal(amount, what="AMOUNT")
    except ValueError as exc:
        raise InputError(str(exc).partition(": ")[2], field="AMOUNT") from None
    check_investment(resolve_basket(basket_ref)[0], cash)
    venue = open_venue(ctx, basket_ref, paper=paper, live=live, sandbox=sandbox, paper_state=paper_state,
                       prices=prices, walk=walk, seed=seed, at=at, yes=yes,
                       confirm=f"Invest {amount} in basket", paper_deposit=paper_deposit)
    add_paper_deposit(ctx, venue)
    b = venue.basket
    with basket_lock(b.name), _paper_lock(venue):
        engine = make_engine(ctx, venue, fill_timeout=fill_timeout, reprices=reprices, offset_ticks=offset_ticks,
                             market_finish=market_finish)
        engine.recover()
        moment = engine.clock()
        if venue.paper is not None:
            venue.paper.deposit(b.quote, cash, ref=f"{venue.paper.id_prefix}:invest:{len(venue.paper.fundings) + 1}")
            sync_paper_funding(open_ledger(ctx), venue)
        else:
            book = engine.journal.sync()
            free = engine.retrier.call("fetch balances", venue.exchange.fetch_balances).get(b.quote, ZERO)
            owned = _owned_elsewhere(ctx, venue, engine)
            if free - owned < cash:
                raise InputError(f"only {decimal_str(free)} {b.quote} free on {b.exchange}, of which "
                                 f"{decimal_str(owned)} already belong to baskets on account {venue.account} "
                                 f"(this one: {decimal_str(book.holdings.get(b.quote, ZERO))}): deposit first",
                                 field="AMOUNT")
        engine.journal.record("basket.invest", f"{b.name}:{moment:%Y%m%d%H%M%S%f}:invest",
                              {"amount": cash, "quote": b.quote, "venue": venue.mode})
        check = run_check(engine, reason=f"invest {decimal_str(cash)} {b.quote}", venue=venue.mode,
                          buy_only=buy_only, only_drifted=only_drifted)
    if check.run is None:
        echo_line(f"invested {decimal_str(cash)} {b.quote}; no orders: {check.why}")
        return
    report_run(check.run, venue, fmt, check)


def _owned_elsewhere(ctx: click.Context, venue, engine) -> Decimal:  # noqa: ANN001
    """Quote cash already owned by baskets (this one included) in this account."""
    from taxreport.rebalance.basket import list_saved
    from taxreport.rebalance.journal import Journal

    total = ZERO
    for _path, other, _err in list_saved():
        if other is None:
            continue
        account = other.account if venue.mode == "live" else None
        if venue.mode == "live" and account != venue.account:
            continue
        if venue.mode != "live" and other.name != venue.basket.name:
            continue
        j = engine.journal if other.name == venue.basket.name else Journal(
            open_ledger(ctx), other.name, venue.account, venue.exchange.name, venue.clock)
        total += max(j.sync().holdings.get(venue.basket.quote, ZERO), ZERO)
    return total


@click.command("stop")
@venue_options
@exec_options
@click.option("--keep-assets", is_flag=True, help="Sell nothing: release the basket's coins to the account as they are.")
@format_option()
@click.pass_context
def stop(ctx: click.Context, basket_ref: str, paper: bool, live: bool, sandbox: bool, paper_state: Path | None,
         prices: str | None, walk: str | None, seed: int | None, at: str | None, yes: bool, fill_timeout: float,
         reprices: int, offset_ticks: int, market_finish: bool, keep_assets: bool, fmt: str) -> None:
    """Stop a basket: sell what the BASKET owns to the quote asset (a TAXABLE DISPOSAL) and release it
    to the account, or --keep-assets (release its coins unsold). Coins in the account
    that the basket did not buy are never sold.

    \b
    Examples:
      taxreport basket stop --basket core --paper --keep-assets
      taxreport basket stop --basket core --paper --yes
      taxreport basket stop --basket core --live
    """
    from taxreport.model.money import decimal_str
    from taxreport.rebalance.runner import look, run_check

    venue = open_venue(ctx, basket_ref, paper=paper, live=live, sandbox=sandbox, paper_state=paper_state,
                       prices=prices, walk=walk, seed=seed, at=at, yes=yes,
                       confirm=None if keep_assets else "Sell every member of basket", started=True,
                       defer_save=paper and not yes and not keep_assets)
    b = venue.basket
    # a paper stop the user may still decline writes nothing to the paper state (not even the clock moved to
    # now) until confirmed: an aborted stop leaves the simulation where it was (defer_save)
    held_state = venue.unsaved_state
    with basket_lock(b.name), _paper_lock(venue):
        engine = make_engine(ctx, venue, fill_timeout=fill_timeout, reprices=reprices, offset_ticks=offset_ticks,
                             market_finish=market_finish)
        engine.recover()
        stamp = f"{b.name}:{engine.clock():%Y%m%d%H%M%S%f}:stop"
        notify = _notifier(venue, lambda _line: None)
        if keep_assets:
            kept = dict(engine.journal.sync().holdings)
            engine.journal.record("basket.stop", stamp, {"keep_assets": True, "venue": venue.mode,
                                                         "released": dict(kept),
                                                         "released_value": value_at(kept, look(engine).mids, b.quote)})
            text = ", ".join(f"{decimal_str(q)} {a}" for a, q in kept.items()) or "nothing"
            echo_line(f"basket {b.name} stopped; nothing sold, released to account {venue.account}: {text}. "
                      "`basket invest` starts it again with new money.")
            if notify:
                notify("stop", f"taxreport: {b.name} stopped", f"Stopped with --keep-assets; released {text}.")
            return
        view = look(engine)
        for x in view.shortfalls:
            echo_line("WARNING: " + x.message(b.name, venue.account), err=True)
        selling = ", ".join(f"{decimal_str(view.balances[a])} {a}" for a in b.weights
                            if a != b.quote and view.balances.get(a))
        if selling:
            echo_line(f"WARNING: this sells the basket's {selling} for {b.quote}. Every sale is a TAXABLE "
                      "DISPOSAL: it realises a capital gain or loss in this tax year.", err=True)
        else:  # nothing to sell: no disposal to warn about
            echo_line(f"basket {b.name} owns no coins: stopping it sells nothing", err=True)
        if not yes:
            click.confirm("Sell the basket's holdings and stop it?" if selling else f"Stop basket {b.name}?",
                          abort=True, err=True)
            if held_state is not None:
                venue.paper.state_path = held_state
                venue.paper.save()
        check = run_check(engine, reason="basket stop: sell every member", venue=venue.mode, liquidate=True)
        if check.status in ("failed", "incomplete"):
            if check.run is not None:
                report_run(check.run, venue, fmt, check, redo="the bot trades nothing until `basket stop` runs again")
            raise TaxreportError(f"basket {b.name} is NOT stopped: the sale was {check.status} ({check.why}); "
                                 "run `basket stop` again to sell the rest")
        book = engine.journal.sync()
        engine.journal.record("basket.stop", stamp, {
            "keep_assets": False, "venue": venue.mode,
            "rebalance_id": check.run.rebalance_id if check.run else None,
            "released": {a: q for a, q in book.holdings.items()},
            "released_value": value_at(book.holdings, view.mids, b.quote)})
        if notify:
            notify("stop", f"taxreport: {b.name} stopped",
                   "Sold and released: " + ", ".join(f"{decimal_str(q)} {a}" for a, q in book.holdings.items()))
    released = ", ".join(f"{decimal_str(q)} {a}" for a, q in book.holdings.items()) or "nothing"
    if check.run is not None:
        report_run(check.run, venue, fmt, check)
    if fmt != "json":
        echo_line(f"basket {b.name} stopped; released to account {venue.account}: {released}"
                  + ("" if check.run is not None else f" (nothing to sell: {check.why})"))


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
    runs: dict = {}
    cids: dict[str, tuple] = {}  # client order id -> (account, rebalance id)
    for rec in journal.records(all_accounts=True):
        rid = rec.data.get("rebalance_id")
        key = (rec.account, rid)
        if rec.record_type == "order.intent" and rec.order_id:
            cids[rec.order_id] = key
        if rec.record_type == "rebalance.outcome" and key in runs:
            runs[key].update(status=rec.data["status"], error=rec.data.get("why") or None)
            if rec.data.get("value") is not None:
                runs[key].update(value_after=Decimal(rec.data["value"]), cash_after=Decimal(rec.data["cash"]))
        if rec.record_type == "rebalance.trigger":
            runs[key] = {"rebalance_id": rid, "time": rec.time, "account": rec.account,
                         "venue": rec.data.get("venue") or (rec.account or "").split(":")[0],
                         "reason": rec.data.get("reason", ""),
                         "max_drift": Decimal(rec.data["max_drift"]), "status": "running", "trades": []}
        elif rec.record_type == "rebalance.done" and key in runs:
            d = rec.data
            runs[key].update(status=d["status"], finished=rec.time, orders=sum(x["orders"] for x in d["legs"]),
                             bought=Decimal(d["bought"]), sold=Decimal(d["sold"]),
                             fees={k: Decimal(v) for k, v in d["fees"].items()},
                             # the executor's snapshot is of the whole account, not the basket's own value
                             account_value_after=None if d.get("value_after") is None else Decimal(d["value_after"]),
                             error=d.get("error") or d.get("skipped"))
    from taxreport.model.events import Trade

    for row in journal.ledger.rows(kinds=["trade"], actor_prefix=journal.actor):
        t = row.event
        if row.actor == journal.actor and isinstance(t, Trade) and t.order_id in cids and cids[t.order_id] in runs:
            runs[cids[t.order_id]]["trades"].append({
                "time": t.time, "side": t.side.value, "asset": t.base, "quantity": t.quantity, "price": t.price,
                "value": t.quantity * t.price, "fee": t.fee, "fee_asset": t.fee_asset, "order_id": t.order_id,
                "trade_id": t.external_id})
    items = list(runs.values())[-limit:] if limit else list(runs.values())
    if not items and fmt != "json":
        echo_line(f"basket {b.name} has no rebalances yet")
        return
    if fmt == "json":
        echo_json(items)
        return
    q = b.quote
    # 80 columns: the id (in --format json) and venue go first, then the order count and sold/bought (the trades show
    # them); text wraps between words, a figure never
    print_fitted(f"{len(items)} rebalance(s) of basket {b.name} (amounts in {q}; ids and fees in --format json)",
                 [Col("started (UTC)", wrap=True), Col("id", drop=1), Col("venue", drop=2), Col("trigger", wrap=True),
                  Col("status", wrap=True), Col("trades", wrap=True, unit=", "), Col("orders", "right", drop=3),
                  Col("sold", "right", drop=3), Col("bought", "right", drop=3),
                  Col("basket value after", "right", wrap=True)],
                [(f"{r['time']:%Y-%m-%d %H:%M}", r["rebalance_id"], r["venue"], _short(r["reason"]),
                  r["status"] + (f": {_short(r['error'])}" if r.get("error") and r["status"] != "skipped" else ""),
                  _trades_text(r["trades"]),
                  r.get("orders", ""), money_str(r["sold"]) if "sold" in r else "",
                  money_str(r["bought"]) if "bought" in r else "",
                  money_str(r["value_after"]) if r.get("value_after") is not None else "") for r in items])


def _trades_text(trades: list[dict]) -> str:
    """Per asset and side: the quantity traded in this rebalance (each fill is in --format json)."""
    from taxreport.model.money import decimal_str

    total: dict[tuple[str, str], Decimal] = {}
    for t in trades:
        total[(t["side"], t["asset"])] = total.get((t["side"], t["asset"]), ZERO) + t["quantity"]
    return ", ".join(f"{'+' if side == 'buy' else '-'}{decimal_str(q)} {asset}" for (side, asset), q in total.items())


def _short(text: str, width: int = 28) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
