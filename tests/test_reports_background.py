"""``export all`` writes the workbook in a forked child: its result comes back, and its error comes back as
one line (never a traceback, never a half-written file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxreport.errors import InputError, TaxreportError
from taxreport.reports.background import Background


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _fail(_: Path) -> Path:
    raise InputError("the workbook cannot be written: disk full", field="--out")


def _crash(_: Path) -> Path:
    raise ZeroDivisionError("division by zero\nsecond line")


def test_the_child_writes_and_returns_its_result(tmp_path):
    job = Background(_write, tmp_path / "a.txt", "written by the child")
    assert job.wait() == tmp_path / "a.txt"
    assert (tmp_path / "a.txt").read_text() == "written by the child"


def test_errors_come_back_as_one_line(tmp_path):
    with pytest.raises(TaxreportError, match=r"^--out: the workbook cannot be written: disk full$"):
        Background(_fail, tmp_path / "b.txt").wait()
    with pytest.raises(TaxreportError, match=r"^ZeroDivisionError: division by zero$"):
        Background(_crash, tmp_path / "c.txt").wait()
