"""expr-lang's optimizer passes that change what a condition costs or whether it fails.

Argo compiles conditions with expr's defaults, which run ``optimizer.Optimize`` after type
checking. Most passes only make evaluation faster, but several remove an array allocation,
and allocations count against the VM's memory budget (see ``MEMORY_BUDGET`` in
evaluator.py): ``x in 0..10000000`` with an integer ``x`` never builds the range, so it is
true in Argo instead of "memory budget exceeded". Constant folding also decides a few
results before anything runs (``result[9] > 0 && false`` is false, never an index error).

Mirrored here, in upstream order (expr v1.17.8, optimizer/optimizer.go):

* ``fold``: constant arithmetic with Go's int64 wrap-around, ``%`` by zero as a compile
  error, ``&&``/``||`` with a constant side, constant arrays (allocated once, at compile
  time, so free at run time) and ``filter(filter(a, p), q)`` -> ``filter(a, p && q)``;
* ``inRange``: ``x in m..n`` with integer literals and an ``int`` x -> ``x >= m && x <= n``;
* ``filterMap``: ``map(filter(a, p), f)`` -> one ``filter`` that yields ``f``;
* ``filterLen``: ``len(filter(a, p))`` -> ``count(a, p)``;
* ``filterLast``/``filterFirst``: ``filter(a, p)[-1]``, ``last(filter(a, p))``,
  ``filter(a, p)[0]`` and ``first(filter(a, p))`` -> ``findLast``/``find``;
* ``predicateCombination``: ``all(a, p) && all(a, q)`` -> ``all(a, p && q)`` (``any`` with
  ``||``, ``none`` with ``&&`` -> ``||``);
* ``sumRange``: ``sum(m..n)`` (and ``sum(m..n, #)``, ``# * k``, ``# + k``, ``# - k``,
  ``k - #``) computed by the arithmetic-series formula, with Go's int arithmetic;
* ``countAny``: ``count(a, p) > 0`` / ``>= 1`` -> ``any(a, p)``.

Not mirrored: ``inArray`` and ``sumArray`` (same results and no allocation difference for the
arrays a condition can write) and ``countThreshold`` (an early exit from ``count``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from tools.analysis.expr import ast, gonum
from tools.analysis.expr import types as t
from tools.analysis.expr.errors import CompileError

Visit = Callable[[ast.Node], ast.Node]


def optimize(tree: ast.Node, types: Mapping[int, t.Type]) -> ast.Node:
    """Apply the passes to a type-checked tree; ``types`` maps id(node) to its static type."""

    def type_of(node: ast.Node) -> t.Type:
        if isinstance(node, ast.Literal):
            return t.type_of(node.value)
        return types.get(id(node), t.ANY)

    passes: list[Visit] = [
        _fold,
        lambda node: _in_range(node, type_of),
        _filter_map,
        _filter_len,
        _filter_last,
        _filter_first,
        _predicate_combination,
        _sum_range,
        _count_any,
    ]
    for visit in passes:
        tree = _walk(tree, visit)
    return tree


def _walk(node: ast.Node, visit: Visit) -> ast.Node:
    """Rebuild ``node`` bottom-up (children first, like expr's ast.Walk), applying ``visit``."""
    changes: dict[str, object] = {}
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        if isinstance(value, ast.Node):
            new = _walk(value, visit)
            if new is not value:
                changes[field.name] = new
        elif isinstance(value, tuple) and value and isinstance(value[0], ast.Node):
            items = tuple(_walk(item, visit) for item in value)
            if any(a is not b for a, b in zip(items, value, strict=True)):
                changes[field.name] = items
    if changes:
        node = dataclasses.replace(node, **changes)  # type: ignore[arg-type]
    return visit(node)


# --- fold (optimizer/fold.go) -----------------------------------------------------------------


def _int(node: ast.Node) -> int | None:
    if isinstance(node, ast.Literal) and type(node.value) is int:
        return node.value
    return None


def _float(node: ast.Node) -> float | None:
    if isinstance(node, ast.Literal) and type(node.value) is float:
        return node.value
    return None


def _number(node: ast.Node) -> int | float | None:
    value = _int(node)
    return value if value is not None else _float(node)


def _bool(node: ast.Node) -> bool | None:
    if isinstance(node, ast.Literal) and type(node.value) is bool:
        return node.value
    return None


def _str(node: ast.Node) -> str | None:
    if isinstance(node, ast.Literal) and type(node.value) is str:
        return node.value
    return None


def _fold(node: ast.Node) -> ast.Node:
    if isinstance(node, ast.Unary):
        return _fold_unary(node)
    if isinstance(node, ast.Binary):
        return _fold_binary(node)
    if isinstance(node, ast.ArrayLit) and node.items:
        values = [item.value for item in node.items if isinstance(item, ast.Literal)]
        if len(values) == len(node.items) and all(
            type(v) in (int, float, str, bool) for v in values
        ):
            return ast.Literal(node.pos, values)
        return node
    if isinstance(node, ast.Call) and node.name == "filter" and len(node.args) == 2:
        base = node.args[0]
        if isinstance(base, ast.Call) and base.name == "filter" and len(base.args) == 2:
            return dataclasses.replace(
                node, args=(base.args[0], _and_predicates(base.args[1], node.args[1], "&&"))
            )
    return node


def _fold_unary(node: ast.Unary) -> ast.Node:
    operand = node.operand
    if node.op in ("-", "+"):
        number = _number(operand)
        if number is None:
            return node
        if node.op == "+":
            return ast.Literal(node.pos, number)
        return ast.Literal(node.pos, gonum.wrap(-number) if type(number) is int else -number)
    if node.op == "!":
        value = _bool(operand)
        if value is not None:
            return ast.Literal(node.pos, not value)
    return node


def _fold_binary(node: ast.Binary) -> ast.Node:
    op, left, right = node.op, node.left, node.right
    a, b = _number(left), _number(right)
    if op in ("+", "-", "*", "/", "**") and a is not None and b is not None:
        return ast.Literal(node.pos, _fold_arithmetic(op, a, b))
    if op == "+":
        sa, sb = _str(left), _str(right)
        if sa is not None and sb is not None:
            return ast.Literal(node.pos, sa + sb)
    if op == "%":
        ia, ib = _int(left), _int(right)
        if ia is not None and ib is not None:
            if ib == 0:
                raise CompileError("integer divide by zero", pos=node.pos)
            return ast.Literal(node.pos, gonum.modulo(ia, ib))
    if op in ("&&", "||"):
        return _fold_logic(node)
    if op == "==":
        for get in (_int, _str, _bool):
            x, y = get(left), get(right)
            if x is not None and y is not None:
                return ast.Literal(node.pos, x == y)
    return node


def _fold_arithmetic(op: str, a: float, b: float) -> object:
    both_int = type(a) is int and type(b) is int
    if op == "/":
        return gonum.divide(float(a), float(b))
    if op == "**":
        return gonum.power(float(a), float(b))
    if op == "+":
        value = a + b
    elif op == "-":
        value = a - b
    else:
        value = a * b
    return gonum.wrap(int(value)) if both_int else float(value)


def _fold_logic(node: ast.Binary) -> ast.Node:
    a, b = _bool(node.left), _bool(node.right)
    if node.op == "&&":
        if a is True:  # true && x
            return node.right
        if b is True:  # x && true
            return node.left
        if a is False or b is False:
            return ast.Literal(node.pos, False)
        return node
    if a is False:  # false || x
        return node.right
    if b is False:  # x || false
        return node.left
    if a is True or b is True:
        return ast.Literal(node.pos, True)
    return node


def _and_predicates(first: ast.Node, second: ast.Node, op: str) -> ast.Node:
    assert isinstance(first, ast.Closure) and isinstance(second, ast.Closure)
    return ast.Closure(first.pos, ast.Binary(first.pos, op, first.body, second.body))


# --- inRange (optimizer/in_range.go) ----------------------------------------------------------


def _in_range(node: ast.Node, type_of: Callable[[ast.Node], t.Type]) -> ast.Node:
    if not (isinstance(node, ast.Binary) and node.op == "in"):
        return node
    if type_of(node.left) != t.INT:
        return node
    rng = node.right
    if not (isinstance(rng, ast.Binary) and rng.op == ".."):
        return node
    if _int(rng.left) is not None and _int(rng.right) is not None:
        return ast.Binary(
            node.pos,
            "&&",
            ast.Binary(node.pos, ">=", node.left, rng.left),
            ast.Binary(node.pos, "<=", node.left, rng.right),
        )
    return node


# --- filterMap, filterLen, filterLast, filterFirst --------------------------------------------


def _plain_filter(node: ast.Node) -> ast.Call | None:
    if isinstance(node, ast.Call) and node.name == "filter" and len(node.args) == 2:
        return node
    return None


def _uses_index(node: ast.Node) -> bool:
    if isinstance(node, ast.Pointer):
        return node.name == "index"
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        children = value if isinstance(value, tuple) else (value,)
        for child in children:
            if isinstance(child, ast.Node) and _uses_index(child):
                return True
    return False


def _filter_map(node: ast.Node) -> ast.Node:
    if not (isinstance(node, ast.Call) and node.name == "map" and len(node.args) == 2):
        return node
    predicate = node.args[1]
    base = _plain_filter(node.args[0])
    if (
        isinstance(predicate, ast.Closure)
        and base is not None
        and base.mapped is None
        and not _uses_index(predicate)
    ):
        return dataclasses.replace(base, pos=node.pos, mapped=predicate.body)
    return node


def _filter_len(node: ast.Node) -> ast.Node:
    if isinstance(node, ast.Call) and node.name == "len" and len(node.args) == 1:
        base = _plain_filter(node.args[0])
        if base is not None:
            return ast.Call(node.pos, "count", base.args)
    return node


def _find_from(node: ast.Node, index: int, wrapper: str, find: str) -> ast.Node:
    if isinstance(node, ast.Index) and _int(node.index) == index:
        base = _plain_filter(node.target)
        if base is not None:
            return ast.Call(node.pos, find, base.args, mapped=base.mapped, throws=True)
    if isinstance(node, ast.Call) and node.name == wrapper and len(node.args) == 1:
        base = _plain_filter(node.args[0])
        if base is not None:
            return ast.Call(node.pos, find, base.args, mapped=base.mapped)
    return node


def _filter_last(node: ast.Node) -> ast.Node:
    return _find_from(node, -1, "last", "findLast")


def _filter_first(node: ast.Node) -> ast.Node:
    return _find_from(node, 0, "first", "find")


# --- predicateCombination (optimizer/predicate_combination.go) --------------------------------

_COMBINED = {("all", "&&"): "&&", ("any", "||"): "||", ("none", "&&"): "||"}


def _predicate_combination(node: ast.Node) -> ast.Node:
    if not isinstance(node, ast.Binary) or node.op not in ("&&", "||"):
        return node
    left, right = node.left, node.right
    if not (isinstance(left, ast.Call) and isinstance(right, ast.Call)):
        return node
    combined = _COMBINED.get((left.name, node.op))
    if combined is None or right.name != left.name:
        return node
    if len(left.args) != 2 or len(right.args) != 2 or not _same(left.args[0], right.args[0]):
        return node
    predicate = _and_predicates(left.args[1], right.args[1], combined)
    assert isinstance(predicate, ast.Closure)
    inner = _predicate_combination(predicate.body)
    return ast.Call(node.pos, left.name, (left.args[0], ast.Closure(predicate.pos, inner)))


def _same(a: ast.Node, b: ast.Node) -> bool:
    """The same expression, wherever it was written (upstream compares the printed source)."""
    if type(a) is not type(b):
        return False
    for field in dataclasses.fields(a):
        if field.name == "pos":
            continue
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, ast.Node) and isinstance(y, ast.Node):
            if not _same(x, y):
                return False
        elif isinstance(x, tuple) and isinstance(y, tuple):
            if len(x) != len(y) or not all(
                _same(p, q) if isinstance(p, ast.Node) and isinstance(q, ast.Node) else p == q
                for p, q in zip(x, y, strict=True)
            ):
                return False
        elif type(x) is not type(y) or x != y:
            return False
    return True


# --- sumRange (optimizer/sum_range.go) --------------------------------------------------------


def _sum_range(node: ast.Node) -> ast.Node:
    if not (isinstance(node, ast.Call) and node.name == "sum" and 1 <= len(node.args) <= 2):
        return node
    rng = node.args[0]
    if not (isinstance(rng, ast.Binary) and rng.op == ".."):
        return node
    m, n = _int(rng.left), _int(rng.right)
    if m is None or n is None or n < m:
        return node
    count = gonum.wrap(n - m + 1)
    total = gonum.truncated_div(gonum.wrap(count * gonum.wrap(m + n)), 2)
    if len(node.args) == 1:
        return ast.Literal(node.pos, total)
    value = _sum_predicate(total, count, node.args[1])
    return node if value is None else ast.Literal(node.pos, value)


def _sum_predicate(total: int, count: int, predicate: ast.Node) -> int | None:
    if not isinstance(predicate, ast.Closure):
        return None
    body = predicate.body
    if isinstance(body, ast.Pointer) and body.name == "":
        return total
    if not isinstance(body, ast.Binary):
        return None
    pointer_left = isinstance(body.left, ast.Pointer) and body.left.name == ""
    pointer_right = isinstance(body.right, ast.Pointer) and body.right.name == ""
    if pointer_left and _int(body.right) is not None:
        k, left = _int(body.right), True
    elif pointer_right and _int(body.left) is not None:
        k, left = _int(body.left), False
    else:
        return None
    assert k is not None
    if body.op == "*":
        return gonum.wrap(k * total)
    if body.op == "+":
        return gonum.wrap(total + gonum.wrap(count * k))
    if body.op == "-":
        scaled = gonum.wrap(count * k)
        return gonum.wrap(total - scaled) if left else gonum.wrap(scaled - total)
    return None


# --- countAny (optimizer/count_any.go) --------------------------------------------------------


def _count_any(node: ast.Node) -> ast.Node:
    if not isinstance(node, ast.Binary):
        return node
    count = node.left
    if not (isinstance(count, ast.Call) and count.name == "count" and len(count.args) == 2):
        return node
    limit = _int(node.right)
    if (node.op == ">" and limit == 0) or (node.op == ">=" and limit == 1):
        return ast.Call(node.pos, "any", count.args)
    return node
