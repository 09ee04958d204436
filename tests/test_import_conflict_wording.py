"""The same id with different content is refused, and the refusal says where the first one is: in the ledger
already, or earlier in the same import (before round 13 both said "is already in the ledger", even into an
empty ledger: found by round 13's qacsv journey). Nothing is written either way."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from taxreport.cli.main import root

HEADER = "timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id\n"
FIRST = "2024-01-05T10:00:00Z,kraken:main,buy,BTC,USD,0.5,40000,0,USD,T-1\n"
OTHER = "2024-01-06T10:00:00Z,kraken:main,buy,BTC,USD,0.6,40000,0,USD,T-1\n"  # the same id, another fill


def _import(tmp_path: Path, name: str, text: str) -> tuple[int, str]:
    (tmp_path / name).write_text(text)
    done = CliRunner().invoke(root, ["--db", str(tmp_path / "l.sqlite3"), "import", "csv", str(tmp_path / name)])
    return done.exit_code, done.output


def test_the_same_id_twice_in_one_file_names_the_first_line(tmp_path: Path) -> None:
    code, out = _import(tmp_path, "conflict.csv", HEADER + FIRST + OTHER)
    assert code == 1
    assert "conflict.csv:3: trade:csv:kraken:main/T-1 appears earlier in this import (" in out
    assert "conflict.csv:2) with different content" in out
    assert "already in the ledger" not in out
    assert not (tmp_path / "l.sqlite3").exists()  # a refused first import leaves no ledger file


def test_an_id_already_stored_with_other_content_says_so(tmp_path: Path) -> None:
    assert _import(tmp_path, "first.csv", HEADER + FIRST)[0] == 0
    code, out = _import(tmp_path, "second.csv", HEADER + OTHER)
    assert code == 1
    assert "second.csv:2: trade:csv:kraken:main/T-1 is already in the ledger with different content" in out
