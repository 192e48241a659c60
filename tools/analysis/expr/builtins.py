"""Builtin functions: expr-lang's (len, all, filter, sum, ...) and Argo's environment functions.

Each builtin has a static ``check`` (argument types -> result type, raising CompileError like
expr's ``Validate``) and a runtime ``run``. Predicate arguments arrive at runtime as Python
callables ``(element, index) -> value``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tools.analysis.durations import parse_duration
from tools.analysis.expr import gonum
from tools.analysis.expr import types as t
from tools.analysis.expr.errors import CompileError, EvalError

Predicate = Callable[[object, int], object]


@dataclass(frozen=True)
class Builtin:
    name: str
    min_args: int
    max_args: int
    check: Callable[[list[t.Type]], t.Type]
    run: Callable[[list[object]], object]


def _collection_arg(name: str, arg: t.Type) -> None:
    if arg.kind != "array" and not t.is_unknown(arg):
        raise CompileError(f"builtin {name} takes only array (got {arg})")


def _array(name: str, value: object) -> list[object]:
    if not isinstance(value, list):
        raise EvalError(f"cannot iterate over {t.go_name(value)} in {name}")
    return value


def _pred(value: object) -> Predicate:
    assert callable(value)
    return value


def _truth(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise EvalError(f"predicate of {name} returned {t.go_name(value)}, expected bool")
    return value


# --- predicates ----------------------------------------------------------------------------


def _check_bool_predicate(name: str) -> Callable[[list[t.Type]], t.Type]:
    def check(args: list[t.Type]) -> t.Type:
        _collection_arg(name, args[0])
        if args[1] != t.BOOL and not t.is_unknown(args[1]):
            raise CompileError(f"predicate should return boolean (got {args[1]})")
        return t.BOOL

    return check


def _all(args: list[object]) -> object:
    pred = _pred(args[1])
    return all(_truth("all", pred(v, i)) for i, v in enumerate(_array("all", args[0])))


def _any(args: list[object]) -> object:
    pred = _pred(args[1])
    return any(_truth("any", pred(v, i)) for i, v in enumerate(_array("any", args[0])))


def _none(args: list[object]) -> object:
    pred = _pred(args[1])
    return not any(_truth("none", pred(v, i)) for i, v in enumerate(_array("none", args[0])))


def _matching(name: str, args: list[object]) -> list[tuple[int, object]]:
    pred = _pred(args[1])
    items = _array(name, args[0])
    return [(i, v) for i, v in enumerate(items) if _truth(name, pred(v, i))]


def _check_filter(args: list[t.Type]) -> t.Type:
    _check_bool_predicate("filter")(args)
    return args[0] if args[0].kind == "array" else t.array_of(t.ANY)


def _check_map(args: list[t.Type]) -> t.Type:
    _collection_arg("map", args[0])
    return t.array_of(args[1])


def _map(args: list[object]) -> object:
    pred = _pred(args[1])
    return [pred(v, i) for i, v in enumerate(_array("map", args[0]))]


def _check_find(args: list[t.Type]) -> t.Type:
    _check_bool_predicate("find")(args)
    return t.elem_of(args[0])


def _find(args: list[object], *, last: bool = False, index: bool = False) -> object:
    # Like expr's compiled loops: stop at the first hit (findLast* walk from the end).
    pred = _pred(args[1])
    items = _array("find", args[0])
    order = range(len(items) - 1, -1, -1) if last else range(len(items))
    for i in order:
        if _truth("find", pred(items[i], i)):
            return i if index else items[i]
    return -1 if index else None


# --- aggregates ----------------------------------------------------------------------------


def _numbers(name: str, values: Sequence[object]) -> list[int | float]:
    out: list[int | float] = []
    for value in values:
        if isinstance(value, list):
            out.extend(_numbers(name, value))
        elif t.is_num_value(value):
            out.append(value)  # type: ignore[arg-type]
        else:
            raise EvalError(f"invalid argument for {name} (type {t.go_name(value)})")
    return out


def _check_aggregate(name: str, result: t.Type | None) -> Callable[[list[t.Type]], t.Type]:
    def check(args: list[t.Type]) -> t.Type:
        for arg in args:
            if t.is_unknown(arg) or arg.kind == "array":
                return result or t.ANY
            if not t.is_number(arg):
                raise CompileError(f"invalid argument for {name} (type {arg})")
        return result or args[0]

    return check


def _min_max(
    name: str, pick: Callable[[list[int | float]], object]
) -> Callable[[list[object]], object]:
    def run(args: list[object]) -> object:
        values = _numbers(name, args)
        # Like expr, keep the first value unless a later one compares smaller/greater, so a
        # NaN in first place wins and a later NaN is skipped (Python's min/max do the same).
        return pick(values) if values else None

    return run


def _mean(args: list[object]) -> object:
    values = _numbers("mean", args)
    return float(sum(values)) / len(values) if values else 0.0


def _median(args: list[object]) -> object:
    values = _numbers("median", args)
    return float(statistics.median(values)) if values else 0.0


def _check_sum(args: list[t.Type]) -> t.Type:
    _collection_arg("sum", args[0])
    elem = args[1] if len(args) > 1 else t.elem_of(args[0])
    if t.is_number(elem) or t.is_unknown(elem):
        return elem if t.is_number(elem) else t.ANY
    raise CompileError(f"invalid argument for sum (type {args[0]})")


def _sum(args: list[object]) -> object:
    items = _array("sum", args[0])
    if len(args) > 1:
        pred = _pred(args[1])
        items = [pred(v, i) for i, v in enumerate(items)]
    values = _numbers("sum", items)
    if all(isinstance(v, int) for v in values):
        return gonum.wrap(sum(int(v) for v in values))  # Go int addition wraps around
    return math.fsum(values) if not any(math.isinf(v) for v in values) else sum(values)


def _check_count(args: list[t.Type]) -> t.Type:
    _check_bool_predicate("count")(args)
    return t.INT


# --- single values -------------------------------------------------------------------------


def _check_len(args: list[t.Type]) -> t.Type:
    if args[0].kind in ("array", "string") or t.is_unknown(args[0]):
        return t.INT
    raise CompileError(f"invalid argument for len (type {args[0]})")


def _len(args: list[object]) -> object:
    value = args[0]
    if isinstance(value, list | str):
        return len(value)
    raise EvalError(f"invalid argument for len (type {t.go_name(value)})")


def _check_first(name: str) -> Callable[[list[t.Type]], t.Type]:
    def check(args: list[t.Type]) -> t.Type:
        if t.is_unknown(args[0]):
            return t.ANY
        if args[0].kind == "array":
            return t.elem_of(args[0])
        raise CompileError(f"cannot get {name} element from {args[0]}")

    return check


def _first(args: list[object]) -> object:
    value = args[0]
    return value[0] if isinstance(value, list) and value else None


def _last(args: list[object]) -> object:
    value = args[0]
    return value[-1] if isinstance(value, list) and value else None


def _check_number_arg(name: str, result: t.Type | None) -> Callable[[list[t.Type]], t.Type]:
    def check(args: list[t.Type]) -> t.Type:
        if t.is_number(args[0]):
            return result or args[0]
        if t.is_unknown(args[0]):
            return result or t.ANY
        raise CompileError(f"invalid argument for {name} (type {args[0]})")

    return check


def _number_arg(name: str, value: object) -> int | float:
    if not t.is_num_value(value):
        raise EvalError(f"invalid argument for {name} (type {t.go_name(value)})")
    return value  # type: ignore[return-value]


def _round_like(name: str, fn: Callable[[float], float]) -> Callable[[list[object]], object]:
    def run(args: list[object]) -> object:
        value = float(_number_arg(name, args[0]))
        return value if math.isnan(value) or math.isinf(value) else float(fn(value))

    return run


def _go_round(value: float) -> float:
    """Go's math.Round: half away from zero."""
    return math.copysign(math.floor(abs(value) + 0.5), value)


def _strconv(parse: Callable[..., object], text: str, *args: str) -> object:
    """A ``strconv`` parse of ``text`` whose failure is the expression's error."""
    try:
        return parse(text, *args)
    except ValueError as exc:
        raise EvalError(str(exc)) from None


def _to_int(args: list[object]) -> object:
    value = args[0]
    if isinstance(value, str):
        return _strconv(gonum.parse_int, value, "Atoi")
    number = _number_arg("int", value)
    if isinstance(number, float):
        return gonum.float_to_int(number)
    return number


def _to_float(args: list[object]) -> object:
    value = args[0]
    if isinstance(value, str):
        return _strconv(gonum.parse_float, value)
    return float(_number_arg("float", value))


def _to_string(args: list[object]) -> object:
    value = args[0]
    if isinstance(value, float):
        return t.format_float(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "<nil>" if value is None else str(value)


def _check_any_to(result: t.Type) -> Callable[[list[t.Type]], t.Type]:
    return lambda _args: result


# --- Argo's environment functions (utils/evaluate/evaluate.go) ------------------------------


def _check_float_param(name: str) -> Callable[[list[t.Type]], t.Type]:
    def check(args: list[t.Type]) -> t.Type:
        if t.is_number(args[0]) or t.is_unknown(args[0]):
            return t.BOOL
        raise CompileError(f"cannot use {args[0]} as argument (type float64) to call {name}")

    return check


def _is_nan(args: list[object]) -> object:
    return math.isnan(float(_number_arg("isNaN", args[0])))


def _is_inf(args: list[object]) -> object:
    return math.isinf(float(_number_arg("isInf", args[0])))


def _as_int(args: list[object]) -> object:
    value = args[0]
    if isinstance(value, str):
        return _strconv(gonum.parse_int, value)
    if isinstance(value, float):
        return gonum.float_to_int(value)
    if t.is_num_value(value):
        return value
    raise EvalError("asInt: type not supported")


def _as_float(args: list[object]) -> object:
    value = args[0]
    if isinstance(value, str):
        return _strconv(gonum.parse_float, value)
    if t.is_num_value(value):
        return float(value)  # type: ignore[arg-type]
    raise EvalError("asFloat: type not supported")


# `isNil` and `default` look at the provider's whole result, not at their argument: the
# evaluator appends that result as a trailing argument (see NEEDS_WHOLE_RESULT).


def _is_nil(args: list[object]) -> object:
    return args[-1] is None


def _default(args: list[object]) -> object:
    return args[1] if args[-1] is None else args[-1]


# --- time ----------------------------------------------------------------------------------


def _now(_args: list[object]) -> object:
    return datetime.now(UTC)


def _duration(args: list[object]) -> object:
    if not isinstance(args[0], str):
        raise EvalError(f"duration: expected string, got {t.go_name(args[0])}")
    try:
        return parse_duration(args[0])
    except ValueError as exc:
        raise EvalError(str(exc)) from None


def _check_duration(args: list[t.Type]) -> t.Type:
    if args[0] == t.STRING or t.is_unknown(args[0]):
        return t.DURATION
    raise CompileError(f"cannot use {args[0]} as argument (type string) to call duration")


def _date(args: list[object]) -> object:
    if not isinstance(args[0], str):
        raise EvalError(f"date: expected string, got {t.go_name(args[0])}")
    try:
        parsed = datetime.fromisoformat(args[0].replace("Z", "+00:00"))
    except ValueError as exc:
        raise EvalError(f"date: {exc}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _abs(args: list[object]) -> object:
    value = abs(_number_arg("abs", args[0]))
    return gonum.wrap(value) if type(value) is int else value  # abs(MinInt64) stays negative


def _b(
    name: str,
    lo: int,
    hi: int,
    check: Callable[[list[t.Type]], t.Type],
    run: Callable[[list[object]], object],
) -> Builtin:
    return Builtin(name, lo, hi, check, run)


VARIADIC = 1 << 16
BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        _b("len", 1, 1, _check_len, _len),
        _b("all", 2, 2, _check_bool_predicate("all"), _all),
        _b("any", 2, 2, _check_bool_predicate("any"), _any),
        _b("none", 2, 2, _check_bool_predicate("none"), _none),
        _b("one", 2, 2, _check_bool_predicate("one"), lambda a: len(_matching("one", a)) == 1),
        _b("filter", 2, 2, _check_filter, lambda a: [v for _, v in _matching("filter", a)]),
        _b("map", 2, 2, _check_map, _map),
        _b("count", 2, 2, _check_count, lambda a: len(_matching("count", a))),
        _b("find", 2, 2, _check_find, _find),
        _b("findLast", 2, 2, _check_find, lambda a: _find(a, last=True)),
        _b("findIndex", 2, 2, _check_count, lambda a: _find(a, index=True)),
        _b("findLastIndex", 2, 2, _check_count, lambda a: _find(a, last=True, index=True)),
        _b("sum", 1, 2, _check_sum, _sum),
        _b("mean", 1, VARIADIC, _check_aggregate("mean", t.FLOAT), _mean),
        _b("median", 1, VARIADIC, _check_aggregate("median", t.FLOAT), _median),
        _b("min", 1, VARIADIC, _check_aggregate("min", None), _min_max("min", min)),
        _b("max", 1, VARIADIC, _check_aggregate("max", None), _min_max("max", max)),
        _b("first", 1, 1, _check_first("first"), _first),
        _b("last", 1, 1, _check_first("last"), _last),
        _b("abs", 1, 1, _check_number_arg("abs", None), _abs),
        _b("ceil", 1, 1, _check_number_arg("ceil", t.FLOAT), _round_like("ceil", math.ceil)),
        _b("floor", 1, 1, _check_number_arg("floor", t.FLOAT), _round_like("floor", math.floor)),
        _b("round", 1, 1, _check_number_arg("round", t.FLOAT), _round_like("round", _go_round)),
        _b("int", 1, 1, _check_any_to(t.INT), _to_int),
        _b("float", 1, 1, _check_any_to(t.FLOAT), _to_float),
        _b("string", 1, 1, _check_any_to(t.STRING), _to_string),
        _b("now", 0, 0, _check_any_to(t.TIME), _now),
        _b("duration", 1, 1, _check_duration, _duration),
        _b("date", 1, 1, _check_any_to(t.TIME), _date),
        # Argo Rollouts' additions to the environment.
        _b("isNaN", 1, 1, _check_float_param("isNaN"), _is_nan),
        _b("isInf", 1, 1, _check_float_param("isInf"), _is_inf),
        _b("asInt", 1, 1, _check_any_to(t.INT), _as_int),
        _b("asFloat", 1, 1, _check_any_to(t.FLOAT), _as_float),
        _b("isNil", 1, 1, _check_any_to(t.BOOL), _is_nil),
        _b("default", 2, 2, _check_any_to(t.ANY), _default),
    )
}
# Builtins that receive the provider's whole result as an extra trailing argument.
NEEDS_WHOLE_RESULT = frozenset({"isNil", "default"})
