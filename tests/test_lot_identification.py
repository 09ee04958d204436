"""Lots identified at the time of sale, recorded in the ledger, used by `gains --method specific`
without a --lots file (taxreport.rebalance.lot_identification)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal as D

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.errors import InputError
from taxreport.model.events import Deposit, Trade
from taxreport.prices.store import RateRow, write_rates
from taxreport.rebalance.lot_identification import (
    RECORD_TYPE, identification_records, identify_lots, recorded_selections,
)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day + "T12:00:00").replace(tzinfo=timezone.utc)


def bot_journey() -> tuple[list, list[tuple], Trade]:
    """okx:main: 200,000 USDT deposited, 1 BTC bought 10 Jan 2024 at 40,000 and 1 BTC bought 1 Sep 2024 at 60,000
    (both paid in USDT), and the bot's sale of 1 BTC at 50,000 on 1 Feb 2025 (order o-1): (events, rates, sale)."""
    events = [
        Deposit(time=at("2024-01-02"), source="t", external_id="dep", account="okx:main", asset="USDT",
                quantity=D(200000), cost=D(200000), cost_currency="USDT"),
        Trade(time=at("2024-01-10"), source="t", external_id="b1", account="okx:main", side="buy", base="BTC",
              quote="USDT", quantity=D(1), price=D(40000)),
        Trade(time=at("2024-09-01"), source="t", external_id="b2", account="okx:main", side="buy", base="BTC",
              quote="USDT", quantity=D(1), price=D(60000)),
    ]
    rates = [("BTC", "USDT", at("2024-01-10"), D(40000), "t"), ("BTC", "USDT", at("2024-09-01"), D(60000), "t")]
    sale = Trade(time=at("2025-02-01"), source="bot", external_id="s1", account="okx:main", side="sell", base="BTC",
                 quote="USDT", quantity=D(1), price=D(50000), order_id="o-1")
    return events, rates, sale


def test_identified_lots_are_recorded_and_used_by_gains(ledger) -> None:  # noqa: ANN001
    # Lots in okx:main: 1 BTC bought 10 Jan 2024 at 40,000 and 1 BTC bought 1 Sep 2024 at 60,000.
    # The bot sells 1 BTC at 50,000 on 1 Feb 2025. FIFO (IRS FAQ Q41, nothing identified): lot 1,
    # long-term gain 50,000 - 40,000 = +10,000. Identified at the sale (Treas. Reg. §1.1012-1(j)):
    # the loss lot first, lot 2: short-term 50,000 - 60,000 = -10,000. `gains --method specific`
    # must report -10,000 from the record alone (no --lots file).
    events, rates, sale = bot_journey()
    chosen = identify_lots(events, rates, [sale], jurisdiction="us", quote="USDT")
    assert list(chosen.values()) == [[("trade:t:b2#1", D(1))]]  # leg 1 of the buy acquires the BTC
    records = identification_records(chosen, [sale], jurisdiction="us", source="bot", basket="core")
    assert [(r.record_type, r.time, r.account, r.order_id) for r in records] == [
        (RECORD_TYPE, sale.time, "okx:main", "o-1")]
    assert recorded_selections(records) == chosen
    ledger.append([*events, sale, *records], actor="rebalancer:core", reason="bot sale and its lot identification")
    write_rates(ledger, [RateRow(*row) for row in rates])

    def gains(*extra: str) -> dict:
        result = CliRunner().invoke(root, ["--db", ledger.url, "gains", "--jurisdiction", "us", "--year", "2025",
                                           "--peg", "USDT=USD", "--format", "json", *extra], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    def btc(summary: dict) -> list[tuple]:
        return [(D(d["gain"]), d["term"]) for d in summary["disposals"] if d["asset"] == "BTC"]

    # No method asked for: the identification made at the sale is what was sold (IRS virtual-currency FAQ
    # Q39-Q40), so plain `gains` reports -10,000 short-term and says why; FIFO only when asked for.
    default = gains()
    assert btc(default) == [(D(-10000), "short")] and default["method"] == "specific"
    assert any("1 sale(s) use the lots identified at the time of sale" in n for n in default["notes"])
    assert btc(gains("--method", "specific")) == [(D(-10000), "short")]  # the recorded identification
    fifo = gains("--method", "fifo")
    assert btc(fifo) == [(D(10000), "long")]
    assert any("--method fifo ignores" in n for n in fifo["notes"])


def test_only_countries_that_allow_choosing_lots() -> None:
    sale = Trade(time=at("2025-02-01"), source="bot", external_id="s1", account="okx:main", side="sell", base="BTC",
                 quote="USDT", quantity=D(1), price=D(50000))
    with pytest.raises(InputError, match="does not let you choose lots"):
        identify_lots([], [], [sale], jurisdiction="de", quote="USDT")


def test_paper_run_of_a_tax_aware_basket_records_lots_and_the_preview(ledger) -> None:  # noqa: ANN001
    """The user's journey: a paper basket with [tax] us + choose_lots runs weekly; every sell fill gets
    its lots.identified record in the ledger, every plan record that trades carries the tax preview, and
    `gains --method specific` matches each bot sale with exactly the recorded lots (no --lots file)."""
    from taxreport.model.events import Record
    from taxreport.rebalance.basket import baskets_dir

    def run(*args: str) -> str:
        result = CliRunner().invoke(root, ["--db", ledger.url, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("basket", "create", "core", "--weights", "BTC=50,ETH=30,SOL=20", "--mode", "weekly", "--force")
    path = baskets_dir() / "core.toml"
    path.write_text(path.read_text() + '\n[tax]\njurisdiction = "us"\nchoose_lots = true\nmarginal_rate = 0.24\n')
    run("basket", "invest", "10000", "--basket", "core", "--paper", "--prices", "BTC=42000,ETH=2300,SOL=100",
        "--at", "2024-01-08T00:00:00Z", "--yes")
    run("rebalance", "run", "--basket", "core", "--paper", "--loop", "--interval", "604800", "--checks", "8",
        "--walk", "15", "--seed", "7", "--at", "2024-01-15T00:00:00Z")
    events = list(ledger.events())
    sells = {e.natural_key: e for e in events if isinstance(e, Trade) and e.side == "sell"}
    identified = recorded_selections(events)
    assert sells and {ref.split("#")[0] for ref in identified} == set(sells)
    for ref, lots in identified.items():  # each identification covers exactly the units sold
        assert sum((q for _, q in lots if q is not None), D(0)) == sells[ref.split("#")[0]].quantity
    plans = [e for e in events if isinstance(e, Record) and e.record_type == "rebalance.plan" and e.data["orders"]]
    assert plans and all(p.data["tax"]["jurisdiction"] == "us" and p.data["tax"]["error"] is None for p in plans
                         if any(o["side"] == "sell" for o in p.data["orders"]))
    # the paper account is declared simulated (taxreport.simulated): gains shows it only when asked
    report = json.loads(run("gains", "--jurisdiction", "us", "--year", "2024", "--peg", "USDT=USD",
                            "--method", "specific", "--include-simulated", "--format", "json"))
    used = {d["ref"]: [lot["lot"] for lot in d["lots"]] for d in report["disposals"] if d["ref"] in identified}
    assert used == {ref: [lot for lot, _ in lots] for ref, lots in identified.items()}
