"""End-to-end CLI journeys a new user runs (QA): what they surfaced, pinned."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from taxreport.cli.main import root

ROOT = Path(__file__).resolve().parents[1]


def _run(db: Path, *args: str):
    return CliRunner().invoke(root, ["--db", str(db), *args], catch_exceptions=False, env={"COLUMNS": "200"})


def test_uk_gains_table_shows_the_sa108_30_october_split_as_rows_not_a_python_dict(tmp_path):
    """`gains -j uk -y 2024-25` printed `before 30 Oct 2024={'gains': '0.00', ...}` (a Python repr).
    The demo trades dispose of SOL (12 Nov 2024), BTC (16 Dec 2024) and ETH (20 Jan 2025): all three on or
    after 30 October 2024, net gain 10,181.75 GBP (the table's own net gain), none before."""
    db = tmp_path / "l.sqlite3"
    assert _run(db, "import", "csv", str(ROOT / "sample_exports/demo_trades.csv")).exit_code == 0
    assert _run(db, "prices", "import", str(ROOT / "sample_exports/demo_rates.csv")).exit_code == 0
    out = _run(db, "gains", "-j", "uk", "-y", "2024-25").output
    assert "{'" not in out, out
    lines = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in out.splitlines()
             if line.startswith("│") and "sa108_rate_change_split" in line}
    assert lines == {
        "sa108_rate_change_split: before 30 Oct 2024": "gains=0.00, losses=0.00, net=0.00, count=0",
        "sa108_rate_change_split: on or after 30 Oct 2024": "gains=10181.75, losses=0.00, net=10181.75, count=3",
    }


def test_fx_takes_a_comma_list_like_jurisdiction_and_one_parser_serves_every_command():
    """`backtest --jurisdiction uk,de --fx GBP=0.79,EUR=0.92` was refused ("has a comma") while the
    jurisdictions beside it are comma-separated; repeating --fx still works; bad items name --fx."""
    import pytest

    from taxreport.cli.backtest_cmd import _fx
    from taxreport.cli.plan_tax import parse_fx
    from taxreport.errors import InputError
    from taxreport.model import D

    want = {"GBP": D("0.79"), "EUR": D("0.92")}
    assert parse_fx(("GBP=0.79,EUR=0.92",)) == parse_fx(("GBP=0.79", "eur=0.92")) == _fx(("GBP=0.79,EUR=0.92",)) == want
    for bad in ("GBP", "GBP=0", "GBP=-1", "GBP=0,79"):
        with pytest.raises(InputError) as err:
            _fx((bad,))
        assert err.value.field == "--fx"
