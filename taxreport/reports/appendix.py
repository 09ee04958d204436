"""Long tables of the PDF (Appendix A: every disposal; Appendix B: the rebalance log) drawn straight
with reportlab, the fast path that keeps a 100,000-disposal PDF readable and quick.

Why not WeasyPrint for these: it lays out HTML at ~0.4 s per page (issue #14 measured 507 s for
10,000 disposals). A table whose rows all have the same shape needs no HTML layout: the columns are
measured once, rows are placed on fixed lines, and the page count is known before drawing, so every
page can say "page n of m". :mod:`taxreport.reports.pdf` renders the summary with WeasyPrint and
appends these pages (pypdf).

Presentation matches the summary: A4 portrait, the margins of ``templates/report.css`` (22 mm top, 20 mm
bottom; 14 mm at the sides instead of 16, room for one more column), DejaVu Sans (matplotlib's bundled copy, so no system font lookup), 7.4 pt rows with
a bold 7.6 pt header row repeated on every page, zebra rows, negative amounts in red, a totals row at
the end. A cell too wide for its column wraps onto more lines (nothing is cut off).

Speed: cells are written as PDF text operators through :meth:`reportlab.pdfgen.canvas.Canvas.addLiteral`
(reportlab's documented door for literal page content) instead of one ``drawString`` per cell
(~25 µs each). Printable ASCII is written as is (reportlab's TrueType subset 0 maps ASCII to itself,
``asciiReadable``); any other text goes through the font's own ``splitString`` subsetting. Text is
only ever *text* here: there is no markup and no URL to fetch, so imported data cannot reach anything.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Sequence

MM = 72 / 25.4
PAGE_W, PAGE_H = 595.2756, 841.8898  # A4 in points
MARGIN_TOP, MARGIN_RIGHT, MARGIN_BOTTOM, MARGIN_LEFT = 22 * MM, 14 * MM, 20 * MM, 14 * MM
USABLE_W = PAGE_W - MARGIN_LEFT - MARGIN_RIGHT
BODY, BOLD = "TaxreportDejaVuSans", "TaxreportDejaVuSans-Bold"
SIZE, HEAD_SIZE, TITLE_SIZE, SMALL = 7.4, 7.6, 13.0, 7.0
LINE = SIZE * 1.25  # one text line inside a row
PAD_X, PAD_Y = 1.2 * MM, 1.0 * MM
INK, MUTED, NEG = (0.122, 0.165, 0.267), (0.357, 0.396, 0.467), (0.643, 0.149, 0.173)
HEAD_FILL, ZEBRA, RULE = (0.910, 0.929, 0.957), (0.969, 0.976, 0.984), (0.835, 0.855, 0.890)
BANNER = (0.690, 0.0, 0.125)


@dataclass(frozen=True)
class Column:
    title: str
    align: str = "left"  # "left" | "right"
    wrap: bool = False  # may be narrowed (its cells then wrap); numbers never wrap
    negative_red: bool = False  # text starting with "-" is drawn in red (a loss)


@dataclass(frozen=True)
class Table:
    """One appendix: ``rows`` are already formatted text (one string per column)."""

    title: str  # "Appendix A: disposals"
    intro: str  # one paragraph under the title on its first page
    columns: tuple[Column, ...]
    rows: Sequence[Sequence[str]]
    totals: Sequence[str] | None = None  # drawn bold after the last row
    empty: str = "Nothing to list."


@dataclass(frozen=True)
class Frame:
    """What every appendix page shows around its table."""

    scope: str  # top right, e.g. "United States · tax year 2024 · USD"
    generated: str  # bottom left
    banner: str = ""  # a SIMULATED banner on every page when set
    first_pdf_page: int = 1  # the PDF page number of the appendices' first page (after the summary)
    pdf_pages: int = 0  # total pages of the whole PDF (0: not shown)


@dataclass
class Layout:
    """Where each row of a table goes: column widths, then per page ``(row index, wrapped cells, height)``
    (``wrapped`` maps a column to its lines when a cell needed more than one; usually ``None``)."""

    table: Table
    widths: list[float]
    pages: list[list[tuple[int, dict[int, list[str]] | None, float]]] = field(default_factory=list)


@lru_cache(maxsize=1)
def _fonts() -> tuple[Any, Any]:
    """Register DejaVu Sans (regular, bold) from matplotlib's bundled fonts, once per process."""
    from importlib.util import find_spec

    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    spec = find_spec("matplotlib")  # its bundled DejaVu fonts, without importing matplotlib
    assert spec is not None and spec.submodule_search_locations
    folder = os.path.join(list(spec.submodule_search_locations)[0], "mpl-data", "fonts", "ttf")
    regular = TTFont(BODY, os.path.join(folder, "DejaVuSans.ttf"))
    bold = TTFont(BOLD, os.path.join(folder, "DejaVuSans-Bold.ttf"))
    pdfmetrics.registerFont(regular)
    pdfmetrics.registerFont(bold)
    return regular, bold


def _width(text: str, font: str, size: float) -> float:
    regular, bold = _fonts()
    return (bold if font == BOLD else regular).stringWidth(text, size)


def _natural_widths(table: Table, *, titles_wrap: bool = False) -> list[float]:
    """Each column's width: its widest cell (measured among the longest few by length) or its title (its
    longest word when ``titles_wrap``), plus padding. The totals row's first cell is its label and spans
    the empty cells after it (not measured)."""
    widths = []
    for c, col in enumerate(table.columns):
        cells = [row[c] for row in table.rows]
        if table.totals is not None and c > 0:
            cells.append(table.totals[c])
        longest = sorted(cells, key=len, reverse=True)[:8]
        body = max((_width(x, BOLD, SIZE) for x in longest), default=0.0)  # bold: the totals row
        words = col.title.split(" ") if titles_wrap else [col.title]
        head = max(_width(word, BOLD, HEAD_SIZE) for word in words)
        widths.append(max(body, head) + 2 * PAD_X)
    return widths


def _fit(table: Table) -> list[float]:
    """Column widths that fill the page: natural widths with the spare room spread over every column; if
    the table is too wide, titles wrap at spaces, then the wrapping columns (accounts, rules) are narrowed:
    first to what nine cells in ten need, then (rarely) down to 40 pt."""
    widths = _natural_widths(table)
    if sum(widths) > USABLE_W:
        widths = _natural_widths(table, titles_wrap=True)
    wrap = [i for i, c in enumerate(table.columns) if c.wrap]
    excess = sum(widths) - USABLE_W
    if excess > 0 and wrap:
        # first down to the width most cells need (nine rows in ten do not wrap), then to 40 pt
        for floors in ([max(40.0, min(widths[i], _common_width(table, i))) for i in wrap], [40.0] * len(wrap)):
            for i, floor in zip(wrap, floors):
                cut = min(excess, max(0.0, widths[i] - floor))
                widths[i] -= cut
                excess -= cut
    elif excess < 0:  # spread the spare room evenly: numbers get air between them
        spare = -excess / len(widths)
        widths = [w + spare for w in widths]
    return widths


def _common_width(table: Table, c: int) -> float:
    """The width (with padding) that nine cells in ten of column ``c`` fit in (distinct texts measured once)."""
    sizes: dict[str, float] = {}
    for row in table.rows:
        text = row[c]
        if text not in sizes:
            sizes[text] = _width(text, BODY, SIZE)
    ordered = sorted(sizes[row[c]] for row in table.rows) if table.rows else [0.0]
    return ordered[int(0.9 * (len(ordered) - 1))] + 2 * PAD_X


def _split(text: str, width: float, font: str, size: float) -> list[str]:
    """``text`` as lines no wider than ``width``: at spaces where possible, else between characters."""
    if _width(text, font, size) <= width:
        return [text]
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if _width(candidate, font, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        for ch in word:  # a word longer than the column: break between characters
            if current and _width(current + ch, font, size) > width:
                lines.append(current)
                current = ""
            current += ch
    if current:
        lines.append(current)
    return lines or [""]


def _head_lines(table: Table, widths: list[float]) -> list[list[str]]:
    return [_split(c.title, w - 2 * PAD_X, BOLD, HEAD_SIZE) for c, w in zip(table.columns, widths)]


def layout(table: Table) -> Layout:
    """Column widths and the rows of each page (pure: no drawing), so the page count is known first."""
    widths = _fit(table)
    out = Layout(table, widths)
    head_h = max(len(x) for x in _head_lines(table, widths)) * HEAD_SIZE * 1.25 + 2 * PAD_Y
    rows = list(table.rows) + ([table.totals] if table.totals is not None else [])
    wrap = [(c, widths[c] - 2 * PAD_X) for c, col in enumerate(table.columns) if col.wrap]
    single = LINE + 2 * PAD_Y
    measured: dict[tuple[str, str], float] = {}  # accounts and rules repeat: measure each text once
    available = PAGE_H - MARGIN_TOP - _intro_height(table) - head_h - MARGIN_BOTTOM  # the first page
    page: list[tuple[int, dict[int, list[str]] | None, float]] = []
    used = 0.0
    for r, row in enumerate(rows):
        wrapped: dict[int, list[str]] | None = None
        height = single
        for c, limit in wrap:
            text = row[c]
            if c == 0 and table.totals is not None and r == len(rows) - 1:
                continue  # the totals label spans
            # a quick bound first: no character of DejaVu Sans is wider than 1.1 em
            if len(text) * SIZE * 1.1 > limit:
                font = BOLD if table.totals is not None and r == len(rows) - 1 else BODY
                size = measured.get((text, font))
                if size is None:
                    size = measured[(text, font)] = _width(text, font, SIZE)
                if size > limit:
                    cell = _split(text, limit, font, SIZE)
                    wrapped = wrapped or {}
                    wrapped[c] = cell
                    height = max(height, len(cell) * LINE + 2 * PAD_Y)
        if page and used + height > available:
            out.pages.append(page)
            page, used = [], 0.0
            available = PAGE_H - MARGIN_TOP - head_h - MARGIN_BOTTOM
        page.append((r, wrapped, height))
        used += height
    if page or not out.pages:
        out.pages.append(page)
    return out


def _intro_height(table: Table) -> float:
    lines = len(_split(table.intro, USABLE_W, BODY, SMALL)) if table.intro else 0
    return TITLE_SIZE * 1.6 + lines * SMALL * 1.35 + 3 * MM


def page_count(table: Table) -> int:
    return len(layout(table).pages)


class _Writer:
    """One page's content: graphics (fills, rules) first, then one text object with every string, handed
    to ``addLiteral`` once. Fonts and colours are only re-set when they change."""

    def __init__(self, canvas: Any, regular: Any, bold: Any) -> None:
        self.canvas = canvas
        self.faces = {BODY: regular, BOLD: bold}
        self.doc = canvas._doc  # reportlab's document: a font's subsets are named per document
        self.names = {BODY: regular.getSubsetInternalName(0, self.doc), BOLD: bold.getSubsetInternalName(0, self.doc)}
        self.graphics: list[str] = []
        self.texts: list[str] = []
        self.state: tuple[str, float] | None = None
        self.color: tuple[float, float, float] | None = None

    def text(self, x: float, y: float, text: str, font: str, size: float, color: tuple[float, float, float],
             align: str = "left") -> None:
        if not text:
            return
        face = self.faces[font]
        if align == "right":
            x -= face.stringWidth(text, size)
        out = self.texts
        if color != self.color:
            out.append("%.3f %.3f %.3f rg" % color)
            self.color = color
        if text.isascii() and text.isprintable():
            if (font, size) != self.state:
                out.append(f"{self.names[font]} {size} Tf")
                self.state = (font, size)
            if "(" in text or ")" in text or "\\" in text:
                text = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            out.append("1 0 0 1 %.2f %.2f Tm (%s) Tj" % (x, y, text))
            return
        out.append("1 0 0 1 %.2f %.2f Tm" % (x, y))
        for subset, chunk in face.splitString(text, self.doc):
            name = face.getSubsetInternalName(subset, self.doc)
            escaped = "".join(chr(b) if 32 <= b < 127 and chr(b) not in "\\()" else f"\\{b:03o}" for b in chunk)
            out.append(f"{name} {size} Tf ({escaped}) Tj")
        self.state = None

    def rect(self, x: float, y: float, w: float, h: float, color: tuple[float, float, float]) -> None:
        self.graphics.append("%.3f %.3f %.3f rg %.2f %.2f %.2f %.2f re f" % (*color, x, y, w, h))

    def line(self, x1: float, y1: float, x2: float, y2: float, width: float, color: tuple[float, float, float]) -> None:
        self.graphics.append("%.3f %.3f %.3f RG %s w %.2f %.2f m %.2f %.2f l S" % (*color, width, x1, y1, x2, y2))

    def flush(self) -> None:
        self.canvas.addLiteral("\n".join([*self.graphics, "BT", *self.texts, "ET"]))


def render(plans: Sequence[Layout], frame: Frame) -> bytes:
    """The appendices' pages (tables laid out by :func:`layout`) as one PDF; each starts on a new page."""
    from reportlab.pdfgen.canvas import Canvas

    regular, bold = _fonts()
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=(PAGE_W, PAGE_H), pageCompression=1, invariant=1)
    canvas.setTitle("taxreport appendices")
    canvas.setCreator("taxreport")
    pdf_page = frame.first_pdf_page
    for plan in plans:
        table = plan.table
        for n, page in enumerate(plan.pages, start=1):
            w = _Writer(canvas, regular, bold)
            _draw_frame(w, table, frame, n, len(plan.pages), pdf_page)
            top = PAGE_H - MARGIN_TOP
            if n == 1:
                top = _draw_intro(w, table)
            _draw_page(w, table, plan.widths, page, top)
            w.flush()
            canvas.showPage()
            pdf_page += 1
    canvas.save()
    return buf.getvalue()


def _draw_frame(w: _Writer, table: Table, frame: Frame, n: int, m: int, pdf_page: int) -> None:
    header_y = PAGE_H - MARGIN_TOP / 2
    w.text(MARGIN_LEFT, header_y, f"{table.title} (page {n:,} of {m:,})", BOLD, HEAD_SIZE, INK)
    w.text(PAGE_W - MARGIN_RIGHT, header_y, frame.scope, BODY, HEAD_SIZE, MUTED, "right")
    footer_y = MARGIN_BOTTOM / 2
    w.text(MARGIN_LEFT, footer_y, frame.generated, BODY, SMALL, MUTED)
    if frame.pdf_pages:
        w.text(PAGE_W - MARGIN_RIGHT, footer_y, f"PDF page {pdf_page:,} of {frame.pdf_pages:,}", BODY, HEAD_SIZE,
               MUTED, "right")
    if frame.banner:
        y = PAGE_H - MARGIN_TOP / 2 - 11
        w.rect(MARGIN_LEFT, y - 2.5, USABLE_W, 10, (1.0, 0.941, 0.941))
        w.text(PAGE_W / 2 + _width(frame.banner, BOLD, HEAD_SIZE) / 2, y, frame.banner, BOLD, HEAD_SIZE, BANNER,
               "right")


def _draw_intro(w: _Writer, table: Table) -> float:
    y = PAGE_H - MARGIN_TOP - TITLE_SIZE
    w.text(MARGIN_LEFT, y, table.title, BOLD, TITLE_SIZE, INK)
    y -= 0.35 * TITLE_SIZE
    w.line(MARGIN_LEFT, y, PAGE_W - MARGIN_RIGHT, y, 0.8, INK)
    y -= 2 * MM
    for line in (_split(table.intro, USABLE_W, BODY, SMALL) if table.intro else []):
        y -= SMALL * 1.35
        w.text(MARGIN_LEFT, y, line, BODY, SMALL, MUTED)
    return PAGE_H - MARGIN_TOP - _intro_height(table)


def _draw_page(w: _Writer, table: Table, widths: list[float],
               page: list[tuple[int, dict[int, list[str]] | None, float]], top: float) -> None:
    xs = [MARGIN_LEFT]
    for width in widths[:-1]:
        xs.append(xs[-1] + width)
    right = MARGIN_LEFT + sum(widths)
    heads = _head_lines(table, widths)
    head_h = max(len(x) for x in heads) * HEAD_SIZE * 1.25 + 2 * PAD_Y
    w.rect(MARGIN_LEFT, top - head_h, right - MARGIN_LEFT, head_h, HEAD_FILL)
    for col, x, width, lines in zip(table.columns, xs, widths, heads):
        y = top - PAD_Y - HEAD_SIZE
        for text in lines:
            tx = x + width - PAD_X if col.align == "right" else x + PAD_X
            w.text(tx, y, text, BOLD, HEAD_SIZE, INK, col.align)
            y -= HEAD_SIZE * 1.25
    y = top - head_h
    w.line(MARGIN_LEFT, y, right, y, 0.8, INK)
    if not table.rows and table.totals is None:
        w.text(MARGIN_LEFT + PAD_X, y - PAD_Y - SIZE, table.empty, BODY, SIZE, MUTED)
        return
    last = len(table.rows)  # index of the totals row, if any
    anchors = [(x + width - PAD_X if col.align == "right" else x + PAD_X, col.align, col.negative_red)
               for col, x, width in zip(table.columns, xs, widths)]
    draw = w.text
    for r, wrapped, height in page:
        is_total = table.totals is not None and r == last
        row = table.totals if is_total else table.rows[r]
        assert row is not None
        if is_total:
            w.line(MARGIN_LEFT, y, right, y, 0.8, INK)
        elif r % 2:
            w.rect(MARGIN_LEFT, y - height, right - MARGIN_LEFT, height, ZEBRA)
        font = BOLD if is_total else BODY
        ty = y - PAD_Y - SIZE
        for c, (tx, align, red) in enumerate(anchors):
            cell = row[c]
            if not cell:
                continue
            color = NEG if red and cell.startswith("-") else INK
            if is_total and c == 0:  # the totals label, left-aligned over the empty cells after it
                draw(MARGIN_LEFT + PAD_X, ty, cell, font, SIZE, color)
            elif wrapped is not None and c in wrapped:
                line_y = ty
                for part in wrapped[c]:
                    draw(tx, line_y, part, font, SIZE, color, align)
                    line_y -= LINE
            else:
                draw(tx, ty, cell, font, SIZE, color, align)
        y -= height
        if not is_total:
            w.line(MARGIN_LEFT, y, right, y, 0.4, RULE)
