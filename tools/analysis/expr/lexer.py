"""Tokenizer for the expr-lang subset used in Argo Rollouts conditions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tools.analysis.expr.errors import CompileError


class Kind(Enum):
    NUMBER = "number"
    STRING = "string"
    IDENT = "identifier"
    OPERATOR = "operator"
    BRACKET = "bracket"
    POINTER = "pointer"  # `#`, `#index`, `#acc`
    EOF = "EOF"


@dataclass(frozen=True)
class Token:
    kind: Kind
    value: str
    pos: int

    def is_(self, kind: Kind, value: str | None = None) -> bool:
        return self.kind is kind and (value is None or self.value == value)


# Word operators are lexed as identifiers first and re-tagged here.
WORD_OPERATORS = frozenset(
    {"and", "or", "not", "in", "matches", "contains", "startsWith", "endsWith"}
)
# Longest first, so that `**` wins over `*` and `??` over `?`.
SYMBOLS = (
    "??",
    "?.",
    "==",
    "!=",
    "<=",
    ">=",
    "&&",
    "||",
    "**",
    "..",
    "!",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "?",
    ":",
    ".",
    ",",
    "|",
)
BRACKETS = "()[]{}"
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
            continue
        if ch.isdigit() or (ch == "." and i + 1 < n and source[i + 1].isdigit()):
            i = _number(source, i, tokens)
            continue
        if ch in "\"'`":
            i = _string(source, i, tokens)
            continue
        if ch.isalpha() or ch in "_$":
            start = i
            while i < n and (source[i].isalnum() or source[i] in "_$"):
                i += 1
            word = source[start:i]
            kind = Kind.OPERATOR if word in WORD_OPERATORS else Kind.IDENT
            tokens.append(Token(kind, word, start))
            continue
        if ch == "#":
            start = i
            i += 1
            while i < n and (source[i].isalnum() or source[i] == "_"):
                i += 1
            tokens.append(Token(Kind.POINTER, source[start + 1 : i], start))
            continue
        if ch in BRACKETS:
            tokens.append(Token(Kind.BRACKET, ch, i))
            i += 1
            continue
        for symbol in SYMBOLS:
            if source.startswith(symbol, i):
                # `1..3` is a range, but `?.5` is `? .5`: keep `?.` only before a name.
                if symbol == "?." and i + 2 < n and source[i + 2].isdigit():
                    continue
                tokens.append(Token(Kind.OPERATOR, symbol, i))
                i += len(symbol)
                break
        else:
            raise CompileError(f"unexpected token {ch!r}", pos=i)
    tokens.append(Token(Kind.EOF, "", n))
    return tokens


def _number(source: str, i: int, tokens: list[Token]) -> int:
    start = i
    n = len(source)
    if source.startswith(("0x", "0X"), i):
        i += 2
        while i < n and (source[i] in "0123456789abcdefABCDEF_"):
            i += 1
        tokens.append(Token(Kind.NUMBER, source[start:i], start))
        return i
    while i < n and (source[i].isdigit() or source[i] == "_"):
        i += 1
    # A dot followed by a digit continues the number; `1..2` is a range operator.
    if i < n and source[i] == "." and not source.startswith("..", i):
        i += 1
        while i < n and (source[i].isdigit() or source[i] == "_"):
            i += 1
    if i < n and source[i] in "eE":
        j = i + 1
        if j < n and source[j] in "+-":
            j += 1
        if j < n and source[j].isdigit():
            i = j
            while i < n and source[i].isdigit():
                i += 1
    tokens.append(Token(Kind.NUMBER, source[start:i], start))
    return i


def _string(source: str, i: int, tokens: list[Token]) -> int:
    quote = source[i]
    start = i
    i += 1
    out: list[str] = []
    n = len(source)
    while i < n and source[i] != quote:
        ch = source[i]
        if ch == "\\" and quote != "`":
            i += 1
            if i >= n:
                break
            esc = source[i]
            if esc == "u" and i + 4 < n:
                out.append(chr(int(source[i + 1 : i + 5], 16)))
                i += 5
                continue
            if esc not in ESCAPES:
                raise CompileError(f"invalid escape sequence \\{esc}", pos=i)
            out.append(ESCAPES[esc])
            i += 1
            continue
        out.append(ch)
        i += 1
    if i >= n:
        raise CompileError("literal not terminated", pos=start)
    tokens.append(Token(Kind.STRING, "".join(out), start))
    return i + 1
