"""QA round 12 (helper qaimport): the zone of an OKX export that does not name one.

OKX writes the Time column in the display time zone of the account, and not every export's metadata line
says which. GiacenzeCrypto's ``config/import/OKX_Funding.json`` (Lucapasselli/GiacenzeCrypto at
1c109cef2b45c4f647612ad564ec18b73adc0bfe) records a real 2026 funding export whose first line carried UID
and account type only, checked against OKX's API: "bill 'Received' del 28/07/2026: ts API 10:02:03Z, CSV
12:02:03" (Europe/Rome, summer). Before: such a file could only be read as UTC (two hours off). Now
``--time-zone`` names the zone for files that name none; a file's own ``Time Zone:`` always wins.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from taxreport.cli.main import root

HEADER = "id,Time,Type,Amount,Before Balance,After Balance,Symbol\n"
ROWS = ("1,2026-07-28 12:02:03,Received,5,0,5,USDC\n"   # summer: Europe/Rome is UTC+2
        "2,2026-01-28 12:02:03,Received,5,5,10,USDC\n")  # winter: UTC+1


def run(tmp_path: Path, first_line: str, *opts: str) -> tuple[int, str, list[str]]:
    path = tmp_path / "funding.csv"
    path.write_text(first_line + HEADER + ROWS)
    db = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    res = CliRunner().invoke(root, ["--db", db, "import", "okx", str(path), *opts, "--format", "json"])
    if res.exit_code != 0:
        return res.exit_code, res.output, []
    listed = CliRunner().invoke(root, ["--db", db, "ledger", "list", "--format", "json"])
    return 0, json.loads(res.output)[0]["time_zone"], [r["time"] for r in json.loads(listed.output)]


def test_without_a_zone_the_file_is_read_as_utc_and_says_so(tmp_path):
    assert run(tmp_path, "UID:000,Account Type:Main\n") == (
        0, "UTC (metadata line names no time zone)",
        ["2026-01-28T12:02:03.000000Z", "2026-07-28T12:02:03.000000Z"])


def test_time_zone_option_reads_the_real_export_as_okx_api_does(tmp_path):
    code, label, times = run(tmp_path, "UID:000,Account Type:Main\n", "--time-zone", "Europe/Rome")
    assert (code, label) == (0, "Europe/Rome (--time-zone; the metadata line names none)")
    assert times == ["2026-01-28T11:02:03.000000Z", "2026-07-28T10:02:03.000000Z"]  # the API's 10:02:03Z


def test_time_zone_option_for_a_file_without_metadata_line(tmp_path):
    code, label, times = run(tmp_path, "", "--time-zone", "UTC+2")
    assert (code, label) == (0, "UTC+2 (--time-zone; no metadata line)")
    assert times == ["2026-01-28T10:02:03.000000Z", "2026-07-28T10:02:03.000000Z"]


def test_the_files_own_zone_wins_over_the_option(tmp_path):
    code, label, times = run(tmp_path, "UID:000,Account Type:Main,Time Zone:UTC+8\n", "--time-zone", "Europe/Rome")
    assert (code, label) == (0, "UTC+8 (metadata line)")
    assert times == ["2026-01-28T04:02:03.000000Z", "2026-07-28T04:02:03.000000Z"]


def test_unknown_zone_is_refused_in_one_line(tmp_path):
    code, out, _ = run(tmp_path, "UID:000,Account Type:Main\n", "--time-zone", "Mars/Olympus")
    assert code == 2
    assert "Invalid value for --time-zone: 'Mars/Olympus' is neither an IANA time zone" in out
    assert "Traceback" not in out
