"""Rich progress bars for the CLI, on a terminal only (never in pipes, files or ``--format json`` output:
bars go to stderr and only when stderr is a terminal).

The root command installs :func:`terminal_progress` once; core code reports through
:func:`taxreport.progress.task` and needs no CLI import. ``TAXREPORT_PROGRESS=0`` turns bars off,
``=1`` forces them (tests).
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator

from taxreport import progress


class _RichTask:
    def __init__(self, bar: Any, task_id: Any) -> None:
        self.bar, self.task_id = bar, task_id

    def advance(self, amount: int = 1) -> None:
        self.bar.advance(self.task_id, amount)


class RichReporter:
    """One rich ``Progress`` display; each task is a line, removed when it finishes."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self.bar: Any = None
        self.open = 0

    def start(self, label: str, total: int | None) -> _RichTask:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        if self.bar is None:
            self.bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                                console=self.console, transient=True)
            self.bar.start()
        self.open += 1
        return _RichTask(self.bar, self.bar.add_task(label, total=total))

    def suspend(self) -> None:
        """Stop the display and wait for its refresh thread to end (:func:`taxreport.progress.suspended`)."""
        if self.bar is None:
            return
        thread = self.bar.live._refresh_thread  # rich sets it on start; stop() only signals it, it is joined here
        self.bar.stop()
        if thread is not None:
            thread.join()

    def resume(self) -> None:
        """Start the display stopped by :meth:`suspend` again (its tasks and their times are kept)."""
        if self.bar is not None:
            self.bar.start()

    def finish(self, task: progress.Task) -> None:
        if isinstance(task, _RichTask) and self.bar is not None:
            self.bar.remove_task(task.task_id)
            self.open -= 1
            if self.open == 0:
                self.bar.stop()
                self.bar = None


def wanted(stream_is_terminal: bool) -> bool:
    setting = os.environ.get("TAXREPORT_PROGRESS", "").strip()
    if setting in ("0", "1"):
        return setting == "1"
    return stream_is_terminal


@contextmanager
def terminal_progress() -> Iterator[None]:
    """Install a rich reporter on stderr when it is a terminal (see the module docstring)."""
    if not wanted(sys.stderr.isatty()):
        yield
        return
    from rich.console import Console

    with progress.reporting(RichReporter(Console(stderr=True, force_terminal=True))):
        yield
