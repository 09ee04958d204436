"""The forked writer of the derived cache (taxreport/ledger/derived.py ``DerivedCache.later``/``join``): a large
year's entries are stored by a child process on the machine's other core while the command goes on. What it stores
is what storing them here stores, byte for byte; the command waits for it; a child that fails (an exception, a
signal) leaves no temporary file and its work is done here, as it was before there was a child (same entries,
same errors); the child settles a young state's record, so the command itself reads the content once."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from taxreport.gains import GainsRequest, gains_for
from taxreport.ledger import Ledger, derived
from taxreport.ledger.derived import cache_for
from taxreport.model import D

from test_derived_cache import many_trades, trade


@pytest.fixture(autouse=True)
def settled(monkeypatch):
    """As in tests/test_derived_cache.py: every call as if a minute after the last write."""
    monkeypatch.setattr(derived, "_now", lambda: time.time() + 60)


def forks(monkeypatch, minimum: int = 0) -> list[int]:
    """Count the writer children (``os.fork`` in the parent) with :data:`FORK_MIN` set to ``minimum``."""
    made: list[int] = []
    real = os.fork

    def fork() -> int:
        pid = real()
        if pid:
            made.append(pid)
        return pid
    monkeypatch.setattr(derived, "FORK_MIN", minimum)
    monkeypatch.setattr(os, "fork", fork)
    # (no earlier test leaves a thread running: tests/conftest.py fails one that does, so the fork is not stopped)
    monkeypatch.setattr(derived, "_idle_cores", lambda: 1)
    return made


def three_years(db: Path) -> None:
    with Ledger(f"sqlite:///{db}") as led:
        led.append(many_trades("USD", 240) + [trade(400 + i, "sell", "0.01", str(500 + i)) for i in range(3)]
                   + [trade(800, "sell", "0.01", "900")], actor="importer:t", reason="r")


def entries(folder: Path) -> dict[str, bytes]:
    """The cache's entries by name without the state's prefix (the state differs from one file to another)."""
    return {p.name.split("-", 1)[1]: p.read_bytes() for p in folder.glob("*/*-*")}


def run(db: Path, home: Path, year: str) -> str:
    from click.testing import CliRunner

    from taxreport.cli.main import root

    result = CliRunner().invoke(root, ["--db", str(db), "gains", "-j", "us", "-y", year, "--format", "json"],
                                env={"TAXREPORT_HOME": str(home)})
    assert result.exit_code == 0, result.output
    return result.output


def test_the_forked_writer_stores_what_storing_here_stores_byte_for_byte(tmp_path, monkeypatch):
    for name in ("forked", "here"):
        three_years(tmp_path / f"{name}.sqlite3")
    made = forks(monkeypatch, 0)
    forked = run(tmp_path / "forked.sqlite3", tmp_path / "home-forked", "2024")
    assert len(made) == 3  # a writer per year: its document and its summary (2024's document printed once stored)
    assert all(_gone(pid) for pid in made)  # each waited for
    monkeypatch.setattr(derived, "FORK_MIN", 10**9)
    here = run(tmp_path / "here.sqlite3", tmp_path / "home-here", "2024")
    assert len(made) == 3
    assert forked == here and '"year": "2024"' in forked
    stored = entries(tmp_path / "home-forked" / "cache" / "derived")
    assert len(stored) == 6  # three summaries, three documents
    assert stored == entries(tmp_path / "home-here" / "cache" / "derived")
    assert not list((tmp_path / "home-forked").rglob("*.tmp"))
    for year in ("2025", "2026"):  # the other years, stored by the children: printed as stored, equal to fresh ones
        monkeypatch.setenv("TAXREPORT_CACHE", "0")
        fresh = run(tmp_path / "forked.sqlite3", tmp_path / "home-fresh", year)
        monkeypatch.delenv("TAXREPORT_CACHE")
        assert run(tmp_path / "forked.sqlite3", tmp_path / "home-forked", year) == fresh
    assert len(made) == 3  # hits: nothing computed, nothing forked


def _gone(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True  # already reaped by join
    return False


@pytest.fixture
def pinned(tmp_path):
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        led.append([trade(0, "buy", "1", "100")], actor="importer:t", reason="r")
        with led.pinned():
            yield cache_for(led)


def test_a_child_that_raises_or_is_killed_leaves_nothing_half_written_and_its_work_is_done_here(pinned, monkeypatch):
    made = forks(monkeypatch, 0)
    parent = os.getpid()
    done: list[str] = []

    def failing(how: str):  # noqa: ANN202
        def work() -> None:
            if os.getpid() != parent:  # the child: a half-written temporary file, then it fails
                (pinned.folder / f"{os.getpid()}.half.tmp").write_bytes(b"half")
                if how == "signal":
                    os.kill(os.getpid(), signal.SIGKILL)
                raise RuntimeError("the child fails")
            done.append(how)
            pinned.put_bytes("doc", {"how": how}, [b"whole ", how.encode()])
        return work
    for how in ("raise", "signal"):
        pinned.later(failing(how), size=1, holds=object())
        assert len(made) == 1 and not done
        pinned.join()
        assert done == [how]  # done here
        made.clear()
        assert pinned.lookup_bytes("doc", {"how": how}) == b"whole " + how.encode()
        assert not list(pinned.folder.glob("*.tmp"))
        done.clear()


def test_an_error_of_the_work_itself_is_raised_here_as_before(pinned, monkeypatch):
    forks(monkeypatch, 5)

    def broken() -> None:
        raise OSError("disk on fire")
    with pytest.raises(OSError, match="disk on fire"):  # small: done here at once
        pinned.later(broken, size=1)
    pinned.later(broken, size=5)  # big: in a child, which fails; then here, which raises
    with pytest.raises(OSError, match="disk on fire"):
        pinned.join()
    pinned.join()  # nothing left to wait for


def test_nothing_is_forked_when_nothing_would_be_stored(tmp_path, monkeypatch):
    made = forks(monkeypatch, 0)
    calls: list[int] = []
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        led.append([trade(0, "buy", "1", "100")], actor="importer:t", reason="r")
        cache_for(led).later(lambda: calls.append(1), size=10)  # not pinned
        with led.pinned(), monkeypatch.context() as m:
            m.setattr(derived, "_idle_cores", lambda: 0)
            m.setattr(derived, "_threads", lambda: 1)
            cache_for(led).later(lambda: calls.append(1), size=10)  # no idle CPU: no use
            m.setattr(derived, "_idle_cores", lambda: 1)
            m.setattr(derived, "_threads", lambda: 2)
            cache_for(led).later(lambda: calls.append(1), size=10)  # another thread: not safe
        monkeypatch.setenv("TAXREPORT_CACHE", "0")
        with led.pinned():
            led._derived_cache = None
            cache_for(led).later(lambda: calls.append(1), size=10)  # cache off
    assert calls == [1, 1, 1, 1] and made == []


def test_the_child_settles_a_young_state_so_the_command_reads_the_content_once(tmp_path, monkeypatch):
    """The first call right after an import reads the state young (with its content digest); by the time it
    stores, the files are old: the record is marked settled after one more read of the content, which the
    writer child makes (the command itself read the content once)."""
    url = f"sqlite:///{tmp_path / 'y.sqlite3'}"
    with Ledger(url) as writer:
        writer.append([trade(0, "buy", "1", "100"), trade(1, "sell", "0.5", "300"),
                       trade(400, "sell", "0.25", "500")], actor="importer:t", reason="r")
    clock = [time.time()]
    monkeypatch.setattr(derived, "_now", lambda: clock[0])  # young when read...
    digests: list[int] = []
    original = derived._content_digest

    def digest(path: Path) -> str | None:
        if not digests:
            clock[0] = time.time() + 60  # ...and old from the next read on (before anything is stored)
        digests.append(os.getpid())
        return original(path)
    monkeypatch.setattr(derived, "_content_digest", digest)
    made = forks(monkeypatch, 0)
    with Ledger(url) as fresh:
        summary = gains_for(fresh, GainsRequest("us", "2024"))
        record = next(fresh._derived_cache.folder.glob("*.state"))
    # 2024 FIFO: proceeds 0.5 x 300 - 1 = 149, cost (100 + 1) / 2 = 50.5: gain 98.5
    assert summary.gain == D("98.5") and len(made) == 2  # the summaries of 2024 and 2025, a writer each
    assert digests == [os.getpid()]  # the parent read the content once (the child's read is its own)
    assert json.loads(record.read_text()) == {"digest": None}  # settled by the child


def test_idle_cores_are_the_cpus_nothing_else_runs_on(tmp_path, monkeypatch):
    cpus = len(os.sched_getaffinity(0))
    loadavg = tmp_path / "loadavg"
    monkeypatch.setattr(derived, "_LOADAVG", loadavg)
    loadavg.write_text("3.90 3.75 3.35 1/98 27708\n")  # only this process runs now (a minute of load before)
    assert derived._idle_cores() == cpus - 1
    loadavg.write_text(f"0.10 0.05 0.01 {cpus + 1}/98 27708\n")  # every CPU busy right now
    assert derived._idle_cores() == -1
    monkeypatch.setattr(derived, "_LOADAVG", tmp_path / "none")  # not Linux: the load average of the last minute
    monkeypatch.setattr(os, "getloadavg", lambda: (0.3, 0.0, 0.0))
    assert derived._idle_cores() == cpus - 1
    monkeypatch.setattr(os, "getloadavg", lambda: (cpus + 0.7, 0.0, 0.0))
    assert derived._idle_cores() == -2


def test_a_terminal_progress_bar_is_stopped_for_the_fork_and_shown_again(tmp_path, monkeypatch):
    """On a terminal a rich bar refreshes itself from a thread of its own, which used to stop every fork (a user
    watching the bar never got the second core). ``progress.suspended`` stops and joins that thread for the fork,
    and the bar runs again after it, in the parent only."""
    import io
    import threading

    from rich.console import Console

    from taxreport import progress
    from taxreport.cli.progress import RichReporter

    made = forks(monkeypatch, 0)
    seen: list[int] = []
    ours = threading.active_count  # derived._threads: no earlier test left a thread running (tests/conftest.py)
    real_fork = os.fork

    def fork() -> int:
        seen.append(ours())  # the threads alive at the fork
        return real_fork()
    monkeypatch.setattr(os, "fork", fork)
    reporter = RichReporter(Console(file=io.StringIO(), force_terminal=True))
    stored: list[int] = []
    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        led.append([trade(0, "buy", "1", "100")], actor="importer:t", reason="r")
        with progress.reporting(reporter), progress.task("Computing", 10, min_total=1), led.pinned():
            assert reporter.bar is not None and ours() == 2  # the bar's refresher runs
            cache = cache_for(led)
            cache.later(lambda: stored.append(1), size=10)
            assert reporter.bar.live.is_started and ours() == 2  # shown again after the fork
            cache.join()
    assert len(made) == 1 and seen == [1]  # forked, with no other thread alive at that moment
    assert stored == []  # the work ran in the child (this process's list is untouched)
