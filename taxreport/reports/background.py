"""Write one export in a forked child process while the parent writes the others (``export all``).

The workbook of a 100,000-trade year is ~860,000 cells, ~10 s of XlsxWriter; the CSVs and the PDF take
about as long again. On a machine with two cores, writing the workbook in a child halves the wall time
of ``export all``. The child is **forked** after the report data is built, so it shares that data with
the parent instead of pickling it (15 MB, ~5 s both ways at 100,000 trades).

Safety: the child runs only the writer it was given (which writes atomically: a ``.partial`` file
renamed at the end), reports success or the error's one-line message through a pipe, and leaves with
``os._exit`` (no atexit handlers, no flushing of buffers inherited from the parent). Where ``fork`` is
not available (Windows, macOS' default), the writer simply runs in the parent when waited for.
"""

from __future__ import annotations

import os
from typing import Any, Callable


class Background:
    """A writer started in a forked child; :meth:`wait` returns its result or raises its error."""

    def __init__(self, writer: Callable[..., Any], *args: Any) -> None:
        import multiprocessing

        self._writer, self._args = writer, args
        self._process: Any = None
        if "fork" not in multiprocessing.get_all_start_methods():
            return
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_child, args=(send, writer, args), daemon=True)
        self._process.start()
        send.close()

    def wait(self) -> Any:
        """The writer's return value; its error raised here as a :class:`taxreport.errors.TaxreportError`."""
        if self._process is None:
            return self._writer(*self._args)
        from taxreport.errors import TaxreportError

        try:
            ok, value = self._receive.recv()
        except EOFError:
            ok, value = False, "the export process ended without a result"
        self._process.join()
        if not ok:
            raise TaxreportError(value)
        return value


def _child(send: Any, writer: Callable[..., Any], args: tuple[Any, ...]) -> None:
    code = 0
    try:
        send.send((True, writer(*args)))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent as one line
        code = 1
        try:
            from taxreport.errors import TaxreportError

            text = str(exc) if isinstance(exc, TaxreportError) else f"{type(exc).__name__}: {exc}"
            send.send((False, (text.splitlines() or [type(exc).__name__])[0]))
        except Exception:  # noqa: BLE001 - the parent then reports that no result came
            pass
    finally:
        send.close()
        os._exit(code)
