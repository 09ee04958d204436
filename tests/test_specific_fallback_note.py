"""The note on disposals that method ``specific`` matched FIFO (IRS virtual-currency FAQ Q41: units not
specifically identified are deemed sold first-in, first-out), counted per asset: a basket bot names the lots of
its crypto sells, but every buy it pays in USDT is a USDT disposal (USDT is property, IRS Notice 2014-21 Q1)
that no lot is named for; one total made users think the bot had failed to name its lots."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal as D

from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.lots.matching import match_lots
from taxreport.lots.types import Acquisition, Disposal
from taxreport.model.events import Deposit, Trade
from taxreport.prices.store import RateRow, write_rates
from taxreport.rebalance.lot_identification import identification_records, identify_lots
from test_lot_identification import bot_journey


def at(day: str) -> datetime:
    return datetime.fromisoformat(day + "T12:00:00").replace(tzinfo=timezone.utc)


def test_note_counts_the_unnamed_disposals_per_asset_most_first() -> None:
    # USDT in; two BTC buys and one ETH buy paid in USDT (3 USDT disposals, no lots named); a BTC sell whose
    # lots are named (not counted); a BTC sell and an ETH sell not named (1 each). Total 3 + 1 + 1 = 5.
    def buy(day: str, asset: str, qty: str, key: str) -> list:
        return [Disposal(at(day), "A", "USDT", D(qty) * 100, D(qty) * 100, D(0), key, 0),
                Acquisition(at(day), "A", asset, D(qty), D(qty) * 100, key, 1)]

    movements = [Acquisition(at("2024-01-01"), "A", "USDT", D(1000), D(1000), "dep", 0),
                 *buy("2024-01-02", "BTC", "1", "b1"), *buy("2024-01-03", "BTC", "1", "b2"),
                 *buy("2024-01-04", "ETH", "2", "b3"),
                 Disposal(at("2024-02-01"), "A", "BTC", D(1), D(150), D(0), "s1", 0),
                 Disposal(at("2024-02-02"), "A", "BTC", D(1), D(150), D(0), "s2", 0),
                 Disposal(at("2024-02-03"), "A", "ETH", D(1), D(150), D(0), "s3", 0)]
    r = match_lots(movements, method="specific", selections={"s1#0": [("b2#1", None)]})
    assert [n for n in r.notes if n.startswith("specific identification")] == [
        "specific identification: 5 disposal(s) had no named lots and were matched FIFO: USDT 3, BTC 1, ETH 1"]
    # equal counts: by asset name (deposit, buys b1 and b3, sells s1 and s3, nothing named); none: no note
    r = match_lots(movements[:3] + movements[5:8] + movements[9:], method="specific")
    assert [n for n in r.notes if n.startswith("specific identification")] == [
        "specific identification: 4 disposal(s) had no named lots and were matched FIFO: USDT 2, BTC 1, ETH 1"]
    named = {"s1#0": [("b1#1", None)], "s2#0": [("b2#1", None)], "s3#0": [("b3#1", None)]}
    r = match_lots([m for m in movements if m.asset != "USDT"], method="specific", selections=named)
    assert not [n for n in r.notes if n.startswith("specific identification")]


def test_bot_sale_with_recorded_lots_and_usdt_paid_buys_from_the_cli(ledger) -> None:  # noqa: ANN001
    # The bot's journey: USDT deposited, two BTC buys paid in USDT (2024), the bot's BTC sale (2025) with its lots
    # identified and recorded at the sale. The two USDT legs of the buys (2024) are the bot's only disposals with no
    # named lots, and the note of 2024 says they are USDT; the note of 2025 counts 2025's only (its bot sale is
    # named: none of the bot's), though `gains -y 2025` matches over every earlier year; with --account, the note
    # counts the disposals of the accounts reported only.
    events, rates, sale = bot_journey()
    chosen = identify_lots(events, rates, [sale], jurisdiction="us", quote="USDT")
    records = identification_records(chosen, [sale], jurisdiction="us", source="bot", basket="core")
    ledger.append([*events, sale, *records], actor="rebalancer:core", reason="bot sale and its lot identification")
    write_rates(ledger, [RateRow(*row) for row in rates])
    # another account of the same person: a BTC bought with USDT (1 USDT disposal) and sold by hand, no lot named
    # (1 BTC disposal)
    ledger.append([
        Deposit(time=at("2024-01-02"), source="t", external_id="dep2", account="kraken:main", asset="USDT",
                quantity=D(50000), cost=D(50000), cost_currency="USDT"),
        Trade(time=at("2024-01-10"), source="t", external_id="k1", account="kraken:main", side="buy", base="BTC",
              quote="USDT", quantity=D(1), price=D(40000)),
        Trade(time=at("2025-02-01"), source="t", external_id="k2", account="kraken:main", side="sell", base="BTC",
              quote="USDT", quantity=D(1), price=D(50000))], actor="importer:t", reason="the other account")

    def note(*extra: str, year: str = "2025") -> list[str]:
        result = CliRunner().invoke(root, ["--db", ledger.url, "gains", "--jurisdiction", "us", "--year", year,
                                           "--peg", "USDT=USD", "--method", "specific", "--format", "json", *extra],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return [n for n in json.loads(result.output)["notes"] if n.startswith("specific identification")]

    # 2024, every account: okx:main's 2 USDT legs, kraken:main's USDT leg
    assert note(year="2024") == [
        "specific identification: 3 disposal(s) had no named lots and were matched FIFO: USDT 3"]
    # the bot's account alone (--account): its own unnamed disposals only, the USDT legs of its buys
    assert note("--account", "okx:main", year="2024") == [
        "specific identification: 2 disposal(s) had no named lots and were matched FIFO: USDT 2"]
    assert note("--account", "kraken:main", year="2024") == [
        "specific identification: 1 disposal(s) had no named lots and were matched FIFO: USDT 1"]
    # 2025: kraken:main's unnamed BTC sale; the bot's sale is named, so its account alone has no note
    assert note() == ["specific identification: 1 disposal(s) had no named lots and were matched FIFO: BTC 1"]
    assert note("--account", "okx:main") == []
    assert note("--account", "kraken:main") == [
        "specific identification: 1 disposal(s) had no named lots and were matched FIFO: BTC 1"]
