"""Reading events back: :func:`event_from_payload` is the exact inverse of
:meth:`taxreport.model.events.Event.to_payload` (Decimals from their canonical text, times from UTC
text, enums from their values). Decoders are computed once per event class, so loading a large ledger
stays fast."""

from __future__ import annotations

import copy
import dataclasses
import enum
import hashlib
import json
import sys
import typing
from collections import deque
from datetime import datetime, timezone
from decimal import Decimal
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from itertools import groupby, repeat
from operator import attrgetter, contains, is_, itemgetter
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

import msgspec
from orjson import loads as _orjson_loads  # type: ignore[import-not-found, unused-ignore]

from taxreport.model.events import (
    EVENT_TYPES,
    AccountDeclaration,
    BasisSupplement,
    Deposit,
    Event,
    GiftIn,
    Income,
    Record,
    Reversal,
    Trade,
    Transfer,
    TransferLink,
    Withdrawal,
    canonical_json,
    format_time,
    parse_time,
)
from taxreport.model.events import _encode as _encode_value
from taxreport.model.money import decimal_str, parse_decimal


def event_from_payload(payload: Mapping[str, Any]) -> Event:
    """Rebuild an event from :meth:`Event.to_payload` output (the inverse, exactly)."""
    kind = _object(payload).get("kind")
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


# --- fast paths for the ledger's bulk write and read (issue 14) ---------------------------------------
#
# ``payload_json`` is ``canonical_json(event.to_payload())`` computed with per-class field encoders and one
# reusable C JSON encoder; ``trusted_event`` rebuilds an event from a payload the ledger itself wrote
# (validated by the event's ``__post_init__`` when it was written, and covered by the hash chain) without
# validating it again. Both are checked against the generic versions in tests/test_ledger_speed.py.

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_text = encode_basestring  # a str as json.dumps(..., ensure_ascii=False) writes it


def time_text(value: datetime) -> str:
    """:func:`~taxreport.model.events.format_time` of an event's time, faster for UTC times."""
    # Events hold UTC times (``Event.__post_init__``), for which isoformat is format_time's text, faster.
    if value.tzinfo is timezone.utc and value.year >= 1000:
        return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (value.year, value.month, value.day, value.hour,
                                                        value.minute, value.second, value.microsecond)
    return format_time(value)


def _plain_hint(hint: Any) -> Any:
    args = typing.get_args(hint)
    if typing.get_origin(hint) is typing.Union or (args and type(None) in args):
        inner = [a for a in args if a is not type(None)]
        hint = inner[0] if len(inner) == 1 else hint
    return hint


def _json_other(value: Any) -> str:
    """JSON of a field value not of its declared type (None included), as ``canonical_json`` writes it."""
    return "null" if value is None else _CANONICAL.encode(_encode_value(value))


def _json_time(value: Any) -> str:
    return '"' + time_text(value) + '"' if type(value) is datetime else _json_other(value)


def payload_json(event: Event) -> str:
    """The canonical JSON text of ``event.to_payload()`` (what the ledger stores and hashes), written
    directly field by field in sorted key order; equal to ``canonical_json(event.to_payload())``.

    An event class that overrides ``to_payload`` is encoded through its own method."""
    return payload_writer(type(event))(event, None)


_PAYLOAD_WRITERS: dict[type, Callable[[Any, str | None], str]] = {}


def payload_writer(cls: type) -> Callable[[Any, str | None], str]:
    """``write(event, time)``: :func:`payload_json` of an event of class ``cls``, by one function generated
    once per class from its fields (sorted key order, one straight-line expression per field, no reflection
    per event). ``time`` is ``time_text(event.time)`` when the caller already has it (the ledger's write
    path, which stores it beside the payload), else None. Checked against ``canonical_json(to_payload())``
    in tests/test_ledger_speed.py and tests/test_import_fast.py."""
    write = _PAYLOAD_WRITERS.get(cls)
    if write is not None:
        return write
    if cls.to_payload is not Event.to_payload:  # type: ignore[attr-defined]
        def write(event: Any, _time: str | None) -> str:
            return canonical_json(event.to_payload())
    else:
        env: dict[str, Any] = {"_text": _text, "_other": _json_other, "_dec": decimal_str,
                               "_time_json": _json_time, "_Decimal": Decimal, "_datetime": datetime,
                               "_Enum": enum.Enum}
        lines = ["def write(e, t):"]
        template = ""
        for i, (name, prefix, hint) in enumerate(_payload_fields(cls)):
            template += ("{" if i == 0 else ",") + prefix
            if name == "kind":
                template += _text(cls.kind)  # type: ignore[attr-defined]
                continue
            value = f"e.{name}"
            if name == "time":  # the caller's time text when it has one
                lines.append(f"    v = {value}")
                lines.append(f"    a{i} = '\"' + t + '\"' if t is not None and type(v) is _datetime else _time_json(v)")
            elif hint is str:
                lines.append(f"    v = {value}")
                lines.append(f"    a{i} = _text(v) if type(v) is str else _other(v)")
            elif hint is Decimal:
                lines.append(f"    v = {value}")
                lines.append(f"    a{i} = '\"' + _dec(v) + '\"' if type(v) is _Decimal else _other(v)")
            elif hint is datetime:
                lines.append(f"    a{i} = _time_json({value})")
            elif isinstance(hint, type) and issubclass(hint, enum.Enum):
                # each member's JSON text, looked up (an enum's .value is a slow property)
                env[f"_members{i}"] = {m: _text(m.value) if type(m.value) is str else _json_other(m) for m in hint}
                lines.append(f"    v = {value}")
                lines.append(f"    a{i} = _members{i}.get(v) if type(v) is _{hint.__name__} else None")
                lines.append(f"    if a{i} is None: a{i} = _other(v)")
                env[f"_{hint.__name__}"] = hint
            else:
                lines.append(f"    a{i} = _other({value})")
            template += "\x00" + f"a{i}" + "\x01"
        body = (template + "}").replace("{", "{{").replace("}", "}}").replace("\x00", "{").replace("\x01", "}")
        lines.append("    return f" + repr(body))
        exec("\n".join(lines), env)  # noqa: S102 - code generated from the dataclass fields above, no input
        write = env["write"]
    _PAYLOAD_WRITERS[cls] = write
    return write


def _payload_fields(cls: type) -> list[tuple[str, str, Any]]:
    """``(key, its '"key":' text, plain type hint)`` of a payload, in sorted key order (``kind`` included)."""
    hints = typing.get_type_hints(cls)
    entries = [(f.name, _text(f.name) + ":", _plain_hint(hints[f.name])) for f in dataclasses.fields(cls)]
    entries.append(("kind", '"kind":', None))
    return sorted(entries, key=lambda e: e[0])


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
    return _by_kind().get(_object(payload).get("kind"), event_from_payload)(payload)


def _object(payload: Any) -> Mapping[str, Any]:
    """``payload`` itself when it is a JSON object; else the ``ValueError`` every payload that is not an event gets
    (a bare number, string, list or ``null`` stored as a row's payload)."""
    if not isinstance(payload, Mapping):
        raise ValueError(f"payload: not a JSON object but {type(payload).__name__}")
    return payload


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


def _decode_as_before(texts: Sequence[str]) -> list[Event]:
    """:func:`decode_payloads` as it was before msgspec (round 6 of issue 14): one JSON parse for all of them, then
    :func:`trusted_event` of each. Raises ``ValueError`` (or ``TypeError``/``KeyError``) for a payload that is
    not an event. What :func:`decode_payloads` falls back to, and what it raises for a payload that does not decode.

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
    return [trusted_event(p) for p in json.loads("[" + ",".join(texts) + "]")]


# --- the read's bulk decode with msgspec (issue 14, round 6) -----------------------------------------------------------
#
# ``decode_payloads`` decodes a run of consecutive payloads of one event class with ONE msgspec call straight into
# objects of that class's layout, then fixes up the few fields msgspec is not asked to build. Every payload of the run
# must pass the checks below, which make the result exactly what :func:`_decode_as_before` (today's decode, kept as it
# was) builds from it; a run that does not pass them is split in halves and its small remainders are decoded by
# :func:`_decode_as_before`. A payload that does not decode at all raises what :func:`_decode_as_before` raises for the
# whole list (the same exception, the same text).
#
# What msgspec does, from its documentation (https://jcristharif.com/msgspec/supported-types.html), and what follows:
# - dataclasses: "During decoding, any extra fields are ignored. An error is raised if a field's type doesn't match or
#   if any required fields are missing." and "If a ``__post_init__`` method is defined on the dataclass, it is called
#   after the object is decoded." The class msgspec builds (:class:`_Reader`'s ``decode_as``) is a subclass of the event
#   class with ``__slots__ = ()`` (no new slot: the same layout, so each object's ``__class__`` is set back to the event
#   class afterwards), ``__post_init__ = None`` (msgspec calls none: the stored payload was validated when it was
#   written, as :func:`trusted_event` assumes) and its own ``__dataclass_fields__`` in which every field is required
#   (a payload missing a key is never completed with a default: today's decode sends it to the validating decoder).
#   Extra keys, and the ``kind`` key, are invisible to msgspec: they are checked on the text (:meth:`_Reader.read`).
# - "Unlike some other libraries (e.g. pydantic), ``msgspec`` won't perform any unsafe implicit conversion by default
#   ("strict" mode)." (usage.html): a ``str`` field refuses a number, ``null``, ``true``; a ``bool`` field refuses
#   anything but ``true``/``false``. Today's decode keeps such a value as it is, or validates it: never the same object
#   as msgspec's, so a run holding one goes to today's decode.
# - decimal: "All protocols will also decode `decimal.Decimal` values from ``int`` or ``float`` inputs. For JSON the
#   value is parsed directly from the serialized bytes" - not what today's decode gives for a number (``Decimal(float)``
#   of orjson's float), so Decimal fields are read as ``str`` (strict: a number is refused) and made by ``Decimal(text)``
#   here, today's very call (the exponent kept: ``"1.50"`` is ``Decimal('1.50')``).
# - datetime: msgspec reads "RFC3339 encoded" times but rounds digits past the sixth ("round to the closest
#   microsecond", _core.c) where ``datetime.fromisoformat`` truncates, and keeps other offsets: times are read as
#   ``str`` and made by ``datetime.fromisoformat`` here (today's call); a time that is not UTC after it (today: through
#   ``parse_time``) sends the run to today's decode.
# - Literal: "An error is raised during decoding if the value isn't in the set of valid values"; the value decoded is
#   the literal's own object. The shared texts (``_SHARED_TEXT``) are typed as a Literal of the values seen so far,
#   each ``sys.intern``-ed: msgspec returns that very object, so they come out interned as today's ``sys.intern`` gives
#   them, without a call per field. A value not seen yet fails the run's decode; the run's values are then collected
#   (:meth:`_Reader.learn`) and the decode repeated once with them.
# - enums: decoded by value to the member itself (``Side.BUY``), as today's lookup in ``_value2member_map_``.
# - strings: msgspec refuses what orjson refuses and ``json.loads`` accepts (an escaped lone surrogate: "invalid
#   utf-16 surrogate pair"; a raw one cannot be encoded to UTF-8), so a run holding one goes to today's decode, which
#   reads it with ``json.loads``; ``NaN``/``Infinity`` are refused by msgspec (numbers are refused anyway).

_DEC_ERRORS = (msgspec.ValidationError, msgspec.DecodeError, UnicodeError)
_VOCABULARY_CAP = 10_000  # distinct values per shared field typed as a Literal; past it, runs with new ones go slowly
#: each shared field's known values, ``value -> sys.intern(value)`` (the Literal types of the readers are made of them)
_VOCABULARY: dict[str, dict[str, str]] = {}
_SMALLEST_RUN = 8  # a run that fails the checks is halved down to this, then decoded by _decode_as_before
_set_class = object.__setattr__


class _Unread(Exception):
    """A run :meth:`_Reader.read` leaves to today's decode (a check it does not pass, a value msgspec refuses);
    ``odd``: the positions of the texts that fail the text checks, when they are what failed."""

    def __init__(self, odd: list[int] | None = None) -> None:
        super().__init__()
        self.odd = odd


class _Reader:
    """The msgspec decode of one event class's stored payloads (see above)."""

    def __init__(self, cls: type[Event]) -> None:
        hints = typing.get_type_hints(cls)
        self.cls = cls
        self.fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        #: what every payload of the class holds, outside any string, exactly once: its ``kind`` key, between two others
        #: (sorted keys: ``external_id`` is before ``kind`` in every class, ``note``/``source``/``time`` after it)
        self.needle = f',"kind":{_text(cls.kind)},'  # type: ignore[attr-defined]
        #: the commas of one canonical payload: one before each key but the first (its fields and ``kind``)
        self.commas = len(self.fields)
        self.shared: list[str] = []
        self.decimals: list[tuple[str, bool, Callable[[Any, Any], None]]] = []  # (field, optional, slot setter)
        self.times: list[tuple[str, bool, Callable[[Any, Any], None]]] = []
        self.plain: dict[str, Any] = {}  # fields msgspec decodes as they are: their type
        for f in self.fields:
            hint = hints[f.name]
            optional = type(None) in typing.get_args(hint)
            plain = _plain_hint(hint)
            if plain is Decimal:
                self.decimals.append((f.name, optional, _slot_setter(cls, f.name)))
            elif plain is datetime:
                self.times.append((f.name, optional, _slot_setter(cls, f.name)))
            elif plain is str and f.name in _SHARED_TEXT:
                self.shared.append(f.name)
            elif plain in (str, bool) or isinstance(plain, type) and issubclass(plain, enum.Enum):
                self.plain[f.name] = hint
            else:
                raise TypeError(f"{cls.__name__}.{f.name}: no msgspec read for {hint!r}")
        self.optional = {f.name for f in self.fields if type(None) in typing.get_args(hints[f.name])}
        self._built: tuple[int, ...] | None = None
        self.decode_as: type = cls
        self.decoder: Any = None
        self.scanner = msgspec.json.Decoder(list[msgspec.defstruct(  # type: ignore[misc]
            f"_{cls.__name__}Names", [(name, Any, None) for name in self.shared])])

    def _decoder(self) -> Any:
        """The msgspec decoder of a run (``list`` of :attr:`decode_as`), made again when the vocabulary grew."""
        sizes = tuple(len(_VOCABULARY.get(name, ())) for name in self.shared)
        if sizes == self._built:
            return self.decoder
        annotations: dict[str, Any] = {}
        for f in self.fields:
            name = f.name
            if name in self.shared:
                values = tuple(_VOCABULARY.get(name, {}).values()) or (_NO_VALUE,)
                kind: Any = typing.Literal[values]  # type: ignore[valid-type]
            elif name in self.plain:
                annotations[name] = self.plain[name]
                continue
            else:  # a Decimal or a time: its text, strictly a JSON string
                kind = str
            annotations[name] = kind | None if name in self.optional else kind
        required = {}
        for f in self.fields:
            g = copy.copy(f)
            g.default = g.default_factory = dataclasses.MISSING  # type: ignore[assignment]
            required[f.name] = g
        decode_as = type(f"_{self.cls.__name__}Read", (self.cls,), {
            "__slots__": (), "__post_init__": None, "__annotations__": annotations,
            "__dataclass_fields__": required, "__module__": __name__})
        decoder = msgspec.json.Decoder(list[decode_as])  # type: ignore[valid-type]
        if "__msgspec_cache__" not in decode_as.__dict__:  # msgspec would build another class (one cached higher up)
            raise RuntimeError(f"msgspec does not decode {decode_as.__name__} itself")
        self.decode_as, self.decoder, self._built = decode_as, decoder, sizes
        return decoder

    def learn(self, joined: str) -> bool:
        """Add the shared texts of a run to the vocabulary; True if any was new (and the vocabulary not full)."""
        try:
            names = self.scanner.decode(joined)
        except _DEC_ERRORS:
            return False
        grew = False
        for name in self.shared:
            known = _VOCABULARY.setdefault(name, {})
            new = {v for v in map(attrgetter(name), names) if type(v) is str and v not in known}
            if new and len(known) + len(new) <= _VOCABULARY_CAP:
                known.update((v, sys.intern(v)) for v in sorted(new))
                grew = True
        return grew

    def odd_texts(self, run: Sequence[str]) -> list[int]:
        """The positions of the texts of ``run`` that fail :meth:`read`'s text checks on their own (a comma or a
        bracket in a text, another kind...): the run around them is read, they are left to today's decode."""
        return [i for i, text in enumerate(run) if not text.startswith("{") or "[" in text or "]" in text
                or self.needle not in text or text.count(",") != self.commas]

    def read(self, run: Sequence[str], *, kinds_checked: bool = False) -> list[Event]:
        """The events of ``run`` (payloads claiming this class's kind), or :class:`_Unread`. ``kinds_checked``: every
        text of ``run`` is known to hold :attr:`needle` (the caller checked it)."""
        n = len(run)
        joined = "[" + ",".join(run) + "]"
        # Each text is exactly one JSON object of the array: it starts with "{" and no text holds a "[" or "]" (so a
        # text that left an object open would be followed by a "," and a "{" where a key must come: not JSON, which
        # msgspec refuses), and msgspec finds n objects (a text holding two would make more).
        if joined.find("[", 1) != -1 or joined.find("]", 0, len(joined) - 1) != -1 \
                or not all(map(str.startswith, run, repeat("{"))):
            raise _Unread(self.odd_texts(run))
        # Each text holds ',"kind":"<kind>",' outside any string (a "," in a string followed by an unescaped '"'
        # would close the string before 'kind': not JSON), i.e. a key "kind" with value "<kind>" in some object;
        # each object holds its class's fields (msgspec: all required), so at least ``commas`` commas; all the
        # commas, counted, are exactly that many per object plus the n - 1 between them: so each object holds its
        # fields and "kind" as its only keys, each once (no duplicate, no extra key, no nested object, no comma in a
        # string), and "kind" is the object's own key, whose value is the text's claimed kind.
        if not kinds_checked and not all(map(contains, run, repeat(self.needle))) \
                or joined.count(",") != (self.commas + 1) * n - 1:
            raise _Unread(self.odd_texts(run))
        decoder = self._decoder()
        try:
            objs = decoder.decode(joined)
        except _DEC_ERRORS:
            if not self.shared or not self.learn(joined):
                raise _Unread from None
            decoder = self._decoder()
            try:
                objs = decoder.decode(joined)
            except _DEC_ERRORS:
                raise _Unread from None
        if len(objs) != n:
            raise _Unread
        try:  # (each map below runs in C: no Python call per event)
            for name, optional, setter in self.decimals:
                texts = map(attrgetter(name), objs)
                values = map(_decimal_or_none, texts) if optional else map(Decimal, texts)
                deque(map(setter, objs, values), maxlen=0)
            for name, optional, setter in self.times:
                texts = map(attrgetter(name), objs)
                deque(map(setter, objs, map(_time_or_none, texts) if optional else map(_fromisoformat, texts)),
                      maxlen=0)
                zones = map(attrgetter(name + ".tzinfo"), objs if not optional else
                            [o for o in objs if getattr(o, name) is not None])
                if not all(map(is_, zones, repeat(timezone.utc))):
                    raise _Unread  # another offset (today: through parse_time), or none
        except (ValueError, ArithmeticError):  # a text Decimal or fromisoformat refuses: today's decode says what
            raise _Unread from None
        deque(map(_set_class, objs, repeat("__class__"), repeat(self.cls)), maxlen=0)
        return objs  # type: ignore[no-any-return]


_NO_VALUE = sys.intern("\x00taxreport: no value yet")  # the Literal of a shared field before any value is known
_fromisoformat = datetime.fromisoformat


def _decimal_or_none(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _time_or_none(text: str | None) -> datetime | None:
    return None if text is None else _fromisoformat(text)


_READERS: dict[str, _Reader] = {}


def _readers() -> dict[str, _Reader]:
    """The :class:`_Reader` of each stored kind read with msgspec: the trusted classes but ``Record`` (free-form data)."""
    if not _READERS:
        for kind, cls in EVENT_TYPES.items():
            if cls in TRUSTED_CLASSES and cls is not Record:
                try:
                    _READERS[kind] = _Reader(cls)
                except TypeError:  # a field of a type the reader does not make: today's decode reads the kind
                    continue
    return _READERS


def _claimed_kind(text: str) -> str | None:
    """The kind a payload's text names first (a routing guess only: :meth:`_Reader.read` checks it)."""
    at = text.find(',"kind":"')
    if at < 0:
        return None
    end = text.find('"', at + 9)
    return text[at + 9:end] if end > 0 else None


def decode_payloads(texts: Sequence[str]) -> list[Event]:
    """The events of stored payload texts (the ledger's read path), exactly as :func:`_decode_as_before` builds them
    (same classes, field values of the same types, Decimals with the same exponent, UTC times, the shared texts
    interned), faster: each run of consecutive payloads of one kind is decoded by msgspec at once
    (:class:`_Reader`); ``Record`` payloads, kinds not trusted and runs the reader leaves are decoded by
    :func:`_decode_as_before`. Raises what :func:`_decode_as_before` raises for ``texts`` (``ValueError``,
    ``TypeError``, ``KeyError``...) for a payload that is not an event."""
    if not texts:
        return []
    readers = _readers()
    first = readers.get(_claimed_kind(texts[0]))  # type: ignore[arg-type]
    if first is not None and all(map(contains, texts, repeat(first.needle))):  # one kind (an import's trades)
        runs: list[tuple[_Reader | None, Sequence[str]]] = [(first, texts)]
        checked = True
    else:
        claimed = [readers.get(_claimed_kind(t)) for t in texts]  # type: ignore[arg-type]
        runs, start, checked = [], 0, False
        for reader, group in groupby(claimed):
            size = sum(1 for _ in group)
            runs.append((reader, texts[start:start + size]))
            start += size
    out: list[Event] = []
    try:
        for reader, run in runs:
            out.extend(_decode_as_before(run) if reader is None else _read_run(reader, run, checked))
    except Exception:  # noqa: BLE001 - a payload that does not decode: what today's decode of the whole list raises
        return _decode_as_before(texts)
    return out


def _read_run(reader: _Reader, run: Sequence[str], kinds_checked: bool) -> list[Event]:
    """:meth:`_Reader.read` of ``run``; a run it leaves is halved, down to :data:`_SMALLEST_RUN` payloads decoded by
    :func:`_decode_as_before` (one odd payload costs a few small decodes, not the whole run's)."""
    try:
        return reader.read(run, kinds_checked=kinds_checked)
    except _Unread as unread:
        if unread.odd:  # the texts that fail the checks: today's decode for them, the reader for the rest
            out: list[Event] = []
            start = 0
            for _, group in groupby(enumerate(unread.odd), key=lambda item: item[1] - item[0]):
                odd = [at for _, at in group]
                if start < odd[0]:
                    out.extend(_read_run(reader, run[start:odd[0]], kinds_checked))
                out.extend(_decode_as_before(run[odd[0]:odd[-1] + 1]))
                start = odd[-1] + 1
            if start < len(run):
                out.extend(_read_run(reader, run[start:], kinds_checked))
            return out
        if len(run) <= _SMALLEST_RUN:
            return _decode_as_before(run)
        half = len(run) // 2
        return _read_run(reader, run[:half], kinds_checked) + _read_run(reader, run[half:], kinds_checked)


# --- the ledger's write: an event's row texts (taxreport.ledger.store writes them; an importer's fused path,
# taxreport.importers.fast_csv, writes the same texts straight from a file's cells) -----------------------------

_sha256 = hashlib.sha256
_JOINED: dict[tuple[str, ...], str] = {}  # the index text of each tuple of accounts or assets (a history has few)


def index_text(names: tuple[str, ...]) -> str:
    """The ``accounts``/``assets`` column's text of a tuple of names: ``",a,b,"`` (joined once per tuple)."""
    text = _JOINED.get(names)
    if text is None:
        text = "," + ",".join(names) + ","
        if len(_JOINED) < 100_000:
            _JOINED[names] = text
    return text


def encode_event(event: Event) -> tuple[str, str, str, str, str, str, str, str | None]:
    """An event encoded once for the write: ``(key, payload, content hash, time text, kind, accounts text,
    assets text, order_ref)``: its payload (:func:`payload_writer`), the payload's hash, its natural key, its
    time text (stored in its own column and inside the payload). The key of an event without an id is
    ``Event.natural_key``'s ``kind:source:sha256:<content hash>``, taken from the payload's hash already computed
    here (the same SHA-256 of the same canonical payload as ``Event.content_hash``) rather than encoding the
    event again."""
    cls = type(event)
    time = time_text(event.time)
    payload = payload_writer(cls)(event, time)
    content_hash = _sha256(payload.encode()).hexdigest()
    if event.external_id is None and cls.natural_key is _NATURAL_KEY and cls.content_hash is _CONTENT_HASH:
        key = f"{event.kind}:{event.source}:sha256:{content_hash[:32]}"
    else:
        key = event.natural_key
    return (key, payload, content_hash, time, event.kind, index_text(event.accounts), index_text(event.assets),
            event.order_ref)




_NATURAL_KEY = Event.natural_key
_CONTENT_HASH = Event.content_hash
