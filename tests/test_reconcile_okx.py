"""``reconcile okx``: every kind of finding, the report data structure, CSV/JSON output and exit codes."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.exchanges.base import Fill, Market, Order
from taxreport.importers.okx import import_okx_file
from taxreport.model.events import Deposit, Trade
from taxreport.rebalance.journal import Journal
from taxreport.reconcile import reconcile_okx
from taxreport.reconcile.synthetic import Injections, inject, ledger_activity, okx_order_ids, write_f2, write_t4

D = Decimal
ACCOUNT = "okx:main"
# (symbol, side, amount, price, fee, fee asset, day, hour)
FILLS = [
    ("BTC/USDT", "buy", "0.05", "60000", "0.00005", "BTC", 1, 10),
    ("ETH/USDT", "buy", "1", "3000", "0.001", "ETH", 1, 10),
    ("SOL/USDT", "buy", "10", "150", "0.01", "SOL", 1, 11),
    ("BTC/USDT", "sell", "0.01", "61000", "0.61", "USDT", 2, 10),
    ("ETH/USDT", "buy", "0.2", "3050", "0.0002", "ETH", 2, 10),
    ("SOL/USDT", "sell", "2", "160", "0.32", "USDT", 3, 9),
]


def at(day: int, hour: int, ms: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, 0, 0, ms * 1000, tzinfo=timezone.utc)


def _market(symbol: str) -> Market:
    base, quote = symbol.split("/")
    return Market(symbol, base, quote, D("0.00000001"), D("0.01"), None, None, D("0.0008"), D("0.001"))


def bot_ledger(ledger) -> None:  # noqa: ANN001
    ledger.append([Deposit(time=at(1, 8), source="okx", external_id="funding:1", account=ACCOUNT, asset="USDT",
                           quantity=D("10000"))], actor="manual:test", reason="funding")
    journal = Journal(ledger, "core", ACCOUNT, "okx")
    for i, (symbol, side, amount, price, fee, fee_asset, day, hour) in enumerate(FILLS):
        cid, oid = f"core1r{i}", str(700000 + i)
        when = at(day, hour, 250 + i)
        journal.update(cid, "accepted", Order(oid, cid, symbol, side, "market", D(amount), None, D(amount), "open", when))
        journal.fills([Fill(f"t{i}", oid, cid, symbol, side, D(amount), D(price), D(fee), fee_asset, when)],
                      {symbol: _market(symbol)})


def exports(ledger, tmp_path, injections: Injections | None = None) -> list[str]:  # noqa: ANN001
    trades, funding = ledger_activity(ledger, ACCOUNT)
    if injections:
        trades = inject(trades, injections)
    t4, f2 = tmp_path / "trading.csv", tmp_path / "funding.csv"
    write_t4(t4, trades, okx_order_ids(ledger, ACCOUNT), hours=8, transfers_in=funding)
    write_f2(f2, funding, hours=8)
    return [str(t4), str(f2)]


def all_kinds() -> Injections:
    extra = Trade(time=at(3, 12), source="okx", account=ACCOUNT, side="buy", base="BTC", quote="USDT",
                  quantity=D("0.001"), price=D("62000"), fee=D("0.000001"), fee_asset="BTC")
    return Injections(drop=4, extra=extra, fee_bump=(3, D("0.5")))


def test_clean_export_reconciles(ledger, tmp_path):
    bot_ledger(ledger)
    report = reconcile_okx(ledger, exports(ledger, tmp_path), account=ACCOUNT)
    assert report.ok
    assert len(report.matched) == 6 and {m.how for m in report.matched} == {"order id"}
    assert [b.asset for b in report.balances] == ["BTC", "ETH", "SOL", "USDT"]
    usdt = report.balances[-1]
    # 10000 - 3000 - 3000 - 1500 + (610 - 0.61) - 610 + (320 - 0.32) = 2819.07
    assert usdt.okx == usdt.ledger == D("2819.07")
    assert report.variants == ("T4", "F2")


def test_every_kind_of_finding(ledger, tmp_path):
    bot_ledger(ledger)
    report = reconcile_okx(ledger, exports(ledger, tmp_path, all_kinds()), account=ACCOUNT)
    assert not report.ok
    assert report.counts() == {"matched": 4, "mismatched": 1, "only_in_okx": 1, "only_in_ledger": 1,
                               "diverging_balances": 3}
    (mis,) = report.mismatched
    (diff,) = mis.differences
    # the BTC sale's fee: 0.61 USDT in the ledger, 0.61 + 0.5 = 1.11 in the export
    assert (diff.field, diff.okx, diff.ledger, diff.delta) == ("fee", "1.11", "0.61", D("0.5"))
    assert mis.how == "order id" and mis.ledger.key == "trade:okx:t3"
    (extra,) = report.only_in_okx
    assert (extra.side, extra.base, extra.quantity, extra.price) == ("buy", "BTC", D("0.001"), D("62000"))
    (missing,) = report.only_in_ledger
    assert (missing.key, missing.base, missing.quantity) == ("trade:okx:t4", "ETH", D("0.2"))
    by_asset = {b.asset: b for b in report.balances}
    # ETH: the dropped day-2 buy (0.2 - 0.0002 = 0.1998 ETH) is missing from OKX's side
    assert by_asset["ETH"].first_divergence == date(2025, 3, 2)
    assert by_asset["ETH"].ledger - by_asset["ETH"].okx == D("0.1998")
    # USDT: day 2 differs by the missing ETH cost (610) minus the extra fee (0.5): OKX has 609.5 more
    assert by_asset["USDT"].first_divergence == date(2025, 3, 2)
    assert by_asset["USDT"].okx_at_divergence - by_asset["USDT"].ledger_at_divergence == D("609.5")
    # BTC: the manual buy on day 3 (0.001 - 0.000001 = 0.000999 BTC)
    assert by_asset["BTC"].first_divergence == date(2025, 3, 3)
    assert by_asset["BTC"].okx - by_asset["BTC"].ledger == D("0.000999")
    assert by_asset["SOL"].ok


def test_quantity_and_price_mismatch_beyond_tolerance(ledger, tmp_path):
    bot_ledger(ledger)
    trades, funding = ledger_activity(ledger, ACCOUNT)
    from dataclasses import replace

    trades[0] = replace(trades[0], quantity=D("0.0501"))  # BTC buy: 0.05 in the ledger
    trades[2] = replace(trades[2], price=D("150.0001"))  # SOL buy: relative difference 6.7e-7
    t4 = tmp_path / "t.csv"
    write_t4(t4, trades, okx_order_ids(ledger, ACCOUNT))
    report = reconcile_okx(ledger, [str(t4)], account=ACCOUNT)
    assert [(m.ledger.base, [d.field for d in m.differences]) for m in report.mismatched] == [("BTC", ["quantity"])]
    loose = reconcile_okx(ledger, [str(t4)], account=ACCOUNT, tolerance=D("0.01"))
    assert not loose.mismatched
    strict = reconcile_okx(ledger, [str(t4)], account=ACCOUNT, tolerance=D("0.0000001"))
    assert sorted(m.ledger.base for m in strict.mismatched) == ["BTC", "SOL"]


def test_imported_fills_match_by_key_and_rebalancer_fills_are_not_doubled(ledger, tmp_path):
    bot_ledger(ledger)
    files = exports(ledger, tmp_path, all_kinds())
    s = import_okx_file(ledger, files[0])
    # 5 bot fills in the export are already recorded (one of them with a different fee); the manual
    # trade is new
    assert (s.added, len(s.already_recorded)) == (1, 5)
    report = reconcile_okx(ledger, files, account=ACCOUNT)
    assert len(report.only_in_okx) == 0  # the manual trade is now in the ledger: matched by key
    assert [m.how for m in report.matched].count("same key") == 1
    assert len(report.mismatched) == 1 and len(report.only_in_ledger) == 1


def test_same_fill_pass_without_order_records(ledger, tmp_path):
    # trades written without order.update records (e.g. by hand): matched by side, pair, time, quantity
    trades = [Trade(time=at(1, 10, 500), source="paper", external_id="p1", account=ACCOUNT, side="buy", base="BTC",
                    quote="USDT", quantity=D("0.05"), price=D("60000"), fee=D("0.00005"), fee_asset="BTC",
                    order_id="cid-1")]
    ledger.append(trades, actor="rebalancer:demo", reason="test")
    t4 = tmp_path / "t.csv"
    write_t4(t4, trades, {}, hours=-5)
    report = reconcile_okx(ledger, [str(t4)], account=ACCOUNT)
    assert report.ok and report.matched[0].how == "same fill"


def test_cli_exit_codes_csv_and_json(ledger, tmp_path):
    bot_ledger(ledger)
    db = ledger.url
    (tmp_path / "good").mkdir()
    good = exports(ledger, tmp_path / "good")
    runner = CliRunner()
    ok = runner.invoke(root, ["--db", db, "reconcile", "okx", *good])
    assert ok.exit_code == 0, ok.output
    assert "Everything reconciles" in ok.output
    (tmp_path / "bad").mkdir()
    bad = exports(ledger, tmp_path / "bad", all_kinds())
    out_csv = tmp_path / "findings.csv"
    res = runner.invoke(root, ["--db", db, "reconcile", "okx", *bad, "--csv", str(out_csv)])
    assert res.exit_code == 2
    assert "does not reconcile" in res.output and "1 mismatched, 1 only in OKX, 1 only in the ledger" in res.output
    rows = list(csv.DictReader(out_csv.open()))
    kinds = [r["finding"] for r in rows]
    assert kinds.count("mismatch") == 1 and kinds.count("only_in_okx") == 1 and kinds.count("only_in_ledger") == 1
    assert kinds.count("matched") == 4 and kinds.count("balance_diverges") == 3 and kinds.count("balance_ok") == 1
    fee_row = next(r for r in rows if r["finding"] == "mismatch")
    assert (fee_row["okx_fee"], fee_row["ledger_fee"]) == ("1.11", "0.61")
    js = runner.invoke(root, ["--db", db, "reconcile", "okx", *bad, "--format", "json"])
    assert js.exit_code == 2
    data = json.loads(js.output[: js.output.rindex("}") + 1])
    assert data["ok"] is False and data["counts"]["only_in_okx"] == 1
    assert D(data["mismatched"][0]["differences"][0]["delta"]) == D("0.5")


def test_cli_period_filter_and_bad_tolerance(ledger, tmp_path):
    bot_ledger(ledger)
    files = exports(ledger, tmp_path, all_kinds())
    runner = CliRunner()
    # day 1 only: none of the injected differences falls on it
    res = runner.invoke(root, ["--db", ledger.url, "reconcile", "okx", *files, "--from", "2025-03-01",
                               "--to", "2025-03-01"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(root, ["--db", ledger.url, "reconcile", "okx", *files, "--tolerance", "abc"])
    assert res.exit_code == 1 and "error: --tolerance" in res.output


@pytest.mark.parametrize("bad", ["t4_malformed.csv", "unknown_header.csv"])
def test_reconcile_refuses_bad_files(ledger, bad):
    from conftest import FIXTURES

    res = CliRunner().invoke(root, ["--db", ledger.url, "reconcile", "okx", str(FIXTURES / "okx" / bad)])
    assert res.exit_code == 1 and res.output.startswith("error: ") and "Traceback" not in res.output


def test_fills_of_one_order_pair_by_quantity_and_price(ledger, tmp_path):
    # one order, two fills of the same quantity at two prices 40 ms apart (the CSV keeps whole
    # seconds): each must pair with its own price, not the nearest time
    journal = Journal(ledger, "core", ACCOUNT, "okx")
    when = at(5, 9, 137)
    journal.update("c1", "accepted", Order("42", "c1", "BTC/USDT", "buy", "limit", D("0.0526"), D("95000"),
                                           D("0.0526"), "closed", when))
    from datetime import timedelta

    journal.fills([Fill("f1", "42", "c1", "BTC/USDT", "buy", D("0.0263"), D("95000"), D("0.0000263"), "BTC", when),
                   Fill("f2", "42", "c1", "BTC/USDT", "buy", D("0.0263"), D("95010"), D("0.0000263"), "BTC",
                        when + timedelta(milliseconds=40))], {"BTC/USDT": _market("BTC/USDT")})
    trades, _ = ledger_activity(ledger, ACCOUNT)
    t4 = tmp_path / "t.csv"
    write_t4(t4, list(reversed(trades)), okx_order_ids(ledger, ACCOUNT))
    report = reconcile_okx(ledger, [str(t4)], account=ACCOUNT)
    assert report.ok and len(report.matched) == 2
    assert {(m.okx.price, m.ledger.key) for m in report.matched} == {(D("95000"), "trade:okx:f1"),
                                                                     (D("95010"), "trade:okx:f2")}


def test_basket_option_uses_the_baskets_account(ledger, tmp_path):
    bot_ledger(ledger)
    files = exports(ledger, tmp_path)
    basket = tmp_path / "core.toml"
    basket.write_text('name = "core"\nexchange = "okx"\naccount = "okx:main"\nquote = "USDT"\nmode = "weekly"\n'
                      "[weights]\nBTC = 50\nETH = 30\nSOL = 20\n")
    runner = CliRunner()
    res = runner.invoke(root, ["--db", ledger.url, "reconcile", "okx", *files, "--basket", str(basket)])
    assert res.exit_code == 0, res.output
    other = tmp_path / "other.toml"
    other.write_text(basket.read_text().replace('account = "okx:main"', 'account = "okx:other"'))
    res = runner.invoke(root, ["--db", ledger.url, "reconcile", "okx", *files, "--basket", str(other)])
    assert res.exit_code == 2 and "6 only in OKX" in res.output
    res = runner.invoke(root, ["--db", ledger.url, "reconcile", "okx", *files, "--basket", str(basket),
                               "--account", "okx:main"])
    assert res.exit_code == 1 and "not both" in res.output


def test_reconcile_carries_okx_gaps_and_rounding(ledger):
    """The gap in a real F2 export's balance chain (0.0001 BTC) and OKX's 1e-8 rounding in a real T4 order
    reach the reconcile report, which gates a filing."""
    from conftest import FIXTURES

    files = [str(FIXTURES / "okx" / n) for n in ("real_everytrade_f2.csv", "real_everytrade_t4_ada_sell.csv")]
    for f in files:
        import_okx_file(ledger, f, account="okx:real")
    report = reconcile_okx(ledger, files, account="okx:real")
    assert report.ok  # imported from the same files: every fill and balance agrees
    ((origin, detail),) = report.okx_gaps
    assert origin.endswith("real_everytrade_f2.csv:2") and "-0.0001" in detail
    assert len(report.okx_rounding) == 1 and "+1E-8" in report.okx_rounding[0][1]
