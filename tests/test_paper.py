"""The paper exchange: touch, fills, OKX fee convention, reservations, duplicate ids, faults,
latency on the simulated clock and persistence. Every number is worked out in the comments."""

from __future__ import annotations

from datetime import timedelta

import pytest

from taxreport.exchanges.base import (
    DuplicateClientOrderId,
    ExchangeError,
    InsufficientFunds,
    InvalidOrder,
    NetworkError,
    OrderRequest,
    RateLimitExceeded,
    RequestTimeout,
)
from taxreport.exchanges.paper import CrashAt, PaperExchange, SimulatedCrash
from taxreport.errors import InputError

from test_executor_support import D, T0, fund_ledger, paper


def req(cid, side="buy", amount="0.1", price="59990", symbol="BTC/USDT", type_="limit"):
    return OrderRequest(cid, symbol, side, type_, D(amount), None if price is None else D(price))


def test_touch_is_spread_around_mid_on_the_tick():
    ex = paper()
    t = ex.fetch_tickers(["BTC/USDT", "SOL/USDT"])
    # BTC mid 60000, 2 bps spread: half = 60000 * 2 / 20000 = 6 -> bid 59994, ask 60006 (tick 0.1)
    assert (t["BTC/USDT"].bid, t["BTC/USDT"].ask) == (D("59994"), D("60006"))
    # SOL mid 150: half = 0.015 -> bid floor(149.985) = 149.98, ask ceil(150.015) = 150.02 (tick 0.01)
    assert (t["SOL/USDT"].bid, t["SOL/USDT"].ask) == (D("149.98"), D("150.02"))


def test_crossing_buy_is_taker_fee_in_base_and_balances_follow():
    ex = paper()
    order = ex.create_order(req("a1", price="60100"))
    assert order.status == "closed" and order.filled == D("0.1")
    [fill] = ex.fetch_fills("BTC/USDT", order.id)
    # Fills at the ask 60006 (price improvement); taker fee 0.1% of 0.1 BTC = 0.0001 BTC, in the base.
    assert (fill.price, fill.fee, fill.fee_asset, fill.taker_or_maker) == (D("60006"), D("0.0001"), "BTC", "taker")
    # USDT 10000 - 0.1 * 60006 = 3999.4; BTC 0.1 - 0.0001 = 0.0999
    assert ex.total_balances() == {"BTC": D("0.0999"), "USDT": D("3999.4")}


def test_resting_sell_is_maker_fee_in_quote_and_funds_are_reserved():
    ex = paper(balances={"BTC": D("1"), "USDT": D("0")})
    order = ex.create_order(req("s1", side="sell", amount="0.4", price="60006"))
    assert order.status == "open"
    assert ex.fetch_balances() == {"BTC": D("0.6")}  # 0.4 reserved
    with pytest.raises(InsufficientFunds):
        ex.create_order(req("s2", side="sell", amount="0.7", price="60006"))
    ex.advance(1)  # at the touch, touch_fill_ratio 1: fills completely as maker at its own price
    [fill] = ex.fetch_fills("BTC/USDT", order.id)
    # proceeds 0.4 * 60006 = 24002.4; maker fee 0.08% = 19.20192 USDT
    assert (fill.price, fill.fee, fill.fee_asset) == (D("60006"), D("19.20192"), "USDT")
    assert ex.total_balances() == {"BTC": D("0.6"), "USDT": D("23983.19808")}


def test_partial_fills_at_the_touch_and_cancel_releases_the_rest():
    ex = paper(touch_fill_ratio=D("0.5"))
    order = ex.create_order(req("p1", amount="0.1", price="59994"))  # at the bid: rests
    ex.advance(5)
    ex.advance(5)
    fills = ex.fetch_fills("BTC/USDT", order.id)
    assert [f.amount for f in fills] == [D("0.05"), D("0.025")]
    assert ex.fetch_order_by_client_id("BTC/USDT", "p1").filled == D("0.075")
    canceled = ex.cancel_order("BTC/USDT", order.id)
    assert canceled.status == "canceled"
    # spent 0.075 * 59994 = 4499.55; nothing stays reserved
    assert ex.fetch_balances()["USDT"] == D("10000") - D("4499.55")
    with pytest.raises(InvalidOrder, match="already canceled"):
        ex.cancel_order("BTC/USDT", order.id)


def test_price_moving_through_a_resting_order_fills_it_at_its_limit():
    ex = paper(touch_fill_ratio=D(0))
    order = ex.create_order(req("m1", amount="0.01", price="59000"))
    ex.advance(60)
    assert ex.fetch_order_by_client_id("BTC/USDT", "m1").status == "open"
    ex.set_price("BTC", D("58000"))
    ex.advance(1)
    [fill] = ex.fetch_fills("BTC/USDT", order.id)
    assert (fill.price, fill.taker_or_maker, fill.time) == (D("59000"), "maker", T0 + timedelta(seconds=61))


def test_negative_maker_fee_is_a_rebate_and_the_ledger_reconciles(ledger):
    ex = paper()
    ex.markets = {s: type(m)(m.symbol, m.base, m.quote, m.amount_step, m.price_tick, m.min_amount, m.min_cost,
                             D("-0.0001"), m.taker_fee) for s, m in ex.markets.items()}
    fund_ledger(ledger, ex)
    ex.create_order(req("r1", amount="0.1", price="59994"))
    ex.advance(1)
    [fill] = ex.fills
    assert (fill.fee, fill.fee_asset) == (D("-0.00001"), "BTC")  # 0.1 * -0.0001: the buyer gets 0.10001 BTC
    assert ex.total_balances()["BTC"] == D("0.10001")


def test_client_order_id_is_unique_among_pending_orders_only_like_okx():
    # OKX v5, Place order: "clOrdId must be unique among all pending orders and the current request".
    ex = paper()
    ex.create_order(req("dup1", price="59000"))  # rests below the bid (59994): pending
    with pytest.raises(DuplicateClientOrderId, match="51016"):
        ex.create_order(req("dup1", price="59000"))
    ex.create_order(req("dup2", amount="0.01", price="60100"))  # crosses: filled at once, no longer pending
    second = ex.create_order(req("dup2", amount="0.01", price="60100"))  # accepted: a SECOND order
    assert [o.id for o in ex.all_orders() if o.client_order_id == "dup2"] == ["PO0000002", "PO0000003"]
    # "if there are multiple orders with the same clOrdId, only the latest one will be returned"
    assert ex.fetch_order_by_client_id("BTC/USDT", "dup2").id == second.id == "PO0000003"
    with pytest.raises(InvalidOrder, match="letters/digits"):
        ex.create_order(req("has-hyphen"))


def test_expired_request_is_not_processed_and_a_delayed_one_arrives_later_or_never():
    ex = paper()
    late = OrderRequest("e1", "BTC/USDT", "buy", "limit", D("0.01"), D("59000"), T0 - timedelta(seconds=1))
    with pytest.raises(InvalidOrder, match="expTime"):
        ex.create_order(late)
    # delayed 5 s, expiring in 10 s: the client times out, the order appears 5 s later
    ex.inject("create_order", "delay", delay=5)
    with pytest.raises(RequestTimeout):
        ex.create_order(OrderRequest("e2", "BTC/USDT", "buy", "limit", D("0.01"), D("59000"),
                                     T0 + timedelta(seconds=10)))
    assert ex.fetch_order_by_client_id("BTC/USDT", "e2") is None
    ex.advance(5)
    assert ex.fetch_order_by_client_id("BTC/USDT", "e2").status == "open"
    # delayed 20 s but expiring in 10 s: never carried out
    ex.inject("create_order", "delay", delay=20)
    with pytest.raises(RequestTimeout):
        ex.create_order(OrderRequest("e3", "BTC/USDT", "buy", "limit", D("0.01"), D("59000"),
                                     ex.now + timedelta(seconds=10)))
    ex.advance(60)
    assert ex.fetch_order_by_client_id("BTC/USDT", "e3") is None and ex.delayed == []


def test_fills_lag_the_order_status():
    ex = paper(fill_lag=D(3))
    order = ex.create_order(req("l1", amount="0.01", price="60100"))  # taker: filled at once
    assert ex.fetch_order_by_client_id("BTC/USDT", "l1").filled == D("0.01")
    assert ex.fetch_fills("BTC/USDT", order.id) == [] and ex.fetch_my_fills("BTC/USDT") == []
    ex.advance(3)
    assert [f.amount for f in ex.fetch_fills("BTC/USDT", order.id)] == [D("0.01")]


def test_precision_and_minimums_are_enforced():
    ex = paper()
    with pytest.raises(InvalidOrder, match="multiple of 1E-8"):
        ex.create_order(req("x1", amount="0.000000015"))
    with pytest.raises(InvalidOrder, match="below minimum 0.00001"):
        ex.create_order(req("x2", amount="0.000009"))
    with pytest.raises(InvalidOrder, match="multiple of 0.1"):
        ex.create_order(req("x3", price="59994.05"))
    assert ex.amount_to_precision("BTC/USDT", D("0.123456789")) == D("0.12345678")  # truncates


def test_faults_timeout_before_and_after_landing_rate_limit_reject():
    ex = paper()
    ex.inject("create_order", "timeout")
    with pytest.raises(RequestTimeout):
        ex.create_order(req("f1"))
    assert ex.fetch_order_by_client_id("BTC/USDT", "f1") is None  # did not land
    ex.inject("create_order", "timeout_after")
    with pytest.raises(RequestTimeout):
        ex.create_order(req("f2"))
    assert ex.fetch_order_by_client_id("BTC/USDT", "f2").status == "open"  # landed all the same
    ex.inject("fetch_order", "rate_limit", times=2)
    for _ in range(2):
        with pytest.raises(RateLimitExceeded):
            ex.fetch_order_by_client_id("BTC/USDT", "f2")
    assert ex.fetch_order_by_client_id("BTC/USDT", "f2") is not None
    ex.inject("create_order", "reject", skip=1, message="51008 insufficient balance")
    ex.create_order(req("f3", amount="0.01"))  # skipped: goes through
    with pytest.raises(InvalidOrder, match="51008"):
        ex.create_order(req("f4", amount="0.01"))
    assert isinstance(InvalidOrder("x"), ExchangeError) and not isinstance(RequestTimeout("x"), ExchangeError)
    ex.inject("fetch_balances", "network")
    with pytest.raises(NetworkError):
        ex.fetch_balances()


def test_crash_hook_fires_after_the_exchange_accepted_the_order():
    ex = paper()
    ex.on_step = CrashAt("exchange.accepted")
    with pytest.raises(SimulatedCrash):
        ex.create_order(req("c1"))
    assert ex.fetch_order_by_client_id("BTC/USDT", "c1") is not None


def test_latency_advances_the_simulated_clock_only():
    ex = paper(latency=D("0.25"))
    ex.fetch_balances()
    ex.fetch_tickers(["BTC/USDT"])
    assert ex.now == T0 + timedelta(seconds=0.5)


def test_state_round_trips_through_json_file_exactly(tmp_path, ledger):
    path = tmp_path / "paper.json"
    ex = paper(touch_fill_ratio=D("0.5"))
    ex.state_path = path
    ex.create_order(req("k1", amount="0.1", price="59994"))
    ex.advance(5)
    loaded = PaperExchange.load(path)
    assert loaded.to_state() == ex.to_state()
    assert loaded.fetch_order_by_client_id("BTC/USDT", "k1").filled == D("0.05")
    loaded.advance(5)  # keeps matching where it left off, with the same id counters
    assert [f.trade_id for f in loaded.fills] == ["PT0000001", "PT0000002"]
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.json"):
        PaperExchange.load(bad)


def test_state_file_saves_cost_what_changed_and_round_trips_exactly(tmp_path):
    """issue #14: the head is rewritten at every save, each fill and closed order is appended to the archive
    once; loading head + archive gives the exact state (orders in their original order, fills in theirs)."""
    import json

    from taxreport.exchanges.paper_state import ARCHIVE_SUFFIX

    path = tmp_path / "paper.json"
    archive = tmp_path / ("paper.json" + ARCHIVE_SUFFIX)
    ex = paper(touch_fill_ratio=D("0.5"))
    ex.state_path = path
    heads = []
    for n in range(12):
        ex.create_order(req(f"k{n}", amount="0.01", price="59994"))  # rests: half fills per round
        ex.advance(5)
        if n % 3:  # one order in three stays open (partly filled)
            ex.cancel_order("BTC/USDT", ex.fetch_order_by_client_id("BTC/USDT", f"k{n}").id)
        heads.append(path.stat().st_size)
        loaded = PaperExchange.load(path)
        assert loaded.to_state() == ex.to_state()
    head = json.loads(path.read_text())
    assert head["fills"] == [] and [o["status"] for o in head["orders"]] == ["open"] * 4
    assert heads[-1] < heads[0] + 4 * 400  # the head holds the open orders, not the history
    lines = archive.read_text().splitlines()
    assert len([x for x in lines if '"fill"' in x]) == len(ex.fills)
    assert len({json.loads(x)["order"]["id"] for x in lines if '"order"' in x}) == \
        len([x for x in lines if '"order"' in x]) == sum(1 for o in ex.orders.values() if o.status != "open")
    # a save that stopped after appending to the archive, before replacing the head: the tail is ignored,
    # and the next save cuts it off
    before = PaperExchange.load(path).to_state()
    with open(archive, "ab") as fh:
        fh.write(b'{"fill": {"garbage": 1}}\n')
    again = PaperExchange.load(path)
    assert again.to_state() == before
    again.advance(5)
    assert PaperExchange.load(path).to_state() == again.to_state()
    assert b"garbage" not in archive.read_bytes()


def test_state_file_written_whole_before_the_archive_is_read_and_continued(tmp_path):
    """A state file of the earlier format (every order and fill in the one file) loads as before; its first
    save starts the archive."""
    import json

    from taxreport.exchanges.paper_state import ARCHIVE_SUFFIX

    path = tmp_path / "paper.json"
    ex = paper(touch_fill_ratio=D("0.5"))
    ex.create_order(req("k1", amount="0.1", price="59994"))
    ex.advance(5)
    path.write_text(json.dumps(ex.to_state(), indent=1, sort_keys=True))  # the earlier format
    loaded = PaperExchange.load(path)
    assert loaded.to_state() == ex.to_state()
    loaded.advance(5)
    assert (tmp_path / ("paper.json" + ARCHIVE_SUFFIX)).exists()
    assert PaperExchange.load(path).to_state() == loaded.to_state()
    assert [f.trade_id for f in PaperExchange.load(path).fills] == ["PT0000001", "PT0000002"]
