"""Static type checker: the compile step that rejects ``result > 0.5`` for a vector result.

expr-lang checks an expression against the Go types of its environment before running it;
mismatched operand types, indexing a non-collection and calling a function with a wrong
argument are compile errors, which Argo reports as a measurement Error.
"""

from __future__ import annotations

from collections.abc import Mapping

from tools.analysis.expr import ast, goregexp
from tools.analysis.expr import types as t
from tools.analysis.expr.builtins import BUILTINS
from tools.analysis.expr.errors import CompileError

COMPARISONS = frozenset({"<", ">", "<=", ">="})
ARITHMETIC = frozenset({"+", "-", "*", "/", "%", "**"})
STRING_OPS = frozenset({"matches", "contains", "startsWith", "endsWith"})


class Checker:
    def __init__(self, env: Mapping[str, t.Type]) -> None:
        self.env = env
        self.scopes: list[t.Type] = []  # element type of each enclosing predicate
        # Static type of every checked node, by id(node), for the optimizer.
        self.types: dict[int, t.Type] = {}

    def check(self, node: ast.Node) -> t.Type:
        method = getattr(self, f"_{type(node).__name__.lower()}")
        result: t.Type = method(node)
        self.types[id(node)] = result
        return result

    def _literal(self, node: ast.Literal) -> t.Type:
        return t.type_of(node.value)

    def _name(self, node: ast.Name) -> t.Type:
        if node.name in self.env:
            return self.env[node.name]
        raise CompileError(f"unknown name {node.name}", pos=node.pos)

    def _pointer(self, node: ast.Pointer) -> t.Type:
        if node.name == "":
            return self.scopes[-1]
        if node.name == "index":
            return t.INT
        raise CompileError(f"unknown pointer #{node.name}", pos=node.pos)

    def _closure(self, node: ast.Closure) -> t.Type:
        return self.check(node.body)

    def _arraylit(self, node: ast.ArrayLit) -> t.Type:
        elems = {self.check(item) for item in node.items}
        return t.array_of(elems.pop() if len(elems) == 1 else t.ANY)

    def _unary(self, node: ast.Unary) -> t.Type:
        operand = self.check(node.operand)
        if node.op == "!":
            if operand == t.BOOL or t.is_unknown(operand):
                return t.BOOL
        elif t.is_number(operand):
            return operand
        elif t.is_unknown(operand):
            return t.ANY
        raise CompileError(
            f"invalid operation: {node.op} (mismatched type {operand})", pos=node.pos
        )

    def _binary(self, node: ast.Binary) -> t.Type:
        left = self.check(node.left)
        right = self.check(node.right)
        op = node.op
        if op == "matches" and isinstance(node.right, ast.Literal):
            # checker.go: a literal pattern is compiled now, so a bad one is a compile error.
            pattern = node.right.value
            if isinstance(pattern, str):
                try:
                    goregexp.compile_pattern(pattern)
                except goregexp.RegexpError as exc:
                    raise CompileError(exc.message, pos=node.pos) from None
        result = _binary_type(op, left, right)
        if result is None:
            raise CompileError(
                f"invalid operation: {op} (mismatched types {left} and {right})", pos=node.pos
            )
        return result

    def _conditional(self, node: ast.Conditional) -> t.Type:
        cond = self.check(node.cond)
        if cond != t.BOOL and not t.is_unknown(cond):
            raise CompileError(f"non-bool expression (type {cond}) used as condition", pos=node.pos)
        then = self.check(node.then)
        otherwise = self.check(node.otherwise)
        return then if then == otherwise else t.ANY

    def _index(self, node: ast.Index) -> t.Type:
        target = self.check(node.target)
        index = self.check(node.index)
        if t.is_unknown(target):
            return t.ANY
        if target.kind in ("array", "string"):
            if index != t.INT and not t.is_unknown(index):
                raise CompileError(
                    f"array elements can only be selected using an integer (got {index})",
                    pos=node.pos,
                )
            return t.elem_of(target) if target.kind == "array" else t.STRING
        raise CompileError(f"type {target}[{index}] is undefined", pos=node.pos)

    def _slice(self, node: ast.Slice) -> t.Type:
        target = self.check(node.target)
        for bound in (node.start, node.stop):
            if bound is not None:
                bound_type = self.check(bound)
                if bound_type != t.INT and not t.is_unknown(bound_type):
                    raise CompileError(f"non-integer slice index {bound_type}", pos=node.pos)
        if t.is_unknown(target) or target.kind in ("array", "string"):
            return target if not t.is_unknown(target) else t.ANY
        raise CompileError(f"cannot slice {target}", pos=node.pos)

    def _member(self, node: ast.Member) -> t.Type:
        target = self.check(node.target)
        if t.is_unknown(target):
            return t.ANY
        raise CompileError(f"type {target} has no field {node.name}", pos=node.pos)

    def _call(self, node: ast.Call) -> t.Type:
        builtin = BUILTINS.get(node.name)
        if builtin is None:
            raise CompileError(f"unknown func {node.name}", pos=node.pos)
        if not builtin.min_args <= len(node.args) <= builtin.max_args:
            few = len(node.args) < builtin.min_args
            word = "not enough" if few else "too many"
            raise CompileError(f"{word} arguments to call {node.name}", pos=node.pos)
        arg_types: list[t.Type] = []
        for arg in node.args:
            if isinstance(arg, ast.Closure):
                self.scopes.append(t.elem_of(arg_types[0]) if arg_types else t.ANY)
                try:
                    arg_types.append(self.check(arg))
                finally:
                    self.scopes.pop()
            else:
                arg_types.append(self.check(arg))
        try:
            return builtin.check(arg_types)
        except CompileError as exc:
            raise CompileError(exc.message, pos=node.pos) from None


def _either(left: t.Type, right: t.Type, *kinds: str) -> bool:
    """One side is unknown and the other is unknown or of one of ``kinds``."""
    if t.is_unknown(left) and t.is_unknown(right):
        return True
    if t.is_unknown(left) and right.kind in kinds:
        return True
    return t.is_unknown(right) and left.kind in kinds


def _binary_type(op: str, left: t.Type, right: t.Type) -> t.Type | None:
    numbers = t.is_number(left) and t.is_number(right)
    if op in ("==", "!="):
        comparable = (
            left == right
            or left.kind == right.kind
            or numbers
            or t.is_unknown(left)
            or t.is_unknown(right)
        )
        return t.BOOL if comparable else None
    if op in ("&&", "||"):
        ok = (left == t.BOOL and right == t.BOOL) or _either(left, right, "bool")
        return t.BOOL if ok else None
    if op in COMPARISONS:
        same = left.kind == right.kind and left.kind in ("string", "time", "duration")
        ok = numbers or same or _either(left, right, "int", "float", "string", "time", "duration")
        return t.BOOL if ok else None
    if op == "in":
        if right.kind == "array" or t.is_unknown(right):
            return t.BOOL
        return None
    if op in STRING_OPS:
        ok = (left == t.STRING and right == t.STRING) or _either(left, right, "string")
        return t.BOOL if ok else None
    if op == "??":
        if t.is_unknown(left):
            return right if left.kind == "nil" else t.ANY
        return left if (right == left or t.is_unknown(right)) else t.ANY
    if op == "..":
        ok = (left == t.INT and right == t.INT) or _either(left, right, "int")
        return t.array_of(t.INT) if ok else None
    return _arithmetic_type(op, left, right)


def _arithmetic_type(op: str, left: t.Type, right: t.Type) -> t.Type | None:
    numbers = t.is_number(left) and t.is_number(right)
    if op == "+":
        if numbers:
            return t.INT if left == right == t.INT else t.FLOAT
        if left == right == t.STRING:
            return t.STRING
        if {left.kind, right.kind} == {"time", "duration"}:
            return t.TIME
        if left == right == t.DURATION:
            return t.DURATION
        if _either(left, right, "int", "float", "string", "time", "duration"):
            return t.ANY
        return None
    if op == "-":
        if numbers:
            return t.INT if left == right == t.INT else t.FLOAT
        if left == right == t.TIME:
            return t.DURATION
        if left == t.TIME and right == t.DURATION:
            return t.TIME
        if left == right == t.DURATION:
            return t.DURATION
        if _either(left, right, "int", "float", "time", "duration"):
            return t.ANY
        return None
    if op == "*":
        if numbers:
            return t.INT if left == right == t.INT else t.FLOAT
        if {left.kind, right.kind} == {"int", "duration"}:
            return t.DURATION
        return t.ANY if _either(left, right, "int", "float", "duration") else None
    if op == "/":
        return t.FLOAT if numbers or _either(left, right, "int", "float") else None
    if op == "%":
        return t.INT if left == right == t.INT or _either(left, right, "int") else None
    if op == "**":
        return t.FLOAT if numbers or _either(left, right, "int", "float") else None
    return None
