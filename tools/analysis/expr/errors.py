"""Errors raised while compiling or running an expression."""

from __future__ import annotations


class ExprError(Exception):
    """Base class: the condition could not be evaluated (a measurement Error in Argo)."""

    def __init__(self, message: str, *, pos: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos

    def __str__(self) -> str:
        if self.pos is None:
            return self.message
        return f"{self.message} (at position {self.pos})"


class CompileError(ExprError):
    """Syntax or static type error, found before anything runs."""


class EvalError(ExprError):
    """Error while running a compiled expression (index out of range, bad conversion, ...)."""
