"""Own-transfer matching: a withdrawal from one of the user's accounts and a deposit into another become
one transfer, which moves lots with their original dates and cost (as Koinly does: "Koinly will
automatically match transfers between your wallets … if the amounts and dates are close enough",
https://support.koinly.io/en/articles/9489931-how-to-match-transfers).

A withdrawal ``W`` (``purpose`` ``own-wallet``: ``quantity`` q left, ``fee`` f on top) and a deposit ``D``
(no cost basis; quantity d) match when:

* same asset, different accounts;
* ``W.time <= D.time <= W.time + window`` (default :data:`DEFAULT_WINDOW`, 48 hours);
* ``q - f <= d <= q``: the amount differs by at most the withdrawal's fee (the fee may have been stated
  beside the amount or taken out of it; anything else is not the same coins);
* the pair is **unique**: W has exactly one such deposit and D exactly one such withdrawal.

A pair the user stated with a :class:`~taxreport.model.events.TransferLink` (``taxreport ledger link``)
is taken as given (same asset, different accounts, ``d <= q + f``). Anything else is **not guessed**:
a withdrawal or deposit with several candidates is ``ambiguous`` and each unpaired one is listed
(``taxreport review``). Unmatched withdrawals keep their meaning (lots go to the user's outside
wallet); unmatched deposits without basis draw from it, or are reported.

The transfer that replaces a pair (:class:`MatchedTransfer`) keeps the withdrawal's natural key, sits at
the withdrawal's place in time, sends ``q + f`` out of the source account and delivers ``d``: the
difference ``q + f - d`` is the fee, a disposal of the asset (as for any transfer fee).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from taxreport.errors import InputError
from taxreport.model.events import (
    Deposit,
    Event,
    Trade,
    Transfer,
    TransferLink,
    Withdrawal,
)

DEFAULT_WINDOW = timedelta(hours=48)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchedTransfer(Transfer):
    """A withdrawal and a deposit read as one transfer; derived, never stored. Its key is the
    withdrawal's, so lots and fees keep a ledger reference."""

    withdrawal_key: str
    deposit_key: str

    @property
    def natural_key(self) -> str:
        return self.withdrawal_key


@dataclass
class TransferMatching:
    events: list[Event]  # the events with matched pairs replaced by transfers
    matched: list[MatchedTransfer] = field(default_factory=list)
    unmatched_withdrawals: list[Withdrawal] = field(default_factory=list)
    unmatched_deposits: list[Deposit] = field(default_factory=list)  # without basis
    ambiguous: list[tuple[Withdrawal | Deposit, list[Withdrawal | Deposit]]] = field(default_factory=list)


def _fits(w: Withdrawal, d: Deposit, window: timedelta) -> bool:
    return (w.asset == d.asset and w.account != d.account and w.time <= d.time <= w.time + window
            and w.quantity - w.fee <= d.quantity <= w.quantity)


def _transfer(w: Withdrawal, d: Deposit, how: str) -> MatchedTransfer:
    sent = w.quantity + w.fee
    return MatchedTransfer(time=w.time, source=w.source, external_id=w.external_id,
                           note=f"{how}: {w.natural_key} -> {d.natural_key}", from_account=w.account,
                           to_account=d.account, asset=w.asset, quantity=sent, fee=sent - d.quantity,
                           withdrawal_key=w.natural_key, deposit_key=d.natural_key)


def match_own_transfers(events: Sequence[Event], *, window: timedelta = DEFAULT_WINDOW) -> TransferMatching:
    """Pair withdrawals and deposits (rules in the module docstring). ``events`` must already have
    reversals applied; the result keeps their order (a pair takes the withdrawal's place)."""
    withdrawals: list[Withdrawal] = []
    deposits: list[Deposit] = []
    links: list[TransferLink] = []
    for e in events:
        kind = type(e)
        if kind is Trade:
            continue
        if kind is Withdrawal and e.purpose == "own-wallet":  # type: ignore[attr-defined]
            withdrawals.append(e)  # type: ignore[arg-type]
        elif kind is Deposit and e.cost is None:  # type: ignore[attr-defined]
            deposits.append(e)  # type: ignore[arg-type]
        elif kind is TransferLink:
            links.append(e)  # type: ignore[arg-type]
    if not withdrawals or not deposits:  # nothing to pair (most histories of trades only)
        if links:
            raise InputError(f"link {links[0].natural_key} names events that are not a withdrawal to an own "
                             "wallet and a deposit without basis in the ledger (reversed?)", field="link")
        return TransferMatching(events=list(events), unmatched_withdrawals=withdrawals, unmatched_deposits=deposits)
    by_key_w = {w.natural_key: w for w in withdrawals}
    by_key_d = {d.natural_key: d for d in deposits}
    pairs: dict[str, tuple[Withdrawal, Deposit, str]] = {}  # withdrawal key -> pair
    taken_d: set[str] = set()
    for link in links:
        w, d = by_key_w.get(link.withdrawal_key), by_key_d.get(link.deposit_key)
        if w is None or d is None:
            missing = link.withdrawal_key if w is None else link.deposit_key
            raise InputError(f"link {link.natural_key} names {missing}, which is not a withdrawal to an own "
                             "wallet / a deposit without basis in the ledger (reversed?)", field="link")
        if w.asset != d.asset or w.account == d.account or d.quantity > w.quantity + w.fee:
            raise InputError(f"link {link.natural_key}: {w.natural_key} and {d.natural_key} cannot be one transfer "
                             "(different assets, the same account, or more arrived than left)", field="link")
        if w.natural_key in pairs or d.natural_key in taken_d:
            raise InputError(f"link {link.natural_key}: {w.natural_key} or {d.natural_key} is linked twice",
                             field="link")
        pairs[w.natural_key] = (w, d, "linked by the user")
        taken_d.add(d.natural_key)
    free_w = [w for w in withdrawals if w.natural_key not in pairs]
    free_d = [d for d in deposits if d.natural_key not in taken_d]
    by_asset: dict[str, list[Deposit]] = {}
    for d in free_d:
        by_asset.setdefault(d.asset, []).append(d)
    cand_w: dict[str, list[Deposit]] = {}
    cand_d: dict[str, list[Withdrawal]] = {}
    for w in free_w:
        found = [d for d in by_asset.get(w.asset, ()) if _fits(w, d, window)]
        cand_w[w.natural_key] = found
        for d in found:
            cand_d.setdefault(d.natural_key, []).append(w)
    result = TransferMatching(events=[])
    ambiguous_keys: set[str] = set()
    for w in free_w:
        found = cand_w[w.natural_key]
        if len(found) == 1 and len(cand_d[found[0].natural_key]) == 1:
            pairs[w.natural_key] = (w, found[0], "matched automatically")
            taken_d.add(found[0].natural_key)
        elif len(found) > 1:
            result.ambiguous.append((w, list[Withdrawal | Deposit](found)))
            ambiguous_keys.update([w.natural_key, *(d.natural_key for d in found)])  # listed once, here
    for d in free_d:
        rivals = cand_d.get(d.natural_key, [])
        if len(rivals) > 1 and d.natural_key not in taken_d and d.natural_key not in ambiguous_keys:
            result.ambiguous.append((d, list[Withdrawal | Deposit](rivals)))
            ambiguous_keys.update([d.natural_key, *(w.natural_key for w in rivals)])
    replaced = {p[1].natural_key for p in pairs.values()}
    for e in events:
        key = e.natural_key if isinstance(e, (Withdrawal, Deposit)) else None
        if key is not None and key in pairs:
            w, d, how = pairs[key]
            t = _transfer(w, d, how)
            result.matched.append(t)
            result.events.append(t)
        elif key is not None and key in replaced:
            continue
        else:
            result.events.append(e)
            if isinstance(e, Withdrawal) and e.purpose == "own-wallet" and key not in ambiguous_keys:
                result.unmatched_withdrawals.append(e)
            elif type(e) is Deposit and e.cost is None and key not in ambiguous_keys:
                result.unmatched_deposits.append(e)
    return result
