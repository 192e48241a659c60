"""Argo's ``EvaluateResult``: successCondition / failureCondition -> measurement phase.

Decision (reference note §2): success evaluated first, any compile or runtime error is an Error
(failure then not evaluated); neither set -> Successful; only one set -> the other is its
negation; failure true -> Failed (wins over success); both false -> Inconclusive.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.analysis.expr import ExprError, compile_expr
from tools.analysis.expr.types import FLOAT, NIL, array_of, go_name
from tools.analysis.phases import Phase

EMPTY_RESULT_HINT = "metric result is nil or empty: no data returned from the metric provider"


@dataclass(frozen=True)
class Outcome:
    phase: Phase
    message: str = ""


def evaluate_condition(condition: str, result: object) -> bool:
    """Compile and run one condition against ``result``; raise ExprError on any problem."""
    env = {"result": result}
    # Argo's environment is typed by the provider, not by the data: a vector is []float64 even
    # when it is empty, a scalar is float64.
    static = array_of(FLOAT) if isinstance(result, list) else FLOAT
    program = compile_expr(condition, env, {"result": static if result is not None else NIL})
    if program.type.kind not in ("bool", "any", "nil"):
        raise ExprError(f"expected bool, but got {program.type}")
    try:
        value = program.run(env, whole_result=result)
    except (ArithmeticError, TypeError, ValueError, IndexError, KeyError) as exc:
        # A runtime combination the evaluator does not name itself: still a measurement
        # Error with a message, never a traceback.
        raise ExprError(f"{type(exc).__name__}: {exc}") from None
    if not isinstance(value, bool):
        raise ExprError(f"expected bool, but got {go_name(value)}")
    return value


def evaluate_result(result: object, success: str | None, failure: str | None) -> Outcome:
    success_true = False
    failure_true = False
    if success:
        try:
            success_true = evaluate_condition(success, result)
        except ExprError as exc:
            return Outcome(Phase.ERROR, _error_message("successCondition", success, exc, result))
    if failure:
        try:
            failure_true = evaluate_condition(failure, result)
        except ExprError as exc:
            return Outcome(Phase.ERROR, _error_message("failureCondition", failure, exc, result))
    if not success and not failure:
        return Outcome(Phase.SUCCESSFUL)
    if success and not failure:
        failure_true = not success_true
    elif failure and not success:
        success_true = not failure_true
    if failure_true:
        return Outcome(Phase.FAILED)
    if not success_true:
        return Outcome(Phase.INCONCLUSIVE)
    return Outcome(Phase.SUCCESSFUL)


def _error_message(which: str, condition: str, exc: ExprError, result: object) -> str:
    # Since v1.10 Argo rewrites *any* error on an empty or nil result to this message.
    if result is None or (isinstance(result, list) and not result):
        return f'could not evaluate {which} "{condition}": {EMPTY_RESULT_HINT}'
    return f'could not evaluate {which} "{condition}": {exc}'
