"""BittyTax transaction records (CSV) import.

Format source: BittyTax README, "Transaction Records" (https://github.com/BittyTax/BittyTax#transaction-records)
and its example file ``data/example.csv``. Columns, in this order: ``Type, Buy Quantity, Buy Asset,
Buy Value in GBP, Sell Quantity, Sell Asset, Sell Value in GBP, Fee Quantity, Fee Asset, Fee Value in
GBP, Wallet, Timestamp, Note`` (``Note`` optional; older files, like ``example.csv``, say ``Buy Value``
without the currency). The value columns are in the currency their header names (BittyTax's local
currency, GBP by default); a plain ``Buy Value`` is in ``--value-currency`` (default GBP).

Rules quoted from the README and applied exactly:

* "If the Fee Asset is the same as Sell Asset, then the Sell Quantity must be the net amount (after fee
  deduction), not gross amount." / "If the Fee Asset is the same as Buy Asset, then the Buy Quantity
  must be the gross amount (before fee deduction), not net amount." That is :class:`Trade`'s own
  convention (see :mod:`taxreport.importers.records`).
* Withdrawal: "the withdrawal quantity should be the net amount (after fee deduction)": the fee is on
  top (:class:`Withdrawal` ``fee``). Deposit: "the deposit quantity should be the gross amount (before
  fee deduction)": ledger deposits carry no fee, so a Deposit with a fee is refused (enter it net).
* "Timestamps should be … in the format ``YYYY-MM-DDTHH:MM:SS.000000 ZZZ`` where ZZZ represents the
  timezone, or if omitted UTC is assumed": ``UTC``/``GMT``/``Z`` (+0), ``BST`` (+1), ``±HH:MM``; the
  example file also writes a space instead of ``T``. Other zone names are refused, not guessed.
* Quantities may carry thousands separators (``"20,086.56"`` in ``example.csv``): well-formed groups
  of three only.

Types: ``Trade`` -> :class:`Trade` (quote by rank, :mod:`~taxreport.importers.records`); ``Deposit`` ->
:class:`Deposit`; ``Withdrawal`` -> :class:`Withdrawal` (own wallet); ``Stake``/``Unstake`` ->
:class:`Transfer` to/from ``<wallet>:staked`` ("As you are still the beneficial owner, they are included
in your total holdings. This is not a taxable event."); ``Mining``, ``Staking-Reward``/``Staking``,
``Interest``, ``Dividend``, ``Income``, ``Fork``, ``Airdrop``, ``Referral``, ``Cashback``,
``Fee-Rebate`` -> :class:`Income` (Buy Value as its value); ``Spend`` -> :class:`Withdrawal` ``spend``,
``Gift-Sent`` -> ``gift``, ``Charity-Sent`` -> ``donation``, ``Lost`` -> ``lost`` (Sell Value as
proceeds; for Lost "If a value is not specified, a default disposal value of zero is assumed").
``Gift-Received`` -> :class:`GiftIn` without a cost (BittyTax's Buy Value is the market value on
receipt, not the donor's basis: it is kept in the note, ``taxreport review`` lists the gift as
``gift_without_basis`` and ``taxreport ledger basis`` supplies the donor's basis where the country
carries it over); ``Gift-Spouse``
(a "No-Gain/No-Loss" disposal), loans and margin types are refused (not supported). Trade values (Buy/Sell Value) and every Fee Value
are not used by the tax engine (it values from its rates): they are kept in the event's note.

``Wallet`` is the ledger account (``--account`` overrides it for a file without wallets). Rows have
no ids: a hash of the row's cells (plus its occurrence among identical rows) keeps re-imports idempotent.
Source ``bittytax``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Iterator

from taxreport.errors import InputError
from taxreport.importers.base import ImportRefused
from taxreport.importers.records import (
    CellError,
    Cells,
    invalid,
    RecordsBatch,
    RecordsStream,
    RowIds,
    Table,
    make_trade,
    where,
)
from taxreport.model.events import Deposit, Event, GiftIn, Income, Transfer, Withdrawal

SOURCE = "bittytax"
COLUMNS = ("Type", "Buy Quantity", "Buy Asset", "Buy Value", "Sell Quantity", "Sell Asset", "Sell Value",
           "Fee Quantity", "Fee Asset", "Fee Value", "Wallet", "Timestamp")
INCOME = {"mining": "mining", "staking-reward": "staking", "staking": "staking", "interest": "interest",
          "dividend": "other", "income": "other", "fork": "fork", "airdrop": "airdrop", "referral": "reward",
          "cashback": "rebate", "fee-rebate": "rebate"}
DISPOSALS = {"spend": "spend", "gift-sent": "gift", "charity-sent": "donation", "lost": "lost"}
UNSUPPORTED = ("gift-spouse", "loan", "loan-repayment", "loan-interest", "margin-gain", "margin-loss", "margin-fee",
               "margin-fee-rebate")
KNOWN = ("trade", "deposit", "withdrawal", "stake", "unstake", *INCOME, *DISPOSALS, "gift-received", *UNSUPPORTED)
STAKED_SUFFIX = ":staked"
ZONES = {"UTC": 0, "GMT": 0, "Z": 0, "BST": 1}
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)\s*(?:([A-Za-z]{1,5})|([+-]\d{2}:?\d{2}))?$")


def bittytax_time(text: str) -> datetime:
    m = _TIME.match(text.strip())
    if not m:
        raise ValueError(f"{text.strip()!r} is not a BittyTax timestamp (YYYY-MM-DDTHH:MM:SS[.ffffff] ZZZ)")
    day, clock, name, offset = m.groups()
    if name is not None:
        if name.upper() not in ZONES:
            raise ValueError(f"time zone {name!r} is not one of {', '.join(ZONES)} (or ±HH:MM)")
        zone = timezone(timedelta(hours=ZONES[name.upper()]))
    elif offset is not None:
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    else:
        zone = UTC
    try:
        return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=zone).astimezone(UTC)
    except ValueError as exc:
        raise ValueError(f"{text.strip()!r} is not a valid date and time ({exc})") from None


def _value_columns(table: Table, default_ccy: str) -> dict[str, tuple[str, str]]:
    """``Buy Value``/``Sell Value``/``Fee Value`` -> (actual header, currency)."""
    out: dict[str, tuple[str, str]] = {}
    for base in ("Buy Value", "Sell Value", "Fee Value"):
        found = [h for h in table.header if h.lower() == base.lower() or h.lower().startswith(base.lower() + " in ")]
        if len(found) != 1:
            raise InputError(f"header {','.join(table.header)!r} needs one {base!r} (or {base!r} in <CURRENCY>) "
                             "column", file=table.path, line=1)
        header = found[0]
        ccy = header[len(base) + 4:].strip().upper() if header.lower() != base.lower() else default_ccy
        out[base] = (header, ccy)
    return out


def parse_bittytax(path: str, *, account: str | None = None, value_currency: str = "GBP") -> RecordsBatch:
    """Parse BittyTax records into events (nothing written); refused whole on any bad row."""
    return iter_bittytax(path, account=account, value_currency=value_currency).collect()


def iter_bittytax(path: str, *, account: str | None = None, value_currency: str = "GBP") -> RecordsStream:
    """BittyTax records as a stream read a row at a time (what ``import bittytax`` writes as it reads: every row
    stands alone). A bad header raises now; bad rows are listed by :class:`ImportRefused` at the stream's end."""
    required = ("Type", "Buy Quantity", "Buy Asset", "Sell Quantity", "Sell Asset", "Fee Quantity", "Fee Asset",
                "Wallet", "Timestamp")
    table = Table.read(path, required=required, what="a BittyTax records file", stream=True)
    values = _value_columns(table, value_currency.upper())
    known = (*required, *(h for h, _ in values.values()), "Note")
    extra = table.extra_columns(known)
    out = RecordsStream(path, [f"columns not used: {', '.join(extra)}"] if extra else [])

    def items() -> Iterator[tuple[Event, str]]:
        ids = RowIds("bittytax")
        problems: list[InputError] = []
        for line, raw in table.rows:
            out.rows += 1
            try:
                cells = Cells(table, line, raw)
                event = _event(cells, account, values, ids)
            except CellError as exc:
                problems.append(where(path, line, exc))
                continue
            except ValueError as exc:
                problems.append(invalid(path, line, exc))
                continue
            if not problems:
                yield event, f"{path}:{line}"
        if problems:
            raise ImportRefused(path, problems)

    out.items = items()
    return out


def _side(cells: Cells, kind: str) -> tuple[Decimal, str]:
    qty = cells.positive(f"{kind} Quantity", grouped=True)
    return qty, cells.asset(f"{kind} Asset")


def _value(cells: Cells, values: dict[str, tuple[str, str]], base: str) -> tuple[Decimal, str] | None:
    header, ccy = values[base]
    amount = cells.amount(header, grouped=True)
    return None if amount is None else (amount, ccy)


def _event(cells: Cells, account: str | None, values: dict[str, tuple[str, str]], ids: RowIds) -> Event:
    kind = cells.need("Type")
    key = kind.lower()
    if key not in KNOWN:
        raise CellError("Type", f"{kind!r} is not a BittyTax record type (see its README, Transaction Records)")
    if key in UNSUPPORTED:
        raise CellError("Type", f"{kind!r} (no-gain/no-loss gifts to a spouse, loans, margin) is not supported "
                                "by taxreport")
    try:
        when = bittytax_time(cells.need("Timestamp"))
    except ValueError as exc:
        raise CellError("Timestamp", str(exc)) from None
    wallet = account or cells.text("Wallet")
    if not wallet:
        raise CellError("Wallet", "is empty and no --account was given")
    fee = cells.amount("Fee Quantity", grouped=True)
    fee_asset = cells.asset("Fee Asset") if fee else None
    if fee is not None and fee and not cells.text("Fee Asset"):
        raise CellError("Fee Asset", f"is empty but Fee Quantity is {fee}")
    notes = [cells.text("Note")] if cells.text("Note") else []
    fee_value = _value(cells, values, "Fee Value")
    if fee_value:
        notes.append(f"BittyTax Fee Value {fee_value[0]} {fee_value[1]}")
    ext = ids(cells.fingerprint())
    if key == "trade":
        got, gave = _side(cells, "Buy"), _side(cells, "Sell")
        for base in ("Buy Value", "Sell Value"):
            if v := _value(cells, values, base):
                notes.append(f"BittyTax {base} {v[0]} {v[1]}")
        return make_trade(time=when, source=SOURCE, external_id=ext, account=wallet,
                          given=gave, received=got, fee=fee, fee_asset=fee_asset, note="; ".join(notes),
                          fields=("Buy Asset", "Fee Quantity"))
    note = "; ".join(notes)
    if key in ("deposit", "gift-received", "unstake", *INCOME):
        qty, asset = _side(cells, "Buy")
        if fee:
            raise CellError("Fee Quantity", f"a {kind} with a fee is not supported (ledger deposits and income "
                                            "carry no fee): enter the amount net of the fee and the fee as a "
                                            "Spend")
        if key == "deposit":
            return Deposit(account=wallet, asset=asset, quantity=qty, note=note, time=when, source=SOURCE, external_id=ext)
        if key == "gift-received":
            # Buy Value is the market value on receipt, not the donor's basis: kept in the note only
            if value := _value(cells, values, "Buy Value"):
                note = "; ".join(x for x in (note, f"BittyTax Buy Value {value[0]} {value[1]}") if x)
            return GiftIn(account=wallet, asset=asset, quantity=qty, note=note, time=when, source=SOURCE,
                          external_id=ext)
        if key == "unstake":
            return Transfer(from_account=wallet + STAKED_SUFFIX, to_account=wallet, asset=asset, quantity=qty,
                            note=note or kind, time=when, source=SOURCE, external_id=ext)
        value = _value(cells, values, "Buy Value")
        return Income(account=wallet, asset=asset, quantity=qty, income_type=INCOME[key],
                      value=value[0] if value else None, value_currency=value[1] if value else None,
                      note=note, time=when, source=SOURCE, external_id=ext)
    qty, asset = _side(cells, "Sell")
    if fee and fee_asset != asset:
        raise CellError("Fee Asset", f"a {kind}'s fee must be in {asset}, got {fee_asset}")
    if key == "stake":
        return Transfer(from_account=wallet, to_account=wallet + STAKED_SUFFIX, asset=asset,
                        quantity=qty + (fee or 0), fee=fee or Decimal(0), note=note or kind, time=when, source=SOURCE, external_id=ext)
    purpose = DISPOSALS.get(key, "own-wallet")
    value = _value(cells, values, "Sell Value") if key in DISPOSALS else None
    if key == "lost" and value is None:
        value = (Decimal(0), values["Sell Value"][1])  # "a default disposal value of zero is assumed"
    return Withdrawal(account=wallet, asset=asset, quantity=qty, fee=fee or Decimal(0), purpose=purpose,
                      value=value[0] if value else None, value_currency=value[1] if value else None,
                      note=note, time=when, source=SOURCE, external_id=ext)
