"""Tables that fit the terminal without splitting a figure: the rebalance commands' rich tables
(``rebalance plan``, its tax preview, ``rebalance run``, ``basket status|invest|stop|history``).

A figure (a date, an amount, an id) is never wrapped nor cut: every word of every cell is kept whole on
one line (text wraps between words only). When the table does not fit the terminal's width (rich honours
``COLUMNS``), the columns the caller marked ``drop`` are left out, in that order; when even that does not fit,
each row becomes one line of ``header=value`` fields separated by ``;`` (wrapped between words only). Nothing is ever
truncated: rich's ``…`` is how a cut shows, and a rendering that has one is never printed.

Plain lines (:func:`echo_line`) are wrapped between words at the terminal's width, never inside a figure; piped,
they are written exactly as they are.
"""

from __future__ import annotations

import io
import re
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Col:
    header: str
    justify: str = "left"
    wrap: bool = False  # free text (or a date and its time): may wrap between its words, never inside one
    unit: str | None = None  # wrap: the separator of the items kept whole on a line (e.g. ", ": "0.1 BTC")
    drop: int = 0  # 0: always shown; else left out when the table does not fit, lowest first (equal: together)


def _cell(value: Any) -> str:
    from taxreport.cli.common import _cell as common_cell

    return common_cell(value)


def fitted(title: str | None, columns: Sequence[Col], rows: Sequence[Sequence[Any]], width: int,
           caption: str | None = None) -> list[Any]:
    """What to print for this table at ``width`` columns: ``[table]`` (maybe without its ``drop`` columns),
    or, when no table fits, the title and one Text line per row of ``header=value`` fields."""
    from rich.table import Table
    from rich.text import Text

    cells = [[_cell(v) for v in row] for row in rows]
    keep = list(range(len(columns)))
    steps = sorted({c.drop for c in columns if c.drop})
    while True:
        table = Table(title=title, header_style="bold", caption=caption)
        widths = _widths([columns[i] for i in keep], [[row[i] for i in keep] for row in cells], width)
        for i, w in zip(keep, widths, strict=True):
            c = columns[i]
            table.add_column(c.header, justify=c.justify, no_wrap=not c.wrap, width=w)  # type: ignore[arg-type]
        for row in cells:
            table.add_row(*[row[i] for i in keep])
        if _whole(table, [[row[i] for i in keep] for row in cells], width):
            return [table]
        if not steps:
            break
        step = steps.pop(0)
        keep = [i for i in keep if columns[i].drop != step]

    def field(header: str, value: str) -> str:
        if not header:  # a column of labels (``gains``' summary): the label alone
            return value
        return f"#{value}" if header == "#" else f"{header}={value or '-'}"

    return ([Text(title, style="italic")] if title else []) + [
        Text("; ".join(field(c.header, value) for c, value in zip(columns, row, strict=True))) for row in cells
    ] + ([Text(caption)] if caption else [])


def _widths(columns: Sequence[Col], cells: list[list[str]], width: int) -> list[int | None]:
    """Widths of the wrapping columns (None: rich's own, for a figure's column or a table that fits as it
    is): each at least its longest word (or ``unit`` item); the room left goes first to the columns that
    need least to show their cells on one line (a date and its time), then to the others."""
    def longest(i: int, split: str | None) -> int:
        texts = [row[i] for row in cells]
        parts = [p.strip() + split.strip() for t in texts for p in t.split(split)] if split else \
            [w for t in texts for w in t.split()]
        return max([len(p) for p in parts] + [len(w) for w in columns[i].header.split()])

    natural = [max([len(row[i]) for row in cells] + [len(columns[i].header) if not c.wrap else 0])
               for i, c in enumerate(columns)]
    room = width - (3 * len(columns) + 1)  # rich's borders and one space of padding each side
    if sum(natural) <= room:
        return [None] * len(columns)
    out = [natural[i] if not c.wrap else longest(i, c.unit) for i, c in enumerate(columns)]
    spare = room - sum(out)
    for i in sorted((i for i, c in enumerate(columns) if c.wrap), key=lambda i: natural[i] - out[i]):
        give = max(min(natural[i] - out[i], spare), 0)
        out[i] += give
        spare -= give
    return [w if c.wrap else None for w, c in zip(out, columns, strict=True)]


def _whole(table: Any, cells: list[list[str]], width: int) -> bool:
    """Whether ``table`` rendered ``width`` wide keeps every word of every cell whole on one line (and the
    header of every column: rich folds a header too, ``allowa`` / ``nce``)."""
    from rich.console import Console

    plain = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    with plain.capture() as captured:
        plain.print(table)
    shown = captured.get()
    if shown.count("…") > sum(cell.count("…") for row in cells for cell in row) or any(
            len(line) > width for line in shown.splitlines()):
        return False
    words = set(shown.replace("│", " ").replace("┃", " ").split())
    headers = [str(c.header) for c in getattr(table, "columns", [])]
    return all(w in words for row in cells + [headers] for cell in row for w in cell.split())


is_whole = _whole  # :func:`taxreport.cli.common.print_table`'s test of rich's own layout


def print_fitted(title: str | None, columns: Sequence[Col], rows: Sequence[Sequence[Any]],
                 caption: str | None = None) -> None:
    """Print :func:`fitted` on the terminal (the console's width)."""
    from taxreport.cli.common import console

    out = console()
    for item in fitted(title, columns, rows, out.width, caption):
        out.print(item, markup=False, highlight=False, crop=False)


# Plain lines (``realised gain ...``, ``tax policy ...``, ``today's P&L ...``, notes): a terminal breaks a long
# line at its last column, inside a number as readily as between words. On a terminal they are wrapped here
# between words, a figure never split; piped (a file, a script, a test) they are written exactly as they are.
_NBSP = "\u00a0"  # glues the parts of one figure while wrapping; never printed
_GLUE = re.compile(
    r"(?<=\d) (?=[A-Z][A-Z0-9]{1,9}(?![A-Za-z0-9]))"  # an amount and its asset: "0.08325834 BTC", "00:00 UTC"
    r"|(?<=\d{4}-\d{2}-\d{2}) (?=\d{2}:\d{2})"  # a date and its time: "2024-01-15 00:00"
)


def wrap_line(text: str, width: int, indent: int = 2) -> str:
    """``text`` wrapped to ``width`` columns between words only: a figure (a number, a date, an id) and an
    amount with its asset (``0.08325834 BTC``) or a date with its time are never split; a word longer than the
    width is kept whole on its own line. The lines after a line's first are indented by ``indent`` spaces.
    Every word of ``text`` is kept, in order; a line that fits is returned as it is."""
    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        lines = textwrap.wrap(_GLUE.sub(_NBSP, line), width=width, subsequent_indent=" " * indent,
                              break_long_words=False, break_on_hyphens=False, expand_tabs=False,
                              replace_whitespace=False)
        out.extend(part.replace(_NBSP, " ") for part in lines)
    return "\n".join(out)


def _on_terminal(err: bool) -> bool:
    stream = sys.stderr if err else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def echo_line(text: str, *, err: bool = False, indent: int = 2) -> None:
    """``click.echo(text)``, wrapped between words at the terminal's width (:func:`wrap_line`, rich's width:
    ``COLUMNS`` or the terminal's) when the stream is a terminal; byte for byte ``text`` otherwise."""
    import click

    if _on_terminal(err):
        from taxreport.cli.common import console

        text = wrap_line(text, console().width, indent)
    click.echo(text, err=err)
