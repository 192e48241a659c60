"""Static types of the checker and Go-style names of runtime values.

Argo hands expr a Go environment, so error messages name Go types (``float64``, ``[]float64``,
``interface {}``); we keep those names so messages read like the controller's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal


@dataclass(frozen=True)
class Type:
    kind: str  # any nil bool int float string array time duration
    elem: Type | None = None

    def __str__(self) -> str:
        if self.kind == "array":
            return f"[]{self.elem}"
        return _GO_NAMES[self.kind]


_GO_NAMES = {
    "any": "interface {}",
    "nil": "<nil>",
    "bool": "bool",
    "int": "int",
    "float": "float64",
    "string": "string",
    "time": "time.Time",
    "duration": "time.Duration",
}

ANY = Type("any")
NIL = Type("nil")
BOOL = Type("bool")
INT = Type("int")
FLOAT = Type("float")
STRING = Type("string")
TIME = Type("time")
DURATION = Type("duration")


def array_of(elem: Type) -> Type:
    return Type("array", elem)


def is_unknown(t: Type) -> bool:
    return t.kind in ("any", "nil")


def is_number(t: Type) -> bool:
    return t.kind in ("int", "float")


def elem_of(t: Type) -> Type:
    return t.elem if t.kind == "array" and t.elem is not None else ANY


def type_of(value: object) -> Type:
    """Static type of a runtime value (used for environment variables and literals)."""
    if value is None:
        return NIL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, str):
        return STRING
    if isinstance(value, datetime):
        return TIME
    if isinstance(value, timedelta):
        return DURATION
    if isinstance(value, list):
        elems = {type_of(v) for v in value}
        return array_of(elems.pop() if len(elems) == 1 else ANY)
    return ANY


def go_name(value: object) -> str:
    """Go type name of a runtime value, for runtime error messages."""
    if isinstance(value, list):
        return "[]float64" if value and all(type(v) is float for v in value) else "[]interface {}"
    return str(type_of(value))


def is_num_value(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def format_float(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``: shortest digits, no exponent."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return format(Decimal(repr(value)).normalize(), "f")
