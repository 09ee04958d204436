"""``taxreport import csv`` end to end, the fast path (round 7 of issue 14: the fused row path's per-combination
parts and plain amounts, comma-split plain files, and the writer taking blocks of a split file from the child)
against the reference path, through the CLI: the same rows (every column of every row), the same output, the same
one-line errors and exit codes, nothing written by a refused command.

The reference is the same command with the fast path off (``fast_csv._plan`` answering None: every file read by
``iter_canonical_csv`` and encoded by the ledger's own ``encode_event``, which tests/test_import_fast.py checks
against main's code and tests/test_import_golden.py against main's bytes). Seeded random files, awkward on purpose:
fees in a third asset, ids with commas, quotes and non-ASCII text (quoted cells: one process), the events form with
notes holding commas, quotes and non-ASCII text, empty optional cells, amounts with trailing zeros and exponents,
several files in one command, a second command appending to the ledger the first wrote (duplicates, a changed row),
bad cells, a file that is not text, a malformed record. Files are large enough (blocks of ~150 bytes, the split
forced) that the child's and the writer's shares, the blocks the writer asks for and the chunk seams are all
exercised; the child is slowed (a millisecond a block) and the writer's share may reach 90%, so the writer waits,
asks and takes blocks: both sides really encode rows.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import taxreport.ledger.store as store
from taxreport.cli.main import root
from taxreport.importers import fast_csv
from taxreport.importers.canonical_csv import COLUMNS
from tests.test_import_parallel import ROW_COLUMNS, _PinnedClock


@pytest.fixture(autouse=True)
def small_parts(monkeypatch):  # noqa: ANN201
    monkeypatch.setattr(store, "datetime", _PinnedClock)
    monkeypatch.setattr(store, "CHUNK", 11)
    monkeypatch.setattr(fast_csv, "PART_ROWS", 7)
    monkeypatch.setattr(fast_csv, "SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(fast_csv, "BLOCK_BYTES", 150)
    monkeypatch.setattr(fast_csv, "SHARE_MAX", 0.9)
    original, here = fast_csv._records, os.getpid()

    def records(path, plan, start, stop=None):  # noqa: ANN001, ANN202
        if os.getpid() != here:
            time.sleep(0.001)  # the child (forked with this function) made slow: the writer waits, so it asks
        return original(path, plan, start, stop)

    monkeypatch.setattr(fast_csv, "_records", records)


def _rows(db: Path) -> list[tuple[object, ...]] | None:
    if not db.exists():
        return None
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"SELECT {', '.join(ROW_COLUMNS)} FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()


def _cli(monkeypatch, db: Path, commands: list[list[str]], fast: bool) -> list[tuple[int, str, object]]:  # noqa: ANN001
    """Each ``import csv`` command run in turn on ``db``: (exit code, output, rows after it) each; with ``fast``
    off, the reference reads every file."""
    out = []
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(fast_csv, "_plan", lambda path, split: None)
        taken: list[int] = []
        take = fast_csv._Share.take
        m.setattr(fast_csv._Share, "take", lambda self, block: taken.append(block) or take(self, block))
        for args in commands:
            r = CliRunner().invoke(root, ["--db", str(db), "import", "csv", *args])
            assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
            out.append((r.exit_code, r.output, _rows(db)))
    if not fast:
        assert not taken
    _TAKEN.extend(taken)
    return out


_TAKEN: list[int] = []


def _cells(order: list[str], row: dict[str, str]) -> str:
    cells = [row[h] for h in order]
    return ",".join('"' + c.replace('"', '""') + '"' if ("," in c or '"' in c or "\n" in c) else c for c in cells) + "\n"


def _amount(rng: random.Random) -> str:
    whole = rng.choice(["0", str(rng.randint(1, 9)), str(rng.randint(10, 99999)), str(rng.randint(1, 10**14))])
    fraction = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 12)))
    text = whole + ("." + fraction if fraction or rng.random() < 0.05 else "")
    return rng.choice([text, text, text, text + "000" if "." in text else text, text.rstrip("0") or "0", text + "e0",
                       "0" + text])


def _positive(rng: random.Random) -> str:
    while True:
        text = _amount(rng)
        if text.strip("0.e"):
            return text


def _trade(rng: random.Random, n: int, ids: str) -> dict[str, str]:
    base, quote = rng.choice([("BTC", "USD"), ("ETH", "USDT"), ("SOL", "GBP"), ("eth", "usd"), ("1INCH", "EUR")])
    fee_asset = rng.choice([quote, base, "BNB", "OKB", "", quote.lower()])
    fee = rng.choice(["", "0", _amount(rng), _amount(rng), "0.00"]) if fee_asset else rng.choice(["", "0"])
    trade_id = {"plain": rng.choice([f"t{n}", f"{n}", f"ü{n}é", f"x/{n}", ""]),
                "odd": rng.choice([f"t{n}", f"a,b{n}", f'q"{n}', f"ü-日本{n}", "", f" {n} "])}[ids]
    if trade_id.strip():
        trade_id = ids[0] + trade_id  # (one file's ids never another's)
    return {"timestamp": rng.choice([f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T0{rng.randint(0, 9)}:"
                                     f"{rng.randint(10, 59)}:{rng.randint(10, 59)}Z", "2024-01-02T03:04:05.5Z",
                                     "2023-12-31T23:59:59+01:00"]),
            "account": rng.choice(["kraken:main", "kraken:main", "okx:sub"]),
            "side": rng.choice(["buy", "sell", "buy", "Sell"]), "base": base, "quote": quote,
            "quantity": _positive(rng) if rng.random() < 0.97 else "1", "price": _positive(rng) if rng.random() < 0.97
            else "35460.00", "fee": fee, "fee_asset": fee_asset, "id": trade_id}


def _trades_file(rng: random.Random, path: Path, rows: int, ids: str, bad: float = 0.0) -> None:
    order = list(COLUMNS) if rng.random() < 0.6 else rng.sample(list(COLUMNS), len(COLUMNS))
    lines = [",".join(order) + "\n"]
    for n in range(rows):
        row = _trade(rng, n, ids)
        if rng.random() < bad:
            column = rng.choice(["quantity", "price", "side", "timestamp", "base"])
            row[column] = rng.choice(["-1", "", "abc", "0", "2024-13-01T00:00:00Z", "B TC"])
        if rng.random() < 0.01:
            lines.append("\n" if rng.random() < 0.5 else ",,,,,,,,,\n")  # blank rows: skipped
        lines.append(_cells(order, row))
    path.write_bytes("".join(lines).encode())


def _events_file(rng: random.Random, path: Path, rows: int) -> None:
    columns = ["type", "timestamp", "account", "side", "base", "quote", "quantity", "price", "fee", "fee_asset",
               "asset", "id", "note"]
    lines = [",".join(columns) + "\n"]
    for n in range(rows):
        note = rng.choice(["", "airdrop, from a friend", 'said "hi"', "ümlaut ☃ 日本", "plain"])
        row = dict.fromkeys(columns, "")
        row.update(timestamp=f"2024-02-{rng.randint(10, 28)}T10:00:00Z", account="kraken:main", id=f"e{n}", note=note,
                   quantity=rng.choice(["1", "0.25", "3.5000"]))
        kind = rng.choice(["trade", "trade", "deposit", "withdrawal"])
        row["type"] = kind
        if kind == "trade":
            row.update(side=rng.choice(["buy", "sell"]), base="ETH", quote="USD", price=_positive(rng),
                       fee=rng.choice(["", "0.5"]), fee_asset="BNB")
        else:
            row["asset"] = rng.choice(["BTC", "ETH"])
        lines.append(_cells(columns, row))
    path.write_bytes("".join(lines).encode())


def _same(monkeypatch, tmp_path: Path, tag: str, commands: list[list[str]]) -> list[tuple[int, str, object]]:  # noqa: ANN001
    reference = _cli(monkeypatch, tmp_path / f"{tag}-ref.sqlite3", commands, fast=False)
    mine = _cli(monkeypatch, tmp_path / f"{tag}-fast.sqlite3", commands, fast=True)
    for (code, output, rows), (ref_code, ref_output, ref_rows) in zip(mine, reference):
        assert code == ref_code, (tag, output, ref_output)
        assert output.replace(f"{tag}-fast", f"{tag}-ref") == ref_output, tag
        assert rows == ref_rows, tag  # every column of every row, or both None (no ledger file left)
    return reference


@pytest.mark.parametrize("seed", range(6))
def test_random_files_several_per_command_then_an_append_write_the_reference_rows(monkeypatch, tmp_path, seed):
    rng = random.Random(700 + seed)
    a, b, c, e = (tmp_path / f"{x}.csv" for x in "abce")
    _trades_file(rng, a, rng.randint(150, 400), "plain")  # no quote: split, read by both processes
    _trades_file(rng, b, rng.randint(100, 300), "odd")  # quoted cells: read in one process
    _events_file(rng, e, 40)
    lines = a.read_text().splitlines(keepends=True)
    c.write_text("".join(lines[:1] + lines[len(lines) // 2:] + lines[1:len(lines) // 3]))  # rows already stored
    reference = _same(monkeypatch, tmp_path, f"s{seed}", [[str(a), str(b), str(e)], [str(c)], [str(a)]])
    assert [code for code, _, _ in reference] == [0, 0, 0], [r[1] for r in reference]
    written = reference[-1][2]
    assert isinstance(written, list) and len(written) > 250
    assert "duplicates" in reference[1][1] and reference[2][2] == written  # the append and the re-import


@pytest.mark.parametrize("seed", range(4))
def test_refused_commands_say_what_the_reference_says_and_write_nothing(monkeypatch, tmp_path, seed):
    rng = random.Random(900 + seed)
    good, bad, binary, malformed, changed = (tmp_path / f"{x}.csv" for x in ("good", "bad", "bin", "mal", "chg"))
    _trades_file(rng, good, 300, "plain")
    _trades_file(rng, bad, 300, "plain", bad=0.01)
    binary.write_bytes(b"timestamp,account,side,base,quote,quantity,price,fee,fee_asset,id\n" + bytes(range(256)) * 40)
    lines = good.read_text().splitlines(keepends=True)
    malformed.write_text("".join(lines[:200] + ['2024-01-02T03:04:05Z,kraken:main,buy,BTC,USD,1,2,,,"x"y\n']
                                 + lines[200:]))
    cells = [line.rstrip("\n").split(",") for line in lines]
    at = next(i for i in range(250, len(cells)) if cells[i][cells[0].index("id")])  # a row with an id
    cells[at][cells[0].index("price")] = "12345.67"  # the same key, other content
    changed.write_text("".join(",".join(row) + "\n" for row in cells))
    reference = _same(monkeypatch, tmp_path, f"r{seed}",
                      [[str(bad)], [str(good), str(binary)], [str(malformed)], [str(good)], [str(changed)],
                       [str(bad)]])
    codes = [code for code, _, _ in reference]
    assert codes[0] == 1 and codes[1] == 1 and codes[3] == 0, [r[1] for r in reference]
    assert reference[0][2] is None and reference[1][2] is None  # nothing written: no ledger file left behind
    assert reference[5][2] == reference[3][2]  # a refused file into a ledger that holds rows: unchanged
    assert all(len(r[1].strip().splitlines()) >= 1 for r in reference)
    assert "Traceback" not in "".join(r[1] for r in reference)


def test_the_writer_really_took_blocks_and_the_child_read_the_rest(monkeypatch, tmp_path):
    """(The tests above would pass with either side reading everything: here both did.)"""
    _TAKEN.clear()
    rng = random.Random(5)
    a = tmp_path / "a.csv"
    _trades_file(rng, a, 2000, "plain")
    plan = fast_csv._plan(a, None)
    assert plan is not None and len(plan.blocks) > 100
    original = fast_csv._records  # (the fixture's: the child is slow)
    seen: list[int] = []

    def records(path, plan, start, stop=None):  # noqa: ANN001, ANN202
        seen.append(start)  # (this process's reads only: the child's are in its own address space)
        return original(path, plan, start, stop)

    monkeypatch.setattr(fast_csv, "_records", records)
    _same(monkeypatch, tmp_path, "taken", [[str(a)]])
    assert _TAKEN and len(set(_TAKEN)) < len(plan.blocks) - 1
    assert sorted(_TAKEN) == list(range(min(_TAKEN), len(plan.blocks) - 1))  # the file's last blocks, in a row
    assert {plan.blocks[b] for b in _TAKEN} <= set(seen)


def test_plain_amounts_are_read_as_decimal_reads_them(monkeypatch):
    """Amount cells of the plain shape (read as text) and of every other (read by ``Decimal``), row by row against
    the reference's own reading (``_trade``, ``encode_event``)."""
    from taxreport.importers.canonical_csv import _FieldError, _trade
    from taxreport.model.codec import encode_event

    rng = random.Random(11)
    header = list(COLUMNS)
    encode = fast_csv._encoder("f.csv", header, None)
    shapes = ["0", "00", "0.", "0.0", "5.", "05", "1" * 15, "1" * 16, "1" * 15 + ".5", "0." + "0" * 27 + "1",
              "0." + "0" * 28 + "1", "1" * 30, "1" * 31, "1.0000", "10", "100.00100", "0.000000010", "٣", "1 ", "1e0"]
    checked = 0
    for n in range(20000):
        quantity = rng.choice(shapes) if rng.random() < 0.3 else _amount(rng)
        fee = rng.choice(shapes + ["", _amount(rng)])
        row = {"timestamp": "2024-01-02T03:04:05Z", "account": "a", "side": "buy", "base": "BTC", "quote": "USD",
               "quantity": quantity, "price": _amount(rng), "fee": fee, "fee_asset": "USD", "id": f"i{n}"}
        try:
            trade = _trade(dict(row), None)
        except _FieldError:
            trade = None
        try:
            mine = encode(2, [row[h] for h in header])
        except fast_csv._Irregular:
            mine = None
        if trade is None:
            assert mine is None, row
            continue
        assert mine == (2, *encode_event(trade)[:4], *encode_event(trade)[5:7]), row
        checked += 1
    assert checked > 10000
