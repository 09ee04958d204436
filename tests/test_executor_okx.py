"""The executor against OKX's real semantics (issue 10), on the paper exchange made as hostile as
OKX: clOrdId unique only among pending orders, look-up by clOrdId returning the latest order, fills
listed later than the order's filled status, requests travelling longer than the client waits, and
``expTime``. The first two tests reproduce the issue's double order and lost fills: both fail on
the executor that re-sent a timed-out clOrdId and finished orders without counting their fills."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from test_executor_support import (
    ACCOUNT,
    D,
    assert_consistent,
    executor,
    fund_ledger,
    paper,
    run_once,
)

from taxreport.exchanges.base import OrderRequest, RequestTimeout
from taxreport.model.events import Record
from taxreport.rebalance.executor import ExecConfig
from taxreport.rebalance.journal import Journal
from taxreport.rebalance.runner import run_check

CROSSING = {"offset_ticks": 200, "fill_timeout": 20, "poll_interval": 5}  # limit orders that take at once


def updates(ledger, cid=None):
    return [e for e in ledger.events(kinds=["record"]) if isinstance(e, Record) and e.record_type == "order.update"
            and (cid is None or e.order_id == cid)]


def test_timeout_whose_request_lands_after_the_lookup_never_doubles_the_order(ledger):
    # The double order: the first create reaches the matching engine 3 s after the client
    # timed out, i.e. after the look-up found nothing. Re-sending the same clOrdId at once makes a
    # second order as soon as the first is no longer pending (OKX: "clOrdId must be unique among all
    # pending orders and the current request").
    ex = paper(balances={"USDT": D(30000)})
    fund_ledger(ledger, ex)
    ex.inject("create_order", "delay", delay=3)
    run_once(ledger, ex, config=ExecConfig(**CROSSING), invest=D(10000))
    ex.advance(60)
    per_id = Counter(o.client_order_id for o in ex.all_orders())
    assert max(per_id.values()) == 1, per_id
    # The late request (3 s < expTime 10 s) was found by the look-up after expTime and settled.
    first = ex.all_orders()[0]
    assert [u.data["status"] for u in updates(ledger, first.client_order_id)] == ["accepted", "closed"]
    executor(ledger, ex).recover()
    assert_consistent(ledger, ex)


def test_fills_listed_after_the_order_status_are_never_lost(ledger):
    # The lost fills: the order is 'closed' at once, its fills show 7 s later (less than one
    # poll more). Finishing the order on its status alone recorded no trade and never looked again.
    ex = paper(balances={"USDT": D(30000)}, fill_lag=D(7))
    fund_ledger(ledger, ex)
    run_once(ledger, ex, config=ExecConfig(**CROSSING), invest=D(10000))
    ex.advance(60)
    executor(ledger, ex).recover()
    assert_consistent(ledger, ex)
    assert len(ex.fills) == 3


def test_fills_lagging_beyond_the_wait_stay_pending_and_the_next_run_records_them_first(ledger):
    ex = paper(balances={"USDT": D(30000)}, fill_lag=D(600))
    fund_ledger(ledger, ex)
    result = run_once(ledger, ex, config=ExecConfig(**CROSSING), invest=D(10000))
    assert all("fills pending" in leg.note for leg in result.legs)
    assert [leg.status for leg in result.legs] == ["filled"] * 3  # by the venue's filled amounts
    assert [leg.filled for leg in result.legs] == [0, 0, 0]  # what the ledger has so far
    pending = [u.order_id for u in updates(ledger) if u.data["status"] == "fills_pending"]
    assert len(pending) == 3 and not [u for u in updates(ledger) if u.data["status"] == "closed"]
    assert ledger.events(kinds=["trade"]) == [] or not list(ledger.events(kinds=["trade"]))
    ex.advance(600)
    engine = executor(ledger, ex, config=ExecConfig(**CROSSING))
    engine.journal.record("basket.invest", "core:test:invest", {"amount": D(10000), "quote": "USDT", "venue": "paper"})
    lines = []
    run_check(engine, reason="next run", venue="paper", log=lines.append)  # resolves the pending fills first
    [recovered] = [line.data["orders"] for line in lines if line.event == "recovered"]
    assert sorted(o["client_order_id"] for o in recovered) == sorted(pending)
    assert all(o["outcome"].startswith("closed, 1 fills") for o in recovered)
    assert_consistent(ledger, ex)


def test_crash_right_after_sending_waits_for_expiry_before_calling_the_order_missing(ledger):
    # The process dies while its request is still travelling (it reaches the venue 4 s later). A
    # restart at once must not conclude "missing" before the request's expTime (10 s) has passed.
    ex = paper()
    fund_ledger(ledger, ex)
    journal = Journal(ledger, "core", ACCOUNT, "paper", ex.clock)
    req = OrderRequest("trcrashsend1", "BTC/USDT", "buy", "limit", D("0.01"), D("60100"),
                       ex.now + timedelta(seconds=10))
    journal.intent(req.client_order_id, "r1", 0, 0, "BTC", req.symbol, req.side, req.type, req.amount, req.price,
                   expires_at=req.expires_at)
    ex.inject("create_order", "delay", delay=4)
    with pytest.raises(RequestTimeout):
        ex.create_order(req)
    report = executor(ledger, ex).recover()
    assert [o for _, o in report.orders] == ["closed, 1 fills"]
    ex.advance(60)
    assert_consistent(ledger, ex)


def test_request_arriving_after_its_expiry_is_never_carried_out_and_is_missing(ledger):
    ex = paper(balances={"USDT": D(30000)})
    fund_ledger(ledger, ex)
    ex.inject("create_order", "delay", delay=30)  # longer than expTime (10 s): dropped by the venue
    result = run_once(ledger, ex, config=ExecConfig(**CROSSING), invest=D(10000))
    ex.advance(60)
    lost = result.legs[0].orders[0]
    assert [u.data["status"] for u in updates(ledger, lost)] == ["missing"]
    assert lost not in {o.client_order_id for o in ex.all_orders()}
    assert [leg.status for leg in result.legs] == ["filled", "filled", "filled"]
    assert_consistent(ledger, ex)


def test_unknown_answer_after_the_order_landed_is_looked_up_not_rejected(ledger):
    # A 5xx whose JSON body has no "code": the order may exist. Never recorded as rejected.
    ex = paper(balances={"USDT": D(30000)})
    fund_ledger(ledger, ex)
    ex.inject("create_order", "unknown_after")
    result = run_once(ledger, ex, config=ExecConfig(**CROSSING), invest=D(10000))
    assert result.status == "completed" and ex.calls["create_order"] == 3
    assert not [u for u in updates(ledger) if u.data["status"] == "rejected"]
    assert_consistent(ledger, ex)
