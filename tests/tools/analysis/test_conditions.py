"""EvaluateResult: the decision table and each result shape (reference note §1-2)."""

from __future__ import annotations

import math

import pytest

from tools.analysis.conditions import EMPTY_RESULT_HINT, evaluate_result
from tools.analysis.phases import Phase

S = Phase.SUCCESSFUL
F = Phase.FAILED
I = Phase.INCONCLUSIVE  # noqa: E741
E = Phase.ERROR


@pytest.mark.parametrize(
    ("success", "failure", "expected"),
    [
        (None, None, S),  # neither set: Successful (the docs say Inconclusive; the code disagrees)
        ("true", None, S),  # only success: failure = !success
        ("false", None, F),
        (None, "true", F),  # only failure: success = !failure
        (None, "false", S),
        ("true", "false", S),
        ("false", "false", I),  # both false: Inconclusive
        ("true", "true", F),  # both true: Failed wins
        ("false", "true", F),
    ],
)
def test_decision_table(success: str | None, failure: str | None, expected: Phase) -> None:
    assert evaluate_result([1.0], success, failure).phase is expected


def test_success_error_stops_before_failure() -> None:
    outcome = evaluate_result([1.0], "result > 1.5", "bogus(1)")
    assert outcome.phase is E
    assert "successCondition" in outcome.message
    assert "mismatched types []float64 and float64" in outcome.message


def test_failure_condition_error_is_error() -> None:
    outcome = evaluate_result([1.0], "true", "result[0] && true")
    assert outcome.phase is E
    assert "failureCondition" in outcome.message


def test_non_bool_condition_is_error() -> None:
    outcome = evaluate_result([1.0], "result[0]", None)
    assert outcome.phase is E
    assert "expected bool, but got float64" in outcome.message
    outcome = evaluate_result([1.0], "default(result, 1)", None)  # only known at runtime
    assert outcome.phase is E
    assert "expected bool" in outcome.message


def test_vector_result() -> None:
    assert evaluate_result([0.99], "result[0] >= 0.95", None).phase is S
    assert evaluate_result([0.5], "result[0] >= 0.95", None).phase is F


def test_scalar_result() -> None:
    assert evaluate_result(0.99, "result >= 0.95", None).phase is S
    outcome = evaluate_result(0.99, "result[0] >= 0.95", None)
    assert outcome.phase is E
    assert "type float64[int] is undefined" in outcome.message


def test_vector_compared_to_number_is_error() -> None:
    assert evaluate_result([0.99], "result >= 0.95", None).phase is E


def test_matrix_result_is_a_flat_list() -> None:
    assert evaluate_result([11.0, 12.0, 13.0, 14.0], "all(result, # > 10)", None).phase is S
    assert evaluate_result([11.0, 9.0], "all(result, # > 10)", None).phase is F


def test_empty_vector_is_still_typed_as_a_float_vector() -> None:
    from tools.analysis.conditions import evaluate_condition
    from tools.analysis.expr import CompileError

    with pytest.raises(CompileError, match=r"mismatched types \[\]float64 and float64"):
        evaluate_condition("result > 0.5", [])


def test_empty_vector_unguarded_is_error_with_argo_message() -> None:
    outcome = evaluate_result([], "result[0] >= 0.95", None)
    assert outcome.phase is E
    assert outcome.message == (
        f'could not evaluate successCondition "result[0] >= 0.95": {EMPTY_RESULT_HINT}'
    )


def test_empty_vector_guards() -> None:
    assert evaluate_result([], "len(result) == 0 || result[0] >= 0.95", None).phase is S
    assert evaluate_result([], "len(result) > 0 && result[0] >= 0.95", None).phase is F
    assert evaluate_result([], "(first(result) ?? 0) < 0.05", None).phase is S
    assert evaluate_result([], "all(result, # < 0.05)", None).phase is S  # vacuous
    assert evaluate_result([], "any(result, # < 0.05)", None).phase is F
    assert evaluate_result([], "default(result, 0) >= 0.95", None).phase is E
    assert evaluate_result([], "default(result[0], 0) >= 0.95", None).phase is E


def test_nan_result() -> None:
    nan = [math.nan]
    assert evaluate_result(nan, "result[0] >= 0.95", None).phase is F
    assert evaluate_result(nan, None, "result[0] < 0.95").phase is S  # NaN passes a failure gate
    assert evaluate_result(nan, "result[0] >= 0.95", "result[0] < 0.95").phase is I
    assert evaluate_result(math.nan, "isNaN(result)", None).phase is S
    assert evaluate_result(nan, "isNaN(result)", None).phase is E


def test_inf_results() -> None:
    assert evaluate_result([math.inf], "result[0] >= 0.95", None).phase is S
    assert evaluate_result([-math.inf], "result[0] >= 0.95", None).phase is F
    assert evaluate_result([math.inf], "!isInf(result[0])", None).phase is F


def test_repository_guard_style_never_passes_without_data() -> None:
    success = "len(result) > 0 && !isNaN(result[0]) && result[0] >= 0.99"
    failure = "len(result) > 0 && result[0] < 0.99"
    assert evaluate_result([], success, failure).phase is I
    assert evaluate_result([math.nan], success, failure).phase is I
    assert evaluate_result([0.995], success, failure).phase is S
    assert evaluate_result([0.95], success, failure).phase is F
