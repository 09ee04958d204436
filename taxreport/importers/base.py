"""What every importer shares: reading CSV text exactly, collecting row errors with file:line:field,
and writing a parsed batch to the ledger in one transaction.

A file with any bad row is refused whole (nothing is written) and *every* bad row is reported (up to
:data:`MAX_REPORTED`). Rows an importer deliberately does not turn into events (e.g. OKX internal
transfers between the user's own sub-accounts) are listed in ``ignored`` with the reason: never
dropped silently.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from taxreport.errors import InputError, TaxreportError
from taxreport.model.events import Event

MAX_REPORTED = 20


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


def csv_lines(text: str) -> Iterator[tuple[int, list[str]]]:
    """``(line number, cells)`` for every CSV record; line numbers count from 1 in the file."""
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", line=reader.line_num) from exc


def write_batch(ledger, batch: ParsedBatch, *, actor: str, reason: str) -> ImportSummary:  # noqa: ANN001
    """Append the batch in one transaction and summarise what happened."""
    result = ledger.append(batch.events, actor=actor, reason=reason, origins=batch.origins)
    return ImportSummary(batch.path, len(batch.events) + len(batch.ignored), result.added_count,
                         result.duplicates, len(batch.ignored))
