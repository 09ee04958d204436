"""Tax-aware rebalancing: a basket's ``[tax]`` settings and the tax policies, as PURE functions.

Nothing here computes a gain: gains, terms and exemptions come from the real tax engine
(:mod:`taxreport.rebalance.tax_preview` runs it); the holding-period test is the engine's own
(:func:`taxreport.jurisdictions.holding.held_more_than_one_year`), the DE Freigrenze and the UK
annual exempt amount are read from their country modules. These functions only DECIDE from those
figures; :func:`taxreport.rebalance.tax_plan.tax_adjusted_plan` applies them to a plan.

The basket TOML's ``[tax]`` table (every key optional but ``jurisdiction``; each policy off by default)::

    [tax]
    jurisdiction = "us"          # us | uk | de | au | ca: whose rules the preview and policies follow
    method = "fifo"              # lot method where the country allows a choice (default: the country's)
    marginal_rate = 0.24         # your marginal rate, for the ESTIMATED tax (default: illustrative per country)
    defer_short_term = 30        # days: do not sell lots that turn long-term (US/AU) / tax-free (DE) within N days
    tax_budget = 1.0             # percent: shrink a rebalance whose estimated tax exceeds X% of the value it moves
    use_allowance = true         # UK/DE: trade within the allowance / below the Freigrenze, warn before crossing it
    harvest_losses = 20          # percent: lots down more than Y% are sold and rebought where no rule forbids it
    choose_lots = true           # US/AU: identify the lots that minimise tax for each sale (specific identification)

Sources of the rules the policies respect:

* **Wash-sale / bed-and-breakfast rules** (:data:`HARVEST_RULES`): UK — TCGA92 s106A(5) as applied to
  cryptoassets (HMRC Cryptoassets Manual CRYPTO22200): tokens reacquired within 30 days are matched
  with the disposal, so no loss is realised; CA — "superficial loss", ITA s54 and s40(2)(g)(i)
  (CRA: bought back within 30 days before or after, the loss is denied); AU — ATO TR 2008/1 and the
  ATO's crypto guidance on wash sales (Part IVA may cancel the tax benefit); US — IRC §1091 applies to
  "stock or securities", not to digital assets that are not securities (no rule today); DE — no
  statutory wash-sale rule in § 23 EStG (a harvested loss only offsets § 23 gains, § 23 Abs. 3 Satz 7).
* **Specific identification** (:data:`CHOOSE_LOTS`): US — Treas. Reg. §1.1012-1(j) and the IRS
  virtual-currency FAQ Q39-Q41 (identify the units at the time of sale, per account from 2025);
  AU — ATO "Working out your capital gain" for crypto: you may identify which units you dispose of
  if records allow (else FIFO is a reasonable approach).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Mapping, Sequence

from taxreport.errors import InputError
from taxreport.jurisdictions.holding import held_more_than_one_year

ZERO, ONE, HUNDRED = Decimal(0), Decimal(1), Decimal(100)

# Countries with a holding period that changes the tax: a lot held more than one year is long-term
# (US IRC §1222), tax-free (DE § 23 Abs. 1 Satz 1 Nr. 2 EStG) or eligible for the 50% discount (AU ITAA 1997 s115-25).
HOLDING_PERIOD = frozenset({"us", "de", "au"})
# Countries where the taxpayer may choose which lots a sale consumes (sources in the module doc).
CHOOSE_LOTS = frozenset({"us", "au"})
# country -> the rule that defeats a sell-and-rebuy loss harvest (None: no such rule today).
HARVEST_RULES: dict[str, str | None] = {
    "us": None,
    "de": None,
    "uk": "UK 30-day rule (TCGA92 s106A(5), CRYPTO22200): a rebuy within 30 days is matched with the sale, "
          "so no loss is realised",
    "ca": "Canadian superficial-loss rule (ITA s54, s40(2)(g)(i)): a rebuy within 30 days denies the loss",
    "au": "ATO wash-sale guidance (TR 2008/1, Part IVA ITAA 1936): a sale and rebuy for the tax benefit "
          "may have the loss cancelled",
}
HARVEST_DEFAULT = Decimal(20)  # +tax-aware backtest: harvest lots down more than 20% where allowed (US)
_KEYS = ("jurisdiction", "method", "marginal_rate", "defer_short_term", "tax_budget", "use_allowance",
         "harvest_losses", "choose_lots")


@dataclass(frozen=True)
class TaxSettings:
    """A basket's ``[tax]`` table (see the module doc)."""

    jurisdiction: str
    method: str | None = None
    marginal_rate: Decimal | None = None  # None: backtest_tax.ILLUSTRATIVE_RATES[jurisdiction]
    defer_short_term: int | None = None  # days
    tax_budget: Decimal | None = None  # percent of the value moved
    use_allowance: bool = False
    harvest_losses: Decimal | None = None  # percent below cost
    choose_lots: bool = False

    @property
    def rate(self) -> Decimal:
        """``marginal_rate``, else the backtest's ILLUSTRATIVE rate for the country (an estimate, labelled)."""
        from taxreport.rebalance.backtest_tax import ILLUSTRATIVE_RATES

        return self.marginal_rate if self.marginal_rate is not None else ILLUSTRATIVE_RATES.get(self.jurisdiction, ZERO)

    @property
    def rate_is_default(self) -> bool:
        return self.marginal_rate is None


def tax_aware_defaults(code: str, base: TaxSettings | None = None) -> TaxSettings:
    """The policies a ``+tax-aware`` backtest switches on when the basket sets none, per country:
    a tax budget of 0.5% of the value moved everywhere; tax-minimising lot choice where the country
    allows it (US, AU); defer lots turning long-term/tax-free within 30 days (US, DE, AU); the allowance
    where there is one (UK, DE); loss harvesting of lots down more than 20% where lots can be chosen and
    no wash-sale rule applies (US)."""
    b = base if base is not None and base.jurisdiction == code else TaxSettings(code)
    return TaxSettings(
        jurisdiction=code, method=b.method, marginal_rate=b.marginal_rate,
        defer_short_term=b.defer_short_term if b.defer_short_term is not None else (30 if code in HOLDING_PERIOD else None),
        tax_budget=b.tax_budget if b.tax_budget is not None else Decimal("0.5"),
        use_allowance=b.use_allowance or code in ("uk", "de"),
        harvest_losses=b.harvest_losses if b.harvest_losses is not None else (
            HARVEST_DEFAULT if code in CHOOSE_LOTS and HARVEST_RULES.get(code) is None else None),
        choose_lots=b.choose_lots or code in CHOOSE_LOTS)


def parse_tax_table(data: Any, fail: Any) -> TaxSettings | None:
    """Validate a basket's ``[tax]`` table; ``fail(field, reason)`` builds the caller's InputError
    (naming file and line). None when the table is absent."""
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise fail("tax", "must be a table: [tax] with jurisdiction = \"us\" …")
    unknown = [k for k in data if k not in _KEYS]
    if unknown:
        raise fail(f"tax.{unknown[0]}", f"unknown key (allowed: {', '.join(_KEYS)})")
    from taxreport.jurisdictions.base import codes, get

    code = data.get("jurisdiction")
    if not isinstance(code, str) or code.strip().lower() not in codes():
        raise fail("tax.jurisdiction", f"must be one of {', '.join(codes())}, got {code!r}")
    code = code.strip().lower()
    method = data.get("method")
    if method is not None:
        allowed = get(code).methods
        if not isinstance(method, str) or method.strip().lower() not in allowed:
            raise fail("tax.method", f"must be one of {', '.join(allowed)} for {code}, got {method!r}")
        method = method.strip().lower()

    def number(key: str, lo: Decimal, hi: Decimal) -> Decimal | None:
        if key not in data:
            return None
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            raise fail(f"tax.{key}", f"must be a number, got {value!r}")
        try:
            number_ = Decimal(str(value))
        except ArithmeticError:
            raise fail(f"tax.{key}", f"must be a number, got {value!r}") from None
        if not number_.is_finite() or not lo <= number_ <= hi:
            raise fail(f"tax.{key}", f"must be between {lo} and {hi}, got {value!r}")
        return number_

    def flag(key: str) -> bool:
        value = data.get(key, False)
        if not isinstance(value, bool):
            raise fail(f"tax.{key}", f"must be true or false, got {value!r}")
        return value

    defer = data.get("defer_short_term")
    if defer is not None and (isinstance(defer, bool) or not isinstance(defer, int) or not 1 <= defer <= 366):
        raise fail("tax.defer_short_term", f"must be a whole number of days from 1 to 366, got {defer!r}")
    if defer is not None and code not in HOLDING_PERIOD:
        raise fail("tax.defer_short_term", f"{code} has no holding period that changes the tax (only "
                                            f"{', '.join(sorted(HOLDING_PERIOD))})")
    choose = flag("choose_lots")
    if choose and code not in CHOOSE_LOTS:
        raise fail("tax.choose_lots", f"{code} does not let you choose lots (only {', '.join(sorted(CHOOSE_LOTS))})")
    return TaxSettings(jurisdiction=code, method=method, marginal_rate=number("marginal_rate", ZERO, ONE),
                       defer_short_term=defer, tax_budget=number("tax_budget", ZERO, HUNDRED),
                       use_allowance=flag("use_allowance"), harvest_losses=number("harvest_losses", ZERO, HUNDRED),
                       choose_lots=choose)


def tax_table_toml(t: TaxSettings) -> list[str]:
    """The ``[tax]`` table's TOML lines (``parse_tax_table`` reads them back to the same settings)."""
    lines = ["[tax]", f"jurisdiction = \"{t.jurisdiction}\""]
    if t.method:
        lines.append(f"method = \"{t.method}\"")
    if t.marginal_rate is not None:
        lines.append(f"marginal_rate = \"{t.marginal_rate}\"")
    if t.defer_short_term is not None:
        lines.append(f"defer_short_term = {t.defer_short_term}")
    if t.tax_budget is not None:
        lines.append(f"tax_budget = \"{t.tax_budget}\"")
    if t.use_allowance:
        lines.append("use_allowance = true")
    if t.harvest_losses is not None:
        lines.append(f"harvest_losses = \"{t.harvest_losses}\"")
    if t.choose_lots:
        lines.append("choose_lots = true")
    return lines


# ------------------------------------------------------------------------------------ the policies

@dataclass(frozen=True)
class HeldLot:
    """An open lot as the engine reports it (tax currency), for the policies."""

    lot_ref: str | None
    acquired: date | None  # local date in the country's zone; None for a pool (UK s104, CA ACB)
    quantity: Decimal
    cost: Decimal  # total cost of these units, tax currency

    @property
    def unit_cost(self) -> Decimal:
        return self.cost / self.quantity if self.quantity else ZERO


def turns_long_within(acquired: date | None, today: date, days: int) -> bool:
    """``defer-short-term N``: a lot that is short-term (not held more than one year) today but is
    held more than one year if sold ``days`` days later (the engine's own holding-period test)."""
    if acquired is None:
        return False
    return (not held_more_than_one_year(acquired, today)
            and held_more_than_one_year(acquired, today + timedelta(days=days)))


def deferrable_quantity(lots: Sequence[HeldLot], today: date, days: int) -> Decimal:
    """Units among ``lots`` (the ones a sale would consume) that turn long-term/tax-free within ``days``."""
    return sum((lot.quantity for lot in lots if turns_long_within(lot.acquired, today, days)), ZERO)


def band_of(basket: Any) -> Decimal:
    """The drift (pp) a basket tolerates: the gate of a daily/weekly basket, else its threshold band."""
    return basket.gate if basket.mode in ("daily", "weekly") else basket.threshold


def tax_budget_factor(estimated_tax: Decimal, moved: Decimal, budget_pct: Decimal,
                      max_drift: Decimal, band: Decimal) -> tuple[Decimal, str | None]:
    """``tax-budget X``: the fraction ``k`` (0..1) of the planned trades to keep, and why.

    Within budget (``estimated_tax <= X% x moved``): ``k = 1``. Over budget: skip (``k = 0``) when every
    member is inside the band (nothing forces a trade); else shrink so the largest drift lands at HALF the
    band instead of on target, ``k = 1 - (band/2) / max_drift`` (scaling every leg by ``k`` scales every
    drift by ``1 - k``): back inside the band with room, so the next check does not trade again at once.
    """
    if moved <= 0 or estimated_tax <= budget_pct / HUNDRED * moved:
        return ONE, None
    why = (f"estimated tax {estimated_tax:.2f} is {estimated_tax / moved * HUNDRED:.2f}% of the "
           f"{moved:.2f} moved, above the {budget_pct}% tax budget")
    if max_drift <= band:
        return ZERO, why + ": skipped (every member is inside the band)"
    k = ONE - band / 2 / max_drift
    return k, why + f": trades shrunk to {k * HUNDRED:.2f}% (largest drift left at half the {band}pp band)"


def partial_weights(current: Mapping[str, Decimal], target: Mapping[str, Decimal], k: Decimal) -> dict[str, Decimal]:
    """Target weights that make the planner trade ``k`` of the way from ``current`` to ``target``
    (both percent, summing to 100): ``w' = current + k (target - current)``, which also sums to 100."""
    return {a: current[a] + k * (target[a] - current[a]) for a in target}


@dataclass(frozen=True)
class AllowanceCheck:
    allowance: Decimal  # UK annual exempt amount / DE Freigrenze (tax currency)
    before: Decimal  # the year's gain counted against it before the plan
    after: Decimal  # … with the plan's sales
    headroom: Decimal  # allowance - after (negative: over)
    warning: str | None


def allowance_check(code: str, year: str, before: Decimal, after: Decimal) -> AllowanceCheck | None:
    """``use-allowance``: UK annual exempt amount (TCGA92 s3) / DE Freigrenze (§ 23 Abs. 3 Satz 5
    EStG) headroom for the year, and a warning when the plan's sales cross it. DE is a threshold, not
    an allowance: reaching it makes the WHOLE year's gain taxable. None for other countries."""
    if code == "uk":
        from taxreport.jurisdictions.uk import annual_exempt_amount

        amount = annual_exempt_amount(year)
        warning = None
        if before <= amount < after:
            warning = (f"this plan takes the {year} net gain to {after:.2f}, over the £{amount} annual exempt "
                       f"amount (TCGA92 s3): {after - amount:.2f} becomes taxable")
        return AllowanceCheck(amount, before, after, amount - after, warning)
    if code == "de":
        from taxreport.jurisdictions.de import freigrenze

        amount = freigrenze(int(year))
        warning = None
        if before < amount <= after:
            warning = (f"this plan takes the {year} § 23 gain to {after:.2f}, at or above the €{amount} "
                       f"Freigrenze (§ 23 Abs. 3 Satz 5 EStG): the WHOLE {after:.2f} becomes taxable")
        return AllowanceCheck(amount, before, after, amount - after, warning)
    return None


@dataclass(frozen=True)
class HarvestDecision:
    allowed: bool
    lots: tuple[HeldLot, ...]  # lots down more than the threshold
    loss: Decimal  # the loss selling them would realise (positive), tax currency
    reason: str


def harvest_losses(code: str, lots: Sequence[HeldLot], price: Decimal, threshold_pct: Decimal) -> HarvestDecision:
    """``harvest-losses Y``: the lots worth more than ``Y%`` less than their cost at ``price`` (tax
    currency per unit), and whether a sell-and-rebuy may realise that loss in ``code``
    (:data:`HARVEST_RULES`: refused, naming the rule, where one applies)."""
    down = tuple(lot for lot in lots if lot.quantity > 0 and lot.cost > 0
                 and (lot.cost - lot.quantity * price) / lot.cost * HUNDRED > threshold_pct)
    loss = sum((lot.cost - lot.quantity * price for lot in down), ZERO)
    if code not in HARVEST_RULES:
        raise InputError(f"no loss-harvesting rule on file for {code!r}", field="tax.harvest_losses")
    rule = HARVEST_RULES[code]
    if rule is not None:
        return HarvestDecision(False, down, loss, f"refused: {rule}")
    if not down:
        return HarvestDecision(False, down, ZERO, f"no lot is down more than {threshold_pct}%")
    return HarvestDecision(True, down, loss, "allowed: no wash-sale rule applies to crypto in " + code.upper())


def tax_minimising_selection(lots: Sequence[HeldLot], quantity: Decimal, price: Decimal,
                             today: date) -> list[tuple[str, Decimal]]:
    """US/AU specific identification that minimises the tax of selling ``quantity`` at ``price``
    (tax currency per unit): losses first (largest loss per unit first), then long-term lots (US lower
    rate, AU 50% discount) with the highest basis, then short-term lots with the highest basis.
    Returns ``[(lot_ref, units)]`` in the order to take them (what ``--lots`` would name)."""

    def key(lot: HeldLot) -> tuple[int, Decimal]:
        if lot.unit_cost > price:
            return (0, -lot.unit_cost)
        long_ = lot.acquired is not None and held_more_than_one_year(lot.acquired, today)
        return (1 if long_ else 2, -lot.unit_cost)

    out: list[tuple[str, Decimal]] = []
    left = quantity
    for lot in sorted((lot for lot in lots if lot.lot_ref and lot.quantity > 0), key=key):
        if left <= 0:
            break
        take = min(left, lot.quantity)
        out.append((str(lot.lot_ref), take))
        left -= take
    if left > 0:
        raise InputError(f"only {quantity - left} units held in the lots, {quantity} to sell", field="quantity")
    return out


def tax_method(strategy: Any, code: str, method: str | None) -> str | None:
    """The lot method the tax engine uses for a backtest run: ``--method`` when given; for a
    ``+tax-aware`` run where the country lets you choose lots (:data:`CHOOSE_LOTS`), ``specific``: the
    lots its replay identified at each sale (lots.identified records, as ``rebalance run`` writes them);
    else the country's default."""
    if method or not getattr(strategy, "tax_aware", False) or code not in CHOOSE_LOTS:
        return method
    return "specific"


def final_max_drift(run: Any, grid: Any) -> Decimal | None:
    """Largest |weight - target| (pp) of a backtest run at its last bar, as the planner measures it."""
    from taxreport.rebalance.planner import asset_rows

    if not run.positions:
        return None
    basket = run.strategy.basket
    _, qty, cash = run.positions[-1]
    assets = [s.split("/")[0] for s in grid.symbols]
    balances = dict(zip(assets, qty))
    balances[basket.quote] = balances.get(basket.quote, ZERO) + cash
    try:
        rows, _ = asset_rows(basket, balances, dict(zip(assets, grid.closes[-1])))
    except InputError:
        return None
    return max(abs(r.drift) for r in rows)
