"""OKX CSV history importer: every known export variant (trading T0–T4, funding F1/F1'/F2), detected
by header row, parsed exactly, checked against OKX's own balance columns, and written idempotently.

Entry points: :func:`parse_okx_file` (pure: a file -> :class:`OkxBatch`, nothing written) and
:func:`import_okx_file` (parse, set aside fills the rebalancer already recorded, append in one
transaction). Layout notes and sources: README.md ("Importing OKX history").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from taxreport.importers.okx.common import OkxBatch
from taxreport.importers.okx.detect import (
    DEFAULT_ACCOUNT,
    VARIANTS,
    detect,
    parse_okx_file,
)
from taxreport.importers.okx.known import rebalancer_index, split_known

ACTOR = "importer:okx"

__all__ = ["ACTOR", "DEFAULT_ACCOUNT", "VARIANTS", "OkxBatch", "OkxImportSummary", "detect",
           "import_okx_file", "parse_okx_file"]


@dataclass(frozen=True)
class OkxImportSummary:
    path: str
    variant: str
    time_zone: str
    rows: int
    added: int
    duplicates: int
    ignored: list[tuple[str, str]]
    already_recorded: list[tuple[str, str]]
    rounding: list[tuple[str, str]]  # rows where OKX's 8-decimal rounding differs by ≤ 1e-8
    gaps: list[tuple[str, str]]  # breaks in OKX's own running-balance chain
    notes: list[str]


def import_okx_file(ledger, path: str, *, account: str = DEFAULT_ACCOUNT,  # noqa: ANN001
                    zone_if_none: tuple[tzinfo, str] | None = None) -> OkxImportSummary:
    """Parse ``path`` whole (refused whole on any bad row), skip fills the rebalancer recorded, and
    append the rest in one transaction; re-importing adds nothing (stable natural keys). ``zone_if_none``:
    the Time column's zone when the file names none (``--time-zone``)."""
    batch = parse_okx_file(path, account=account, zone_if_none=zone_if_none)
    split_known(batch, rebalancer_index(ledger, account))
    result = ledger.append(batch.events, actor=ACTOR, reason=f"import okx {batch.variant} {path}",
                           origins=batch.origins)
    return OkxImportSummary(path, batch.variant, batch.zone_label, batch.rows, result.added_count,
                            result.duplicates, list(batch.ignored), list(batch.already_recorded),
                            list(batch.rounding), list(batch.gaps), list(batch.notes))
