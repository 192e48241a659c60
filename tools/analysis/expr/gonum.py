"""Go's number rules, as the Argo controller (amd64, 64-bit ``int``) applies them.

expr-lang computes with Go ``int`` (int64 on the controller) and ``float64``. Go integer
arithmetic wraps around on overflow (two's complement, no error), so
``9223372036854775807 + 1`` is ``-9223372036854775808``; Python integers never overflow, so
every integer the evaluator produces goes through :func:`wrap`. Literals and string
conversions follow ``strconv``: out-of-range values are errors, not wrapped.
"""

from __future__ import annotations

import math
import re

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
_MODULUS = 2**64

# strconv.ParseInt(s, 10, 64) / strconv.Atoi: an optional sign and ASCII decimal digits only
# (no spaces, no underscores without a base prefix, no other Unicode digits).
_DECIMAL = re.compile(r"[+-]?[0-9]+\Z", re.ASCII)
# strconv.ParseFloat(s, 64): decimal or hexadecimal mantissa, optional exponent, or
# Inf/Infinity (signed or not) or NaN (unsigned) in any case; underscores only with a base
# prefix.
_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|0[xX](?:[0-9a-fA-F_]+\.?[0-9a-fA-F_]*|\.[0-9a-fA-F_]+)[pP][+-]?[0-9]+"
    r"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)\Z|[nN][aA][nN]\Z",
    re.ASCII,
)


class RangeError(ValueError):
    """A strconv conversion whose value does not fit (Go's ``strconv.ErrRange``)."""


def wrap(value: int) -> int:
    """Go int64 arithmetic: reduce modulo 2**64 into [-2**63, 2**63)."""
    if INT_MIN <= value <= INT_MAX:
        return value
    return (value - INT_MIN) % _MODULUS + INT_MIN


def float_to_int(value: float) -> int:
    """Go's ``int(f)`` on amd64: truncation; NaN, ±Inf and out-of-range give INT_MIN.

    The Go spec leaves out-of-range conversions implementation-defined; amd64's CVTTSD2SI
    returns the "integer indefinite" value 0x8000000000000000.
    """
    if math.isnan(value) or not -(2.0**63) <= value < 2.0**63:
        return INT_MIN
    return int(value)


def modulo(a: int, b: int) -> int:
    """Go's ``%`` on ints: the sign follows the dividend (truncated division).

    Raises ZeroDivisionError for b == 0 (Go panics with "integer divide by zero");
    INT_MIN % -1 is 0 in Go (no overflow trap).
    """
    if b == 0:
        raise ZeroDivisionError("integer divide by zero")
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def truncated_div(a: int, b: int) -> int:
    """Go's ``/`` on ints (rounds toward zero), wrapped like Go (INT_MIN / -1 is INT_MIN)."""
    q = abs(a) // abs(b)
    return wrap(-q if (a < 0) != (b < 0) else q)


def divide(a: float, b: float) -> float:
    """Go's ``/`` on float64 (IEEE 754): x/0 is ±Inf by the signs, 0/0 and NaN/0 are NaN."""
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def parse_int(text: str, func: str = "ParseInt") -> int:
    """``strconv.ParseInt(text, 10, 64)`` (``func="Atoi"`` for ``strconv.Atoi``)."""
    if not _DECIMAL.match(text):
        raise ValueError(f'strconv.{func}: parsing "{_quote(text)}": invalid syntax')
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise RangeError(f'strconv.{func}: parsing "{_quote(text)}": value out of range')
    return value


def parse_float(text: str) -> float:
    """``strconv.ParseFloat(text, 64)``; a finite literal beyond float64 is a range error."""
    if not _FLOAT.match(text) or "__" in text or text.endswith("_"):
        raise ValueError(f'strconv.ParseFloat: parsing "{_quote(text)}": invalid syntax')
    lowered = text.lower().lstrip("+-")
    if lowered.startswith("0x"):
        value = float.fromhex(text.replace("_", ""))
    else:
        if "_" in text:
            raise ValueError(f'strconv.ParseFloat: parsing "{_quote(text)}": invalid syntax')
        value = float(text)
    if math.isinf(value) and not lowered.startswith("inf"):
        raise RangeError(f'strconv.ParseFloat: parsing "{_quote(text)}": value out of range')
    return value


def power(x: float, y: float) -> float:
    """Go's ``math.Pow`` where Python's ``math.pow`` raises instead of returning ±Inf/NaN."""
    try:
        return math.pow(x, y)
    except ZeroDivisionError:
        return _zero_to_negative(x, y)
    except ValueError:
        if x == 0:
            return _zero_to_negative(x, y)
        return math.nan  # negative base, non-integer exponent
    except OverflowError:
        negative = x < 0 and _is_odd_integer(y)
        return -math.inf if negative else math.inf


def _zero_to_negative(x: float, y: float) -> float:
    # Pow(±0, y) for y an odd integer < 0 = ±Inf; for any other y < 0 = +Inf.
    if _is_odd_integer(y):
        return math.copysign(math.inf, x)
    return math.inf


def _is_odd_integer(y: float) -> bool:
    return math.isfinite(y) and y.is_integer() and abs(y) < 2**53 and int(y) % 2 == 1


def _quote(text: str) -> str:
    # strconv's error quotes the input with strconv.Quote; printable text is unchanged.
    return text.replace("\\", "\\\\").replace('"', '\\"')
