"""An import counts its file's lines only to size a progress bar, so only when a bar can be shown
(:func:`taxreport.importers.base.bar_total`): without a reporter (a pipe, a script, a benchmark) the file is read once.
At 1,000,000 trades the count was a second read of 80 MB (~0.15 s)."""

from __future__ import annotations

from click.testing import CliRunner

from taxreport import progress
from taxreport.cli.main import root
from taxreport.importers import base

CSV = "timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id\n" + "".join(
    f"2024-01-0{d}T00:00:00Z,k:main,{side},BTC,USD,0.5,{100 * d},,,{d}\n"
    for d, side in ((1, "buy"), (2, "buy"), (3, "sell"), (4, "buy"), (5, "sell"), (6, "buy")))


class Recorder:
    def __init__(self) -> None:
        self.started: list[tuple[str, int | None]] = []

    def start(self, label, total):  # noqa: ANN001, ANN201
        self.started.append((label, total))
        return self

    def advance(self, amount=1):  # noqa: ANN001, ANN201
        pass

    def finish(self, task):  # noqa: ANN001, ANN201
        pass


def test_without_a_bar_the_file_is_not_counted_with_one_it_is(tmp_path, monkeypatch):
    counted: list[str] = []
    real = base.count_lines
    monkeypatch.setattr(base, "count_lines", lambda path: counted.append(str(path)) or real(path))
    csv = tmp_path / "t.csv"
    csv.write_text(CSV)
    r = CliRunner().invoke(root, ["--db", str(tmp_path / "a.sqlite3"), "import", "csv", str(csv)])
    assert r.exit_code == 0 and r.output == f"{csv}: 6 rows, 6 added, 0 duplicates (already in the ledger or earlier in the file)\n"
    assert counted == []
    rec = Recorder()
    monkeypatch.setattr(progress, "MIN_TOTAL", 5)
    with progress.reporting(rec):
        r = CliRunner().invoke(root, ["--db", str(tmp_path / "b.sqlite3"), "import", "csv", str(csv)])
    assert r.exit_code == 0, r.output
    assert counted == [str(csv)]
    assert ("Importing t.csv", 6) in rec.started  # 7 lines less the header


def test_bar_total(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text(CSV)
    assert base.bar_total(csv) is None  # no reporter installed
    with progress.reporting(Recorder()):
        assert base.bar_total(csv) == 6
        assert base.bar_total(csv, skip=3) == 4  # a mapped file's header and 2 lines before it
        assert base.bar_total(csv, skip=9) == 0
        assert base.bar_total(tmp_path / "missing.csv") is None
        (tmp_path / "empty.csv").write_text("")
        assert base.bar_total(tmp_path / "empty.csv") is None
