"""Issue #12, items 1-4 and income: new event kinds, basis supplements, simulated accounts, own-transfer
matching, the review list and income per country. Pure parts first, then the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.errors import InputError
from taxreport.gains import compute_gains_from_events
from taxreport.jurisdictions.income import income_of_year
from taxreport.lots.own_transfers import match_own_transfers
from taxreport.model.codec import event_from_payload
from taxreport.model.events import (
    AccountDeclaration,
    BasisSupplement,
    Deposit,
    GiftIn,
    Income,
    Reversal,
    Trade,
    TransferLink,
    Withdrawal,
)
from taxreport.model.legs import LegKind, event_legs
from taxreport.model.money import D
from taxreport.prepare import apply_basis, prepare_events
from taxreport.prices.rates import Pricer, RateTable
from taxreport.review import review_events
from taxreport.simulated import declaration, simulated_accounts, without_simulated


def t(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def dep(account: str, asset: str, qty: str, when: datetime, ident: str, **kw) -> Deposit:
    return Deposit(time=when, source="csv", external_id=ident, account=account, asset=asset, quantity=D(qty), **kw)


def wd(account: str, asset: str, qty: str, when: datetime, ident: str, fee: str = "0", **kw) -> Withdrawal:
    return Withdrawal(time=when, source="csv", external_id=ident, account=account, asset=asset, quantity=D(qty),
                      fee=D(fee), **kw)


# --- model -------------------------------------------------------------------------------------------

def test_new_kinds_round_trip_through_their_payload():
    when = t("2024-03-01")
    events = [
        GiftIn(time=when, source="manual", account="cold", asset="btc", quantity=D("0.5"), cost=D("900"),
               cost_currency="usd", acquired_at=t("2021-03-01")),
        BasisSupplement(time=when, source="manual", target_key="deposit:csv:x", cost=D("10"), cost_currency="USD"),
        TransferLink(time=when, source="manual", withdrawal_key="withdrawal:a", deposit_key="deposit:b"),
        declaration("paper:core", "paper", time=when),
    ]
    for e in events:
        assert event_from_payload(e.to_payload()) == e
    assert events[0].asset == "BTC" and events[0].cost_currency == "USD"
    assert events[3].natural_key == "account:paper:paper:core"


def test_gift_in_validates_and_gives_a_lot():
    with pytest.raises(ValueError, match="cost_currency"):
        GiftIn(time=t("2024-03-01"), source="m", account="a", asset="BTC", quantity=D(1), cost=D(5))
    with pytest.raises(ValueError, match="acquired_at: is after"):
        GiftIn(time=t("2024-03-01"), source="m", account="a", asset="BTC", quantity=D(1), cost=D(5),
               cost_currency="USD", acquired_at=t("2024-04-01"))
    with_basis = GiftIn(time=t("2024-03-01"), source="m", account="a", asset="BTC", quantity=D(1), cost=D(5),
                        cost_currency="USD", acquired_at=t("2020-01-01"))
    [leg] = event_legs(with_basis)
    assert (leg.kind, leg.value_quantity, leg.acquired_at) == (LegKind.MOVE_IN, D(5), t("2020-01-01"))
    [leg] = event_legs(GiftIn(time=t("2024-03-01"), source="m", account="a", asset="BTC", quantity=D(1)))
    assert (leg.kind, leg.value_asset) == (LegKind.ACQUIRE, None)  # market value on receipt
    assert event_legs(declaration("p", "paper", time=t("2024-01-01"))) == []


# --- simulated accounts ------------------------------------------------------------------------------

def test_simulated_accounts_are_declared_not_named_and_a_reversal_undeclares():
    paper_trade = Trade(time=t("2024-02-01"), source="paper", external_id="1", account="sim:x", side="buy",
                        base="BTC", quote="USDT", quantity=D("0.1"), price=D("50000"))
    named_paper = Trade(time=t("2024-02-01"), source="csv", external_id="2", account="paper:looks-fake",
                        side="buy", base="BTC", quote="USDT", quantity=D("0.1"), price=D("50000"))
    decl = declaration("sim:x", "paper", time=t("2024-01-01"))
    kept = without_simulated([decl, paper_trade, named_paper])
    assert kept == [named_paper]  # the name decides nothing; the declaration does
    assert without_simulated([decl, paper_trade], include=True) == [decl, paper_trade]
    undone = Reversal(time=t("2024-03-01"), source="manual", target_key=decl.natural_key, reason="test")
    assert simulated_accounts([decl, paper_trade, undone]) == {}


# --- own transfers -----------------------------------------------------------------------------------

def test_withdrawal_and_deposit_within_the_fee_and_window_become_one_transfer():
    w = wd("okx:main", "BTC", "0.05", t("2024-08-01", 10), "w1", fee="0.0005")
    d = dep("kraken:main", "BTC", "0.05", t("2024-08-01", 11), "d1")
    m = match_own_transfers([w, d])
    [tr] = m.matched
    # q + f = 0.0505 leaves okx, 0.05 arrives: the 0.0005 fee is the transfer's disposal.
    assert (tr.from_account, tr.to_account, tr.quantity, tr.fee) == ("okx:main", "kraken:main", D("0.0505"),
                                                                      D("0.0005"))
    assert tr.natural_key == w.natural_key and m.events == [tr]
    # The fee taken out of the amount instead: 0.0495 arrives, still within the fee.
    m2 = match_own_transfers([w, dep("kraken:main", "BTC", "0.0495", t("2024-08-01", 11), "d2")])
    assert m2.matched[0].fee == D("0.001")


@pytest.mark.parametrize("qty,when,account,why", [
    ("0.0494", t("2024-08-01", 11), "kraken:main", "differs by more than the fee"),
    ("0.05", t("2024-08-04", 11), "kraken:main", "outside the 48 hour window"),
    ("0.05", t("2024-07-31", 11), "kraken:main", "arrives before it left"),
    ("0.05", t("2024-08-01", 11), "okx:main", "same account"),
])
def test_what_does_not_fit_is_not_matched(qty, when, account, why):
    w = wd("okx:main", "BTC", "0.05", t("2024-08-01", 10), "w1", fee="0.0005")
    m = match_own_transfers([w, dep(account, "BTC", qty, when, "d1")])
    assert m.matched == [] and len(m.unmatched_withdrawals) == 1 and len(m.unmatched_deposits) == 1, why


def test_two_candidates_are_ambiguous_until_the_user_links_one():
    w = wd("okx:main", "ETH", "1", t("2024-08-01", 10), "w1")
    d1 = dep("kraken:main", "ETH", "1", t("2024-08-01", 11), "d1")
    d2 = dep("coinbase:main", "ETH", "1", t("2024-08-01", 12), "d2")
    m = match_own_transfers([w, d1, d2])
    assert m.matched == [] and m.ambiguous == [(w, [d1, d2])]
    link = TransferLink(time=t("2024-09-01"), source="manual", withdrawal_key=w.natural_key,
                        deposit_key=d2.natural_key)
    m = match_own_transfers([w, d1, d2, link])
    assert [x.to_account for x in m.matched] == ["coinbase:main"] and m.unmatched_deposits == [d1]
    bad = TransferLink(time=t("2024-09-01"), source="manual", withdrawal_key=w.natural_key, deposit_key="nope")
    with pytest.raises(InputError, match="nope"):
        match_own_transfers([w, d1, bad])


def test_a_matched_transfer_moves_the_lot_with_its_date_and_cost():
    # Bought 1 BTC for 30,000 USD on okx (2024-01-10), sent to kraken (fee 0.001 BTC at 40,000 = 40 USD
    # proceeds, cost 30 USD: gain 10), sold there 2025-02-01 for 50,000: held > 1 year from 2024-01-10, so
    # the kraken sale is LONG-term (IRS Pub. 544; the date travels with the lot), gain 0.999*(50000-30000)
    # = 19,980.
    buy = Trade(time=t("2024-01-10"), source="csv", external_id="b", account="okx:main", side="buy", base="BTC",
                quote="USD", quantity=D(1), price=D(30000))
    w = wd("okx:main", "BTC", "0.999", t("2024-06-01", 10), "w", fee="0.001")
    d = dep("kraken:main", "BTC", "0.999", t("2024-06-01", 12), "d")
    sell = Trade(time=t("2025-02-01"), source="csv", external_id="s", account="kraken:main", side="sell",
                 base="BTC", quote="USD", quantity=D("0.999"), price=D(50000))
    table = RateTable.from_rows([("BTC", "USD", t("2024-06-01", 0), D(40000), "test")])
    s2025 = compute_gains_from_events([buy, w, d, sell], table, jurisdiction="us", year="2025")
    [sale] = s2025.disposals
    assert (sale.term, sale.cost, sale.gain) == ("long", D("29970"), D("19980"))
    s2024 = compute_gains_from_events([buy, w, d, sell], table, jurisdiction="us", year="2024")
    [fee] = s2024.disposals
    assert (fee.quantity, fee.proceeds, fee.cost, fee.gain) == (D("0.001"), D("40"), D("30"), D("10"))


# --- basis supplements -------------------------------------------------------------------------------

def test_a_basis_supplement_gives_the_deposit_its_cost_and_keeps_its_key():
    d = dep("okx:main", "USDT", "1000", t("2024-07-01"), "dep-1")
    s = BasisSupplement(time=t("2024-12-01"), source="manual", target_key=d.natural_key, cost=D("1000"),
                        cost_currency="USD", acquired_at=t("2024-06-30"))
    [out, _] = apply_basis([d, s])
    assert isinstance(out, Deposit) and out.cost == D(1000) and out.acquired_at == t("2024-06-30")
    assert out.natural_key == d.natural_key
    twice = BasisSupplement(time=t("2024-12-02"), source="manual", target_key=d.natural_key, cost=D("1"),
                            cost_currency="USD")
    with pytest.raises(InputError, match="two cost bases"):
        apply_basis([d, s, twice])
    undone = Reversal(time=t("2024-12-03"), source="manual", target_key=s.natural_key, reason="wrong")
    assert prepare_events([d, s, twice, undone]).events[0].cost == D(1)  # the reversal leaves one
    with pytest.raises(InputError, match="not a deposit"):
        apply_basis([BasisSupplement(time=t("2024-12-01"), source="manual", target_key="deposit:x", cost=D(1),
                                     cost_currency="USD")])


# --- income ------------------------------------------------------------------------------------------

def _income(kind: str, value: str, day: str = "2024-10-01") -> Income:
    return Income(time=t(day, 0), source="csv", external_id=f"{kind}{value}{day}", account="okx:main",
                  asset="ETH", quantity=D("0.1"), income_type=kind, value=D(value), value_currency="USD")


@pytest.mark.parametrize("code,currency,rate,total,not_income,taxable", [
    # US: staking 250 + airdrop 100 are both ordinary income (Rev. Rul. 2023-14, Rev. Rul. 2019-24).
    ("us", "USD", "1", "350", "0", "350"),
    # UK: staking 250 x 0.8 = 200 misc income; the airdrop (100 x 0.8 = 80) is not income (CRYPTO21250).
    ("uk", "GBP", "0.8", "200.0", "80.0", "200.0"),
    # DE: staking 250 x 0.9 = 225 is § 22 Nr. 3 income, below the 256 EUR Freigrenze: nothing taxable;
    # the airdrop (90) is not income (BMF letter).
    ("de", "EUR", "0.9", "225.0", "90.0", "0"),
    ("au", "AUD", "1.5", "525.0", "0", "525.0"),  # ATO: both ordinary income, 350 x 1.5
    ("ca", "CAD", "1.4", "490.0", "0", "490.0"),  # CRA guide: income, 350 x 1.4
])
def test_income_is_income_per_country(code, currency, rate, total, not_income, taxable):
    rows = [] if currency == "USD" else [("USD", currency, t("2024-10-01", 0), D(rate), "test")]
    pricer = Pricer(RateTable.from_rows(rows), currency)
    events = [_income("staking", "250"), _income("airdrop", "100"), _income("staking", "999", "2023-10-01")]
    report = income_of_year(events, pricer, jurisdiction=code, start=t("2024-01-01", 0), end=t("2025-01-01", 0))
    pricer.raise_if_missing()
    assert (report.total, report.not_income, report.taxable) == (D(total), D(not_income), D(taxable))
    assert len(report.items) == 2  # the 2023 item is another year


def test_de_income_at_the_freigrenze_is_all_taxable():
    # § 22 Nr. 3 Satz 2 EStG: not taxable if *less than* 256 EUR; 256 exactly is taxable in full.
    pricer = Pricer(RateTable.from_rows([]), "EUR")
    ev = Income(time=t("2024-10-01"), source="csv", account="a", asset="ETH", quantity=D(1), income_type="staking",
                value=D(256), value_currency="EUR")
    report = income_of_year([ev], pricer, jurisdiction="de", start=t("2024-01-01", 0), end=t("2025-01-01", 0))
    assert report.taxable == D(256)


# --- review (pure) -----------------------------------------------------------------------------------

def test_review_lists_each_problem_with_its_fix():
    no_basis = dep("okx:main", "USDT", "1000", t("2024-07-01"), "dep-1")
    out = wd("okx:main", "BTC", "0.5", t("2024-08-01"), "w-1")  # nothing arrives anywhere
    back = dep("okx:main", "BTC", "0.2", t("2024-10-01"), "dep-2")  # from the own wallet, later
    oversold = Trade(time=t("2024-09-01"), source="csv", external_id="s", account="okx:main", side="sell",
                     base="ETH", quote="USDT", quantity=D(2), price=D(2000))
    gift = GiftIn(time=t("2024-09-02"), source="csv", account="okx:main", asset="SOL", quantity=D(3))
    lost = wd("okx:main", "SOL", "1", t("2024-09-03"), "l-1", purpose="lost", value=D(0), value_currency="USD")
    given = wd("okx:main", "SOL", "1", t("2024-09-04"), "g-1", purpose="gift")
    sim = declaration("paper:core", "paper", time=t("2024-01-01"))
    items = {(i.kind, i.ref): i for i in review_events([no_basis, out, back, oversold, gift, lost, given, sim])}
    basis_item = items[("deposit_without_basis", no_basis.natural_key)]
    assert basis_item.blocking and basis_item.fix.startswith(f"taxreport ledger basis {no_basis.natural_key} --cost")
    assert not items[("unmatched_transfer", out.natural_key)].blocking
    assert "withdrawn earlier to an own wallet" in items[("unmatched_transfer", back.natural_key)].explanation
    assert items[("negative_balance", oversold.natural_key)].blocking
    assert "-2 ETH" in items[("negative_balance", oversold.natural_key)].explanation
    assert items[("gift_without_basis", gift.natural_key)].fix.startswith("taxreport ledger basis")
    assert "165(h)(5)" in items[("lost_coins", lost.natural_key)].explanation
    assert not items[("simulated_account", sim.natural_key)].blocking
    assert "IRC §1015" in items[("gift_given", given.natural_key)].explanation
    assert len(items) == 9  # no other item; BTC out 0.5 then 0.2 back is never negative


# --- CLI ---------------------------------------------------------------------------------------------

def cli_runner(db):
    def call(*args: str, ok: bool = True):
        result = CliRunner().invoke(root, ["--db", db, *args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result
    return call


@pytest.fixture
def cli(tmp_path):
    return cli_runner(str(tmp_path / "l.sqlite3"))


def test_ledger_add_every_kind_and_the_old_form(cli):
    base = ["--time", "2024-07-01T10:00:00Z"]
    cli("ledger", "add", "deposit", *base, "--account", "okx:main", "--asset", "USDT", "--quantity", "1000",
        "--cost", "1000", "--cost-currency", "USD")
    cli("ledger", "add", *base, "--account", "okx:main", "--side", "buy", "--base", "BTC", "--quote", "USDT",
        "--quantity", "0.01", "--price", "60000")  # no kind: a trade, as before
    cli("ledger", "add", "trade", "--time", "2024-07-02T10:00:00Z", "--account", "okx:main", "--side", "buy",
        "--base", "ETH", "--quote", "USDT", "--quantity", "0.1", "--price", "3000")
    cli("ledger", "add", "withdrawal", *base, "--account", "okx:main", "--asset", "BTC", "--quantity", "0.004",
        "--fee", "0.0001")
    cli("ledger", "add", "transfer", *base, "--from", "okx:main", "--to", "kraken:main", "--asset", "USDT",
        "--quantity", "10", "--fee", "1")
    cli("ledger", "add", "income", *base, "--account", "okx:main", "--asset", "ETH", "--quantity", "0.01",
        "--kind", "staking", "--value", "30", "--value-currency", "USD")
    cli("ledger", "add", "gift-in", *base, "--account", "cold", "--asset", "BTC", "--quantity", "0.1")
    cli("ledger", "add", "gift-out", *base, "--account", "okx:main", "--asset", "ETH", "--quantity", "0.01")
    cli("ledger", "add", "lost", *base, "--account", "okx:main", "--asset", "ETH", "--quantity", "0.01")
    rows = json.loads(cli("ledger", "list", "--format", "json").output)
    kinds = [(r["kind"], r.get("purpose")) for r in rows]
    assert kinds == [("deposit", None), ("trade", None), ("trade", None), ("withdrawal", "own-wallet"),
                     ("transfer", None), ("income", None), ("gift-in", None), ("withdrawal", "gift"),
                     ("withdrawal", "lost")]
    assert rows[-1]["value"] == "0" and {r["actor"] for r in rows} == {"manual:cli"}
    bad = cli("ledger", "add", "income", *base, "--account", "a", "--asset", "ETH", "--quantity", "x",
              "--kind", "staking", ok=False)
    assert bad.exit_code != 0 and "--quantity: 'x' is not a number" in bad.output


def test_ledger_basis_is_a_new_event_and_refuses_a_second_one(cli):
    cli("ledger", "add", "deposit", "--time", "2024-07-01T10:00:00Z", "--account", "okx:main", "--asset", "USDT",
        "--quantity", "1000", "--id", "dep-1")
    key = "deposit:manual:dep-1"
    before = json.loads(cli("ledger", "list", "--format", "json").output)
    cli("ledger", "basis", key, "--cost", "1000", "--cost-currency", "USD", "--acquired-at", "2024-06-30")
    after = json.loads(cli("ledger", "list", "--format", "json").output)
    assert after[0] == before[0]  # the deposit itself is untouched
    assert after[1]["kind"] == "basis" and after[1]["target_key"] == key and after[1]["cost"] == "1000"
    again = cli("ledger", "basis", key, "--cost", "900", "--cost-currency", "USD", ok=False)
    assert again.exit_code == 1 and "already has a basis" in again.output
    missing = cli("ledger", "basis", "deposit:nope", "--cost", "1", "--cost-currency", "USD", ok=False)
    assert missing.exit_code == 1 and "no deposit or gift received" in missing.output
    late = cli("ledger", "basis", key, "--cost", "1", "--cost-currency", "USD", "--acquired-at", "2024-08-01",
               ok=False)
    assert late.exit_code == 1


def test_events_csv_refuses_a_file_with_any_bad_row_naming_file_line_field(cli, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("type,timestamp,account,asset,quantity,cost,cost_currency,income_type,side\n"
                   "deposit,2024-01-02T09:00:00Z,okx:main,USDT,1000,1000,USD,,\n"
                   "deposit,2024-01-02T09:00:00Z,okx:main,USDT,1000,1000,,,\n"
                   "income,2024-05-01T00:00:00Z,okx:main,ETH,0.01,,,,\n"
                   "lost,2024-05-01T00:00:00Z,okx:main,ETH,0.01,,,,buy\n"
                   "frob,2024-05-01T00:00:00Z,okx:main,ETH,0.01,,,,\n")
    result = cli("import", "csv", str(bad), ok=False)
    assert result.exit_code == 1
    for line in (f"{bad}:3: cost_currency: cost and cost_currency go together",
                 f"{bad}:4: income_type: is empty", f"{bad}:5: side: is not used by a lost row",
                 f"{bad}:6: type: 'frob' is not one of"):
        assert line in result.output
    assert not (tmp_path / "l.sqlite3").exists()  # nothing written: refused before the ledger was opened


# --- the "Done when" journey -------------------------------------------------------------------------

OKX_EVENTS = """\
type,timestamp,account,asset,quantity,side,base,quote,price,fee,fee_asset,income_type,value,value_currency,id
deposit,2024-07-01T10:00:00Z,okx:main,USDT,10000,,,,,,,,,,dep-1
trade,2024-07-02T12:00:00Z,okx:main,,0.1,buy,BTC,USDT,60000,6,USDT,,,,t-1
withdrawal,2024-08-01T10:00:00Z,okx:main,BTC,0.05,,,,,0.0005,,,,,wd-1
income,2024-10-01T00:00:00Z,okx:main,ETH,0.1,,,,,,,staking,250,USD,st-1
trade,2024-11-01T12:00:00Z,okx:main,,0.0495,sell,BTC,USDT,80000,3.96,USDT,,,,t-2
"""
KRAKEN_EVENTS = """\
type,timestamp,account,asset,quantity,side,base,quote,price,fee,fee_asset,id
deposit,2024-08-01T11:00:00Z,kraken:main,BTC,0.05,,,,,,,kd-1
trade,2024-09-01T12:00:00Z,kraken:main,,0.05,sell,BTC,USD,70000,7,USD,kt-1
"""
DAYS = ("2024-07-01", "2024-07-02", "2024-07-03", "2024-08-01", "2024-09-01", "2024-10-01", "2024-11-01")
FX = {"GBP": "0.8", "EUR": "0.9", "AUD": "1.5", "CAD": "1.4"}


def test_done_when_journey_gives_the_hand_computed_gains_per_country_without_the_paper_basket(cli, tmp_path):
    """The issue's "Done when": a USDT deposit (basis supplied afterwards), trades on OKX, a withdrawal to
    a second exchange matched to its deposit, staking income and a paper basket on the side.

    Hand computation in USD (USDT pegged 1:1 by --peg, as asked):
      1. USDT deposit 10,000, basis 10,000 USD (ledger basis).
      2. buy 0.1 BTC @ 60,000 USDT, fee 6 USDT: disposal of 6,006 USDT (proceeds 6,006, cost 6,006: gain 0);
         BTC lot 0.1 costs 6,000 + 6 = 6,006 (acquisition fees add to basis).
      3. withdrawal 0.05 BTC + fee 0.0005 BTC, deposit 0.05 BTC at kraken an hour later: one transfer. The lot
         part 0.05 (cost 3,003) moves with its date; the fee 0.0005 BTC is a disposal at 64,000: proceeds 32,
         cost 6,006 x 0.0005/0.1 = 30.03, gain 1.97.
      4. kraken sells 0.05 BTC @ 70,000 USD, fee 7 USD: proceeds 3,500 - 7 = 3,493, cost 3,003, gain 490.
      5. staking 0.1 ETH worth 250 USD: income 250 (Rev. Rul. 2023-14), a lot costing 250.
      6. okx sells the remaining 0.0495 BTC @ 80,000, fee 3.96 USDT: proceeds 3,960 - 3.96 = 3,956.04,
         cost 6,006 - 3,003 - 30.03 = 2,972.97, gain 983.07.
      Net gain 1.97 + 490 + 983.07 = 1,475.04 USD, all held under a year. Four disposals.
    Other countries: the same with USD->GBP 0.8, EUR 0.9, AUD 1.5, CAD 1.4 on every day, so
      UK 1,475.04 x 0.8 = 1,180.03 (AEA 3,000: nothing taxable; CRYPTO22200 pooling gives the same cost, one
         acquisition only); income 200 (CRYPTO21200).
      DE 1,475.04 x 0.9 = 1,327.536 -> 1,327.54 >= Freigrenze 1,000 (§ 23 Abs. 3 Satz 5 EStG): all taxable;
         income 225 < 256 (§ 22 Nr. 3 Satz 2): not taxable.
      AU 1,475.04 x 1.5 = 2,212.56, no discount (held < 12 months, ITAA 1997 s115-25); income 375.
      CA 1,475.04 x 1.4 = 2,065.056 -> 2,065.06, taxable half 1,032.528 -> 1,032.53 (ITA s38(a)); income 350.
    """
    (tmp_path / "okx.csv").write_text(OKX_EVENTS)
    (tmp_path / "kraken.csv").write_text(KRAKEN_EVENTS)
    rates = ["timestamp,base,quote,rate"] + [f"{d},USD,{c},{r}" for d in DAYS for c, r in FX.items()]
    rates.append("2024-08-01,BTC,USD,64000")
    (tmp_path / "rates.csv").write_text("\n".join(rates) + "\n")
    cli("import", "csv", str(tmp_path / "okx.csv"), str(tmp_path / "kraken.csv"))
    cli("prices", "import", str(tmp_path / "rates.csv"))
    # The paper basket on the side: its writer declares paper:core simulated.
    cli("basket", "create", "core", "--weights", "BTC=50,ETH=30,SOL=20", "--mode", "weekly", "--force")
    cli("basket", "invest", "10000", "--basket", "core", "--paper", "--prices", "BTC=60000,ETH=2500,SOL=150",
        "--at", "2024-07-03T00:00:00Z", "--yes")
    peg = ("--peg", "USDT=USD", "--via", "USD")

    # Before the basis is known: review lists it (blocking) with the command; gains refuses and points there.
    review = json.loads(cli("review", "-j", "us", "-y", "2024", *peg, "--format", "json", ok=False).stdout)
    kinds = {i["kind"]: i for i in review["items"]}
    assert set(kinds) == {"deposit_without_basis", "simulated_account"} and review["blocking"] == 1
    assert kinds["deposit_without_basis"]["ref"] == "deposit:csv:okx:main/dep-1"
    refused = cli("gains", "-j", "us", "-y", "2024", *peg, ok=False)
    assert refused.exit_code == 1 and "taxreport review -j us --year 2024" in refused.output
    refused = cli("export", "koinly", "--year", "2024", "--out", str(tmp_path / "early.csv"), ok=False)
    assert refused.exit_code == 1 and "taxreport review --year 2024" in refused.output
    assert not (tmp_path / "early.csv").exists()
    cli("ledger", "basis", "deposit:csv:okx:main/dep-1", "--cost", "10000", "--cost-currency", "USD",
        "--acquired-at", "2024-07-01T09:00:00Z")

    expected = {  # jurisdiction, year: (net gain, taxable gain, income total, taxable income)
        ("us", "2024"): ("1475.04", "1475.04", "250.00", "250.00"),
        ("uk", "2024-25"): ("1180.03", "0.00", "200.00", "200.00"),
        ("de", "2024"): ("1327.54", "1327.54", "225.00", "0.00"),
        ("au", "2024-25"): ("2212.56", "2212.56", "375.00", "375.00"),
        ("ca", "2024"): ("2065.06", "1032.53", "350.00", "350.00"),
    }
    for (j, year), (gain, taxable, income, taxable_income) in expected.items():
        data = json.loads(cli("gains", "-j", j, "-y", year, *peg, "--format", "json").output)
        assert (data["gain"], data["taxable_gain"]) == (gain, taxable), j
        assert (data["income"]["total"], data["income"]["taxable"]) == (income, taxable_income), j
        assert len(data["disposals"]) == 4 and {d["account"] for d in data["disposals"]} == {"okx:main",
                                                                                           "kraken:main"}, j
        assert data["simulated"] is False
    us = json.loads(cli("gains", "-j", "us", "-y", "2024", *peg, "--format", "json").output)
    by_ref = {d["ref"]: d for d in us["disposals"]}
    assert by_ref["withdrawal:csv:okx:main/wd-1#2"]["gain"] == "1.97"
    assert by_ref["trade:csv:kraken:main/kt-1#0"]["lots"][0]["acquired_at"] == "2024-07-02T12:00:00Z"
    # The paper basket is only there when asked for, and then the report says SIMULATED.
    sim = json.loads(cli("gains", "-j", "us", "-y", "2024", *peg, "--include-simulated", "--format", "json").output)
    assert sim["simulated"] is True and sim["notes"][0].startswith("SIMULATED")
    assert "paper:core" in {d["account"] for d in sim["disposals"]}
    table = cli("gains", "-j", "us", "-y", "2024", *peg, "--include-simulated").output
    assert "SIMULATED" in table
    # The Koinly export leaves the paper account out by default.
    out = tmp_path / "k.csv"
    cli("export", "koinly", "--year", "2024", "--out", str(out))
    assert "paper:core" not in out.read_text() and "okx:main" in out.read_text()
    review = json.loads(cli("review", "-j", "us", "-y", "2024", *peg, "--format", "json").output)
    assert review["blocking"] == 0
    # Workbook and PDF: income shown; made with --include-simulated, every sheet and page says SIMULATED.
    import openpyxl
    from pypdf import PdfReader

    real = tmp_path / "real.xlsx"
    cli("export", "xlsx", "-j", "us", "-y", "2024", *peg, "--out", str(real))
    wb = openpyxl.load_workbook(real)
    assert "Income" in wb.sheetnames and not any("SIMULATED" in n for n in wb.sheetnames)
    assert [c.value for c in wb["Income"]["F"]][1:] == [250, 250, 250]  # the item, total, taxable (USD)
    cli("export", "all", "-j", "us", "-y", "2024", *peg, "--include-simulated", "--out", str(tmp_path / "sim"))
    sim_wb = openpyxl.load_workbook(tmp_path / "sim" / "taxreport-us-2024.xlsx")
    assert all(n.startswith("SIMULATED") for n in sim_wb.sheetnames)
    pages = PdfReader(tmp_path / "sim" / "taxreport-us-2024.pdf").pages
    assert len(pages) > 1 and all("SIMULATED" in p.extract_text() for p in pages)


def test_gains_refuses_a_simulated_account_by_name(cli):
    cli("basket", "create", "core", "--weights", "BTC=50,ETH=50", "--mode", "weekly", "--force")
    cli("basket", "invest", "1000", "--basket", "core", "--paper", "--prices", "BTC=60000,ETH=2500",
        "--at", "2024-07-03T00:00:00Z", "--yes")
    result = cli("gains", "-j", "us", "-y", "2024", "--account", "paper:core", "--peg", "USDT=USD", ok=False)
    assert result.exit_code == 1 and "simulated money" in result.output and "--include-simulated" in result.output



def test_mark_simulated_writes_one_declaration(ledger):
    from taxreport.simulated import mark_simulated

    assert mark_simulated(ledger, "okx-local:core", "okx-local", actor="rebalancer:core") is True
    assert mark_simulated(ledger, "okx-local:core", "okx-local", actor="rebalancer:core") is False
    [row] = list(ledger.rows())
    assert isinstance(row.event, AccountDeclaration) and row.event.simulated and row.actor == "rebalancer:core"


def test_review_cli_lists_an_ambiguous_transfer_until_it_is_linked(cli, tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("type,timestamp,account,asset,quantity,cost,cost_currency,id\n"
                    "deposit,2024-01-01T00:00:00Z,okx:main,ETH,1,2000,USD,d0\n"
                    "withdrawal,2024-08-01T10:00:00Z,okx:main,ETH,1,,,w1\n"
                    "deposit,2024-08-01T11:00:00Z,kraken:main,ETH,1,,,d1\n"
                    "deposit,2024-08-01T12:00:00Z,coinbase:main,ETH,1,,,d2\n")
    cli("import", "csv", str(path))
    first = cli("review", "--format", "json", ok=False)
    assert first.exit_code == 1
    # `-y all` (as `gains -y all`) is the whole ledger, like no --year
    assert json.loads(cli("review", "-y", "all", "--format", "json", ok=False).stdout)["items"] == \
        json.loads(first.stdout)["items"]
    items = json.loads(first.stdout)["items"]
    assert [(i["kind"], i["ref"], i["blocking"]) for i in items] == [
        ("ambiguous_transfer", "withdrawal:csv:okx:main/w1", True)]
    assert items[0]["fix"].startswith("taxreport ledger link withdrawal:csv:okx:main/w1 deposit:csv:kraken:main/d1")
    table = cli("review", ok=False)
    assert "1 item(s) to review, 1 blocking" in table.output and "blocking item(s)" in table.output
    bad = cli("ledger", "link", "withdrawal:csv:okx:main/w1", "deposit:csv:okx:main/d0", ok=False)
    assert bad.exit_code == 1 and "not a withdrawal to an own wallet / a deposit without basis" in bad.output
    cli("ledger", "link", "withdrawal:csv:okx:main/w1", "deposit:csv:coinbase:main/d2")
    after = json.loads(cli("review", "--format", "json", ok=False).stdout)["items"]
    # d1 is now an ordinary deposit without basis (nothing left to pair it with): blocking, with its fix.
    assert [(i["kind"], i["ref"]) for i in after] == [("deposit_without_basis", "deposit:csv:kraken:main/d1")]
    # Reversing a linked deposit leaves the link pointing at nothing: review names the conflict (no crash).
    cli("ledger", "reverse", "deposit:csv:coinbase:main/d2", "--reason", "imported twice")
    conflict = json.loads(cli("review", "--format", "json", ok=False).stdout)["items"]
    assert [(i["kind"], i["blocking"]) for i in conflict] == [("conflict", True)]
    assert "deposit:csv:coinbase:main/d2" in conflict[0]["explanation"]


OKX_FUNDING = """\
UID:000000 (TEST),Account Type:Main,Time Zone:UTC+0
id,Time,Type,Amount,Before Balance,After Balance,Symbol
900004,2024-08-01 10:00:00,Withdrawal,-0.09992,0.09992,0,BTC
900003,2024-08-01 09:55:00,From unified trading account,0.09992,0,0.09992,BTC
900002,2024-07-01 10:05:00,To unified trading account,-10000,10000,0,USDT
900001,2024-07-01 10:00:00,Deposit,10000,0,10000,USDT
"""
OKX_TRADING = """\
UID:000000 (TEST),Account Type:Main,Time Zone:UTC+0
id,Order id,Time,Trade Type,Symbol,Action,Amount,Trading Unit,Filled Price,PnL,Fee,Fee Unit,Position Change,Position Balance,Balance Change,Balance,Balance Unit
3000000000000000002,1000000000000000001,2024-07-02 12:00:00,Spot,BTC-USDT,Sell,6000,USDT,60000,0,0,USDT,0,0,-6000,4000,USDT
3000000000000000001,1000000000000000001,2024-07-02 12:00:00,Spot,BTC-USDT,Buy,0.1,USDT,60000,0,-0.00008,BTC,0,0,0.09992,0.09992,BTC
"""


def test_okx_export_withdrawal_without_a_fee_column_is_linked_by_hand(cli, tmp_path):
    """OKX's 2025 funding export (F2) has no Fee column: the network fee hides inside the amount, so the
    Kraken deposit (0.09982) is 0.0001 less than the withdrawal (0.09992) and no automatic match is
    made (the amounts differ by more than the stated fee, 0). Review says so; `ledger link` pairs them.

    Hand computation (US, USDT pegged 1:1): the USDT deposit's basis is 10,000 (ledger basis); buying
    0.1 BTC for 6,000 USDT with 0.00008 BTC fee gives a lot of 0.09992 BTC costing 6,000 (fee in the
    asset received: net quantity, same cost) and a USDT disposal 6,000/6,000 (gain 0). Linked, the
    transfer's 0.0001 BTC difference is a fee disposal at 64,000 (proceeds 6.40); Kraken sells the
    0.09982 that arrived at 70,000 less a 7 USD fee (proceeds 6,980.40). All 0.09992 BTC of the lot is
    gone, so BTC cost = 6,000 and net gain = 6,000 + 6.40 + 6,980.40 - 6,000 - 6,000 = 986.80.
    """
    (tmp_path / "funding.csv").write_text(OKX_FUNDING)
    (tmp_path / "trading.csv").write_text(OKX_TRADING)
    (tmp_path / "kraken.csv").write_text(
        "type,timestamp,account,asset,quantity,side,base,quote,price,fee,fee_asset,id\n"
        "deposit,2024-08-01T10:40:00Z,kraken:main,BTC,0.09982,,,,,,,kd-1\n"
        "trade,2024-09-01T12:00:00Z,kraken:main,,0.09982,sell,BTC,USD,70000,7,USD,kt-1\n")
    (tmp_path / "rates.csv").write_text("timestamp,base,quote,rate\n2024-08-01,BTC,USD,64000\n")
    cli("import", "okx", str(tmp_path / "trading.csv"), str(tmp_path / "funding.csv"))
    cli("import", "csv", str(tmp_path / "kraken.csv"))
    cli("prices", "import", str(tmp_path / "rates.csv"))
    items = json.loads(cli("review", "-j", "us", "-y", "2024", "--peg", "USDT=USD", "--format", "json",
                           ok=False).stdout)["items"]
    assert [(i["kind"], i["ref"], i["blocking"]) for i in items] == [
        ("deposit_without_basis", "deposit:okx:funding:900001", True),
        ("unmatched_transfer", "withdrawal:okx:funding:900004", False),
        ("unmatched_transfer", "deposit:csv:kraken:main/kd-1", False),  # drawn from the withdrawn coins
    ]
    cli("ledger", "basis", "deposit:okx:funding:900001", "--cost", "10000", "--cost-currency", "USD")
    cli("ledger", "link", "withdrawal:okx:funding:900004", "deposit:csv:kraken:main/kd-1")
    review = json.loads(cli("review", "-j", "us", "-y", "2024", "--peg", "USDT=USD", "--format", "json").stdout)
    assert review["items"] == []
    data = json.loads(cli("gains", "-j", "us", "-y", "2024", "--peg", "USDT=USD", "--format", "json").stdout)
    assert (data["proceeds"], data["cost"], data["gain"]) == ("12986.80", "12000.00", "986.80")
    fee = next(d for d in data["disposals"] if d["role"] == "fee")
    assert (fee["quantity"], fee["proceeds"]) == ("0.0001", "6.40")


@pytest.mark.parametrize("code,year,currency,gain", [
    # Bought 1 ETH for 1,000 (2024-01-10), given away 2024-06-01 when worth 3,000.
    ("us", "2024", "USD", None),  # IRC §1015: no disposal for the donor
    ("de", "2024", "EUR", None),  # § 23 Abs. 1 Satz 3 EStG: unentgeltlich, no Veräußerung
    ("uk", "2024-25", "GBP", D("2000")),  # TCGA 1992 s17: disposal at market value 3,000 - cost 1,000
    ("au", "2023-24", "AUD", D("2000")),  # ITAA 1997 s116-30 market value substitution
    ("ca", "2024", "CAD", D("2000")),  # ITA s69(1)(b): deemed disposition at fair market value
])
def test_a_gift_given_is_a_disposal_only_where_the_country_says_so(code, year, currency, gain):
    buy = Trade(time=t("2024-01-10"), source="csv", external_id="b", account="a", side="buy", base="ETH",
                quote=currency, quantity=D(1), price=D(1000))
    gift = wd("a", "ETH", "1", t("2024-06-01"), "g", purpose="gift")
    table = RateTable.from_rows([("ETH", currency, t("2024-06-01", 0), D(3000), "test")])
    summary = compute_gains_from_events([buy, gift], table, jurisdiction=code, year=year)
    if gain is None:
        assert summary.disposals == [] and any("no disposal for the donor" in n for n in summary.notes)
    else:
        [d] = summary.disposals
        assert (d.proceeds, d.gain) == (D(3000), gain)


def test_basis_rows_in_the_events_csv_supply_many_bases_at_once(cli, tmp_path):
    (tmp_path / "deposits.csv").write_text(
        "type,timestamp,account,asset,quantity,id\n"
        "deposit,2024-07-01T10:00:00Z,okx:main,USDT,1000,d-1\n"
        "deposit,2024-07-01T10:00:00Z,okx:main,ETH,1,d-2\n")
    (tmp_path / "bases.csv").write_text(
        "type,timestamp,account,quantity,target,cost,cost_currency,acquired_at,id\n"
        "basis,2024-12-01T00:00:00Z,,,deposit:csv:okx:main/d-1,1000,USD,,b-1\n"
        "basis,2024-12-01T00:00:00Z,,,deposit:csv:okx:main/d-2,2500,USD,2023-05-01T00:00:00Z,b-2\n")
    cli("import", "csv", str(tmp_path / "deposits.csv"))
    assert [i["kind"] for i in json.loads(cli("review", "--format", "json", ok=False).stdout)["items"]] == [
        "deposit_without_basis", "deposit_without_basis"]
    cli("import", "csv", str(tmp_path / "bases.csv"))
    assert json.loads(cli("review", "--format", "json").stdout)["items"] == []
    rows = json.loads(cli("ledger", "list", "--kind", "basis", "--format", "json").stdout)
    assert [(r["target_key"], r["cost"], r["acquired_at"]) for r in rows] == [
        ("deposit:csv:okx:main/d-1", "1000", None),
        ("deposit:csv:okx:main/d-2", "2500", "2023-05-01T00:00:00.000000Z")]
