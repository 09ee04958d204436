"""Progress bars: rich bars on a terminal only (never in pipes or JSON output); TAXREPORT_PROGRESS=0/1
overrides the terminal test."""

from __future__ import annotations

from click.testing import CliRunner

from taxreport import progress
from taxreport.cli import progress as cli_progress
from taxreport.cli.main import root


def test_bars_only_on_a_terminal_unless_forced(monkeypatch):
    monkeypatch.delenv("TAXREPORT_PROGRESS", raising=False)
    assert cli_progress.wanted(True) and not cli_progress.wanted(False)
    monkeypatch.setenv("TAXREPORT_PROGRESS", "0")
    assert not cli_progress.wanted(True)
    monkeypatch.setenv("TAXREPORT_PROGRESS", "1")
    assert cli_progress.wanted(False)


def test_a_forced_rich_reporter_is_installed_and_removed(monkeypatch):
    monkeypatch.setenv("TAXREPORT_PROGRESS", "1")
    with cli_progress.terminal_progress():
        reporter = progress._reporter.get()
        assert isinstance(reporter, cli_progress.RichReporter)
        with progress.task("Working", 10, min_total=1) as bar:
            bar.advance(10)
            assert reporter.bar is not None and reporter.open == 1
        assert reporter.bar is None and reporter.open == 0
    assert progress._reporter.get() is None


def test_json_output_of_a_command_has_no_bar(tmp_path, monkeypatch):
    monkeypatch.delenv("TAXREPORT_PROGRESS", raising=False)
    from taxreport.ledger import Ledger

    Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}").close()
    result = CliRunner().invoke(root, ["--db", str(tmp_path / "l.sqlite3"), "ledger", "verify", "--format", "json"])
    assert result.exit_code == 0 and result.output.startswith("{") and "━" not in result.output
