"""``taxreport export …`` end to end on a temporary ledger (the demo trades and rates)."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner
from pypdf import PdfReader

from taxreport.cli.main import root

ROOT = Path(__file__).resolve().parents[1]


def _run(db: Path, *args: str):
    return CliRunner().invoke(root, ["--db", str(db), *args], catch_exceptions=False)


def _demo_db(tmp_path: Path) -> Path:
    db = tmp_path / "l.sqlite3"
    assert _run(db, "import", "csv", str(ROOT / "sample_exports/demo_trades.csv")).exit_code == 0
    assert _run(db, "prices", "import", str(ROOT / "sample_exports/demo_rates.csv")).exit_code == 0
    return db


def test_export_all_us_writes_and_lists_every_file(tmp_path):
    db = _demo_db(tmp_path)
    out = tmp_path / "out"
    result = _run(db, "export", "all", "--year", "2024", "--jurisdiction", "us", "--out", str(out), "--format", "json")
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    names = sorted(Path(f["path"]).name for f in listing["files"])
    assert names == ["cointracker-2024.csv", "form8949-2024.csv", "koinly-2024.csv", "taxreport-us-2024.pdf",
                     "taxreport-us-2024.xlsx"]
    assert sorted(p.name for p in out.iterdir()) == names  # nothing else (no .partial files)
    # the PDF's totals are the gains command's totals
    gains = json.loads(_run(db, "gains", "-j", "us", "-y", "2024", "--format", "json").output)
    text = "".join(p.extract_text() for p in PdfReader(out / "taxreport-us-2024.pdf").pages)
    for key in ("proceeds", "cost", "gain", "taxable_gain"):
        value = f"{float(gains[key]):,.2f}"
        assert value in text, (key, value)
    rows = list(csv.DictReader((out / "form8949-2024.csv").open()))
    total = [r for r in rows if r["(a) Description of property"] == "Totals"]
    assert sum(Decimal(r["(h) Gain or (loss)"]) for r in total) == Decimal(gains["gain"])


def test_export_all_uk_includes_the_hmrc_computation(tmp_path):
    db = _demo_db(tmp_path)
    out = tmp_path / "uk"
    result = _run(db, "export", "all", "--year", "2024-25", "-j", "uk", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert (out / "hmrc-computation-2024-25.csv").exists() and not (out / "form8949-2024-25.csv").exists()
    rows = list(csv.DictReader((out / "hmrc-computation-2024-25.csv").open()))
    assert rows[0]["Matching rule"].startswith("Section 104 pool")


def test_single_exports_and_default_names(tmp_path, monkeypatch):
    db = _demo_db(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = _run(db, "export", "koinly", "--year", "2024")
    assert result.exit_code == 0 and "koinly-2024.csv" in result.output
    lines = (tmp_path / "koinly-2024.csv").read_text().splitlines()
    assert lines[0].startswith("Date,Sent Amount,Sent Currency,Received Amount")
    assert len(lines) == 1 + 8  # the 8 demo trades of 2024
    assert _run(db, "export", "cointracker", "--year", "2024", "--only-year", "--out", "c.csv").exit_code == 0
    assert (tmp_path / "c.csv").read_text().splitlines()[1].startswith("01/05/2024 10:00:00,0.5,BTC,22000,USD")
    assert _run(db, "export", "xlsx", "--year", "2024", "-j", "us").exit_code == 0
    assert (tmp_path / "taxreport-us-2024.xlsx").exists()


def test_errors_are_one_line_and_write_nothing(tmp_path):
    db = _demo_db(tmp_path)
    out = tmp_path / "de"
    runner = CliRunner()
    # no EUR rates in the demo data: the gains fail first, so nothing at all is written
    result = runner.invoke(root, ["--db", str(db), "export", "all", "--year", "2024", "-j", "de", "--out", str(out)])
    assert result.exit_code != 0 and "error:" in result.output and not out.exists()
    result = runner.invoke(root, ["--db", str(db), "export", "form8949", "--year", "2024-25", "-j", "uk",
                                  "--out", str(tmp_path / "f.csv")])
    assert result.exit_code != 0 and "US form" in result.output and not (tmp_path / "f.csv").exists()
    result = runner.invoke(root, ["--db", str(db), "export", "xlsx", "--year", "2024", "-j", "zz"])
    assert result.exit_code != 0 and "unknown jurisdiction" in result.output


def test_help_has_examples():
    for cmd in ("koinly", "cointracker", "form8949", "hmrc", "xlsx", "pdf", "all"):
        result = CliRunner().invoke(root, ["export", cmd, "--help"])
        assert result.exit_code == 0 and "Examples:" in result.output, cmd


def test_export_module_imports_no_heavy_library():
    import subprocess
    import sys

    code = ("import sys, taxreport.cli.export_cmds, taxreport.reports.pdf, taxreport.reports.xlsx, "
            "taxreport.reports.charts, taxreport.reports.koinly; "
            "print(sorted(m for m in ('weasyprint', 'matplotlib', 'openpyxl', 'xlsxwriter', 'reportlab', 'pypdf', 'pandas', 'ccxt') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_out_naming_an_existing_folder_writes_the_descriptive_name_inside_it(tmp_path):
    """`export hmrc --out uk/` then `export xlsx --out uk/` (as `export all --out uk/`): each file lands in
    the folder under its own name; neither overwrites the other nor fails on the folder."""
    db = _demo_db(tmp_path)
    folder = tmp_path / "uk"
    folder.mkdir()
    for fmt in ("hmrc", "xlsx", "koinly"):
        result = _run(db, "export", fmt, "--year", "2024-25", "-j", "uk", "--out", str(folder))
        assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == ["hmrc-computation-2024-25.csv", "koinly-2024-25.csv",
                                                        "taxreport-uk-2024-25.xlsx"]
    rows = list(csv.DictReader((folder / "hmrc-computation-2024-25.csv").open()))
    assert rows[0]["Matching rule"].startswith("Section 104 pool")
    assert (tmp_path / "one.csv").exists() is False
    assert _run(db, "export", "hmrc", "-y", "2024-25", "--out", str(tmp_path / "one.csv")).exit_code == 0
    assert (tmp_path / "one.csv").is_file()  # a file name is still a file name
