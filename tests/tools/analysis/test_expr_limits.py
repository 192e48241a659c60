"""expr-lang's limits and Go's semantics, each case named after the upstream rule it mirrors.

Upstream: expr-lang/expr v1.17.8 (the version Argo Rollouts pins) and Go's regexp/syntax,
strconv and int64 arithmetic. See tools/analysis/expr/{evaluator,optimizer,gonum,goregexp}.py.
"""

from __future__ import annotations

import math

import pytest

from tools.analysis.expr import (
    MAX_NODES,
    MEMORY_BUDGET,
    CompileError,
    EvalError,
    compile_expr,
    gonum,
)

INT_MAX = 9223372036854775807
INT_MIN = -9223372036854775808
# Most of the memory budget taken by one cheap allocation (a range of 993,000 built without a
# loop), so that a few thousand elements more or less decide the outcome.
CHARGED = "len(0..992999) > 0"


def run(source: str, result: object = None) -> object:
    env = {"result": result}
    return compile_expr(source, env).run(env, whole_result=result)


# --- vm.memGrow and conf.DefaultMemoryBudget -------------------------------------------------


def test_memory_budget_is_expr_default() -> None:
    assert MEMORY_BUDGET == 1_000_000  # conf.DefaultMemoryBudget = 1e6


def test_range_is_charged_before_it_is_built_and_the_budget_is_exclusive() -> None:
    # OpRange charges max-min+1; memGrow fails when the total reaches the budget (>=).
    assert run("len(0..999998)") == 999_999
    with pytest.raises(EvalError, match=r"^memory budget exceeded"):
        run("len(0..999999)")
    with pytest.raises(EvalError, match=r"^memory budget exceeded"):
        run("len(0..1000000000)")


def test_allocations_add_up_within_one_evaluation() -> None:
    # Two ranges of 600,001 each: the second pushes the total over the budget.
    assert run("len(0..600000) > 0")
    with pytest.raises(EvalError, match="memory budget exceeded"):
        run("len(0..600000) + len(1..600001) > 0")


def test_each_evaluation_has_its_own_budget() -> None:
    program = compile_expr("len(0..600000) > 0", {})
    assert program.run({}) is True
    assert program.run({}) is True


def test_map_and_filter_results_are_charged_after_the_loop() -> None:
    # OpArray after map's loop: 993,000 + 4,000 (range) + 4,000 (map) reaches the budget.
    assert run(f"{CHARGED} && len(0..3999) > 0") is True
    with pytest.raises(EvalError, match="memory budget exceeded"):
        run(f"{CHARGED} && len(map(0..3999, #)) > 0")
    with pytest.raises(EvalError, match="memory budget exceeded"):
        run(f"{CHARGED} && len(filter(0..3999, true)[1:]) > 0")


def test_constant_arrays_are_folded_and_cost_nothing() -> None:
    # optimizer/fold.go turns an array of literals into a constant built at compile time; a
    # computed array is charged its length at run time (OpArray).
    literals = ", ".join(["1"] * 7_000)
    assert run(f"{CHARGED} && len([{literals}]) == 7000") is True
    computed = ", ".join(["len(result)"] * 3_000)
    with pytest.raises(EvalError, match="memory budget exceeded"):
        run(f"{CHARGED} && len(0..3999) > 0 && len([{computed}]) > 0", [1.0])


def test_range_that_wraps_to_a_negative_size_is_empty() -> None:
    # runtime.MakeRange computes max-min+1 in int: the full int64 range wraps to size 0.
    assert run(f"{INT_MIN + 1} - 1 .. {INT_MAX}") == []


# --- optimizer passes that avoid allocations ----------------------------------------------------


def test_in_range_with_literal_bounds_is_a_comparison() -> None:
    # optimizer/in_range.go: `x in m..n` with an int x never builds the range.
    assert run("5 in 0..10000000") is True
    assert run("len(result) in 0..10000000", [1.0]) is True
    # With a float on the left the range is built, as in Argo.
    with pytest.raises(EvalError, match="memory budget exceeded"):
        run("result[0] in 0..10000000", [1.0])


def test_sum_of_a_literal_range_uses_the_series_formula_in_int64() -> None:
    # optimizer/sum_range.go: (n-m+1)*(m+n)/2 in Go int arithmetic, overflow included.
    assert run("sum(1..10000000)") == 50_000_005_000_000
    assert run("sum(1..100, # * 2)") == 10_100
    assert run("sum(1..100, # - 1)") == 4_950
    assert run("sum(1..100, 1 - #)") == -4_950
    assert run("sum(0..10000000000)") == gonum.truncated_div(
        gonum.wrap(10_000_000_001 * 10_000_000_000), 2
    )


def test_filter_rewrites_avoid_the_intermediate_array() -> None:
    # optimizer/filter_len.go, filter_first.go, filter_last.go, filter_map.go: without them
    # the filtered array (about 4,000 more) would exceed the budget after CHARGED.
    assert run(f"{CHARGED} && len(filter(0..3999, # > 3)) == 3996") is True
    assert run(f"{CHARGED} && filter(0..3999, # > 3)[0] == 4") is True
    assert run(f"{CHARGED} && filter(0..3999, # > 3)[-1] == 3999") is True
    assert run(f"{CHARGED} && first(filter(0..3999, # > 3)) == 4") is True
    assert run(f"{CHARGED} && last(filter(0..3999, # > 3)) == 3999") is True
    assert run(f"{CHARGED} && len(map(filter(0..3999, # > 3), # * 2)) == 3996") is True
    # filter()[0] on no match fails like the index it replaced; first() gives nil.
    with pytest.raises(EvalError, match="reflect: slice index out of range"):
        run("filter(0..10, # > 10)[0]")
    assert run("first(filter(0..10, # > 10))") is None


def test_predicate_combination_walks_the_collection_once() -> None:
    # optimizer/predicate_combination.go: all(a, p) && all(a, q) -> all(a, p && q); the
    # same for any/||, none/&&. Only when both sides name the same collection.
    assert run(f"{CHARGED} && (all(0..3999, # >= 0) && all(0..3999, # < 4000))") is True
    assert run(f"{CHARGED} && (any(0..3999, # < 0) || any(0..3999, # == 7))") is True
    assert run(f"{CHARGED} && (none(0..3999, # < 0) && none(0..3999, # > 4000))") is True
    with pytest.raises(EvalError, match="memory budget exceeded"):
        run(f"{CHARGED} && (all(0..3999, # >= 0) && all(0..4000, # >= 0))")


def test_constant_logic_is_folded_before_anything_runs() -> None:
    # optimizer/fold.go: `x && false` is false and `x || true` is true without evaluating x.
    assert run("result[9] > 0 && false", [1.0]) is False
    assert run("result[9] > 0 || true", [1.0]) is True


# --- parser.checkNodeLimit and conf.DefaultMaxNodes -----------------------------------------


def test_node_limit() -> None:
    assert MAX_NODES == 10_000
    assert run("len([" + ", ".join(["1"] * 9_990) + "]) > 0") is True
    with pytest.raises(CompileError, match="expression exceeds maximum allowed nodes"):
        compile_expr("len([" + ", ".join(["1"] * 10_000) + "]) > 0", {})


# --- Go int64 arithmetic ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (f"{INT_MAX} + 1", INT_MIN),
        (f"len(result) + {INT_MAX}", INT_MIN),
        (f"{INT_MIN + 1} - 2", INT_MAX),
        (f"{INT_MAX} * 2", -2),
        (f"-(len(result) - 1 + {INT_MIN + 1} - 1)", INT_MIN),  # -MinInt64 == MinInt64
        (f"({INT_MIN + 1} - 1) % -1", 0),
        (f"{INT_MAX} % 10", 7),  # exact, not via float64
        (f"abs({INT_MIN + 1} - 1)", INT_MIN),
        (f"sum([{INT_MAX}, len(result)])", INT_MIN),
        ("int(1e300)", INT_MIN),  # amd64's conversion of an out-of-range float
        ("asInt(result[0])", INT_MIN),
    ],
)
def test_int64_wraps_around(source: str, expected: int) -> None:
    assert run(source, [math.nan]) == expected


def test_int_float_comparison_converts_the_int_like_go() -> None:
    # runtime.Equal / Less: float64(int) first, so 2^53+1 equals 2^53 as a float.
    assert run("9007199254740993 == 9007199254740992.0") is True


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("9223372036854775808", 'invalid integer literal: strconv.ParseInt: parsing "9223372036854775808": value out of range'),  # noqa: E501
        ("0x8000000000000000", "invalid hex literal: strconv.ParseInt"),
        ("1e309", 'invalid float literal: strconv.ParseFloat: parsing "1e309": value out of range'),
    ],
)  # fmt: skip
def test_literals_must_fit_go_types(source: str, message: str) -> None:
    with pytest.raises(CompileError, match=message.replace("(", r"\(")):
        compile_expr(source, {})


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('asInt("9223372036854775808")', 'strconv.ParseInt: parsing "9223372036854775808": value out of range'),  # noqa: E501
        ('asInt(" 1")', 'strconv.ParseInt: parsing " 1": invalid syntax'),
        ('asInt("1_000")', "invalid syntax"),
        ('int("٣")', 'strconv.Atoi: parsing "٣": invalid syntax'),  # ASCII digits only
        ('asFloat("1e400")', 'strconv.ParseFloat: parsing "1e400": value out of range'),
        ('asFloat("1_0")', "invalid syntax"),
        ('asFloat(" 1")', "invalid syntax"),
        ('asFloat("+nan")', "invalid syntax"),
    ],
)  # fmt: skip
def test_string_conversions_follow_strconv(source: str, message: str) -> None:
    with pytest.raises(EvalError, match=message):
        run(source)


def test_strconv_accepts_what_go_accepts() -> None:
    assert run('asInt("-42")') == -42
    assert run('asFloat("-Inf")') == -math.inf
    assert math.isnan(run('asFloat("NaN")'))  # type: ignore[arg-type]
    assert run('asFloat("0x1p-2")') == 0.25
    assert run('asFloat("1e-400")') == 0.0  # underflow is not a range error


@pytest.mark.parametrize(
    ("source", "expected"),
    [("(-10) ** 401", -math.inf), ("0 ** -1", math.inf), ("(-8) ** 0.5", math.nan)],
)
def test_power_follows_go_math_pow(source: str, expected: float) -> None:
    value = run(source)
    assert isinstance(value, float)
    assert (math.isnan(value) and math.isnan(expected)) or value == expected


def test_arrays_do_not_add() -> None:
    # checker.go case "+": numbers, strings, time and duration only.
    with pytest.raises(CompileError, match=r"invalid operation: \+ \(mismatched types"):
        compile_expr("[1] + [2]", {})


# --- Go regexp (RE2) for `matches` -----------------------------------------------------------


def test_backtracking_pattern_is_linear() -> None:
    # A backtracking engine never returns here; RE2 answers at once.
    assert run('"' + "a" * 100_000 + '!" matches "^(a+)+$"') is False
    assert run('"' + "a" * 100_000 + '" matches "^(a+)+$"') is True


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(?<=a)b", "error parsing regexp: invalid named capture: `(?<=a)b`"),
        ("(?<!a)b", "error parsing regexp: invalid named capture: `(?<!a)b`"),
        ("(?=a)", "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"),
        ("(a)\\\\1", "error parsing regexp: invalid escape sequence: `\\1`"),
        ("\\\\C", "error parsing regexp: invalid escape sequence: `\\C`"),
        ("a**", "error parsing regexp: invalid nested repetition operator: `**`"),
        ("a{1001}", "error parsing regexp: invalid repeat count: `{1001}`"),
        ("[z-a]", "error parsing regexp: invalid character class range: `z-a`"),
        ("(ab", "error parsing regexp: missing closing ): `(ab`"),
        ("[ab", "error parsing regexp: missing closing ]: `[ab`"),
        ("*", "error parsing regexp: missing argument to repetition operator: `*`"),
        ("(?P<n!>a)", "error parsing regexp: invalid named capture: `(?P<n!>`"),
        ("(" * 1000 + "a" + ")" * 1000, "error parsing regexp: expression nests too deeply: `((("),
    ],
)
def test_patterns_go_rejects_fail_with_gos_message(pattern: str, message: str) -> None:
    # A literal pattern is compiled by the checker (checker.go, case "matches"): compile error.
    with pytest.raises(CompileError) as literal:
        compile_expr(f'"ab" matches "{pattern}"', {})
    assert literal.value.message.startswith(message)
    # A computed one by OpMatches at run time: the same message, as a runtime error.
    with pytest.raises(EvalError) as computed:
        run(f'"ab" matches string("{pattern}")')
    assert computed.value.message == literal.value.message


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('"ab" matches "(?P<n>a)(?P<n>b)"', True),  # Go allows duplicate names
        ('"ab" matches "(?<n>a)b"', True),
        ('"a.b" matches "\\\\Qa.b\\\\E"', True),
        ('"xAy" matches "(?i)a"', True),
        ('"ζ" matches "^\\\\pL$"', True),
        ('"a\\nb" matches "^b"', False),  # no multi-line mode unless (?m)
        ('"a\\nb" matches "(?m)^b"', True),
        ('nil matches "a"', False),  # OpMatches: a nil operand does not match
    ],
)
def test_patterns_go_accepts(source: str, expected: bool) -> None:
    assert run(source) is expected
