"""Crypto received as income (staking, interest, airdrops, rewards, mining…), reported **as income** per
country, beside the capital gains. The same coins also start a lot whose cost is the value taxed here
(the capital gains side is done by the lot engine from the same ``income`` events).

Each income event is valued in the tax currency at the moment it was received (the value the source
states, else the market value of the coins from the rate store). What each country does with it, and
its official source:

* **US** (``us``): ordinary income at fair market value when received. Rev. Rul. 2023-14: "the fair market
  value of the validation rewards received is includible in the taxpayer's gross income in the taxable
  year in which the taxpayer gains dominion and control"; Rev. Rul. 2019-24 (airdropped units: ordinary
  income when received with dominion and control); Notice 2014-21 Q&A-3 and Q&A-8; IRS virtual-currency
  FAQ Q&A 21-22 (basis = the fair market value included in income). Reported on Schedule 1 (Form 1040)
  line 8v ("Digital assets received as ordinary income not reported elsewhere") or Schedule C in a business.
* **UK** (``uk``): miscellaneous income (ITTOIA 2005 s687) when not a trade: HMRC Cryptoassets Manual
  CRYPTO21200 (staking), CRYPTO21150 (mining), CRYPTO21250 (airdrops: "Where airdrops are received
  without doing anything in return (for example, they are not related to any service or other
  conditions), they are not received as part of a trade … and will not be subject to Income Tax").
  Airdrops are therefore listed as **not income** here (state ``other`` if you did something for them).
* **DE** (``de``): Einkünfte aus sonstigen Leistungen, § 22 Nr. 3 EStG, at market value when received
  (BMF-Schreiben "Einzelfragen zur ertragsteuerrechtlichen Behandlung von bestimmten Kryptowerten" of
  10 May 2022, replaced by the letter of 6 March 2025: staking and lending rewards). § 22 Nr. 3 Satz 2
  EStG: such income "ist nicht einkommensteuerpflichtig, wenn sie weniger als 256 Euro im Kalenderjahr
  betragen" (a **Freigrenze**: at or above 256 € all of it is taxable). Airdrops without any
  Gegenleistung are not income under the BMF letter (listed as not income). Mining as a business is
  § 15 income: the figure is the same, the form is not (a note says so).
* **AU** (``au``): ordinary income at its market value in AUD when derived (ATO, "Staking rewards and
  airdrops", https://www.ato.gov.au/individuals-and-families/investments-and-assets/crypto-asset-investments/transactions-acquiring-and-disposing-of-crypto-assets/staking-rewards-and-airdrops:
  "staking rewards are ordinary income … at the time you derive them"; an established-token airdrop
  is ordinary income at its market value when received).
* **CA** (``ca``): income at fair market value when received: business income if carried on as a
  business, otherwise income from property / other income (CRA, "Guide for cryptocurrency users and tax
  professionals", https://www.canada.ca/en/revenue-agency/programs/about-canada-revenue-agency-cra/compliance/cryptocurrency-guide.html).
  All of it is reported as income here; which line it goes on is the taxpayer's call (a note says so).

Amounts are exact; rounded to the cent only when shown (:mod:`taxreport.model.money`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from taxreport.model.events import Event, Income
from taxreport.model.money import decimal_str, money_str
from taxreport.prices.rates import Pricer

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class IncomeRules:
    category: str  # what the country calls it
    source: str  # the official text
    not_income: frozenset[str] = frozenset()  # income types that are not income there
    threshold: Decimal = ZERO  # a Freigrenze: below it nothing is taxable, at or above it all is
    notes: tuple[str, ...] = ()


# Each country's policy names its entry (``Policy.income``); a new country may define its own IncomeRules.
RULES: dict[str, IncomeRules] = {
    "us": IncomeRules("ordinary income at fair market value when received (Schedule 1 line 8v, or Schedule C)",
                      "Rev. Rul. 2023-14; Rev. Rul. 2019-24; Notice 2014-21 Q&A-3, Q&A-8; IRS virtual-currency FAQ"),
    "uk": IncomeRules("miscellaneous income (ITTOIA 2005 s687), market value when received",
                      "HMRC Cryptoassets Manual CRYPTO21150, CRYPTO21200, CRYPTO21250",
                      not_income=frozenset({"airdrop"}),
                      notes=(("airdrops received without doing anything in return are not income (CRYPTO21250); "
                              "record one as income type 'other' if it was given for something"),)),
    "de": IncomeRules("sonstige Einkünfte, § 22 Nr. 3 EStG, market value when received",
                      "§ 22 Nr. 3 EStG; BMF-Schreiben of 10 May 2022 and 6 March 2025 on Kryptowerte",
                      not_income=frozenset({"airdrop"}), threshold=Decimal(256),
                      notes=(("Freigrenze 256 € per calendar year (§ 22 Nr. 3 Satz 2 EStG) covers all your § 22 Nr. 3 "
                              "income, not only crypto; at or above it all of it is taxable"),
                             "mining as a business is § 15 income (Gewerbebetrieb): same figure, another form")),
    "au": IncomeRules("ordinary income at market value in AUD when derived",
                      "ATO: Staking rewards and airdrops (crypto asset investments)"),
    "ca": IncomeRules("income at fair market value when received (business income, or other income)",
                      "CRA: Guide for cryptocurrency users and tax professionals",
                      notes=(("whether it is business income or income from property depends on your activity "
                              "(CRA guide); the amount is the same"),)),
}


@dataclass(frozen=True, slots=True)
class IncomeItem:
    time: datetime
    account: str
    asset: str
    quantity: Decimal
    income_type: str
    value: Decimal  # tax currency, unrounded
    is_income: bool
    ref: str


@dataclass
class IncomeReport:
    jurisdiction: str
    currency: str
    category: str
    source: str
    items: list[IncomeItem]
    total: Decimal  # all items counted as income
    not_income: Decimal  # items the country does not tax as income (e.g. UK airdrops)
    threshold: Decimal
    taxable: Decimal
    by_type: dict[str, Decimal] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def income_of_year(events: Iterable[Event], pricer: Pricer, *, jurisdiction: str, start: datetime,
                   end: datetime, rules: IncomeRules | None = None) -> IncomeReport:
    """Every income event with ``start <= time < end`` valued in ``pricer``'s currency (missing rates
    are collected by the pricer: call ``pricer.raise_if_missing()`` afterwards). ``rules``: the
    country's (its policy's ``income``), else this module's table for ``jurisdiction``."""
    rules = rules or RULES[jurisdiction]
    items: list[IncomeItem] = []
    for e in events:
        if type(e) is not Income or not start <= e.time < end:
            continue
        if e.value is not None and e.value_currency is not None:
            value = pricer.value(e.value_currency, e.value, e.time)
        else:
            value = pricer.value(e.asset, e.quantity, e.time)
        items.append(IncomeItem(e.time, e.account, e.asset, e.quantity, e.income_type, value,
                                e.income_type not in rules.not_income, e.natural_key))
    total = sum((i.value for i in items if i.is_income), ZERO)
    excluded = sum((i.value for i in items if not i.is_income), ZERO)
    by_type: dict[str, Decimal] = {}
    for i in items:
        if i.is_income:
            by_type[i.income_type] = by_type.get(i.income_type, ZERO) + i.value
    taxable = total if total >= rules.threshold else ZERO
    notes = list(rules.notes)
    if rules.threshold and 0 < total < rules.threshold:
        notes.append(f"below the Freigrenze of {money_str(rules.threshold)}: not taxable (if you have no other "
                     "such income)")
    return IncomeReport(jurisdiction, pricer.currency, rules.category, rules.source, items, total, excluded,
                        rules.threshold, taxable, dict(sorted(by_type.items())), notes)


def income_json(report: IncomeReport) -> dict[str, Any]:
    """The ``income`` section of ``gains --format json`` (amounts rounded to the cent here)."""
    return {
        "currency": report.currency, "category": report.category, "source": report.source,
        "total": money_str(report.total), "not_income": money_str(report.not_income),
        "threshold": money_str(report.threshold), "taxable": money_str(report.taxable),
        "by_type": {k: money_str(v) for k, v in report.by_type.items()},
        "items": [{"time": i.time, "account": i.account, "asset": i.asset, "quantity": decimal_str(i.quantity),
                   "type": i.income_type, "value": money_str(i.value), "income": i.is_income, "ref": i.ref}
                  for i in report.items],
        "notes": list(report.notes),
    }
