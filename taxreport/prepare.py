"""The events the tax engine reads, from the events the ledger stores: one pure function,
:func:`prepare_events`, called before legs are taken (by :mod:`taxreport.gains`, ``taxreport review``
and the exports), so every consumer sees the same history:

1. reversals applied (:func:`taxreport.model.legs.effective_events`);
2. simulated accounts left out unless ``include_simulated`` (:mod:`taxreport.simulated`);
3. basis supplements applied: a deposit or gift named by a ``basis`` event
   (:class:`~taxreport.model.events.BasisSupplement`, ``taxreport ledger basis``) is read with that
   cost, cost currency and original acquisition time. It keeps its natural key (lot references stay
   valid). Two effective supplements for one event are an error (reverse one), never a choice;
4. withdrawals and deposits between the user's own accounts paired into transfers
   (:mod:`taxreport.lots.own_transfers`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from taxreport.errors import InputError
from taxreport.lots.own_transfers import (
    DEFAULT_WINDOW,
    TransferMatching,
    match_own_transfers,
)
from taxreport.model.events import AccountDeclaration, BasisSupplement, Deposit, Event, GiftIn, Reversal
from taxreport.model.legs import any_kind, effective_events, kinds_in
from taxreport.jurisdictions.base import Note
from taxreport.simulated import (
    SIMULATED_CODE,
    SimulatedAccount,
    banner,
    simulated_accounts,
    without_simulated,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplementedDeposit(Deposit):
    """A deposit read with the basis a later ``basis`` event gave it; derived, never stored. Keeps the
    stored deposit's natural key."""

    original_key: str
    basis_key: str

    @property
    def natural_key(self) -> str:
        return self.original_key


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplementedGift(GiftIn):
    """A gift received read with the basis a later ``basis`` event gave it (see
    :class:`SupplementedDeposit`)."""

    original_key: str
    basis_key: str

    @property
    def natural_key(self) -> str:
        return self.original_key


@dataclass
class Prepared:
    events: list[Event]
    simulated: dict[str, SimulatedAccount]  # every simulated account declared in the ledger
    included_simulated: bool
    transfers: TransferMatching
    notes: list[str] = field(default_factory=list)


def apply_basis(events: Sequence[Event]) -> list[Event]:
    """``events`` with every basis supplement applied to its target (rules in the module docstring)."""
    supplements: dict[str, BasisSupplement] = {}
    for e in events:
        if isinstance(e, BasisSupplement):
            if e.target_key in supplements:
                raise InputError(f"{e.target_key} has two cost bases ({supplements[e.target_key].natural_key} and "
                                 f"{e.natural_key}); reverse the wrong one with `taxreport ledger reverse KEY`",
                                 field="basis")
            supplements[e.target_key] = e
    if not supplements:
        return list(events)
    out: list[Event] = []
    for e in events:
        if isinstance(e, (Deposit, GiftIn)) and supplements:
            s = supplements.pop(e.natural_key, None)
            if s is not None:
                if s.acquired_at is not None and s.acquired_at > e.time:
                    raise InputError(f"basis {s.natural_key}: acquired_at {s.acquired_at.isoformat()} is after "
                                     f"{e.natural_key} arrived ({e.time.isoformat()})", field="acquired_at")
                cls = SupplementedGift if isinstance(e, GiftIn) else SupplementedDeposit
                e = cls(time=e.time, source=e.source, external_id=e.external_id, note=e.note,
                        account=e.account, asset=e.asset, quantity=e.quantity, cost=s.cost,
                        cost_currency=s.cost_currency, acquired_at=s.acquired_at or e.acquired_at,
                        original_key=e.natural_key, basis_key=s.natural_key)
        out.append(e)
    for key, s in supplements.items():
        raise InputError(f"basis {s.natural_key} names {key}, which is not a deposit or gift in the ledger "
                         "(or was reversed)", field="basis")
    return out


def prepare_events(events: Sequence[Event], *, include_simulated: bool = False,
                   window: timedelta = DEFAULT_WINDOW) -> Prepared:
    """The history the tax engine reads (steps in the module docstring)."""
    items = events if isinstance(events, list) else list(events)
    kinds = kinds_in(items)  # one C-speed pass says which steps have anything to do
    effective = effective_events(items) if any_kind(kinds, Reversal) else items
    sim = simulated_accounts(effective) if any_kind(kinds, AccountDeclaration) else {}
    kept = without_simulated(effective, include=include_simulated, simulated=sim) if sim else effective
    matching = match_own_transfers(apply_basis(kept) if any_kind(kinds, BasisSupplement) else kept, window=window)
    notes: list[str] = []
    if sim and include_simulated:
        notes.append(Note(banner(sim), SIMULATED_CODE))  # reports find it by this code
    elif sim:
        notes.append(f"simulated accounts left out: {', '.join(sorted(sim))} (--include-simulated to put them in)")
    if matching.matched:
        notes.append(f"{len(matching.matched)} withdrawal(s) matched to a deposit in another own account and "
                     "read as transfers (lots keep their dates and cost)")
    return Prepared(matching.events, sim, include_simulated, matching, notes)
