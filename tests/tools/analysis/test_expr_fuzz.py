"""Any input either evaluates or fails with an ExprError: never another exception."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.analysis.conditions import evaluate_result
from tools.analysis.expr import CompileError, ExprError, compile_expr
from tools.analysis.phases import Phase

TOKENS = [
    "result", "result[0]", "result[-1]", "#", "#index", "len(", "all(", "any(", "map(", "filter(",
    "sum(", "min(", "max(", "mean(", "first(", "last(", "isNaN(", "isInf(", "asInt(", "asFloat(",
    "default(", "isNil(", "int(", "string(", "abs(", "round(", "(", ")", "[", "]", "{", "}", ",",
    "1", "0", "-1", "0.5", "1e309", "'s'", "nil", "true", "false", "+", "-", "*", "/", "%", "**",
    "==", "!=", "<", ">=", "&&", "||", "!", "not", "in", "??", "?", ":", "..", ".", "?.", "x",
]  # fmt: skip
RESULTS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=4),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=12), RESULTS)
def test_random_token_soup_never_escapes(tokens: list[str], result: object) -> None:
    source = " ".join(tokens)
    try:
        program = compile_expr(source, {"result": result})
        program.run({"result": result}, whole_result=result)
    except ExprError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=10), RESULTS)
def test_conditions_always_give_a_phase(tokens: list[str], result: object) -> None:
    outcome = evaluate_result(result, " ".join(tokens), None)
    assert outcome.phase in (Phase.SUCCESSFUL, Phase.FAILED, Phase.ERROR)
    if outcome.phase is Phase.ERROR:
        assert outcome.message


def test_float_overflow_in_arithmetic_is_infinity() -> None:
    assert compile_expr("1e308 * 10", {}).run({}) == math.inf


def test_float_literal_beyond_float64_is_a_compile_error() -> None:
    # parser/parser.go: strconv.ParseFloat reports ErrRange for 1e309 -> "invalid float literal".
    with pytest.raises(CompileError, match=r'invalid float literal: .*"1e309": value out of range'):
        compile_expr("1e309", {})
