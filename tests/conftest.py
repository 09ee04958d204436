"""Shared fixtures. ``ledger`` is a fresh SQLite ledger; ``any_ledger`` runs a test on SQLite and on
a real PostgreSQL server (``TAXREPORT_TEST_PG_URL``, set by ``scripts/with-postgres.sh``; with ``CI``
set a missing server fails the test instead of skipping it)."""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

import pytest

from taxreport.ledger import Ledger

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """No test ever touches the user's real data directory or ledger."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("TAXREPORT_HOME", str(home))
    monkeypatch.delenv("TAXREPORT_DB", raising=False)
    # the clocks of taxreport/clock.py: the current time unless a test sets them (`make demo` exports both)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    monkeypatch.delenv("TAXREPORT_RECORDED_AT", raising=False)
    yield


@pytest.fixture(autouse=True)
def _no_thread_left_behind():
    """A test (its fixtures torn down) leaves no thread running: a thread left behind stops every later fork of the
    test process (taxreport/ledger/derived.py ``_threads``: the derived cache's writer is forked only when this
    process has one thread), as it would in a user's process. A thread still finishing its last step gets 2 s."""
    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before]
    for t in left:
        t.join(2.0)
    alive = [t.name for t in left if t.is_alive()]
    if alive:
        pytest.fail(f"the test left {len(alive)} thread(s) running: {', '.join(alive)} (stop and join them when "
                    "the work ends)", pytrace=False)


@pytest.fixture
def narrow_cli(tmp_path, monkeypatch):
    """``call(*args, terminal=False, columns=80, code=0)``: the CLI on a fresh ledger and home, ``COLUMNS``
    wide, its output judged a terminal's or a pipe's (``cli.fit._on_terminal``), the exit code checked; the
    output returned. For the narrow-terminal tests (test_plain_lines_fit, test_qapolish_lines, test_qatables_fit)."""
    from click.testing import CliRunner

    from taxreport.cli import fit
    from taxreport.cli.main import root

    monkeypatch.setenv("TAXREPORT_DB", str(tmp_path / "ledger.sqlite3"))
    monkeypatch.setenv("TAXREPORT_HOME", str(tmp_path / "home"))
    runner = CliRunner()

    def call(*args: str, terminal: bool = False, columns: int = 80, code: int = 0) -> str:
        monkeypatch.setenv("COLUMNS", str(columns))
        monkeypatch.setattr(fit, "_on_terminal", lambda err: terminal)
        result = runner.invoke(root, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return call


@pytest.fixture
def ledger(tmp_path):
    led = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    yield led
    led.close()


def _postgres_url() -> str:
    url = os.environ.get("TAXREPORT_TEST_PG_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI is set but TAXREPORT_TEST_PG_URL is not: run the tests through "
                        "scripts/with-postgres.sh (make test does)")
        pytest.skip("no PostgreSQL server (run `make test`, which starts one)")
    return url


@pytest.fixture
def pg_url():
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = _postgres_url()
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_ledger(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_url")
    led = Ledger(url)
    yield led
    led.close()
