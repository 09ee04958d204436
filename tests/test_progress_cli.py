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


class Recorder:
    def __init__(self) -> None:
        self.log: list[tuple] = []

    def start(self, label, total):  # noqa: ANN001, ANN201
        self.log.append(("start", label, total))
        return self

    def advance(self, amount=1):  # noqa: ANN001, ANN201
        self.log.append(("advance", amount))

    def finish(self, task):  # noqa: ANN001, ANN201
        self.log.append(("finish",))


def test_import_gains_and_exports_of_a_large_ledger_report_progress(tmp_path, monkeypatch):
    """import csv: a bar sized by the file's lines; gains (a computation, not a cache hit) and a single export:
    a spinner, each only when the work is at least MIN_TOTAL rows (here 5)."""
    from taxreport.ledger import derived

    monkeypatch.setattr(progress, "MIN_TOTAL", 5)
    monkeypatch.setattr(derived, "_now", lambda: 1e12)  # long after the import: the result may be stored
    csv = tmp_path / "t.csv"
    csv.write_text("timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id\n" + "".join(
        f"2024-01-0{d}T00:00:00Z,k:main,{side},BTC,USD,0.5,{100 * d},,,{d}\n"
        for d, side in ((1, "buy"), (2, "buy"), (3, "sell"), (4, "buy"), (5, "sell"), (6, "buy"))))
    db = str(tmp_path / "l.sqlite3")
    rec = Recorder()
    with progress.reporting(rec):
        assert CliRunner().invoke(root, ["--db", db, "import", "csv", str(csv)]).exit_code == 0
        assert ("start", "Importing t.csv", 6) in rec.log
        rec.log.clear()
        assert CliRunner().invoke(root, ["--db", db, "gains", "-j", "us", "-y", "2024"]).exit_code == 0
        assert ("start", "Computing US 2024", None) in rec.log
        rec.log.clear()
        CliRunner().invoke(root, ["--db", db, "gains", "-j", "us", "-y", "2024"])  # a cache hit: nothing to show
        assert not any(e[0] == "start" and e[1].startswith("Computing") for e in rec.log)
        out = tmp_path / "k.csv"
        assert CliRunner().invoke(root, ["--db", db, "export", "koinly", "-y", "2024", "--out", str(out)]).exit_code == 0
        assert ("start", f"Writing {out}", None) in rec.log
