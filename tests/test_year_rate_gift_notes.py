"""A tax year's rate and gift notes speak of that year: ``rates: ROUTE (N valuation(s))`` counts the valuations
whose moment lies in the year's UTC ``[start, end)`` (the engine's context: AU 1 July to 30 June in Sydney time, UK
6 April to 5 April in London time), and ``N gift(s) given: no disposal for the donor in ...`` the gifts given in the
year. A year's computation values every event from the ledger's first one to its cutoff (the earlier years for the
lots, the UK's 30 days after the year end for its matching rules, a day for time zones): before round 11 its note
counted all of those, so an AU year with no trade of its own repeated the year before's count, and every US year said
"3 gift(s) given" of a ledger with one gift in 2023 and two in 2024. The one-year path and the every-year pass
(``gains -y all``) give the same notes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root

# The canonical trade CSV (README "The canonical trade CSV"), USD-quoted: an AU ledger (amounts in AUD) needs
# USD->AUD for each trade, one valuation per trade. The AU year 2023-24 starts at 1 July 2023 00:00 in Sydney
# (AEST, UTC+10) = 2023-06-30T14:00:00Z: K-3 (10:00Z) is 2022-23's, K-4 (16:00Z, same UTC day, same daily rate) 2023-24's.
TRADES = """timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id
2023-01-05T10:00:00Z,kraken:main,buy,BTC,USD,1.0,20000,0,USD,K-1
2023-03-05T10:00:00Z,kraken:main,sell,BTC,USD,0.2,25000,0,USD,K-2
2023-06-30T10:00:00Z,kraken:main,sell,BTC,USD,0.1,30000,0,USD,K-3
2023-06-30T16:00:00Z,kraken:main,sell,BTC,USD,0.1,30100,0,USD,K-4
2023-08-05T10:00:00Z,kraken:main,sell,BTC,USD,0.1,29000,0,USD,K-5
2024-02-05T10:00:00Z,kraken:main,sell,BTC,USD,0.1,45000,0,USD,K-6
"""
RATES = """timestamp,base,quote,rate
2023-01-05,USD,AUD,1.45
2023-03-05,USD,AUD,1.50
2023-06-30,USD,AUD,1.51
2023-08-05,USD,AUD,1.55
2024-02-05,USD,AUD,1.52
2023-01-05,USD,GBP,0.83
2023-03-05,USD,GBP,0.82
2023-06-30,USD,GBP,0.79
2023-08-05,USD,GBP,0.78
2024-02-05,USD,GBP,0.79
2024-04-20,USD,GBP,0.80
"""
ROUTE = "rates: USD/{} from file:rates.csv ({} valuation(s))"
RULE = "rate rule: latest rate at or before each moment on the same UTC day"
GIFT = ("{} gift(s) given: no disposal for the donor in United States (the lots leave without gain or loss; "
        "see taxreport/jurisdictions/gifts.py)")


def _rate_and_gift(notes: list[str]) -> list[str]:
    return [n for n in notes if n.startswith(("rates: ", "rate rule: ")) or " gift(s) given: " in n]


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    (tmp_path / "trades.csv").write_text(TRADES)
    (tmp_path / "rates.csv").write_text(RATES)
    base = ["--db", str(tmp_path / "ledger.sqlite3")]
    for args in (["import", "csv", str(tmp_path / "trades.csv"), "--account", "kraken:main"],
                 ["prices", "import", str(tmp_path / "rates.csv")]):
        done = CliRunner().invoke(root, [*base, *args], catch_exceptions=False)
        assert done.exit_code == 0, done.output
    return base


def _add(base: list[str], *args: str) -> None:
    done = CliRunner().invoke(root, [*base, "ledger", "add", *args], catch_exceptions=False)
    assert done.exit_code == 0, done.output


def _gains(base: list[str], code: str, year: str) -> object:
    result = CliRunner().invoke(root, [*base, "gains", "-j", code, "--year", year, "--format", "json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _notes_per_year(base: list[str], code: str, years: list[str]) -> dict[str, list[str]]:
    """Each year's notes from its one-year call, checked equal (all of them, in order) to the ``-y all`` pass's."""
    every = _gains(base, code, "all")
    assert isinstance(every, list)
    passed = {d["year"]: d["notes"] for d in every}
    out = {}
    for year in years:
        alone = _gains(base, code, year)
        assert isinstance(alone, dict)
        if year in passed:
            assert passed[year] == alone["notes"]
        out[year] = _rate_and_gift(alone["notes"])
    return out


def test_au_years_count_their_own_valuations(db: list[str]) -> None:
    # 2022-23: K-1, K-2, K-3 = 3 valuations of USD in AUD; 2023-24: K-4, K-5, K-6 = 3; 2024-25: none of its own
    # (before: 3, 6 and 6: every valuation from the ledger's first trade to the year's cutoff). The rule line speaks
    # of every rate the year's figures rest on (its lots' costs were valued by it in the earlier years).
    assert _notes_per_year(db, "au", ["2022-23", "2023-24", "2024-25"]) == {
        "2022-23": [ROUTE.format("AUD", 3), RULE],
        "2023-24": [ROUTE.format("AUD", 3), RULE],
        "2024-25": [RULE]}


def test_uk_year_leaves_out_the_30_days_after_it(db: list[str]) -> None:
    # UK 2023-24 is 6 April 2023 to 5 April 2024 (London). Its computation reads 30 days past the end (TCGA 1992
    # s106A(5), the bed-and-breakfast rule) and so values the buy of 20 April 2024 too, but that valuation is
    # 2024-25's. 2022-23: K-1, K-2 = 2; 2023-24: K-3..K-6 = 4 (before: 5); 2024-25: the buy = 1 (before: 7).
    _add(db, "trade", "--time", "2024-04-20T10:00:00Z", "--account", "kraken:main", "--side", "buy", "--base", "BTC",
         "--quote", "USD", "--quantity", "0.1", "--price", "60000", "--id", "K-7")
    assert _notes_per_year(db, "uk", ["2022-23", "2023-24", "2024-25"]) == {
        "2022-23": [ROUTE.format("GBP", 2), RULE],
        "2023-24": [ROUTE.format("GBP", 4), RULE],
        "2024-25": [ROUTE.format("GBP", 1), RULE]}


def test_us_years_count_their_own_gifts(db: list[str]) -> None:
    # one gift in 2023, two in 2024 (the second after the 2024 sales); a US gift is no disposal for the donor
    # (IRC s1015(a)). Before: "3 gift(s) given" in 2023 and 2024 alike (every gift of the ledger).
    for time, gift in (("2023-04-01T00:00:00Z", "G-1"), ("2024-03-01T00:00:00Z", "G-2"),
                       ("2024-09-01T00:00:00Z", "G-3")):
        _add(db, "gift-out", "--time", time, "--account", "kraken:main", "--asset", "BTC", "--quantity", "0.05",
             "--id", gift)
    assert _notes_per_year(db, "us", ["2023", "2024", "2025"]) == {
        "2023": [GIFT.format(1)], "2024": [GIFT.format(2)], "2025": []}


SWAP = ("{} crypto-to-crypto swap leg(s) valued at the market value of the other side of the swap because no rate "
        "was stored for the side the rule names")


def test_us_years_count_their_own_swap_legs_valued_by_the_other_side(tmp_path: Path) -> None:
    # USDT priced (peg USDT=USD), BTC not: each buy of BTC for USDT has two legs (the BTC acquired, the USDT given)
    # that the US rule values at what is received (the BTC: no rate), so both take the value of the USDT given
    # (tests/test_lots_valuation.py). One buy in 2023 (2 legs), two in 2024 (4 legs). Before: 2023 said 2 and
    # 2024 said 6 (every leg from the ledger's first event to the year's cutoff).
    (tmp_path / "t.csv").write_text(
        "timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id\n"
        "2023-02-01T10:00:00Z,okx:main,buy,BTC,USDT,0.1,20000,0,USDT,S-1\n"
        "2024-02-01T10:00:00Z,okx:main,buy,BTC,USDT,0.1,40000,0,USDT,S-2\n"
        "2024-03-01T10:00:00Z,okx:main,buy,BTC,USDT,0.1,60000,0,USDT,S-3\n")
    base = ["--db", str(tmp_path / "ledger.sqlite3")]
    done = CliRunner().invoke(root, [*base, "ledger", "add", "deposit", "--time", "2023-01-01T00:00:00Z", "--account",
                                     "okx:main", "--asset", "USDT", "--quantity", "20000", "--cost", "20000",
                                     "--cost-currency", "USD", "--id", "D-1"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    done = CliRunner().invoke(root, [*base, "import", "csv", str(tmp_path / "t.csv")], catch_exceptions=False)
    assert done.exit_code == 0, done.output

    def swap_notes(year: str) -> list[str]:
        result = CliRunner().invoke(root, [*base, "gains", "-j", "us", "--year", year, "--peg", "USDT=USD",
                                           "--format", "json"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        got = json.loads(result.output)
        notes = got["notes"] if isinstance(got, dict) else {d["year"]: d["notes"] for d in got}
        return notes

    every = swap_notes("all")
    for year, legs in (("2023", 2), ("2024", 4)):
        alone = swap_notes(year)
        assert alone == every[year]  # the one-year call and the -y all pass: the same notes
        assert [n.split(";")[0].split(" (an ASSUMPTION")[0] for n in alone if "swap leg(s)" in n] == [SWAP.format(legs)]
