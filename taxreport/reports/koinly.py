"""Koinly "Universal" CSV export.

Format source: Koinly help, "How to create a custom CSV file with your data"
(https://support.koinly.io/en/articles/9489976-how-to-create-a-custom-csv-file-with-your-data; the
Universal template), cross-checked with working exporters (hodgerpodger/staketaxcsv
``ExporterTypes.KOINLY_FIELDS``). Tag names from Koinly "What are tags"
(https://support.koinly.io/en/articles/9490023-what-are-tags; older "What are labels",
https://help.koinly.io/en/articles/3663453-what-are-labels); the CSV column is still ``Label``.

* Header, exactly: ``Date,Sent Amount,Sent Currency,Received Amount,Received Currency,Fee Amount,
  Fee Currency,Net Worth Amount,Net Worth Currency,Label,Description,TxHash``.
* Dates in UTC as ``YYYY-MM-DD HH:MM:SS UTC`` ("these must be in UTC even if you live in another
  timezone").
* Amounts are positive and exact; the fee is in its own columns and not inside Sent Amount.
* Labels: income ``Reward`` (staking, rewards), ``Airdrop``, ``Mining``, ``Fork``,
  ``Lending interest``, ``Income`` (other), ``Fee refund`` (rebates); withdrawals ``Gift``,
  ``Donation``, ``Lost``; trades, deposits, transfers and own-wallet withdrawals have no label.
  A ``spend`` withdrawal has no label either: Koinly treats an unmatched withdrawal as a disposal.
* A **gift received** has no label: Koinly documents ``Gift`` only as a *withdrawal* tag ("Withdrawals
  can be tagged as Donation, Gift, Lost, Cost…"); its deposit tags are income, cashback, PNL, loan,
  liquidity and pool tags, and "without any tags, deposits are considered acquisitions of an asset
  (equivalent to 'bought at market price')" ("What are tags"). So the row is a plain deposit whose
  description says ``gift received`` and carries the donor's basis when known (taxreport's importer
  reads both back); :func:`untagged_gifts` lists them so the user can set the cost basis in Koinly.
* ``--include-simulated``: rows of simulated accounts have a Description starting ``SIMULATED:``.
* Transfers between own accounts: a withdrawal row and a deposit row with the same TxHash
  (see :mod:`.txrows`). Import one file per Koinly wallet with ``--account``, or all accounts in one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Sequence

from taxreport.model.events import Event
from taxreport.reports.cells import Num, qty, render_csv, write_csv
from taxreport.reports.txrows import TxRow, tx_rows

HEADER = ["Date", "Sent Amount", "Sent Currency", "Received Amount", "Received Currency", "Fee Amount",
          "Fee Currency", "Net Worth Amount", "Net Worth Currency", "Label", "Description", "TxHash"]

INCOME_LABELS = {"staking": "Reward", "reward": "Reward", "airdrop": "Airdrop", "mining": "Mining",
                 "fork": "Fork", "interest": "Lending interest", "rebate": "Fee refund", "other": "Income"}
WITHDRAWAL_LABELS = {"own-wallet": "", "spend": "", "gift": "Gift", "donation": "Donation", "lost": "Lost"}


def koinly_date(moment: datetime) -> str:
    """``moment.strftime("%Y-%m-%d %H:%M:%S UTC")``, cut from ``isoformat()`` (a fifth of the time; one
    call per row of a 100,000-trade export)."""
    if moment.year < 1000:  # strftime does not pad the year to four digits
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    iso = moment.isoformat()
    return f"{iso[:10]} {iso[11:19]} UTC"


def label(row: TxRow) -> str:
    if row.kind == "income":
        return INCOME_LABELS[row.income_type or "other"]
    if row.kind == "withdrawal":
        return WITHDRAWAL_LABELS[row.purpose or "own-wallet"]
    if row.kind == "fee-refund":
        return "Fee refund"
    return ""


def to_cells(row: TxRow) -> list[Any]:
    return [Num(koinly_date(row.time)), Num(qty(row.sent_amount)), row.sent_asset,
            Num(qty(row.received_amount)), row.received_asset, Num(qty(row.fee_amount)), row.fee_asset,
            Num(qty(row.value)), row.value_currency, label(row), row.description, row.txhash]


def rows(events: Iterable[Event], *, start: datetime | None = None, end: datetime | None = None,
         accounts: Sequence[str] | None = None) -> list[list[Any]]:
    return [to_cells(r) for r in tx_rows(events, start=start, end=end, accounts=accounts)]


def untagged_gifts(rows: Sequence[TxRow]) -> list[TxRow]:
    """Received gifts: written as plain deposits (Koinly has no tag for them; see the module docstring)."""
    return [r for r in rows if r.kind == "gift-in"]


def write(rows: Sequence[TxRow], path: Any) -> int:
    """Write already built rows (:func:`taxreport.reports.txrows.tx_rows`) as the Koinly CSV."""
    return write_csv(path, HEADER, [to_cells(r) for r in rows])


def render(events: Iterable[Event], **filters: Any) -> str:
    return render_csv(HEADER, rows(events, **filters))


def export(events: Iterable[Event], path: Any, **filters: Any) -> int:
    """Write the Koinly CSV to ``path``; return the number of rows."""
    return write_csv(path, HEADER, rows(events, **filters))
