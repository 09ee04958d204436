"""CoinTracker CSV export.

Format source: CoinTracker help, "Convert your transaction history to CoinTracker CSV"
(https://support.cointracker.io/hc/en-us/articles/4413071299729-Convert-your-transaction-history-to-CoinTracker-CSV):
"The headers must match the template exactly. All columns must be included. Do not delete or add
columns." Tags from "Transaction category definitions"
(https://support.cointracker.io/hc/en-us/articles/4413049710225-Transaction-category-definitions).

* Header, exactly: ``Date,Received Quantity,Received Currency,Sent Quantity,Sent Currency,Fee Amount,
  Fee Currency,Tag`` (no ``Transaction ID`` column: staketaxcsv's own comment calls it "Not real field").
* Dates in UTC as ``MM/DD/YYYY HH:MM:SS``.
* Amounts positive and exact; the fee in its own columns, not inside Sent Quantity (see :mod:`.txrows`).
* Tags: only ``staking`` (staking reward) is written, the one income tag whose CSV spelling the
  category page shows. An empty tag (a plain trade, send or receive) is always valid, so trades,
  deposits, transfers and own-wallet withdrawals have none. Other income types (airdrop, interest,
  mining…), gifts given or received, donations, lost coins and third-asset fee rebates also get an
  empty tag, and
  :func:`untagged` lists them so the user can set the category in CoinTracker (we do not guess tag
  spellings we could not verify).
* CoinTracker has no description column, so rows of simulated accounts (``--include-simulated``)
  cannot be marked in the file; the command says so (:func:`taxreport.reports.txrows.simulated_note`).
* CoinTracker has no description column: transfers between own accounts are a send row and a
  receive row with the same time, amount and currency, which CoinTracker pairs as a transfer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Sequence

from taxreport.model.events import Event
from taxreport.reports.cells import Num, qty, render_csv, write_csv
from taxreport.reports.txrows import TxRow, tx_rows

HEADER = ["Date", "Received Quantity", "Received Currency", "Sent Quantity", "Sent Currency", "Fee Amount",
          "Fee Currency", "Tag"]

INCOME_TAGS = {"staking": "staking"}


def cointracker_date(moment: datetime) -> str:
    """``moment.strftime("%m/%d/%Y %H:%M:%S")``, cut from ``isoformat()`` (a fifth of the time; one
    call per row of a 100,000-trade export)."""
    if moment.year < 1000:  # strftime does not pad the year to four digits
        return moment.strftime("%m/%d/%Y %H:%M:%S")
    iso = moment.isoformat()
    return f"{iso[5:7]}/{iso[8:10]}/{iso[:4]} {iso[11:19]}"


def tag(row: TxRow) -> str:
    if row.kind == "income":
        return INCOME_TAGS.get(row.income_type or "", "")
    return ""


def needs_manual_tag(row: TxRow) -> bool:
    """Rows whose meaning the CSV cannot carry with a verified tag (income other than staking, gifts
    given or received, donations, lost coins, third-asset fee rebates)."""
    if row.kind == "income":
        return row.income_type not in INCOME_TAGS
    if row.kind == "withdrawal":
        return row.purpose in ("gift", "donation", "lost")
    return row.kind in ("fee-refund", "gift-in")


def to_cells(row: TxRow) -> list[Any]:
    return [Num(cointracker_date(row.time)), Num(qty(row.received_amount)), row.received_asset,
            Num(qty(row.sent_amount)), row.sent_asset, Num(qty(row.fee_amount)), row.fee_asset, tag(row)]


def rows(events: Iterable[Event], *, start: datetime | None = None, end: datetime | None = None,
         accounts: Sequence[str] | None = None) -> list[list[Any]]:
    return [to_cells(r) for r in tx_rows(events, start=start, end=end, accounts=accounts)]


def write(rows: Sequence[TxRow], path: Any) -> int:
    """Write already built rows (:func:`taxreport.reports.txrows.tx_rows`) as the CoinTracker CSV."""
    return write_csv(path, HEADER, [to_cells(r) for r in rows])


def untagged(events: Iterable[Event], **filters: Any) -> list[TxRow]:
    """The rows that need a category set by hand in CoinTracker after import."""
    return [r for r in tx_rows(events, **filters) if needs_manual_tag(r)]


def render(events: Iterable[Event], **filters: Any) -> str:
    return render_csv(HEADER, rows(events, **filters))


def export(events: Iterable[Event], path: Any, **filters: Any) -> int:
    """Write the CoinTracker CSV to ``path``; return the number of rows."""
    return write_csv(path, HEADER, rows(events, **filters))
