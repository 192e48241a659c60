"""Precedence-climbing parser for the expr-lang grammar (the subset Argo conditions use).

Operator precedence follows expr-lang v1.17: ``or``/``||`` 10, ``and``/``&&`` 15, comparisons and
``in``/``matches``/``contains``/``startsWith``/``endsWith`` 20, ``..`` 25, ``+ -`` 30,
``* / %`` 60, ``**``/``^`` 100 (right associative), ``??`` 500; unary ``not``/``!`` 50,
unary ``-``/``+`` 90; the ternary ``?:`` binds loosest.
"""

from __future__ import annotations

from typing import TypeVar

from tools.analysis.expr import ast, gonum
from tools.analysis.expr.errors import CompileError
from tools.analysis.expr.lexer import Kind, Token, tokenize

BINARY: dict[str, tuple[int, bool]] = {  # op -> (precedence, right associative)
    "or": (10, False),
    "||": (10, False),
    "and": (15, False),
    "&&": (15, False),
    "==": (20, False),
    "!=": (20, False),
    "<": (20, False),
    ">": (20, False),
    "<=": (20, False),
    ">=": (20, False),
    "in": (20, False),
    "matches": (20, False),
    "contains": (20, False),
    "startsWith": (20, False),
    "endsWith": (20, False),
    "..": (25, False),
    "+": (30, False),
    "-": (30, False),
    "*": (60, False),
    "/": (60, False),
    "%": (60, False),
    "**": (100, True),
    "^": (100, True),
    "??": (500, False),
}
NEGATABLE = frozenset({"in", "matches", "contains", "startsWith", "endsWith"})
UNARY: dict[str, int] = {"not": 50, "!": 50, "-": 90, "+": 90}
ALIASES = {"and": "&&", "or": "||", "not": "!", "^": "**"}

N = TypeVar("N", bound=ast.Node)

# Builtins whose second argument is a predicate (`#` refers to the current element).
PREDICATE_BUILTINS = frozenset(
    {"all", "any", "none", "one", "filter", "map", "count", "find", "findIndex", "findLast"}
    | {"findLastIndex", "sum"}
)


# conf/config.go: DefaultMaxNodes; parser/parser.go: checkNodeLimit.
MAX_NODES = 10_000


def parse(source: str) -> ast.Node:
    if not source.strip():
        raise CompileError("unexpected end of expression", pos=0)
    return _Parser(tokenize(source)).parse()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.closure_depth = 0
        self.nodes = 0

    def node(self, node: N) -> N:
        """Count every syntax node, like expr's parser, and stop at MAX_NODES."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise CompileError(
                "compilation failed: expression exceeds maximum allowed nodes", pos=node.pos
            )
        return node

    @property
    def current(self) -> Token:
        return self.tokens[self.i]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        if token.kind is not Kind.EOF:
            self.i += 1
        return token

    def expect(self, kind: Kind, value: str) -> Token:
        token = self.current
        if not token.is_(kind, value):
            raise CompileError(
                f"unexpected token {_show(token)}; expected {value!r}", pos=token.pos
            )
        return self.advance()

    def parse(self) -> ast.Node:
        node = self.expression(0)
        if self.current.kind is not Kind.EOF:
            raise CompileError(f"unexpected token {_show(self.current)}", pos=self.current.pos)
        return node

    def expression(self, precedence: int) -> ast.Node:
        node = self.primary()
        while True:
            token = self.current
            if token.kind is not Kind.OPERATOR:
                break
            op = token.value
            width = 1
            negate = False
            if op == "not" and self.peek().kind is Kind.OPERATOR and self.peek().value in NEGATABLE:
                # `x not in y`, `s not matches re`, ...: the negated operation
                op, width, negate = self.peek().value, 2, True
            if op not in BINARY:
                break
            op_precedence, right_assoc = BINARY[op]
            if op_precedence < precedence:
                break
            for _ in range(width):
                self.advance()
            right = self.expression(op_precedence if right_assoc else op_precedence + 1)
            node = self.node(ast.Binary(token.pos, ALIASES.get(op, op), node, right))
            if negate:
                node = self.node(ast.Unary(token.pos, "!", node))
        if precedence == 0 and self.current.is_(Kind.OPERATOR, "?"):
            pos = self.advance().pos
            then = self.expression(0)
            self.expect(Kind.OPERATOR, ":")
            otherwise = self.expression(0)
            node = self.node(ast.Conditional(pos, node, then, otherwise))
        return node

    def primary(self) -> ast.Node:
        token = self.current
        if token.kind is Kind.OPERATOR and token.value in UNARY:
            self.advance()
            operand = self.expression(UNARY[token.value])
            return self.node(ast.Unary(token.pos, ALIASES.get(token.value, token.value), operand))
        if token.is_(Kind.BRACKET, "("):
            self.advance()
            node = self.expression(0)
            self.expect(Kind.BRACKET, ")")
            return self.postfix(node)
        return self.postfix(self.secondary())

    def secondary(self) -> ast.Node:
        token = self.advance()
        if token.kind is Kind.NUMBER:
            return self.node(ast.Literal(token.pos, _number(token)))
        if token.kind is Kind.STRING:
            return self.node(ast.Literal(token.pos, token.value))
        if token.kind is Kind.POINTER:
            if self.closure_depth == 0:
                raise CompileError("cannot use pointer accessor outside predicate", pos=token.pos)
            return self.node(ast.Pointer(token.pos, token.value))
        if token.is_(Kind.BRACKET, "["):
            items: list[ast.Node] = []
            while not self.current.is_(Kind.BRACKET, "]"):
                items.append(self.expression(0))
                if not self.current.is_(Kind.OPERATOR, ","):
                    break
                self.advance()
            self.expect(Kind.BRACKET, "]")
            return self.node(ast.ArrayLit(token.pos, tuple(items)))
        if token.kind is Kind.IDENT:
            if token.value in ("true", "false"):
                return self.node(ast.Literal(token.pos, token.value == "true"))
            if token.value == "nil":
                return self.node(ast.Literal(token.pos, None))
            if self.current.is_(Kind.BRACKET, "("):
                return self.call(token)
            return self.node(ast.Name(token.pos, token.value))
        if token.kind is Kind.EOF:
            raise CompileError("unexpected end of expression", pos=token.pos)
        raise CompileError(f"unexpected token {_show(token)}", pos=token.pos)

    def call(self, name: Token) -> ast.Node:
        self.expect(Kind.BRACKET, "(")
        args: list[ast.Node] = []
        while not self.current.is_(Kind.BRACKET, ")"):
            if name.value in PREDICATE_BUILTINS and len(args) == 1:
                args.append(self.closure())
            else:
                args.append(self.expression(0))
            if not self.current.is_(Kind.OPERATOR, ","):
                break
            self.advance()
        self.expect(Kind.BRACKET, ")")
        return self.node(ast.Call(name.pos, name.value, tuple(args)))

    def closure(self) -> ast.Node:
        start = self.current
        braces = start.is_(Kind.BRACKET, "{")
        if braces:
            self.advance()
        self.closure_depth += 1
        body = self.expression(0)
        self.closure_depth -= 1
        if braces:
            self.expect(Kind.BRACKET, "}")
        return self.node(ast.Closure(start.pos, body))

    def postfix(self, node: ast.Node) -> ast.Node:
        while True:
            token = self.current
            if token.is_(Kind.OPERATOR, ".") or token.is_(Kind.OPERATOR, "?."):
                self.advance()
                field = self.advance()
                if field.kind not in (Kind.IDENT, Kind.OPERATOR) or not field.value.isidentifier():
                    raise CompileError(f"expected name after {token.value!r}", pos=field.pos)
                node = self.node(ast.Member(token.pos, node, field.value, token.value == "?."))
            elif token.is_(Kind.BRACKET, "["):
                self.advance()
                node = self.subscript(node, token.pos)
            else:
                return node

    def subscript(self, target: ast.Node, pos: int) -> ast.Node:
        start: ast.Node | None = None
        if not self.current.is_(Kind.OPERATOR, ":"):
            start = self.expression(0)
            if self.current.is_(Kind.BRACKET, "]"):
                self.advance()
                return self.node(ast.Index(pos, target, start))
        self.expect(Kind.OPERATOR, ":")
        stop: ast.Node | None = None
        if not self.current.is_(Kind.BRACKET, "]"):
            stop = self.expression(0)
        self.expect(Kind.BRACKET, "]")
        return self.node(ast.Slice(pos, target, start, stop))


def _number(token: Token) -> int | float:
    """parser.go: integers must fit Go's int64 and floats float64 (strconv's range errors)."""
    text = token.value.replace("_", "")
    if text.lower().startswith("0x"):
        kind, value = "hex", _parse_int(text, 16)
    elif any(c in text for c in ".eE"):
        try:
            return gonum.parse_float(text)
        except ValueError as exc:
            raise CompileError(f"invalid float literal: {exc}", pos=token.pos) from None
    else:
        kind, value = "integer", _parse_int(text, 10)
    if value is None:
        raise CompileError(f"invalid {kind} literal: {token.value!r}", pos=token.pos)
    if not gonum.INT_MIN <= value <= gonum.INT_MAX:
        raise CompileError(
            f'invalid {kind} literal: strconv.ParseInt: parsing "{text}": value out of range',
            pos=token.pos,
        )
    return value


def _parse_int(text: str, base: int) -> int | None:
    try:
        return int(text, base)
    except ValueError:
        return None


def _show(token: Token) -> str:
    return "EOF" if token.kind is Kind.EOF else repr(token.value)
