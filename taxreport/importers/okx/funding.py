"""OKX funding-account history ("bills"): variants F1 (2023, with ``Fee``), F1' (F1 with an empty
second column) and F2 (2025, no ``Fee``) of ``/shared/REFERENCE.md`` §3b.

Every row is checked against its balances: ``After Balance − Before Balance`` must be ``Amount``
(the fee, if any, is inside the amount) or ``Amount − Fee`` (the fee is on top); anything else
refuses the file. ``Type`` values:

=========================================  ====================================================
``Deposit``, ``Received``                  :class:`Deposit` (net quantity that arrived)
``Withdrawal`` (negative ``Amount``)       :class:`Withdrawal` (quantity sent, fee on top)
``Staking Yield``                          :class:`Income` ``income_type='staking'``
``Fee rebate``                             :class:`Income` ``income_type='rebate'``: OKX pays it
                                           as new coins, so it is an acquisition at market value
                                           (BittyTax books it as a gift received)
``Stake``, ``Redeem staking``, ``Savings   ignored with the reason: moves between the user's own
subscription``/``redemption``, ``To``/     OKX accounts or products, not disposals
``From unified trading account``,
``Transfer``
=========================================  ====================================================

Any other ``Type`` refuses the file naming it (a new kind of row is never guessed).
``external_id`` is ``funding:<id>``: the bill id, the same in every export.
"""

from __future__ import annotations

from decimal import Decimal

from taxreport.errors import InputError
from taxreport.importers.base import ImportRefused
from taxreport.importers.okx.common import OkxBatch, OkxFile, Row, RowError, make_rows, to_input_error
from taxreport.model.events import Deposit, Event, Income, Withdrawal

ZERO = Decimal(0)

DEPOSIT_TYPES = ("deposit", "received")
WITHDRAWAL_TYPES = ("withdrawal",)
INCOME_TYPES = {"staking yield": "staking", "fee rebate": "rebate"}
INTERNAL_TYPES = {
    "stake": "staking subscription (coins locked in OKX staking, still the user's)",
    "redeem staking": "staking redemption (coins back from OKX staking)",
    "savings subscription": "savings subscription (coins moved into OKX savings, still the user's)",
    "savings redemption": "savings redemption (coins back from OKX savings)",
    "to unified trading account": "internal transfer to the user's OKX trading account",
    "from unified trading account": "internal transfer from the user's OKX trading account",
    "transfer": "internal transfer between the user's OKX accounts",
}
KNOWN_TYPES = [*DEPOSIT_TYPES, *WITHDRAWAL_TYPES, *INCOME_TYPES, *INTERNAL_TYPES]


def parse_funding(f: OkxFile, variant: str, account: str) -> OkxBatch:
    problems: list[InputError] = []
    batch = OkxBatch(f.path, variant, f.zone_label, rows=len(f.rows))
    for row in make_rows(f, problems):
        try:
            event, ignored = _row(row, account)
            if event is not None:
                batch.add(event, row.origin)
            else:
                batch.ignored.append((row.origin, f"{row.text('Type')}: {ignored}; not a disposal"))
        except RowError as exc:
            problems.append(to_input_error(f.path, exc))
    if problems:
        raise ImportRefused(f.path, problems)
    return batch


def _row(row: Row, account: str) -> tuple[Event | None, str]:
    kind = row.text("Type")
    key = kind.lower()
    if key not in KNOWN_TYPES:
        raise row.error("Type", f"{kind!r} is not a funding row type this importer knows "
                                f"({', '.join(t.title() for t in KNOWN_TYPES)})")
    when = row.time("Time")
    asset = row.text("Symbol").upper()
    amount = row.dec("Amount")
    before, after = row.dec("Before Balance"), row.dec("After Balance")
    fee = abs(row.dec("Fee")) if "Fee" in row.cols else ZERO
    change = after - before
    if change == amount:
        fee_on_top = False
    elif fee and change == amount - fee:
        fee_on_top = True
    else:
        raise row.error("After Balance", f"After − Before Balance is {change} but Amount is {amount}"
                        + (f" and Fee {fee}" if fee else ""))
    if key in INTERNAL_TYPES:
        return None, INTERNAL_TYPES[key]
    external_id = "funding:" + row.text("id")
    try:
        if key in WITHDRAWAL_TYPES:
            if amount >= 0:
                raise row.error("Amount", f"a withdrawal must be negative, got {amount}")
            sent = -amount if fee_on_top else -amount - fee
            return Withdrawal(time=when, source="okx", external_id=external_id, account=account,
                              asset=asset, quantity=sent, fee=fee), ""
        if amount <= 0:
            raise row.error("Amount", f"a {kind} must be positive, got {amount}")
        received = amount - fee if fee_on_top else amount
        if key in DEPOSIT_TYPES:
            return Deposit(time=when, source="okx", external_id=external_id, account=account,
                           asset=asset, quantity=received), ""
        return Income(time=when, source="okx", external_id=external_id, account=account, asset=asset,
                      quantity=received, income_type=INCOME_TYPES[key]), ""
    except ValueError as exc:
        field, _, reason = str(exc).partition(": ")
        raise row.error(None, f"{field}: {reason}" if reason else str(exc)) from None
