"""The tax-aware rebalance (taxreport.rebalance.tax_plan.tax_adjusted_plan): each policy CHANGES the trades
a basket sends, through the real tax engine. Every expected figure is worked out by hand in the comments,
with the rule's official source."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D

from taxreport.exchanges.paper import default_markets
from taxreport.model.events import Deposit, Trade
from taxreport.rebalance.planner import order_leg, plan
from taxreport.rebalance.tax_plan import tax_adjusted_plan
from taxreport.rebalance.tax_policy import TaxSettings
from taxreport.rebalance.types import Basket

MARKETS = default_markets(["BTC", "ETH"])


def at(day: str) -> datetime:
    return datetime.fromisoformat(day + "T12:00:00").replace(tzinfo=timezone.utc)


def basket(tax: TaxSettings, gate: str = "3") -> Basket:
    return Basket(name="t", exchange="okx", account="okx:main", quote="USDT", weights={"BTC": D(50), "ETH": D(50)},
                  gate=D(gate), tax=tax)


def trades(rows: list[tuple[str, str, str, str, str]]) -> list:
    """A USDT deposit, then (day, side, asset, quantity, price) trades against USDT, no fees."""
    out: list = [Deposit(time=at("2023-01-02"), source="t", external_id="dep", account="okx:main", asset="USDT",
                         quantity=D(1_000_000), cost=D(1_000_000), cost_currency="USDT")]
    for n, (day, side, asset, qty, price) in enumerate(rows):
        out.append(Trade(time=at(day), source="t", external_id=f"x{n}", account="okx:main", side=side, base=asset,
                         quote="USDT", quantity=D(qty), price=D(price)))
    return out


def rates(rows: list[tuple[str, str, str]], fx: dict[str, str] | None = None) -> list[tuple]:
    out = [(asset, "USDT", at(day), D(price), "test") for day, asset, price in rows]
    for cur, rate in (fx or {}).items():
        out += [("USD", cur, at(day), D(rate), "test") for day in {"2023-01-02", *(day for day, _, _ in rows)}]
    return out


def adjusted(b: Basket, balances: dict[str, str], prices: dict[str, str], events: list, table: list, now: str,
             fee: str = "0", fx: dict[str, D] | None = None):  # noqa: ANN201
    held = {k: D(v) for k, v in balances.items()}
    price = {k: D(v) for k, v in prices.items()}

    def replan(nb: Basket):  # noqa: ANN202
        return plan(nb, held, price, MARKETS, fee_rate=D(fee))

    def leg(asset: str, side: str, quantity: D):  # noqa: ANN202
        return order_leg(b, MARKETS, price, asset, side, quantity, fee_rate=D(fee))

    return tax_adjusted_plan(events, table, replan(b), b, at(now), replan=replan, make_leg=leg, fee_rate=D(fee), fx=fx)


def test_defer_short_term_cuts_the_sale_of_lots_turning_long_term() -> None:
    # US. 1 BTC bought 20 Jan 2024 at 40,000; 10 ETH at 4,000. On 10 Jan 2025 BTC is 60,000: BTC 60,000 +
    # ETH 40,000 = 100,000, weights 60/40 against 50/50 (drift 10pp, weekly gate 3pp). The full plan sells
    # 10,000 / 60,000 = 0.16666666 BTC (truncated to the 1E-8 step), all from the 2024-01-20 lot, which is
    # short-term today and long-term from 21 Jan 2025 (held MORE than one year, IRC §1222; Pub. 544): inside
    # defer_short_term = 30 days, so every unit is deferrable. Cut = min(9.9999996pp deferrable, 10pp
    # drift, 3pp band) = 3pp: BTC's goal 53%, ETH's 47% (the only buy, 10pp short, takes the whole 3pp).
    # The sale becomes 7,000 / 60,000 = 0.11666666 BTC; its short-term gain 0.11666666 x 20,000 = 2,333.3332.
    events = trades([("2024-01-20", "buy", "BTC", "1", "40000"), ("2024-01-20", "buy", "ETH", "10", "4000")])
    table = rates([("2024-01-20", "BTC", "40000"), ("2024-01-20", "ETH", "4000")])
    b = basket(TaxSettings("us", defer_short_term=30))
    taxed = adjusted(b, {"BTC": "1", "ETH": "10", "USDT": "0"}, {"BTC": "60000", "ETH": "4000"}, events, table,
                     "2025-01-10")
    assert [(o.side, o.asset, o.quantity) for o in taxed.full.orders][0] == ("sell", "BTC", D("0.16666666"))
    sells = [(o.asset, o.quantity) for o in taxed.plan.orders if o.side == "sell"]
    assert sells == [("BTC", D("0.11666666"))]
    assert taxed.changed and taxed.preview.error is None
    assert taxed.preview.realised_gain == D("0.11666666") * 20000 == D("2333.3332")
    [d] = [d for d in taxed.decisions if d.policy == "defer_short_term"]
    assert (d.action, d.asset) == ("deferred", "BTC") and "cut by 3.00pp" in d.reason and "IRC §1222" in d.reason
    # BTC ends 53% (3pp over, on the band edge), ETH 47%: the basket is still inside its band
    assert abs(taxed.drift_after - D(3)) < D("0.001")
    # without the policy the same inputs trade the full plan
    plain = adjusted(basket(TaxSettings("us")), {"BTC": "1", "ETH": "10", "USDT": "0"},
                     {"BTC": "60000", "ETH": "4000"}, events, table, "2025-01-10")
    assert not plain.changed and plain.decisions == []


def test_use_allowance_de_keeps_the_year_below_the_freigrenze() -> None:
    # DE, 1 USD = 0.9 EUR every day. 1.3 BTC bought 2 Jan 2025 at 58,000; 0.1 BTC sold 1 Feb 2025 at 63,000:
    # gain 0.1 x 5,000 x 0.9 = 450 EUR (held < 1 year: taxable, § 23 Abs. 1 Satz 1 Nr. 2 EStG). On 1 Mar 2025,
    # BTC 60,000: 1.2 BTC = 72,000, 7 ETH at 4,000 = 28,000: weights 72/28, drift 22pp; the gate is 10pp.
    # The full plan sells 22,000 / 60,000 = 0.36666666 BTC, gain 0.36666666 x 2,000 x 0.9 = 659.999988 EUR:
    # the year's gain would be 1,109.999988, AT OR ABOVE the 1,000 EUR Freigrenze (§ 23 Abs. 3 Satz 5 EStG:
    # tax-free only if the year's total is LESS than 1,000; above it the WHOLE gain is taxable).
    # use_allowance shrinks the plan: k = (999.99 - 450) / 659.999988 = 0.8333... (above the band-edge
    # minimum 1 - 10/22 = 0.5454...), so the year stays just under 1,000.
    events = trades([("2025-01-02", "buy", "BTC", "1.3", "58000"), ("2025-02-01", "sell", "BTC", "0.1", "63000")])
    fx = {"EUR": "0.9"}
    table = rates([("2025-01-02", "BTC", "58000"), ("2025-02-01", "BTC", "63000"), ("2025-03-01", "BTC", "60000")], fx)
    b = basket(TaxSettings("de", use_allowance=True), gate="10")
    taxed = adjusted(b, {"BTC": "1.2", "ETH": "7", "USDT": "0"}, {"BTC": "60000", "ETH": "4000"}, events, table,
                     "2025-03-01", fx={"EUR": D("0.9")})
    assert taxed.full.orders[0].quantity == D("0.36666666")
    a = taxed.preview.allowance
    assert a.before == D(450) and a.allowance == D(1000)
    assert D(990) < a.after < D(1000), a.after  # below the Freigrenze: the whole year stays tax-free
    [sell] = [o for o in taxed.plan.orders if o.side == "sell"]
    assert D("0.30") < sell.quantity < D("0.31")  # about 0.8333 x 0.36666666
    [d] = [d for d in taxed.decisions if d.policy == "use_allowance"]
    assert d.action == "shrunk" and "Freigrenze, § 23 Abs. 3 Satz 5 EStG" in d.reason and "WHOLE" in d.reason
    assert taxed.preview.estimated_tax == 0 and taxed.drift_after <= 10


def test_use_allowance_de_warns_when_even_the_band_edge_crosses() -> None:
    # Same history, gate 3pp: the band-edge minimum is k = 1 - 3/22 = 0.8636: selling 19,000 / 60,000 =
    # 0.31666666 BTC gains 0.31666666 x 1,800 = 569.999988 EUR, the year 1,019.999988 >= 1,000: the band
    # wins (the basket must come back inside it), the trade is the minimum, and the decision WARNS.
    events = trades([("2025-01-02", "buy", "BTC", "1.3", "58000"), ("2025-02-01", "sell", "BTC", "0.1", "63000")])
    fx = {"EUR": "0.9"}
    table = rates([("2025-01-02", "BTC", "58000"), ("2025-02-01", "BTC", "63000"), ("2025-03-01", "BTC", "60000")], fx)
    taxed = adjusted(basket(TaxSettings("de", use_allowance=True)), {"BTC": "1.2", "ETH": "7", "USDT": "0"},
                     {"BTC": "60000", "ETH": "4000"}, events, table, "2025-03-01", fx={"EUR": D("0.9")})
    [sell] = [o for o in taxed.plan.orders if o.side == "sell"]
    assert sell.quantity == D("0.31666666")
    assert taxed.preview.allowance.after == D(450) + D("0.31666666") * 1800
    [d] = [d for d in taxed.decisions if d.policy == "use_allowance"]
    assert d.action == "warned" and "WHOLE" in d.reason and "smallest trade" in d.reason


def test_harvest_losses_us_sells_and_rebuys_the_losing_lot() -> None:
    # US, choose_lots. BTC: 0.5 bought 10 Jan 2024 at 40,000 and 0.5 bought 1 Jun 2024 at 80,000; 20 ETH at
    # 2,500. On 1 Feb 2025 BTC is 50,000: BTC 50,000 + ETH 50,000, on target: the planner trades nothing.
    # harvest_losses = 20: the June lot is down (80,000 - 50,000) / 80,000 = 37.5% > 20%: loss 40,000 -
    # 25,000 = 15,000. The US has no wash-sale rule for crypto (IRC §1091 covers stock or securities):
    # sell 0.5 BTC at 50,000 (fee 0.1%: net 24,975) and buy back 24,975 / (50,000 x 1.001) = 0.49900099 BTC
    # (truncated to the step). The sale consumes the losing lot (specific identification, losses first):
    # gain 24,975 - 40,000 = -15,025.
    events = trades([("2024-01-10", "buy", "BTC", "0.5", "40000"), ("2024-06-01", "buy", "BTC", "0.5", "80000"),
                     ("2024-06-01", "buy", "ETH", "20", "2500")])
    table = rates([("2024-01-10", "BTC", "40000"), ("2024-06-01", "BTC", "80000"), ("2024-06-01", "ETH", "2500")])
    b = basket(TaxSettings("us", harvest_losses=D(20), choose_lots=True))
    taxed = adjusted(b, {"BTC": "1", "ETH": "20", "USDT": "0"}, {"BTC": "50000", "ETH": "2500"}, events, table,
                     "2025-02-01", fee="0.001")
    assert taxed.full.orders == ()
    assert [(o.side, o.asset, o.quantity) for o in taxed.plan.orders] == [
        ("sell", "BTC", D("0.5")), ("buy", "BTC", D("0.49900099"))]
    [leg] = taxed.preview.legs
    assert leg.gain == D(-15025) and [str(lot.acquired) for lot in leg.lots] == ["2024-06-01"]
    [d] = [d for d in taxed.decisions if d.policy == "harvest_losses"]
    assert d.action == "harvested" and "IRC §1091" in d.reason and "15000.00 USD" in d.reason
    # without choose_lots the sale would take the oldest (gaining) lot first (FIFO, IRS FAQ Q41): not made
    fifo = adjusted(basket(TaxSettings("us", harvest_losses=D(20))), {"BTC": "1", "ETH": "20", "USDT": "0"},
                    {"BTC": "50000", "ETH": "2500"}, events, table, "2025-02-01", fee="0.001")
    assert fifo.plan.orders == () and fifo.decisions[0].action == "not_applied" and "choose_lots" in fifo.decisions[0].reason


def test_harvest_losses_says_nothing_about_a_dust_lot() -> None:
    # A stopped-and-reinvested basket keeps 0.00000001 BTC bought at 80,000; at 50,000 it is down 37.5% but
    # its loss is 0.00000001 x 30,000 = 0.0003 USD, not a cent: no decision at all (the run's log said
    # "kept BTC ... a loss of 0.00 USD" before).
    events = trades([("2024-06-01", "buy", "BTC", "0.00000001", "80000"), ("2024-06-01", "buy", "ETH", "20", "2500")])
    table = rates([("2024-06-01", "BTC", "80000"), ("2024-06-01", "ETH", "2500")])
    b = basket(TaxSettings("us", harvest_losses=D(20), choose_lots=True))
    taxed = adjusted(b, {"BTC": "0.00000001", "ETH": "20", "USDT": "0"}, {"BTC": "50000", "ETH": "2500"}, events,
                     table, "2025-02-01", fee="0.001")
    assert [d for d in taxed.decisions if d.policy == "harvest_losses"] == []


def test_harvest_losses_refused_where_a_rule_applies_naming_it() -> None:
    # Same holdings valued in GBP (1 USD = 0.8 GBP), CA (CAD 1.35) and AU (AUD 1.5): the lot is down 37.5%
    # but a sell and rebuy is refused: UK 30-day rule (TCGA92 s106A(5)), CA superficial loss (ITA s54),
    # AU wash-sale guidance (TR 2008/1). Nothing is traded.
    events = trades([("2024-06-01", "buy", "BTC", "1", "80000"), ("2024-06-01", "buy", "ETH", "20", "2500")])
    for code, cur, rate, rule in (("uk", "GBP", "0.8", "s106A(5)"), ("ca", "CAD", "1.35", "ITA s54"),
                                  ("au", "AUD", "1.5", "TR 2008/1")):
        table = rates([("2024-06-01", "BTC", "80000"), ("2024-06-01", "ETH", "2500"), ("2025-02-01", "BTC", "50000")],
                      {cur: rate})
        taxed = adjusted(basket(TaxSettings(code, harvest_losses=D(20))), {"BTC": "1", "ETH": "20", "USDT": "0"},
                         {"BTC": "50000", "ETH": "2500"}, events, table, "2025-02-01", fx={cur: D(rate)})
        assert taxed.preview.error is None, (code, taxed.preview.error)
        assert taxed.plan.orders == (), code
        [d] = taxed.decisions
        assert (d.policy, d.action, d.asset) == ("harvest_losses", "refused", "BTC") and rule in d.reason, (code, d)


def test_tax_budget_skips_a_rebalance_inside_the_band() -> None:
    # US. 1 BTC bought 1 Jun 2024 at 20,000, 10 ETH at 4,000. On 1 Feb 2025 BTC 52,000: 52,000 + 40,000 =
    # 92,000, weights 56.52/43.48: drift 6.52pp. gate 10 (so not beyond it; a manual run trades anyway).
    # The full plan sells 6,000 / 52,000 = 0.11538461 BTC: short-term gain 0.11538461 x 32,000 = 3,692.30752,
    # estimated tax at 24% = 886.15; the value moved ~12,000; 886 / 12,000 = 7.4% > tax_budget 1%: with every
    # member inside the 10pp band the rebalance is SKIPPED (tax_policy.tax_budget_factor).
    events = trades([("2024-06-01", "buy", "BTC", "1", "20000"), ("2024-06-01", "buy", "ETH", "10", "4000")])
    table = rates([("2024-06-01", "BTC", "20000"), ("2024-06-01", "ETH", "4000")])
    taxed = adjusted(basket(TaxSettings("us", tax_budget=D(1), marginal_rate=D("0.24")), gate="10"),
                     {"BTC": "1", "ETH": "10", "USDT": "0"}, {"BTC": "52000", "ETH": "4000"}, events, table,
                     "2025-02-01")
    assert taxed.full.orders[0].quantity == D("0.11538461")
    assert taxed.plan.orders == () and "skipped" in (taxed.plan.skipped or "")
    [d] = taxed.decisions
    assert (d.policy, d.action) == ("tax_budget", "skipped") and "above the 1% tax budget" in d.reason


def test_use_allowance_uk_trades_up_to_the_annual_exempt_amount() -> None:
    # UK, 1 USD = 0.8 GBP every day. 2 BTC bought 1 May 2024 at 50,000 (one s104 pool: £40,000 a BTC,
    # TCGA92 s104); 10 ETH. On 15 Jan 2025 (tax year 2024-25, annual exempt amount £3,000, TCGA92 s1K;
    # gov.uk "Capital Gains Tax allowances") BTC is 60,000 (£48,000): BTC 120,000 + ETH 30,000 = 150,000, weights 80/20, drift 30pp; the gate is 20pp.
    # The full plan sells 45,000 / 60,000 = 0.75 BTC: gain 0.75 x (48,000 - 40,000) = £6,000, over the AEA.
    # use_allowance: k = 3,000 / 6,000 = 0.5 (above the band-edge minimum 1 - 20/30 = 1/3): BTC's goal
    # 80 + 0.5 x (50 - 80) = 65%, sell 22,500 / 60,000 = 0.375 BTC, gain 0.375 x 8,000 = £3,000: exactly
    # the AEA, nothing taxable.
    events = trades([("2024-05-01", "buy", "BTC", "2", "50000"), ("2024-05-01", "buy", "ETH", "10", "3000")])
    table = rates([("2024-05-01", "BTC", "50000"), ("2024-05-01", "ETH", "3000")], {"GBP": "0.8"})
    taxed = adjusted(basket(TaxSettings("uk", use_allowance=True), gate="20"), {"BTC": "2", "ETH": "10", "USDT": "0"},
                     {"BTC": "60000", "ETH": "3000"}, events, table, "2025-01-15", fx={"GBP": D("0.8")})
    assert taxed.full.orders[0].quantity == D("0.75")
    assert [(o.side, o.asset, o.quantity) for o in taxed.plan.orders if o.side == "sell"] == [("sell", "BTC", D("0.375"))]
    a = taxed.preview.allowance
    assert (a.allowance, a.before, a.after) == (D(3000), D(0), D(3000))
    assert taxed.preview.taxable_after == 0 and taxed.preview.estimated_tax == 0
    [d] = taxed.decisions
    assert (d.policy, d.action) == ("use_allowance", "shrunk") and "annual exempt amount, TCGA92 s1K" in d.reason


def test_use_allowance_de_restores_a_deferred_sale_that_stays_below_the_freigrenze() -> None:
    # DE, 1 USD = 0.9 EUR. 1 BTC bought 1 Mar 2024 at 58,000; 10 ETH. On 15 Feb 2025 BTC is 60,000: weights
    # 60/40, the full plan sells 0.16666666 BTC. The lot is tax-free from 2 Mar 2025 (held more than one
    # year, § 23 Abs. 1 Satz 1 Nr. 2 EStG), within defer_short_term = 30 days: the sale is deferred (cut by
    # the 3pp band). But the full sale gains only 0.16666666 x 2,000 x 0.9 = 299.99998800 EUR, the year's
    # only gain, far below the 1,000 EUR Freigrenze (§ 23 Abs. 3 Satz 5 EStG): nothing is saved by waiting,
    # so use_allowance restores the full rebalance.
    events = trades([("2024-03-01", "buy", "BTC", "1", "58000"), ("2024-03-01", "buy", "ETH", "10", "4000")])
    table = rates([("2024-03-01", "BTC", "58000"), ("2024-03-01", "ETH", "4000")], {"EUR": "0.9"})
    taxed = adjusted(basket(TaxSettings("de", defer_short_term=30, use_allowance=True)),
                     {"BTC": "1", "ETH": "10", "USDT": "0"}, {"BTC": "60000", "ETH": "4000"}, events, table,
                     "2025-02-15", fx={"EUR": D("0.9")})
    assert [(d.policy, d.action) for d in taxed.decisions] == [("defer_short_term", "deferred"),
                                                              ("use_allowance", "restored")]
    assert not taxed.changed and taxed.plan.orders == taxed.full.orders
    assert taxed.preview.realised_gain == D("0.16666666") * 2000 * D("0.9") == D("299.99998800")
    assert "Freigrenze" in taxed.decisions[1].reason and taxed.preview.estimated_tax == 0


def test_a_plan_at_a_past_moment_ignores_corrections_of_later_events() -> None:
    # A basis supplied (today) for a deposit made on 3 Jun 2024 is part of the ledger as of any moment
    # (events.as_of: corrections are timeless), but a plan previewed at 15 Jan 2024 (a paper basket in
    # simulated time) must not see it: its deposit had not happened yet.
    from taxreport.model.events import BasisSupplement
    from taxreport.rebalance.tax_preview import ledger_at

    dep = Deposit(time=at("2024-06-03"), source="t", external_id="late", account="okx:main", asset="USDT",
                  quantity=D(100), cost=None, cost_currency=None)
    basis = BasisSupplement(time=at("2024-07-01"), source="manual", external_id="b1", target_key=dep.natural_key,
                            cost=D(100), cost_currency="USD")
    events = trades([("2024-01-10", "buy", "BTC", "1", "40000")]) + [dep, basis]
    assert basis not in ledger_at(events, at("2024-01-15")) and dep not in ledger_at(events, at("2024-01-15"))
    assert basis in ledger_at(events, at("2024-06-04")) and dep in ledger_at(events, at("2024-06-04"))
