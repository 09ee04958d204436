"""What every importer shares: reading CSV text exactly, collecting row errors with file:line:field,
and writing a parsed batch to the ledger in one transaction.

A file with any bad row is refused whole (nothing is written) and *every* bad row is reported (up to
:data:`MAX_REPORTED`). Rows an importer deliberately does not turn into events (e.g. OKX internal
transfers between the user's own sub-accounts) are listed in ``ignored`` with the reason: never
dropped silently.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, TypeVar

from taxreport.errors import InputError, TaxreportError
from taxreport.model.events import Event

MAX_REPORTED = 20
_E = TypeVar("_E", bound=Event)


class ImportRefused(TaxreportError):
    """A file had bad rows; carries every :class:`InputError` found."""

    def __init__(self, path: str, problems: list[InputError]) -> None:
        self.problems = problems
        shown = "\n  ".join(str(p) for p in problems[:MAX_REPORTED])
        more = f"\n  … and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{path}: refused, nothing was written ({len(problems)} {noun}):\n  {shown}{more}")


@dataclass
class ParsedBatch:
    path: str
    events: list[Event] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)  # "file:line" of each event
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (origin, reason)

    def add(self, event: Event, origin: str) -> None:
        self.events.append(event)
        self.origins.append(origin)


@dataclass(frozen=True)
class ImportSummary:
    path: str
    rows: int
    added: int
    duplicates: int
    ignored: int


BOM = "\ufeff"


def read_text(path: str | Path) -> str:
    """File text with every UTF-8 byte-order mark removed; a file that is not UTF-8 is refused with its
    name.

    Not only the file's first character: real OKX exports carry a BOM at the start of *every* line
    (or in front of every header cell). Left in, it becomes part of an id (``'\ufeff0'``), so the same
    rows exported with and without the marks would get different ledger keys and import twice. U+FEFF
    is never meaningful inside a CSV cell, so it is removed everywhere, in every importer."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=str(path)) from exc
    try:
        return data.decode("utf-8-sig").replace(BOM, "")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", file=str(path)) from exc


BLOCK = 1 << 20  # file_lines decodes this many bytes (cut at a line end) at a time


def file_lines(path: str | Path, *, universal: bool = False, start: int = 0, stop: int | None = None
               ) -> Iterator[str]:
    """The file's lines, read a block at a time (a million-row file is never held whole), decoded as
    :func:`read_text` decodes a whole file: UTF-8, every byte-order mark removed; each line keeps its end.
    The file is split at ``"\n"`` only (as reading a binary file line by line splits it), or with
    ``universal`` at ``"\n"``, ``"\r\n"`` and ``"\r"``, as :func:`csv_lines` splits a whole text from
    :func:`read_text` (so ``csv_lines(file_lines(p, universal=True))`` reads what ``csv_lines(read_text(p))``
    reads, line numbers included). The file is opened now (one that cannot be read is refused here); a byte that
    is not UTF-8 raises :class:`InputError` naming the file and the byte's offset when the reading reaches its
    block. ``start`` and ``stop`` (byte offsets, each just after a ``"\n"``) read only that part of the file
    (:mod:`taxreport.importers.fast_csv` reads a file in two parts at once); an offset named in an error is
    still the file's."""
    name = str(path)
    try:
        fh = Path(path).open("rb")
        if start:
            fh.seek(start)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=name) from exc

    def decoded(data: bytes, offset: int) -> Iterable[str]:
        try:
            text = data.decode("utf-8")  # cut at b"\n", which is never inside a UTF-8 sequence
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text (byte {offset + exc.start})", file=name) from None
        lines = io.StringIO(text.replace(BOM, "") if BOM in text else text, newline="" if universal else "\n")
        if universal:  # (a block ends at "\n", so a "\r\n" is never cut in two)
            return lines
        if BOM in text and not text.endswith("\n") and text.rpartition("\n")[2].strip(BOM) == "":
            return itertools.chain(lines, [""])  # a last line of nothing but marks is still a line (empty)
        return lines

    def blocks() -> Iterator[Iterable[str]]:
        offset = start
        rest: list[bytes] = []  # the start of a line not ended yet (a very long line: several blocks)
        with fh:
            while data := fh.read(BLOCK if stop is None else min(BLOCK, stop - offset - sum(map(len, rest)))):
                cut = data.rfind(b"\n") + 1
                if not cut:
                    rest.append(data)
                    continue
                head = b"".join((*rest, data[:cut])) if rest else data[:cut]
                rest = [data[cut:]] if cut < len(data) else []
                yield decoded(head, offset)
                offset += len(head)
            if rest:
                yield decoded(b"".join(rest), offset)
    return itertools.chain.from_iterable(blocks())


def count_lines(path: str | Path) -> int | None:
    """The number of lines of a file (for a progress bar's size; None if it cannot be read)."""
    try:
        with Path(path).open("rb") as fh:
            return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
    except OSError:
        return None


def bar_total(path: str | Path, *, skip: int = 1) -> int | None:
    """The size of a progress bar over the records of ``path``: its lines less ``skip`` (its header lines), never
    below 0; None (a bar of unknown size) when the file cannot be read, and when no bar is shown at all
    (:func:`taxreport.progress.shown`: the file is then not read a second time only to be counted)."""
    from taxreport import progress

    if not progress.shown():
        return None
    lines = count_lines(path)
    return max(lines - skip, 0) if lines else None


def csv_lines(text: str | Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """``(line number, cells)`` for every CSV record of ``text`` (the whole text, or its lines as
    :func:`file_lines` reads them); line numbers count from 1 in the file."""
    reader = csv.reader(io.StringIO(text, newline="") if isinstance(text, str) else text)
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", line=reader.line_num) from exc


def nth_copy(event: _E, seen: dict[str, int], account: str) -> _E:
    """``event`` (a row's event without an id, identified by its content), or for the n-th identical copy in the
    same file (n >= 1) the same event with the external id ``<account>/<content digest>:<n>``.

    The one rule every importer applies to rows without an id: two *identical* rows of one file are two
    events (two equal fills of one order in the same second are common in exports without ids), never one
    event and a "duplicate". The first copy keeps its content key (the key every earlier version wrote, so
    ledgers written before stay valid); re-importing the file, or an overlapping export holding the same
    rows, gives every copy the same key again and adds nothing. ``seen`` (content keys -> copies so far) is
    the file's: one dict per file read, in file order."""
    key = event.natural_key
    n = seen.get(key, 0)
    seen[key] = n + 1
    if not n:
        return event
    return dataclasses.replace(event, external_id=f"{account}/{key.rsplit(':', 1)[-1]}:{n}")


def write_stream(ledger, path: str, items: Iterable[tuple[Event, str]], *, actor: str, reason: str,  # noqa: ANN001
                 total: int | None = None) -> ImportSummary:
    """Append a parser's stream of ``(event, origin)`` in one transaction (:meth:`Ledger.append_stream`):
    the file is never held whole; a bad row anywhere (the parser raises :class:`ImportRefused` at the end)
    rolls everything back, so a bad file still writes nothing."""
    result = ledger.append_stream(items, actor=actor, reason=reason, label=f"Importing {Path(path).name}",
                                  total=total)
    rows = result.added_count + result.duplicates
    return ImportSummary(path, rows, result.added_count, result.duplicates, 0)


def write_batch(ledger, batch: ParsedBatch, *, actor: str, reason: str) -> ImportSummary:  # noqa: ANN001
    """Append the batch in one transaction and summarise what happened."""
    result = ledger.append(batch.events, actor=actor, reason=reason, origins=batch.origins)
    return ImportSummary(batch.path, len(batch.events) + len(batch.ignored), result.added_count,
                         result.duplicates, len(batch.ignored))
