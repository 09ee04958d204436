"""Helpers shared by the command modules: opening the ledger, output formats, dates, tables."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import click
import orjson

from taxreport.errors import InputError, TaxreportError


def open_ledger(ctx: click.Context, *, readonly: bool = False, must_exist: bool = False):  # noqa: ANN201
    """The ledger (a :class:`taxreport.ledger.Ledger`) named by ``--db``/``$TAXREPORT_DB``, opened once
    per command.

    Commands that report from the ledger pass ``must_exist=True``: a SQLite file that does not exist (a
    mistyped ``--db``) is an error, never a new empty ledger reported as "no gains".

    Commands that only read pass ``readonly=True``: nothing is migrated or written, and an archived or
    handed-over SQLite copy on a read-only folder or file can be read. Other commands open a SQLite file
    they cannot write read-only too (their first write is then refused with a one-line reason)."""
    root = ctx.find_root()
    root.ensure_object(dict)
    if "ledger" not in root.obj:
        from sqlalchemy.exc import SQLAlchemyError

        from taxreport.ledger import Ledger

        url = ledger_url(ctx)
        if must_exist:
            _require_existing(url)
        try:
            root.obj["ledger"] = Ledger(url, readonly=True if readonly else None)
        except SQLAlchemyError as exc:
            raise TaxreportError(f"cannot open the ledger at {_safe_url(url)}: {exc.__class__.__name__}: "
                                 f"{str(exc).splitlines()[0]}") from exc
        except ImportError as exc:  # a URL whose database driver is not installed (e.g. mysql://)
            raise TaxreportError(f"cannot open the ledger at {_safe_url(url)}: its database driver is not "
                                 f"installed ({exc}); use a file path, sqlite:///… or postgresql+psycopg://…"
                                 ) from exc
        except Exception as exc:
            # Alembic is imported only when a schema must be migrated (its import alone costs ~0.4 s).
            from alembic.util import CommandError as AlembicCommandError

            if isinstance(exc, AlembicCommandError):  # e.g. a schema revision from a newer taxreport
                raise TaxreportError(f"cannot open the ledger at {_safe_url(url)}: cannot bring its schema up to "
                                     f"date ({str(exc).splitlines()[0]}); was it written by a newer taxreport?"
                                     ) from exc
            raise
        root.call_on_close(root.obj["ledger"].close)
    return root.obj["ledger"]


def ledger_url(ctx: click.Context) -> str:
    """The ledger's URL named by ``--db``/``$TAXREPORT_DB`` (or the default file), as :func:`open_ledger`
    opens it."""
    from taxreport.config import database_url

    try:
        return database_url((ctx.find_root().obj or {}).get("db"))
    except OSError as exc:  # the folder of a file path cannot be created
        raise TaxreportError(f"cannot create the ledger's folder {exc.filename}: {exc.strerror}") from exc


def _require_existing(url: str) -> None:
    """A SQLite file URL must name an existing file (plain string check: no SQLAlchemy import here)."""
    if not url.startswith("sqlite:///") or ":memory:" in url:
        return
    path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
    if not path.exists():
        raise TaxreportError(f"no ledger at {path}: nothing has been written there yet (check --db or "
                             "$TAXREPORT_DB; import your history first with `taxreport import ...`)")


def _safe_url(url: str) -> str:
    """A database URL with its password masked."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "<database>"


def option_group(*opts: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """One decorator applying click options in the order they are listed (as stacked decorators would)."""
    def apply(f: Callable[..., Any]) -> Callable[..., Any]:
        for opt in reversed(opts):
            f = opt(f)
        return f
    return apply


def format_option(*choices: str) -> Callable:
    options = choices or ("table", "json")
    return click.option("--format", "fmt", type=click.Choice(options), default=options[0], show_default=True,
                        help="Output format; json is for scripts.")


def to_jsonable(value: Any) -> Any:
    """Decimals become strings (exact), times ISO text, containers recursively."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (Decimal, date)):  # datetime is a date
        return _json_default(value)
    return value


def _json_default(value: Any) -> Any:
    """:func:`to_jsonable`'s conversions of the values JSON has no type for (orjson's ``default``)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# Two-space indent like json.dumps(indent=2); datetimes go through _json_default (UTC, "Z") rather than
# orjson's own format; a non-string key is refused (and then handled by the json module, as before).
_ORJSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_PASSTHROUGH_DATETIME


def json_text(value: Any) -> str:
    """The ``--format json`` document of ``value``: the text ``json.dumps(to_jsonable(value), indent=2,
    ensure_ascii=False)`` writes, in one pass through orjson's C encoder (the pure-Python indenting encoder
    and the second walk of :func:`to_jsonable` were ~40% of a large ``gains`` call). Anything orjson
    refuses (a non-string key, an integer over 64 bits, a string with a lone surrogate, a type neither
    knows) takes the former path, so it is written, or refused, exactly as before. The one difference: a
    float below 1e-4 is written in plain notation (``0.00001``, not ``1e-05``), the same number."""
    try:
        return orjson.dumps(value, default=_json_default, option=_ORJSON_OPTIONS).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(to_jsonable(value), indent=2, ensure_ascii=False)


def echo_json(value: Any) -> None:
    click.echo(json_text(value))


def parse_when(text: str | None, *, what: str, end_of_day: bool = False) -> datetime | None:
    """``2024-03-01`` (UTC midnight, or the next midnight with ``end_of_day``) or ISO 8601 with offset."""
    if text is None:
        return None
    from datetime import timedelta

    from taxreport.model.events import parse_time

    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            return parse_time(text, what=what)
        except ValueError as exc:
            raise InputError(f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time with offset",
                             field=what) from exc
    moment = datetime.combine(day, time(0), tzinfo=timezone.utc)
    return moment + timedelta(days=1) if end_of_day else moment


def print_table(title: str | None, columns: Sequence[tuple[str, str] | Any], rows: Iterable[Sequence[Any]]) -> None:
    """A rich table that never splits nor cuts a figure; ``columns`` are ``(header, justify)`` pairs or
    :class:`taxreport.cli.fit.Col` (free text that may wrap between words, columns to leave out first).

    The table is laid out as it always was (rich, ``overflow="fold"``); when that keeps every word of every cell
    whole on one line it is printed as before, byte for byte. Otherwise (rich folded a figure: ``5000.0`` /
    ``0`` on an 80-column terminal) it goes through :func:`taxreport.cli.fit.print_fitted`: the ``drop``
    columns are left out, else one line of ``header=value`` fields per row. A ``(header, justify)`` pair
    becomes ``Col(header, justify, wrap=justify == "left")``: text on the left, figures on the right."""
    from rich.table import Table

    from taxreport.cli.fit import Col, is_whole, print_fitted

    cols = [c if isinstance(c, Col) else Col(c[0], c[1], wrap=c[1] == "left") for c in columns]
    rows = [list(row) for row in rows]
    out = console()
    table = Table(title=title, show_lines=False, header_style="bold")
    for col in cols:
        table.add_column(col.header, justify=col.justify, overflow="fold")  # type: ignore[arg-type]
    cells = [[_cell(v) for v in row] for row in rows]
    for row in cells:
        table.add_row(*row)
    if is_whole(table, cells, out.width):
        out.print(table)
    else:
        print_fitted(title, cols, rows)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def console():  # noqa: ANN201
    from rich.console import Console

    return Console()


def parse_pairs(text: str, *, option: str) -> list[tuple[str, str]]:
    """``BTC=50,ETH=30`` -> ``[("BTC", "50"), ("ETH", "30")]``; a repeated name is refused (a dict
    would silently keep the last one)."""
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InputError(f"{item!r} is not NAME=NUMBER (e.g. BTC=50,ETH=30,SOL=20)", field=option)
        if name.strip() in seen:
            raise InputError(f"{name.strip()} is given twice", field=option)
        seen.add(name.strip())
        pairs.append((name.strip(), value.strip()))
    if not pairs:
        raise InputError("empty (e.g. BTC=50,ETH=30,SOL=20)", field=option)
    return pairs


def asset_numbers(text: str, option: str) -> dict[str, Decimal]:
    """``BTC=0.1,eth=1.2`` -> ``{"BTC": Decimal("0.1"), "ETH": Decimal("1.2")}`` (exact; an asset given
    twice, in any case, is refused)."""
    from taxreport.model.assets import normalise_asset
    from taxreport.model.money import parse_decimal

    out: dict[str, Decimal] = {}
    for name, value in parse_pairs(text, option=option):
        try:
            asset = normalise_asset(name)
            number = parse_decimal(value, what=asset)
        except ValueError as exc:
            raise InputError(str(exc), field=option) from None
        if asset in out:
            raise InputError(f"{asset} is given twice", field=option)
        out[asset] = number
    return out


def okx_time_zone_option() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--time-zone ZONE``, declared once for every command that reads OKX exports (``import okx``,
    ``reconcile okx``): the zone of the Time column for a file whose metadata line names none (OKX writes the
    account's display time zone). The command receives it resolved by the one resolver,
    :func:`taxreport.importers.okx.common.resolve_zone` (``(tzinfo, label)``), or None; a bad zone is refused
    in one line before any work. The file's own ``Time Zone:`` always wins
    (:func:`taxreport.importers.okx.common.read_okx_file`)."""
    def resolve(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        from taxreport.importers.okx.common import resolve_zone

        try:
            return resolve_zone(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param, param_hint="--time-zone") from None

    return click.option("--time-zone", "time_zone", default=None, metavar="ZONE", callback=resolve,
                        help="Zone of the Time column for a file whose metadata line names none (OKX writes the "
                             "display time zone of your account): UTC+2, UTC-3:30 or an IANA name like "
                             "Europe/Rome. A file's own 'Time Zone:' always wins. Default: UTC.")
