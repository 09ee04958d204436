"""The fast import path (issue 14) accepts, refuses and writes exactly what main's code did.

Differential tests: the same inputs, good and bad, go through today's code and through main's code before
the fast path (kept verbatim in ``tests/reference_main_import.py``, commit 50952bb): the canonical CSV's rows
(both forms, with and without ``--account``), amounts, canonical decimal text, the file reader's lines;
and the generated payload writers against the generic ``canonical_json(event.to_payload())``.
"""

from __future__ import annotations

import csv
import random
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import reference_main_import as main_code

import taxreport.importers.base as base
from taxreport.importers.base import ImportRefused
from taxreport.importers.canonical_csv import EVENT_OPTIONAL, EVENT_REQUIRED, iter_canonical_csv
from taxreport.model.assets import normalise_asset
from taxreport.model.codec import payload_json
from taxreport.model.events import EVENT_TYPES, Side, canonical_json
from taxreport.model.money import check_bounds, decimal_str, parse_amount

AMOUNTS = ["1", "0.5", "35460.00", "0", "0E-8", "-0", "-0.01", "1e2", "1E-8", "18.5e1", " 2.50 ", "1_000", "",
           " ", "abc", "1,5", "1.2.3", "NaN", "-Infinity", "sNaN", "1e15", "999999999999999.9", "1e-30", "1e-31",
           "0.000000000000000000000000000001", "1" * 30, "1" * 31, "0." + "1" * 30, "1." + "0" * 40,
           "1" * 30 + "0" * 5, "12345678901234567890.1234567890", "١٢", "\u00a03", "+5", "5.", ".5", "-.5e-3",
           "1E+999999999", "1e-999999999", "0E+99", "100000000000000", "-100000000000000"]


def _outcome(fn, *args, **kw):  # noqa: ANN001, ANN202
    try:
        return ("ok", fn(*args, **kw))
    except ValueError as exc:
        return ("refused", str(exc))


def _random_amount(rng: random.Random) -> str:
    sign = rng.choice(["", "", "-", "+"])
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 36)))
    point = rng.randint(0, len(digits))
    text = digits[:point] + ("." if rng.random() < 0.7 else "") + digits[point:]
    if rng.random() < 0.2:
        text += rng.choice(["e", "E"]) + str(rng.randint(-40, 20))
    return sign + text


def test_parse_amount_and_check_bounds_answer_as_main_did():
    rng = random.Random(14)
    cases = AMOUNTS + [_random_amount(rng) for _ in range(4_000)]
    for text in cases:
        mine, theirs = _outcome(parse_amount, text, what="q"), _outcome(main_code.parse_amount, text, what="q")
        assert mine == theirs, text
        if mine[0] == "ok":
            assert str(mine[1]) == str(theirs[1]), text  # the same Decimal, exponent included
        value = Decimal(text.strip()) if mine[0] == "ok" else None
        if value is not None:
            for shown in (text, None):
                assert _outcome(check_bounds, value, what="q", text=shown) == \
                    _outcome(main_code.check_bounds, value, what="q", text=shown), text


def test_decimal_str_writes_what_main_wrote():
    rng = random.Random(7)
    values = [Decimal(a) for a in ("1", "-0", "0E-8", "100", "1E+2", "35460.00", "-0.50", "1E-8", "123.4500E3",
                                   "0.1000000000000000000000000000000000000000000000000001", "7E-40", "-5E+20")]
    values += [Decimal(_random_amount(rng)) for _ in range(4_000)]
    values += [v / Decimal(7) for v in values[:2000] if v]  # 50-digit quotients, as unit_price makes them
    for value in values:
        assert decimal_str(value) == main_code.decimal_str(value), repr(value)


def test_normalise_asset_answers_the_same_every_time():
    for symbol in ("btc", "BTC", " eth ", "usdt", "B TC", "", "x" * 21, "1INCH", "a.b-c_d", "é"):
        first, again = _outcome(normalise_asset, symbol), _outcome(normalise_asset, symbol)
        assert first == again
    assert normalise_asset(" eth ") == "ETH" and _outcome(normalise_asset, "B TC")[0] == "refused"


def _reference_lines(path: Path) -> list[str]:
    return list(main_code.file_lines(path))


def test_file_lines_reads_what_the_line_by_line_reader_read(tmp_path, monkeypatch):
    rng = random.Random(3)
    pieces = ["a", ",", "\n", "\r", "\r\n", "\ufeff", "é", "\u2028", '"', "x" * 50, "€"]
    for trial in range(400):
        monkeypatch.setattr(base, "BLOCK", rng.choice([1, 2, 3, 7, 64, 1 << 20]))
        path = tmp_path / f"f{trial}.csv"
        path.write_bytes("".join(rng.choice(pieces) for _ in range(rng.randint(0, 120))).encode())
        assert list(base.file_lines(path)) == _reference_lines(path)


@pytest.mark.parametrize("block", [5, 1 << 20])
def test_a_byte_that_is_not_utf8_is_named_at_the_same_offset(tmp_path, monkeypatch, block):
    monkeypatch.setattr(base, "BLOCK", block)
    path = tmp_path / "bad.csv"
    path.write_bytes(b"timestamp,account\n\xef\xbb\xbfa,b\nc,\xe9d\n")
    with pytest.raises(Exception) as mine:
        list(base.file_lines(path))
    with pytest.raises(Exception) as theirs:
        list(main_code.file_lines(path))
    assert str(mine.value) == str(theirs.value) and "byte 27" in str(mine.value)


# --- the canonical CSV, row by row -------------------------------------------------------------------------
TIMES = ["2024-01-02T03:04:05Z", "2024-01-02T03:04:05.123456Z", "2024-01-03T10:00:00+02:00", "2024-01-03T10:00:00",
         "2024-13-01T00:00:00Z", "yesterday", "", " 2024-01-02T03:04:05z ", "2024-01-02 03:04:05-05:30"]
ACCOUNTS = ["kraken:main", "", " kraken:main ", "okx:main"]
SIDES = ["buy", "sell", "SELL", "hold", ""]
ASSETS = ["BTC", "usd", "ETH", "", "B TC", "x" * 21, "usdt"]
FEES = ["", "0", "0.1", "-0.01", "x", "1e16"]
IDS = ["", "t1", "t2", "t,3", "ü"]


def _cell(rng: random.Random, options: list[str]) -> str:
    return rng.choice(options)


def _trade_cells(rng: random.Random) -> dict[str, str]:
    return {"timestamp": _cell(rng, TIMES), "account": _cell(rng, ACCOUNTS), "side": _cell(rng, SIDES),
            "base": _cell(rng, ASSETS), "quote": _cell(rng, ASSETS), "quantity": _cell(rng, AMOUNTS),
            "price": _cell(rng, AMOUNTS), "fee": _cell(rng, FEES), "fee_asset": _cell(rng, ASSETS + [""] * 3),
            "id": _cell(rng, IDS)}


def _csv_line(cells: list[str]) -> str:
    return ",".join('"' + c.replace('"', '""') + '"' if ("," in c or '"' in c) else c for c in cells) + "\n"


def _run(reader, path: Path, account: str | None):  # noqa: ANN001, ANN202
    """What a reader makes of a file: every (payload, origin) it yields, then its refusal (or None)."""
    out: list[tuple[str, str]] = []
    try:
        for event, origin in reader(path, account=account):
            out.append((payload_json(event), origin))
    except ImportRefused as exc:
        return out, [str(p) for p in exc.problems]
    except Exception as exc:  # noqa: BLE001 - compared, not hidden: both must raise the same
        return out, [type(exc).__name__, str(exc)]
    return out, None


def _main_numbered(path: Path, account: str | None):  # noqa: ANN202
    """Main's reading, with the one deliberate change since (round 13): the second and later copies of an identical
    id-less row of one file are numbered (:func:`taxreport.importers.base.nth_copy`), not collapsed into one."""
    seen: dict[str, int] = {}
    for event, origin in main_code.iter_canonical_csv(path, account=account):
        if event.external_id is None and event.kind != "basis":
            own = getattr(event, "account", None) or event.from_account
            event = base.nth_copy(event, seen, own)
        yield event, origin


def _compare(path: Path, account: str | None) -> tuple[int, bool]:
    mine, theirs = _run(iter_canonical_csv, path, account), _run(_main_numbered, path, account)
    assert mine == theirs
    return len(mine[0]), mine[1] is not None


@pytest.mark.parametrize("account", [None, "kraken:main"])
def test_the_trade_form_yields_and_refuses_what_main_did(tmp_path, account):
    rng = random.Random(11 if account else 12)
    header = ["timestamp", "account", "side", "base", "quote", "quantity", "price", "fee", "fee_asset", "id"]
    yielded = refused = 0
    for trial in range(60):
        order = header[:] if trial % 3 else rng.sample(header, len(header))
        lines = [_csv_line(order)]
        all_good = trial % 3 == 0
        for _ in range(rng.randint(1, 40)):
            roll = rng.random() * (0.55 if all_good else 1)
            if roll < 0.03:
                lines.append("\n" if rng.random() < 0.5 else ",,,,,,,,,\n")  # blank lines are skipped
            elif roll < 0.05 and not all_good:
                lines.append("2024-01-02T03:04:05Z,kraken:main,buy\n")  # too few cells
            elif roll < 0.55:  # good rows, so events are yielded too
                row = {"timestamp": rng.choice(TIMES[:3]), "account": rng.choice(["kraken:main", ""][:2 if account else 1]),
                       "side": rng.choice(["buy", "sell"]), "base": rng.choice(["BTC", "eth"]), "quote": "USD",
                       "quantity": rng.choice(["0.5", "1E-8", "2.50", "100"]), "price": rng.choice(["30000", "1.5"]),
                       "fee": rng.choice(["", "0.1"]), "fee_asset": "USD", "id": f"g{rng.randint(0, 10**6)}"}
                lines.append(_csv_line([row[h] for h in order]))
            else:
                row = _trade_cells(rng)
                lines.append(_csv_line([row[h] for h in order]))
        path = tmp_path / f"t{trial}.csv"
        path.write_text("".join(lines))
        n, bad = _compare(path, account)
        yielded += n
        refused += bad
    assert yielded > 100 and refused > 10  # both kinds of file were really exercised


EVENT_KINDS = ["trade", "deposit", "gift-in", "withdrawal", "gift-out", "lost", "transfer", "income", "basis",
               "TRADE", "swap", ""]


def _event_cells(rng: random.Random) -> dict[str, str]:
    kind = rng.choice(EVENT_KINDS)
    cells = {c: "" for c in (*EVENT_REQUIRED, *EVENT_OPTIONAL)}
    cells.update(type=kind, timestamp=_cell(rng, TIMES[:3] * 3 + TIMES), account=_cell(rng, ACCOUNTS[:1] * 3 + ACCOUNTS),
                 quantity=_cell(rng, ["1", "0.5", "2"] * 4 + AMOUNTS), id=_cell(rng, IDS), note=rng.choice(["", "n"]))
    if kind.lower() == "trade":
        cells.update({k: v for k, v in _trade_cells(rng).items() if k not in ("timestamp", "account", "id")})
    else:
        cells["asset"] = _cell(rng, ["BTC", "eth", "SOL"] * 3 + ASSETS)
    for optional in ("fee", "cost", "cost_currency", "acquired_at", "value", "value_currency", "income_type",
                     "to_account", "target"):
        if rng.random() < 0.35:
            cells[optional] = {"fee": lambda: _cell(rng, FEES), "cost": lambda: _cell(rng, AMOUNTS[:8]),
                               "cost_currency": lambda: _cell(rng, ["USD", "usd", "", "!!"]),
                               "acquired_at": lambda: _cell(rng, TIMES),
                               "value": lambda: _cell(rng, AMOUNTS[:8]),
                               "value_currency": lambda: _cell(rng, ["USD", "EUR", ""]),
                               "income_type": lambda: _cell(rng, ["staking", "Airdrop", "gift", ""]),
                               "to_account": lambda: _cell(rng, ["kraken:main", "okx:main", ""]),
                               "target": lambda: _cell(rng, ["deposit:csv:okx:main/d-1", ""])}[optional]()
    if kind == "basis" and rng.random() < 0.6:
        cells.update(account="", quantity="", asset="", cost="100", cost_currency="USD", target="deposit:csv:x/1")
    return cells


GOOD_EVENTS = [row for row in csv.DictReader((Path(__file__).parent / "fixtures" / "import_golden" / "events.csv")
                                              .read_text().splitlines()) if row["type"] != "basis"]


@pytest.mark.parametrize("account", [None, "okx:main"])
def test_the_events_form_yields_and_refuses_what_main_did(tmp_path, account):
    rng = random.Random(21 if account else 22)
    columns = [*EVENT_REQUIRED, *EVENT_OPTIONAL]
    yielded = refused = 0
    for trial in range(80):
        order = rng.sample(columns, len(columns))
        lines = [_csv_line(order)]
        for _ in range(rng.randint(1, 8)):
            row = _event_cells(rng) if trial % 3 else rng.choice(GOOD_EVENTS)
            lines.append(_csv_line([row[h] for h in order]))
        path = tmp_path / f"e{trial}.csv"
        path.write_text("".join(lines))
        n, bad = _compare(path, account)
        yielded += n
        refused += bad
    assert yielded > 50 and refused > 20


# --- payloads ------------------------------------------------------------------------------------------------
def test_generated_payload_writers_write_canonical_json_of_every_event_class():
    rng = random.Random(5)
    t0 = datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)
    samples = {str: ["kraken:main", "ü \"quoted\" \\ back\nslash", "", "\u2028"], Decimal: [
        Decimal("1.50"), Decimal("0E-8"), Decimal("1E+2"), Decimal("-0.01"), Decimal(1) / Decimal(7)],
        datetime: [t0, t0 + timedelta(days=400), datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=2)))],
        bool: [True, False], Side: [Side.BUY, Side.SELL]}
    odd = [None, 3, "text", Decimal("2.0"), [1, "a"], {"b": Decimal("1.0"), "a": None}, t0]
    for cls in EVENT_TYPES.values():
        hints = {f.name: f.type for f in fields(cls)}
        for _ in range(300):
            event = object.__new__(cls)  # any values, also ones the constructor refuses: the writer must agree
            for name, hint in hints.items():
                pool = [v for kind, vs in samples.items() if kind.__name__ in str(hint) for v in vs] or odd
                object.__setattr__(event, name, rng.choice(pool + odd[:1] if rng.random() < 0.8 else odd))
            try:
                expected = canonical_json(event.to_payload())
            except TypeError:
                continue
            assert payload_json(event) == expected, (cls.__name__, event)


# --- the other importers read a block at a time, as they read the whole text before ---------------------------
def test_universal_lines_read_what_csv_read_from_the_whole_text(tmp_path, monkeypatch):
    from taxreport.errors import InputError
    from taxreport.importers.base import csv_lines, read_text

    def records(lines):  # noqa: ANN001, ANN202
        try:
            return list(csv_lines(lines))
        except InputError as exc:
            return str(exc)

    rng = random.Random(8)
    pieces = ["a", ",", "\n", "\r", "\r\n", "\ufeff", "é", "\u2028", '"', "x" * 50, "\x85", "\x0c"]
    for trial in range(400):
        monkeypatch.setattr(base, "BLOCK", rng.choice([1, 2, 3, 7, 64, 1 << 20]))
        path = tmp_path / f"u{trial}.csv"
        path.write_bytes("".join(rng.choice(pieces) for _ in range(rng.randint(0, 100))).encode())
        assert records(base.file_lines(path, universal=True)) == records(read_text(path))


def test_a_mapped_file_after_its_preamble_is_read_as_the_whole_text_was(tmp_path, monkeypatch):
    import csv as csv_module
    import io

    from taxreport.importers.base import read_text
    from taxreport.importers.mapped import _body_lines

    rng = random.Random(9)
    pieces = ["a", ";", "\n", "\r", "\r\n", "\ufeff", "é", "\u2028", '"', "x" * 30, "\x85", "\x0c", "\x1e"]
    for trial in range(400):
        monkeypatch.setattr(base, "BLOCK", rng.choice([1, 3, 64, 1 << 20]))
        path = tmp_path / f"m{trial}.csv"
        path.write_bytes("".join(rng.choice(pieces) for _ in range(rng.randint(0, 80))).encode())
        skip = rng.randint(0, 3)
        body = "".join(read_text(path).splitlines(keepends=True)[skip:])  # main's reading of a mapped file

        def rows(reader):  # noqa: ANN001, ANN202
            try:
                return [(cells, reader.line_num) for cells in reader]
            except csv_module.Error as exc:
                return str(exc)

        assert rows(csv_module.reader(_body_lines(path, skip), delimiter=";")) == \
            rows(csv_module.reader(io.StringIO(body, newline=""), delimiter=";"))


# --- a stream is written chunk by chunk, in order, in one transaction -------------------------------------------
def _trades(n: int, start: int = 0, price: str = "30000"):  # noqa: ANN202
    from taxreport.model.events import Trade

    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for i in range(start, start + n):
        yield Trade(time=t0 + timedelta(seconds=i), source="csv", external_id=f"x/{i}", account="x:main",
                    side=Side.BUY, base="BTC", quote="USD", quantity=Decimal("0.1"), price=Decimal(price)), f"f:{i}"


@pytest.fixture
def small_chunks(monkeypatch):  # noqa: ANN201
    """Chunks of 100 events, so a test of many chunks stays quick."""
    import taxreport.ledger.store as store

    monkeypatch.setattr(store, "CHUNK", 100)
    return 100


def test_a_stream_of_many_chunks_is_written_in_order_and_verifies(tmp_path, small_chunks):
    from taxreport.ledger import Ledger

    CHUNK = small_chunks  # noqa: N806

    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        result = led.append_stream(_trades(3 * CHUNK + 5), actor="importer:test", reason="stream")
        assert result.added == list(range(1, 3 * CHUNK + 6))
        assert [e.external_id for e in led.events()] == [f"x/{i}" for i in range(3 * CHUNK + 5)]
        assert led.verify().ok


def test_what_the_stream_raises_is_raised_by_the_writer_and_nothing_is_written(tmp_path, small_chunks):
    from taxreport.ledger import Ledger

    CHUNK = small_chunks  # noqa: N806

    class Refused(Exception):
        pass

    def stream():  # noqa: ANN202
        yield from _trades(2 * CHUNK + 3)
        raise Refused("row 204 is bad")

    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        with pytest.raises(Refused, match="row 204 is bad"):
            led.append_stream(stream(), actor="importer:test", reason="refused")
        assert led.count() == 0 and led.verify().ok


def test_when_the_writer_refuses_a_row_the_reader_stops(tmp_path, small_chunks):
    from taxreport.errors import LedgerError
    from taxreport.ledger import Ledger

    CHUNK = small_chunks  # noqa: N806

    read = []

    def stream():  # noqa: ANN202
        for item in _trades(20 * CHUNK):
            read.append(item)
            yield item

    with Ledger(f"sqlite:///{tmp_path / 'l.sqlite3'}") as led:
        led.append_stream(_trades(3, start=CHUNK + 1, price="1"), actor="importer:test", reason="first")
        with pytest.raises(LedgerError, match="different content"):
            led.append_stream(stream(), actor="importer:test", reason="conflict")
        assert led.count() == 3 and led.verify().ok
    assert len(read) <= 2 * CHUNK + 1  # stopped at the conflicting chunk, not at the end of the stream


BITTYTAX_HEADER = ("Type,Buy Quantity,Buy Asset,Buy Value,Sell Quantity,Sell Asset,Sell Value,Fee Quantity,Fee Asset,"
                   "Fee Value,Wallet,Timestamp,Note\n")


def _bittytax_rows(n: int) -> str:
    return "".join(f"Trade,0.01,BTC,,{100 + i},GBP,,,,,W,2024-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z,r{i}\n"
                   for i in range(n))


def test_a_streamed_records_file_with_a_bad_row_after_several_chunks_writes_nothing(tmp_path, small_chunks):
    from click.testing import CliRunner

    from taxreport.cli.main import root

    bad = tmp_path / "records.csv"
    bad.write_text(BITTYTAX_HEADER + _bittytax_rows(3 * small_chunks) + "Trade,x,BTC,,1,GBP,,,,,W,2024-01-02T00:00:00Z,\n")
    db = tmp_path / "new.sqlite3"
    r = CliRunner().invoke(root, ["--db", str(db), "import", "bittytax", str(bad)])
    assert r.exit_code == 1
    assert f"{bad}: refused, nothing was written (1 problem):\n  {bad}:{3 * small_chunks + 2}: Buy Quantity: 'x' is not " \
           "a number" in r.output
    assert not db.exists()  # the ledger this command would have created is not left behind
    good = tmp_path / "good.csv"
    good.write_text(BITTYTAX_HEADER + _bittytax_rows(3 * small_chunks))
    r = CliRunner().invoke(root, ["--db", str(db), "import", "bittytax", str(good), str(bad)])
    assert r.exit_code == 1 and not db.exists()  # several files: all are checked before any is written
    r = CliRunner().invoke(root, ["--db", str(db), "import", "bittytax", str(good), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert '"rows": 300' in r.output and '"added": 300' in r.output and '"trade": 300' in r.output


def test_chain_hashes_are_row_hash_linked_row_by_row():
    """The write path's loop (chain_hashes) against the reference definition (row_hash), over kinds, keys and
    payloads that need JSON escaping (quotes, backslashes, non-ASCII, a control character)."""
    from taxreport.ledger.chain import GENESIS, chain_hashes, row_hash

    keys = ["trade:csv:a/1", 'deposit:csv:"q"\\x', "trade:csv:ü/€", "income:csv:\x01"]
    kinds = ["trade", "deposit", "trade", "income"]
    times = ["2024-01-01T00:00:00.000000Z"] * 2 + ["2024-01-02T00:00:00.000001Z"] * 2
    payloads = ['{"a":"1"}', '{"note":"say \\"hi\\""}', '{"asset":"€"}', "{}"]
    got = chain_hashes("importer:csv", "import csv \"ü\".csv", "2026-11-28T00:00:00.000000Z", GENESIS, 7,
                       keys, kinds, times, payloads)
    prev, want = GENESIS, []
    for i, (key, kind, time, payload) in enumerate(zip(keys, kinds, times, payloads)):
        prev = row_hash(prev, {"seq": 7 + i, "natural_key": key, "kind": kind, "time": time, "payload": payload,
                               "actor": "importer:csv", "reason": "import csv \"ü\".csv",
                               "recorded_at": "2026-11-28T00:00:00.000000Z"})
        want.append(prev)
    assert got == want


@pytest.mark.parametrize("capitals", [1, 0])
def test_decimal_str_is_the_same_in_any_context(capitals):
    """The canonical text is hashed into the chain: it must not follow the caller's decimal context. Under
    ``capitals=0`` ``str(Decimal("7.6E-7"))`` is ``7.6e-7``; decimal_str wrote that before this test (a row
    written in such a context would not have hashed as the same row written in the default one)."""
    import decimal

    values = [Decimal(a) for a in ("7.6E-7", "1E-8", "-5E+20", "1.2300E+5", "0E-8", "35460.00", "123.4500E3")]
    expected = ["0.00000076", "0.00000001", "-500000000000000000000", "123000", "0", "35460", "123450"]
    with decimal.localcontext() as ctx:
        ctx.capitals = capitals
        ctx.prec = 3  # (neither the precision nor the rounding of the caller's context matters either)
        ctx.rounding = decimal.ROUND_FLOOR
        assert [decimal_str(v) for v in values] == expected
