"""Byte identity with main (bdfefcf) of the engine's round-5 speed work (issue 14: :meth:`LotRules.results` deciding a
lot held for sure long or short by the elapsed time, :func:`taxreport.lots.pools.share` reading its exponent from
the Decimal's text, the matching loop's one-lot sale): every year's ``gains --format json`` document, open lots and
disposal details (or error) of seeded random ledgers whose sales fall around the first anniversary of the lots they
take (within a week either way, at any hour) and far from it, in each country and in time zones far from UTC, in
the country's currency and in another one (EUR: costs from daily rates, with more than 20 decimals, which ``share``
quantizes to their own exponent).

Each lot is bought in an account of its own and sold from it (a sale takes exactly that lot), some accounts hold two
lots a few days apart around the anniversary (a sale split into a long and a short part). The hashes below were
computed by main's code (``/work/main`` at bdfefcf) with ``python tests/test_engine_main_bdfefcf.py`` run from
outside this worktree; recompute them with main's code, never with this branch's, if the generator changes.
"""

from __future__ import annotations

import hashlib
import random
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_gains_years_differential import _document, _rates  # noqa: E402

from taxreport.errors import TaxreportError  # noqa: E402
from taxreport.gains import GainsRequest, compute_request, compute_request_years  # noqa: E402
from taxreport.model.events import Event, Trade  # noqa: E402

COINS = ("BTC", "ETH", "SOL")
T0 = datetime(2021, 3, 1, tzinfo=timezone.utc)


def held_ledger(seed: int, n: int = 140) -> list[Event]:
    rng = random.Random(seed)
    out: list[Event] = []
    for i in range(n):
        coin = rng.choice(COINS)
        account = f"acct{i}"
        bought = T0 + timedelta(days=rng.randint(0, 800), seconds=rng.randint(0, 86399))
        lots = [(bought, Decimal(rng.randint(1, 10**6)).scaleb(-rng.randint(4, 8)))]
        if rng.random() < 0.25:  # a second lot a few days later: a sale across both may be long and short
            lots.append((bought + timedelta(days=rng.randint(1, 4), seconds=rng.randint(0, 86399)),
                         Decimal(rng.randint(1, 10**6)).scaleb(-rng.randint(4, 8))))
        for j, (when, qty) in enumerate(lots):
            price = Decimal(rng.randint(100, 10**7)).scaleb(-2)
            out.append(Trade(time=when, source="test", external_id=f"b{i}-{j}", account=account, side="buy",
                             base=coin, quote="USD", quantity=qty, price=price, fee=_fee(qty, price), fee_asset="USD"))
        held = sum((q for _, q in lots), Decimal(0))
        around = rng.choice([timedelta(days=365), timedelta(days=366), timedelta(days=rng.randint(0, 900))])
        sold = bought + around + timedelta(seconds=rng.randint(-7 * 86400, 7 * 86400))
        if sold <= lots[-1][0]:
            continue
        part = rng.choice([held, held, held * Decimal(rng.randint(1, 99)) / 100]).quantize(Decimal("1E-10")) or held
        price = Decimal(rng.randint(100, 10**7)).scaleb(-2)
        out.append(Trade(time=sold, source="test", external_id=f"s{i}", account=account, side="sell", base=coin,
                         quote="USD", quantity=part, price=price, fee=_fee(part, price), fee_asset="USD"))
    return sorted(out, key=lambda e: e.time)


def _fee(quantity: Decimal, price: Decimal) -> Decimal:
    return (quantity * price / 1000).quantize(Decimal("0.01"))  # 0.1%, never more than the sale gives


CASES: list[tuple] = []
for _seed in (11, 12):
    for _code, _method, _zones in (("us", "fifo", (None, "Pacific/Kiritimati", "Etc/GMT+12", "America/New_York")),
                                   ("us", "hifo", (None,)), ("de", "fifo", (None, "Pacific/Apia")),
                                   ("au", "fifo", (None, "Etc/GMT-14")), ("uk", None, (None,)), ("ca", None, (None,))):
        for _zone in _zones:
            for _currency in (None, "EUR"):
                CASES.append((_seed, _code, _method, _zone, _currency))


def _years(code: str) -> list[str]:
    from taxreport.jurisdictions import base as jbase

    ty = jbase.get(code).policy.tax_year
    return [ty.label_of(y) for y in range(2021, 2025)]


def digest(key: tuple) -> str:
    seed, code, method, zone, currency = key
    table = _rates(random.Random(seed), None)
    events = held_ledger(seed)
    options: dict = {}
    if zone:
        options["timezone"] = zone
    if currency:
        options["currency"] = currency
    years = _years(code)
    request = GainsRequest(code, years[0], method=method, **options)
    h = hashlib.sha256()
    found = compute_request_years(events, table, request, years)
    for y in years:
        h.update(_document(found[y]).encode() + b"\0")
    try:
        alone: object = compute_request(events, table, request)  # the one-year path
    except TaxreportError as exc:
        alone = exc
    h.update(_document(alone).encode())
    return h.hexdigest()


MAIN_BDFEFCF: dict[tuple, str] = {
    (11, 'us', 'fifo', None, None): "bc3b2b45926b59f9dd008fd0c8b6dba6fcd3ecc1d6ed913106704da0ae89fb46",
    (11, 'us', 'fifo', None, 'EUR'): "c5235dd168880f2e7e49e67c27976dd7a71fc172a49806c7fdae345b7f47b3b1",
    (11, 'us', 'fifo', 'Pacific/Kiritimati', None): "50a5299827a33cc29ce5185c2e359df7549815d94bd7d8380f0298be2db179e3",
    (11, 'us', 'fifo', 'Pacific/Kiritimati', 'EUR'): "e31f225096bd3e0218f779ea2da4d7408fc9cc3b40c25d89cd8acd44cfeee6b8",
    (11, 'us', 'fifo', 'Etc/GMT+12', None): "936233df0d92dd294e5ea7fe8fcabc5663684fb3ea0b306a2617e2fda14e72c2",
    (11, 'us', 'fifo', 'Etc/GMT+12', 'EUR'): "b25a57785614f8de03be46378a7932b48c6fd1edf8a2893d646f2d199cbe5596",
    (11, 'us', 'fifo', 'America/New_York', None): "bc3b2b45926b59f9dd008fd0c8b6dba6fcd3ecc1d6ed913106704da0ae89fb46",
    (11, 'us', 'fifo', 'America/New_York', 'EUR'): "c5235dd168880f2e7e49e67c27976dd7a71fc172a49806c7fdae345b7f47b3b1",
    (11, 'us', 'hifo', None, None): "4a52afa2362d0148d5c1874b62611dc738413028ae75411c067bfe09d3912245",
    (11, 'us', 'hifo', None, 'EUR'): "15f8ce7071a4086e8413430f0a20b2fc83f6b3dc4cae14f7f2984c1b100a26db",
    (11, 'de', 'fifo', None, None): "56bbd706c2d8548d988fcae460b301212c52bb5809af6a37d5b7311c4091f5b7",
    (11, 'de', 'fifo', None, 'EUR'): "56bbd706c2d8548d988fcae460b301212c52bb5809af6a37d5b7311c4091f5b7",
    (11, 'de', 'fifo', 'Pacific/Apia', None): "86927e913c91981fb459b6870b9a94a1017c8e02f7a925c062e6bdb0589bbed5",
    (11, 'de', 'fifo', 'Pacific/Apia', 'EUR'): "86927e913c91981fb459b6870b9a94a1017c8e02f7a925c062e6bdb0589bbed5",
    (11, 'au', 'fifo', None, None): "1cff6147d376f0a5a5bea8789a29926ac641990b05284d245e6e11b3ad30c9c1",
    (11, 'au', 'fifo', None, 'EUR'): "40cf8590f702e7a911a03f83f1c9b70d765be6ab7989b732561519de093e38b3",
    (11, 'au', 'fifo', 'Etc/GMT-14', None): "b1737e4eaedcb4c5b70841c03c92cb1ed2f1bcf6ea9220f59cb81d942b7d22bc",
    (11, 'au', 'fifo', 'Etc/GMT-14', 'EUR'): "c32ddf3b6cb23d17221844efb76a046fc800993be8b54243b8976e1c15825abe",
    (11, 'uk', None, None, None): "b508042336fab598479d2e82b4ebdb5188dbbe39298f07c5b082d09d25fc6577",
    (11, 'uk', None, None, 'EUR'): "0bca4893c2a0c4cb864d97fff04c58c3150e8636bdacbb07dffcd4ef1552080b",
    (11, 'ca', None, None, None): "9e1a300d9a6ae455a476c68e9c4cac6baaf9208a64d9da07dd923d09b7e3a5e4",
    (11, 'ca', None, None, 'EUR'): "bba64c9cacdcf8d12efc1e7a611f7bc07b168af65e3c607160383a2c2dd5981d",
    (12, 'us', 'fifo', None, None): "94643886e10bff2fac27cd741c6f25388f51970adc3acb095c067e6a69912b5a",
    (12, 'us', 'fifo', None, 'EUR'): "2dda4ac42aed90809bad1170bb24b4a411de3842abaa7b8d7959e3488441966e",
    (12, 'us', 'fifo', 'Pacific/Kiritimati', None): "2f1d86bf916bb87061fd8bf84b309ee625d452c41c74a032f95949514a622e9e",
    (12, 'us', 'fifo', 'Pacific/Kiritimati', 'EUR'): "286dff2b40a7ff095f2c06798aa216b4fa56d35fb5f6f3909cd8ad110f97a7a4",
    (12, 'us', 'fifo', 'Etc/GMT+12', None): "5f5dfb4d73bc138144ee7b309c9ba3273e68283ac1061c72135fd16166d51303",
    (12, 'us', 'fifo', 'Etc/GMT+12', 'EUR'): "d5fbaed760274f6619d2f050b22d95f03820a001e634f9266bb8673250f023cd",
    (12, 'us', 'fifo', 'America/New_York', None): "94643886e10bff2fac27cd741c6f25388f51970adc3acb095c067e6a69912b5a",
    (12, 'us', 'fifo', 'America/New_York', 'EUR'): "2dda4ac42aed90809bad1170bb24b4a411de3842abaa7b8d7959e3488441966e",
    (12, 'us', 'hifo', None, None): "bf6c45d904343682ea1a1f4ec5f433f9c13d70df011c854515b7fd0ab9fa253f",
    (12, 'us', 'hifo', None, 'EUR'): "43222aa5b5f534f577c3700f9ee7fa296e96af276305b00a94b72347b3630263",
    (12, 'de', 'fifo', None, None): "155299d8b823ff817e0d6eea93e7a5bd330d1a79bddcfe778b9d1e4a8f20071d",
    (12, 'de', 'fifo', None, 'EUR'): "155299d8b823ff817e0d6eea93e7a5bd330d1a79bddcfe778b9d1e4a8f20071d",
    (12, 'de', 'fifo', 'Pacific/Apia', None): "51315264cbec4c41e6db4e538d2ffb47ce17ebafacc8f40b95681fe1fc7f3afd",
    (12, 'de', 'fifo', 'Pacific/Apia', 'EUR'): "51315264cbec4c41e6db4e538d2ffb47ce17ebafacc8f40b95681fe1fc7f3afd",
    (12, 'au', 'fifo', None, None): "630d75ea40f9b0f581aa455f089ce10644f37b0b49a5f5742590c2642029ddec",
    (12, 'au', 'fifo', None, 'EUR'): "0d001a34c92780b67e279efe8e00e888d4495d77a979811ed8be8c78c0d3a160",
    (12, 'au', 'fifo', 'Etc/GMT-14', None): "0e36e28d18eb543510d9cd8ec3eecfad8c9bcae0fa6080c73d84f57bb0211f57",
    (12, 'au', 'fifo', 'Etc/GMT-14', 'EUR'): "ae78f22c72b8e41771c1f5a10e5d421ab4b5dbf338797d416916d84ee1352647",
    (12, 'uk', None, None, None): "4c09e48374528c0ebe0edfffef03fac6fd104c3fe15b6d9155b78ddf927c4fa5",
    (12, 'uk', None, None, 'EUR'): "cfab74503b5e34240aadf7051adc35fb56292bdc16f4656fe7ffd3d5f18dc5ea",
    (12, 'ca', None, None, None): "4ed7dbc3c0501a36b8f7c32d90608c7f3c5eb40ab0eb823b5f190ca6f923102b",
    (12, 'ca', None, None, 'EUR'): "3257f0da8bd7bfffe20769088b4104c0d4d998b24662b4e5fe0d1cb5f7e1a253",
}


@pytest.fixture(autouse=True)
def _standard_decimal_context():  # noqa: ANN202
    """Build the ledgers and rates in the standard context, as ``test_gains_years_differential`` does."""
    import decimal

    from taxreport.model.money import MONEY_CONTEXT

    with decimal.localcontext(MONEY_CONTEXT):
        yield


def test_the_ledgers_reach_the_new_paths() -> None:
    """Sales on both sides of the window (decided by the elapsed time) and inside it (dated), and split sales."""
    from taxreport.jurisdictions.engine import _sure_holding

    sure_long, sure_short = _sure_holding(1)
    inside = outside = 0
    for seed in (11, 12):
        events = held_ledger(seed)
        bought: dict[str, datetime] = {}
        for e in events:
            if e.side == "buy":
                bought.setdefault(e.account, e.time)  # the account's first lot
        for e in events:
            if e.side == "sell":
                held = e.time - bought[e.account]
                inside += sure_short < held < sure_long
                outside += not sure_short < held < sure_long
    assert inside > 40 and outside > 60


@pytest.mark.parametrize("key", CASES, ids=[repr(k) for k in CASES])
def test_byte_identical_to_main_bdfefcf(key: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    from mains_sentences import rates_and_gifts_as_main

    rates_and_gifts_as_main(monkeypatch)  # main's rate and gift notes (tests/mains_sentences.py)
    assert digest(key) == MAIN_BDFEFCF[key]


if __name__ == "__main__":  # print the table (run with main's code: see the module docstring)
    import decimal

    from taxreport.model.money import MONEY_CONTEXT

    with decimal.localcontext(MONEY_CONTEXT):  # as the fixture above
        for k in CASES:
            print(f"    {k!r}: \"{digest(k)}\",")
