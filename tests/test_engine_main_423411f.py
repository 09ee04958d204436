"""Byte identity with main (423411f) of the engine's round-3 speed work (issue 14: the pricer's per-asset memo,
the fused valuation of fiat trades, the matching loop's inline FIFO): every year's ``gains --format json``
document (or error) of seeded random ledgers, one pass for every year and one year alone, in every country and
method, with the options that reach the changed code (a universal pool until a moment, zero cost, a time zone,
``--via``, ``--peg``, ``--rate-lookback``), rate tables that reach the memo's edges (several rates within a day,
days without a rate: the error must list every gap in the same order), and UK/CA ledgers with buys back on the day
of a sale and 10 days after it (same-day, 30-day "bed and breakfast", superficial loss).

The ledgers and the daily rates are those of ``tests/test_gains_years_differential.py`` (trades against USD, swaps,
fees in a third coin, deposits, withdrawals, transfers, gifts, income, a reversal, identifications, three
accounts); ``_intraday`` adds rates within the day (candle closes at odd hours) and drops some days. The hashes
below were computed by main's code (``/work/main`` at 423411f) with ``python tests/test_engine_main_423411f.py``;
recompute them with main's code, never with this branch's, if the generator changes.
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
from mains_sentences import as_main, count_as_main, rates_and_gifts_as_main  # noqa: E402
from test_gains_years_differential import _rates, _years, ledger, with_records  # noqa: E402

from taxreport.cli.common import json_text  # noqa: E402
from taxreport.cli.gains_cmd import summary_json  # noqa: E402
from taxreport.errors import TaxreportError  # noqa: E402
from taxreport.gains import GainsRequest, compute_request, compute_request_years  # noqa: E402
from taxreport.model.events import Side, Trade  # noqa: E402
from taxreport.prices.rates import RateTable  # noqa: E402


def _intraday(table: RateTable, seed: int, drop: bool) -> RateTable:
    """``table`` plus, for some days, a later rate within the day (a candle close at an odd hour), and (``drop``)
    without the USD and BTC rates of some days (gaps)."""
    rng = random.Random(seed)
    rows = []
    for (base, quote), times in table._times.items():
        for t, (rate, source) in zip(times, table._values[(base, quote)]):
            if drop and base in ("USD", "BTC") and rng.random() < 0.02:
                continue
            rows.append((base, quote, t, rate, source))
            if rng.random() < 0.1:
                later = t + timedelta(seconds=rng.randint(3600, 80000))
                rows.append((base, quote, later, (rate * Decimal(str(rng.uniform(0.97, 1.03)))).quantize(rate),
                             source))
    return RateTable.from_rows(rows)


def _bed_and_breakfast(events: list, seed: int) -> list:
    """``events`` plus, for every fourth sale, a buy of the same coin in the same account an hour later (the same-day
    rule) and another 10 days later (the UK 30-day rule, the Canadian superficial loss), in time order."""
    rng = random.Random(seed)
    extra = []
    sales = [e for e in events if type(e) is Trade and e.side is Side.SELL]
    for i, sale in enumerate(sales[::4]):
        for n, later in enumerate((timedelta(hours=1), timedelta(days=10))):
            extra.append(Trade(time=sale.time + later, source="test", external_id=f"bnb{i}-{n}", account=sale.account,
                               side="buy", base=sale.base, quote="USD", quantity=(sale.quantity * Decimal(
                                   str(rng.uniform(0.3, 1.5)))).quantize(Decimal("0.00000001")), price=sale.price))
    return sorted(events + extra, key=lambda e: e.time)


def _doc(result: object) -> str:
    if isinstance(result, BaseException):
        return f"ERROR {type(result).__name__}: {result}"
    return as_main(json_text(summary_json(result)))  # type: ignore[arg-type]  # main's sentences (mains_sentences)


CASES: list[tuple] = []
for _seed in (3, 4):
    for _code, _methods in (("us", ("fifo", "lifo", "hifo", "specific")), ("uk", (None,)), ("de", ("fifo", "lifo")),
                            ("au", ("fifo", "specific")), ("ca", (None,))):
        for _method in _methods:
            for _opt in ("plain", "intraday", "gaps"):
                CASES.append((_seed, _code, _method, _opt))
    CASES += [(_seed, "us", "fifo", "universal"), (_seed, "us", "fifo", "zone"), (_seed, "uk", None, "zone"),
              (_seed, "us", "fifo", "zero"), (_seed, "uk", None, "via"), (_seed, "de", "fifo", "peg"),
              (_seed, "au", "fifo", "lookback"), (_seed, "uk", None, "bnb"), (_seed, "uk", None, "bnb-zone"),
              (_seed, "ca", None, "bnb")]


def digest(key: tuple) -> str:
    seed, code, method, opt = key
    table = _rates(random.Random(seed), None)
    if opt in ("intraday", "gaps", "lookback", "via"):
        table = _intraday(table, seed, drop=opt != "intraday")
    events = ledger(seed)
    if method in ("specific", None) and code in ("us", "au"):
        events = with_records(events, table, seed, code)
    options: dict = {}
    if opt == "universal":
        options = {"universal_until": datetime(2023, 1, 1, 5, tzinfo=timezone.utc)}
    elif opt == "zone":
        options = {"timezone": "America/Los_Angeles"}
    elif opt == "zero":
        options = {"zero_cost_assets": ("BTC", "ETH", "SOL")}
        events = ledger(seed, shortfall=True)
    elif opt == "via":
        options = {"via": ("USD",)}
    elif opt == "peg":
        options = {"peg": {"BNB": "USD"}}
    elif opt == "lookback":
        options = {"rate_lookback_days": 1}
    elif opt.startswith("bnb"):
        events = _bed_and_breakfast(events, seed)
        if opt == "bnb-zone":
            options = {"timezone": "Asia/Tokyo"}
    years = _years(code)
    request = GainsRequest(code, years[0], method=method, **options)
    h = hashlib.sha256()
    found = compute_request_years(events, table, request, years)
    for y in years:
        h.update(_doc(found[y]).encode() + b"\0")
    try:
        alone: object = compute_request(events, table, request)  # the one-year path (value_events)
    except TaxreportError as exc:
        alone = exc
    h.update(_doc(alone).encode())
    return h.hexdigest()


MAIN_423411F: dict[tuple, str] = {
    (3, 'us', 'fifo', 'plain'): "e612346def09ebf19b64c86ce419c4855ae324f8b9157196355fcd4c2f7c4647",
    (3, 'us', 'fifo', 'intraday'): "486e17cd272111d31ccad2facbe178e14227607f75d57e8fc1fbe7e826e5f480",
    (3, 'us', 'fifo', 'gaps'): "41dcab3c0844be511d7865d75c7a642281ead9cdf8f33d55ddb3271a11f0bf93",
    (3, 'us', 'lifo', 'plain'): "1ebc9f90483b78c14fe43adf65916d9ede9125d6f394901dbcd71be15e1ca08b",
    (3, 'us', 'lifo', 'intraday'): "5cc3459d01a9168db2ecc1d27fd0e0b78988d6c0f3d03e703f19ab4172497578",
    (3, 'us', 'lifo', 'gaps'): "36aa9c8e89c76b6312097f877e3a2bdd0161f00aa414ca1a1674107cbf20d13e",
    (3, 'us', 'hifo', 'plain'): "2660279730b80e1d063ed14fc495ed1bcc8025f6f09e0ec1be82c50e4da5e852",
    (3, 'us', 'hifo', 'intraday'): "46bee129d2de3d4f43c31c2c1582b795673fbfb9f34e8b8cfbf7d5586aa87c1e",
    (3, 'us', 'hifo', 'gaps'): "e655f1a89a38ee41889a4824f72eea8cff1eb024100616c72216d4774569cc2f",
    (3, 'us', 'specific', 'plain'): "b3fbe2c541126d666861c27cd794ff9b210c862d632d2a57e27c250a914eacca",
    (3, 'us', 'specific', 'intraday'): "237d620e7559aef719fc16d0ed455f43fdf63d43f62238a0bc79a7b751afa754",
    (3, 'us', 'specific', 'gaps'): "fe4f98be583f9df29c2db1a2432d3c1e31e622287d20964d49121c2a29e8854c",
    (3, 'uk', None, 'plain'): "e86e6383f55787f77fecac603146dab155fa80dff3e74c129395dd065808cf2d",
    (3, 'uk', None, 'intraday'): "57ff99ca0e115881bd0b5ed75bb4bee86fe7a51a89cd73c4f3152c2026fabcce",
    (3, 'uk', None, 'gaps'): "d6934986a0e62d67df3efc6db982dab1b5a4325f5036d1b7df70c6dfcaf25869",
    (3, 'de', 'fifo', 'plain'): "2e04ea0d72a6edfaa995cab60bc7d8080b288e15ed1b9df7cc346d39b306f5eb",
    (3, 'de', 'fifo', 'intraday'): "b08d036a26f8436dc7075edab2e51252053dd27c98946dc04d5a9ef143636e0a",
    (3, 'de', 'fifo', 'gaps'): "995c357dcedfd8e5b568d7e47b065b3c2bfb9441707523c8b43e23489a107c5f",
    (3, 'de', 'lifo', 'plain'): "d99536c469ded0067aa2f8dc3e91c0f8d297a0b5d61e010190dce1e9355560e0",
    (3, 'de', 'lifo', 'intraday'): "22ec75a7d192412cb7090fd9289d590175a49e37a109dff44f4db1403d81967e",
    (3, 'de', 'lifo', 'gaps'): "0f09d62a39832c952bce18f55259acbae64a2062719cb42a35b33de8c77d870e",
    (3, 'au', 'fifo', 'plain'): "0bb9b7dd63b2c10d4d62a5fd7716737ba52c48c1894c8bf591a19677774926eb",
    (3, 'au', 'fifo', 'intraday'): "871f2b550c51a877c7291971c8da3ebf7771278d3b2be8a6d7f82ef7512ee896",
    (3, 'au', 'fifo', 'gaps'): "f195177fecc0e30da66efcebbdc80f1c2feed0cfc79d73bcab8fe3ce07aaa7a7",
    (3, 'au', 'specific', 'plain'): "2341c809b59a73a40d9ab43b6ac41bb679767c7e9b6be372358a6091ee21a5ea",
    (3, 'au', 'specific', 'intraday'): "645e32e9059b89c990e6145ed47bdee165a8f1191fd0e720dcb564c5495b856f",
    (3, 'au', 'specific', 'gaps'): "f195177fecc0e30da66efcebbdc80f1c2feed0cfc79d73bcab8fe3ce07aaa7a7",
    (3, 'ca', None, 'plain'): "a7c644a21c78ba7c9df6fb98c7bdfc1db960e58df1783a43d918aaa2f43bae09",
    (3, 'ca', None, 'intraday'): "4cd357bc64fbcc251edd4645ec1a5562c51b22a0993090cbcecd2e08ea30a919",
    (3, 'ca', None, 'gaps'): "065085b042ef64bfef95a3218ac887d63e5edcfa872fee5336861d9847e02670",
    (3, 'us', 'fifo', 'universal'): "aaead53da0c48b9a4d1254230b9d2d262530bd7be614f5fe014c4cf76790e79a",
    (3, 'us', 'fifo', 'zone'): "cc6204d0f16307fae363cbac75e5b5c3b900673d1e766a90da976f21d3d516f2",
    (3, 'uk', None, 'zone'): "db4c337c81f41c89d6a6894fd9ea60c7f3f41822b6ce82dda21cbd29661737cd",
    (3, 'us', 'fifo', 'zero'): "939a69b41923fff3aab7c7b4b55e32e2364f2d54141113ffe79deed72bdd1b36",
    (3, 'uk', None, 'via'): "265ed390a90b58400d8b3925afe6bc92cace3c1405b1c852a6f85160d16b5349",
    (3, 'de', 'fifo', 'peg'): "efe8f108f2e1cd984c5f6daaf77c2ec31878de7ec1a6ce9aefa403fec3831328",
    (3, 'au', 'fifo', 'lookback'): "104d9405c199816f9ec20a5459f16077abca79c064962382985ca31b25579ca1",
    (3, 'uk', None, 'bnb'): "0167f0f6bad26fa9be83dd904abbce98a85838fa016fbe9e6751c7d316481d38",
    (3, 'uk', None, 'bnb-zone'): "926d87212bf99ed17b343b2f07a664d55cd3f453825862a8432586f0f669791c",
    (3, 'ca', None, 'bnb'): "39a02aa7321582438fe74351298e3175c67106e4427201b2d6c279521ca51931",
    (4, 'us', 'fifo', 'plain'): "bd5449ba8ef0f76c7f7809be7ff1da61a9375391be6dbfe1582372002ddd4172",
    (4, 'us', 'fifo', 'intraday'): "784d5c4b31f7d790030e5e6d8b39972fb666686cd876d71b246ec22a727603a5",
    (4, 'us', 'fifo', 'gaps'): "c23ff34ec949310e01e39e15e8cd80f5d1cac04e4f0cb38741159c8757990a34",
    (4, 'us', 'lifo', 'plain'): "22ebf354b177c0d090d57b5b4e8ccbba956ee5b03072886ffc9702286d1a4c53",
    (4, 'us', 'lifo', 'intraday'): "57a8706fa006d324fdb33416847f03f5e2755d03aa1590fa4d774a491e9304d2",
    (4, 'us', 'lifo', 'gaps'): "f3e4f5d1f41cdf81d529405fd99373b289d8fab0c972741a6f6c0b8d38ca0048",
    (4, 'us', 'hifo', 'plain'): "1b3dc438cfd197571ff9bd9342d283617c6a6627332da92e38af0effa142b7a6",
    (4, 'us', 'hifo', 'intraday'): "de807859b7503ce54f9182d9d30d76e168fc0c5c9fa6fa82ed8a16ad50f27c04",
    (4, 'us', 'hifo', 'gaps'): "2793d860c0d364e420a9897087cc9966e021f2016b491cd779634ceb07467296",
    (4, 'us', 'specific', 'plain'): "c164b7353958315e9e046cb28af991bc81cbb15a36389a23ed3bfe684dac944e",
    (4, 'us', 'specific', 'intraday'): "0d2d569f7b4c0c5671cd03add53a926633f537d0d167775e5e31a70c3a796a3e",
    (4, 'us', 'specific', 'gaps'): "c164b7353958315e9e046cb28af991bc81cbb15a36389a23ed3bfe684dac944e",
    (4, 'uk', None, 'plain'): "cd0a6fa09f5dda6afa6bd36e595997930e9542192b272879aa810338df9b1ca3",
    (4, 'uk', None, 'intraday'): "adb1377b69e05c4070a3ddc751c64788ea9c4f9ec34011a095be3445f395df83",
    (4, 'uk', None, 'gaps'): "9b31c3336d55758b9f7f17fb9a38e63056afc6ed4302fbe69880bfb4b59508d2",
    (4, 'de', 'fifo', 'plain'): "9555fadbfafb5da5e295726bab96099a1742f8fdab5402e977fbb92430ef1247",
    (4, 'de', 'fifo', 'intraday'): "8ef13e4551582cd4859554829e255483ddc951b2640e18d914b957e888aff48b",
    (4, 'de', 'fifo', 'gaps'): "64e26886517ded6d72dec5f84300f70fef83e41d965924a50d46f9ad7366e693",
    (4, 'de', 'lifo', 'plain'): "224fcf021a95ee0963a76539cfa530d32a0843d3c937832ace50f257e9b8a76a",
    (4, 'de', 'lifo', 'intraday'): "5a56b007e4aa78de570830a2d5ef00766302c0819c6044f9ae9f85726541a179",
    (4, 'de', 'lifo', 'gaps'): "e6fb696c02582b318bae445d45b17cfcda4ac565d9869154d4c5e9d40db3b637",
    (4, 'au', 'fifo', 'plain'): "214b400cad82d9f46551a16173536041cadcf46965449cbd9471ce96bc582b01",
    (4, 'au', 'fifo', 'intraday'): "5a4ac32fda732069fe4bb76224b50364d1475ee50a2cad271fa5f63ee6053ee1",
    (4, 'au', 'fifo', 'gaps'): "bd5f1f35199253e25161502873edc3d4eba846c92d694b4bf56b8ead2e3e3b41",
    (4, 'au', 'specific', 'plain'): "2b32000e422bf7dfac377ac1f87537b80bfd42e0c492862736c760cef11b1631",
    (4, 'au', 'specific', 'intraday'): "7f7ed92ad4d4c267967f96f4712a773c51943909d310194bf804b7824cf6a5fa",
    (4, 'au', 'specific', 'gaps'): "d03bf0bc15077cd843c0d52593e18af88031ab0b46877bbe18df480222bc7f50",
    (4, 'ca', None, 'plain'): "ef206f88cc9275e08ee3dc70842c36af5086fd63f00c2e9ce8bb93eb17732e00",
    (4, 'ca', None, 'intraday'): "06be0e74e29a9020a844e4c7a8e5cea7245e71a0d47f3e873292ef25e6778452",
    (4, 'ca', None, 'gaps'): "c967697eb01725090dd373765b739822943131a4922855a323e4a50af87b0d5e",
    (4, 'us', 'fifo', 'universal'): "668a28553eabb6f1bb485d9a450638c4a75f094460b280918d3344de98f89e27",
    (4, 'us', 'fifo', 'zone'): "af37907a921107fc9a8a93c0b35beb85eaa957febebe13933da9a49e88e49d02",
    (4, 'uk', None, 'zone'): "034c5704fcdbb7fd4d2a4ae1cdd2371c55358f199c7832ac7a0a990ed5ed4bbc",
    (4, 'us', 'fifo', 'zero'): "e067f2e6a2a6b46342118603c5d0d4c728152338e90d07363805e350e31c7f53",
    (4, 'uk', None, 'via'): "9b31c3336d55758b9f7f17fb9a38e63056afc6ed4302fbe69880bfb4b59508d2",
    (4, 'de', 'fifo', 'peg'): "fc7732fe31e09e0edb5d5d8835799c678763c47aa525a492fad65dfc9616e53b",
    (4, 'au', 'fifo', 'lookback'): "a5b84e4bb0aa1dd8c590ea9c7217327b0b1e9d7a18da6cbeb67ef03f2311fc6c",
    (4, 'uk', None, 'bnb'): "0832658e2523a2693c0905eadb949a15cdf8993c5db1da3fb440aed199d5c614",
    (4, 'uk', None, 'bnb-zone'): "4fc1bd466f0c906be7fa96b1cb55c5bdc6a95da381a9ae5f334b6086590e7e77",
    (4, 'ca', None, 'bnb'): "e2cbc55598765007b362ffb2104da74efed06fb1158c33ae82636c9fc858f79d",
}


@pytest.fixture(autouse=True)
def _standard_decimal_context():  # noqa: ANN202
    """Build the ledgers and rates in the standard context, whatever an earlier test left (ccxt's
    decimal_to_precision sets the thread's rounding to half-up), as ``test_gains_years_differential`` does."""
    import decimal

    from taxreport.model.money import MONEY_CONTEXT

    with decimal.localcontext(MONEY_CONTEXT):
        yield


@pytest.mark.parametrize("key", CASES, ids=[repr(k) for k in CASES])
def test_byte_identical_to_main_423411f(key: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    count_as_main(monkeypatch)  # main's counting notes (tests/mains_sentences.py: a year in error hides its count)
    rates_and_gifts_as_main(monkeypatch)  # main's rate and gift notes (tests/mains_sentences.py)
    assert digest(key) == MAIN_423411F[key]


if __name__ == "__main__":  # print the table (run with main's code: see the module docstring)
    import decimal

    from taxreport.model.money import MONEY_CONTEXT

    with decimal.localcontext(MONEY_CONTEXT):  # as the fixture above
        for k in CASES:
            print(f"    {k!r}: \"{digest(k)}\",")
