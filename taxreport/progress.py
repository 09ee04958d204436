"""Progress of long work (bulk appends, verifying or loading a large ledger, imports, exports…).

Core code reports progress without knowing who shows it::

    with progress.task("Verifying the ledger", total=n) as bar:
        for chunk in chunks:
            ...
            bar.advance(len(chunk))

Nothing is shown unless a front end installed a reporter with :func:`reporting` (the CLI installs a rich
progress bar on a terminal only, see :mod:`taxreport.cli.progress`); otherwise a task costs one context
variable lookup. Tasks smaller than :data:`MIN_TOTAL` are not shown (no flicker on small ledgers).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, Protocol, runtime_checkable

MIN_TOTAL = 5000


class Task(Protocol):
    def advance(self, amount: int = 1) -> None: ...


class Reporter(Protocol):
    def start(self, label: str, total: int | None) -> Task: ...

    def finish(self, task: Task) -> None: ...


@runtime_checkable
class Suspendable(Protocol):
    """A reporter whose display runs a thread of its own (rich's refresher): :func:`suspended` stops it."""

    def suspend(self) -> None: ...

    def resume(self) -> None: ...


class _Silent:
    def advance(self, amount: int = 1) -> None:
        return None


SILENT: Task = _Silent()
_reporter: ContextVar[Reporter | None] = ContextVar("taxreport_progress", default=None)


@contextmanager
def task(label: str, total: int | None = None, *, min_total: int | None = None) -> Iterator[Task]:
    """A unit of long work of ``total`` steps (None: unknown); shown only when a reporter is installed and
    ``total`` is at least ``min_total`` (default :data:`MIN_TOTAL`)."""
    reporter = _reporter.get()
    if reporter is None or (total is not None and total < (MIN_TOTAL if min_total is None else min_total)):
        yield SILENT
        return
    handle = reporter.start(label, total)
    try:
        yield handle
    finally:
        reporter.finish(handle)


@contextmanager
def step(label: str, size: int) -> Iterator[Task]:
    """Long work whose steps are not counted (a spinner with the time elapsed), shown only when it works
    through at least :data:`MIN_TOTAL` items (``size``: e.g. the ledger's rows), so small jobs never flicker."""
    if size < MIN_TOTAL:
        yield SILENT
        return
    with task(label, None) as handle:
        yield handle


@contextmanager
def reporting(reporter: Reporter | None) -> Iterator[None]:
    """Show every :func:`task` started inside this block through ``reporter`` (None: show nothing)."""
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)


@contextmanager
def suspended() -> Iterator[None]:
    """No display thread runs inside this block: the reporter's own thread (a terminal's bar refresher) is stopped
    and joined before, and the display started again after. For ``os.fork`` (the derived cache's writer child,
    taxreport/ledger/derived.py): a lock another thread holds at the fork stays held in the child for ever, so a
    process forks only with no other thread; without this block a user watching a progress bar on a terminal
    would never get the second core's help that a pipe or a file gets."""
    reporter = _reporter.get()
    if not isinstance(reporter, Suspendable):
        yield
        return
    reporter.suspend()
    try:
        yield
    finally:
        reporter.resume()


def shown() -> bool:
    """Whether a front end installed a reporter (:func:`reporting`), so that a :func:`task` may be shown: work done
    only to size a bar (e.g. counting a file's lines before an import reads it) is skipped when nothing is shown."""
    return _reporter.get() is not None
