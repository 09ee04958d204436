"""Koinly "Universal" CSV import: the layout ``taxreport export koinly`` writes
(:mod:`taxreport.reports.koinly`) and the one Koinly documents.

Format source: Koinly help, "How to create a custom CSV file with your data"
(https://support.koinly.io/en/articles/9489976-how-to-create-a-custom-csv-file-with-your-data), the
Universal template: ``Date,Sent Amount,Sent Currency,Received Amount,Received Currency,Fee Amount,Fee
Currency,Net Worth Amount,Net Worth Currency,Label,Description,TxHash``. The page says the templates
leave out optional columns and "you can add any column you might need": columns may come in any order,
the first five are required, unknown extra columns are listed in the summary and not read.

Row meaning (Koinly's rules, the same as :mod:`taxreport.reports.txrows`):

* **Sent and Received** filled: a trade (:func:`~taxreport.importers.records.make_trade`); a
  description written by ``taxreport export koinly`` (``buy BTC with USDT on …``/``sell … for …``)
  names the pair exactly, else the quote is chosen by rank. Amounts are positive; "The fee is excluded
  from the amount sent"; the amount received is before a fee in that asset.
* **Received only**: a deposit, or income when the Label says so. **Sent only**: a withdrawal to an
  own wallet, or the disposal its Label or taxreport's description names.
* **Net Worth** (the row's fiat value, optional): a deposit's cost basis, an income's value, a
  disposal's proceeds. A trade's Net Worth is not used by the tax engine (a trade is valued from the
  asset given); it is kept in the event's note.
* **Labels** (Koinly "What are tags", https://support.koinly.io/en/articles/9490023-what-are-tags;
  capitalised or lower-case, ``_`` for spaces): income ``Reward``/``Staking``, ``Airdrop``, ``Mining``,
  ``Fork``, ``Lending interest``/``Loan interest``, ``Income``/``Other income``/``Salary``, ``Fee
  refund``/``Cashback``; withdrawal ``Gift``, ``Donation``, ``Lost`` (a :class:`Withdrawal` with that
  purpose, Net Worth as its value: the same event the canonical CSV's ``gift-out``/``lost`` rows make).
  A *received* ``Gift`` (or taxreport's own description ``gift received on …``) is a :class:`GiftIn`:
  its cost basis only from taxreport's own ``(cost basis X CCY[, acquired YYYY-MM-DD])`` text, which
  ``export koinly`` writes for a gift with a known (donor's) basis; Koinly's Net Worth is the market
  value on receipt, not the donor's basis, so it is kept in the note and the gift has no cost
  (``taxreport review`` lists it as ``gift_without_basis``). Every other label (``Cost``, ``Swap``,
  ``Realized gain``, ``Liquidity in`` …) is refused, never guessed.
* **Transfers between own accounts**: a sent-only and a received-only row with the same TxHash, the
  same currency and amount, in two different accounts, are one :class:`Transfer` (its fee from the
  sent row), as ``export koinly`` writes them.
* **Accounts**: ``--account`` for the whole file (a Koinly file is one wallet); without it, the account
  taxreport's own description names (``… on kraken:main``); else the row is refused.
* **Dates** are UTC ("these must be in UTC even if you live in another timezone"): ``YYYY-MM-DD
  HH:MM[:SS] [UTC]`` or ISO 8601 with ``Z``/an offset.

Ids: a hash of the row's cells (plus its occurrence among identical rows), so re-importing the file
adds nothing. Source ``koinly``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
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
from taxreport.model.money import parse_amount
from taxreport.model.events import (
    INCOME_TYPES,
    Deposit,
    Event,
    GiftIn,
    Income,
    Transfer,
    Withdrawal,
    parse_time,
)

SOURCE = "koinly"
REQUIRED = ("Date", "Sent Amount", "Sent Currency", "Received Amount", "Received Currency")
OPTIONAL = ("Fee Amount", "Fee Currency", "Net Worth Amount", "Net Worth Currency", "Label", "Description",
            "TxHash")
INCOME_LABELS = {"reward": "reward", "staking": "staking", "airdrop": "airdrop", "mining": "mining",
                 "fork": "fork", "lending interest": "interest", "loan interest": "interest",
                 "income": "other", "other income": "other", "salary": "other", "fee refund": "rebate",
                 "cashback": "rebate"}
WITHDRAWAL_LABELS = {"donation": "donation", "gift": "gift", "lost": "lost"}
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)(?:\s*UTC)?$", re.IGNORECASE)
# taxreport's own descriptions (reports/txrows.py): "<what> on <account><detail>[: note]"
_OURS = re.compile(r"^(?P<what>(?:buy|sell) \S+ (?:with|for) \S+|deposit|gift received|withdrawal to own wallet|"
                   r"withdrawal \([a-z-]+\)|income \([a-z]+\)|transfer (?:to|from) own account \S+|"
                   r"fee rebate of trade \S+) on (?P<account>[^\s:]+(?::[^\s:]+)*)(?P<rest>(?: \(.*?\))?)"
                   r"(?::\s(?P<note>.*))?$")
_INCOME = re.compile(r"^income \((?P<type>[a-z]+)\)$")
_TRADE = re.compile(r"^(?P<side>buy|sell) (?P<base>\S+) (?:with|for) (?P<quote>\S+)$")
_BASIS = re.compile(r"\(cost basis (?P<cost>\S+) (?P<ccy>[A-Z0-9]+)(?:, acquired (?P<day>\d{4}-\d{2}-\d{2}))?\)")
_WITHDRAWAL = re.compile(r"^withdrawal \((?P<purpose>spend|gift|donation|lost)\)$")


def koinly_time(text: str) -> datetime:
    m = _DATE.match(text.strip())
    if m:
        try:
            return datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}").replace(tzinfo=UTC)
        except ValueError as exc:
            raise ValueError(f"{text.strip()!r} is not a valid date and time ({exc})") from None
    try:
        return parse_time(text, what="Date")
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a Koinly date (YYYY-MM-DD HH:MM[:SS] UTC)") from None


def parse_koinly(path: str, *, account: str | None = None) -> RecordsBatch:
    """Parse a Koinly Universal CSV into events (nothing written); refused whole on any bad row."""
    return iter_koinly(path, account=account).collect()


def iter_koinly(path: str, *, account: str | None = None) -> RecordsStream:
    """A Koinly Universal CSV as a stream of events. A transfer is two rows anywhere in the file (same TxHash),
    so every row is first read and checked (the file a row at a time, each row kept once, as a checked
    :class:`_Row`; any bad row refuses the file here, before the first event); the events are then made as
    they are consumed, and a row that makes no valid event is listed by :class:`ImportRefused` at the end."""
    table = Table.read(path, required=REQUIRED, what="a Koinly Universal CSV", stream=True)
    extra = table.extra_columns((*REQUIRED, *OPTIONAL))
    out = RecordsStream(path, [f"columns not used: {', '.join(extra)}"] if extra else [])
    problems: list[InputError] = []
    parsed: list[_Row] = []
    for line, raw in table.rows:
        out.rows += 1
        try:
            parsed.append(_read(Cells(table, line, raw), account))
        except CellError as exc:
            problems.append(where(path, line, exc))
    if problems:
        # the rows that were read are judged too, so one run names every bad row (a bad cell on one line and
        # an unknown label on another), not the second kind only after the first is fixed
        try:
            for _ in _events(path, parsed):
                pass
        except ImportRefused as more:
            problems.extend(more.problems)
        problems.sort(key=lambda p: p.line or 0)
        raise ImportRefused(path, problems)
    out.items = _events(path, parsed)
    return out


def _events(path: str, parsed: list[_Row]) -> Iterator[tuple[Event, str]]:
    pairs = _transfer_pairs(parsed)
    ids = RowIds("koinly")
    problems: list[InputError] = []
    done: set[int] = set()
    for row in parsed:
        line = row.line
        if line in done:
            continue
        try:
            other = pairs.get(line)
            if other is not None:
                done.add(other.line)
                out, into = (row, other) if row.sent else (other, row)
                assert out.sent is not None
                fee = out.fee[0] if out.fee else Decimal(0)
                event: Event = Transfer(time=out.time, source=SOURCE, external_id=ids(out.key, into.key),
                                        from_account=out.account, to_account=into.account, asset=out.sent[1],
                                        quantity=out.sent[0] + fee, fee=fee, note=out.note)
                origin = f"{path}:{min(line, other.line)},{max(line, other.line)}"
            else:
                event, origin = _event(row, ids(row.key)), f"{path}:{line}"
        except CellError as exc:
            problems.append(where(path, line, exc))
            continue
        except ValueError as exc:
            problems.append(invalid(path, line, exc))
            continue
        if not problems:
            yield event, origin
    if problems:
        raise ImportRefused(path, problems)


class _Row:
    """One Koinly row, read and checked (what it means is decided in :func:`_event`). Every row of a file is
    held at once (transfers pair rows across the file), so it has slots, not a dict."""

    __slots__ = ("line", "time", "account", "sent", "received", "fee", "worth", "label", "description", "txhash",
                 "key", "ours")

    def __init__(self, line: int, time: datetime, account: str, sent: tuple[Decimal, str] | None,
                 received: tuple[Decimal, str] | None, fee: tuple[Decimal, str] | None,
                 worth: tuple[Decimal, str] | None, label: str, description: str, txhash: str, key: str,
                 ours: re.Match[str] | None) -> None:
        self.line, self.time, self.account, self.sent, self.received = line, time, account, sent, received
        self.fee, self.worth, self.label, self.description, self.txhash = fee, worth, label, description, txhash
        self.key, self.ours = key, ours

    @property
    def note(self) -> str:
        """The user's note: what follows taxreport's own description, else the whole Description."""
        if self.ours is not None:
            return self.ours.group("note") or ""
        return self.description


def _pair(cells: Cells, amount: str, currency: str) -> tuple[Decimal, str] | None:
    value = cells.amount(amount)
    if value is None and not cells.text(currency):
        return None
    if value is None:
        raise CellError(amount, f"is empty but {currency} says {cells.text(currency)!r}")
    if not cells.text(currency):
        raise CellError(currency, f"is empty but {amount} is {value}")
    return value, cells.asset(currency)


def _read(cells: Cells, account: str | None) -> _Row:
    try:
        when = koinly_time(cells.need("Date"))
    except ValueError as exc:
        raise CellError("Date", str(exc)) from None
    sent = _pair(cells, "Sent Amount", "Sent Currency")
    received = _pair(cells, "Received Amount", "Received Currency")
    fee = _pair(cells, "Fee Amount", "Fee Currency")
    worth = _pair(cells, "Net Worth Amount", "Net Worth Currency")
    if sent is None and received is None:
        raise CellError(None, "neither Sent nor Received is filled: nothing happened")
    for side in (sent, received):
        if side is not None and side[0] == 0:
            raise CellError("Sent Amount" if side is sent else "Received Amount", "must be greater than zero")
    if fee is not None and fee[0] == 0:
        fee = None
    description = " ".join(cells.text("Description").split())
    ours = _OURS.match(description)
    if account is None:
        if ours is None:
            raise CellError("Description", "names no account (taxreport writes '… on ACCOUNT'): give --account "
                                           "for this file (one Koinly wallet = one ledger account)")
        account = ours.group("account")
    return _Row(cells.line, when, account, sent, received, fee, worth, cells.text("Label"), description,
                cells.text("TxHash"), cells.fingerprint(), ours)


def _label(row: _Row) -> str:
    return " ".join(row.label.replace("_", " ").lower().split())


def _transfer_pairs(rows: list[_Row]) -> dict[int, _Row]:
    """Sent-only and received-only rows with the same TxHash, currency and amount in two accounts."""
    by_hash: dict[str, list[_Row]] = defaultdict(list)
    for r in rows:
        if r.txhash and not _label(r) and (r.sent is None) != (r.received is None):
            by_hash[r.txhash].append(r)
    pairs: dict[int, _Row] = {}
    for group in by_hash.values():
        outs = [r for r in group if r.sent]
        ins = [r for r in group if r.received]
        if len(outs) != 1 or len(ins) != 1:
            continue
        out, into = outs[0], ins[0]
        sent = out.sent
        if (sent is not None and sent == into.received and out.account != into.account
                and (out.fee is None or out.fee[1] == sent[1])):
            pairs[out.line], pairs[into.line] = into, out
    return pairs


def _event(row: _Row, external_id: str) -> Event:
    label = _label(row)
    t, src, note = row.time, SOURCE, row.note
    if row.sent and row.received:
        if label:
            raise CellError("Label", f"{row.label!r} on a trade is not supported (a taxable trade has no label)")
        side = None
        if row.ours and (m := _TRADE.match(row.ours.group("what"))):
            base = m.group("base").upper()
            if {base, m.group("quote").upper()} == {row.sent[1], row.received[1]}:
                side = m.group("side")
        worth = f"Koinly Net Worth {row.worth[0]} {row.worth[1]}" if row.worth else ""
        return make_trade(time=row.time, source=SOURCE, external_id=external_id, account=row.account,
                          given=row.sent, received=row.received, fee=row.fee[0] if row.fee else None,
                          fee_asset=row.fee[1] if row.fee else None, side=side,
                          fields=("Received Currency", "Fee Amount"),
                          note="; ".join(x for x in (row.note, worth) if x))
    if row.received:
        if row.fee:
            raise CellError("Fee Amount", "a fee on a received-only row is not supported (ledger deposits and "
                                          "income carry no fee): enter the amount net of the fee")
        qty, asset = row.received
        if label == "gift" or (not label and row.ours is not None and row.ours.group("what") == "gift received"):
            return _gift_in(row, external_id)
        if label in INCOME_LABELS:
            value = row.worth
            kind = INCOME_LABELS[label]
            if row.ours and (i := _INCOME.match(row.ours.group("what"))) and i.group("type") in INCOME_TYPES:
                kind = i.group("type")  # taxreport's own export: "income (staking)" under the label Reward
            return Income(account=row.account, asset=asset, quantity=qty, income_type=kind,
                          value=value[0] if value else None, value_currency=value[1] if value else None,
                          time=t, source=src, external_id=external_id, note=note)
        if label:
            raise CellError("Label", f"{row.label!r} is not a deposit or income label this importer knows "
                                     f"({', '.join(sorted(INCOME_LABELS))})")
        cost: Decimal | None = row.worth[0] if row.worth else None
        ccy: str | None = row.worth[1] if row.worth else None
        acquired: datetime | None = None
        if cost is None:
            cost, ccy, acquired = _own_basis(row)
        return Deposit(account=row.account, asset=asset, quantity=qty, cost=cost, cost_currency=ccy,
                       acquired_at=acquired, time=t, source=src, external_id=external_id, note=note)
    assert row.sent is not None
    qty, asset = row.sent
    sent_fee = Decimal(0)
    if row.fee:
        if row.fee[1] != asset:
            raise CellError("Fee Currency", f"a withdrawal's fee must be in {asset}, got {row.fee[1]}")
        sent_fee = row.fee[0]
    purpose = "own-wallet"
    if label:
        if label not in WITHDRAWAL_LABELS:
            raise CellError("Label", f"{row.label!r} is not a withdrawal label this importer knows "
                                     f"({', '.join(sorted(WITHDRAWAL_LABELS))})")
        purpose = WITHDRAWAL_LABELS[label]
    elif row.ours and (w := _WITHDRAWAL.match(row.ours.group("what"))):
        purpose = w.group("purpose")
    value = row.worth if purpose != "own-wallet" else None
    if row.worth and purpose == "own-wallet":
        note = "; ".join(x for x in (row.note, f"Koinly Net Worth {row.worth[0]} {row.worth[1]}") if x)
    return Withdrawal(account=row.account, asset=asset, quantity=qty, fee=sent_fee, purpose=purpose,
                      value=value[0] if value else None, value_currency=value[1] if value else None,
                      time=t, source=src, external_id=external_id, note=note)


def _own_basis(row: _Row) -> tuple[Decimal | None, str | None, datetime | None]:
    """The cost basis taxreport's own export wrote into the description (``(cost basis X CCY[, acquired
    YYYY-MM-DD])``, :mod:`taxreport.reports.txrows`), else nothing."""
    if row.ours is None or not (b := _BASIS.search(row.ours.group("rest"))):
        return None, None, None
    try:
        cost = parse_amount(b.group("cost"), what="Description")
    except ValueError as exc:
        raise CellError("Description", str(exc).split(": ", 1)[-1]) from None
    acquired = datetime.fromisoformat(b.group("day")).replace(tzinfo=UTC) if b.group("day") else None
    return cost, b.group("ccy"), acquired


def _gift_in(row: _Row, external_id: str) -> GiftIn:
    """A received gift: the donor's basis only from taxreport's own description; Koinly's Net Worth is the
    market value on receipt (not the donor's basis), kept in the note (module docstring)."""
    assert row.received is not None
    cost, ccy, acquired = _own_basis(row)
    worth = f"Koinly Net Worth {row.worth[0]} {row.worth[1]}" if row.worth else ""
    return GiftIn(account=row.account, asset=row.received[1], quantity=row.received[0], cost=cost,
                  cost_currency=ccy, acquired_at=acquired, time=row.time, source=SOURCE,
                  external_id=external_id, note="; ".join(x for x in (row.note, worth) if x))
