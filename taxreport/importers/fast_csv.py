"""``import csv`` at speed (issue 14): the canonical trade form encoded straight from its cells, on both cores.

What is written, and every refusal, is exactly what :func:`taxreport.importers.canonical_csv.iter_canonical_csv`
streamed into :meth:`Ledger.append_stream <taxreport.ledger.store.Ledger.append_stream>` (the reference): the
same rows byte for byte (payload, content hash, key, index columns, hence the same chain hashes), the same
one-line errors. Three things make it faster:

* **A fused row path.** A row of the trade form whose cells are plainly good (the usual row: an account, ``buy``
  or ``sell``, a ``YYYY-MM-DDTHH:MM:SSZ`` time, known-good symbols, amounts on :func:`parse_amount`'s quick path)
  is checked with the same rules as ``_trade`` and ``Trade.__post_init__`` and its payload text is written
  directly from the cells' canonical texts: no ``Trade`` object, no generic payload writer. What a row's
  account, side and symbols make of it (their checks, JSON texts, the payload's fixed parts) is worked out once per
  combination of those cells; amounts already seen are looked up, and a plain amount (``123.4500``) is read as
  text (the canonical text and sign ``Decimal`` gives it). Any other row (fractional seconds, an offset, a padded
  account, a bad cell...) goes through the reference's own ``_trade`` and the ledger's own encoder
  (``store._prepare``): a row the fused path is not sure of is never guessed at.
* **The second core.** A file of more than :data:`SPLIT_MIN_BYTES` without any ``"`` (so every record is one line
  and a line end is a record end; without a carriage return or NUL as well, its lines are split at commas, which
  is what the csv module reads there) is cut into blocks (:data:`BLOCK_BYTES`) and read by a forked child process
  from its first block on: it checks and encodes the rows, hashes each payload and, once the writer has said where
  the chain stands (:meth:`EncodedStream.chain_from`: the head's seq and hash, the append's actor, reason and time
  of recording), hashes the chain too, with the ledger's own :func:`~taxreport.ledger.chain.chain_hashes`, as if
  every row were written in turn. Each part is sent through a pipe (``marshal`` of column lists) with the chain
  it assumed; this process writes the rows in file order, in one transaction, taking the child's hashes only for
  a chunk written whole exactly where the child assumed (``store._chain``): after a duplicate (a row already
  stored, or twice in the file) it hashes the rows itself, as before. Whenever this process would wait for the
  child's next part, it asks the child for a block and the child gives it the last block it has not begun
  (:class:`_Share`, at most :data:`SHARE_MAX` of them): this process encodes it and writes those rows after the
  child's, so each side's share follows its speed (the writer's work per row grows with the ledger, the
  child's does not; round 7 replaced a fixed last tenth read by this process).
* **Errors by the reference.** At the first irregularity in either part (a bad row, a malformed record, a byte
  that is not UTF-8, a child that failed, a second identical row without an id: :func:`_rechunk`), the rows found good before it are written as the reference would have
  written them, then the file is read again from its start by the reference itself, which raises exactly what
  it raises (the events already written are skipped, they are the same). An error path may read the file twice;
  nothing is written either way (one transaction).

Checked by tests/test_import_parallel.py (seeded random files with odd values, good and bad, split and not,
against the reference), tests/test_import_shares.py (the CLI, several files, appends, refusals, the writer's
blocks) and tests/test_import_golden.py (main's bytes).
"""

from __future__ import annotations

import csv
import gc
import marshal
import os
import queue
import select
import signal
import struct
import threading
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from hashlib import sha256
from itertools import chain
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generator, Iterator

from taxreport.errors import InputError
from taxreport.importers.base import ImportSummary, csv_lines, file_lines
from taxreport.importers.canonical_csv import COLUMNS, _FieldError, _header_problems, _trade, iter_canonical_csv
from taxreport.ledger.chain import chain_hashes
from taxreport.model.assets import normalise_asset
from taxreport.model.codec import encode_event, index_text
from taxreport.model.money import MAX_DIGITS, decimal_str
from taxreport.model.money import _MAX_ADJUSTED as MAX_ADJUSTED
from taxreport.model.money import _MIN_ADJUSTED as MIN_ADJUSTED

if TYPE_CHECKING:
    from taxreport.ledger.store import Chained, Encoded

# (taxreport.ledger.store, hence SQLAlchemy, is imported only where the parent writes: a child forked before it
# is imported starts its work at once, while the parent opens the ledger)

#: Rows per part a process encodes before handing it on (the writer cuts its own chunks from them).
PART_ROWS = 1000
#: Parts of the child's received and not yet written, at most (then the child waits: ~0.8 MB a part, 40,000 rows in all).
QUEUED_PARTS = 40
#: A split file is cut into blocks of about this many bytes (at line ends): the child reads them from the first on;
#: this process, whenever it would wait for the child's next part, asks it for the last block it has not begun
#: (:class:`_Share`), so that each side's share of the encoding follows its speed (the writer's work grows with
#: the ledger, the child's does not).
BLOCK_BYTES = 1 << 14
#: The share of a split file's blocks this process takes, at most, and their bytes at most (it holds their rows
#: until the child is done: 8 MiB of a file's rows, ~100,000 trades, is what the writer held of a 1M-trade file
#: before round 7, its last tenth).
SHARE_MAX = 0.3
SHARE_MAX_BYTES = 8 << 20
#: Parts the child encodes, at most, before the writer has said where the chain stands (it then waits for that).
AHEAD_PARTS = 40
#: A smaller file is read in one process (forking costs more than it saves).
SPLIT_MIN_BYTES = 1 << 20


class _Irregular(Exception):
    """Something the fast path does not decide (a bad row, a bad file): the reference decides."""


def encoded_stream(path: str | Path, *, account: str | None = None, split: bool | None = None
                   ) -> EncodedStream:
    """The file's events encoded for :meth:`Ledger.append_encoded`, in file order, :data:`CHUNK` at a time: the
    same rows, and the same exceptions at the same point, as ``append_stream`` of :func:`iter_canonical_csv`
    (module docstring). ``split``: read the file in two processes (None: when it is large enough and holds
    no ``"``).

    The child process, if any, is started now (before the ledger's write begins: never forked from inside a
    transaction or beside a progress bar's thread) and stopped when the stream ends or is dropped."""
    name = str(path)
    plan = _plan(path, split)
    child = _Child.start(path, name, account, plan) if plan is not None and plan.split_at else None
    if plan is not None and child is None:
        plan.split_at = 0  # no second process: this one reads the whole file
    return EncodedStream(_stream(path, name, account, plan, child), child)


class EncodedStream:
    """:func:`encoded_stream`'s chunks; :meth:`close` stops its child process even if the stream was never read."""

    def __init__(self, chunks: Generator[Encoded, None, None], child: _Child | None) -> None:
        self._chunks, self._child = chunks, child
        self._told = False  # the child knows whether (and from where) to hash the chain

    def __iter__(self) -> EncodedStream:
        return self

    def __next__(self) -> Encoded:
        if not self._told:
            self._tell(None)  # read without a writer saying where the chain stands (a check): nothing hashed
        return next(self._chunks)

    def chain_from(self, actor: str, reason: str, recorded_at: str, seq: int, prev_hash: str) -> None:
        """Where the chain stands when the writer begins (:meth:`Ledger._write <taxreport.ledger.store.Ledger>`
        calls it before reading the first chunk): the child hashes its rows as if each were written in turn after
        row ``seq`` (hash ``prev_hash``) by this append, and says so with each part (:class:`store.Encoded`'s
        ``chained``); the writer takes those hashes only where that held."""
        self._tell((actor, reason, recorded_at, int(seq), prev_hash))

    def _tell(self, start: tuple[str, str, str, int, str] | None) -> None:
        if not self._told:
            self._told = True
            if self._child is not None:
                self._child.tell(start)

    def close(self) -> None:
        self._chunks.close()
        if self._child is not None:
            self._child.stop()


Row = tuple[int, str, str, str, str, str, str]  # line, key, payload, content hash, time, accounts, assets


class _Plan:
    def __init__(self, header: list[str], body_at: int, split_at: int,
                 blocks: list[int] | None = None, block_lines: list[int] | None = None, plain: bool = False) -> None:
        self.header, self.body_at, self.split_at = header, body_at, split_at  # split_at 0: one process reads it
        # a split file's blocks: block i is bytes blocks[i]..blocks[i + 1], its first line numbered block_lines[i]
        self.blocks, self.block_lines = blocks or [], block_lines or []
        self.plain = plain  # no quote, CR or NUL in the file: each line is one record, its cells split at commas


def _records(path: str | Path, plan: _Plan, start: int, stop: int | None = None) -> Iterator[tuple[int, list[str]]]:
    """:func:`csv_lines` of the file's bytes ``start..stop`` (line numbers counted from 1 there); for a
    :attr:`_Plan.plain` file, its lines split at commas: what the csv module reads in a text without a quote
    (no field is quoted), a carriage return (the only line end besides ``"\n"`` it knows) or a NUL (which it
    refuses): every line a record, its cells the texts between its commas (an empty line no cell: it reads ``[]``
    where this gives ``[""]``, both a blank row, skipped). A line longer than the csv module's field size limit
    (which it refuses) is :class:`_Irregular`: the reference decides."""
    lines = file_lines(path, start=start, stop=stop)
    if not plan.plain:
        return csv_lines(lines)
    return _split_lines(lines, csv.field_size_limit())


def _split_lines(lines: Iterator[str], limit: int) -> Iterator[tuple[int, list[str]]]:
    for number, line in enumerate(lines, 1):
        if len(line) > limit:
            raise _Irregular
        yield number, line.rstrip("\n").split(",")


def _plan(path: str | Path, split: bool | None) -> _Plan | None:
    """The trade form's header and where to cut the file; None when the reference must read it all (the events
    form, a bad or missing header, a file that cannot be read)."""
    try:
        with Path(path).open("rb") as fh:
            first = fh.readline()
            size = os.fstat(fh.fileno()).st_size
    except OSError:
        return None
    if not first.endswith(b"\n") or b'"' in first or b"\r" in first[:-2]:  # (a CRLF line end is read as csv reads it)
        return None
    try:
        text = first.decode("utf-8").replace("\ufeff", "")
    except UnicodeDecodeError:
        return None
    header = [h.strip() for h in text.removesuffix("\n").removesuffix("\r").split(",")]
    if _header_problems(header, COLUMNS):
        return None
    body_at = len(first)
    if split is False or (split is None and size < SPLIT_MIN_BYTES):
        return _Plan(header, body_at, 0)
    with Path(path).open("rb") as fh:
        data = fh.read()
    if b'"' in data:  # a quoted cell may hold a line end: a line end is then not always a record end
        return _Plan(header, body_at, 0)
    if body_at >= size:
        return _Plan(header, body_at, 0)
    plain = b"\r" not in data and b"\0" not in data
    # blocks from the file's second line on, each ending at a line end (the last at the file's end)
    blocks, block_lines = [body_at], [2]
    at = body_at
    while at < size:
        end = data.find(b"\n", at + max(BLOCK_BYTES, 1) - 1)
        end = size if end < 0 else end + 1
        block_lines.append(block_lines[-1] + data.count(b"\n", at, end))
        blocks.append(end)
        at = end
    return _Plan(header, body_at, body_at, blocks, block_lines, plain)


def _stream(path: str | Path, name: str, account: str | None, plan: _Plan | None, child: _Child | None
            ) -> Generator[Encoded, None, None]:
    done = 0  # events yielded (in chunks)
    try:
        if plan is not None:
            try:
                for chunk in _rechunk(_fast_parts(path, name, account, plan, child), name):
                    yield chunk
                    done += len(chunk)
                return
            except (_Irregular, InputError):
                pass
        if child is not None:
            child.stop()
        # the reference decides: what it yields after the events already written, then what it raises
        from taxreport.ledger import store

        part: list[tuple[int, Any, str | None]] = []
        for i, (event, origin) in enumerate(iter_canonical_csv(path, account=account)):
            if i >= done:
                part.append((i, event, origin))
                if len(part) == store.CHUNK:
                    yield store._prepare_all(part)
                    part = []
        if part:
            yield store._prepare_all(part)
    finally:
        if child is not None:
            child.stop()


Part = tuple[Any, ...]  # Row's columns (lists), then the part's chain hashed ahead (store.Chained) or None


def _fast_parts(path: str | Path, name: str, account: str | None, plan: _Plan, child: _Child | None
                ) -> Iterator[Part]:
    """The file's rows as :data:`Part` s, received from the child if there is one (which reads every row), else
    read here; :class:`_Irregular` (or :class:`InputError`) at the first irregularity."""
    if child is not None:
        share = _Share(path, name, account, plan)
        yield from child.parts(share)
        yield from share.rest()
        return
    encode = _encoder(name, plan.header, account)
    rows: list[Row] = []
    for line, cells in csv_lines(file_lines(path, start=plan.body_at)):
        row = encode(line + 1, cells)
        if row is not None:
            rows.append(row)
            if len(rows) == PART_ROWS:
                yield (*map(list, zip(*rows)), None)
                rows = []
    if rows:
        yield (*map(list, zip(*rows)), None)


class _Share:
    """This process's share of a split file: the blocks the child gave it when asked (:meth:`_Child.parts` asks
    whenever no part of the child's is there, one block at a time, never more than :data:`SHARE_MAX` of them):
    each the last block the child had not begun, so they are the file's last blocks, in a row. Each is encoded
    when it is given; their rows are written after the child's (the writer hashes their chain). An irregularity is
    kept until then: the reference decides (module docstring)."""

    def __init__(self, path: str | Path, name: str, account: str | None, plan: _Plan) -> None:
        self.path, self.plan = path, plan
        self.encode = _encoder(name, plan.header, account)
        self.parts: dict[int, Part | None] = {}  # block -> its rows (None: no row in it)
        self.most = min(int((len(plan.blocks) - 1) * SHARE_MAX), SHARE_MAX_BYTES // max(BLOCK_BYTES, 1))
        self.irregular = False

    def wants(self) -> bool:
        """Whether to ask the child for a block."""
        return not self.irregular and len(self.parts) < self.most

    def take(self, block: int) -> None:
        """Encode the block the child gave."""
        if self.irregular:
            return
        plan, encode = self.plan, self.encode
        offset = plan.block_lines[block] - 1
        rows: list[Row] = []
        try:
            for line, cells in _records(self.path, plan, plan.blocks[block], plan.blocks[block + 1]):
                row = encode(line + offset, cells)
                if row is not None:
                    rows.append(row)
        except (_Irregular, InputError):
            self.irregular = True
            return
        self.parts[block] = (*map(list, zip(*rows)), None) if rows else None

    def rest(self) -> Iterator[Part]:
        """The rows of the blocks given, in file order (after the child's); :class:`_Irregular` if one was."""
        for block in sorted(self.parts):
            part = self.parts[block]
            if part is not None:
                yield part
        self.parts.clear()
        if self.irregular:
            raise _Irregular


class _Origins:
    """``file:line`` of each row of a chunk, made only when an error names one."""

    def __init__(self, name: str, lines: list[int]) -> None:
        self.name, self.lines = name, lines

    def __getitem__(self, i: int) -> str:
        return f"{self.name}:{self.lines[i]}"


#: The start of the key of a row without an id (its content key); an id-less row of the same key again (an identical
#: row: a second fill, :func:`~taxreport.importers.base.nth_copy`) is left to the reference.
_IDLESS = "trade:csv:sha256:"


def _rechunk(parts: Iterator[Part], name: str) -> Iterator[Encoded]:
    """Chunks of exactly :data:`CHUNK` rows (the last one shorter), as ``append_stream`` cuts its stream, from
    parts of any size (in file order). A second id-less row with the same content key raises :class:`_Irregular`
    before the part holding it is cut: the reference gives it (and every later row) its key, numbering identical
    id-less rows as every importer does (:func:`~taxreport.importers.base.nth_copy`)."""
    from taxreport.ledger import store

    start = 0
    held: list[Part] = []
    count = 0

    def cut(size: int) -> Encoded:
        nonlocal held, count, start
        if len(held) == 1:
            cols: Part = held[0]
        else:  # join the parts (and their chains, when each runs on from the one before)
            chained = _join_chained(held)
            cols = (*(list(chain.from_iterable(h[k] for h in held)) for k in range(7)), chained)
        if len(cols[0]) > size:
            chained, rest_chained = _cut_chained(cols[7], size)
            rest = (*(c[size:] for c in cols[:7]), rest_chained)
            cols = (*(c[:size] for c in cols[:7]), chained)
            held = [rest]
        else:
            held = []
        count -= size
        lines, keys, payloads, hashes, times, accounts, assets, chained = cols
        n = len(keys)
        chunk = store.Encoded(start, keys, payloads, hashes, times, ["trade"] * n, accounts, assets, [None] * n,
                              _Origins(name, lines), None, chained)
        start += n
        return chunk

    idless: set[str] = set()  # the content keys of the rows without an id so far
    for part in parts:
        keys = [k for k in part[1] if k.startswith(_IDLESS)] if _IDLESS in "\n".join(part[1]) else None
        # (the join and search run at C speed: a file of ids never loops over its keys here)
        if keys:
            before = len(idless)
            idless.update(keys)
            if len(idless) - before != len(keys):  # an id-less row seen before: the reference numbers the copies
                raise _Irregular
        held.append(part)
        count += len(part[0])
        while count >= store.CHUNK:
            yield cut(store.CHUNK)
    if count:
        yield cut(count)


def _join_chained(parts: list[Part]) -> Chained | None:
    """The chain of parts joined in order: each part's, when every part has one and each runs on from the one
    before it (same append, next row, linked to its last hash); else None (the writer hashes the rows)."""
    first = parts[0][7]
    if first is None:
        return None
    seq, prev, actor, reason, recorded_at, hashes = first
    joined = list(hashes)
    for part in parts[1:]:
        chained = part[7]
        if chained is None or chained[:5] != (seq + len(joined), joined[-1], actor, reason, recorded_at):
            return None
        joined.extend(chained[5])
    return seq, prev, actor, reason, recorded_at, joined


def _cut_chained(chained: Chained | None, size: int) -> tuple[Chained | None, Chained | None]:
    """A part's chain cut after its first ``size`` rows: the head's, and the rest's (which runs on after it)."""
    if chained is None:
        return None, None
    seq, prev, actor, reason, recorded_at, hashes = chained
    return ((seq, prev, actor, reason, recorded_at, hashes[:size]),
            (seq + size, hashes[size - 1], actor, reason, recorded_at, hashes[size:]))


def _encoder(name: str, header: list[str], account: str | None) -> Callable[[int, list[str]], Row | None]:
    """``encode(line, cells)``: the row's :data:`Row`, None for a blank line (skipped, as the reference skips
    it), :class:`_Irregular` for a bad row.

    Per row, only what differs from row to row is worked out: what a row's account, side and symbols make of it
    (the account's and symbols' checks and JSON texts, the payload's fixed parts, the index texts) is worked out
    once per combination of those cells (:func:`shape`, a cache), the time's two halves once each, and an amount
    cell of the plain shape (``123.4500``) is read as text (:func:`amount`), the same canonical text and sign
    ``Decimal`` gives it, tested against it."""
    width = len(header)
    at = {h: i for i, h in enumerate(header)}
    cells_of = itemgetter(*(at[c] for c in COLUMNS))  # the row's cells in COLUMNS' order
    strip = str.strip
    text = encode_basestring
    # each symbol cell already seen -> (symbol, its JSON text), or None (not a symbol)
    symbols: dict[tuple[str, str], tuple[str, str] | None] = {}
    # (account, side, base, quote, fee_asset) cells already seen -> the row's fixed parts (see shape), or None (the
    # reference decides)
    shapes: dict[tuple[str, str, str, str, str], _Shape | None] = {}
    # each amount column's cells already seen -> (canonical text, positive); one cache per column, so that
    # quantities (rarely seen twice) never crowd out prices and fees (often seen again)
    quantities: dict[str, tuple[str, bool]] = {}
    prices: dict[str, tuple[str, bool]] = {}
    fees: dict[str, tuple[str, bool]] = {}
    sides = {"buy": "buy", "sell": "sell"}

    def slow(line: int, cells: list[str]) -> Row | None:
        """The reference's reading of the row (``_trade``, the ledger's own encoder)."""
        if len(cells) != width:
            if any(c.strip() for c in cells):
                raise _Irregular
            return None
        try:
            event = _trade(dict(zip(header, map(strip, cells))), account)
        except _FieldError:
            if any(c.strip() for c in cells):
                raise _Irregular from None
            return None
        key, payload, content_hash, time, _kind, accounts_text, assets_text, _ref = encode_event(event)
        return line, key, payload, content_hash, time, accounts_text, assets_text  # (a trade, no order_ref)

    def symbol(cell: str, what: str) -> tuple[str, str] | None:
        found = symbols.get((cell, what), _MISSING)
        if found is _MISSING:
            try:
                normal = normalise_asset(cell, what=what)
                found = (normal, text(normal))
            except ValueError:
                found = None
            if len(symbols) < 10_000:
                symbols[(cell, what)] = found
        return found  # type: ignore[return-value]

    def shape(acc: str, side_cell: str, base_cell: str, quote_cell: str, fee_asset_cell: str) -> _Shape | None:
        """What the row's (stripped) account, side, base, quote and fee asset cells make of it, the same for every
        row that has them: ``(account, payload head, payload middle, payload tail, accounts text, assets text)``,
        the payload's fixed parts around its external id, fee, price, quantity and time; None when one of them is
        not plainly good (the reference decides the row)."""
        if account:
            if acc and acc != account:
                return None
            acc = acc or account
        side = sides.get(side_cell)
        base = symbol(base_cell, "base")
        quote = symbol(quote_cell, "quote")
        if not acc or acc != acc.strip() or side is None or base is None or quote is None or base[0] == quote[0]:
            return None
        if fee_asset_cell:
            fee_asset = symbol(fee_asset_cell, "fee_asset")
            if fee_asset is None:
                return None
            fee_json = fee_asset[1]
            names = (base[0], quote[0]) if fee_asset[0] in (base[0], quote[0]) else (base[0], quote[0], fee_asset[0])
        else:
            fee_json = "null"
            names = (base[0], quote[0])
        return (acc, f'{{"account":{text(acc)},"base":{base[1]},"external_id":',
                f',"fee_asset":{fee_json},"kind":"trade","note":"","order_id":null,"price":"',
                f'","quote":{quote[1]},"side":"{side}","source":"csv","time":"', index_text((acc,)), index_text(names))

    # the time's two halves already seen -> whether each is plain; a time is plain when both are ("YYYY-MM-DD" and
    # "THH:MM:SS" each the ISO text of what it says: exactly when the whole round-trips through datetime)
    days: dict[str, bool] = {}
    clocks: dict[str, bool] = {}

    def plain_day(day: str) -> bool:
        try:
            plain = _fromiso_date(day).isoformat() == day
        except ValueError:
            plain = False
        if len(days) < 100_000:
            days[day] = plain
        return plain

    def plain_clock(clock: str) -> bool:
        try:
            plain = _fromiso("2000-01-01" + clock).isoformat() == "2000-01-01" + clock
        except ValueError:
            plain = False
        if len(clocks) < 100_000:
            clocks[clock] = plain
        return plain

    def amount(seen: dict[str, tuple[str, bool]], cell: str) -> tuple[str, bool] | None:
        """(canonical text, > 0) of an amount ``parse_amount`` accepts on its quick path, else None; remembered in
        ``seen`` (its column's cache) when it is."""
        found = _amount(cell)
        if found is not None and len(seen) < 100_000:
            seen[cell] = found
        return found

    def encode(line: int, raw: list[str]) -> Row | None:
        if len(raw) != width:
            return slow(line, raw)
        when, acc, side, base, quote, quantity_cell, price_cell, fee_cell, fee_asset, trade_id = map(strip, cells_of(raw))
        cells = (acc, side, base, quote, fee_asset)
        fixed = shapes.get(cells, _MISSING)
        if fixed is _MISSING:
            fixed = shape(*cells)
            if len(shapes) < 10_000:
                shapes[cells] = fixed
        # time: only the plain whole-second UTC shape, checked by a round trip through datetime
        if fixed is None or len(when) != 20 or when[19] != "Z" or when[0] == "0" or not when.isascii():
            return slow(line, raw)
        head = when[:19]
        day, clock = head[:10], head[10:]
        if not (days.get(day) or plain_day(day)) or not (clocks.get(clock) or plain_clock(clock)):
            return slow(line, raw)
        quantity = quantities.get(quantity_cell) or amount(quantities, quantity_cell)
        price = prices.get(price_cell) or amount(prices, price_cell)
        if quantity is None or not quantity[1] or price is None or not price[1]:
            return slow(line, raw)
        if fee_cell:
            fee = fees.get(fee_cell) or amount(fees, fee_cell)
            if fee is None or (fee[0] != "0" and not fee_asset):
                return slow(line, raw)
            fee_text = fee[0]
        else:
            fee_text = "0"
        acc, payload_head, middle, tail, accounts_text, assets_text = fixed  # type: ignore[misc]
        time = head + ".000000Z"
        external = f"{acc}/{trade_id}" if trade_id else None
        payload = (f'{payload_head}{text(external) if external else "null"},"fee":"{fee_text}"{middle}{price[0]}",'
                   f'"quantity":"{quantity[0]}{tail}{time}"}}')
        content_hash = sha256(payload.encode()).hexdigest()
        key = "trade:csv:" + external if external else "trade:csv:sha256:" + content_hash[:32]
        return line, key, payload, content_hash, time, accounts_text, assets_text

    return encode


def _amount(cell: str) -> tuple[str, bool] | None:
    """(canonical text, > 0) of an amount cell ``parse_amount`` accepts on its quick path, else None."""
    if len(cell) > MAX_DIGITS or "," in cell:
        return None
    whole, dot, fraction = cell.partition(".")
    if cell.isascii() and whole.isdigit() and (fraction.isdigit() or not fraction):
        # the plain shape (ASCII digits, at most one point, a digit before it: what Decimal reads as written):
        # its canonical text is itself without the fraction's trailing zeros (and a bare point), as
        # decimal_str writes it; positive unless every digit is 0; within bounds as below
        if whole[0] != "0":
            if len(whole) <= MAX_ADJUSTED:  # adjusted() = len(whole) - 1 < MAX_ADJUSTED
                return cell.rstrip("0").rstrip(".") if dot else cell, True
        elif whole == "0" and fraction.strip("0"):
            if len(fraction) - len(fraction.lstrip("0")) < -MIN_ADJUSTED:  # adjusted() = -(leading zeros + 1)
                return cell.rstrip("0"), True
    try:
        value = Decimal(cell)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    if value.is_zero():
        return "0", False
    if not MIN_ADJUSTED <= value.adjusted() < MAX_ADJUSTED:
        return None
    shown = str(value)
    if "E" in shown:
        shown = decimal_str(value)
    elif "." in shown:
        shown = shown.rstrip("0").rstrip(".")
    return shown, value > 0


#: A row's fixed parts (:func:`_encoder`'s ``shape``).
_Shape = tuple[str, str, str, str, str, str]
_MISSING: Any = object()


_fromiso = datetime.fromisoformat
_fromiso_date = date.fromisoformat

_FRAME = struct.Struct("<Q")


class _Child:
    """The forked process that checks, encodes and (once told where the chain stands) hashes the file's rows, and
    the thread that drains its pipe (so it never waits on this process): each frame a ``marshal`` of a
    :data:`Part`, an empty tuple at the end of the file, ``None`` at an irregularity (after the good rows before
    it), or an int: the number of a block the child gives this process (asked for, :class:`_Share`). A second pipe
    carries one message the other way (:meth:`tell`), a third this process's requests for a block (a byte each).
    """

    def __init__(self, pid: int, fd: int, control_fd: int, ask_fd: int) -> None:
        self.pid, self.fd, self.control_fd, self.ask_fd = pid, fd, control_fd, ask_fd
        # bounded: when this process writes more slowly than the child reads, the child waits (memory stays flat)
        self.frames: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUED_PARTS)
        self.thread = threading.Thread(target=self._drain, name="import-child-reader", daemon=True)
        self.thread.start()

    @classmethod
    def start(cls, path: str | Path, name: str, account: str | None, plan: _Plan) -> _Child | None:
        if not hasattr(os, "fork"):  # (Windows: one process)
            return None
        fds: list[int] = []
        try:
            fds.extend(os.pipe())
            fds.extend(os.pipe())
            fds.extend(os.pipe())
            _widen(fds[1])
            pid = os.fork()
        except OSError:
            for fd in fds:
                os.close(fd)
            return None
        read_fd, write_fd, control_read, control_write, ask_read, ask_write = fds
        if pid == 0:  # the child: never returns
            status = 1
            try:
                os.close(read_fd)
                os.close(control_write)
                os.close(ask_write)
                _child_main(path, name, account, plan, write_fd, control_read, ask_read)
                status = 0
            except BaseException:  # noqa: BLE001, S110 - the parent sees a missing end and lets the reference decide
                pass
            finally:
                os._exit(status)
        os.close(write_fd)
        os.close(control_read)
        os.close(ask_read)
        return cls(pid, read_fd, control_write, ask_write)

    def tell(self, start: tuple[str, str, str, int, str] | None) -> None:
        """Where the chain stands (``(actor, reason, recorded_at, seq, prev_hash)``), or None: hash nothing."""
        body = marshal.dumps(start)
        data = _FRAME.pack(len(body)) + body
        try:
            while data:
                data = data[os.write(self.control_fd, data):]
        except OSError:  # a child already ended: what it sent (or its missing end) decides
            pass
        try:
            os.close(self.control_fd)
        except OSError:
            pass
        self.control_fd = -1

    def _drain(self) -> None:
        try:
            while True:
                head = _read_exactly(self.fd, _FRAME.size)
                if head is None:
                    break
                body = _read_exactly(self.fd, _FRAME.unpack(head)[0])
                if body is None:
                    break
                self.frames.put(body)
        except OSError:
            pass
        self.frames.put(None)  # the end of the pipe (an ended child, or one that failed)

    def parts(self, share: _Share | None = None) -> Iterator[Part]:
        """The child's rows, a part at a time, as columns; :class:`_Irregular` when it found something
        irregular (or ended without saying it was done). With a ``share``: whenever no frame is there (this
        process would wait) and the share wants more, the child is asked for a block (one request at a time);
        a block it gives is encoded here at once (:meth:`_Share.take`)."""
        asked = False
        while True:
            try:
                body = self.frames.get_nowait()
            except queue.Empty:
                if share is not None and not asked and self.ask_fd >= 0 and share.wants():
                    try:
                        os.write(self.ask_fd, b"?")
                        asked = True
                    except OSError:  # (the child has ended: its frames say what it did)
                        share = None
                body = self.frames.get()
            if body is None:
                raise _Irregular
            part = marshal.loads(body)
            if type(part) is int:
                asked = False
                if share is None:
                    raise _Irregular  # (a block given without a share to take it: never sent unasked)
                share.take(part)
                continue
            if part is None:
                raise _Irregular
            if not part:
                return
            yield part

    def stop(self) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.pid = 0
            while self.thread.is_alive():  # the pipe's write end died with the child: the reader sees its end
                try:
                    self.frames.get_nowait()  # (room for a reader waiting to queue a part)
                except queue.Empty:
                    pass
                self.thread.join(0.01)
            for fd in (self.fd, self.control_fd, self.ask_fd):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.control_fd = self.ask_fd = -1


#: The parts' pipe's buffer, in bytes, where the system lets a process set it (Linux: ``F_SETPIPE_SZ``, up to
#: ``/proc/sys/fs/pipe-max-size``, 1 MiB by default; the default buffer is 64 KiB): a part crosses in a few writes
#: instead of dozens, each a switch between the processes, while the writer may be waiting for it.
PIPE_BYTES = 1 << 20


def _widen(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)  # type: ignore[attr-defined]
    except (ImportError, AttributeError, OSError):  # (another system, or a lower limit: the default buffer)
        pass


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        data = os.read(fd, min(size, 1 << 20))
        if not data:
            return None
        chunks.append(data)
        size -= len(data)
    return b"".join(chunks)


class _Hasher:
    """The child's chain: parts are held (at most :data:`AHEAD_PARTS`, then it waits) until the writer has said
    where the chain stands (:meth:`_Child.tell`); each is then hashed in turn, as if every row were written after
    the one before it, and sent with its chain (``(seq, prev_hash, actor, reason, recorded_at, hashes)``: what it
    assumed, so the writer can tell whether it held), or with None when the writer said nothing is to be hashed."""

    _UNKNOWN = object()

    def __init__(self, control_fd: int, send: Callable[[Any], None]) -> None:
        self.control_fd, self.send = control_fd, send
        self.start: Any = self._UNKNOWN
        self.held: list[tuple[Any, ...]] = []

    def put(self, part: tuple[Any, ...]) -> None:
        if self.start is self._UNKNOWN:
            self._listen(wait=len(self.held) >= AHEAD_PARTS)
            if self.start is self._UNKNOWN:
                self.held.append(part)
                return
        self._flush()
        self._send(part)

    def finish(self) -> None:
        """Send what is held (waiting, if need be, to be told where the chain stands)."""
        if self.held:
            self._listen(wait=True)
            self._flush()

    def _listen(self, *, wait: bool) -> None:
        if not wait and not select.select([self.control_fd], [], [], 0)[0]:
            return
        head = _read_exactly(self.control_fd, _FRAME.size)
        body = _read_exactly(self.control_fd, _FRAME.unpack(head)[0]) if head is not None else None
        self.start = marshal.loads(body) if body is not None else None  # (no word from a writer: nothing hashed)

    def _flush(self) -> None:
        held, self.held = self.held, []
        for part in held:
            self._send(part)

    def _send(self, part: tuple[Any, ...]) -> None:
        chained = None
        if self.start is not None:
            actor, reason, recorded_at, seq, prev = self.start
            lines, keys, payloads, _content, times = part[:5]
            hashes = chain_hashes(actor, reason, recorded_at, prev, seq + 1, keys, ["trade"] * len(keys), times,
                                  payloads)
            chained = (seq, prev, actor, reason, recorded_at, hashes)
            self.start = (actor, reason, recorded_at, seq + len(keys), hashes[-1])
        self.send((*part, chained))


def _child_main(path: str | Path, name: str, account: str | None, plan: _Plan, fd: int, control_fd: int,
                asked_fd: int) -> None:
    """The child's work: the file's rows, checked, encoded and hashed, sent :data:`PART_ROWS` at a time, block by
    block from the first; before each block, if the writer has asked for one (a byte on ``asked_fd``), the last
    block not begun is given to it instead (its number sent as a frame of its own) and this process stops before
    it."""
    def send(obj: Any) -> None:
        body = marshal.dumps(obj)
        data = _FRAME.pack(len(body)) + body
        while data:
            data = data[os.write(fd, data):]

    gc.disable()  # (every object made here is acyclic, freed by its reference count: the collector's passes only cost)
    encode = _encoder(name, plan.header, account)
    hasher = _Hasher(control_fd, send)
    rows: list[Row] = []

    blocks, block_lines = plan.blocks, plan.block_lines
    front, back = 0, len(blocks) - 1  # the blocks not begun: front..back - 1
    try:
        while front < back:
            if back - front > 1 and asked_fd >= 0 and select.select([asked_fd], [], [], 0)[0]:
                if os.read(asked_fd, 64):
                    back -= 1
                    send(back)  # this block is the writer's
                    continue
                asked_fd = -1  # (the writer's end is closed: it asks no more)
            offset = block_lines[front] - 1
            for line, cells in _records(path, plan, blocks[front], blocks[front + 1]):
                row = encode(line + offset, cells)
                if row is not None:
                    rows.append(row)
                    if len(rows) == PART_ROWS:
                        hasher.put(tuple(map(list, zip(*rows))))
                        rows = []
            front += 1
    except (_Irregular, InputError):
        if rows:
            hasher.put(tuple(map(list, zip(*rows))))
        hasher.finish()
        send(None)
        return
    if rows:
        hasher.put(tuple(map(list, zip(*rows))))
    hasher.finish()
    send(())

def write_file(ledger, path: str | Path, *, account: str | None, actor: str, reason: str,  # noqa: ANN001
               total: int | None = None, chunks: EncodedStream | None = None) -> ImportSummary:
    """``import csv`` of one file: :func:`encoded_stream` (``chunks``, when the caller started it already)
    appended in one transaction (:meth:`Ledger.append_encoded`); what
    :func:`taxreport.importers.base.write_stream` of :func:`iter_canonical_csv` does, faster."""
    if chunks is None:
        chunks = encoded_stream(path, account=account)
    try:
        result = ledger.append_encoded(chunks, actor=actor, reason=reason, label=f"Importing {Path(path).name}",
                                       total=total)
    finally:
        chunks.close()
    return ImportSummary(str(path), result.added_count + result.duplicates, result.added_count, result.duplicates, 0)
