"""Coins given away (``gift-out`` events, :class:`~taxreport.model.events.Withdrawal` with purpose ``gift``):
whether the donor has a disposal depends on the country.

* **US** (``us``): no. A gift is not a sale or exchange: the donor realises no gain and no loss, and the
  recipient takes over the donor's basis (IRC §1015(a); holding period, §1223(2); Treas. Reg.
  §1.1001-1(e) for the part-gift case). The gifted lots simply leave the donor's holdings.
* **DE** (``de``): no. § 23 EStG taxes an entgeltliche *Veräußerung*; a Schenkung is unentgeltlich, and
  § 23 Abs. 1 Satz 3 EStG gives the recipient the donor's acquisition ("Bei unentgeltlichem Erwerb ist dem
  Einzelrechtsnachfolger für Zwecke dieser Vorschrift die Anschaffung … durch den Rechtsvorgänger
  zuzurechnen").
* **UK** (``uk``): yes, at market value (TCGA 1992 s17(1): a gift is a disposal "otherwise than by way of a
  bargain made at arm's length", at market value). Spouses/civil partners: no gain/no loss (s58), not
  modelled (record such a gift with ``--value`` equal to its cost).
* **AU** (``au``): yes: CGT event A1, with the market value substitution rule (ITAA 1997 s116-30).
* **CA** (``ca``): yes: a gift is a deemed disposition at fair market value (Income Tax Act s69(1)(b)).

:func:`gifts_for` rewrites, for the countries where a gift is no disposal (the policy's
``gift_is_disposal``, :class:`taxreport.jurisdictions.base.Policy`), each gift into
:class:`GiftOutNoGain`: the lots leave the account (to the outside pool, as a withdrawal to an own wallet
does) and no disposal is reported. It keeps the gift's natural key. :func:`gift_note` is the note of a tax
year's report that says so, for the gifts given in that year.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from taxreport.model.events import Event, Withdrawal

@dataclass(frozen=True, slots=True, kw_only=True)
class GiftOutNoGain(Withdrawal):
    """A gift where the country sees no disposal: read as lots leaving (derived, never stored)."""

    original_key: str

    @property
    def natural_key(self) -> str:
        return self.original_key


def gifts_for(events: Sequence[Event], gift_is_disposal: bool) -> tuple[list[Event], list[datetime]]:
    """``events`` with gifts rewritten where a gift is no disposal (see the module docstring), and the times of
    the gifts rewritten."""
    if gift_is_disposal:
        return list(events), []
    out: list[Event] = []
    times: list[datetime] = []
    for e in events:
        if type(e) is Withdrawal and e.purpose == "gift":
            times.append(e.time)
            e = GiftOutNoGain(time=e.time, source=e.source, external_id=e.external_id, note=e.note,
                              account=e.account, asset=e.asset, quantity=e.quantity, fee=e.fee,
                              purpose="own-wallet", original_key=e.natural_key)
        out.append(e)
    return out, times


def gift_note(times: Sequence[datetime], country: str, start: datetime, end: datetime) -> str | None:
    """The note of the tax year ``[start, end)`` (UTC) on the gifts given in it (``times``, from :func:`gifts_for`),
    or ``None`` if it has none: a year's report speaks of that year's gifts (those of other years are no part
    of its figures; their lots had left, or were still held, as for any withdrawal)."""
    count = sum(1 for t in times if start <= t < end)
    if not count:
        return None
    return (f"{count} gift(s) given: no disposal for the donor in {country} (the lots leave without gain or loss; "
            "see taxreport/jurisdictions/gifts.py)")
