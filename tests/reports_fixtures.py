"""A small hand-made ledger used by the export tests (every kind of event the exports must handle)."""

from __future__ import annotations

from datetime import datetime, timezone

from taxreport.model.events import Deposit, Income, Record, Reversal, Trade, Transfer, Withdrawal
from taxreport.model.money import D


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def sample_events() -> list:
    reversed_trade = Trade(time=t("2024-02-01T09:00:00"), source="csv", external_id="K-9", account="kraken:main",
                           side="buy", base="BTC", quote="USD", quantity=D("1"), price=D("40000"))
    return [
        # fiat in, then a crypto-fiat buy with the fee in the quote (USD)
        Deposit(time=t("2024-01-02T08:00:00"), source="csv", external_id="D-1", account="kraken:main",
                asset="USD", quantity=D("30000")),
        Trade(time=t("2024-01-05T10:00:00"), source="csv", external_id="K-1", account="kraken:main", side="buy",
              base="BTC", quote="USD", quantity=D("0.5"), price=D("44000"), fee=D("22"), fee_asset="USD"),
        # income: an OKB airdrop with a stated value, a SOL staking reward without one
        Income(time=t("2024-01-06T00:00:00"), source="csv", external_id="I-1", account="okx:main", asset="OKB",
               quantity=D("2"), income_type="airdrop", value=D("100"), value_currency="USD"),
        Income(time=t("2024-01-07T00:00:00"), source="csv", external_id="I-2", account="okx:main", asset="SOL",
               quantity=D("0.25"), income_type="staking"),
        # transfer between own accounts, 0.0001 BTC network fee paid out of the quantity
        Transfer(time=t("2024-01-08T12:00:00"), source="csv", external_id="TX-1", from_account="kraken:main",
                 to_account="okx:main", asset="BTC", quantity=D("0.2"), fee=D("0.0001")),
        # crypto-crypto: buy ETH with BTC, fee in a third asset (OKB)
        Trade(time=t("2024-01-09T09:30:00"), source="okx", external_id="O-1", account="okx:main", side="buy",
              base="ETH", quote="BTC", quantity=D("1.5"), price=D("0.055"), fee=D("0.01"), fee_asset="OKB"),
        # OKX-style sell with the fee in the quote (USDT)
        Trade(time=t("2024-02-10T14:00:00"), source="okx", external_id="O-2", account="okx:main", side="sell",
              base="ETH", quote="USDT", quantity=D("0.5"), price=D("2500"), fee=D("1.25"), fee_asset="USDT"),
        # OKX-style buy with the fee in the base (BTC)
        Trade(time=t("2024-02-11T14:00:00"), source="okx", external_id="O-3", account="okx:main", side="buy",
              base="BTC", quote="USDT", quantity=D("0.01"), price=D("48000"), fee=D("0.00001"), fee_asset="BTC"),
        # maker rebate in a third asset (negative fee)
        Trade(time=t("2024-02-12T14:00:00"), source="okx", external_id="O-4", account="okx:main", side="sell",
              base="SOL", quote="USDT", quantity=D("0.25"), price=D("110"), fee=D("-0.001"), fee_asset="OKB"),
        # withdrawals: to an own wallet with a fee, and a gift
        Withdrawal(time=t("2024-03-01T09:00:00"), source="csv", external_id="W-1", account="okx:main", asset="BTC",
                   quantity=D("0.05"), fee=D("0.0002")),
        Withdrawal(time=t("2024-03-02T09:00:00"), source="csv", external_id="W-2", account="okx:main", asset="ETH",
                   quantity=D("0.1"), purpose="gift", note="birthday present"),
        # a deposit with a known cost basis
        Deposit(time=t("2024-03-03T09:00:00"), source="csv", external_id="D-2", account="okx:main", asset="ETH",
                quantity=D("0.3"), cost=D("600"), cost_currency="USD", acquired_at=t("2023-05-01T00:00:00")),
        # a wrong trade and its reversal: neither is exported
        reversed_trade,
        Reversal(time=t("2024-02-02T09:00:00"), source="manual", target_key=reversed_trade.natural_key,
                 reason="duplicate entry"),
        # an audit record: moves no money
        Record(time=t("2024-03-04T00:00:00"), source="paper", record_type="rebalance.done", data={"orders": 0}),
        # next year: outside 2024
        Trade(time=t("2025-01-02T00:00:00"), source="csv", external_id="K-2", account="kraken:main", side="sell",
              base="BTC", quote="USD", quantity=D("0.1"), price=D("90000")),
    ]


def us_summary(year: str = "2024"):
    """A US YearSummary computed by hand (FIFO):

    1. 2024-03-12 sell 0.1 BTC for 7150 USD - 7.15 fee = 7142.85 proceeds; lot: 0.1 of the 0.5 BTC
       bought 2024-01-05 for 22000 + 22 fee = 22022, so cost 22022 * 0.1 / 0.5 = 4404.40;
       gain 7142.85 - 4404.40 = 2738.45 (short).
    2. 2024-06-01 sell 2 ETH for 7000 proceeds, lots 1 ETH bought 2023-01-10 for 1300 (long: sold
       after 2024-01-10) and 1 ETH bought 2024-01-05 for 2252.25 (short); term not given, so the
       export splits it: proceeds 3500 each; gains 3500 - 1300 = 2200 (long) and
       3500 - 2252.25 = 1247.75 (short).
    3. 2024-08-05 sell 10 SOL for 1050.005 proceeds, lot cost 1055.633: gain -5.628 (short),
       presented -5.63.
    Totals: proceeds 7142.85 + 7000 + 1050.005 = 15192.855; cost 4404.40 + 3552.25 + 1055.633 =
    9012.283; gain 6180.572; gains 2738.45 + 3447.75 = 6186.20; losses 5.628.
    """
    from taxreport.jurisdictions.base import DisposalResult, Totals, YearSummary
    from taxreport.jurisdictions.us import UsBreakdown
    from taxreport.lots.types import LotMatch, OpenLot

    y = int(year)
    d1 = DisposalResult(time=t(f"{y}-03-12T09:15:00"), account="kraken:main", asset="BTC", quantity=D("0.1"),
                        proceeds=D("7142.85"), cost=D("4404.40"), gain=D("2738.45"),
                        lots=(LotMatch(quantity=D("0.1"), cost=D("4404.40"), acquired_at=t(f"{y}-01-05T10:00:00"),
                                       account="kraken:main", lot_ref="trade:csv:K-1#1", rule="fifo"),),
                        rule="fifo", term="short", event_key="trade:csv:K-1004")
    d2 = DisposalResult(time=t(f"{y}-06-01T12:00:00"), account="kraken:main", asset="ETH", quantity=D("2"),
                        proceeds=D("7000"), cost=D("3552.25"), gain=D("3447.75"),
                        lots=(LotMatch(quantity=D("1"), cost=D("1300"), acquired_at=t(f"{y - 1}-01-10T10:00:00"),
                                       account="kraken:main", lot_ref="trade:csv:K-0#1", rule="fifo"),
                              LotMatch(quantity=D("1"), cost=D("2252.25"), acquired_at=t(f"{y}-01-05T10:05:00"),
                                       account="kraken:main", lot_ref="trade:csv:K-1002#1", rule="fifo")),
                        rule="fifo", term=None, event_key="trade:csv:K-1005")
    d3 = DisposalResult(time=t(f"{y}-08-05T16:00:00"), account="kraken:main", asset="SOL", quantity=D("10"),
                        proceeds=D("1050.005"), cost=D("1055.633"), gain=D("-5.628"),
                        lots=(LotMatch(quantity=D("10"), cost=D("1055.633"), acquired_at=t(f"{y}-02-10T14:30:00"),
                                       account="kraken:main", lot_ref="trade:csv:K-1003#1", rule="fifo"),),
                        rule="fifo", term="short", event_key="trade:csv:K-1006")
    return YearSummary(
        jurisdiction="us", currency="USD", method="fifo", year=year,
        year_start=t(f"{y}-01-01T00:00:00"), year_end=t(f"{y + 1}-01-01T00:00:00"),
        disposals=[d1, d2, d3], proceeds=D("15192.855"), cost=D("9012.283"), gain=D("6180.572"),
        gains=D("6186.20"), losses=D("5.628"), allowance=D("0"), taxable_gain=D("6180.572"),
        breakdown=UsBreakdown(short=Totals(gain=D("3980.572")), long=Totals(gain=D("2200"))),
        open_lots=[OpenLot(account="kraken:main", asset="BTC", quantity=D("0.4"), cost=D("17617.60"),
                           acquired_at=t(f"{y}-01-05T10:00:00"), lot_ref="trade:csv:K-1#1")],
        notes=["prices: synthetic daily closes (sample_exports/prices)", "=cmd|' /C calc'!A0"],
    )


def uk_summary():
    """A UK 2024-25 summary worked by hand (HMRC order: same day, 30 days, s104 pool):

    Pool before: 100 TOK costing 1000. On 10 June 2024 sell 60 TOK, gross 900, disposal costs 10; the same
    day buy 10 TOK for 140; on 20 June buy 20 TOK for 260 (within 30 days).
    Same day: 10 matched, cost 140. 30 days: 20 matched, cost 260. Pool: 30 of 100 -> 1000 * 30/100 = 300.
    Pool after: 70 TOK, 700. Cost 140 + 260 + 300 = 700; proceeds 900 - 10 = 890; gain 190.
    Allocation by quantity (10/20/30 of 60): gross 150/300/450, costs 1.67/3.33/5.00;
    gains 150 - 1.667 - 140 = 8.33, 300 - 3.333 - 260 = 36.67, 450 - 5 - 300 = 145.00 (sum 190).
    A second disposal, 1 Sep 2024: 10 TOK from the pool (70, 700 -> cost 100) for 80 gross, no costs:
    loss 20; pool after 60 TOK, 600.
    Year: gains 190, losses 20, net 170, annual exempt amount 3000, taxable 0.
    """
    from taxreport.jurisdictions.base import DisposalResult, YearSummary
    from taxreport.jurisdictions.uk import UkDetail
    from taxreport.lots.types import LotMatch

    d1 = DisposalResult(
        time=t("2024-06-10T10:00:00"), account="okx:main", asset="TOK", quantity=D("60"), proceeds=D("890"),
        cost=D("700"), gain=D("190"), rule="same-day+30-day+s104", event_key="trade:okx:S-1",
        lots=(LotMatch(D("10"), D("140"), t("2024-06-10T15:00:00"), None, "trade:okx:B-2#1", "same-day"),
              LotMatch(D("20"), D("260"), t("2024-06-20T09:00:00"), None, "trade:okx:B-3#1", "30-day"),
              LotMatch(D("30"), D("300"), None, None, None, "s104")),
        detail=UkDetail(local_date="2024-06-10", gross_proceeds=D("900"), disposal_costs=D("10"),
                        allowable_costs=D("710"), pool_quantity_after=D("70"), pool_cost_after=D("700"),
                        event_keys=("trade:okx:S-1#0",)))
    d2 = DisposalResult(
        time=t("2024-09-01T10:00:00"), account="okx:main", asset="TOK", quantity=D("10"), proceeds=D("80"),
        cost=D("100"), gain=D("-20"), rule="s104", event_key="trade:okx:S-2",
        lots=(LotMatch(D("10"), D("100"), None, None, None, "s104"),),
        detail=UkDetail(local_date="2024-09-01", gross_proceeds=D("80"), disposal_costs=D("0"),
                        allowable_costs=D("100"), pool_quantity_after=D("60"), pool_cost_after=D("600"),
                        event_keys=("trade:okx:S-2#0",)))
    return YearSummary(
        jurisdiction="uk", currency="GBP", method="hmrc", year="2024-25",
        year_start=t("2024-04-05T23:00:00"), year_end=t("2025-04-05T23:00:00"), disposals=[d1, d2],
        proceeds=D("970"), cost=D("800"), gain=D("170"), gains=D("190"), losses=D("20"),
        allowance=D("3000"), taxable_gain=D("0"), notes=["prices: GBP rates from sample_exports/prices"])


def rebalance_records(year: int = 2024) -> list:
    """Records shaped like the rebalancer's journal (taxreport/rebalance/executor.py): two rebalances."""
    out = []
    for rid, day, total, weights in (("r1", f"{year}-03-04", "10000", ("55", "28", "17")),
                                     ("r2", f"{year}-06-03", "12500.5", ("51", "30", "19"))):
        when = t(f"{day}T00:00:00")
        out.append(Record(time=when, source="rebalancer", external_id=f"demo:{rid}:trigger",
                          record_type="rebalance.trigger", account="okx:main",
                          data={"rebalance_id": rid, "basket": "demo", "mode": "weekly", "reason": "schedule",
                                "max_drift": D(weights[0]) - 50}))
        out.append(Record(time=when, source="rebalancer", external_id=f"demo:{rid}:plan",
                          record_type="rebalance.plan", account="okx:main",
                          data={"rebalance_id": rid, "basket": "demo", "quote": "USDT", "total_value": D(total),
                                "rows": [{"asset": a, "weight": D(w), "target": D(tg)} for a, w, tg in
                                         zip(("BTC", "ETH", "SOL"), weights, ("50", "30", "20"))],
                                "orders": [{"asset": "BTC", "side": "sell"}, {"asset": "SOL", "side": "buy"}]}))
        out.append(Record(time=when, source="rebalancer", external_id=f"demo:{rid}:done",
                          record_type="rebalance.done", account="okx:main",
                          data={"rebalance_id": rid, "status": "completed"}))
    return out
