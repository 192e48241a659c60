"""A parser, type checker and evaluator for the expr-lang subset Argo Rollouts conditions use.

``compile_expr(source, env)`` parses and type-checks against the environment's static types
(so ``result > 0.5`` with a vector result is a compile error, as in expr-lang), applies the
optimizer passes that change results or costs (optimizer.py) and returns a :class:`Program`
whose :meth:`Program.run` evaluates it under expr's limits (node count, memory budget, int64
wrap-around, RE2 regexps). Nothing is ever passed to Python's ``eval``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tools.analysis.expr import ast
from tools.analysis.expr.checker import Checker
from tools.analysis.expr.errors import CompileError, EvalError, ExprError
from tools.analysis.expr.evaluator import MEMORY_BUDGET, Evaluator
from tools.analysis.expr.optimizer import optimize
from tools.analysis.expr.parser import MAX_NODES, parse
from tools.analysis.expr.types import Type, type_of

__all__ = [
    "MAX_NODES",
    "MEMORY_BUDGET",
    "CompileError",
    "EvalError",
    "ExprError",
    "Program",
    "compile_expr",
    "parse",
]


@dataclass(frozen=True)
class Program:
    source: str
    tree: ast.Node
    type: Type

    def run(self, env: Mapping[str, object], *, whole_result: object = None) -> object:
        """Evaluate; ``whole_result`` is what Argo's ``isNil``/``default`` look at."""
        try:
            return Evaluator(env, whole_result).eval(self.tree)
        except RecursionError:
            raise EvalError("expression nested too deeply") from None


def compile_expr(
    source: str, env: Mapping[str, object], types: Mapping[str, Type] | None = None
) -> Program:
    """Parse and type-check ``source`` against ``types`` (default: the types of ``env``)."""
    static = {k: type_of(v) for k, v in env.items()}
    static.update(types or {})
    try:
        tree = parse(source)
        checker = Checker(static)
        result_type = checker.check(tree)
        tree = optimize(tree, checker.types)
    except RecursionError:
        raise CompileError("expression nested too deeply") from None
    return Program(source, tree, result_type)
