"""After-tax columns of a backtest: the replay's fills go through the REAL tax engine
(:func:`taxreport.gains.compute_gains_from_events`: legs, valuation, the jurisdiction's lot matching
and rules), tax year by tax year, and an ESTIMATED tax is derived from the engine's taxable gain.

What is exact and what is an estimate:

* **Realised gain, taxable gain, number of disposals** come from the tax engine, exactly as
  ``taxreport gains`` would compute them for a ledger holding these trades (the initial quote cash is
  a deposit with cost = its amount). Stablecoins are assets with lots (see
  :mod:`taxreport.model.legs`), so buying BTC with USDT is a disposal of USDT too; those disposals are
  counted (their gain is ~0 under the peg).
* **Valuation**: crypto at the candle closes in the quote asset; the quote stablecoin is taken as
  **1:1 with USD** (an assumed peg, stated in the notes). Non-USD jurisdictions need a USD rate to
  their currency: pass one with ``fx`` (a flat rate, e.g. ``{"GBP": Decimal("0.79")}``), stated in
  the notes as an assumption; without it the jurisdiction reports the missing rates.
* **Estimated tax** = sum over tax years of ``max(taxable gain, 0) x ILLUSTRATIVE_RATES[code]``: one
  flat, illustrative marginal rate per country (table below), NOT the user's rate. Real tax depends on
  income, brackets, holding periods, state/provincial tax and carried-forward losses. Labelled
  "estimate" everywhere it is shown.

Sources for the illustrative rates (checked for tax years 2024/2024-25):
US — IRS Topic 409 and Rev. Proc. 2023-34 (short-term gains taxed as ordinary income; 24% bracket);
UK — gov.uk "Capital Gains Tax: what you pay it on, rates and allowances" (24% higher rate from
30 Oct 2024); DE — § 23 EStG with § 32a EStG (private sales taxed at the personal rate; 42% bracket);
AU — ATO "Individual income tax rates" 2024-25 (30% bracket, applied to the net capital gain after the
discount the engine applies); CA — CRA "Capital gains" (taxable capital gain after inclusion, taxed at
the marginal rate; ~30% combined federal + provincial illustration).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping, Sequence

from taxreport.errors import InputError, TaxreportError
from taxreport.model.assets import STABLECOINS
from taxreport.model.events import Deposit, Event
from taxreport.rebalance.backtest import PriceGrid, StrategyRun

ZERO = Decimal(0)
# ESTIMATE ONLY: one illustrative marginal rate per jurisdiction (see the module docstring).
ILLUSTRATIVE_RATES: dict[str, Decimal] = {
    "us": Decimal("0.24"),
    "uk": Decimal("0.24"),
    "de": Decimal("0.42"),
    "au": Decimal("0.30"),
    "ca": Decimal("0.30"),
}


@dataclass
class TaxEstimate:
    jurisdiction: str
    currency: str
    years: list[dict[str, Any]] = field(default_factory=list)  # label, gain, taxable_gain, disposals, tax
    realised_gain: Decimal = ZERO
    taxable_gain: Decimal = ZERO
    disposals: int = 0
    crypto_disposals: int = 0  # disposals of non-stablecoin assets
    estimated_tax: Decimal = ZERO
    rate: Decimal = ZERO
    notes: list[str] = field(default_factory=list)
    error: str | None = None  # why it could not be computed (missing rates, no such jurisdiction…)


def year_labels(jurisdiction, start: datetime, end: datetime) -> list[tuple[str, datetime, datetime]]:  # noqa: ANN001
    """Tax years of ``jurisdiction`` overlapping ``[start, end)``: calendar (``2024``) or split (``2024-25``)."""
    out = []
    for year in range(start.year - 1, end.year + 1):
        for label in (str(year), f"{year}-{(year + 1) % 100:02d}"):
            try:
                lo, hi = jurisdiction.year_bounds(label)
            except InputError:
                continue
            if lo < end and hi > start:
                out.append((label, lo, hi))
    return out


def rate_rows(grid: PriceGrid, runs: Sequence[StrategyRun], fx: Mapping[str, Decimal] | None) -> list[tuple]:
    """Candle closes at the close time of every bar on which some run traded (plus bar 0), and the
    flat USD->currency rates the user assumed, as :class:`RateTable` rows."""
    bars = {0}
    index = {grid.close_time(i): i for i in range(len(grid.times))}
    for run in runs:
        bars.update(index[t.time] for t in run.trades if t.time in index)
    rows = []
    for i in sorted(bars):
        moment = grid.close_time(i)
        for symbol, close in zip(grid.symbols, grid.closes[i]):
            base, quote = symbol.split("/")
            rows.append((base, quote, moment, close, "backtest candles"))
        for currency, rate in (fx or {}).items():
            rows.append(("USD", currency.upper(), moment, rate, "assumed flat rate (--fx)"))
    return rows


def run_events(run: StrategyRun, grid: PriceGrid) -> list[Event]:
    """The ledger a run would have made: the initial quote cash (a deposit at cost) and its fills."""
    basket = run.strategy.basket
    events: list[Event] = [Deposit(time=grid.close_time(0), source="backtest", external_id=f"{run.label}:initial",
                                   account=basket.account, asset=basket.quote, quantity=run.initial,
                                   cost=run.initial, cost_currency=basket.quote)]
    # the fills and the lots identified at each sale (a +tax-aware run where the country allows it), in time
    # order, each record after the fills of its moment: a later rebalance only appends (the previews resume)
    events.extend(heapq.merge(run.trades, run.records, key=lambda e: e.time))
    return events


def estimate(run: StrategyRun, grid: PriceGrid, code: str, *, fx: Mapping[str, Decimal] | None = None,
             rows: list[tuple] | None = None, method: str | None = None) -> TaxEstimate:
    """The engine's gains per tax year for one run, and the illustrative tax estimate."""
    from taxreport.gains import GainsRequest, compute_request
    from taxreport.jurisdictions.base import get
    from taxreport.prices.rates import RateTable

    j = get(code)
    result = TaxEstimate(j.code, j.currency, rate=ILLUSTRATIVE_RATES.get(j.code, ZERO))
    basket = run.strategy.basket
    start = grid.close_time(0)
    events = run_events(run, grid)
    table = RateTable.from_rows(rows if rows is not None else rate_rows(grid, [run], fx))
    via = tuple(dict.fromkeys(["USD", "EUR", basket.quote]))
    peg = {basket.quote: "USD"} if basket.quote in STABLECOINS and basket.quote != "EURC" else {}
    end = grid.close_time(len(grid.times) - 1)
    try:
        for label, _lo, _hi in year_labels(j, start, end + (grid.step)):
            request = GainsRequest(jurisdiction=j.code, year=label, method=method, via=via, peg=peg)
            summary = compute_request(events, table, request)
            crypto = sum(1 for d in summary.disposals if d.asset not in STABLECOINS)
            tax = max(summary.taxable_gain, ZERO) * result.rate
            result.years.append({"year": label, "gain": summary.gain, "taxable_gain": summary.taxable_gain,
                                 "disposals": len(summary.disposals), "crypto_disposals": crypto,
                                 "estimated_tax": tax})
            result.realised_gain += summary.gain
            result.taxable_gain += summary.taxable_gain
            result.disposals += len(summary.disposals)
            result.crypto_disposals += crypto
            result.estimated_tax += tax
            for note in summary.notes:
                if note not in result.notes:
                    result.notes.append(note)
    except TaxreportError as exc:
        if j.currency != "USD" and not (fx and j.currency in {k.upper() for k in fx}):
            result.error = (f"no USD->{j.currency} rates: pass --fx {j.currency}=RATE "
                            f"(an assumed flat rate, e.g. --fx {j.currency}=0.8)")
        else:
            result.error = str(exc).splitlines()[0].rstrip(":")
        result.years.clear()
        result.realised_gain = result.taxable_gain = result.estimated_tax = ZERO
        result.disposals = result.crypto_disposals = 0
    for currency, rate in (fx or {}).items():
        result.notes.append(f"ASSUMED flat rate 1 USD = {rate} {currency.upper()} for every valuation (--fx)")
    result.notes.append(f"ESTIMATED tax: {result.rate * 100}% flat illustrative rate on the taxable gain of each "
                        "tax year; not your rate (income, brackets, holding periods and losses carried "
                        "forward change it)")
    return result
