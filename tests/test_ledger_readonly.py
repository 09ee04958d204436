"""A ledger handed over read-only (an archive, an accountant's copy: a SQLite file in WAL mode on a folder
and file nobody may write) can be verified and reported from (issues 13 item 6 and 14 item 3); commands
that only read open the ledger read-only and never write; a write to a read-only ledger is refused in one
line. Root ignores file permissions, so as root each check runs in a forked child that drops to ``nobody``
(everything it needs is imported first, by the same check on a writable copy)."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
import traceback
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.errors import LedgerError
from taxreport.ledger import Ledger
from taxreport.ledger.store import _read_only_file
from taxreport.model import D, Trade

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
NOBODY = 65534


def trades(n: int) -> list[Trade]:
    return [Trade(time=T0 + timedelta(days=i), source="test", external_id=str(i), account="okx:main",
                  side="buy" if i % 3 else "sell", base="BTC", quote="USD", quantity=D("0.1"),
                  price=D(str(40000 + i)), fee=D("1"), fee_asset="USD") for i in range(1, n + 1)]


@pytest.fixture
def archive():
    """A closed WAL-mode ledger of 30 trades in a folder made read-only afterwards (mode 555, file 444)."""
    folder = Path(tempfile.mkdtemp(prefix="taxreport-ro-"))
    path = folder / "ledger.sqlite3"
    with Ledger(f"sqlite:///{path}") as led:
        led.append(trades(30), actor="importer:test", reason="the year's trades")
        head = led.head()
    assert not path.with_name(path.name + "-wal").exists()  # closed: checkpointed, WAL removed
    with path.open("rb") as fh:
        assert fh.read(20)[18:20] == b"\x02\x02"  # the header says WAL mode (read and write versions 2)
    os.chmod(path, 0o444)
    os.chmod(folder, 0o555)
    yield path, head
    os.chmod(folder, 0o755)
    shutil.rmtree(folder)


def as_reader_without_write_access(check: Callable[[], None]) -> None:
    """Run ``check`` in this process (not root) or in a forked child that becomes ``nobody`` (root)."""
    if os.geteuid() != 0:
        check()
        return
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            check()
            code = 0
        except BaseException:  # noqa: BLE001 - reported to the parent through the exit code
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the check failed as a reader without write access"


def warm_up(path: Path) -> None:
    """Import everything the checks use, on a writable copy (a forked ``nobody`` cannot read /root)."""
    copy = Path(tempfile.mkdtemp()) / "copy.sqlite3"
    shutil.copy(path, copy)
    with Ledger(f"sqlite:///{copy}", readonly=True) as led:
        led.verify()
        led.events()
    runner = CliRunner()
    for args in (["ledger", "verify"], ["ledger", "list", "--format", "json"], ["ledger", "balances"],
                 ["gains", "-j", "us", "-y", "2024"]):
        runner.invoke(root, ["--db", str(copy), *args])
    shutil.rmtree(copy.parent)


def test_a_read_only_archive_opens_read_only_by_itself_and_verifies(archive):
    path, head = archive
    warm_up(path)

    def check() -> None:
        assert _read_only_file(path)
        led = Ledger(f"sqlite:///{path}", readonly=None)  # what every CLI command does
        assert led.readonly
        result = led.verify()
        assert result.ok and result.rows == 30 and result.head_hash == head[1]
        assert led.events() == trades(30) and led.head() == head
        with pytest.raises(LedgerError, match=r"ledger.sqlite3 is open read-only; nothing was written"):
            led.append(trades(31)[-1:], actor="importer:test", reason="late")
        led.close()
        assert not path.with_name(path.name + "-wal").exists()

    as_reader_without_write_access(check)


def test_the_cli_verifies_lists_and_reports_from_a_read_only_copy(archive):
    path, head = archive
    warm_up(path)

    def check() -> None:
        runner = CliRunner()
        verify = runner.invoke(root, ["--db", str(path), "ledger", "verify"])
        assert verify.exit_code == 0, verify.output
        assert verify.output.strip() == f"ledger OK: 30 events, chain head {head[1]}"
        listed = runner.invoke(root, ["--db", str(path), "ledger", "list", "--format", "json"])
        assert listed.exit_code == 0 and listed.output.count('"seq"') == 30
        balances = runner.invoke(root, ["--db", str(path), "ledger", "balances"])
        assert balances.exit_code == 0 and "okx:main" in balances.output
        # 30 trades on days 1..30 of 2024: sells on days 3, 6, …, 30 (10 sells of 0.1 BTC);
        # buys of 0.1 on the other 20 days. FIFO: each sale takes the oldest remaining 0.1 lot.
        gains = runner.invoke(root, ["--db", str(path), "gains", "-j", "us", "-y", "2024", "--format", "json"])
        assert gains.exit_code == 0, gains.output
        assert '"disposals": [' in gains.output
        add = runner.invoke(root, ["--db", str(path), "ledger", "add", "--time", "2024-03-01T00:00:00Z",
                                   "--account", "okx:main", "--side", "buy", "--base", "BTC", "--quote", "USD",
                                   "--quantity", "1", "--price", "1"])
        assert add.exit_code == 1 and "is open read-only; nothing was written" in add.output

    as_reader_without_write_access(check)
    assert stat.S_IMODE(path.stat().st_mode) == 0o444 and len(list(path.parent.iterdir())) == 1


def test_read_only_commands_never_write_to_a_writable_ledger(tmp_path):
    path = tmp_path / "l.sqlite3"
    with Ledger(f"sqlite:///{path}") as led:
        led.append(trades(5), actor="importer:test", reason="r")
    before = path.read_bytes()
    for args in (["ledger", "verify"], ["ledger", "list"], ["ledger", "balances"]):
        assert CliRunner().invoke(root, ["--db", str(path), *args]).exit_code == 0
    assert path.read_bytes() == before
    with Ledger(f"sqlite:///{path}", readonly=True) as led:
        assert led.readonly and led.count() == 5
        with pytest.raises(LedgerError, match="open read-only"):
            led.append(trades(6)[-1:], actor="importer:test", reason="r")


def test_reading_a_ledger_that_does_not_exist_is_refused_and_creates_nothing(tmp_path):
    # A mistyped --db must not become a new empty ledger reported as "0 events" / "no gains".
    path = tmp_path / "new.sqlite3"
    for args in (["ledger", "verify"], ["ledger", "list"], ["gains", "-j", "us", "-y", "2024"], ["review"]):
        result = CliRunner().invoke(root, ["--db", str(path), *args])
        assert result.exit_code == 1, (args, result.output)
        assert result.output.startswith(f"error: no ledger at {path}: nothing has been written there yet")
        assert "Traceback" not in result.output
    assert not path.exists()
    # an empty ledger that exists is fine
    Ledger(f"sqlite:///{path}").close()
    result = CliRunner().invoke(root, ["--db", str(path), "ledger", "verify"])
    assert result.exit_code == 0 and "ledger OK: 0 events" in result.output


@pytest.mark.postgres
def test_postgres_read_only_sessions_refuse_writes(pg_url):
    with Ledger(pg_url) as led:
        led.append(trades(3), actor="importer:test", reason="r")
    with Ledger(pg_url, readonly=True) as ro:
        assert ro.verify().ok and ro.events() == trades(3)
        with pytest.raises(LedgerError, match="open read-only"):
            ro.append(trades(4)[-1:], actor="importer:test", reason="r")
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        with pytest.raises(DBAPIError, match="read-only transaction"), ro.engine.begin() as conn:
            conn.execute(text("DELETE FROM events"))
