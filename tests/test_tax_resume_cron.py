"""The tax-aware check run as cron runs it (issue #14: a new process per check): the engine state saved on disk
by one check and resumed by the next (:func:`taxreport.rebalance.tax_resume.save_states`,
:func:`~taxreport.rebalance.tax_resume.chain_events`) gives the same ledger rows (fills, lot identifications,
plans with their previews and decisions) as the computation over the whole ledger at every check; a missing,
edited or foreign state file, or a chain that does not continue from its head, is rebuilt from the first event."""

from __future__ import annotations

import random
import sqlite3
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from taxreport.rebalance import tax_resume, tax_run

from test_tax_resume import funded_paper_basket

D = Decimal


def _run(home: Path, monkeypatch: pytest.MonkeyPatch, code: str, *, resumable: bool, weeks: int = 10,
         between: object = None) -> tuple[list[tuple], list[str]]:
    """``weeks`` weekly checks of a tax-aware paper basket, each in a process-like fresh state (a new Ledger
    object, no engine state or verified events in memory: only what is on disk). Returns the ledger's rows
    and, per check, how the check got its events ("disk": the saved state and the events since; "whole")."""
    from taxreport.ledger import Ledger
    from taxreport.rebalance.executor import ExecConfig, Executor
    from taxreport.rebalance.runner import RunnerState, check_if_due

    monkeypatch.setenv("TAXREPORT_HOME", str(home))
    if not resumable:
        monkeypatch.setattr(tax_resume, "resumable", lambda code, request: False)
    how: list[str] = []
    real = tax_resume.chain_events

    def spy(ledger, load):  # noqa: ANN001, ANN202
        chain = real(ledger, load)
        how.append("whole" if chain is None else "disk")
        return chain

    monkeypatch.setattr(tax_resume, "chain_events", spy)
    basket, led, ex = funded_paper_basket(home, code, "cron", rate_days=90)
    url = f"sqlite:///{home}/ledger.sqlite3"
    led.close()
    rnd = random.Random(5)
    for week in range(weeks):
        tax_resume.forget()  # a new process: nothing in memory
        tax_run._VERIFIED.clear()
        led = Ledger(url)
        for asset in ("BTC", "ETH", "SOL"):
            ex.set_price(asset, (ex.prices[f"{asset}/USDT"] * D(rnd.randint(85, 118)) / 100).quantize(D("0.01")))
        engine = Executor(led, ex, basket, account="paper:main", sleep=ex.advance, clock=ex.clock,
                          config=ExecConfig(fill_timeout=10, poll_interval=5))
        engine.tax_fx = {"GBP": D("0.79")}
        check_if_due(engine, RunnerState(), venue="paper", log=lambda _line: None)
        led.close()
        if callable(between):
            between(week)
        ex.advance(7 * 86400)
    with sqlite3.connect(home / "ledger.sqlite3") as conn:
        return conn.execute("SELECT seq, payload, actor, reason FROM events ORDER BY seq").fetchall(), how


def _state_file(home: Path) -> Path:
    files = list((home / "cache" / "tax-resume").glob("*.state"))
    assert len(files) == 1
    return files[0]


@pytest.mark.parametrize("code", ["us", "uk"])
def test_cron_checks_resumed_from_disk_write_the_rows_of_the_whole_computation(tmp_path, monkeypatch,
                                                                                code: str) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    resumed, how = _run(tmp_path / "a", monkeypatch, code, resumable=True)
    monkeypatch.undo()
    whole, _ = _run(tmp_path / "b", monkeypatch, code, resumable=False)
    assert len(resumed) > 100 and sum('"lots.identified"' in r[1] for r in resumed) >= (5 if code == "us" else 0)
    assert resumed == whole
    # the first check invests (no sale, no tax step); the second has no saved state; every later one resumes
    # from the file the previous check wrote
    assert how == ["whole"] + ["disk"] * 8


def test_a_check_from_disk_reads_no_event_before_the_saved_head(tmp_path, monkeypatch) -> None:
    """After the first check, a cron check reads only the rows appended since the saved head: the whole
    ledger is never decoded (taxreport.gains.load_events, the verified whole read, is not called)."""
    import taxreport.gains as gains

    calls: list[int] = []
    real = gains.load_events

    def counting(ledger, request=None):  # noqa: ANN001, ANN202
        calls.append(1)
        return real(ledger, request)

    monkeypatch.setattr(gains, "load_events", counting)
    seen: list[int] = []
    _run(tmp_path, monkeypatch, "us", resumable=True, weeks=6, between=lambda week: seen.append(len(calls)))
    assert seen == [0, 1, 1, 1, 1, 1], seen  # the second check read the ledger whole, no later one did


@pytest.mark.parametrize("damage", ["edit", "truncate", "version", "other-ledger"])
def test_a_damaged_or_foreign_state_file_is_refused_and_rebuilt(tmp_path, monkeypatch, damage: str) -> None:
    """An edited byte (the digest no longer names the content), a truncated file, another code version, or a
    file copied from another ledger: refused; that check reads the ledger whole, and the rows are still those
    of the whole computation."""
    def harm(week: int) -> None:
        if week != 4:
            return
        path = _state_file(tmp_path / "a")
        data = bytearray(path.read_bytes())
        if damage == "edit":  # a readable state with one result's gain changed, the old digest kept
            import dataclasses
            import pickle

            digest, body = bytes(data).split(b"\n", 2)[1:]
            saved = pickle.loads(body)
            state = next(iter(saved.states.values()))
            assert state.results
            state.results[0] = dataclasses.replace(state.results[0], gain=state.results[0].gain + 1)
            path.write_bytes(tax_resume._MAGIC + digest + b"\n" + pickle.dumps(saved))
        elif damage == "truncate":
            path.write_bytes(bytes(data[:len(data) // 2]))
        elif damage == "version":
            monkeypatch.setattr("taxreport.ledger.derived._code_version", "another version")
        else:
            body = bytes(data).split(b"\n", 2)[2]
            import pickle

            saved = pickle.loads(body)
            saved.store = "sqlite:///elsewhere.sqlite3"
            new = pickle.dumps(saved)
            path.write_bytes(tax_resume._MAGIC + tax_resume._digest(new) + b"\n" + new)

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    resumed, how = _run(tmp_path / "a", monkeypatch, "us", resumable=True, weeks=8, between=harm)
    monkeypatch.undo()
    whole, _ = _run(tmp_path / "b", monkeypatch, "us", resumable=False, weeks=8)
    assert resumed == whole
    assert how == ["whole", "disk", "disk", "disk", "whole", "disk", "disk"]


def test_a_chain_that_does_not_continue_from_the_saved_head_is_read_whole(tmp_path, monkeypatch) -> None:
    """The ledger replaced by another one at the same path (its rows are not a continuation of the saved head):
    appended_since says so and the check reads the new ledger whole."""
    from taxreport.ledger import Ledger

    monkeypatch.setenv("TAXREPORT_HOME", str(tmp_path))
    _run(tmp_path, monkeypatch, "us", resumable=True, weeks=3)
    saved = tax_resume.read_saved(f"sqlite:///{tmp_path}/ledger.sqlite3")
    assert saved is not None and saved.count > 10 and saved.states
    led = Ledger(f"sqlite:///{tmp_path}/ledger.sqlite3")
    assert tax_resume.chain_events(led, lambda: []) is not None
    led.close()
    (tmp_path / "ledger.sqlite3").unlink()
    for extra in tmp_path.glob("ledger.sqlite3-*"):
        extra.unlink()
    led = Ledger(f"sqlite:///{tmp_path}/ledger.sqlite3")  # a new, empty ledger: its head is not the saved one
    assert tax_resume.chain_events(led, lambda: []) is None
    led.close()


def test_a_fill_identified_in_a_new_process_resumes_from_disk(tmp_path, monkeypatch) -> None:
    """``basket stop`` (a sale outside a check's preview) in a new process: the lots chosen for the sale from the
    saved state and the events since are those chosen over the whole ledger, and the whole ledger is not read."""
    import taxreport.gains as gains
    from taxreport.ledger import Ledger
    from taxreport.model.events import Side, Trade
    from taxreport.rebalance.lot_identification import fill_identifier
    from taxreport.rebalance.tax_policy import tax_aware_defaults
    from taxreport.rebalance.types import Basket

    _run(tmp_path, monkeypatch, "us", resumable=True, weeks=6)
    basket = Basket(name="cron", exchange="paper", account="paper:main", quote="USDT",
                    weights={"BTC": D(50), "ETH": D(30), "SOL": D(20)}, mode="weekly", gate=D(0),
                    tax=tax_aware_defaults("us"))
    url = f"sqlite:///{tmp_path}/ledger.sqlite3"
    led = Ledger(url)
    last = max(e.time for e in led.events())
    led.close()
    sale = Trade(time=last + timedelta(days=1), source="paper", external_id="stop-1", account="paper:main",
                 side=Side.SELL, base="BTC", quote="USDT", quantity=D("0.01"), price=D(61000), fee=D(0),
                 fee_asset="USDT", order_id="stop-1")

    def identify(*, resumable: bool) -> tuple[list, int]:
        tax_resume.forget()
        tax_run._VERIFIED.clear()
        calls: list[int] = []
        real = gains.load_events
        with monkeypatch.context() as m:
            m.setattr(gains, "load_events", lambda ledger, request=None: calls.append(1) or real(ledger, request))
            if not resumable:
                m.setattr(tax_resume, "resumable", lambda code, request: False)
            led = Ledger(url)
            records = fill_identifier(led, basket)(sale)
            led.close()
        return [(r.record_type, r.data) for r in records], len(calls)

    resumed, reads = identify(resumable=True)
    whole, whole_reads = identify(resumable=False)
    assert resumed == whole and resumed[0][0] == "lots.identified"
    assert reads == 0 and whole_reads == 1
