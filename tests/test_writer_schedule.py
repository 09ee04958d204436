"""The first computing ``gains`` call's schedule of stores (issue 14 round 7, taxreport/ledger/derived.py
``DerivedCache.later``/``one_writer``/``join``, taxreport/gains.py ``_fill_years``, taxreport/cli/gains_cmd.py
``_print_document``): each year's entries (its summary and, for ``--format json``, its document) are handed to a writer
child of their own as soon as the year is computed, while the command matches the next year, several writers at once;
the year asked for has its document stored by a child and printed from the stored bytes once that child ended.

Whatever the schedule, the same bytes: over seeded random ledgers of every country (US, UK, DE, AU, CA), the printed
output and every cache entry (summaries and documents, byte for byte) with every store forked are those of the
command storing everything itself (the path main takes when nothing is forked) and the printed output is that of a
fresh computation with the cache off; a writer that fails (its work raising, the child killed) or stores nothing
still leaves the document printed exactly once."""

from __future__ import annotations

import os
import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from taxreport.ledger import Ledger, derived
from taxreport.ledger.derived import DerivedCache, cache_for
from taxreport.model import D, Trade
from tests.test_derived_writer import forks

UTC = timezone.utc
CURRENCY = {"us": "USD", "uk": "GBP", "de": "EUR", "au": "AUD", "ca": "CAD"}
ASKED = {"us": "2023", "uk": "2022-23", "de": "2023", "au": "2022-23", "ca": "2023"}


@pytest.fixture(autouse=True)
def settled(monkeypatch):
    """As in tests/test_derived_cache.py: every call as if a minute after the last write."""
    monkeypatch.setattr(derived, "_now", lambda: time.time() + 60)


def seeded(seed: int, quote: str, n: int = 400) -> list[Trade]:
    """Buys and sales of two coins over three years (several a day: UK same-day and 30-day rules, DE holding
    periods, CA superficial losses), quantities and prices of varied exponents, in the country's currency (no rate)."""
    rng = random.Random(seed)
    out: list[Trade] = []
    held = {(a, c): D(0) for a in ("okx:a", "kraken:b") for c in ("BTC", "ETH")}
    when = datetime(2021, 12, 20, tzinfo=UTC)
    for i in range(n):
        when += timedelta(hours=rng.randint(1, 130))
        account, coin = pick = rng.choice(sorted(held))
        price = D(rng.randint(100, 90000)) / D(rng.choice([1, 10, 100]))
        if held[pick] > D("0.1") and rng.random() < 0.45:
            qty = (held[pick] * D(rng.randint(5, 70)) / 100).quantize(D("0.00000001"))
            side = "sell"
            held[pick] -= qty
        else:
            qty = D(rng.randint(10**5, 10**6)) / D(10 ** rng.randint(3, 6))
            side = "buy"
            held[pick] += qty
        out.append(Trade(time=when, source="test", external_id=f"s{seed}-{i}", account=account, side=side, base=coin,
                         quote=quote, quantity=qty, price=price, fee=D(rng.randint(0, 300)) / 100, fee_asset=quote))
    return out


def forced(monkeypatch, minimum: int) -> list[int]:
    """Writer children made (``os.fork`` in this process) with :data:`FORK_MIN` set to ``minimum``, as on an idle
    machine (no other thread, an idle core): tests/test_derived_writer.py's ``forks``."""
    return forks(monkeypatch, minimum)


def cli(db: Path, home: Path, *args: str, cache: bool = True) -> bytes:
    from click.testing import CliRunner

    from taxreport.cli.main import root

    env = {"TAXREPORT_HOME": str(home)}
    if not cache:
        env["TAXREPORT_CACHE"] = "0"
    result = CliRunner().invoke(root, ["--db", str(db), "gains", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


def entries(home: Path) -> dict[str, bytes]:
    """The cache's entries (summaries ``.pickle``, documents ``.bytes``) by name without the state's prefix."""
    return {p.name.split("-", 1)[1]: p.read_bytes() for p in (home / "cache" / "derived").glob("*/*-*")}


def ledger_file(tmp_path: Path, name: str, trades: list[Trade]) -> Path:
    db = tmp_path / f"{name}.sqlite3"
    with Ledger(f"sqlite:///{db}") as led:
        led.append(trades, actor="importer:t", reason="r")
    return db


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("code", sorted(CURRENCY))
def test_every_store_forked_prints_and_stores_what_storing_here_does(tmp_path, monkeypatch, seed, code):
    trades = seeded(seed, CURRENCY[code])
    year = ASKED[code]
    args = ["-j", code, "-y", year, "--format", "json"]
    made = forced(monkeypatch, 0)
    forked = cli(ledger_file(tmp_path, "forked", trades), tmp_path / "home-forked", *args)
    assert len(made) >= 3  # a writer per year computed (its summary and its document)
    assert all(_reaped(pid) for pid in made)  # each waited for before the command returned
    monkeypatch.setattr(derived, "FORK_MIN", 10**9)  # nothing forked: everything stored here, as main does then
    here = cli(ledger_file(tmp_path, "here", trades), tmp_path / "home-here", *args)
    fresh = cli(ledger_file(tmp_path, "fresh", trades), tmp_path / "home-fresh", *args, cache=False)
    assert forked == here == fresh and f'"year": "{year}"'.encode() in forked and forked.endswith(b"}\n")
    stored = entries(tmp_path / "home-forked")
    documents = [k for k in stored if k.endswith(".bytes")]
    assert len(documents) >= 3 and len(stored) == 2 * len(documents)  # each year: its summary and its document
    assert stored == entries(tmp_path / "home-here")
    assert not list((tmp_path / "home-forked").rglob("*.tmp"))
    # the table (summaries only) and every year at once: the same with writers as without
    monkeypatch.setattr(derived, "FORK_MIN", 0)
    for extra in (["-j", code, "-y", year], ["-j", code, "-y", "all"]):
        a = cli(ledger_file(tmp_path, f"t{len(extra)}f", trades), tmp_path / f"h{len(extra)}f", *extra)
        b = cli(ledger_file(tmp_path, f"t{len(extra)}c", trades), tmp_path / f"h{len(extra)}c", *extra, cache=False)
        assert a == b and b"capital gains" in a


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@pytest.mark.parametrize("how", ["killed", "raises", "stores nothing"])
def test_the_asked_document_is_printed_once_whatever_its_writer_does(tmp_path, monkeypatch, how):
    """The writer child of the year asked for is killed, raises (its work is then done here: the document printed
    as it is made), or ends well without storing anything (its file could not be written: the document is then
    made and printed here): the output is the same bytes, printed once."""
    trades = seeded(3, "USD")
    args = ["-j", "us", "-y", "2023", "--format", "json"]
    expected = cli(ledger_file(tmp_path, "fresh", trades), tmp_path / "home-fresh", *args, cache=False)
    made = forced(monkeypatch, 0)
    parent = os.getpid()
    real_write = derived._write_bytes

    def write(value, fh):  # noqa: ANN001, ANN202
        if os.getpid() != parent:
            if how == "killed":
                os._exit(9)
            if how == "raises":
                raise RuntimeError("the writer fails")
            raise OSError("no space left on device")  # _store: nothing stored, the child ends well
        return real_write(value, fh)
    monkeypatch.setattr(derived, "_write_bytes", write)
    out = cli(ledger_file(tmp_path, "l", trades), tmp_path / "home", *args)
    assert made and out == expected
    assert not list((tmp_path / "home").rglob("*.tmp"))
    stored = entries(tmp_path / "home")
    documents = [k for k in stored if k.endswith(".bytes")]
    if how != "stores nothing":  # done here again: every year's document stored, as its summary
        assert len(documents) == len(stored) - len(documents) >= 3


def test_writers_run_at_once_and_the_command_is_not_held_for_one(tmp_path, monkeypatch):
    """A second entry is handed to a second child while the first still runs (the command is not held for the
    first), and :meth:`join` waits for both."""
    made = forced(monkeypatch, 0)
    gate = tmp_path / "go"
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        led.append(seeded(4, "USD", 5), actor="importer:t", reason="r")
        with led.pinned():
            cache: DerivedCache = cache_for(led)

            def first() -> None:
                for _ in range(2000):  # until the parent has made the second child (at most 20 s)
                    if gate.exists():
                        break
                    time.sleep(0.01)
                cache.put_bytes("doc", {"n": 1}, b"one")
            cache.later(first, size=1)
            cache.later(lambda: cache.put_bytes("doc", {"n": 2}, b"two"), size=1)
            assert len(made) == 2  # the second forked while the first waits
            gate.write_bytes(b"")
            cache.join()
            assert all(_reaped(pid) for pid in made)
            assert cache.lookup_bytes("doc", {"n": 1}) == b"one" and cache.lookup_bytes("doc", {"n": 2}) == b"two"


def test_one_writer_runs_the_block_in_one_child_in_order(tmp_path, monkeypatch):
    made = forced(monkeypatch, 0)
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        led.append(seeded(5, "USD", 5), actor="importer:t", reason="r")
        with led.pinned():
            cache = cache_for(led)
            shown: list[str] = []
            with cache.one_writer():
                cache.later(lambda: cache.put_bytes("doc", {"n": 1}, b"one"), size=1, after=lambda: shown.append("a"))
                cache.later(lambda: cache.put_bytes("doc", {"n": 2}, b"two"), size=1)
                assert made == []  # made at the block's end
            assert len(made) == 1
            cache.join()
            assert shown == ["a"]
            assert cache.lookup_bytes("doc", {"n": 1}) == b"one" and cache.lookup_bytes("doc", {"n": 2}) == b"two"


def test_at_most_max_writers_children_run_then_the_work_is_done_here(tmp_path, monkeypatch):
    made = forced(monkeypatch, 0)
    gate = tmp_path / "go"
    parent = os.getpid()
    ran_here: list[int] = []
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        led.append(seeded(6, "USD", 5), actor="importer:t", reason="r")
        with led.pinned():
            cache = cache_for(led)

            def wait(n: int) -> None:
                if os.getpid() == parent:
                    ran_here.append(n)
                    return
                for _ in range(2000):
                    if gate.exists():
                        break
                    time.sleep(0.01)
            for n in range(derived.MAX_WRITERS + 1):
                cache.later(lambda n=n: wait(n), size=1)
            assert len(made) == derived.MAX_WRITERS and ran_here == [derived.MAX_WRITERS]
            gate.write_bytes(b"")
            cache.join()
            assert ran_here == [derived.MAX_WRITERS]


def test_one_writer_hands_over_what_its_block_gathered_also_when_the_block_raises(tmp_path, monkeypatch):
    made = forced(monkeypatch, 0)
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        led.append(seeded(7, "USD", 5), actor="importer:t", reason="r")
        with led.pinned():
            cache = cache_for(led)
            with pytest.raises(RuntimeError, match="shape failed"), cache.one_writer():
                cache.later(lambda: cache.put_bytes("doc", {"n": 1}, b"one"), size=1)
                with cache.one_writer():  # inside another: added to the outer one
                    cache.later(lambda: cache.put_bytes("doc", {"n": 2}, b"two"), size=1)
                raise RuntimeError("shape failed")
            assert len(made) == 1
            cache.join()
            assert cache.lookup_bytes("doc", {"n": 1}) == b"one" and cache.lookup_bytes("doc", {"n": 2}) == b"two"
