"""Money and quantities: ``decimal.Decimal`` only, and the one rounding policy of taxreport.

Rounding policy (the only one in the code base):

* Quantities and amounts are kept **exactly** as the source gave them (exchange fills, CSV cells) and
  every computation runs on unrounded Decimals with 50 significant digits (``MONEY_CONTEXT``).
* Quantities are never rounded by taxreport itself; order sizes are truncated to the exchange's
  step by ccxt's ``amount_to_precision`` at the exchange edge.
* Fiat amounts are rounded to the cent (``0.01``) with ROUND_HALF_UP **only when presented**
  (reports, JSON, tables). Totals are summed from unrounded values and rounded once, so a total can
  differ by a cent from the sum of the rounded lines; reports state this.
* When a lot's cost is split between the part sold and the part kept, the sold share
  ``cost * taken / held`` is quantized to 1e-20 of a currency unit (ROUND_HALF_EVEN) and the kept
  part is the exact remainder, so matched + remaining cost always equals the cost acquired exactly
  (:func:`taxreport.lots.pools.share`). 1e-20 is far below the cent: presented amounts are unaffected.
* ``float`` never enters: :func:`parse_decimal` refuses floats, NaN and infinities.

Bounds at the door (issue #12 item 7): every number an importer or a command reads from a user or a
file goes through :func:`parse_amount`, which also refuses magnitudes of :data:`MAX_UNITS` (1e15) or
more, non-zero magnitudes below :data:`MIN_MAGNITUDE` (1e-30) and more than :data:`MAX_DIGITS` (30)
significant digits (``1e400``, ``1E+30``, ``0.1234…`` with 40 digits), so such a value is a one-line
``file:line: field: reason`` at import instead of an overflow in a report. :func:`parse_decimal`
itself stays unbounded: it also reads back computed values the ledger stored (a price ``quote ÷
base`` carries the full 50 digits).
"""

from __future__ import annotations

import decimal
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Callable, TypeVar

PRECISION = 50
MONEY_CONTEXT = decimal.Context(
    prec=PRECISION,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)


F = TypeVar("F", bound=Callable[..., Any])


def in_money_context(fn: F) -> F:
    """Run ``fn`` in :data:`MONEY_CONTEXT` (50 digits, half-even), whatever the thread's context is: a library
    may change it for good (ccxt's ``decimal_to_precision`` sets the thread's rounding to half-up and traps
    underflow), and the tax engine's divisions and quantizations (:mod:`taxreport.gains`, the rebalancer's
    resumed engine) must not depend on what else ran in the process before."""
    import functools

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with decimal.localcontext(MONEY_CONTEXT):
            return fn(*args, **kwargs)

    return run  # type: ignore[return-value]
# Every thread that starts after import, and this one, compute with 50 digits.
decimal.DefaultContext.prec = PRECISION
decimal.getcontext().prec = PRECISION

_WIDE = decimal.Context(prec=1000, Emax=999999, Emin=-999999)
CENT = Decimal("0.01")
ZERO = Decimal(0)


def D(value: str | int | Decimal) -> Decimal:
    """Short constructor for literals in code and tests: ``D("0.1")``. Refuses floats."""
    return parse_decimal(value)


def parse_decimal(value: object, *, what: str = "number") -> Decimal:
    """Parse a text/int/Decimal into a finite Decimal, or raise ``ValueError`` naming ``what``.

    Accepts Java's scientific zeros (``0E-8``), surrounding spaces and thousands separators are
    refused (ambiguous between locales). Floats are refused: they are never exact.
    """
    if isinstance(value, str):  # the common case first (every cell of every imported row)
        text = value.strip()
        if not text:
            raise ValueError(f"{what}: empty")
        if "," in text:
            raise ValueError(f"{what}: {value!r} has a comma; use '.' as decimal point and no separators")
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{what}: {value!r} is not a number") from None
    elif isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"{what}: refusing binary float {value!r}; pass text or Decimal")
    elif isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    else:
        raise ValueError(f"{what}: unsupported type {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{what}: {value!r} is not a finite number")
    return result


MAX_UNITS = Decimal("1e15")  # no quantity, price, fee or amount of a real history reaches 10^15
MIN_MAGNITUDE = Decimal("1e-30")  # nor is finer than 10^-30 (wei is 10^-18)
MAX_DIGITS = 30


_MAX_ADJUSTED = MAX_UNITS.adjusted()
_MIN_ADJUSTED = MIN_MAGNITUDE.adjusted()


def check_bounds(value: Decimal, *, what: str = "number", text: object = None) -> Decimal:
    """``value`` when it is within the sane range of an amount read from outside, else ``ValueError``
    naming ``what`` (see the module docstring). ``text`` is the value as written, for the message."""
    if value.is_zero():
        return value
    # adjusted() is the exponent of the leading digit: no arithmetic, so 1E+999999999 cannot overflow
    adjusted = value.adjusted()
    if _MIN_ADJUSTED <= adjusted < _MAX_ADJUSTED and (
            # a text of at most MAX_DIGITS characters cannot hold more significant digits (the usual case)
            (type(text) is str and len(text) <= MAX_DIGITS) or _significant_digits(value) <= MAX_DIGITS):
        return value
    raw = str(text).strip() if text is not None else str(value)
    shown = repr(raw if len(raw) <= 40 else raw[:37] + "...")
    if adjusted >= _MAX_ADJUSTED:
        raise ValueError(f"{what}: {shown} is out of range (must be below 1e15)")
    if adjusted < _MIN_ADJUSTED:
        raise ValueError(f"{what}: {shown} is out of range (must be 0 or at least 1e-30 in size)")
    raise ValueError(f"{what}: {shown} has more than {MAX_DIGITS} significant digits")


def _significant_digits(value: Decimal) -> int:
    return len("".join(map(str, value.as_tuple().digits)).strip("0"))


def parse_amount(value: object, *, what: str = "number") -> Decimal:
    """:func:`parse_decimal` for a number read from a file or a user (quantity, price, fee, value):
    also refuses values outside the bounds of :func:`check_bounds`. Zeros of any exponent (``0E-18``)
    are zero."""
    if type(value) is str and len(value) <= MAX_DIGITS and "," not in value:
        # the usual cell, accepted without the general path (which gives every refusal its message): a text of
        # at most MAX_DIGITS characters has at most that many digits; Decimal() trims spaces as strip() does
        try:
            quick = Decimal(value)
        except InvalidOperation:
            quick = None
        if quick is not None and quick.is_finite():
            if quick.is_zero():
                return ZERO
            if _MIN_ADJUSTED <= quick.adjusted() < _MAX_ADJUSTED:
                return quick
    result = parse_decimal(value, what=what)
    if result.is_zero():
        return ZERO
    return check_bounds(result, what=what, text=value)


def unit_price(total: Decimal, quantity: Decimal) -> Decimal:
    """The price of ``quantity`` units that cost ``total``, such that ``quantity * price`` (computed, as
    everywhere, with :data:`PRECISION` digits) gives ``total`` back **exactly**.

    ``total / quantity`` often does not terminate (1.06265576 USDC for 0.00506778 TAO); rounded to 50
    digits, ``quantity * price`` would come back 1e-47 off and a ledger balance would read
    ``-336.95679024000…0001`` instead of OKX's ``-336.95679024``. The quotient is therefore taken with
    10 more digits: its error times ``quantity`` is then below half a unit of the 50th digit of
    ``total``, so the product rounds back to ``total`` (checked; the plain quotient is the fallback)."""
    price = decimal.Context(prec=PRECISION + 10).divide(total, quantity)
    if quantity * price == total:
        return price
    return total / quantity


def quantize_money(value: Decimal, unit: Decimal = CENT) -> Decimal:
    """Round a fiat amount for presentation (ROUND_HALF_UP to the cent by default). A negative amount that
    rounds to zero is zero: ``0.00``, never ``-0.00`` (a loss of a fraction of a cent shows as nothing lost)."""
    rounded = value.quantize(unit, rounding=ROUND_HALF_UP)
    return rounded if rounded or not rounded.is_signed() else rounded.copy_abs()


def decimal_str(value: Decimal) -> str:
    """Canonical text of a Decimal: no exponent, no trailing zeros (``0E-8`` -> ``0``).

    Used for storage and hashing, so equal numbers always have equal text, whatever the decimal context of the
    caller (its ``capitals``, precision or rounding change nothing here).
    """
    if not value:  # zero of any exponent and sign (faster than ``value == 0``, same answer, NaN included)
        return "0"
    text = str(value)
    # str() writes a Decimal without an exponent exactly as normalize()+"f" would, but for trailing zeros
    # after the point (the common case, read back from a file: "35460.00"); any other text takes the
    # general path below (tests/test_import_fast.py checks the two agree)
    if "E" not in text and "e" not in text and len(text) < 900:  # (a context with capitals=0 writes "7.6e-7")
        return text.rstrip("0").rstrip(".") if "." in text else text
    # normalize() under a context wide enough for any stored value: never rounds (a price from
    # unit_price() has up to 60 digits and must be stored as it is)
    return format(value.normalize(_WIDE), "f")


def money_str(value: Decimal, unit: Decimal = CENT) -> str:
    """Rounded presentation text of a fiat amount, e.g. ``"1234.50"``."""
    return format(quantize_money(value, unit), "f")
