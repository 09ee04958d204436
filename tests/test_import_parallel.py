"""``import csv``'s fast path (:mod:`taxreport.importers.fast_csv`: the trade form encoded straight from its cells,
the file read in two processes) writes and refuses exactly what the reference writes and refuses.

The reference is ``Ledger.append_stream`` of ``iter_canonical_csv`` (itself checked against main's code in
tests/test_import_fast.py and against main's bytes in tests/test_import_golden.py). Seeded random files, good
and bad, with odd values (offsets, fractional seconds, exponents, padded cells, lower-case symbols, rebates,
missing ids, duplicates, blank lines, wrong cell counts, bytes that are not UTF-8, malformed records), each
written both ways into fresh ledgers with the clock pinned: every stored column of every row (payload, content
hash, key, index columns, chain hashes) and every error message must be equal. The split (a forked child reading
the tail) is forced on these small files and chunks are 7 rows, so cuts, chunk seams and the child's part are
all exercised.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest
from test_import_fast import AMOUNTS, ASSETS, FEES, IDS, SIDES, TIMES, _csv_line

import taxreport.ledger.store as store
from taxreport.errors import TaxreportError
from taxreport.importers import fast_csv
from taxreport.importers.canonical_csv import COLUMNS, iter_canonical_csv
from taxreport.ledger import Ledger

PINNED = datetime(2026, 11, 28, 2, 0, 0, tzinfo=timezone.utc)
ROW_COLUMNS = ("seq", "natural_key", "kind", "time", "accounts", "assets", "order_ref", "payload", "content_hash",
               "actor", "reason", "recorded_at", "prev_hash", "hash")


class _PinnedClock(datetime):
    @classmethod
    def now(cls, tz=None):  # noqa: ANN001, ANN206
        return PINNED


@pytest.fixture(autouse=True)
def pinned_small_chunks(monkeypatch):  # noqa: ANN201
    monkeypatch.setattr(store, "datetime", _PinnedClock)
    monkeypatch.setattr(store, "CHUNK", 7)


def _rows(db: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"SELECT {', '.join(ROW_COLUMNS)} FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()


def _import(db: Path, files: list[Path], account: str | None, fast: bool, split: bool | None):  # noqa: ANN202
    """Each file written as ``import csv`` writes it; the rows stored and what was raised (or None)."""
    outcome: object = None
    with Ledger(f"sqlite:///{db}") as led:
        try:
            for path in files:
                if fast:
                    chunks = fast_csv.encoded_stream(path, account=account, split=split)
                    try:
                        led.append_encoded(chunks, actor="importer:csv", reason=f"import csv {path.name}")
                    finally:
                        chunks.close()
                else:
                    led.append_stream(iter_canonical_csv(path, account=account), actor="importer:csv",
                                      reason=f"import csv {path.name}")
        except (TaxreportError, ValueError) as exc:
            outcome = (type(exc).__name__, str(exc))
    return _rows(db), outcome


def _compare(tmp_path: Path, files: list[Path], account: str | None, tag: str) -> tuple[int, bool]:
    reference = _import(tmp_path / f"{tag}-ref.sqlite3", files, account, False, None)
    for split in (True, False):
        mine = _import(tmp_path / f"{tag}-{split}.sqlite3", files, account, True, split)
        assert mine == reference, (tag, split)
    return len(reference[0]), reference[1] is not None


def _good_row(rng: random.Random, account: str | None, n: int) -> dict[str, str]:
    row = {"timestamp": rng.choice(["2024-01-02T03:04:05Z", "2023-12-31T23:59:59Z", "2024-02-29T12:00:00Z",
                                      "2024-01-02T03:04:05.25Z", "2024-01-03T10:00:00+02:00",
                                      "0999-01-01T00:00:00Z", "2024-01-02T03:04:05z"]),
            "account": rng.choice(["kraken:main", ""] if account else ["kraken:main", "okx:sub"]),
            "side": rng.choice(["buy", "sell", "Buy"]), "base": rng.choice(["BTC", "eth", "SOL", "1INCH"]),
            "quote": rng.choice(["USD", "usdt", "GBP"]),
            "quantity": rng.choice(["0.5", "1E-8", "2.50", "100", "0.000000000000000000000000001", "007.10",
                                    "1_000", "12345678901234.5", str(rng.randint(1, 10**9) / 10**6)]),
            "price": rng.choice(["30000", "1.5", "35460.00", "1e3", "0.1000"]),
            "fee": rng.choice(["", "0", "0.1", "-0.01", "0E-8", "2.5000"]),
            "fee_asset": rng.choice(["USD", "btc", "BNB", ""]),
            "id": rng.choice([f"g{n}", f"g{n}", "", f"ü-é{n}", f'q"x{n}', f"a,b{n}"])}
    if row["fee"] not in ("", "0", "0E-8") and not row["fee_asset"]:
        row["fee_asset"] = "USD"
    return row


def _file(rng: random.Random, path: Path, account: str | None, rows: int, bad: float, quotes: bool) -> None:
    order = list(COLUMNS) if rng.random() < 0.7 else rng.sample(list(COLUMNS), len(COLUMNS))
    lines = [_csv_line(order)]
    for n in range(rows):
        roll = rng.random()
        if roll < bad * 0.15:
            lines.append(rng.choice(["\n", ",,,,,,,,,\n", " , ,,,,,,,,\n"]))  # blank: skipped
        elif roll < bad * 0.3:
            lines.append("2024-01-02T03:04:05Z,kraken:main,buy\n")  # too few cells
        elif roll < bad:
            row = {"timestamp": rng.choice(TIMES), "account": rng.choice(["kraken:main", "", " x "]),
                   "side": rng.choice(SIDES), "base": rng.choice(ASSETS), "quote": rng.choice(ASSETS),
                   "quantity": rng.choice(AMOUNTS), "price": rng.choice(AMOUNTS), "fee": rng.choice(FEES),
                   "fee_asset": rng.choice(ASSETS + [""]), "id": rng.choice(IDS)}
            lines.append(_csv_line([row[h] for h in order]))
        else:
            row = _good_row(rng, account, n)
            if not quotes:
                row["id"] = row["id"].replace('"', "").replace(",", "")
            lines.append(_csv_line([row[h] for h in order]))
    text = "".join(lines)
    path.write_bytes((text.replace("\n", "\r\n") if rng.random() < 0.2 else text).encode())  # CRLF files too


@pytest.mark.parametrize("account", [None, "kraken:main"])
def test_random_files_are_written_and_refused_as_the_reference_does(tmp_path, account):
    rng = random.Random(1414 if account else 1415)
    written = refused = 0
    for trial in range(24):
        bad = 0.0 if trial % 3 == 0 else rng.choice([0.002, 0.02, 0.3])
        path = tmp_path / f"t{trial}.csv"
        _file(rng, path, account, rng.randint(1, 90), bad, quotes=trial % 4 == 1)
        n, was_refused = _compare(tmp_path, [path], account, f"t{trial}")
        written += n
        refused += was_refused
    assert written > 300 and refused > 5  # both kinds of file were really exercised


def test_a_second_import_counts_duplicates_and_refuses_changed_rows_as_the_reference(tmp_path):
    rng = random.Random(3)
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    _file(rng, first, None, 60, 0.0, quotes=False)
    lines = first.read_text().splitlines(keepends=True)
    second.write_text("".join(lines[:1] + lines[30:] + lines[1:30]))  # the same rows again, reordered
    n, was_refused = _compare(tmp_path, [first, second], None, "dup")
    assert n > 50 and not was_refused
    changed = lines[:]
    for i, line in enumerate(changed[40:], 40):  # in the part the child reads
        if ",g" in line:  # a row with an id, now with another price: the same key, different content
            changed[i] = line.replace(",30000,", ",30001,").replace(",1.5,", ",1.6,").replace(",1e3,", ",2e3,")
    second.write_text("".join(changed))
    _, was_refused = _compare(tmp_path, [first, second], None, "changed")
    assert was_refused


@pytest.mark.parametrize("where", ["head", "tail", "last"])
@pytest.mark.parametrize("trouble", [b"\xff", b'x,"unclosed\n', b"2024-01-02T03:04:05Z,a,buy\n",
                                     b"2024-01-02T03:04:05Z,a,buy,BTC,USD,1,0,,,z\n", b"\xef\xbb\xbf\n"])
def test_a_bad_byte_record_or_row_in_either_part_is_refused_as_the_reference_refuses_it(tmp_path, where, trouble):
    rng = random.Random(5)
    path = tmp_path / "t.csv"
    _file(rng, path, None, 80, 0.0, quotes=False)
    data = path.read_bytes()
    cut = {"head": data.index(b"\n", 200) + 1, "tail": data.index(b"\n", len(data) - 600) + 1, "last": len(data)}[where]
    path.write_bytes(data[:cut] + trouble + data[cut:])
    n, was_refused = _compare(tmp_path, [path], None, f"{where}")
    assert was_refused or trouble == b"\xef\xbb\xbf\n"  # a line of nothing but a byte-order mark is blank


def test_a_large_file_without_quotes_is_read_by_the_child_from_its_second_line(tmp_path, monkeypatch):
    """The plan: a file without quotes is read by the child, every row of it (so that it can also hash the
    chain from the first row on); with a quote anywhere, or the events form, this process reads it."""
    monkeypatch.setattr(fast_csv, "SPLIT_MIN_BYTES", 1000)
    rng = random.Random(9)
    path = tmp_path / "t.csv"
    _file(rng, path, None, 200, 0.0, quotes=False)
    data = path.read_bytes()
    plan = fast_csv._plan(path, None)
    assert plan is not None and plan.split_at == plan.body_at == data.index(b"\n") + 1 and plan.block_lines[0] == 2
    # blocks of about BLOCK_BYTES from the second line to the file's end, each cut at a line end, numbered
    # (the child reads them from the first on; this process takes the last ones the child has not begun, if it asks)
    assert plan.blocks[0] == plan.body_at and plan.blocks[-1] == len(data) and len(plan.blocks) == 2
    monkeypatch.setattr(fast_csv, "BLOCK_BYTES", 300)
    plan = fast_csv._plan(path, None)
    assert plan is not None and len(plan.blocks) > 10 and plan.block_lines[0] == 2
    for at, end, line in zip(plan.blocks, plan.blocks[1:], plan.block_lines):
        assert data[end - 1:end] == b"\n" and (end - at >= 300 or end == len(data))
        assert line == data[:at].count(b"\n") + 1
    path.write_bytes(data + b'2024-01-02T03:04:05Z,kraken:main,buy,BTC,USD,1,2,,,"q"\n')  # one quoted cell
    assert fast_csv._plan(path, None).split_at == 0
    events = tmp_path / "e.csv"
    events.write_text("type,timestamp,account,asset,quantity\ndeposit,2024-01-02T09:00:00Z,okx:main,USDT,1000\n")
    assert fast_csv._plan(events, None) is None
    n, was_refused = _compare(tmp_path, [events], None, "events")
    assert n == 1 and not was_refused


def test_a_good_file_is_read_by_both_processes_without_the_reference(tmp_path, monkeypatch):
    """The fast path really decides a good file (the reference is never asked), and the child's rows arrive."""
    rng = random.Random(21)
    path = tmp_path / "t.csv"
    _file(rng, path, None, 300, 0.0, quotes=False)
    reference = _import(tmp_path / "ref.sqlite3", [path], None, False, None)

    def refuse(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("the reference was asked")

    monkeypatch.setattr(fast_csv, "iter_canonical_csv", refuse)
    parts: list[int] = []
    original = fast_csv._Child.parts

    def counted(self, idle=None):  # noqa: ANN001, ANN202
        for part in original(self, idle):
            parts.append(len(part[0]))
            yield part

    monkeypatch.setattr(fast_csv._Child, "parts", counted)
    mine = _import(tmp_path / "fast.sqlite3", [path], None, True, True)
    assert mine == reference and len(mine[0]) == 300
    assert sum(parts) > 200  # most rows came from the child


@pytest.mark.parametrize("account", [None, "kraken:main"])
def test_the_fused_row_path_accepts_encodes_and_refuses_each_row_as_the_reference(account):
    """Row by row, many odd rows: the fused encoder's row equals the reference's (``_trade``, then the ledger's
    own ``encode_event``), and it refuses exactly the rows the reference refuses (a blank row is skipped by
    both)."""
    from taxreport.importers.canonical_csv import _FieldError, _trade
    from taxreport.model.codec import encode_event

    rng = random.Random(77 if account else 78)
    header = list(COLUMNS) if account else rng.sample(list(COLUMNS), len(COLUMNS))
    encode = fast_csv._encoder("f.csv", header, account)
    odd = {"timestamp": TIMES + ["0999-01-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-01-02T24:00:00Z",
                                 "2024-01-02T03:04:05Z ", "２０24-01-02T03:04:05Z", "2024-01-02T03:04:5Z",
                                 "2024-01-02T03:04:05+00:00", "20240102T030405Z"],
           "account": ["kraken:main", "", " kraken:main", "okx:main", "a b"],
           "side": SIDES + ["Buy", "bUy", " sell"], "base": ASSETS + ["1INCH", "a.b-c_d", "é", "BTC "],
           "quote": ASSETS + ["GBP", "Usd"], "quantity": AMOUNTS, "price": AMOUNTS, "fee": FEES + AMOUNTS,
           "fee_asset": ASSETS + ["", "", "BNB"], "id": IDS + ["", "x/y", "\\u2028", "q\"x"]}
    good = _good_row(rng, account, 0)
    outcomes = {"row": 0, "refused": 0, "blank": 0}
    for n in range(6000):
        row = dict(good) if rng.random() < 0.5 else _good_row(rng, account, n)
        for column in rng.sample(list(COLUMNS), rng.choice([0, 1, 1, 2, 3])):
            row[column] = rng.choice(odd[column])
        if rng.random() < 0.02:
            row = dict.fromkeys(COLUMNS, rng.choice(["", " "]))
        cells = [row[h] for h in header]
        try:
            trade = _trade(dict(zip(header, (c.strip() for c in cells))), account)
        except _FieldError:
            trade = None
        try:
            mine = encode(n + 2, cells)
        except fast_csv._Irregular:
            mine = "refused"
        if trade is None:
            blank = not any(c.strip() for c in cells)
            assert mine == (None if blank else "refused"), row
            outcomes["blank" if blank else "refused"] += 1
            continue
        key, payload, content_hash, time, kind, accounts, assets, order_ref = encode_event(trade)
        assert kind == "trade" and order_ref is None
        assert mine == (n + 2, key, payload, content_hash, time, accounts, assets), row
        outcomes["row"] += 1
    assert min(outcomes.values()) > 50, outcomes


@pytest.mark.parametrize("bad_head", [False, True])
def test_a_child_far_ahead_waits_and_is_stopped_cleanly(tmp_path, monkeypatch, bad_head):
    """Parts of 3 rows, one queued at most: the child waits on this process (memory stays flat); when the head
    is refused, the waiting child is stopped and the reference decides."""
    monkeypatch.setattr(fast_csv, "PART_ROWS", 3)
    monkeypatch.setattr(fast_csv, "QUEUED_PARTS", 1)
    rng = random.Random(31)
    path = tmp_path / "t.csv"
    _file(rng, path, None, 400, 0.0, quotes=False)
    if bad_head:
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(lines[:3] + ["2024-01-02T03:04:05Z,kraken:main,buy,BTC,USD,-1,2,,,z\n"] + lines[3:]))
    n, was_refused = _compare(tmp_path, [path], None, "slow")
    assert was_refused == bad_head and (n == 0 if bad_head else n == 400)


def test_without_a_second_process_the_whole_file_is_read_here(tmp_path, monkeypatch):
    """Where the child cannot be started (no ``os.fork``, or it fails), this process reads the whole file."""
    monkeypatch.setattr(fast_csv._Child, "start", classmethod(lambda cls, *a: None))
    rng = random.Random(41)
    path = tmp_path / "t.csv"
    _file(rng, path, None, 100, 0.0, quotes=False)
    n, was_refused = _compare(tmp_path, [path], None, "nofork")
    assert n == 100 and not was_refused


def test_the_cli_reads_large_files_in_two_processes_and_refuses_as_the_reference(tmp_path, monkeypatch):
    """``taxreport import csv`` end to end with the split on (files above 2 kB): one good file writes the reference's
    rows; a second file with a bad row in the child's part refuses the whole command with the reference's
    message and writes nothing (every file is checked first)."""
    from click.testing import CliRunner

    from taxreport.cli.main import root
    from taxreport.importers.base import ImportRefused

    monkeypatch.setattr(fast_csv, "SPLIT_MIN_BYTES", 2000)
    started: list[int] = []
    start = fast_csv._Child.start.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(fast_csv._Child, "start", classmethod(lambda cls, *a: started.append(1) or start(cls, *a)))
    rng = random.Random(51)
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    _file(rng, good, None, 150, 0.0, quotes=False)
    _file(rng, bad, None, 150, 0.0, quotes=False)
    lines = bad.read_text().splitlines(keepends=True)
    cells = {"timestamp": "2024-01-02T00:00:00Z", "account": "kraken:main", "side": "buy", "base": "BTC",
             "quote": "USD", "quantity": "1", "price": "", "fee": "", "fee_asset": "", "id": "y"}
    bad_row = _csv_line([cells[h] for h in lines[0].strip().split(",")])
    bad.write_text("".join(lines[:140] + [bad_row] + lines[140:]))
    with pytest.raises(ImportRefused) as expected:
        list(iter_canonical_csv(bad))
    db = tmp_path / "cli.sqlite3"
    r = CliRunner().invoke(root, ["--db", str(db), "import", "csv", str(good), str(bad)])
    assert r.exit_code == 1 and str(expected.value).splitlines()[1].strip() in r.output
    assert f"{bad}:141: price: is empty" in r.output and not db.exists()
    r = CliRunner().invoke(root, ["--db", str(db), "import", "csv", str(good)])
    assert r.exit_code == 0, r.output
    reference = _import(tmp_path / "ref.sqlite3", [good], None, False, None)[0]
    assert [row[1:10] for row in _rows(db)] == [row[1:10] for row in reference]  # (recorded_at, reason differ)
    assert len(reference) == 150 and len(started) >= 3


def test_the_writer_takes_the_childs_chain_only_when_it_holds(tmp_path, monkeypatch):
    """A file with no duplicate, into a new ledger: every hash comes from the child (the writer hashes nothing)
    and the rows are the reference's. Then, after other rows, the same kind of file (the child hashed from where
    the writer told it: its hashes hold) and a file whose first rows are stored already (after them the chain the
    child assumed no longer holds: the writer hashes those chunks itself), each against the reference. (This
    process's own share, the file's end, is off here: its rows are always hashed by the writer.)"""
    monkeypatch.setattr(fast_csv, "PART_ROWS", 5)
    monkeypatch.setattr(fast_csv, "SHARE_MAX", 0)
    rng = random.Random(61)

    def rows(prefix: str, count: int) -> list[str]:
        out = []
        for n in range(count):
            row = _good_row(rng, None, n)
            row["id"] = f"{prefix}{n}"
            out.append(_csv_line([row[h] for h in COLUMNS]))
        return out

    header = _csv_line(list(COLUMNS))
    first, second, third = rows("p", 120), rows("o", 30), rows("v", 40)
    path, other, overlap = tmp_path / "t.csv", tmp_path / "o.csv", tmp_path / "v.csv"
    path.write_text(header + "".join(first))
    other.write_text(header + "".join(second))
    overlap.write_text(header + "".join(first[60:80] + third))
    hashed: list[int] = []
    original = store.chain_hashes

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        hashed.append(len(args[5]))
        return original(*args, **kwargs)

    monkeypatch.setattr(store, "chain_hashes", counted)
    mine = _import(tmp_path / "fast.sqlite3", [path], None, True, True)
    assert hashed == [] and mine[1] is None and len(mine[0]) == 120
    monkeypatch.setattr(store, "chain_hashes", original)
    assert mine == _import(tmp_path / "ref.sqlite3", [path], None, False, None)

    monkeypatch.setattr(store, "chain_hashes", counted)
    mine = _import(tmp_path / "fast2.sqlite3", [other, path], None, True, True)
    assert hashed == [] and mine[1] is None and len(mine[0]) == 150
    mine = _import(tmp_path / "fast2.sqlite3", [overlap], None, True, True)
    assert hashed and mine[1] is None and len(mine[0]) == 190
    monkeypatch.setattr(store, "chain_hashes", original)
    _import(tmp_path / "ref2.sqlite3", [other, path], None, False, None)
    assert mine == _import(tmp_path / "ref2.sqlite3", [overlap], None, False, None)


def test_a_chain_hashed_ahead_is_taken_only_for_exactly_its_rows_and_start():
    """``_chain`` takes a chunk's ``chained`` hashes only when the seq, previous hash, actor, reason and time of
    recording it assumed are the writer's and every row is written; any difference and it hashes the rows."""
    from taxreport.ledger.chain import GENESIS, chain_hashes

    keys, payloads, times = ["k1", "k2", "k3"], ['{"a":1}', '{"a":2}', '{"a":3}'], ["t1", "t2", "t3"]
    right = chain_hashes("importer:csv", "why", "2026-11-28T00:00:00.000000Z", GENESIS, 1, keys, ["trade"] * 3, times,
                         payloads)
    marked = ["X1", "X2", "X3"]  # (not hashes: shows where they were taken)
    start = (0, GENESIS, "importer:csv", "why", "2026-11-28T00:00:00.000000Z")

    def rows(chained, pending=None):  # noqa: ANN001, ANN202
        chunk = store.Encoded(0, keys, payloads, ["c1", "c2", "c3"], times, ["trade"] * 3, [",a,"] * 3, [",B,"] * 3,
                              [None] * 3, [None] * 3, None, chained)
        return [row[-1] for row in store._chain(chunk, pending, 0, GENESIS, "importer:csv", "why",
                                                "2026-11-28T00:00:00.000000Z")]

    assert rows((*start, marked)) == marked
    assert rows(None) == right
    for i, other in enumerate((1, "f" * 64, "importer:x", "other", "2026-11-28T00:00:01.000000Z")):
        assumed = list(start)
        assumed[i] = other
        assert rows((*assumed, marked)) == right, i
    assert rows((*start, marked[:2])) == right
    assert rows((*start, marked), pending=[0, 2]) == chain_hashes(
        "importer:csv", "why", "2026-11-28T00:00:00.000000Z", GENESIS, 1, ["k1", "k3"], ["trade"] * 2, ["t1", "t3"],
        ['{"a":1}', '{"a":3}'])


@pytest.mark.parametrize("reason", ["import csv it's ü.csv", "a 'quoted' ; DROP TABLE events; --", "nul\x00inside"])
def test_the_shared_texts_written_as_literals_are_stored_as_bound_texts(tmp_path, reason):
    """SQLite: actor, reason and time of recording (and a chunk's one kind, no order_ref) are literals in the INSERT;
    the stored values are the same TEXT (or NULL) as when bound, quotes and all; a text with a NUL is bound."""
    rng = random.Random(71)
    path = tmp_path / "t.csv"
    _file(rng, path, None, 40, 0.0, quotes=False)
    db = tmp_path / "l.sqlite3"
    with Ledger(f"sqlite:///{db}") as led:
        chunks = fast_csv.encoded_stream(path, split=True)
        try:
            led.append_encoded(chunks, actor="importer:csv", reason=reason)
        finally:
            chunks.close()
        assert led.verify().ok
    conn = sqlite3.connect(db)
    try:
        stored = conn.execute("SELECT DISTINCT reason, typeof(reason), actor, typeof(actor), typeof(recorded_at), kind, "
                              "typeof(kind), typeof(order_ref) FROM events").fetchall()
    finally:
        conn.close()
    assert stored == [(reason, "text", "importer:csv", "text", "text", "trade", "text", "null")]


def test_a_file_read_and_hashed_by_the_child_into_any_ledger_writes_the_reference_rows(any_ledger, tmp_path,
                                                                                       monkeypatch):
    """SQLite and PostgreSQL (``make test`` runs a throwaway server): the split path, the child hashing the chain and
    the writer reading the file's end, into a ledger with rows already, writes the reference's rows."""
    monkeypatch.setattr(fast_csv, "PART_ROWS", 5)
    rng = random.Random(81)
    first, path = tmp_path / "a.csv", tmp_path / "t.csv"
    for name, prefix, count in ((first, "a", 30), (path, "t", 150)):
        rows = [_good_row(rng, None, n) for n in range(count)]
        for n, row in enumerate(rows):
            row["id"] = f"{prefix}{n}" if row["id"] else ""
        name.write_text("".join([_csv_line(list(COLUMNS))] + [_csv_line([r[h] for h in COLUMNS]) for r in rows]))
    for name in (first, path):
        chunks = fast_csv.encoded_stream(name, split=True)
        try:
            any_ledger.append_encoded(chunks, actor="importer:csv", reason=f"import csv {name.name}")
        finally:
            chunks.close()
    with any_ledger.engine.connect() as conn:
        got = [tuple(r) for r in conn.exec_driver_sql(f"SELECT {', '.join(ROW_COLUMNS)} FROM events ORDER BY seq")]
    reference = _import(tmp_path / "ref.sqlite3", [first, path], None, False, None)
    assert reference[1] is None and got == reference[0] and len(got) > 150
    assert any_ledger.verify().ok
