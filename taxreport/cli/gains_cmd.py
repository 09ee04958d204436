"""``taxreport gains``: the capital gains summary of one tax year, as a table or JSON.

Imports no pandas, ccxt, matplotlib or weasyprint (tests/test_gains_cli.py checks it)."""

from __future__ import annotations

from typing import Any

import click

from taxreport.cli.common import echo_json, format_option, open_ledger, print_table
from taxreport.errors import InputError


def check_currency(value: str | None) -> str | None:
    """``--currency``: a fiat code from :data:`~taxreport.model.assets.FIAT` or a stablecoin (both can have a
    rate route), upper-cased; None keeps the country's currency. Anything else is refused before any work."""
    from taxreport.model.assets import FIAT, STABLECOINS

    if value is None:
        return None
    code = value.strip().upper()
    if code in FIAT or code in STABLECOINS:
        return code
    raise InputError(f"{value!r} is not a currency to report in; use a fiat code ({', '.join(sorted(FIAT))}) "
                     f"or a stablecoin ({', '.join(sorted(STABLECOINS))})", field="--currency")


def _pairs(values: tuple[str, ...], flag: str) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key.strip() or not val.strip():
            raise InputError(f"{v!r} is not KEY=VALUE", field=flag)
        out[key.strip().upper() if flag == "--peg" else key.strip()] = val.strip().upper() if flag == "--peg" \
            else val.strip()
    return out


@click.command("gains")
@click.option("--jurisdiction", "-j", required=True, help="Country code: us, uk, de, au, ca.")
@click.option("--year", "-y", required=True,
              help="Tax year as the country writes it: 2024 (US, DE, CA) or 2024-25 (UK 6 Apr-5 Apr, AU 1 Jul-30 Jun).")
@click.option("--method", "-m", default=None, help="Lot method (fifo, lifo, hifo, specific, average; "
              "allowed ones depend on the country). Default: the country's.")
@click.option("--account", "accounts", multiple=True,
              help="Report only disposals in this account (repeatable). Lots are matched over all accounts. "
                   "Refused for uk and ca, which pool per person (a disposal can mix accounts).")
@click.option("--currency", default=None, help="Tax currency (default: the country's, e.g. GBP for uk).")
@click.option("--detail", is_flag=True, help="List every disposal with its matched lots.")
@click.option("--via", multiple=True, help="Intermediate currency for crossing rates, e.g. USD (repeatable).")
@click.option("--peg", multiple=True, help="Assume a 1:1 peg, e.g. USDT=USD (only what you ask for; repeatable).")
@click.option("--rate-lookback", type=click.IntRange(0, 31), default=0, show_default=True,
              help="Accept rates up to N days old when a day has none (e.g. ECB weekends).")
@click.option("--universal", is_flag=True, help="One lot pool across all accounts (US before 2025).")
@click.option("--universal-until", metavar="DATE",
              help="One pool across accounts before DATE (local midnight), per account from then on, e.g. "
                   "2025-01-01 for the US transition (Rev. Proc. 2024-28).")
@click.option("--allow-zero-cost", multiple=True, metavar="ASSET",
              help="Give units sold without known lots a zero cost basis instead of failing (repeatable).")
@click.option("--lots", "lots_file", type=click.Path(dir_okay=False),
              help="Specific identification CSV (disposal,lot,quantity); use with --method specific.")
@click.option("--timezone", default=None, help="IANA zone for local dates (default: the country's).")
@click.option("--option", "extra", multiple=True, metavar="KEY=VALUE",
              help="Country option, e.g. form8949_reporting=none (US).")
@format_option()
@click.pass_context
def gains(ctx: click.Context, jurisdiction: str, year: str, method: str | None, accounts: tuple[str, ...],
          currency: str | None, detail: bool, via: tuple[str, ...], peg: tuple[str, ...], rate_lookback: int,
          universal: bool, universal_until: str | None, allow_zero_cost: tuple[str, ...], lots_file: str | None, timezone: str | None,
          extra: tuple[str, ...], fmt: str) -> None:
    """Capital gains of one tax year: disposals, proceeds, cost, gains, losses, allowance, taxable gain.

    Every amount is in the tax currency, computed exactly and rounded to the cent only when shown.
    A missing exchange rate or selling more than is held is an error listing every gap.

    \b
    Examples:
      taxreport gains --jurisdiction us --year 2024
      taxreport gains --jurisdiction uk --year 2024-25 --detail
      taxreport gains -j de -y 2024 --via USD --format json
      taxreport gains -j us -y 2025 --method hifo --account kraken:main
      taxreport gains -j us -y 2025 --universal-until 2025-01-01
      taxreport gains -j us -y 2024 --peg USDT=USD --method specific --lots my-lots.csv
    """
    from zoneinfo import available_timezones

    from taxreport.gains import compute_gains

    currency = check_currency(currency)
    options: dict[str, Any] = dict(_pairs(extra, "--option"))
    if via:
        options["via"] = [v.strip().upper() for v in via]
    if peg:
        options["peg"] = _pairs(peg, "--peg")
    if rate_lookback:
        options["rate_lookback_days"] = rate_lookback
    if universal or universal_until:
        options["scope"] = "universal"
    if universal_until:
        from datetime import date

        from taxreport.jurisdictions.base import get
        from taxreport.jurisdictions.calendar import local_midnight_utc

        try:
            day = date.fromisoformat(universal_until)
        except ValueError:
            raise InputError(f"{universal_until!r} is not a date (YYYY-MM-DD)", field="--universal-until") from None
        options["universal_until"] = local_midnight_utc(day, timezone or get(jurisdiction).timezone)
    if allow_zero_cost:
        options["zero_cost_assets"] = [a.strip().upper() for a in allow_zero_cost]
    if lots_file:
        from taxreport.lots.selections import read_selections

        options["selections"] = read_selections(lots_file)
        if (method or "").lower() != "specific":
            raise InputError("--lots needs --method specific", field="--lots")
    if timezone:
        if timezone not in available_timezones():
            raise InputError(f"{timezone!r} is not an IANA time zone", field="--timezone")
        options["timezone"] = timezone
    summary = compute_gains(open_ledger(ctx), jurisdiction=jurisdiction, year=year,
                            method=method.lower() if method else None, accounts=list(accounts) or None,
                            currency=currency, options=options)
    data = summary_json(summary)
    if fmt == "json":
        echo_json(data)
        return
    _print(data, detail)


def _money(value: Any) -> Any:
    from decimal import Decimal

    from taxreport.model.money import money_str

    if isinstance(value, Decimal):
        return money_str(value)
    if isinstance(value, dict):
        return {k: (str(int(v)) if k == "count" else _money(v)) for k, v in value.items()}
    return value


def summary_json(summary) -> dict[str, Any]:  # noqa: ANN001 - YearSummary
    """The ``--format json`` document (amounts rounded to the cent here, quantities exact)."""
    from taxreport.model.money import decimal_str, money_str

    return {
        "jurisdiction": summary.jurisdiction, "currency": summary.currency, "method": summary.method,
        "year": summary.year, "year_start": summary.year_start, "year_end": summary.year_end,
        "proceeds": money_str(summary.proceeds), "cost": money_str(summary.cost), "gain": money_str(summary.gain),
        "gains": money_str(summary.gains), "losses": money_str(summary.losses),
        "allowance": money_str(summary.allowance), "taxable_gain": money_str(summary.taxable_gain),
        "breakdown": _money(summary.breakdown),
        "disposals": [{
            "time": d.time, "account": d.account, "asset": d.asset, "quantity": decimal_str(d.quantity),
            "proceeds": money_str(d.proceeds), "cost": money_str(d.cost), "gain": money_str(d.gain),
            "term": d.term, "rule": d.rule, "exempt": d.exempt, "ref": d.event_key, "role": d.role,
            **({"adjustment": money_str(d.adjustment), "adjustment_code": d.adjustment_code}
               if d.adjustment or d.adjustment_code else {}),
            "lots": [{"quantity": decimal_str(m.quantity), "cost": money_str(m.cost), "acquired_at": m.acquired_at,
                      "account": m.account, "lot": m.lot_ref, "rule": m.rule} for m in d.lots],
        } for d in summary.disposals],
        "notes": list(summary.notes),
    }


def _print(data: dict[str, Any], detail: bool) -> None:
    cur = data["currency"]
    title = f"{data['jurisdiction'].upper()} capital gains, tax year {data['year']}, {cur}, method {data['method']}"
    rows = [("year start (UTC)", data["year_start"].isoformat()),
            ("year end (UTC, exclusive)", data["year_end"].isoformat()),
            ("disposals", str(len(data["disposals"]))), ("proceeds", data["proceeds"]), ("cost", data["cost"]),
            ("gains", data["gains"]), ("losses", data["losses"]), ("net gain", data["gain"]),
            ("allowance / threshold", data["allowance"]), ("taxable gain", data["taxable_gain"])]
    for key, value in data["breakdown"].items():
        if isinstance(value, dict) and "gain" in value:
            rows.append((f"{key}: proceeds / cost / gain ({value.get('count', '')} rows)",
                         f"{value['proceeds']} / {value['cost']} / {value['gain']}"))
        elif not isinstance(value, dict):
            rows.append((key, str(value)))
        else:
            rows.append((key, ", ".join(f"{k}={v}" for k, v in value.items())))
    print_table(title, [("", "left"), (cur, "right")], rows)
    if detail:
        drows = []
        for d in data["disposals"]:
            head = [d["time"], d["account"], d["asset"], d["quantity"], d["proceeds"], d["cost"], d["gain"],
                    d["term"] or d["rule"], d["ref"]]
            for i, m in enumerate(d["lots"] or [{}]):
                lot = (f"{m['quantity']} @ {m['cost']} {m['rule']}"
                       f"{' ' + str(m['acquired_at'].date()) if m.get('acquired_at') else ''} "
                       f"{m['lot'] or '(pool)'}") if m else ""
                drows.append((head if i == 0 else [""] * len(head)) + [lot])
        print_table("Disposals and matched lots", [
            ("time", "left"), ("account", "left"), ("asset", "left"), ("quantity", "right"),
            ("proceeds", "right"), ("cost", "right"), ("gain", "right"), ("term/rule", "left"), ("ref", "left"),
            ("lots", "left")], drows)
    for note in data["notes"]:
        click.echo(f"note: {note}")
