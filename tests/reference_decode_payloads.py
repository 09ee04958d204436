"""Main's ledger read decode before msgspec (commit 507e35c, issue 14 round 5): ``taxreport/model/codec.py``'s
``decode_payloads`` and the builders it uses (``_trusted_time`` through ``_decode_slowly``), kept verbatim as the oracle
of tests/test_decode_msgspec.py (only their imports are pointed here). Never used by taxreport itself.
"""
# ruff: noqa
# mypy: ignore-errors

from __future__ import annotations

import json
import sys
import typing
import dataclasses
import enum
from datetime import datetime, timezone
from decimal import Decimal
from operator import itemgetter
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

from orjson import loads as _orjson_loads

from taxreport.model.codec import _plain_hint, event_from_payload
from taxreport.model.events import (EVENT_TYPES, AccountDeclaration, BasisSupplement, Deposit, Event, GiftIn, Income,
                                    Record, Reversal, Trade, Transfer, TransferLink, Withdrawal, parse_time)


def _trusted_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is timezone.utc else parse_time(text)


def _frozen_data(value: Any) -> MappingProxyType[str, Any]:
    """A :class:`Record`'s ``data`` as its ``__post_init__`` freezes it: the JSON object read back from the
    canonical payload is already ``json.loads(canonical_json(data))``, so it is only wrapped."""
    if type(value) is not dict:
        raise TypeError("data: not a JSON object")
    return MappingProxyType(value)


# Text fields whose values repeat across events (account and asset names, sources, purposes): each is read as
# one shared string (``sys.intern``), so a million events hold one "BTC", not a million copies.
_SHARED_TEXT = frozenset({"account", "base", "quote", "fee_asset", "source", "asset", "from_account", "to_account",
                          "cost_currency", "value_currency", "purpose", "income_type", "record_type", "venue"})

# Event classes whose ``__post_init__`` only validates and normalises idempotently (so a payload it once
# accepted decodes to an equal event without running it again); Record's freezes its ``data``, which a stored
# payload already is (:func:`_frozen_data`). A class not listed (a new kind) is rebuilt through its constructor.
TRUSTED_CLASSES: frozenset[type] = frozenset((Trade, Transfer, Deposit, Withdrawal, Income, Reversal, Record, GiftIn,
                                              BasisSupplement, TransferLink, AccountDeclaration))
_BUILDERS: dict[type, Callable[[Mapping[str, Any]], Event] | None] = {}
_REBUILD_ERRORS = (KeyError, TypeError, ValueError, ArithmeticError)


def _builder(cls: type) -> Callable[[Mapping[str, Any]], Event] | None:
    """A function that builds ``cls`` from a stored payload with one straight-line assignment per field
    (generated once per class from its fields and type hints), or None for classes not trusted. A payload not
    of the shape written today (a field missing or added, a value of another type) is rebuilt by
    :func:`event_from_payload`, which validates it."""
    if cls not in _BUILDERS:
        _BUILDERS[cls] = _generate_builder(cls, event_from_payload)
    return _BUILDERS[cls]


def _generate_builder(cls: type, slow: Callable[[Mapping[str, Any]], Any]
                      ) -> Callable[[Mapping[str, Any]], Event] | None:
    """:func:`_builder`'s function, calling ``slow`` for a payload not of today's shape.

    Generated once per class: the payload's values read by one :func:`operator.itemgetter` of every field (one C
    call instead of a dictionary lookup per field, a missing key raising KeyError as the lookup did), each decoded
    inline (an enum member looked up in the enum's own value map, a Decimal from its text, a time by
    ``datetime.fromisoformat``, a shared text by ``sys.intern``) and set through the slot's own descriptor."""
    if cls not in TRUSTED_CLASSES:
        return None
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_slow": slow, "_errors": _REBUILD_ERRORS,
                           "_intern": sys.intern, "_Decimal": Decimal, "_get": itemgetter(*[f.name for f in fields]),
                           "_fromiso": datetime.fromisoformat, "_utc": timezone.utc, "_trusted_time": _trusted_time}
    values = ", ".join(f"a{i}" for i in range(len(fields))) + ("," if len(fields) == 1 else "")
    lines = ["def build(p):", f"    if len(p) != {len(fields) + 1}:", "        return _slow(p)", "    try:",
             f"        {values} = _get(p)", "        o = _new(_cls)"]
    for i, f in enumerate(fields):
        # the slot's own setter (what object.__setattr__ ends in, without the attribute lookup)
        env[f"_s{i}"] = cls.__dict__[f.name].__set__ if f.name in cls.__dict__ else _slot_setter(cls, f.name)
        hint = _plain_hint(hints[f.name])
        v = f"a{i}"
        if cls is Record and f.name == "data":
            env[f"_d{i}"] = _frozen_data
            lines.append(f"        _s{i}(o, {v} if {v} is None else _d{i}({v}))")
        elif hint is datetime:  # a UTC time as fromisoformat reads it, another zone through parse_time
            lines.append(f"        if {v} is not None:")
            lines.append(f"            t = _fromiso({v})")
            lines.append(f"            _s{i}(o, t if t.tzinfo is _utc else _trusted_time({v}))")
            lines.append("        else:")
            lines.append(f"            _s{i}(o, None)")
        elif hint is Decimal:
            lines.append(f"        _s{i}(o, {v} if {v} is None else _Decimal({v}))")
        elif isinstance(hint, type) and issubclass(hint, enum.Enum):
            # ``hint(value)`` as a lookup in the enum's own value map (an unknown value raises KeyError: the payload
            # is then rebuilt by the validating decoder, which names it)
            env[f"_m{i}"] = hint._value2member_map_
            lines.append(f"        _s{i}(o, {v} if {v} is None else _m{i}[{v}])")
        elif f.name in _SHARED_TEXT:
            lines.append(f"        _s{i}(o, {v} if {v} is None else _intern({v}))")
        else:
            lines.append(f"        _s{i}(o, {v})")
    lines += ["        return o", "    except _errors:", "        return _slow(p)"]
    exec("\n".join(lines), env)  # noqa: S102 - code generated from the dataclass fields above, no input
    return env["build"]  # type: ignore[no-any-return]


def _slot_setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    for base in cls.__mro__:
        if name in base.__dict__:
            return base.__dict__[name].__set__  # type: ignore[no-any-return]
    raise AttributeError(name)


_BY_KIND: dict[Any, Callable[[Mapping[str, Any]], Event]] = {}


def _by_kind() -> dict[Any, Callable[[Mapping[str, Any]], Event]]:
    """The builder of each stored kind (the validating decoder for kinds not trusted), made once."""
    if not _BY_KIND:
        for kind, cls in EVENT_TYPES.items():
            _BY_KIND[kind] = _builder(cls) or event_from_payload
    return _BY_KIND


def trusted_event(payload: Mapping[str, Any]) -> Event:
    """Rebuild an event the ledger wrote (see above); falls back to :func:`event_from_payload` for classes
    that are not trusted and for payloads not of the shape written today (a field missing or added)."""
    return _by_kind().get(payload.get("kind"), event_from_payload)(payload)


class _Reparse(Exception):
    """A payload the bulk decode leaves to the validating decoder, read again by ``json.loads``."""


def _reparse(_payload: Mapping[str, Any]) -> Any:
    raise _Reparse


_BULK_BY_KIND: dict[Any, Callable[[Mapping[str, Any]], Event]] = {}


def _bulk_by_kind() -> dict[Any, Callable[[Mapping[str, Any]], Event]]:
    """:func:`_by_kind`'s builders for :func:`decode_payloads`, raising :class:`_Reparse` instead of validating a
    payload not of today's shape; ``Record`` (free-form ``data``) and classes not trusted are left out."""
    if not _BULK_BY_KIND:
        for kind, cls in EVENT_TYPES.items():
            build = None if cls is Record else _generate_builder(cls, _reparse)
            if build is not None:
                _BULK_BY_KIND[kind] = build
    return _BULK_BY_KIND


def decode_payloads(texts: Sequence[str]) -> list[Event]:
    """The events of stored payload texts (the ledger's read path): one JSON parse for all of them, then
    :func:`trusted_event` of each. Raises ``ValueError`` (or ``TypeError``/``KeyError``) for a payload that is
    not an event.

    The parse is ``orjson``'s (a third faster than ``json.loads``), used only where it gives exactly what
    ``json.loads`` gives: for the payloads of the typed event kinds, whose values are only strings, ``true``,
    ``false`` and ``null`` (Decimals and times are stored as text), on which the two parsers agree. Whatever else
    (a text orjson refuses, e.g. a number too large for it or ``NaN``; a ``Record``, whose ``data`` may hold
    numbers; a kind not trusted; a payload not of today's shape, rebuilt by the validating decoder) is parsed
    by ``json.loads``, as before."""
    if not texts:
        return []
    try:
        parsed = _orjson_loads("[" + ",".join(texts) + "]")
    except ValueError:  # orjson.JSONDecodeError: json.loads decides (and says what is wrong)
        return _decode_slowly(texts)
    if len(parsed) != len(texts):  # a text holding more (or less) than one value: not a payload
        return _decode_slowly(texts)
    builders = _bulk_by_kind()
    out: list[Event] = []
    append = out.append
    for payload, text in zip(parsed, texts):
        build = builders.get(payload.get("kind")) if type(payload) is dict else None
        if build is not None:
            try:
                append(build(payload))
                continue
            except _Reparse:
                pass
        append(trusted_event(json.loads(text)))
    return out


def _decode_slowly(texts: Sequence[str]) -> list[Event]:
    """:func:`decode_payloads` through ``json.loads`` alone (its errors, as before round 3)."""
    builders = _by_kind()
    slow = event_from_payload
    return [builders.get(p.get("kind"), slow)(p) for p in json.loads("[" + ",".join(texts) + "]")]

