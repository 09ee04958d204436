"""Simulated accounts: money that is not real (the paper exchange, the local OKX venue, OKX demo trading)
must never reach a tax figure.

An account is simulated because **the writer that created it said so**, with an
:class:`~taxreport.model.events.AccountDeclaration` event in the ledger (``simulated=True``), not
because of its name. :func:`mark_simulated` is the one call a writer makes (the paper venue in
``taxreport.cli.rebalance_run``; the local OKX venue calls :func:`mark_simulated` too). Reading is pure:
:func:`simulated_accounts` and :func:`without_simulated` work on a list of events.

Every event touching a simulated account is left out of lot matching, gains, income and every export
unless the user asks for them (``--include-simulated``); reports made that way say SIMULATED.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from taxreport.clock import recording_time
from taxreport.errors import LedgerError
from taxreport.model.events import AccountDeclaration, Event, Reversal
from taxreport.model.legs import any_kind, effective_events, kinds_in

SIMULATED_BANNER = "SIMULATED: includes simulated accounts ({accounts}); not a tax figure"


@dataclass(frozen=True, slots=True)
class SimulatedAccount:
    account: str
    venue: str
    declared_by: str  # natural key of the declaration


def declaration(account: str, venue: str, *, time: datetime | None = None) -> AccountDeclaration:
    """The declaration a writer appends for a simulated ``account`` (keyed by venue and account, so
    declaring again adds nothing)."""
    return AccountDeclaration(time=time or recording_time(), source=venue, external_id=account,
                              account=account, simulated=True, venue=venue,
                              note=f"{venue} account: simulated money, never taxed")


def mark_simulated(ledger, account: str, venue: str, *, actor: str, time: datetime | None = None) -> bool:
    """Declare ``account`` simulated in ``ledger`` unless already declared (idempotent). Returns True if
    a declaration was written. ``venue`` names the writer (``paper``, ``okx-local``, ``okx-sandbox``)."""
    decl = declaration(account, venue, time=time)
    if ledger.has_key(decl.natural_key):
        return False
    try:
        ledger.append([decl], actor=actor, reason=f"{venue} account {account} holds simulated money")
    except LedgerError:
        if ledger.has_key(decl.natural_key):  # another process declared it at the same moment
            return False
        raise
    return True


def simulated_accounts(events: Iterable[Event]) -> dict[str, SimulatedAccount]:
    """Accounts declared simulated by an effective (not reversed) declaration, by name."""
    items = events if isinstance(events, list) else list(events)
    kinds = kinds_in(items)
    if not any_kind(kinds, AccountDeclaration):
        return {}
    if any_kind(kinds, Reversal):
        items = effective_events(items)
    out: dict[str, SimulatedAccount] = {}
    for e in items:
        if isinstance(e, AccountDeclaration) and e.simulated:
            out.setdefault(e.account, SimulatedAccount(e.account, e.venue, e.natural_key))
    return out


def without_simulated(events: Sequence[Event], *, include: bool = False,
                      simulated: Mapping[str, SimulatedAccount] | None = None) -> list[Event]:
    """``events`` without any event touching a simulated account (declarations kept out too), or all of
    them with ``include=True``. ``simulated``: the accounts, when the caller already has them
    (:func:`simulated_accounts` of the same events)."""
    items = list(events)
    if include:
        return items
    sim = simulated_accounts(items) if simulated is None else simulated
    if not sim:
        return items
    return [e for e in items if not any(a in sim for a in e.accounts)]


SIMULATED_CODE = "simulated"  # the code of the banner note (taxreport.jurisdictions.base.Note) in a report's notes


def banner_note(notes: Iterable[str]) -> str:
    """The SIMULATED banner among a report's ``notes``, picked by its note code (not by its wording),
    or ``""`` when the report has no simulated accounts in it."""
    from taxreport.jurisdictions.base import Note

    return next((n for n in notes if isinstance(n, Note) and n.code == SIMULATED_CODE), "")


def banner(accounts: Iterable[str]) -> str:
    """The line every report made with ``--include-simulated`` carries."""
    return SIMULATED_BANNER.format(accounts=", ".join(sorted(accounts)))
