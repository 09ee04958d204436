"""The rate spans of :func:`taxreport.lots.valuation.value_event_list` and the twin-class record makers (issue 14,
round 6) against main's code at 507e35c, kept verbatim in ``tests/reference_main_valuation.py``.

The valuation: seeded random ledgers (trades of tokens against every fiat, against stablecoins and tokens, with
fees in the base, the quote, a third coin or none, zeros written ``0``/``0.00``/``0E-8``, rebates, several trades at
one moment, moments out of order, deposits with and without basis, withdrawals, transfers, income, sometimes a trade
whose fee leaves nothing received), rates stored directly, only inverted, only through USD, several in one day,
days without one, a stablecoin with no rate at all; valued in each country's currency with its swap rule (US, UK,
DE, AU, CA) and in another currency, with and without ``--via``, a ``--peg`` and a ``--rate-lookback``, in chunks
as the every-year pass values them (sometimes continued by a :meth:`Pricer.resumed` pricer). Everything must be
the same: every movement (its type, every field as text: ``0.00`` against ``0`` fails), the pricer's state after
each chunk (gaps, routes with their counts in the order they were first used, pegs, the one-entry cache), its
notes, the missing-rate error, the swap counts, and the error (type and text) of a refused trade with the state at
that point.

The gains documents: ``gains --format json`` of every tax year of seeded ledgers priced through those rates, in
each country, its currency and GBP, with ``--via``/``--peg``/``--rate-lookback``, hashed; the hashes were computed
by main's code (``/work/main`` at 507e35c) with ``python tests/test_valuation_spans.py`` run from outside this
worktree; recompute them with main's code, never this branch's, if the generator changes.
"""

from __future__ import annotations

import hashlib
import random
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import reference_main_valuation as ref  # noqa: E402

from taxreport.errors import TaxreportError  # noqa: E402
from taxreport.lots.valuation import SwapCost, SwapStats, value_event_list  # noqa: E402
from taxreport.model.events import Deposit, Event, Income, Trade, Transfer, Withdrawal  # noqa: E402
from taxreport.prices.rates import Pricer, RateTable  # noqa: E402

UTC = timezone.utc
T0 = datetime(2024, 1, 1, tzinfo=UTC)
TOKENS = ("BTC", "ETH", "SOL", "BNB")
STABLE = ("USDT", "USDC")
FIATS = ("USD", "EUR", "GBP", "AUD", "CAD")
ZEROS = (Decimal("0"), Decimal("0.00"), Decimal("0E-8"))
COUNTRIES = {"us": ("USD", SwapCost.RECEIVED), "uk": ("GBP", SwapCost.GIVEN), "de": ("EUR", SwapCost.GIVEN),
             "au": ("AUD", SwapCost.GIVEN), "ca": ("CAD", SwapCost.GIVEN)}


def _rate(rng: random.Random, level: float) -> Decimal:
    return Decimal(str(round(level * rng.uniform(0.9, 1.1), rng.randint(2, 6))))


def rate_rows(rng: random.Random, days: int, start: datetime = T0) -> list[tuple[str, str, datetime, Decimal, str]]:
    """BTC and ETH in USD and EUR; SOL in USD only (other currencies through USD); BNB in EUR only; USD->GBP,
    EUR->USD (USD->EUR only inverted), AUD->USD, USD->CAD; USDC->USD on some days; USDT never (a peg, or a gap).
    Most days one rate at 00:00, some several at odd times, some none (a look-back, a crossing or a gap)."""
    pairs = {("BTC", "USD"): 40000.0, ("BTC", "EUR"): 37000.0, ("ETH", "USD"): 2500.0, ("ETH", "EUR"): 2300.0,
             ("SOL", "USD"): 90.0, ("BNB", "EUR"): 280.0, ("USD", "GBP"): 0.79, ("EUR", "USD"): 1.09,
             ("AUD", "USD"): 0.66, ("USD", "CAD"): 1.36, ("USDC", "USD"): 1.0}
    rows = []
    for (base, quote), level in pairs.items():
        for day in range(-3, days + 2):
            r = rng.random()
            if r < (0.5 if base == "USDC" else 0.12):
                continue  # a day without a rate
            first = start + timedelta(days=day)
            times = [first] if r < 0.8 else sorted(
                first + timedelta(seconds=rng.randint(0, 86399)) for _ in range(rng.randint(1, 3)))
            for t in times:
                rows.append((base, quote, t, _rate(rng, level), rng.choice(["ecb", "csv", "ccxt:okx:1d"])))
    return rows


def _amount(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(1, 10**8)).scaleb(-rng.randint(0, 8))


def _fee(rng: random.Random) -> Decimal:
    r = rng.random()
    if r < 0.15:
        return rng.choice(ZEROS)
    if r < 0.22:
        return -_amount(rng) / 1000  # a rebate
    return _amount(rng) / 1000


def events_of(rng: random.Random, n: int, days: int, start: datetime = T0) -> list[Event]:
    out: list[Event] = []
    t = start
    span = days * 86400
    for i in range(n):
        r = rng.random()
        if r < 0.55:
            t = start + timedelta(seconds=min(span - 1, int((t - start).total_seconds()) + rng.randint(1, 3 * 86400 * days // n)))
        elif r < 0.6:
            t = start + timedelta(seconds=rng.randint(0, span - 1))  # out of time order
        # else: the same moment as the event before (several fills in one second)
        acct = rng.choice(["a", "b"])
        kind = rng.choices(["trade", "dep", "wd", "xfer", "inc"], [85, 4, 4, 4, 3])[0]
        try:
            if kind == "trade":
                base = rng.choice(TOKENS * 4 + STABLE + FIATS)
                quote = rng.choice(FIATS * 5 + STABLE + TOKENS)
                if base == quote:
                    continue
                quantity, price = _amount(rng), _amount(rng)
                fee = _fee(rng)
                fee_asset = rng.choice([base, quote, quote, quote, "BNB", "EUR", None]) if fee or rng.random() < 0.5 \
                    else None
                if fee and fee_asset is None:
                    fee_asset = quote
                if fee and fee_asset == base:
                    fee = (fee * quantity / 10**9).quantize(Decimal("1e-12"))
                elif fee and fee_asset == quote:
                    fee = (fee * quantity * price / 10**9).quantize(Decimal("1e-12"))
                if rng.random() < 0.004 and fee_asset == base and fee:
                    fee = quantity * 2  # the fee leaves nothing received: refused when it is valued
                out.append(Trade(time=t, source="s", external_id=f"t{i}" if rng.random() < 0.9 else None,
                                 account=acct, side=rng.choice(["buy", "sell"]), base=base, quote=quote,
                                 quantity=quantity, price=price, fee=fee, fee_asset=fee_asset))
            elif kind == "dep":
                with_cost = rng.random() < 0.5
                out.append(Deposit(time=t, source="s", external_id=f"d{i}", account=acct, asset=rng.choice(TOKENS),
                                   quantity=_amount(rng), cost=_amount(rng) if with_cost else None,
                                   cost_currency=rng.choice(FIATS) if with_cost else None))
            elif kind == "wd":
                out.append(Withdrawal(time=t, source="s", external_id=f"w{i}", account=acct,
                                      asset=rng.choice(TOKENS), quantity=_amount(rng), purpose="own-wallet"))
            elif kind == "xfer":
                out.append(Transfer(time=t, source="s", external_id=f"x{i}", from_account=acct, to_account="c",
                                    asset=rng.choice(TOKENS), quantity=_amount(rng) + 1, fee=rng.choice(ZEROS)))
            else:
                out.append(Income(time=t, source="s", external_id=f"i{i}", account=acct, asset=rng.choice(TOKENS),
                                  quantity=_amount(rng), kind="staking"))
        except (TaxreportError, ValueError, TypeError):
            continue  # a combination the event model refuses: not a ledger row
    return out


def _fields(movements: list) -> list[tuple]:
    return [(type(m).__name__, *(str(getattr(m, f)) for f in m.__slots__)) for m in movements]


def _state(pricer: Any) -> tuple:
    """Everything the pricer has recorded, the routes in the order they were first used."""
    missing, used, pegs, last, last_rate = pricer.state()[:5]  # (ours adds the per-year route counts: none counted here)
    return (sorted(missing), list(used.items()), sorted(pegs), last, str(last_rate), pricer.notes())


def _run(value: Any, pricer_class: type, events: list[Event], table: RateTable, currency: str, options: dict,
         swap_cost: SwapCost, cuts: list[int], resume_at: set[int]) -> tuple:
    pricer = pricer_class(table, currency, **options)
    stats = SwapStats()
    out: list = []
    states = []
    error = None
    done = 0
    try:
        for n in cuts:
            out.extend(value(events[done:n], pricer, swap_cost, stats))
            done = n
            states.append(_state(pricer))
            if n in resume_at:
                pricer = pricer.resumed(pricer.state())
    except (TaxreportError, ValueError) as e:
        error = (type(e).__name__, str(e), _state(pricer))
    try:
        pricer.raise_if_missing()
        missing = None
    except TaxreportError as e:
        missing = str(e)
    return _fields(out), states, error, (stats.by_rule, stats.by_fallback), stats.notes(), missing


OPTIONS = [{}, {"via": ("USD",)}, {"via": ("EUR", "USD")}, {"peg": {"USDT": "USD"}},
           {"via": ("USD",), "peg": {"USDT": "USD", "USDC": "USD"}, "lookback_days": 2}, {"lookback_days": 1},
           {"peg": {"USDT": "GBP"}, "lookback_days": 3}]


def _case(seed: int, code: str, currency: str | None) -> tuple[tuple, tuple, int]:
    rng = random.Random(seed)
    days = rng.choice([3, 12, 30])
    table = RateTable.from_rows(rate_rows(rng, days))
    events = events_of(rng, rng.choice([60, 250, 600]), days)
    own, swap_cost = COUNTRIES[code]
    options = OPTIONS[seed % len(OPTIONS)]
    cuts = sorted({rng.randint(0, len(events)) for _ in range(rng.randint(0, 3))} | {len(events)})
    resume_at = {n for n in cuts if rng.random() < 0.3}
    args = (events, table, currency or own, options, swap_cost, cuts, resume_at)
    return (_run(value_event_list, Pricer, *args), _run(ref.value_event_list, ref.Pricer, *args),
            sum(type(e) is Trade for e in events))


@pytest.mark.parametrize("code", sorted(COUNTRIES))
@pytest.mark.parametrize("currency", [None, "GBP", "EUR"])
@pytest.mark.parametrize("seed", range(6))
def test_valuation_is_mains(seed: int, code: str, currency: str | None) -> None:
    ours, mains, trades = _case(seed * 31 + len(code), code, currency)
    assert trades > 20
    assert ours[0] == mains[0]  # the movements, field by field
    assert ours == mains


def test_the_cases_reach_every_branch() -> None:
    """The generator is hostile enough: the cases above hit spans, crossings, pegs, gaps and refused trades."""
    seen: set[str] = set()
    for seed in range(6):
        for code in COUNTRIES:
            for currency in (None, "GBP", "EUR"):
                ours, _, _ = _case(seed * 31 + len(code), code, currency)
                notes = " ".join(n for s in ours[1] for n in s[5])
                seen |= {k for k in ("crossed via", "assumed peg", "= 1/(", "up to") if k in notes}
                if ours[2] is not None:
                    seen.add("refused")
                if ours[5] is not None:
                    seen.add("gaps")
                if any(len(s[1]) > 1 for s in ours[1]):
                    seen.add("several routes")
    assert seen == {"crossed via", "assumed peg", "= 1/(", "up to", "refused", "gaps", "several routes"}


def test_a_moment_not_in_utc_is_valued_as_main_values_it() -> None:
    """Events are in UTC (:func:`taxreport.model.events.utc`); a moment in another zone (set behind the event's
    back) has another calendar date near midnight, which the same-day rule reads: no span is opened or used for
    it, and the pricer answers it as main's does."""
    rng = random.Random(5)
    table = RateTable.from_rows(rate_rows(rng, 4))
    plus2 = timezone(timedelta(hours=2))
    events: list[Event] = []
    for i, (h, tz) in enumerate([(23, UTC), (23, plus2), (1, plus2), (22, UTC), (23, plus2), (0, UTC)]):
        t = Trade(time=T0 + timedelta(days=1, hours=h, minutes=i), source="s", external_id=f"z{i}", account="a",
                  side="buy", base="BTC", quote="USD", quantity=Decimal("1.5"), price=Decimal("100"),
                  fee=Decimal("0.25"), fee_asset="USD")
        object.__setattr__(t, "time", t.time.astimezone(tz))
        events.append(t)
    for options in OPTIONS:
        args = (events, table, "GBP", options, SwapCost.GIVEN, [len(events)], set())
        assert _run(value_event_list, Pricer, *args) == _run(ref.value_event_list, ref.Pricer, *args)


def test_the_record_makers_build_the_dataclasses_objects() -> None:
    """The twin-class makers give objects of the class itself: ``type(m) is cls``, equal, same hash and pickle,
    immutable (a frozen dataclass refuses a change after the class is set)."""
    import dataclasses
    import pickle

    from taxreport.lots.types import Acquisition, make_acquisition

    values = (T0, "a", "BTC", Decimal("1.50"), Decimal("2E-3"), "k", 1, "trade", None)
    made, built = make_acquisition(*values), Acquisition(*values)
    assert type(made) is Acquisition and made == built and hash(made) == hash(built)
    assert pickle.dumps(made) == pickle.dumps(built) and str(made.quantity) == "1.50"
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.cost = Decimal(1)  # type: ignore[misc]


# --- the gains documents, against main's hashes ------------------------------------------------------------------


GAINS_OPTIONS = [({"via": ("USD",), "peg": {"USDT": "USD"}}, False),
                 ({"via": ("EUR", "USD"), "peg": {"USDT": "USD", "USDC": "USD"}, "lookback_days": 2}, True),
                 ({"via": ("USD",), "peg": {"USDT": "USD"}, "lookback_days": 1}, True)]  # Sundays: gaps


def gains_ledger(seed: int, weekend_gaps: bool) -> tuple[list[Event], RateTable]:
    """About three years (4-5 tax years in each country) of buys and smaller sales of BTC, ETH and SOL against
    every fiat and USDT (fees in the quote, the base or none; several at one moment), priced by daily rates of
    each coin in USD (BTC and ETH in EUR too), USD->GBP, EUR->USD, AUD->USD, USD->CAD and USDC->USD, some days with
    more rates at odd times; ``weekend_gaps``: no fiat rate on Saturdays and Sundays (``--rate-lookback``)."""
    rng = random.Random(seed)
    start = datetime(2021, 3, 1, tzinfo=UTC)
    days = 1100
    pairs = {("BTC", "USD"): 40000.0, ("BTC", "EUR"): 37000.0, ("ETH", "USD"): 2500.0, ("ETH", "EUR"): 2300.0,
             ("SOL", "USD"): 90.0, ("USD", "GBP"): 0.79, ("EUR", "USD"): 1.09, ("AUD", "USD"): 0.66,
             ("USD", "CAD"): 1.36, ("USDC", "USD"): 1.0}
    rows = []
    for (base, quote), level in pairs.items():
        for day in range(-3, days + 2):
            first = start + timedelta(days=day)
            if weekend_gaps and base in FIATS and quote in FIATS and first.weekday() >= 5:
                continue
            times = [first] if rng.random() < 0.85 else [first] + sorted(
                first + timedelta(seconds=rng.randint(1, 86399)) for _ in range(rng.randint(1, 3)))
            for t in times:
                rows.append((base, quote, t, _rate(rng, level), rng.choice(["ecb", "csv"])))
    events: list[Event] = []
    held: dict[tuple[str, str], Decimal] = {}  # what each account holds: a sale takes at most half of it
    t = start
    for i in range(700):
        if rng.random() < 0.8:
            t += timedelta(seconds=rng.randint(1, 2 * 86400 * days // 700))
        account = rng.choice(["a", "b"])
        base = rng.choice(("BTC", "ETH", "SOL"))
        quote = rng.choice(("USD",) * 4 + ("EUR", "GBP", "AUD", "CAD", "USDT"))
        price = _rate(rng, pairs.get((base, "USD"), 100.0))
        quantity = Decimal(rng.randint(10**5, 10**8)).scaleb(-8)
        buy = rng.random() < 0.6 or held.get((account, base), Decimal(0)) < Decimal("0.01")
        if not buy:
            quantity = min(quantity, (held[(account, base)] / 2).quantize(Decimal("1e-8")))
        fee_asset = rng.choice([quote, quote, quote, base, None])
        fee = (quantity * price / 1000).quantize(Decimal("1e-8")) if fee_asset == quote \
            else (quantity / 1000).quantize(Decimal("1e-10")) if fee_asset == base else Decimal(0)
        if buy and quote == "USDT" and held.get((account, "USDT"), Decimal(0)) < 2 * (quantity * price + fee):
            quote = "USD"  # USDT to spend only once a sale has brought some
            fee_asset = "USD" if fee_asset == "USDT" else fee_asset
        sign = 1 if buy else -1
        held[(account, base)] = held.get((account, base), Decimal(0)) + sign * quantity \
            - (fee if fee_asset == base else 0)
        if quote == "USDT":
            held[(account, quote)] = held.get((account, quote), Decimal(0)) - sign * quantity * price \
                - (fee if fee_asset == quote else 0)
        events.append(Trade(time=t, source="s", external_id=f"g{i}", account=account,
                            side="buy" if buy else "sell", base=base, quote=quote, quantity=quantity, price=price,
                            fee=fee, fee_asset=fee_asset))
    return events, RateTable.from_rows(rows)


def documents(seed: int, code: str, currency: str | None, variant: int) -> str:
    """The sha256 of every tax year's ``gains --format json`` document (or error) of one case, computed in one
    pass as the ``gains`` command computes them."""
    from taxreport.cli.common import json_text
    from taxreport.cli.gains_cmd import summary_json
    from taxreport.gains import GainsRequest, compute_request_years
    from taxreport.jurisdictions import base as jbase

    options, weekend_gaps = GAINS_OPTIONS[variant]
    events, table = gains_ledger(seed, weekend_gaps)
    ty = jbase.get(code).policy.tax_year
    years = [ty.label_of(y) for y in range(2020, 2026)]
    request = GainsRequest(code, years[2], currency=currency, via=tuple(options.get("via", ())),
                           peg=dict(options.get("peg", {})), rate_lookback_days=options.get("lookback_days", 0))
    found = compute_request_years(events, table, request, years)
    h = hashlib.sha256()
    for y in years:
        s = found[y]
        doc = f"ERROR {type(s).__name__}: {s}" if isinstance(s, TaxreportError) else json_text(summary_json(s))
        h.update(doc.encode() + b"\0")
    return h.hexdigest()


GAINS_CASES = [(seed, code, currency, seed % 3) for seed in (1, 2, 3, 4) for code in sorted(COUNTRIES)
               for currency in (None, "GBP")]

MAIN_507E35C: dict[tuple, str] = {  # computed by main's code at 507e35c (module docstring)
    (1, 'au', None, 1): '992f173e80977c5b76c9689e8fcb2a9c15a66edd7b898466d5510951cb69b80c',
    (1, 'au', 'GBP', 1): '5200dcaa6e91a0c2e3e3084256f5f0d97fa8212a6a0a9758ef423a76bc39e68a',
    (1, 'ca', None, 1): '712b3d40780068760dedfc0c2d3ffd4b4a8121cb783f9e6c9660139e1fa929a3',
    (1, 'ca', 'GBP', 1): '82d82450d4c3af6cbb1822d0be56f785e9b88e2d19f2ee087b1463d5b9e60cdf',
    (1, 'de', None, 1): 'dbb760b796e2dd152d5d47c764e90f3d66faad4a5b0f84c034901d88ea9041ab',
    (1, 'de', 'GBP', 1): '092d9e5c5af1d9831c13e87e9531c2e3371e12301979ebd22d94913ce3a02ecd',
    (1, 'uk', None, 1): 'c12780c7294703d364b56cb250ffa0da6d509a6b21a03a2c8ac3a5aa3b211eb2',
    (1, 'uk', 'GBP', 1): 'c12780c7294703d364b56cb250ffa0da6d509a6b21a03a2c8ac3a5aa3b211eb2',
    (1, 'us', None, 1): '749d86a25974db310f8f4ffe98922ef0cc9a39e157927e93e73d134c169fefd6',
    (1, 'us', 'GBP', 1): '91ec64ce497abc546e14e5ebdb88bf344b113323a2a2c0c8ad95b2065c88d3ef',
    (2, 'au', None, 2): 'b3f9fa2a115e2726063cc3ff60d40d37bfe58185341cb286fab6bc6589bdd2c5',
    (2, 'au', 'GBP', 2): '65bac0749ddc683ef2f7a989a2673f578cce799d3725fcc54d59769740e1a4fb',
    (2, 'ca', None, 2): '0bebe6e570d7e0b7863cd72163ce9f05c4b1cdeb85555b410f1adeb085ccb003',
    (2, 'ca', 'GBP', 2): '84110d7d5e584dace94a03523d4522f8c4c40bcd964327b645862fb350da9e36',
    (2, 'de', None, 2): 'aa6583bbf4d5f6c5c558dc41e45b77f2c50918f0061edbb41f4df1dbae8f33fd',
    (2, 'de', 'GBP', 2): 'fbebd06f9ffedc1b5db1473fcc83a6721d0ded99753b4b62c34758e1e4bd80cf',
    (2, 'uk', None, 2): '4ee18b3ea69e9243fe7ee7c763360760a49ef98a81d74d75248748546ca57394',
    (2, 'uk', 'GBP', 2): '4ee18b3ea69e9243fe7ee7c763360760a49ef98a81d74d75248748546ca57394',
    (2, 'us', None, 2): 'a856057c7385b28a3680c05a2d1722912bf0809c46d6b5c57c9d82c666f1c11f',
    (2, 'us', 'GBP', 2): '06f417a6fa11646fd7f97afaea6af0201347a8032bce7ea41c23841e902127e5',
    (3, 'au', None, 0): '791fe9564f8960d932139aca3eb02f6078d42f873da57d6d184c270795f0e0ce',
    (3, 'au', 'GBP', 0): 'b874941784ad66ab9b7e51b6d5909a001e381c58ea79d44e54e2e723023aceca',
    (3, 'ca', None, 0): 'b88695c95fc8c90a2b4a154ae60175fd54f7f2c6d3999811bf79878bbc8d4d4a',
    (3, 'ca', 'GBP', 0): '090d8279be79e6011a0fcf37229cb456bb861a14054f84112f632f376987fe1e',
    (3, 'de', None, 0): 'c897cc718c272985fe532a29899933c39362e039f16a9a3c46477ce1d51e777d',
    (3, 'de', 'GBP', 0): '0cd49ba46d816f84be12a134dd589d21c404e547dd03da1a4173e13c45ae16e9',
    (3, 'uk', None, 0): 'c97c5ab9bdc5be560433320bc62a761b2808d84f23aefa7a0d48444b2b420082',
    (3, 'uk', 'GBP', 0): 'c97c5ab9bdc5be560433320bc62a761b2808d84f23aefa7a0d48444b2b420082',
    (3, 'us', None, 0): '13a3791ffade04d92c6116dc0b5b48690a622b46c9ccb2c6a4f52138290f0b16',
    (3, 'us', 'GBP', 0): '84891abf73bed247ce276eff1ac37f4844f97527ef92ad0ed0f0814e7b1bf19e',
    (4, 'au', None, 1): '8b7daaaeffe9878001f700889067c5f0fdbaa63d768249625784fa5d1c393c8e',
    (4, 'au', 'GBP', 1): '0ab65394f3c78d3d28f89d5553c131da12e1dbf236cdc2a77704698efa8197d6',
    (4, 'ca', None, 1): '2f4ddfb9ce5d7d53db523aea191774a4c3c489e4d56bd97ea46ccfd71ca12ed6',
    (4, 'ca', 'GBP', 1): '986f694bcd07582fc3a84a95fbced3943a53481d60f0bd6b585c9d0f11214623',
    (4, 'de', None, 1): '5fb5169734a1104eb70ea91f792650d29e26b95e75083ddcabba9afeea48d39a',
    (4, 'de', 'GBP', 1): '7d40f0136e4908939bdb914ce1339281d3d10aec189a734ff3d9453a97ef9b45',
    (4, 'uk', None, 1): 'f40eb79cf9b0ca8ecad18e570e826e1120ba10fd759fcf3b383d7fe908f2ca2f',
    (4, 'uk', 'GBP', 1): 'f40eb79cf9b0ca8ecad18e570e826e1120ba10fd759fcf3b383d7fe908f2ca2f',
    (4, 'us', None, 1): '2c1dc24fe0bb474adb084f82def772d76b768318cec1417f4214372b0c56f506',
    (4, 'us', 'GBP', 1): '102e9ee64d31ef7c88c7fe3f7ed57de2c564dbe833919dfad52531f1f6b070f2',
}


@pytest.mark.parametrize("key", GAINS_CASES)
def test_gains_documents_are_byte_identical_to_main(key: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    from mains_sentences import rates_and_gifts_as_main

    rates_and_gifts_as_main(monkeypatch)  # main's rate and gift notes (tests/mains_sentences.py)
    assert documents(*key) == MAIN_507E35C[key]


@pytest.fixture(autouse=True)
def _standard_decimal_context():  # noqa: ANN202
    """The ledgers are built with Decimal arithmetic in the thread's context: build them in the standard one,
    whatever an earlier test left (ccxt's decimal_to_precision sets the thread's rounding to half-up)."""
    import decimal

    from taxreport.model.money import MONEY_CONTEXT

    with decimal.localcontext(MONEY_CONTEXT):
        yield


if __name__ == "__main__":  # main's hashes: run with main's code (see the module docstring)
    import decimal

    from taxreport.model.money import MONEY_CONTEXT

    with decimal.localcontext(MONEY_CONTEXT):
        for key in GAINS_CASES:
            print(f"    {key!r}: {documents(*key)!r},")
