"""QA round 13 (helper qarecon): ``reconcile okx`` reads an export's times exactly as ``import okx`` does.

OKX writes the Time column in the account's display time zone and not every export's metadata line says
which: GiacenzeCrypto's ``config/import/OKX_Funding.json`` (Lucapasselli/GiacenzeCrypto at
1c109cef2b45c4f647612ad564ec18b73adc0bfe) records a real 2026 export whose first line named no zone and
whose times were Europe/Rome ("bill 'Received' del 28/07/2026: ts API 10:02:03Z, CSV 12:02:03"). Round 12
gave ``import okx`` a ``--time-zone``; before this round ``reconcile okx`` had none, so a file imported with
``--time-zone Europe/Rome`` and reconciled read every row as UTC, one or two hours off the ledger: fills
"only in OKX" at the edges, balances diverging, and the fills in between matched by key *silently* despite
their wrong time. Now: the same option (one definition, one resolver), the file's own ``Time Zone:`` still
wins, the report names the zone of each file and warns when a file names none, and a pair whose times
differ by more than the matching window is a mismatch on ``time``.

The trading rows are the repository's synthetic T4 sample (sample_exports/okx/okx-trading-history.csv, real
T4 layout) with its metadata line replaced by one naming no zone, as in the real export above.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from taxreport.cli.main import root

SAMPLE = Path(__file__).resolve().parent.parent / "sample_exports" / "okx" / "okx-trading-history.csv"
NO_ZONE = "UID:000000,Account Type:Main\n"


def trading(tmp_path: Path, first_line: str = NO_ZONE) -> str:
    rows = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)[1:]
    path = tmp_path / "trading-history.csv"
    path.write_text(first_line + "".join(rows), encoding="utf-8")
    return str(path)


def cli(tmp_path: Path, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(root, ["--db", f"sqlite:///{tmp_path / 'l.sqlite3'}", *args])
    assert "Traceback" not in res.output
    return res.exit_code, res.output


def reconcile_json(tmp_path: Path, path: str, *opts: str) -> tuple[int, dict]:
    code, out = cli(tmp_path, "reconcile", "okx", path, *opts, "--format", "json")
    body, _, error = out.partition("\nerror: ")
    return code, json.loads(body) | {"error": error.strip()}


def test_imported_with_time_zone_reconciles_with_the_same_option(tmp_path):
    path = trading(tmp_path)
    assert cli(tmp_path, "import", "okx", path, "--time-zone", "Europe/Rome")[0] == 0
    code, out = cli(tmp_path, "reconcile", "okx", path, "--time-zone", "Europe/Rome")
    assert code == 0, out
    assert "times in Europe/Rome (--time-zone; the metadata line names none)" in out
    assert "names no time zone" not in out
    assert "Everything reconciles." in out
    code, data = reconcile_json(tmp_path, path, "--time-zone", "Europe/Rome")
    assert data["counts"] == {"matched": 14, "mismatched": 0, "only_in_okx": 0, "only_in_ledger": 0,
                              "diverging_balances": 0}
    # first fill: sample row "2024-01-08 08:00:05" in Europe/Rome (CET, UTC+1 in January) = 07:00:05Z
    assert data["start"] == "2024-01-08T07:00:05Z"
    assert data["zone_assumed"] == []


def test_without_the_option_the_mismatch_is_reported_and_the_assumed_zone_named(tmp_path):
    path = trading(tmp_path)
    assert cli(tmp_path, "import", "okx", path, "--time-zone", "Europe/Rome")[0] == 0
    code, out = cli(tmp_path, "reconcile", "okx", path)
    assert code == 2
    assert "times in UTC (metadata line names no time zone)" in out
    assert "trading-history.csv names no time zone: read as UTC." in out
    assert out.rstrip().splitlines()[-1].endswith(
        "11 mismatched, 3 only in OKX, 0 only in the ledger, 4 diverging balances; "
        f"{path} named no time zone and was read as UTC (see --time-zone)")
    code, data = reconcile_json(tmp_path, path)
    assert code == 2
    assert data["zone_assumed"] == [path]
    # the three 2024-01-08 buys (08:00:05..15 read as UTC) fall before the ledger's 07:00:05Z..: only in OKX
    assert [o["time"] for o in data["only_in_okx"]] == ["2024-01-08T08:00:05Z", "2024-01-08T08:00:10Z",
                                                        "2024-01-08T08:00:15Z"]
    # the others pair by key but their times are off: 2 h in summer (CEST), 1 h in winter (CET)
    first = data["mismatched"][0]
    assert (first["how"], first["differences"]) == ("same key", [
        {"field": "time", "okx": "2024-06-24T08:00:05.000000Z", "ledger": "2024-06-24T06:00:05.000000Z", "delta": None}])
    assert {d["field"] for m in data["mismatched"] for d in m["differences"]} == {"time"}


def test_imported_as_utc_then_reconciled_in_another_zone_shows_every_time_off(tmp_path):
    path = trading(tmp_path)
    assert cli(tmp_path, "import", "okx", path)[0] == 0
    assert cli(tmp_path, "reconcile", "okx", path)[0] == 0  # the same reading on both sides reconciles
    code, data = reconcile_json(tmp_path, path, "--time-zone", "UTC+2")
    assert code == 2
    assert data["time_zones"] == ["UTC+2 (--time-zone; the metadata line names none)"]
    times = [(m["okx"]["time"], m["ledger"]["time"]) for m in data["mismatched"]]
    assert times[0] == ("2024-01-08T06:00:05Z", "2024-01-08T08:00:05Z")
    assert all(d["field"] == "time" for m in data["mismatched"] for d in m["differences"])


def test_the_files_own_time_zone_line_wins_over_the_option(tmp_path):
    path = trading(tmp_path, "UID:000000 (SYNTHETIC),Account Type:Main,Time Zone:UTC+8\n")
    assert cli(tmp_path, "import", "okx", path)[0] == 0
    for opts in ((), ("--time-zone", "Europe/Rome")):
        code, data = reconcile_json(tmp_path, path, *opts)
        assert code == 0, data
        assert data["time_zones"] == ["UTC+8 (metadata line)"]
        assert data["zone_assumed"] == []
        assert data["start"] == "2024-01-08T00:00:05Z"  # 08:00:05 at UTC+8
        assert data["counts"]["matched"] == 14 and data["counts"]["mismatched"] == 0


def test_a_real_shaped_funding_export_without_zone(tmp_path):
    """The F2 rows of the real export's shape (see round 12's tests/test_qaimport_okx_zone.py)."""
    path = tmp_path / "funding.csv"
    path.write_text(NO_ZONE + "id,Time,Type,Amount,Before Balance,After Balance,Symbol\n"
                    "1,2026-07-28 12:02:03,Received,5,0,5,USDC\n")
    assert cli(tmp_path, "import", "okx", str(path), "--time-zone", "Europe/Rome")[0] == 0
    code, data = reconcile_json(tmp_path, str(path), "--time-zone", "Europe/Rome")
    assert (code, data["start"]) == (0, "2026-07-28T10:02:03Z")  # the API's ts 10:02:03Z
    assert data["balances"][0]["okx"] == data["balances"][0]["ledger"] == "5"


def test_an_unknown_zone_is_refused_in_one_line(tmp_path):
    code, out = cli(tmp_path, "reconcile", "okx", trading(tmp_path), "--time-zone", "Mars/Olympus")
    assert code == 2
    assert "Invalid value for --time-zone: 'Mars/Olympus' is neither an IANA time zone" in out
