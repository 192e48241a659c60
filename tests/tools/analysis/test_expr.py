"""The expression language: syntax, static types, runtime behaviour and builtins."""

from __future__ import annotations

import math

import pytest

from tools.analysis.expr import CompileError, EvalError, compile_expr


def run(source: str, result: object = None) -> object:
    env = {"result": result}
    return compile_expr(source, env).run(env, whole_result=result)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),  # `/` is always float division
        ("7 % 3", 1),
        ("-7 % 3", -1),  # Go's remainder keeps the dividend's sign
        ("2 ** 3 ** 2", 512.0),  # right associative
        ("-2 ** 2", -4.0),  # unary minus binds looser than **
        ("2 ^ 3", 8.0),
        ("1 < 2 && 2 < 3", True),
        ("1 < 2 and not (2 < 3)", False),
        ("false || !false", True),
        ("true or false and false", True),  # and binds tighter than or
        ("1 == 1.0", True),
        ("'a' + 'b' == 'ab'", True),
        ("1 > 0 ? 'yes' : 'no'", "yes"),
        ("2 in [1, 2, 3]", True),
        ("4 not in [1, 2, 3]", True),
        ("'abc' not contains 'z' && 'abc' not matches '^z'", True),
        ("'abc' contains 'b'", True),
        ("'abc' startsWith 'a' && 'abc' endsWith 'c'", True),
        ("'abc' matches '^a.c$'", True),
        ("1..3", [1, 2, 3]),
        ("nil ?? 5", 5),
        ("0x10 + 1_000", 1016),
        ("1e3", 1000.0),
        ('"tab\\tquote\\""', 'tab\tquote"'),
        ("`raw\\n`", "raw\\n"),
    ],
)
def test_operators_and_literals(source: str, expected: object) -> None:
    assert run(source) == expected


def test_go_float_division_by_zero_is_inf_or_nan() -> None:
    assert run("1 / 0") == math.inf
    assert math.isnan(run("0 / 0"))  # type: ignore[arg-type]


def test_integer_modulo_by_zero_is_a_runtime_error() -> None:
    with pytest.raises(EvalError, match="integer divide by zero"):
        run("1 % (len(result) - 1)", [1.0])


def test_integer_modulo_of_two_literals_by_zero_fails_at_compile_time() -> None:
    # optimizer/fold.go folds `%` of two integer literals and reports a zero divisor.
    with pytest.raises(CompileError, match="integer divide by zero"):
        compile_expr("1 % 0 == 0", {})


# --- results of each shape ---------------------------------------------------------------------


def test_vector_indexing_including_negative_indexes() -> None:
    assert run("result[0] >= 0.95", [0.99]) is True
    assert run("result[-1]", [1.0, 2.0]) == 2.0
    assert run("result[1:]", [1.0, 2.0, 3.0]) == [2.0, 3.0]


def test_index_out_of_range_on_empty_vector_is_runtime_error() -> None:
    with pytest.raises(EvalError, match="index out of range"):
        run("result[0] >= 0.95", [])


def test_indexing_a_scalar_is_a_compile_error() -> None:
    with pytest.raises(CompileError, match=r"type float64\[int\] is undefined"):
        compile_expr("result[0] > 0.5", {"result": 0.99})


@pytest.mark.parametrize("op", [">", ">=", "<", "<=", "==", "!="])
def test_comparing_a_vector_to_a_number_is_a_compile_error(op: str) -> None:
    with pytest.raises(CompileError, match=r"mismatched types \[\]float64 and float64"):
        compile_expr(f"result {op} 0.5", {"result": [0.99]})


def test_scalar_result_compares_directly() -> None:
    assert run("result >= 0.95", 0.99) is True
    assert run("isNaN(result)", math.nan) is True


def test_arithmetic_on_a_vector_is_a_compile_error() -> None:
    with pytest.raises(CompileError, match="mismatched types"):
        compile_expr("result * 2", {"result": [1.0]})


def test_logical_operators_need_booleans() -> None:
    with pytest.raises(CompileError, match=r"invalid operation: && \(mismatched types"):
        compile_expr("result[0] && true", {"result": [1.0]})
    with pytest.raises(CompileError, match=r"invalid operation: !"):
        compile_expr("!result[0]", {"result": [1.0]})


def test_unknown_names_and_functions_are_compile_errors() -> None:
    with pytest.raises(CompileError, match="unknown name foo"):
        compile_expr("foo > 1", {"result": [1.0]})
    with pytest.raises(CompileError, match="unknown func bogus"):
        compile_expr("bogus(result)", {"result": [1.0]})


@pytest.mark.parametrize(
    "source",
    ["result[0] >=", "(result[0]", "result[0] > 1)", "result[0] = 1", "'open", "1 ? 2", ""],
)
def test_syntax_errors(source: str) -> None:
    with pytest.raises(CompileError):
        compile_expr(source, {"result": [1.0]})


def test_nan_comparisons_are_false_and_inf_compares_as_infinite() -> None:
    assert run("result[0] >= 0.95", [math.nan]) is False
    assert run("result[0] < 0.95", [math.nan]) is False
    assert run("result[0] == result[0]", [math.nan]) is False
    assert run("result[0] >= 0.95", [math.inf]) is True
    assert run("result[0] < 0", [-math.inf]) is True


# --- builtins ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "result", "expected"),
    [
        ("len(result)", [1.0, 2.0], 2),
        ("len(result) == 0", [], True),
        ("all(result, # < 1)", [0.5, 0.7], True),
        ("all(result, {# < 1})", [0.5, 2.0], False),
        ("all(result, # < 1)", [], True),  # vacuous truth lets an empty vector through
        ("any(result, # > 1)", [0.5, 2.0], True),
        ("any(result, # > 1)", [], False),
        ("none(result, {# > 1})", [0.5, 0.7], True),
        ("one(result, # > 1)", [0.5, 2.0, 3.0], False),
        ("one(result, # > 2)", [0.5, 2.0, 3.0], True),
        ("filter(result, # > 1)", [0.5, 2.0, 3.0], [2.0, 3.0]),
        ("map(result, # * 2)", [0.5, 2.0], [1.0, 4.0]),
        ("map(result, #index)", [0.5, 2.0], [0, 1]),
        ("count(result, # > 1)", [0.5, 2.0, 3.0], 2),
        ("first(result)", [0.5, 2.0], 0.5),
        ("last(result)", [0.5, 2.0], 2.0),
        ("first(result)", [], None),
        ("(first(result) ?? 0) < 0.05", [], True),
        ("min(result)", [0.5, 2.0, 0.1], 0.1),
        ("max(result)", [0.5, 2.0, 0.1], 2.0),
        ("min(3, 1, 2)", None, 1),
        ("sum(result)", [0.5, 2.0], 2.5),
        ("sum(result)", [], 0),
        ("sum(result, # * 2)", [0.5, 2.0], 5.0),
        ("mean(result)", [1.0, 2.0, 3.0], 2.0),
        ("median(result)", [1.0, 5.0, 3.0], 3.0),
        ("abs(-2)", None, 2),
        ("round(2.5)", None, 3.0),
        ("floor(2.7) + ceil(2.1)", None, 5.0),
        ("int(2.9)", None, 2),
        ("float(2)", None, 2.0),
        ("string(0.5)", None, "0.5"),
        ("result[0] ?? 1", [0.3], 0.3),
    ],
)
def test_builtins(source: str, result: object, expected: object) -> None:
    assert run(source, result) == expected


def test_argo_functions() -> None:
    assert run("isNaN(result[0])", [math.nan]) is True
    assert run("isNaN(result[0])", [1.0]) is False
    assert run("isInf(result[0])", [math.inf]) is True
    assert run("isInf(result[0])", [-math.inf]) is True
    assert run("isInf(result[0])", [1.0]) is False
    assert run("asInt('42') + 1") == 43
    assert run("asInt(result[0])", [2.9]) == 2
    assert run("asFloat('0.5') < 1") is True
    assert run("asFloat(result[0])", [2.0]) == 2.0


def test_is_nan_of_a_vector_is_a_compile_error() -> None:
    with pytest.raises(CompileError, match=r"cannot use \[\]float64 as argument"):
        compile_expr("isNaN(result)", {"result": [math.nan]})


def test_as_int_and_as_float_fail_on_unparsable_strings() -> None:
    with pytest.raises(EvalError, match="invalid syntax"):
        run("asInt('abc')")
    with pytest.raises(EvalError, match="invalid syntax"):
        run("asFloat('abc')")
    with pytest.raises(EvalError):
        run("asInt(result)", [1.0])


def test_is_nil_and_default_look_at_the_whole_result() -> None:
    # An empty Prometheus vector is not nil: neither function helps.
    assert run("isNil(result)", []) is False
    assert run("default(result, 0)", []) == []
    assert run("isNil(result)", None) is True
    assert run("isNil(1)", None) is True  # the argument is ignored
    assert run("default(result, 7)", None) == 7
    with pytest.raises(EvalError):
        run("default(result, 0) > 0.5", [])
    with pytest.raises(EvalError, match="index out of range"):
        run("default(result[0], 0) > 0.5", [])


def test_first_of_empty_vector_compared_is_a_runtime_error() -> None:
    with pytest.raises(EvalError, match="mismatched types <nil> and float64"):
        run("first(result) < 0.05", [])


def test_min_of_empty_vector_is_nil() -> None:
    assert run("min(result) ?? -1", []) == -1


def test_predicate_must_return_bool() -> None:
    with pytest.raises(CompileError, match="predicate should return boolean"):
        compile_expr("all(result, # + 1)", {"result": [1.0]})


def test_pointer_outside_predicate_is_rejected() -> None:
    with pytest.raises(CompileError, match="pointer accessor outside predicate"):
        compile_expr("# > 1", {"result": [1.0]})


def test_builtin_argument_errors() -> None:
    with pytest.raises(CompileError, match="not enough arguments to call all"):
        compile_expr("all(result)", {"result": [1.0]})
    with pytest.raises(CompileError, match="too many arguments to call len"):
        compile_expr("len(result, result)", {"result": [1.0]})
    with pytest.raises(CompileError, match="invalid argument for len"):
        compile_expr("len(result)", {"result": 1.0})
    with pytest.raises(CompileError, match="builtin all takes only array"):
        compile_expr("all(result, # > 1)", {"result": 1.0})


def test_time_functions_for_range_queries() -> None:
    assert run("now() - duration('5m') < now()") is True
    with pytest.raises(EvalError, match="unknown unit"):
        run("duration('5x')")


def test_no_python_eval_escape() -> None:
    with pytest.raises(CompileError):
        compile_expr("__import__('os').system('true')", {"result": [1.0]})
