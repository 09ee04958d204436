"""The gains options, declared once: the click options every tax command takes (``gains``, each
``export``) and the one function that turns their values into a :class:`taxreport.gains.GainsRequest`.

A flag added here reaches ``gains`` and every export at once; nothing else builds engine options.
"""

from __future__ import annotations

from typing import Any, Callable

import click

from taxreport.cli.common import option_group
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


def _pairs(values: tuple[str, ...], flag: str, *, upper: bool) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key.strip() or not val.strip():
            raise InputError(f"{v!r} is not KEY=VALUE", field=flag)
        out[key.strip().upper() if upper else key.strip()] = val.strip().upper() if upper else val.strip()
    return out


def gains_options(*, accounts: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the gains flags (``--account`` only when the command has no account flag of its own)."""
    opts = [
        click.option("--method", "-m", default=None, help="Lot method (fifo, lifo, hifo, specific, average; "
                     "allowed ones depend on the country). Default: the country's."),
        click.option("--currency", default=None, help="Tax currency (default: the country's, e.g. GBP for uk). "
                     "A country's allowance or threshold is only applied in its own currency."),
        click.option("--via", multiple=True, help="Intermediate currency for crossing rates, e.g. USD (repeatable)."),
        click.option("--peg", multiple=True, help="Assume a 1:1 peg, e.g. USDT=USD (only what you ask for; "
                     "repeatable)."),
        click.option("--rate-lookback", type=click.IntRange(0, 31), default=0, show_default=True,
                     help="Accept rates up to N days old when a day has none (e.g. ECB weekends)."),
        click.option("--universal", is_flag=True, help="One lot pool across all accounts (US before 2025)."),
        click.option("--universal-until", metavar="DATE",
                     help="One pool across accounts before DATE (local midnight), per account from then on, e.g. "
                          "2025-01-01 for the US transition (Rev. Proc. 2024-28)."),
        click.option("--allow-zero-cost", multiple=True, metavar="ASSET",
                     help="Give units sold without known lots a zero cost basis instead of failing (repeatable)."),
        click.option("--lots", "lots_file", type=click.Path(dir_okay=False),
                     help="Specific identification CSV (disposal,lot,quantity); use with --method specific."),
        click.option("--timezone", default=None, help="IANA zone for local dates (default: the country's)."),
        click.option("--option", "extra", multiple=True, metavar="KEY=VALUE",
                     help="Country option, e.g. form8949_reporting=none (US), losses_brought_forward=1200 (UK)."),
        click.option("--include-simulated", is_flag=True,  # events helper (issue #12)
                     help="Put simulated accounts (paper, local venue) back in; the report then says SIMULATED."),
    ]
    if accounts:
        opts.insert(1, click.option(
            "--account", "accounts", multiple=True,
            help="Report only disposals in this account (repeatable). Lots are matched over all accounts. "
                 "Refused for uk and ca, which pool per person (a disposal can mix accounts)."))

    return option_group(*opts)


GAINS_FLAGS = ("method", "accounts", "currency", "via", "peg", "rate_lookback", "universal", "universal_until",
               "allow_zero_cost", "lots_file", "timezone", "extra", "include_simulated")


def request_from_flags(jurisdiction: str, year: str, kw: dict[str, Any]):  # noqa: ANN201 - GainsRequest
    """The :class:`~taxreport.gains.GainsRequest` of the flag values ``kw`` (click's keyword arguments);
    every flag is checked here, so a bad one fails before any work."""
    from datetime import date
    from zoneinfo import available_timezones

    from taxreport.gains import GainsRequest
    from taxreport.jurisdictions.base import get
    from taxreport.jurisdictions.calendar import local_midnight_utc

    country = get(jurisdiction)
    if year.strip().lower() != "all":
        country.policy.tax_year.label(year)  # a year the country does not write is refused before the ledger is read
    method = (kw.get("method") or "").lower() or None
    timezone = kw.get("timezone") or None
    if timezone and timezone not in available_timezones():
        raise InputError(f"{timezone!r} is not an IANA time zone", field="--timezone")
    until = None
    if kw.get("universal_until"):
        try:
            day = date.fromisoformat(kw["universal_until"])
        except ValueError:
            raise InputError(f"{kw['universal_until']!r} is not a date (YYYY-MM-DD)",
                             field="--universal-until") from None
        until = local_midnight_utc(day, timezone or country.timezone)
    selections = None
    if kw.get("lots_file"):
        from taxreport.lots.selections import read_selections

        if method != "specific":
            raise InputError("--lots needs --method specific", field="--lots")
        selections = read_selections(kw["lots_file"])
    return GainsRequest(
        jurisdiction=country.code, year=year, method=method,
        accounts=tuple(kw.get("accounts") or ()), currency=check_currency(kw.get("currency")),
        via=tuple(v.strip().upper() for v in kw.get("via") or ()),
        peg=_pairs(tuple(kw.get("peg") or ()), "--peg", upper=True),
        rate_lookback_days=int(kw.get("rate_lookback") or 0), universal=bool(kw.get("universal")),
        universal_until=until, zero_cost_assets=tuple(a.strip().upper() for a in kw.get("allow_zero_cost") or ()),
        selections=selections, timezone=timezone,
        country_options=_pairs(tuple(kw.get("extra") or ()), "--option", upper=False),
        include_simulated=bool(kw.get("include_simulated")))  # events helper (issue #12)
