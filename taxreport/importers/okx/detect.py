"""Which OKX export a file is, recognised by its header row (BittyTax style: parsers are keyed by
their exact header and versioned), and the one entry point :func:`parse_okx_file`.

The header is compared after removing UTF-8 BOMs (T1 has one on every cell), surrounding spaces and
trailing empty cells, case-insensitively. The 2023+ layouts (T2–T5, F1, F2) may carry extra
*valuation* columns after their own (``Amount-EUR`` in funding exports, ``Filled_price-USD`` …): a
column named ``<words>-<CURRENCY>`` after a known header is accepted, listed in the summary as not
used (taxreport values every movement from its own rates), and never read. A header that matches no
variant is refused with the header found and every header known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import tzinfo
from typing import Callable

from taxreport.errors import InputError
from taxreport.importers.okx.bills import T2_COLUMNS, T34_COLUMNS, parse_bills
from taxreport.importers.okx.common import OkxBatch, OkxFile, read_okx_file
from taxreport.importers.okx.funding import parse_funding
from taxreport.importers.okx.legacy import parse_t0, parse_t1

DEFAULT_ACCOUNT = "okx:main"
VALUATION_COLUMN = re.compile(r"^[A-Za-z][A-Za-z_ ]*-[A-Z]{3,5}$")
T4_HEADER = ("id", "Order id", "Time", "Trade Type", "Symbol", "Action", "Amount", "Trading Unit",
             "Filled Price", "PnL", "Fee", "Fee Unit", "Position Change", "Position Balance",
             "Balance Change", "Balance", "Balance Unit")


@dataclass(frozen=True)
class Variant:
    code: str
    name: str
    header: tuple[str, ...]
    parse: Callable[[OkxFile, str], OkxBatch]

    @property
    def header_text(self) -> str:
        return ",".join(self.header)


VARIANTS: tuple[Variant, ...] = (
    Variant("T0", "OKEx trade history (≤2019)", ("time", "type", "size", "balance", "fee", "currency"),
            parse_t0),
    Variant("T1", "OKEx spot trade history (~2020)",
            ("Order ID", "Trade ID", "Trade Time", "Pairs", "Amount", "Price", "Total", "taker/maker", "Fee",
             "unit"), parse_t1),
    Variant("T2", "OKX trading account history (2023-03)",
            ("id", "Order id", "Time", "Trade Type", "Instrument", "Type", "Amount", "Unit", "PL", "Fee",
             "Position Change", "Position Balance", "Balance Change", "Balance", "Unit"),
            lambda f, account: parse_bills(f, "T2", T2_COLUMNS, account)),
    Variant("T3", "OKX trading history (2023-07…2023-11)",
            ("id", "Order id", "Time", "Trade Type", "Symbol", "Action", "Amount", "Trading Unit",
             "Filled Price", "Filled Price Unit", "PnL", "Fee", "Fee Unit", "Position Change",
             "Position Balance", "Position Unit", "Balance Change", "Balance", "Balance Unit"),
            lambda f, account: parse_bills(f, "T3", T34_COLUMNS, account)),
    Variant("T4", "OKX trading history (2025)", T4_HEADER,
            lambda f, account: parse_bills(f, "T4", T34_COLUMNS, account)),
    Variant("T5", "OKX trading history (2025-26, 22 columns: T4 + USD valuations)",
            (*T4_HEADER, "Filled_price-USD", "Pnl-USD", "Fee-USD", "Balance-USD", "Balance_change-USD"),
            lambda f, account: parse_bills(f, "T5", T34_COLUMNS, account)),
    Variant("F1", "OKX funding history (2023)",
            ("id", "Time", "Type", "Amount", "Before Balance", "After Balance", "Fee", "Symbol"),
            lambda f, account: parse_funding(f, "F1", account)),
    Variant("F1'", "OKX funding history (2023, empty second column)",
            ("id", "", "Time", "Type", "Amount", "Before Balance", "After Balance", "Fee", "Symbol"),
            lambda f, account: parse_funding(f, "F1'", account)),
    Variant("F2", "OKX funding history (2025)",
            ("id", "Time", "Type", "Amount", "Before Balance", "After Balance", "Symbol"),
            lambda f, account: parse_funding(f, "F2", account)),
)


EXTRA_COLUMNS_OK = ("T2", "T3", "T4", "T5", "F1", "F1'", "F2")


def detect(f: OkxFile) -> Variant:
    found = tuple(h.lower() for h in f.header)
    for variant in VARIANTS:
        if found == tuple(h.lower() for h in variant.header):
            return variant
    candidates = sorted((v for v in VARIANTS if v.code in EXTRA_COLUMNS_OK), key=lambda v: -len(v.header))
    for variant in candidates:
        n = len(variant.header)
        if found[:n] == tuple(h.lower() for h in variant.header) and all(
                VALUATION_COLUMN.match(h) for h in f.header[n:]):
            return variant
    known = "; ".join(f"{v.code} ({v.name}): {v.header_text}" for v in VARIANTS)
    raise InputError(f"header {','.join(f.header)!r} is not an OKX export this version knows. Known "
                     f"headers: {known}", file=f.path, line=f.header_line)


def parse_okx_file(path: str, *, account: str = DEFAULT_ACCOUNT,
                   zone_if_none: tuple[tzinfo, str] | None = None) -> OkxBatch:
    """Parse one OKX export into events (nothing is written). Raises :class:`InputError` /
    :class:`~taxreport.importers.base.ImportRefused` for a file it cannot take whole. ``zone_if_none``: the
    zone of the Time column when the file names none (:func:`~taxreport.importers.okx.common.read_okx_file`)."""
    f = read_okx_file(path, zone_if_none)
    variant = detect(f)
    batch = variant.parse(f, account)
    extra = f.header[len(variant.header):]
    if extra:
        batch.notes.insert(0, f"columns not used: {', '.join(extra)} (OKX's own valuations; taxreport values "
                              "movements from its rates)")
    return batch
