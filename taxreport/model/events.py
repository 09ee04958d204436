"""Ledger events: immutable records of what happened, as they are stored in the ledger.

An event is a *fact from a source* (an exchange fill, a CSV row, a manual entry, an order the
rebalancer placed). What an event means for cost basis (acquisitions and disposals) is derived from
it by :func:`taxreport.model.legs.legs_of`, a pure function, so the ledger stores facts once and
every consumer derives the same movements.

Every event has a **natural key** used for idempotency: ``kind:source:external_id`` when the source
gives an id (an exchange trade id, a CSV ``id`` column), else ``kind:source:sha256:<content hash>``.
``source`` names the *origin of the fact* (``okx``, ``csv``, ``manual``, ``paper``), not who wrote it:
the writer (importer, rebalancer, manual) is recorded by the ledger beside the event.

All times are timezone-aware and normalised to UTC. All numbers are ``Decimal``.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, Iterable, Mapping

from taxreport.model.assets import normalise_asset
from taxreport.model.money import decimal_str

ZERO = Decimal(0)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"


def utc(value: datetime, *, what: str = "time") -> datetime:
    """Return ``value`` in UTC; naive datetimes are refused (never guessed)."""
    if value.tzinfo is timezone.utc:  # already UTC (what astimezone would return unchanged)
        return value
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{what}: {value.isoformat()} has no time zone")
    return value.astimezone(timezone.utc)


def format_time(value: datetime) -> str:
    """Canonical, sortable UTC text of a time: ``2024-03-01T12:00:00.000000Z``."""
    return utc(value).strftime(TIME_FORMAT)


def parse_time(text: str, *, what: str = "time") -> datetime:
    """Parse ISO 8601 with an offset or ``Z`` (naive times are refused) into UTC."""
    raw = text.strip()
    if raw.endswith("Z") or raw.endswith("z"):
        raw = raw[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not an ISO 8601 time") from None
    return utc(value, what=what)


def _positive(value: Decimal, what: str) -> None:
    if value <= 0:
        raise ValueError(f"{what}: must be greater than zero, got {value}")


def _non_negative(value: Decimal, what: str) -> None:
    if value < 0:
        raise ValueError(f"{what}: must not be negative, got {value}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Common fields of every ledger event."""

    kind: ClassVar[str] = "event"
    #: True for events that say something about other events or accounts (a reversal, a basis supplied
    #: later, a transfer link, an account declaration): they apply whatever their recording ``time``, so
    #: a view of the ledger "as of" an earlier moment keeps them (:func:`as_of`).
    timeless: ClassVar[bool] = False
    time: datetime
    source: str
    external_id: str | None = None
    note: str = ""

    def __post_init__(self) -> None:
        when = utc(self.time)
        if when is not self.time:
            object.__setattr__(self, "time", when)
        if not self.source or not self.source.strip():
            raise ValueError("source: must not be empty")
        if self.external_id is not None and not str(self.external_id).strip():
            object.__setattr__(self, "external_id", None)

    # --- identity -------------------------------------------------------------------------
    def content_hash(self) -> str:
        """SHA-256 of the canonical payload: equal events have equal hashes."""
        return hashlib.sha256(canonical_json(self.to_payload()).encode()).hexdigest()

    @property
    def natural_key(self) -> str:
        if self.external_id is not None:
            return f"{self.kind}:{self.source}:{self.external_id}"
        return f"{self.kind}:{self.source}:sha256:{self.content_hash()[:32]}"

    # --- index columns (the ledger stores these beside the payload for filtering) ---------
    @property
    def accounts(self) -> tuple[str, ...]:
        return ()

    @property
    def assets(self) -> tuple[str, ...]:
        return ()

    @property
    def order_ref(self) -> str | None:
        return None

    # --- serialisation --------------------------------------------------------------------
    def to_payload(self) -> dict[str, Any]:
        """JSON-ready dict: Decimals as canonical strings, times as UTC text, enums as values."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            out[f.name] = _encode(getattr(self, f.name))
        return out


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)) and not isinstance(value, enum.Enum):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return decimal_str(value)
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    raise TypeError(f"cannot store {type(value).__name__} in an event (floats are never stored)")


def canonical_json(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Trade(Event):
    """One fill: ``quantity`` of ``base`` bought or sold at ``price`` (in ``quote`` per ``base``).

    ``quantity`` is the gross base amount of the fill; ``fee`` is charged in ``fee_asset`` (any
    asset; negative for a maker rebate). On OKX a spot buy's fee is in the base, so the base
    received is ``quantity - fee``.
    """

    kind: ClassVar[str] = "trade"
    account: str
    side: Side
    base: str
    quote: str
    quantity: Decimal
    price: Decimal
    fee: Decimal = ZERO
    fee_asset: str | None = None
    order_id: str | None = None

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        # (each normalised value is set only when it differs from the one given: a million-row import builds
        # a million trades, whose symbols are already normal)
        if type(self.side) is not Side:
            object.__setattr__(self, "side", Side(self.side))
        base = normalise_asset(self.base, what="base")
        if base is not self.base:
            object.__setattr__(self, "base", base)
        quote = normalise_asset(self.quote, what="quote")
        if quote is not self.quote:
            object.__setattr__(self, "quote", quote)
        if base == quote:
            raise ValueError(f"quote: base and quote are both {base}")
        _require_account(self.account)
        _positive(self.quantity, "quantity")
        _positive(self.price, "price")
        if self.fee != 0 and not self.fee_asset:
            raise ValueError("fee_asset: a non-zero fee needs its asset")
        if self.fee_asset:
            fee_asset = normalise_asset(self.fee_asset, what="fee_asset")
            if fee_asset is not self.fee_asset:
                object.__setattr__(self, "fee_asset", fee_asset)
        elif self.fee_asset is not None:
            object.__setattr__(self, "fee_asset", None)

    @property
    def cost(self) -> Decimal:
        """Gross quote amount, ``quantity * price`` (exact)."""
        return self.quantity * self.price

    @property
    def accounts(self) -> tuple[str, ...]:
        return (self.account,)

    @property
    def assets(self) -> tuple[str, ...]:
        extra = (self.fee_asset,) if self.fee_asset and self.fee_asset not in (self.base, self.quote) else ()
        return (self.base, self.quote, *extra)

    @property
    def order_ref(self) -> str | None:
        return self.order_id


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer(Event):
    """A move between two of the user's own accounts: not a disposal. ``fee`` is in ``asset`` and
    paid out of ``quantity`` (``quantity - fee`` arrives)."""

    kind: ClassVar[str] = "transfer"
    from_account: str
    to_account: str
    asset: str
    quantity: Decimal
    fee: Decimal = ZERO

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        object.__setattr__(self, "asset", normalise_asset(self.asset))
        _require_account(self.from_account, "from_account")
        _require_account(self.to_account, "to_account")
        if self.from_account == self.to_account:
            raise ValueError("to_account: a transfer needs two different accounts")
        _positive(self.quantity, "quantity")
        _non_negative(self.fee, "fee")
        if self.fee >= self.quantity:
            raise ValueError("fee: must be smaller than the quantity transferred")

    @property
    def accounts(self) -> tuple[str, ...]:
        return (self.from_account, self.to_account)

    @property
    def assets(self) -> tuple[str, ...]:
        return (self.asset,)


@dataclass(frozen=True, slots=True, kw_only=True)
class _OneAssetInOneAccount(Event):
    """The shape Deposit, Withdrawal and Income share: a positive quantity of one asset in one account."""

    account: str
    asset: str
    quantity: Decimal

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        object.__setattr__(self, "asset", normalise_asset(self.asset))
        _require_account(self.account)
        _positive(self.quantity, "quantity")

    @property
    def accounts(self) -> tuple[str, ...]:
        return (self.account,)

    @property
    def assets(self) -> tuple[str, ...]:
        return (self.asset,)


@dataclass(frozen=True, slots=True, kw_only=True)
class _ArrivalWithBasis(_OneAssetInOneAccount):
    """The shape Deposit and GiftIn share: coins arriving, with their cost basis (``cost``/``cost_currency``)
    and original acquisition time (``acquired_at``) when known."""

    cost: Decimal | None = None
    cost_currency: str | None = None
    acquired_at: datetime | None = None

    def __post_init__(self) -> None:
        _OneAssetInOneAccount.__post_init__(self)
        _cost_triplet(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Deposit(_ArrivalWithBasis):
    """Coins arriving from outside the tracked accounts.

    ``cost``/``cost_currency`` give their cost basis and ``acquired_at`` their original acquisition
    time when known (e.g. coins bought elsewhere). Without them the tax engine first looks for
    matching earlier withdrawals to the user's own wallets, else reports the missing basis.
    """

    kind: ClassVar[str] = "deposit"


WITHDRAWAL_PURPOSES = ("own-wallet", "spend", "gift", "donation", "lost")


@dataclass(frozen=True, slots=True, kw_only=True)
class Withdrawal(_OneAssetInOneAccount):
    """Coins leaving the tracked accounts. ``purpose`` ``own-wallet`` (default) is not a disposal;
    ``spend``, ``gift``, ``donation`` and ``lost`` are. ``fee`` is in ``asset`` on top of
    ``quantity`` and is a disposal of that asset."""

    kind: ClassVar[str] = "withdrawal"
    fee: Decimal = ZERO
    purpose: str = "own-wallet"
    value: Decimal | None = None
    value_currency: str | None = None

    def __post_init__(self) -> None:
        _OneAssetInOneAccount.__post_init__(self)
        _non_negative(self.fee, "fee")
        if self.purpose not in WITHDRAWAL_PURPOSES:
            raise ValueError(f"purpose: {self.purpose!r} is not one of {', '.join(WITHDRAWAL_PURPOSES)}")
        _value_pair(self)


INCOME_TYPES = ("staking", "interest", "airdrop", "reward", "mining", "rebate", "fork", "other")


@dataclass(frozen=True, slots=True, kw_only=True)
class Income(_OneAssetInOneAccount):
    """Coins received as income (staking yield, interest, airdrop…): an acquisition at market value
    (``value``/``value_currency`` when the source states it, else valued from prices)."""

    kind: ClassVar[str] = "income"
    income_type: str = "other"
    value: Decimal | None = None
    value_currency: str | None = None

    def __post_init__(self) -> None:
        _OneAssetInOneAccount.__post_init__(self)
        if self.income_type not in INCOME_TYPES:
            raise ValueError(f"income_type: {self.income_type!r} is not one of {', '.join(INCOME_TYPES)}")
        _value_pair(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reversal(Event):
    """A correction: cancels the event whose natural key is ``target_key``. Events are never edited;
    a wrong one is reversed and, if needed, written again correctly under a new id."""

    kind: ClassVar[str] = "reversal"
    timeless: ClassVar[bool] = True
    target_key: str
    reason: str

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        if not self.target_key:
            raise ValueError("target_key: must not be empty")
        if not self.reason.strip():
            raise ValueError("reason: a reversal must say why")


@dataclass(frozen=True, slots=True, kw_only=True)
class Record(Event):
    """An audit record that moves no money: a rebalance trigger, a plan, an order intent or state
    change, an import summary. ``record_type`` is dotted (``rebalance.plan``, ``order.intent``…);
    ``data`` holds JSON values (Decimals are stored as canonical strings)."""

    kind: ClassVar[str] = "record"
    record_type: str
    account: str | None = None
    order_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        if not self.record_type:
            raise ValueError("record_type: must not be empty")
        # Freeze the data as its canonical JSON form so that equality and hashing are stable.
        frozen = json.loads(canonical_json(_encode(dict(self.data))))
        object.__setattr__(self, "data", MappingProxyType(frozen))

    @property
    def accounts(self) -> tuple[str, ...]:
        return (self.account,) if self.account else ()

    @property
    def order_ref(self) -> str | None:
        return self.order_id


def _value_pair(event: "Withdrawal | Income") -> None:
    """``value``/``value_currency`` come together; the currency is normalised."""
    if (event.value is None) != (event.value_currency is None):
        raise ValueError("value_currency: value and value_currency go together")
    if event.value is not None:
        _non_negative(event.value, "value")
        object.__setattr__(event, "value_currency", normalise_asset(event.value_currency, what="value_currency"))


def _require_account(value: str, what: str = "account") -> None:
    if not value or not value.strip() or value != value.strip():
        raise ValueError(f"{what}: must be a non-empty name without surrounding spaces, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class GiftIn(_ArrivalWithBasis):
    """Coins received as a gift (kind ``gift-in``). ``cost``/``cost_currency`` (and ``acquired_at``) give
    the basis the recipient takes over when known: in the US the donor's basis and holding period carry
    over (IRC §1015(a), §1223(2)); in the UK a gift is acquired at market value (TCGA 1992 s17(1)).
    Without a cost the coins are acquired at their market value on receipt (the UK rule); ``taxreport
    review`` lists such gifts so the donor's basis can be supplied (``taxreport ledger basis``)."""

    kind: ClassVar[str] = "gift-in"


@dataclass(frozen=True, slots=True, kw_only=True)
class BasisSupplement(Event):
    """The cost basis of a deposit (or gift received) already in the ledger, supplied afterwards (kind
    ``basis``): never an edit of the deposit, a new audited event naming it by ``target_key``. The tax
    engine reads the deposit as if it had carried ``cost``/``cost_currency``/``acquired_at``
    (:func:`taxreport.prepare.prepare_events`). To correct a basis, reverse this event and write another."""

    kind: ClassVar[str] = "basis"
    timeless: ClassVar[bool] = True
    target_key: str
    cost: Decimal
    cost_currency: str
    acquired_at: datetime | None = None

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        if not self.target_key.strip():
            raise ValueError("target_key: must not be empty")
        _cost_triplet(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferLink(Event):
    """The user's statement that a withdrawal and a deposit in the ledger are one transfer between two of
    their own accounts (kind ``link``), for pairs the automatic matching could not decide
    (:mod:`taxreport.lots.own_transfers`). Names both by natural key."""

    kind: ClassVar[str] = "link"
    timeless: ClassVar[bool] = True
    withdrawal_key: str
    deposit_key: str

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        if not self.withdrawal_key.strip() or not self.deposit_key.strip():
            raise ValueError("withdrawal_key: a link needs a withdrawal and a deposit")


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountDeclaration(Event):
    """What an account is, declared by the writer that creates it (kind ``account``). ``simulated``
    accounts (the paper exchange, the local OKX venue, OKX demo trading) hold no real money: the tax
    engine and every export leave them out unless asked (``--include-simulated``). ``venue`` says which
    writer declared it (``paper``, ``okx-local``, ``okx-sandbox``…)."""

    kind: ClassVar[str] = "account"
    timeless: ClassVar[bool] = True
    account: str
    simulated: bool
    venue: str

    def __post_init__(self) -> None:
        Event.__post_init__(self)
        _require_account(self.account)
        if not isinstance(self.simulated, bool):
            raise ValueError(f"simulated: must be true or false, got {self.simulated!r}")
        if not self.venue.strip():
            raise ValueError("venue: must not be empty")

    @property
    def accounts(self) -> tuple[str, ...]:
        return (self.account,)


def _cost_triplet(event: "Deposit | GiftIn | BasisSupplement") -> None:
    """``cost``/``cost_currency`` come together (cost not negative, currency normalised); ``acquired_at``
    is a UTC time when given."""
    if (event.cost is None) != (event.cost_currency is None):
        raise ValueError("cost_currency: cost and cost_currency go together")
    if event.cost is not None:
        _non_negative(event.cost, "cost")
        object.__setattr__(event, "cost_currency", normalise_asset(event.cost_currency or "", what="cost_currency"))
    if event.acquired_at is not None:
        object.__setattr__(event, "acquired_at", utc(event.acquired_at, what="acquired_at"))
        if isinstance(event, GiftIn) and event.acquired_at > event.time:
            raise ValueError("acquired_at: is after the event itself")


def as_of(events: Iterable[Event], moment: datetime) -> list[Event]:
    """The ledger as it stood at ``moment`` for tax: events up to then, plus every :attr:`Event.timeless`
    correction or statement, whenever it was recorded (a basis supplied today for a 2024 deposit)."""
    return [e for e in events if e.time <= moment or e.timeless]


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls for cls in (Trade, Transfer, Deposit, Withdrawal, Income, Reversal, Record, GiftIn,
                              BasisSupplement, TransferLink, AccountDeclaration)
}
