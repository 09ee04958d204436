"""``taxreport basket create|show|list``: define baskets (TOML files in the config directory)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from taxreport.cli.common import echo_json, format_option, parse_pairs, print_table
from taxreport.cli.fit import echo_line
from taxreport.errors import InputError


@click.command("create")
@click.argument("name")
@click.option("--weights", default=None, help="Target weights in percent, summing to exactly 100: BTC=50,ETH=30,SOL=20.")
@click.option("--preset", default=None, metavar="NAME",
              help="Take the weights from a risk-profile preset of YOUR presets file (none are shipped).")
@click.option("--presets", "presets_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Presets file [default: <config dir>/presets.toml].")
@click.option("--exchange", default="okx", show_default=True, help="ccxt exchange id.")
@click.option("--account", default=None, help="Ledger account the bot trades in [default: EXCHANGE:main].")
@click.option("--quote", default="USDT", show_default=True, help="Quote asset every member trades against.")
@click.option("--mode", type=click.Choice(["daily", "weekly", "threshold", "hybrid", "interval"]), default=None,
              help="When to rebalance [default: weekly; interval with --every].")
@click.option("--every", default=None, metavar="INTERVAL",
              help="Fixed-interval rebalancing (mode interval): 30m … 28d, e.g. 4h.")
@click.option("--paper-account", default=None, metavar="NAME",
              help="Paper venue: baskets naming the same paper account share it (and its other holdings).")
@click.option("--threshold", default="5", show_default=True, help="Band: percentage points (or percent of target with --band relative).")
@click.option("--band", type=click.Choice(["absolute", "relative"]), default="absolute", show_default=True)
@click.option("--daily-at", default="00:00", show_default=True, help="UTC time of daily (and weekly) runs, HH:MM.")
@click.option("--weekly-on", default="monday", show_default=True, help="Weekday of weekly runs.")
@click.option("--calendar", type=click.Choice(["daily", "weekly"]), default="daily", show_default=True,
              help="Hybrid mode: check on this calendar, trade only beyond the band.")
@click.option("--cooldown", "cooldown_minutes", type=click.IntRange(min=0), default=5, show_default=True,
              help="Threshold mode: minutes between checks.")
@click.option("--gate", default="3", show_default=True, help="Scheduled runs skip unless an asset drifts more than this (pp); 0 = always trade.")
@click.option("--min-notional", default="5", show_default=True, help="Smallest order value in the quote asset.")
@click.option("--min-investment", default="100", show_default=True, help="Smallest `basket invest` amount.")
@click.option("--max-weight", default=None, help="Optional cap on any one target weight (percent).")
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of the config directory.")
@click.option("--markets", "markets_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Check the members against a JSON table of ccxt markets (offline).")
@click.option("--check-markets", is_flag=True, help="Check the members against the exchange's live markets (public API, no keys).")
@click.option("--tax", "tax_jurisdiction", default=None, metavar="COUNTRY",
              help="Make the basket tax-aware for this country (us, uk, de, au, ca): `rebalance plan` previews "
                   "each sale's tax and `rebalance run` applies the policies below ([tax] table).")
@click.option("--tax-method", default=None, help="Lot method where the country allows a choice (e.g. fifo, hifo).")
@click.option("--marginal-rate", default=None, metavar="RATE",
              help="Your marginal tax rate as a fraction (0.24) for the estimated tax [default: an illustrative rate].")
@click.option("--choose-lots", is_flag=True, default=None,
              help="US, AU: pick the lots that minimise tax at each sale and record them then (specific identification).")
@click.option("--defer-short-term", type=int, default=None, metavar="DAYS",
              help="US, DE, AU: do not sell lots that turn long-term/tax-free within DAYS if the drift can be fixed otherwise.")
@click.option("--tax-budget", default=None, metavar="PCT",
              help="Shrink or skip a rebalance whose estimated tax is over PCT%% of the value it moves.")
@click.option("--use-allowance", is_flag=True, default=None,
              help="UK, DE: keep the year's gains within the annual exempt amount / under the Freigrenze.")
@click.option("--harvest-losses", default=None, metavar="PCT",
              help="US: sell and rebuy a member whose lots are down more than PCT%% (refused where a rule forbids it).")
@click.option("--no-tax", is_flag=True, help="With --force: remove the basket's [tax] table (trade without tax policies).")
@click.option("--force", is_flag=True,
              help="Replace an existing basket of that name (its weights only while it is stopped). The "
                   "options given replace the old ones; what no option sets ([tax] unless --tax/--no-tax, "
                   "[extra], api_url) is kept.")
@format_option()
@click.pass_context
def create(ctx: click.Context, name: str, weights: str | None, preset: str | None, presets_file: Path | None,
           exchange: str, account: str | None, quote: str, mode: str | None,
           every: str | None, paper_account: str | None, threshold: str,
           band: str, daily_at: str, weekly_on: str, calendar: str, cooldown_minutes: int, gate: str,
           min_notional: str, min_investment: str, max_weight: str | None, file: Path | None,
           markets_file: Path | None, check_markets: bool, tax_jurisdiction: str | None, tax_method: str | None,
           marginal_rate: str | None, choose_lots: bool | None, defer_short_term: int | None,
           tax_budget: str | None, use_allowance: bool | None, harvest_losses: str | None, no_tax: bool,
           force: bool, fmt: str) -> None:
    """Create a basket and save it as NAME.toml in the config directory (or --file).

    \b
    Examples:
      taxreport basket create core --weights BTC=50,ETH=30,SOL=20 --mode weekly
      taxreport basket create swing --weights BTC=60,ETH=40 --mode threshold --threshold 5 --cooldown 10
      taxreport basket create steady --weights BTC=40,ETH=30,USDC=30 --mode hybrid --band relative \\
          --threshold 15 --calendar daily --daily-at 08:00
      taxreport basket create calm --preset conservative --mode weekly   # from YOUR presets.toml (below)
      taxreport basket create taxed --weights BTC=50,ETH=50 --tax us --choose-lots --harvest-losses 20 \\
          --tax-budget 1 --marginal-rate 0.24

    \b
    Presets: OKX's guide names risk profiles (conservative, low, medium, higher growth) but we found
    no published OKX allocation for them, so none is shipped. Write your own, with their source, in
    <config dir>/presets.toml (see `taxreport basket presets`):
      [conservative]
      weights = { BTC = 60, ETH = 30, USDC = 10 }
      source = "where these numbers come from"
    """
    from taxreport.rebalance.basket import basket_from_mapping, basket_to_dict, save_basket, validate_markets

    if (weights is None) == (preset is None):
        raise InputError("give either --weights (e.g. BTC=50,ETH=30,SOL=20) or --preset NAME", field="--weights")
    chosen = None
    if preset is not None:
        from taxreport.rebalance.presets import find_preset

        chosen = find_preset(preset, presets_file)
    elif presets_file is not None:
        raise InputError("--presets only goes with --preset", field="--presets")
    mode = mode or ("interval" if every else "weekly")
    data: dict = {"name": name, "exchange": exchange, "account": account or f"{exchange.lower()}:main",
                  "quote": quote, "mode": mode, "threshold": threshold, "band": band, "daily_at": daily_at,
                  "weekly_on": weekly_on, "calendar": calendar, "cooldown_minutes": cooldown_minutes,
                  "gate": gate, "min_notional": min_notional, "min_investment": min_investment,
                  "weights": dict(chosen.weights) if chosen else dict(parse_pairs(weights or "", option="--weights"))}
    if max_weight is not None:
        data["max_weight"] = max_weight
    if every is not None:
        data["every"] = every
    if paper_account is not None:
        data["paper_account"] = paper_account
    tax_table = _tax_table(tax_jurisdiction, tax_method=tax_method, marginal_rate=marginal_rate,
                           choose_lots=choose_lots, defer_short_term=defer_short_term, tax_budget=tax_budget,
                           use_allowance=use_allowance, harvest_losses=harvest_losses)
    if tax_table is not None:
        if no_tax:
            raise InputError("--no-tax removes the [tax] table: give it without --tax and the policy options",
                             field="--no-tax")
        data["tax"] = tax_table
    elif no_tax and not force:
        raise InputError("--no-tax goes with --force (a new basket has no [tax] table unless --tax is given)",
                         field="--no-tax")
    try:
        basket = basket_from_mapping(data, file="command line")
    except InputError as exc:
        if chosen is None or not (exc.field or "").startswith("weights"):
            raise
        raise InputError(f"preset {chosen.name}: {exc.reason}", file=chosen.file, line=chosen.line,
                         field=f"{chosen.name}.weights") from None
    if force:
        _refuse_weight_change_while_running(ctx, basket, file)
        basket = _keep_what_no_option_sets(basket, file, keep_tax=tax_table is None and not no_tax)
    # [extra] says where the weights came from: the preset (and its source), or nothing if typed in
    extra = {k: v for k, v in basket.extra.items() if k not in ("preset", "preset_source")}
    if chosen is not None:
        extra.update(preset=chosen.name, preset_source=chosen.source)
    basket = replace(basket, extra=extra)
    if markets_file is not None:
        from taxreport.exchanges.markets import markets_from_fixture

        validate_markets(basket, markets_from_fixture(markets_file), file=str(markets_file))
    if check_markets:
        from taxreport.errors import TaxreportError
        from taxreport.exchanges.base import NetworkError
        from taxreport.exchanges.ccxt_exchange import CcxtExchange

        try:
            live = CcxtExchange(basket.exchange, public_only=True).load_markets()
        except NetworkError as exc:
            raise TaxreportError(f"cannot load the markets of {basket.exchange} ({exc}); nothing saved") from None
        validate_markets(basket, live)
    path = save_basket(basket, file, overwrite=force)
    if fmt == "json":
        echo_json({"path": str(path), **basket_to_dict(basket)})
        return
    echo_line(f"saved basket {basket.name!r} to {path}")
    if chosen is not None:
        echo_line(f"weights from preset {chosen.name!r} (source: {chosen.source})")
    _print_basket(basket, path)


@click.command("presets")
@click.option("--presets", "presets_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Presets file [default: <config dir>/presets.toml].")
@format_option()
def presets(presets_file: Path | None, fmt: str) -> None:
    """List the risk-profile presets of your presets file (`basket create --preset NAME`).

    taxreport ships none: OKX's guide names risk profiles but we found no published OKX allocation
    for them. Each preset in the file gives its weights and where they come from.

    \b
    Examples:
      taxreport basket presets
      taxreport basket presets --presets ./my-presets.toml --format json
    """
    from taxreport.model.money import decimal_str
    from taxreport.rebalance.presets import load_presets

    path, found = load_presets(presets_file)
    if fmt == "json":
        echo_json({"path": str(path), "presets": [{"name": p.name, "weights": p.weights, "source": p.source,
                                                   "description": p.description} for p in found.values()]})
        return
    if not found:
        echo_line(f"no presets in {path}: taxreport ships none (no published OKX allocation to cite); write "
                  "your own there, e.g.\n  [conservative]\n  weights = { BTC = 60, ETH = 30, USDC = 10 }\n"
                  "  source = \"where these numbers come from\"")
        return
    print_table(f"{len(found)} preset(s) in {path}", [("name", "left"), ("weights", "left"), ("source", "left")],
                [(p.name, ", ".join(f"{a} {decimal_str(w)}%" for a, w in p.weights.items()), p.source)
                 for p in found.values()])


def _tax_table(jurisdiction: str | None, **policies: object) -> dict[str, object] | None:
    """The ``[tax]`` table the options describe (validated with the file's rules by ``basket_from_mapping``),
    or None when no tax option was given; a policy option without ``--tax`` is refused."""
    given = {k: v for k, v in policies.items() if v is not None}
    if jurisdiction is None:
        if given:
            first = next(iter(given)).replace("_", "-")
            raise InputError("a tax policy: name the country with --tax (e.g. --tax us)", field=f"--{first}")
        return None
    table: dict[str, object] = {"jurisdiction": jurisdiction}
    names = {"tax_method": "method"}
    for key, value in given.items():
        table[names.get(key, key)] = value
    return table


def _keep_what_no_option_sets(basket, file: Path | None, *, keep_tax: bool = True):  # noqa: ANN001, ANN202
    """``create --force`` over an existing file: the tables and keys that no option of ``create``
    can express (``[extra]``, ``api_url``, and ``[tax]`` unless ``--tax``/``--no-tax`` was given) are
    carried over from the old file, so re-creating a basket never silently drops its tax policy. An
    unreadable old file keeps nothing."""
    from dataclasses import replace

    from taxreport.rebalance.basket import baskets_dir, load_basket

    path = file or baskets_dir() / f"{basket.name}.toml"
    if not path.is_file():
        return basket
    try:
        old = load_basket(path)
    except InputError:
        return basket
    return replace(basket, tax=old.tax if keep_tax else basket.tax, extra=dict(old.extra), api_url=old.api_url)


def _refuse_weight_change_while_running(ctx: click.Context, basket, file: Path | None) -> None:  # noqa: ANN001
    """OKX does not let a running Smart Portfolio change its coins or ratios: stop it first. A
    member removed while running would be orphaned (not in status, not sold by stop)."""
    from taxreport.cli.common import open_ledger
    from taxreport.rebalance.basket import baskets_dir, load_basket
    from taxreport.rebalance.journal import running_accounts

    path = file or baskets_dir() / f"{basket.name}.toml"
    if not path.is_file():
        return
    try:
        old = load_basket(path)
    except InputError:
        return
    if dict(old.weights) == dict(basket.weights) and old.quote == basket.quote:
        return
    running = running_accounts(open_ledger(ctx), basket.name)
    if running:
        raise InputError(f"basket {basket.name!r} is running on {', '.join(running)}: its weights cannot change "
                         f"while it runs (as on OKX); stop it first (`taxreport basket stop --basket {basket.name} "
                         "... [--keep-assets]`), then create it again", field="--weights")


def _print_basket(basket, path: Path | None) -> None:  # noqa: ANN001
    from taxreport.model.money import decimal_str

    rows = [(asset, f"{decimal_str(w)}%", f"{asset}/{basket.quote}" if asset != basket.quote else "(cash)")
            for asset, w in basket.weights.items()]
    print_table(f"basket {basket.name}", [("asset", "left"), ("target", "right"), ("market", "left")], rows)
    band = (f"{decimal_str(basket.threshold)}pp" if basket.band == "absolute"
            else f"{decimal_str(basket.threshold)}% of each target")
    schedule = {"daily": f"daily at {basket.daily_at} UTC",
                "weekly": f"weekly on {basket.weekly_on} at {basket.daily_at} UTC",
                "threshold": f"when an asset drifts more than {band} (checked every "
                             f"{basket.cooldown_minutes} min at most)",
                "hybrid": ("checked weekly on " + basket.weekly_on if basket.calendar == "weekly"
                           else "checked daily") + f" at {basket.daily_at} UTC, trades only beyond {band}",
                "interval": f"every {basket.every} (slots from 00:00 UTC)",
                }[basket.mode]
    echo_line(f"exchange {basket.exchange}, account {basket.account}, quote {basket.quote}")
    echo_line(f"rebalances {schedule}")
    if basket.mode in ("daily", "weekly", "interval"):
        echo_line(f"gate: skips unless an asset drifts more than {decimal_str(basket.gate)}pp"
                  if basket.gate else "gate 0: every scheduled run trades")
    echo_line(f"minimum order {decimal_str(basket.min_notional)} {basket.quote}, minimum investment "
              f"{decimal_str(basket.min_investment)} {basket.quote}"
              + (f", max weight {decimal_str(basket.max_weight)}%" if basket.max_weight is not None else ""))
    if basket.tax is not None:
        t = basket.tax
        parts = [t.jurisdiction.upper() + (f" ({t.method})" if t.method else ""),
                 "chooses lots at each sale" if t.choose_lots else "",
                 f"defers lots turning long-term within {t.defer_short_term} days" if t.defer_short_term else "",
                 f"tax budget {decimal_str(t.tax_budget)}% of the value moved" if t.tax_budget is not None else "",
                 "uses the annual allowance" if t.use_allowance else "",
                 f"harvests losses over {decimal_str(t.harvest_losses)}%" if t.harvest_losses is not None else "",
                 f"marginal rate {decimal_str(t.marginal_rate)}" if t.marginal_rate is not None
                 else f"illustrative rate {decimal_str(t.rate)} (set --marginal-rate)"]
        echo_line("tax-aware: " + ", ".join(p for p in parts if p))
    if path is not None:
        echo_line(f"file: {path}")


@click.command("show")
@click.argument("name_or_file", required=False)
@click.option("--basket", "basket_opt", metavar="NAME_OR_FILE", help="Basket name or path to a .toml file.")
@format_option()
def show(name_or_file: str | None, basket_opt: str | None, fmt: str) -> None:
    """Show a basket's definition (weights, schedule, band, gate, minimums).

    \b
    Examples:
      taxreport basket show core
      taxreport basket show --basket ./baskets/core.toml --format json
    """
    from taxreport.rebalance.basket import basket_to_dict, resolve_basket

    which = basket_opt or name_or_file
    if not which:
        raise InputError("give a basket name or file (e.g. `taxreport basket show core`)", field="--basket")
    if basket_opt and name_or_file and basket_opt != name_or_file:
        raise InputError(f"two baskets given: {name_or_file!r} and {basket_opt!r}", field="--basket")
    basket, path = resolve_basket(which)
    if fmt == "json":
        echo_json({"path": str(path), **basket_to_dict(basket)})
        return
    _print_basket(basket, path)


@click.command("list")
@format_option()
@click.pass_context
def list_baskets(ctx: click.Context, fmt: str) -> None:
    """List saved baskets, with every venue each one runs on: state, invested, value (its own
    holdings at the prices seen by its last check) and last run. Broken files are listed with
    their error, not hidden.

    \b
    Examples:
      taxreport basket list
      taxreport basket list --format json
    """
    from taxreport.cli.common import open_ledger
    from taxreport.model.money import decimal_str, money_str
    from taxreport.rebalance.basket import baskets_dir, list_saved
    from taxreport.rebalance.journal import basket_accounts

    found = list_saved()
    ledger = open_ledger(ctx) if found else None
    items: list[dict[str, Any]] = []
    for path, b, err in found:
        if b is None:
            items.append({"name": path.stem, "path": str(path), "ok": False, "error": err, "venues": []})
            continue
        venues = basket_accounts(ledger, b)
        items.append({"name": b.name, "path": str(path), "ok": True, "error": None, "mode": b.mode,
                      "exchange": b.exchange, "account": b.account, "quote": b.quote, "weights": dict(b.weights),
                      "venues": venues})
    if fmt == "json":
        echo_json(items)
        return
    if not found:
        echo_line(f"no baskets in {baskets_dir()} (create one with `taxreport basket create core "
                  "--weights BTC=50,ETH=30,SOL=20`)")
        return
    rows: list[tuple[str, ...]] = []
    for it in items:
        if not it["ok"]:
            rows.append((it["name"], "INVALID", "", "", "", "", "", it["error"]))
            continue
        weights = ", ".join(f"{a} {decimal_str(w)}%" for a, w in it["weights"].items())
        if not it["venues"]:
            rows.append((it["name"], it["mode"], weights, "-", "new", "", "", ""))
        for v in it["venues"]:
            value = "" if v["value"] is None else f"{money_str(v['value'])} {it['quote']}"
            last = "" if v["last_run"] is None else f"{v['last_run']['time']:%Y-%m-%d %H:%M} {v['last_run']['status']}"
            rows.append((it["name"], it["mode"], weights, v["account"], v["state"], value, last, ""))
    from taxreport.cli.fit import Col, print_fitted

    # narrow terminals: no figure split (taxreport.cli.fit); the mode goes first; "problem" only when one has one
    problems = any(row[-1] for row in rows)
    print_fitted(f"{len(found)} baskets", [Col("name"), Col("mode", drop=1), Col("weights", wrap=True, unit=", "),
                                           Col("venue account"), Col("state"), Col("value", "right"),
                                           Col("last run (UTC)", wrap=True)]
                 + ([Col("problem", wrap=True)] if problems else []),
                 [row if problems else row[:-1] for row in rows])
    echo_line(f"basket files in {baskets_dir()}; values are the baskets' own holdings at the prices of their "
              "last check")
    bad = sum(1 for it in items if not it["ok"])
    if bad:
        echo_line(f"warning: {bad} basket file(s) are invalid and cannot be used (see above)", err=True)
