"""Reading events back: :func:`event_from_payload` is the exact inverse of
:meth:`taxreport.model.events.Event.to_payload` (Decimals from their canonical text, times from UTC
text, enums from their values). Decoders are computed once per event class, so loading a large ledger
stays fast."""

from __future__ import annotations

import dataclasses
import enum
import typing
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping

from taxreport.model.events import EVENT_TYPES, Event, parse_time
from taxreport.model.money import parse_decimal


def event_from_payload(payload: Mapping[str, Any]) -> Event:
    """Rebuild an event from :meth:`Event.to_payload` output (the inverse, exactly)."""
    kind = payload.get("kind")
    cls = EVENT_TYPES.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"kind: unknown event kind {kind!r}")
    kwargs: dict[str, Any] = {}
    for name, decode in _decoders(cls):
        if name in payload:
            value = payload[name]
            kwargs[name] = None if value is None else decode(value, name)
    return cls(**kwargs)


def _identity(value: Any, _name: str) -> Any:
    return value


def _decoder_for(hint: Any) -> Any:
    args = typing.get_args(hint)
    if typing.get_origin(hint) is typing.Union or (args and type(None) in args):
        inner = [a for a in args if a is not type(None)]
        hint = inner[0] if len(inner) == 1 else hint
    if hint is Decimal:
        return lambda value, name: parse_decimal(value, what=name)
    if hint is datetime:
        return lambda value, name: parse_time(value, what=name)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return lambda value, _name, _enum=hint: _enum(value)
    return _identity


_DECODERS: dict[type, tuple[tuple[str, Any], ...]] = {}


def _decoders(cls: type) -> tuple[tuple[str, Any], ...]:
    """``(field name, decoder)`` pairs of an event class, computed once per class."""
    cached = _DECODERS.get(cls)
    if cached is None:
        hints = typing.get_type_hints(cls)
        cached = _DECODERS[cls] = tuple((f.name, _decoder_for(hints[f.name])) for f in dataclasses.fields(cls))
    return cached
