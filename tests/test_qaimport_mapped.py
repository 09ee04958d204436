"""QA round 12 (helper qaimport): the generic mapped CSV from the CLI. Two identical rows without an id are
two fills (before: the second was counted a "duplicate" and lost); a negative quantity on a buy row is
refused (before: silently made positive)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from conftest import FIXTURES

from taxreport.cli.main import root

MAPPING = str(FIXTURES / "mapped" / "local.toml")  # Bitpanda-like: ';', minute times in Europe/Berlin, no id
HEAD = "Export generated 2024-07-01;;;;;;;\nDate;Direction;Asset;Currency;Amount;Price;Fee;Fee asset\n"
ROW = "01.07.2024 10:15;Kauf;ETH;EUR;1.5;3000;-1.5;EUR\n"


def cli(db: str, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(root, ["--db", db, *args])
    return res.exit_code, res.output


def keys(db: str) -> list[tuple[str, str, str]]:
    code, out = cli(db, "ledger", "list", "--format", "json")
    assert code == 0, out
    return [(r["key"], r["quantity"], r["time"]) for r in json.loads(out)]


def test_two_identical_rows_without_id_are_two_fills_and_reimport_adds_nothing(tmp_path: Path):
    db = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    one = tmp_path / "one.csv"
    one.write_text(HEAD + ROW)
    code, out = cli(db, "import", "mapped", str(one), "--mapping", MAPPING, "--account", "bp:main")
    assert code == 0, out
    (first,) = keys(db)  # a file of one row: the content key every earlier version wrote
    two = tmp_path / "two.csv"  # the same export, now with a second identical fill (1.5 ETH at 3000, 10:15)
    two.write_text(HEAD + ROW + ROW)
    code, out = cli(db, "import", "mapped", str(two), "--mapping", MAPPING, "--account", "bp:main")
    assert code == 0, out
    assert "2 rows, 1 added, 1 duplicates" in out
    got = keys(db)
    assert got[0] == first and len(got) == 2
    digest = first[0].rsplit(":", 1)[-1]
    assert got[1] == (f"trade:bitpanda:bp:main/{digest}:1", "1.5", "2024-07-01T08:15:00.000000Z")  # 10:15 CEST
    code, out = cli(db, "import", "mapped", str(two), "--mapping", MAPPING, "--account", "bp:main")
    assert code == 0 and "2 rows, 0 added, 2 duplicates" in out
    code, out = cli(db, "ledger", "balances", "--format", "json")
    assert code == 0, out
    # 2 × 1.5 ETH bought; 2 × (1.5 × 3000 + 1.5 fee) = 9003 EUR paid
    assert [(b["asset"], b["quantity"]) for b in json.loads(out)] == [("ETH", "3.0"), ("EUR", "-9003.0")]


def test_negative_quantity_on_a_buy_row_is_refused(tmp_path: Path):
    db = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    path = tmp_path / "neg.csv"
    path.write_text(HEAD + ROW + "02.07.2024 10:15;Kauf;ETH;EUR;-1.5;3000;-1.5;EUR\n"
                    "03.07.2024 10:15;Verkauf;ETH;EUR;-0.5;3100;-0.5;EUR\n")
    code, out = cli(db, "import", "mapped", str(path), "--mapping", MAPPING, "--account", "bp:main")
    assert code == 1
    assert f"{path}:4: Amount: -1.5 is negative on a 'Kauf' (buy) row" in out
    assert ":5:" not in out  # a sale written with a negative amount is the usual signed form: accepted
