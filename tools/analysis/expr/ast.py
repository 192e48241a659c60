"""Syntax tree of an expression."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Node:
    pos: int


@dataclass(frozen=True)
class Literal(Node):
    value: object  # None, bool, int, float or str


@dataclass(frozen=True)
class Name(Node):
    name: str


@dataclass(frozen=True)
class Pointer(Node):
    """``#`` (the current element) or ``#index`` inside a predicate."""

    name: str


@dataclass(frozen=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Conditional(Node):
    cond: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True)
class Index(Node):
    target: Node
    index: Node


@dataclass(frozen=True)
class Slice(Node):
    target: Node
    start: Node | None
    stop: Node | None


@dataclass(frozen=True)
class Member(Node):
    target: Node
    name: str
    optional: bool


@dataclass(frozen=True)
class ArrayLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Closure(Node):
    body: Node


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]
    # Set only by the optimizer (optimizer.py), as expr-lang's BuiltinNode.Map / .Throws:
    # ``filter``/``find`` with ``mapped`` yield that expression for each match instead of the
    # element; ``find``/``findLast`` with ``throws`` fail when nothing matches.
    mapped: Node | None = None
    throws: bool = False
