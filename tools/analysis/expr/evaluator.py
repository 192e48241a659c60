"""Tree-walking evaluator with expr-lang's runtime rules (Go number semantics, nil handling).

Limits mirrored from expr v1.17.8's VM (vm/vm.go), which Argo runs with its defaults:

* memory budget: ``MEMORY_BUDGET`` = ``conf.DefaultMemoryBudget`` (1e6). Every array the run
  allocates adds its length: a range ``m..n`` (OpRange, counted *before* it is built, so
  ``len(0..1000000000)`` fails at once), an array literal that is not constant (OpArray), the
  results of ``map`` and ``filter`` (OpArray after the loop). ``memGrow`` fails with
  "memory budget exceeded" as soon as the running total reaches the budget (``>=``), so a
  range of 1,000,000 elements is already too much. The budget is per evaluation.
* evaluation steps: ``STEP_LIMIT``. Not an expr-lang limit (the controller has none); our own
  guard so that a predicate of thousands of nodes over a range of a million elements ends
  with an Error in seconds instead of running for hours. No real condition comes near it.
* integers are Go's int64 and wrap around (gonum.py); ``matches`` is Go's RE2 regexp
  (goregexp.py).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from tools.analysis.expr import ast, gonum, goregexp
from tools.analysis.expr import types as t
from tools.analysis.expr.builtins import BUILTINS, NEEDS_WHOLE_RESULT
from tools.analysis.expr.errors import EvalError

# conf/config.go: DefaultMemoryBudget; vm/vm.go: memGrow.
MEMORY_BUDGET = 1_000_000
MEMORY_BUDGET_EXCEEDED = "memory budget exceeded"
# Our own bound on evaluated syntax nodes per run (about a second per million here).
STEP_LIMIT = 5_000_000

_INT_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}
_ORDER: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


# Node class -> evaluator method name (built on first use; predicates evaluate per element).
_METHODS: dict[type, str] = {}


class Evaluator:
    def __init__(self, env: Mapping[str, object], whole_result: object) -> None:
        self.env = env
        self.whole_result = whole_result
        self.scopes: list[tuple[object, int]] = []
        self.memory = 0
        self.steps = 0

    def grow(self, size: int, node: ast.Node) -> None:
        """vm.memGrow: count an allocation of ``size`` elements against the budget."""
        self.memory += max(0, size)
        if self.memory >= MEMORY_BUDGET:
            raise EvalError(MEMORY_BUDGET_EXCEEDED, pos=node.pos)

    def eval(self, node: ast.Node) -> object:
        self.steps += 1
        if self.steps > STEP_LIMIT:
            raise EvalError(
                f"evaluation step limit exceeded ({STEP_LIMIT} steps; a limit of this tool, "
                "not of Argo Rollouts)",
                pos=node.pos,
            )
        kind = type(node)
        name = _METHODS.get(kind)
        if name is None:
            name = _METHODS[kind] = f"_{kind.__name__.lower()}"
        result: object = getattr(self, name)(node)
        return result

    def _literal(self, node: ast.Literal) -> object:
        # A constant array (folded at compile time) is handed out as a copy, never shared.
        return list(node.value) if isinstance(node.value, list) else node.value

    def _name(self, node: ast.Name) -> object:
        return self.env[node.name]

    def _pointer(self, node: ast.Pointer) -> object:
        element, index = self.scopes[-1]
        return index if node.name == "index" else element

    def _arraylit(self, node: ast.ArrayLit) -> object:
        items = [self.eval(item) for item in node.items]
        self.grow(len(items), node)
        return items

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
        if type(value) is int:
            return gonum.wrap(-value) if node.op == "-" else value
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
                if t.is_num_value(left) and t.is_num_value(right):
                    left, right = _go_numbers(left, right)
                return bool(_ORDER[op](left, right))
            raise _mismatch(op, left, right, node)
        if op == "in":
            if not isinstance(right, list):
                raise _mismatch(op, left, right, node)
            return any(equal(left, item) for item in right)
        if op == "matches" and (left is None or right is None):
            return False  # OpMatches: a nil operand does not match
        if op in ("matches", "contains", "startsWith", "endsWith"):
            if not (isinstance(left, str) and isinstance(right, str)):
                raise _mismatch(op, left, right, node)
            return _string_op(op, left, right, node)
        if op == "..":
            if type(left) is int and type(right) is int:
                # OpRange / runtime.MakeRange: size = max - min + 1 in Go int arithmetic
                # (so a size that wraps to <= 0 is an empty range), counted before building.
                size = max(0, gonum.wrap(right - left + 1))
                self.grow(size, node)
                return list(range(left, left + size))
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
        if node.mapped is not None or node.throws:
            return self._optimized_search(node)
        builtin = BUILTINS[node.name]
        args = [self.eval(arg) for arg in node.args]
        if node.name in NEEDS_WHOLE_RESULT:
            args.append(self.whole_result)
        try:
            value = builtin.run(args)
        except EvalError as exc:
            raise EvalError(exc.message, pos=node.pos) from None
        except (OverflowError, ValueError, ZeroDivisionError) as exc:
            raise EvalError(f"{node.name}: {exc}", pos=node.pos) from None
        if node.name in ("map", "filter") and isinstance(value, list):
            self.grow(len(value), node)  # OpArray after the loop
        return value

    def _optimized_search(self, node: ast.Call) -> object:
        """``filter``/``find``/``findLast`` as the optimizer rewrote them (optimizer.py)."""
        items = self.eval(node.args[0])
        if not isinstance(items, list):
            raise EvalError(f"cannot iterate over {t.go_name(items)} in {node.name}", pos=node.pos)
        predicate = self.eval(node.args[1])
        assert callable(predicate)

        def pick(element: object, index: int) -> object:
            if node.mapped is None:
                return element
            self.scopes.append((element, index))
            try:
                return self.eval(node.mapped)
            finally:
                self.scopes.pop()

        def hit(element: object, index: int) -> bool:
            value = predicate(element, index)
            if not isinstance(value, bool):
                raise EvalError(
                    f"predicate of {node.name} returned {t.go_name(value)}, expected bool",
                    pos=node.pos,
                )
            return value

        if node.name == "filter":
            found = [pick(v, i) for i, v in enumerate(items) if hit(v, i)]
            self.grow(len(found), node)
            return found
        order = range(len(items) - 1, -1, -1) if node.name == "findLast" else range(len(items))
        for i in order:
            if hit(items[i], i):
                return pick(items[i], i)
        if node.throws:
            # compiler.go: what filter(...)[0] / [-1] would have failed with.
            raise EvalError("reflect: slice index out of range", pos=node.pos)
        return None


def equal(left: object, right: object) -> bool:
    """expr's runtime.Equal: numbers compare by value across int/float; else same type and value."""
    if t.is_num_value(left) and t.is_num_value(right):
        left, right = _go_numbers(left, right)
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


def _go_numbers(left: Any, right: Any) -> tuple[Any, Any]:
    """Mixed int/float operands: Go converts the int to float64 first (runtime helpers)."""
    if type(left) is int and type(right) is float:
        return float(left), right
    if type(left) is float and type(right) is int:
        return left, float(right)
    return left, right


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
        if op in ("+", "-", "*"):
            if both_int:
                # Go int64 arithmetic wraps around (gonum.wrap).
                return gonum.wrap(_INT_OPS[op](left, right))
            return float(_INT_OPS[op](float(a), float(b)))
        if op == "/":
            return gonum.divide(float(a), float(b))
        if op == "%":
            if not both_int:
                raise _mismatch(op, left, right, node)
            if b == 0:
                raise EvalError("integer divide by zero", pos=node.pos)
            return gonum.modulo(left, right)  # type: ignore[arg-type]
        if op == "**":
            return gonum.power(float(a), float(b))
    if op == "+":
        if isinstance(left, str) and isinstance(right, str):
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


def _string_op(op: str, left: str, right: str, node: ast.Binary) -> bool:
    if op == "contains":
        return right in left
    if op == "startsWith":
        return left.startswith(right)
    if op == "endsWith":
        return left.endswith(right)
    try:
        return goregexp.matches(left, right)
    except goregexp.RegexpError as exc:
        raise EvalError(exc.message, pos=node.pos) from None


def _mismatch(op: str, left: object, right: object, node: ast.Node) -> EvalError:
    return EvalError(
        f"invalid operation: {op} (mismatched types {t.go_name(left)} and {t.go_name(right)})",
        pos=node.pos,
    )


def _show(value: object) -> str:
    return t.format_float(value) if isinstance(value, float) else repr(value)
