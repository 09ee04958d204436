"""Risk-profile presets for ``basket create --preset NAME``, read from the user's own presets file.

OKX's Smart Portfolio guide speaks of risk profiles (conservative / low / medium / higher growth), but
we found no published OKX page that gives the allocation of each, so taxreport ships NO preset
weights (inventing them would put made-up numbers in front of money). A user who has allocations
they trust writes them, with where they come from, in ``<config dir>/presets.toml`` (or the file
given by ``--presets FILE``)::

    [conservative]
    weights = { BTC = 60, ETH = 30, USDC = 10 }
    source = "my adviser's letter of 2026-01-05"      # required: where the numbers come from

    [higher-growth]
    weights = { BTC = 40, ETH = 30, SOL = 20, DOGE = 10 }
    source = "..."

Each table names a preset (``--preset higher-growth``); ``weights`` is checked exactly as a basket's
``[weights]`` (2–20 assets, positive, summing to exactly 100) when the basket is created. Every bad
entry is refused with the file, line and field; nothing is guessed.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from taxreport.errors import InputError
from taxreport.model.money import parse_decimal

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
_KEYS = ("weights", "source", "description")


@dataclass(frozen=True)
class Preset:
    """One named allocation from the user's presets file."""

    name: str
    weights: dict[str, Decimal]
    source: str
    description: str = ""
    file: str = ""
    line: int | None = None  # of its ``weights`` (for error messages)


def presets_path() -> Path:
    """``<config dir>/presets.toml``."""
    from taxreport.config import config_dir

    return config_dir() / "presets.toml"


def _line_of(text: str, table: str, key: str | None = None) -> int | None:
    current = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[\s*([^\]]+?)\s*\]", line)
        if header:
            current = header.group(1).strip("\"'")
            if key is None and current == table:
                return number
            continue
        if key is not None and current == table and re.match(r"^\s*" + re.escape(key) + r"\s*=", line):
            return number
    return None


def load_presets(path: Path | None = None) -> tuple[Path, dict[str, Preset]]:
    """Every preset in the file (``{}`` when the default file does not exist; a named file must)."""
    from taxreport.importers.base import read_text

    file = path or presets_path()
    if not file.is_file():
        if path is not None:
            raise InputError("no such presets file", file=str(file))
        return file, {}
    text = read_text(file)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(f"not valid TOML: {exc}", file=str(file), line=line) from None
    out: dict[str, Preset] = {}
    for name, table in data.items():
        def fail(reason: str, key: str | None = None, name: str = name) -> InputError:
            return InputError(reason, file=str(file), line=_line_of(text, name, key),
                              field=f"{name}.{key}" if key else name)

        if not isinstance(table, Mapping):
            raise fail("must be a table: [NAME] with weights = { BTC = 60, ETH = 40 } and source = \"...\"")
        if not _NAME.match(name):
            raise fail(f"{name!r} must be 1-40 letters, digits, '-' or '_'")
        unknown = [k for k in table if k not in _KEYS]
        if unknown:
            raise fail(f"unknown key (allowed: {', '.join(_KEYS)})", unknown[0])
        source = table.get("source")
        if not isinstance(source, str) or not source.strip():
            raise fail("missing: say where these weights come from (source = \"...\")", "source")
        raw = table.get("weights")
        if not isinstance(raw, Mapping) or not raw:
            raise fail("missing: weights = { BTC = 60, ETH = 40 }", "weights")
        weights: dict[str, Decimal] = {}
        for asset, value in raw.items():
            if isinstance(value, (bool, float)) or not isinstance(value, (int, str)):
                raise fail(f"{asset} must be an exact number (an integer or a quoted decimal such as "
                           f"\"33.34\"), got {value!r}", "weights")
            try:
                weights[str(asset)] = parse_decimal(value, what=f"weights.{asset}")
            except ValueError as exc:
                raise fail(str(exc), "weights") from None
        description = table.get("description", "")
        if not isinstance(description, str):
            raise fail("must be a string", "description")
        out[name] = Preset(name, weights, source.strip(), description.strip(), str(file),
                           _line_of(text, name, "weights"))
    return file, out


def find_preset(name: str, path: Path | None = None) -> Preset:
    """The preset ``name``, or a one-line refusal naming the file and what it offers."""
    file, presets = load_presets(path)
    if name in presets:
        return presets[name]
    if not presets:
        raise InputError(f"no preset {name!r}: taxreport ships none (we found no published OKX allocation to "
                         f"cite); write your own in {file} (see `taxreport basket create --help`)", field="--preset")
    raise InputError(f"no preset {name!r} in {file} (it has: {', '.join(sorted(presets))})", field="--preset")
