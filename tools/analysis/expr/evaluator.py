"""Tree-walking evaluator with expr-lang's runtime rules (Go number semantics, nil handling)."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from tools.analysis.expr import ast
from tools.analysis.expr import types as t
from tools.analysis.expr.builtins import BUILTINS, NEEDS_WHOLE_RESULT
from tools.analysis.expr.errors import EvalError

_ORDER: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


class Evaluator:
    def __init__(self, env: Mapping[str, object], whole_result: object) -> None:
        self.env = env
        self.whole_result = whole_result
        self.scopes: list[tuple[object, int]] = []

    def eval(self, node: ast.Node) -> object:
        method = getattr(self, f"_{type(node).__name__.lower()}")
        return method(node)

    def _literal(self, node: ast.Literal) -> object:
        return node.value

    def _name(self, node: ast.Name) -> object:
        return self.env[node.name]

    def _pointer(self, node: ast.Pointer) -> object:
        element, index = self.scopes[-1]
        return index if node.name == "index" else element

    def _arraylit(self, node: ast.ArrayLit) -> object:
        return [self.eval(item) for item in node.items]

    def _closure(self, node: ast.Closure) -> object:
        def call(element: object, index: int) -> object:
            self.scopes.append((element, index))
            try:
                return self.eval(node.body)
            finally:
                self.scopes.pop()

        return call

    def _unary(self, node: ast.Unary) -> object:
        value = self.eval(node.operand)
        if node.op == "!":
            if not isinstance(value, bool):
                raise EvalError(f"invalid operation: ! {t.go_name(value)}", pos=node.pos)
            return not value
        if t.is_num_value(value) or isinstance(value, timedelta):
            return -value if node.op == "-" else value  # type: ignore[operator]
        raise EvalError(f"invalid operation: {node.op} {t.go_name(value)}", pos=node.pos)

    def _conditional(self, node: ast.Conditional) -> object:
        cond = self.eval(node.cond)
        if not isinstance(cond, bool):
            raise EvalError(f"non-bool {t.go_name(cond)} used as condition", pos=node.pos)
        return self.eval(node.then if cond else node.otherwise)

    def _binary(self, node: ast.Binary) -> object:
        op = node.op
        if op in ("&&", "||"):
            left = self.eval(node.left)
            if not isinstance(left, bool):
                raise _mismatch(op, left, None, node)
            if (op == "&&" and not left) or (op == "||" and left):
                return left
            right = self.eval(node.right)
            if not isinstance(right, bool):
                raise _mismatch(op, left, right, node)
            return right
        if op == "??":
            left = self.eval(node.left)
            return self.eval(node.right) if left is None else left
        left = self.eval(node.left)
        right = self.eval(node.right)
        if op == "==":
            return equal(left, right)
        if op == "!=":
            return not equal(left, right)
        if op in _ORDER:
            if _orderable(left, right):
                return bool(_ORDER[op](left, right))
            raise _mismatch(op, left, right, node)
        if op == "in":
            if not isinstance(right, list):
                raise _mismatch(op, left, right, node)
            return any(equal(left, item) for item in right)
        if op in ("matches", "contains", "startsWith", "endsWith"):
            if not (isinstance(left, str) and isinstance(right, str)):
                raise _mismatch(op, left, right, node)
            return _string_op(op, left, right, node)
        if op == "..":
            if type(left) is int and type(right) is int:
                return list(range(left, right + 1))
            raise _mismatch(op, left, right, node)
        return _arithmetic(op, left, right, node)

    def _index(self, node: ast.Index) -> object:
        target = self.eval(node.target)
        index = self.eval(node.index)
        if isinstance(target, list | str):
            if type(index) is not int:
                if isinstance(index, float) and index.is_integer():
                    index = int(index)
                else:
                    raise EvalError(
                        f"cannot use {t.go_name(index)} as index to {t.go_name(target)}",
                        pos=node.pos,
                    )
            size = len(target)
            position = index + size if index < 0 else index
            if not 0 <= position < size:
                raise EvalError(
                    f"index out of range: {index} (array length is {size})", pos=node.pos
                )
            return target[position]
        if target is None:
            raise EvalError(f"cannot fetch {_show(index)} from <nil>", pos=node.pos)
        raise EvalError(f"cannot fetch {_show(index)} from {t.go_name(target)}", pos=node.pos)

    def _slice(self, node: ast.Slice) -> object:
        target = self.eval(node.target)
        if not isinstance(target, list | str):
            raise EvalError(f"cannot slice {t.go_name(target)}", pos=node.pos)
        size = len(target)
        start = self.eval(node.start) if node.start is not None else 0
        stop = self.eval(node.stop) if node.stop is not None else size
        if type(start) is not int or type(stop) is not int:
            raise EvalError("slice bounds must be integers", pos=node.pos)
        start = max(0, start + size if start < 0 else start)
        stop = min(size, stop + size if stop < 0 else stop)
        if start > stop:
            raise EvalError(f"invalid slice indices: {stop} < {start}", pos=node.pos)
        return target[start:stop]

    def _member(self, node: ast.Member) -> object:
        target = self.eval(node.target)
        if target is None and node.optional:
            return None
        raise EvalError(f"cannot fetch {node.name} from {t.go_name(target)}", pos=node.pos)

    def _call(self, node: ast.Call) -> object:
        builtin = BUILTINS[node.name]
        args = [self.eval(arg) for arg in node.args]
        if node.name in NEEDS_WHOLE_RESULT:
            args.append(self.whole_result)
        try:
            return builtin.run(args)
        except EvalError as exc:
            raise EvalError(exc.message, pos=node.pos) from None
        except (OverflowError, ValueError, ZeroDivisionError) as exc:
            raise EvalError(f"{node.name}: {exc}", pos=node.pos) from None


def equal(left: object, right: object) -> bool:
    """expr's runtime.Equal: numbers compare by value across int/float; else same type and value."""
    if t.is_num_value(left) and t.is_num_value(right):
        return bool(left == right)
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            equal(a, b) for a, b in zip(left, right, strict=True)
        )
    if type(left) is not type(right):
        return False
    return left == right


def _orderable(left: object, right: object) -> bool:
    if t.is_num_value(left) and t.is_num_value(right):
        return True
    for kind in (str, datetime, timedelta):
        if isinstance(left, kind) and isinstance(right, kind):
            return True
    return False


def _arithmetic(op: str, left: object, right: object, node: ast.Binary) -> object:
    if t.is_num_value(left) and t.is_num_value(right):
        a: float = left  # type: ignore[assignment]
        b: float = right  # type: ignore[assignment]
        both_int = type(left) is int and type(right) is int
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return _go_divide(float(a), float(b))
        if op == "%":
            if not both_int:
                raise _mismatch(op, left, right, node)
            if b == 0:
                raise EvalError("integer divide by zero", pos=node.pos)
            return int(math.fmod(a, b))
        if op == "**":
            try:
                return math.pow(a, b)
            except (OverflowError, ValueError):
                return math.inf if abs(a) > 1 else math.nan
    if op == "+":
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        if isinstance(left, list) and isinstance(right, list):
            return left + right
        if isinstance(left, datetime) and isinstance(right, timedelta):
            return left + right
        if isinstance(left, timedelta) and isinstance(right, datetime | timedelta):
            return left + right
    if op == "-":
        if isinstance(left, datetime) and isinstance(right, datetime | timedelta):
            return left - right
        if isinstance(left, timedelta) and isinstance(right, timedelta):
            return left - right
    raise _mismatch(op, left, right, node)


def _go_divide(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _string_op(op: str, left: str, right: str, node: ast.Binary) -> bool:
    if op == "contains":
        return right in left
    if op == "startsWith":
        return left.startswith(right)
    if op == "endsWith":
        return left.endswith(right)
    try:
        return re.search(right, left) is not None
    except re.error as exc:
        raise EvalError(f"error parsing regexp: {exc}", pos=node.pos) from None


def _mismatch(op: str, left: object, right: object, node: ast.Node) -> EvalError:
    return EvalError(
        f"invalid operation: {op} (mismatched types {t.go_name(left)} and {t.go_name(right)})",
        pos=node.pos,
    )


def _show(value: object) -> str:
    return t.format_float(value) if isinstance(value, float) else repr(value)
