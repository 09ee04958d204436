"""Error types. Every user-facing failure is a :class:`TaxreportError` whose message is one clear
line; the CLI prints it and exits non-zero, with no traceback."""

from __future__ import annotations


class TaxreportError(Exception):
    """A failure the user can act on (bad input, missing data, a refused operation)."""

    exit_code = 1


class InputError(TaxreportError):
    """Bad input at a known place: ``file:line: field: reason``."""

    def __init__(self, reason: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.reason, self.file, self.line, self.field = reason, file, line, field
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        elif line is not None:
            where = f"line {line}: "
        what = f"{field}: " if field else ""
        super().__init__(f"{where}{what}{reason}")


class LedgerError(TaxreportError):
    """The ledger refused a write (conflicting duplicate, bad reversal) or failed verification."""


class MissingDataError(TaxreportError):
    """Data needed for a computation is missing (a price, a cost basis); lists every gap."""
