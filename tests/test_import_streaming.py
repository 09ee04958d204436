"""``import csv`` streams the file into the ledger (issue 14: a million rows were held whole, 2.5 GB):
read a line at a time, appended CHUNK events at a time in ONE transaction, so a bad row anywhere (even
after several chunks were inserted) still writes nothing, and every bad row is reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from taxreport.cli.main import root
from taxreport.importers import base
from taxreport.importers.base import ImportRefused
from taxreport.importers.canonical_csv import iter_canonical_csv
from taxreport.ledger import Ledger
from taxreport.ledger.store import CHUNK

HEADER = "timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id\n"


def rows(n: int, start: int = 0) -> str:
    # one buy a minute; each row is its own trade id
    return "".join(f"2024-01-01T{(i // 60) % 24:02d}:{i % 60:02d}:00Z,kraken:main,buy,BTC,USD,0.001,40000,0.1,USD,"
                   f"t{i}\n" for i in range(start, start + n))


def run(db: Path, *args: str):  # noqa: ANN201
    return CliRunner().invoke(root, ["--db", str(db), *args])


@pytest.fixture
def existing(tmp_path):
    db = tmp_path / "l.sqlite3"
    first = tmp_path / "first.csv"
    first.write_text(HEADER + rows(3, start=10_000_000))
    assert run(db, "import", "csv", str(first)).exit_code == 0
    return db


def test_a_bad_row_after_several_chunks_writes_nothing_and_every_bad_row_is_named(tmp_path, existing):
    big = tmp_path / "big.csv"
    good = rows(2 * CHUNK + 10)
    big.write_text(HEADER + good + "2024-01-02T00:00:00Z,kraken:main,hold,BTC,USD,1,1,,,x1\n"
                   + rows(5, start=2 * CHUNK + 10) + "2024-01-02T00:00:00Z,kraken:main,buy,BTC,USD,abc,1,,,x2\n")
    with Ledger(f"sqlite:///{existing}") as led:
        before = (led.count(), led.head())
    r = run(existing, "import", "csv", str(big))
    assert r.exit_code == 1
    bad_line = 2 * CHUNK + 10 + 2  # header is line 1
    assert f"{big}:{bad_line}: side: 'hold' is not buy or sell" in r.output
    assert f"{big}:{bad_line + 6}: quantity:" in r.output
    assert "refused, nothing was written (2 problems)" in r.output
    with Ledger(f"sqlite:///{existing}") as led:
        assert (led.count(), led.head()) == before  # 10,010 good rows were inserted, then rolled back
        assert led.verify().ok


def test_a_good_file_is_appended_in_one_append_with_every_row(tmp_path, existing):
    big = tmp_path / "big.csv"
    big.write_text(HEADER + rows(CHUNK + 7))
    r = run(existing, "import", "csv", str(big), "--format", "json")
    assert r.exit_code == 0, r.output
    assert '"rows": 5007' in r.output and '"added": 5007' in r.output
    again = run(existing, "import", "csv", str(big))
    assert "5007 rows, 0 added, 5007 duplicates" in again.output
    with Ledger(f"sqlite:///{existing}") as led:
        assert led.count() == 3 + CHUNK + 7 and led.verify().ok
        assert {r.reason for r in led.rows()} == {f"import csv {tmp_path / 'first.csv'}", f"import csv {big}"}


def test_the_file_is_read_a_line_at_a_time(tmp_path, monkeypatch):
    big = tmp_path / "big.csv"
    big.write_text(HEADER + rows(3 * CHUNK))
    monkeypatch.setattr(base, "read_text", lambda *_: pytest.fail("the whole file was read"))
    stream = iter_canonical_csv(big)
    event, origin = next(stream)
    assert origin == f"{big}:2" and event.external_id == "kraken:main/t0"
    assert sum(1 for _ in stream) == 3 * CHUNK - 1


def test_a_byte_that_is_not_utf8_deep_in_the_file_names_its_offset_and_writes_nothing(tmp_path, existing):
    bad = tmp_path / "latin1.csv"
    text = HEADER + rows(CHUNK + 1)
    bad.write_bytes(text.encode() + "2024-01-02T00:00:00Z,kraken:main,buy,BTC,USD,1,1,,,caf\xe9\n".encode("latin-1"))
    r = run(existing, "import", "csv", str(bad))
    offset = len(text.encode()) + len("2024-01-02T00:00:00Z,kraken:main,buy,BTC,USD,1,1,,,caf")
    assert r.exit_code == 1 and r.output.strip() == f"error: {bad}: not UTF-8 text (byte {offset})"
    with Ledger(f"sqlite:///{existing}") as led:
        assert led.count() == 3


def test_several_files_are_all_checked_before_anything_is_written(tmp_path, existing):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(HEADER + rows(10))
    bad.write_text(HEADER + "2024-01-02T00:00:00Z,kraken:main,buy,BTC,USD,1,,,,y\n")
    r = run(existing, "import", "csv", str(good), str(bad))
    assert r.exit_code == 1 and f"{bad}:2: price: is empty" in r.output
    with Ledger(f"sqlite:///{existing}") as led:
        assert led.count() == 3


def test_a_refused_first_import_leaves_no_ledger_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + rows(CHUNK + 1) + "2024-01-02T00:00:00Z,kraken:main,buy,BTC,USD,1,,,,y\n")
    db = tmp_path / "new.sqlite3"
    r = run(db, "import", "csv", str(bad))
    assert r.exit_code == 1 and "price: is empty" in r.output
    assert not db.exists() and not Path(f"{db}-wal").exists()


def test_iter_canonical_csv_raises_import_refused_at_the_end(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + rows(2) + "x,kraken:main,buy,BTC,USD,1,1,,,z\n" + rows(2, start=2))
    seen = []
    with pytest.raises(ImportRefused) as err:
        for event, _ in iter_canonical_csv(bad):
            seen.append(event)
    assert len(seen) == 2  # nothing after the first bad row
    assert f"{bad}:4: timestamp:" in str(err.value)
