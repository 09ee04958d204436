"""The export registry (taxreport/reports/registry.py): ``export all`` writes what the registry lists
for the country (country forms from the country's Policy.forms), a format added to the registry appears
in ``export all`` without touching the CLI, and filing forms refuse simulated accounts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.jurisdictions.base import codes, get
from taxreport.reports import registry
from taxreport.reports.registry import FORMATS, Format, offered

ROOT = Path(__file__).resolve().parents[1]


def _run(db: Path, *args: str):
    return CliRunner().invoke(root, ["--db", str(db), *args])


def _demo_db(tmp_path: Path) -> Path:
    db = tmp_path / "l.sqlite3"
    assert _run(db, "import", "csv", str(ROOT / "sample_exports/demo_trades.csv")).exit_code == 0
    assert _run(db, "prices", "import", str(ROOT / "sample_exports/demo_rates.csv")).exit_code == 0
    return db


def test_country_forms_come_from_the_policy():
    assert [f.name for f in offered("us")] == ["koinly", "cointracker", "form8949", "xlsx", "pdf"]
    assert [f.name for f in offered("uk")] == ["koinly", "cointracker", "hmrc", "xlsx", "pdf"]
    assert [f.name for f in offered("de")] == ["koinly", "cointracker", "xlsx", "pdf"]
    for code in codes():
        assert {f.name for f in offered(code) if f.form} == set(get(code).policy.forms), code
    assert FORMATS["form8949"].countries() == ["us"] and FORMATS["hmrc"].countries() == ["uk"]
    assert FORMATS["hmrc"].path("uk", "2024-25") == "hmrc-computation-2024-25.csv"
    assert FORMATS["pdf"].path(None, "2024") == "taxreport-all-2024.pdf"


def test_a_format_added_to_the_registry_is_written_by_export_all(tmp_path, monkeypatch):
    db = _demo_db(tmp_path)
    seen: list[Any] = []

    def write(summary: Any, path: Path) -> int:  # a pure formatter: the summary in, one line per disposal out
        seen.append(summary)
        path.write_text("".join(f"{d.asset} {d.gain}\n" for d in summary.disposals))
        return len(summary.disposals)

    extra = Format("gainlines", "summary", "gains-{j}-{year}.txt", write)
    uk_only = Format("sa108", "summary", "sa108-{year}.csv", write, form=True)  # no Policy lists it
    monkeypatch.setattr(registry, "FORMATS", {**FORMATS, extra.name: extra, uk_only.name: uk_only})
    out = tmp_path / "out"
    result = _run(db, "export", "all", "-y", "2024", "-j", "us", "--out", str(out), "--format", "json")
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)["files"]
    assert [f["format"] for f in listing] == ["koinly", "cointracker", "form8949", "xlsx", "pdf", "gainlines"]
    text = (out / "gains-us-2024.txt").read_text()
    assert len(seen) == 1 and text.count("\n") == len(seen[0].disposals) > 0
    assert listing[-1]["content"] == f"{len(seen[0].disposals)} rows"
    assert not (out / "sa108-2024.csv").exists()


def test_filing_forms_refuse_simulated_accounts(tmp_path):
    db = _demo_db(tmp_path)
    out = tmp_path / "f.csv"
    for args in (("form8949", "-y", "2024"), ("hmrc", "-y", "2024-25")):
        result = _run(db, "export", *args, "--include-simulated", "--out", str(out))
        assert result.exit_code == 1 and "filing form" in result.output and not out.exists(), result.output
        assert len(result.output.strip().splitlines()) == 1
    folder = tmp_path / "sim"
    result = _run(db, "export", "all", "-y", "2024", "-j", "us", "--include-simulated", "--out", str(folder))
    assert result.exit_code == 0, result.output
    assert "form8949 not written: a filing form" in result.stderr
    assert not (folder / "form8949-2024.csv").exists() and (folder / "koinly-2024.csv").exists()


def test_the_simulated_banner_is_found_by_its_note_code_not_its_wording():
    from taxreport.jurisdictions.base import Note
    from datetime import datetime, timezone

    from taxreport.prepare import prepare_events
    from taxreport.simulated import SIMULATED_CODE, banner, banner_note, declaration

    declared = declaration("paper:core", "paper", time=datetime(2024, 7, 3, tzinfo=timezone.utc))
    made = prepare_events([declared], include_simulated=True).notes
    assert banner_note(made) == banner(["paper:core"]) and made[0].code == SIMULATED_CODE  # type: ignore[attr-defined]
    assert banner_note(prepare_events([declared]).notes) == ""  # left out: no banner, a plain "left out" note

    real = Note(banner(["paper:core"]), SIMULATED_CODE)
    assert banner_note([Note("price of X", "price"), real]) == real
    # the same words under another code (or as a plain string) are not the banner
    assert banner_note([Note(str(real), "events"), str(real), "SIMULATED: a preview's own note"]) == ""
