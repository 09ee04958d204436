"""QA round 12 (helper qaimport): the generic mapped CSV from the CLI. Two identical rows without an id are
two fills (before: the second was counted a "duplicate" and lost); a negative quantity on a buy row is
refused (before: silently made positive)."""

from __future__ import annotations

import json
from decimal import Decimal
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
    assert [(b["asset"], b["quantity"]) for b in json.loads(out)] == [("ETH", "3"), ("EUR", "-9003")]  # canonical (round 13)


def test_negative_quantity_on_a_buy_row_is_refused(tmp_path: Path):
    db = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    path = tmp_path / "neg.csv"
    path.write_text(HEAD + ROW + "02.07.2024 10:15;Kauf;ETH;EUR;-1.5;3000;-1.5;EUR\n"
                    "03.07.2024 10:15;Verkauf;ETH;EUR;-0.5;3100;-0.5;EUR\n")
    code, out = cli(db, "import", "mapped", str(path), "--mapping", MAPPING, "--account", "bp:main")
    assert code == 1
    assert f"{path}:4: Amount: -1.5 is negative on a 'Kauf' (buy) row" in out
    assert ":5:" not in out  # a sale written with a negative amount is the usual signed form: accepted


KRAKEN = FIXTURES / "mapped"


def test_kraken_legacy_pairs_and_asset_codes_become_btc_eur(tmp_path: Path):
    # Before: the mapping's [symbol] quotes and [assets] were silently ignored and "XXBTZEUR" refused; with
    # "XBT/EUR" the ledger held XBT, an asset apart from BTC (a UK pool or a transfer to OKX would not match)
    db = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    code, out = cli(db, "import", "mapped", str(KRAKEN / "kraken_legacy.csv"), "--mapping",
                    str(KRAKEN / "kraken_legacy.toml"), "--account", "kraken:main")
    assert code == 0, out
    code, out = cli(db, "ledger", "list", "--format", "json")
    got = [(r["external_id"], r["side"], r["base"], r["quote"], r["quantity"], r["fee"], r["fee_asset"], r["time"])
           for r in json.loads(out)]
    assert got == [("kraken:main/TQ1AAA-AAAAA-AAAAAA", "buy", "BTC", "EUR", "0.00185", "0.18", "EUR",
                    "2024-03-19T19:43:31.679800Z"),
                   ("kraken:main/TQ2AAA-AAAAA-AAAAAA", "sell", "BTC", "EUR", "0.001", "0.16", "EUR",
                    "2024-04-02T08:00:00.000000Z")]
    code, out = cli(db, "ledger", "balances", "--format", "json")
    # BTC 0.00185 − 0.00100 = 0.00085; EUR −100.00 − 0.18 + 60.00 − 0.16 = −40.34 (price = cost ÷ vol)
    # (100.00 ÷ 0.00185 does not terminate: the EUR total is exact but printed with 50 digits, hence Decimal)
    assert [(b["asset"], Decimal(b["quantity"])) for b in json.loads(out)] == [("BTC", Decimal("0.00085")),
                                                                                ("EUR", Decimal("-40.34"))]


def test_a_misspelt_mapping_key_is_refused_not_ignored(tmp_path: Path):
    mapping = tmp_path / "m.toml"
    mapping.write_text((FIXTURES / "mapped" / "local.toml").read_text()
                       .replace("negative_means_charged = true", "negative_means_charge = true"))
    path = tmp_path / "one.csv"
    path.write_text(HEAD + ROW)
    db = f"sqlite:///{tmp_path / 'l.sqlite3'}"
    code, out = cli(db, "import", "mapped", str(path), "--mapping", str(mapping), "--account", "bp:main")
    assert code == 1
    assert (f"{mapping}: fee.negative_means_charge: unknown [fee] key(s) negative_means_charge (known: asset, "
            "negative_means_charged)") in out
