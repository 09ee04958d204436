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
``Deposit yield``                          :class:`Income` ``income_type='interest'`` (Simple
                                           Earn interest paid into the funding account)
``Simple Earn subscription`` /             :class:`Transfer` ``account`` -> ``account:earn`` /
``Simple Earn redemption``                 ``account:earn`` -> ``account``: coins moved into and
                                           out of OKX Simple Earn stay the user's (lots move with
                                           their dates and cost); the Earn balance is in neither
                                           export, so it gets its own ledger account
``Stake``, ``Redeem staking``, ``Savings   ignored with the reason: moves between the user's own
subscription``/``redemption``, ``To``/     OKX accounts or products, not disposals
``From unified trading account``,
``Transfer``, ``Crypto dust auto-transfer
in``/``out``
=========================================  ====================================================

``Crypto dust auto-transfer in``/``out``: OKX's help page "Rules for the periodic transfer of
untradable crypto dust from Trading account to Funding account": "OKX periodically transfers
untradable crypto dust from your Trading account to your Funding account. These transfers won't affect
the total amount of assets in your accounts." Both OKX accounts are the one ledger ``account`` (as
``To unified trading account``), so the move nets to zero there and is listed as ignored; a
:class:`Transfer` needs two different ledger accounts.

Any other ``Type`` refuses the file naming it (a new kind of row is never guessed).
``external_id`` is ``funding:<id>``: the bill id, the same in every export.

Checks: ``After Balance − Before Balance`` must be ``Amount`` (or ``Amount − Fee``) within OKX's
8-decimal rounding (:data:`~taxreport.importers.okx.common.ROUNDING`, reported in ``batch.rounding``);
per asset, in bill-id order, each row's ``Before Balance`` must be the previous row's ``After
Balance``: a break (a row missing from the export, e.g. a real F2 withdrawal that starts 0.0001 BTC
below the deposit before it) is reported in ``batch.gaps``, not refused.
"""

from __future__ import annotations

from decimal import Decimal

from taxreport.errors import InputError
from taxreport.importers.base import ImportRefused
from taxreport.importers.okx.common import (
    ROUNDING,
    BalanceStep,
    OkxBatch,
    OkxFile,
    Row,
    RowError,
    check_chain,
    make_rows,
    row_order,
    to_input_error,
)
from taxreport.model.events import Deposit, Event, Income, Transfer, Withdrawal

ZERO = Decimal(0)

DEPOSIT_TYPES = ("deposit", "received")
WITHDRAWAL_TYPES = ("withdrawal",)
INCOME_TYPES = {"staking yield": "staking", "fee rebate": "rebate", "deposit yield": "interest"}
EARN_TYPES = {"simple earn subscription": "in", "simple earn redemption": "out"}
EARN_SUFFIX = ":earn"
INTERNAL_TYPES = {
    "stake": "staking subscription (coins locked in OKX staking, still the user's)",
    "redeem staking": "staking redemption (coins back from OKX staking)",
    "savings subscription": "savings subscription (coins moved into OKX savings, still the user's)",
    "savings redemption": "savings redemption (coins back from OKX savings)",
    "to unified trading account": "internal transfer to the user's OKX trading account",
    "from unified trading account": "internal transfer from the user's OKX trading account",
    "transfer": "internal transfer between the user's OKX accounts",
    "crypto dust auto-transfer in": "crypto dust OKX moved from the user's trading account to the funding "
                                    "account (same ledger account)",
    "crypto dust auto-transfer out": "crypto dust OKX moved from the user's trading account to the funding "
                                     "account (same ledger account)",
}
KNOWN_TYPES = [*DEPOSIT_TYPES, *WITHDRAWAL_TYPES, *INCOME_TYPES, *EARN_TYPES, *INTERNAL_TYPES]


def parse_funding(f: OkxFile, variant: str, account: str) -> OkxBatch:
    problems: list[InputError] = []
    batch = OkxBatch(f.path, variant, f.zone_label, rows=len(f.rows))
    steps: list[BalanceStep] = []
    earn: dict[str, Decimal] = {}
    for row in make_rows(f, problems):
        try:
            event, ignored = _row(row, account, batch, steps)
            if event is not None:
                batch.add(event, row.origin)
                if isinstance(event, Transfer):
                    sign = 1 if event.to_account.endswith(EARN_SUFFIX) else -1
                    earn[event.asset] = earn.get(event.asset, ZERO) + sign * event.quantity
            else:
                batch.ignored.append((row.origin, f"{row.text('Type')}: {ignored}; not a disposal"))
        except RowError as exc:
            problems.append(to_input_error(f.path, exc))
    if problems:
        raise ImportRefused(f.path, problems)
    check_chain(steps, batch)
    # OKX lists the newest row first: write in time order (then bill-id order), as the ledger reads
    order = {step.origin: step.order for step in steps}
    pairs = sorted(zip(batch.events, batch.origins), key=lambda p: (p[0].time, order[p[1]]))
    batch.events, batch.origins = [e for e, _ in pairs], [o for _, o in pairs]
    for asset, net in sorted(earn.items()):
        if net < 0:
            batch.notes.append(f"{asset}: {-net} more redeemed from Simple Earn than subscribed in this file "
                               f"(account {account}{EARN_SUFFIX} goes below zero): interest earned inside "
                               "Simple Earn, or a subscription before the file starts; enter it as income")
    return batch


def _row(row: Row, account: str, batch: OkxBatch, steps: list[BalanceStep]) -> tuple[Event | None, str]:
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
    if abs(change - amount) <= ROUNDING:
        fee_on_top, expected = False, amount
    elif fee and abs(change - (amount - fee)) <= ROUNDING:
        fee_on_top, expected = True, amount - fee
    else:  # quantities below come from the balance change, so ledger balances equal OKX's
        raise row.error("After Balance", f"After − Before Balance is {change} but Amount is {amount}"
                        + (f" and Fee {fee}" if fee else ""))
    if change != expected:
        detail = (f"{asset}: After − Before Balance is {change}, Amount{' − Fee' if fee_on_top else ''} is "
                  f"{expected}: differ by {change - expected:+} (OKX's 8-decimal rounding; the balance change "
                  "is kept)")
        batch.rounding.append((row.origin, detail))
    steps.append(BalanceStep(row.origin, row.line, row_order(row.text("id"), when, row.line), asset, change,
                             after, before))
    if key in INTERNAL_TYPES:
        return None, INTERNAL_TYPES[key]
    external_id = "funding:" + row.text("id")
    try:
        if key in EARN_TYPES:
            into = EARN_TYPES[key] == "in"
            if (amount < 0) != into or amount == 0:
                raise row.error("Amount", f"a {kind} must be {'negative' if into else 'positive'}, got {amount}")
            earn_account = account + EARN_SUFFIX
            return Transfer(time=when, source="okx", external_id=external_id,
                            from_account=account if into else earn_account,
                            to_account=earn_account if into else account, asset=asset, quantity=abs(change),
                            note=kind), ""
        if key in WITHDRAWAL_TYPES:
            if amount >= 0:
                raise row.error("Amount", f"a withdrawal must be negative, got {amount}")
            sent = -change - fee  # the fee (on top or inside Amount) leaves the account too
            return Withdrawal(time=when, source="okx", external_id=external_id, account=account,
                              asset=asset, quantity=sent, fee=fee), ""
        if amount <= 0:
            raise row.error("Amount", f"a {kind} must be positive, got {amount}")
        received = change  # Amount − Fee when the fee is on top
        if key in DEPOSIT_TYPES:
            return Deposit(time=when, source="okx", external_id=external_id, account=account,
                           asset=asset, quantity=received), ""
        return Income(time=when, source="okx", external_id=external_id, account=account, asset=asset,
                      quantity=received, income_type=INCOME_TYPES[key]), ""
    except ValueError as exc:
        field, _, reason = str(exc).partition(": ")
        raise row.error(None, f"{field}: {reason}" if reason else str(exc)) from None
