"""The times taxreport writes into what it makes, each read in one place.

* :func:`generation_time`: the time a *document* says it was made: the PDF's "Generated … UTC by
  taxreport" line, the XLSX workbook's created/modified properties, the backtest charts' SVG date.
  It is the current time, unless ``SOURCE_DATE_EPOCH`` is set. That variable is specified by
  reproducible-builds.org ("SOURCE_DATE_EPOCH", revision 1.1,
  https://reproducible-builds.org/specs/source-date-epoch/): "Build processes MUST use this variable for
  embedded timestamps in place of the 'current' date and time". Its value "MUST be an ASCII
  representation of an integer with no fractional component, identical to the output format of
  `date +%s`", the seconds "since 01 Jan 1970 00:00:00 UTC"; and "If the value is malformed, the build
  process SHOULD exit with a non-zero error code": a malformed value is a one-line error naming the
  variable, never a quiet fall back to the clock (which would hand back the very difference the variable
  exists to remove). An empty value counts as unset. With it, the same ledger gives the same report
  bytes at any time, on any machine (``make demo`` sets it).

* :func:`recorded_at`: the time the *ledger* records a write at (each row's ``recorded_at``, which is
  hashed into the audit chain). A ledger is a record of facts, not a document rebuilt from them, so it
  does NOT follow ``SOURCE_DATE_EPOCH`` (a shell that sets it for builds, as Nix shells do, must not
  date a real ledger's rows to 1980). Only the explicit ``TAXREPORT_RECORDED_AT`` (an ISO 8601 time with
  its zone, e.g. ``2025-01-01T00:00:00Z``) pins it, for a demo or a fixture whose audit trail must come
  out the same on every run; never set it for a ledger of real records.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone

from taxreport.errors import TaxreportError

SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"
RECORDED_AT = "TAXREPORT_RECORDED_AT"
_INTEGER = re.compile(r"-?[0-9]+")  # "an ASCII representation of an integer with no fractional component"


def source_date_epoch() -> datetime | None:
    """``SOURCE_DATE_EPOCH`` as a UTC time, or None when it is unset or empty; malformed: an error."""
    raw = os.environ.get(SOURCE_DATE_EPOCH, "")
    if raw == "":
        return None
    if not _INTEGER.fullmatch(raw):
        raise TaxreportError(f"{SOURCE_DATE_EPOCH}={raw[:40]!r} is not a time: it must be an integer number of "
                             "seconds since 1970-01-01 00:00:00 UTC (as `date +%s` prints), or unset")
    try:
        return datetime.fromtimestamp(int(raw), timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise TaxreportError(f"{SOURCE_DATE_EPOCH}={raw[:40]!r} is out of the range of times") from None


def generation_time() -> datetime:
    """The time a document says it was generated: ``SOURCE_DATE_EPOCH`` when set, else now (UTC)."""
    return source_date_epoch() or datetime.now(timezone.utc)


def recorded_at() -> datetime | None:
    """``TAXREPORT_RECORDED_AT`` (the time pinned for ledger writes) in UTC, or None: the ledger then
    records the current time."""
    raw = os.environ.get(RECORDED_AT, "")
    if raw == "":
        return None
    from taxreport.model.events import parse_time

    try:
        return parse_time(raw, what=RECORDED_AT)
    except ValueError:  # naive or not a time: never guessed
        raise TaxreportError(f"{RECORDED_AT}={raw[:40]!r} is not an ISO 8601 time with its zone (e.g. "
                             "2025-01-01T00:00:00Z); unset it to record the current time") from None


def recording_time() -> datetime:
    """The time of a ledger write: ``TAXREPORT_RECORDED_AT`` when set, else now (UTC). The time of the events
    that exist only as a record of an act (``ledger basis``, ``ledger link``, ``ledger reverse``, a writer's
    declaration of a simulated account: "given now"), as the store's ``recorded_at`` is
    (:mod:`taxreport.ledger.store`)."""
    return recorded_at() or datetime.now(timezone.utc)


__all__ = ["SOURCE_DATE_EPOCH", "RECORDED_AT", "source_date_epoch", "generation_time", "recorded_at",
           "recording_time"]
