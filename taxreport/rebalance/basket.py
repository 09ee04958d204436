"""Baskets: load, validate and save the TOML file that defines a rebalancing basket.

Layout (every key but ``[weights]`` is optional and has the default shown)::

    name = "core"                 # default: the file name without .toml
    exchange = "okx"              # a ccxt exchange id
    account = "okx:main"          # ledger account the bot trades in (default "<exchange>:main")
    quote = "USDT"
    mode = "weekly"               # daily | weekly | threshold | hybrid | interval
    threshold = 5                 # the band: percentage points, or percent of target if band = "relative"
    band = "absolute"             # absolute | relative (a 15% band on a 20% target fires above 23%)
    daily_at = "00:00"            # UTC time of daily runs (and of weekly runs)
    weekly_on = "monday"          # weekday of weekly runs
    calendar = "daily"            # hybrid mode: check daily or weekly, trade only beyond the band
    every = "4h"                  # mode = "interval" only: 30m … 28d
    paper_account = "main"        # paper venue: baskets naming the same paper account share it
    cooldown_minutes = 5          # threshold checks no more often than this
    gate = 3                      # scheduled runs skip when no asset drifts more than this (pp); 0 = always
    min_notional = 5              # our own minimum order value in the quote asset (OKX spot gives none)
    min_investment = 100          # `basket invest` refuses less than this
    max_weight = 60               # optional cap on any one target weight (percent)
    [weights]
    BTC = 50
    ETH = 30
    SOL = 20
    [tax]                         # optional: tax preview and tax-aware policies (rebalance/tax_policy.py)
    jurisdiction = "us"

Rules: 2–20 assets; weights positive and summing to EXACTLY 100 (Decimal arithmetic: 33.33 + 33.33
+ 33.34 is fine, three times 33.333 is refused); asset symbols are upper-cased and case variants
(``btc`` and ``BTC``) count as duplicates; stablecoins may be members. The quote asset may be a member
only if it is a stablecoin (e.g. ``USDT = 10`` in a USDT-quoted basket is a 10% cash reserve: it needs
no market and is never traded itself); a non-stable quote asset as a member is refused because the
basket could not value or trade it against itself. Unknown keys are refused (a typo must not be
silently ignored) except inside an optional ``[extra]`` table, kept verbatim in ``Basket.extra``.

Every refusal is an :class:`~taxreport.errors.InputError` naming the file, the line and the field.
:func:`validate_markets` checks the members against an exchange's loaded markets.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from taxreport.errors import InputError
from taxreport.model.assets import is_stablecoin, normalise_asset
from taxreport.model.money import decimal_str, parse_decimal
from taxreport.rebalance.types import Basket

MODES = ("daily", "weekly", "threshold", "hybrid", "interval")
BANDS = ("absolute", "relative")
CALENDARS = ("daily", "weekly")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MIN_ASSETS, MAX_ASSETS = 2, 20
HUNDRED = Decimal(100)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
_EXCHANGE = re.compile(r"^[a-z0-9_]{2,30}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_KEYS = ("name", "exchange", "account", "quote", "mode", "threshold", "band", "daily_at", "weekly_on",
         "calendar", "cooldown_minutes", "gate", "min_notional", "min_investment", "max_weight",
         "weights", "extra", "api_url", "every", "paper_account", "tax")


def baskets_dir() -> Path:
    """Where named baskets live: ``<config dir>/baskets/NAME.toml``."""
    from taxreport.config import config_dir

    return config_dir() / "baskets"


# ----------------------------------------------------------------------------------------- loading

DIRECTORY = "is a directory, not a basket file (give a .toml file or a basket name)"

def load_basket(path: str | Path) -> Basket:
    """Read and validate one basket file; raise :class:`InputError` naming file, line and field."""
    from taxreport.importers.base import read_text

    path = Path(path)
    if path.is_dir():
        raise InputError(DIRECTORY, file=str(path))
    if not path.exists():
        raise InputError("no such basket file", file=str(path))
    text = read_text(path)  # unreadable or not UTF-8: InputError naming the file (and the byte)
    return parse_basket(text, file=str(path), default_name=path.stem)


def parse_basket(text: str, *, file: str = "<basket>", default_name: str | None = None) -> Basket:
    """Validate basket TOML text (see the module docstring for the rules)."""
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise InputError(f"not valid TOML: {exc}", file=file,
                         line=int(match.group(1)) if match else None) from None
    if default_name is None and file.endswith(".toml"):
        default_name = Path(file).stem
    return basket_from_mapping(data, file=file, text=text, default_name=default_name)


def basket_from_mapping(data: Mapping[str, Any], *, file: str = "<basket>", text: str = "",
                        default_name: str | None = None) -> Basket:
    """Validate an already-parsed mapping (TOML table or CLI options)."""

    def fail(field: str, reason: str, table: str | None = None) -> InputError:
        key = field.split(".")[-1]
        return InputError(reason, file=file, line=_line_of(text, key, table), field=field)

    unknown = [k for k in data if k not in _KEYS]
    if unknown:
        raise fail(unknown[0], f"unknown key (allowed: {', '.join(_KEYS)})")

    def text_field(key: str, default: str) -> str:
        value = data.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise fail(key, f"must be a non-empty string, got {value!r}")
        return value.strip()

    def number(key: str, default: Decimal | None, *, minimum: Decimal = Decimal(0),
               maximum: Decimal | None = None, positive: bool = False) -> Decimal | None:
        if key not in data:
            return default
        value = _to_decimal(data[key])
        if value is None:
            raise fail(key, f"must be a number, got {data[key]!r}")
        if value < minimum or (positive and value == 0) or (maximum is not None and value > maximum):
            bound = f"> {minimum}" if positive else f">= {minimum}"
            upper = f" and <= {maximum}" if maximum is not None else ""
            raise fail(key, f"must be {bound}{upper}, got {decimal_str(value)}")
        return value

    def choice(key: str, default: str, choices: tuple[str, ...]) -> str:
        value = text_field(key, default).lower()
        if value not in choices:
            raise fail(key, f"must be one of {', '.join(choices)}, got {data[key]!r}")
        return value

    if "name" not in data and not default_name:
        raise fail("name", "missing")
    name = text_field("name", default_name or "")
    if not _NAME.match(name):
        raise fail("name", f"{name!r} must be 1-40 letters, digits, '-' or '_' (it names a file)")
    exchange = text_field("exchange", "okx").lower()
    if not _EXCHANGE.match(exchange):
        raise fail("exchange", f"{exchange!r} is not a ccxt exchange id (e.g. okx, binance, kraken)")
    account = text_field("account", f"{exchange}:main")
    try:
        quote = normalise_asset(text_field("quote", "USDT"), what="quote")
    except ValueError as exc:
        raise fail("quote", str(exc).partition(": ")[2]) from None
    mode = choice("mode", "weekly", MODES)
    band = choice("band", "absolute", BANDS)
    threshold = number("threshold", Decimal(5), positive=True, maximum=HUNDRED)
    daily_at = text_field("daily_at", "00:00")
    if not _HHMM.match(daily_at):
        raise fail("daily_at", f"must be HH:MM (UTC, 24-hour), got {daily_at!r}")
    weekly_on = _weekday(text_field("weekly_on", "monday"))
    if weekly_on is None:
        raise fail("weekly_on", f"must be a weekday name (monday … sunday), got {data['weekly_on']!r}")
    calendar = choice("calendar", "daily", CALENDARS)
    every = None
    if "every" in data or mode == "interval":
        if mode != "interval":
            raise fail("every", "needs mode = \"interval\"")
        every = text_field("every", "")
        try:
            from taxreport.rebalance.runner import parse_every

            parse_every(every)
        except InputError as exc:
            raise fail("every", exc.reason) from None
    paper_account = None
    if "paper_account" in data:
        paper_account = text_field("paper_account", "")
        if not _NAME.match(paper_account):
            raise fail("paper_account", f"{paper_account!r} must be 1-40 letters, digits, '-' or '_'")
    cooldown = data.get("cooldown_minutes", 5)
    if isinstance(cooldown, bool) or not isinstance(cooldown, int) or cooldown < 0:
        raise fail("cooldown_minutes", f"must be a whole number of minutes >= 0, got {cooldown!r}")
    gate = number("gate", Decimal(3), maximum=HUNDRED)
    min_notional = number("min_notional", Decimal(5))
    min_investment = number("min_investment", Decimal(100))
    max_weight = number("max_weight", None, positive=True, maximum=HUNDRED)
    extra = data.get("extra", {})
    if not isinstance(extra, dict):
        raise fail("extra", "must be a table")

    raw = data.get("weights")
    if raw is None:
        raise fail("weights", "missing: add a [weights] table, e.g. BTC = 50, ETH = 30, SOL = 20")
    if not isinstance(raw, Mapping):
        raise fail("weights", "must be a table of ASSET = percent")
    weights: dict[str, Decimal] = {}
    spelled: dict[str, str] = {}
    for key, value in raw.items():
        field = f"weights.{key}"
        try:
            asset = normalise_asset(key)
        except ValueError:
            raise fail(field, f"{key!r} is not an asset symbol", "weights") from None
        if asset in weights:
            raise fail(field, f"duplicate asset: {key!r} and {spelled[asset]!r} are the same asset",
                       "weights")
        weight = _to_decimal(value)
        if weight is None or weight <= 0:
            raise fail(field, f"must be a positive percentage, got {value!r}", "weights")
        if max_weight is not None and weight > max_weight:
            raise fail(field, f"{decimal_str(weight)}% is above max_weight {decimal_str(max_weight)}%",
                       "weights")
        if asset == quote and not is_stablecoin(asset):
            raise fail(field, f"the quote asset {quote} can be a member only if it is a stablecoin",
                       "weights")
        weights[asset], spelled[asset] = weight, key
    if not MIN_ASSETS <= len(weights) <= MAX_ASSETS:
        raise fail("weights", f"needs {MIN_ASSETS}-{MAX_ASSETS} assets, got {len(weights)}")
    total = sum(weights.values(), Decimal(0))
    if total != HUNDRED:
        raise fail("weights", f"must sum to exactly 100, they sum to {decimal_str(total)}")

    api_url = data.get("api_url")
    if api_url is not None and (not isinstance(api_url, str) or not re.match(r"^https?://[^\s/]+", api_url)):
        raise fail("api_url", f"must be an http(s) URL such as https://eea.okx.com or http://127.0.0.1:8765, "
                              f"got {api_url!r}")

    from taxreport.rebalance.tax_policy import parse_tax_table

    tax = parse_tax_table(data.get("tax"), lambda f, reason: fail(f, reason, "tax" if "." in f else None))
    return Basket(name=name, exchange=exchange, account=account, quote=quote, weights=weights, mode=mode,
                  threshold=threshold, band=band, daily_at=daily_at, weekly_on=weekly_on,
                  cooldown_minutes=cooldown, gate=gate, min_notional=min_notional,
                  min_investment=min_investment, max_weight=max_weight, extra=dict(extra),
                  calendar=calendar, api_url=api_url, every=every, paper_account=paper_account, tax=tax)


def _to_decimal(value: Any) -> Decimal | None:
    if isinstance(value, (bool, float)) or not isinstance(value, (int, Decimal, str)):
        return None
    try:
        return parse_decimal(value)
    except ValueError:
        return None


def _weekday(text: str) -> str | None:
    low = text.lower()
    for day in WEEKDAYS:
        if low == day or (len(low) >= 3 and day.startswith(low)):
            return day
    return None


def _line_of(text: str, key: str, table: str | None) -> int | None:
    """Line number of ``key = …`` inside ``[table]`` (top level when None), for error messages."""
    if not text:
        return None
    current: str | None = None
    pattern = re.compile(r'^\s*["\']?' + re.escape(key) + r'["\']?\s*=')
    header_line = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[\s*([^\]]+?)\s*\]", line)
        if header:
            current = header.group(1).strip('"\'')
            if table is None and current.lower() == key.lower():
                header_line = number
            continue
        if current == table and pattern.match(line):
            return number
    return header_line


# --------------------------------------------------------------------------------------- resolving

def resolve_basket(name_or_file: str) -> tuple[Basket, Path]:
    """``--basket NAME_OR_FILE``: a path to a ``.toml`` file, or a name in :func:`baskets_dir`."""
    candidate = Path(name_or_file).expanduser()
    if name_or_file.endswith(".toml") or os.sep in name_or_file or "/" in name_or_file:
        if candidate.is_dir():
            raise InputError(DIRECTORY, file=str(candidate))
        if not candidate.is_file():
            saved = baskets_dir() / name_or_file
            if os.sep not in name_or_file and "/" not in name_or_file and saved.is_file():
                return load_basket(saved), saved  # `--basket core.toml`: the saved basket's own file
            raise InputError("no such basket file", file=str(candidate))
        return load_basket(candidate), candidate
    if not _NAME.match(name_or_file):
        raise InputError(f"{name_or_file!r} is neither a basket name nor a .toml file", field="--basket")
    path = baskets_dir() / f"{name_or_file}.toml"
    if not path.is_file():
        if candidate.is_dir():
            raise InputError(DIRECTORY, file=str(candidate))
        raise InputError(f"no basket named {name_or_file!r} (looked for {path}); create it with "
                         f"`taxreport basket create {name_or_file} --weights BTC=50,ETH=30,SOL=20`",
                         field="--basket")
    basket = load_basket(path)
    if basket.name != name_or_file:  # the name keys the ledger actor and the client order ids
        raise InputError(f"the file says name = {basket.name!r} but is found as {name_or_file!r}: rename "
                         f"the file to {basket.name}.toml or fix the name", file=str(path), field="name")
    return basket, path


def list_saved() -> list[tuple[Path, Basket | None, str | None]]:
    """Every ``*.toml`` in :func:`baskets_dir`: ``(path, basket, None)`` or ``(path, None, error)``."""
    folder = baskets_dir()
    result: list[tuple[Path, Basket | None, str | None]] = []
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        try:
            basket = load_basket(path)
        except InputError as exc:
            result.append((path, None, str(exc)))
            continue
        if basket.name != path.stem:
            result.append((path, None, f"{path}: name: the file says {basket.name!r}; `--basket "
                                       f"{path.stem}` refuses it (rename the file or fix the name)"))
        else:
            result.append((path, basket, None))
    return result


def validate_markets(basket: Basket, markets: Mapping[str, Any], *, file: str | None = None) -> None:
    """Refuse a basket whose members have no ``ASSET/QUOTE`` market among the exchange's loaded
    markets (``markets`` is keyed by ccxt symbol). The quote asset as a member needs no market."""
    missing = [f"{asset}/{basket.quote}" for asset in basket.weights
               if asset != basket.quote and f"{asset}/{basket.quote}" not in markets]
    if missing:
        raise InputError(f"no such market on {basket.exchange}: {', '.join(missing)}",
                         file=file, field="weights")


# ----------------------------------------------------------------------------------------- saving

def basket_to_dict(basket: Basket) -> dict[str, Any]:
    """Plain mapping (Decimals kept) in file order; what ``basket show --format json`` prints."""
    out: dict[str, Any] = {
        "name": basket.name, "exchange": basket.exchange, "account": basket.account, "quote": basket.quote,
        "mode": basket.mode, "threshold": basket.threshold, "band": basket.band, "daily_at": basket.daily_at,
        "weekly_on": basket.weekly_on, "calendar": getattr(basket, "calendar", "daily"),
        "cooldown_minutes": basket.cooldown_minutes, "gate": basket.gate, "min_notional": basket.min_notional,
        "min_investment": basket.min_investment,
    }
    if basket.max_weight is not None:
        out["max_weight"] = basket.max_weight
    if getattr(basket, "api_url", None):
        out["api_url"] = basket.api_url
    if basket.every is not None:
        out["every"] = basket.every
    if basket.paper_account is not None:
        out["paper_account"] = basket.paper_account
    out["weights"] = dict(basket.weights)
    if basket.extra:
        out["extra"] = dict(basket.extra)
    if basket.tax is not None:
        from dataclasses import asdict

        out["tax"] = asdict(basket.tax)
    return out


def basket_to_toml(basket: Basket) -> str:
    """Exact TOML text for a basket (numbers written as exact decimals, strings JSON-escaped, which
    TOML basic strings accept). ``parse_basket(basket_to_toml(b)) == b`` for every valid basket."""
    lines = [f"# taxreport basket: {basket.name}"]
    data = basket_to_dict(basket)
    for key, value in data.items():
        if key in ("weights", "extra", "tax"):
            continue
        lines.append(f"{key} = {_toml_value(value)}")
    lines.append("")
    lines.append("[weights]")
    for asset, weight in basket.weights.items():
        lines.append(f"{json.dumps(asset)} = {_toml_value(weight)}")
    if basket.extra:
        lines.append("")
        lines.append("[extra]")
        for key, value in basket.extra.items():
            lines.append(f"{json.dumps(str(key), ensure_ascii=False)} = {_toml_value(value)}")
    if basket.tax is not None:
        from taxreport.rebalance.tax_policy import tax_table_toml

        lines += ["", *tax_table_toml(basket.tax)]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise InputError(f"cannot write {type(value).__name__} values to a basket file", field="extra")


def save_basket(basket: Basket, path: Path | None = None, *, overwrite: bool = False) -> Path:
    """Write a basket atomically (temp file + rename); refuse to replace one unless ``overwrite``."""
    path = path or baskets_dir() / f"{basket.name}.toml"
    if path.exists() and not overwrite:
        raise InputError(f"basket {basket.name!r} exists already (use --force to replace it)", file=str(path))
    text = basket_to_toml(basket)
    parse_basket(text, file=str(path))  # never write a file we could not read back
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def check_investment(basket: Basket, amount: Decimal) -> None:
    """``basket invest AMOUNT``: refuse less than the basket's minimum investment (100 USDT default)."""
    if amount < basket.min_investment:
        raise InputError(f"{decimal_str(amount)} {basket.quote} is below the minimum investment of "
                         f"{decimal_str(basket.min_investment)} {basket.quote}", field="AMOUNT")
