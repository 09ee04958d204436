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


def test_identified_lots_are_recorded_and_used_by_gains(ledger) -> None:  # noqa: ANN001
    # Lots in okx:main: 1 BTC bought 10 Jan 2024 at 40,000 and 1 BTC bought 1 Sep 2024 at 60,000.
    # The bot sells 1 BTC at 50,000 on 1 Feb 2025. FIFO (IRS FAQ Q41, nothing identified): lot 1,
    # long-term gain 50,000 - 40,000 = +10,000. Identified at the sale (Treas. Reg. §1.1012-1(j)):
    # the loss lot first, lot 2: short-term 50,000 - 60,000 = -10,000. `gains --method specific`
    # must report -10,000 from the record alone (no --lots file).
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

    assert btc(gains()) == [(D(10000), "long")]  # FIFO by default
    assert btc(gains("--method", "specific")) == [(D(-10000), "short")]  # the recorded identification


def test_only_countries_that_allow_choosing_lots() -> None:
    sale = Trade(time=at("2025-02-01"), source="bot", external_id="s1", account="okx:main", side="sell", base="BTC",
                 quote="USDT", quantity=D(1), price=D(50000))
    with pytest.raises(InputError, match="does not let you choose lots"):
        identify_lots([], [], [sale], jurisdiction="de", quote="USDT")
