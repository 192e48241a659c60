"""From a Prometheus response body to ``result`` and Argo's value string."""

from __future__ import annotations

import math

import pytest

from tools.analysis.prometheus import ProviderError, parse_response, value_string


def body(result_type: str, result: object) -> dict[str, object]:
    return {"status": "success", "data": {"resultType": result_type, "result": result}}


def test_vector_becomes_list_of_floats_in_order() -> None:
    parsed = parse_response(
        body(
            "vector",
            [
                {"metric": {"a": "1"}, "value": [1.0, "10"]},
                {"metric": {"a": "2"}, "value": [1.0, "11"]},
            ],
        )
    )
    assert parsed.value == [10.0, 11.0]
    assert parsed.value_string == "[10,11]"


def test_scalar_becomes_one_float() -> None:
    parsed = parse_response(body("scalar", [1.0, "10"]))
    assert parsed.value == 10.0
    assert parsed.value_string == "10"


def test_matrix_is_flattened_series_then_points() -> None:
    parsed = parse_response(
        body(
            "matrix",
            [
                {"metric": {}, "values": [[1, "11"], [2, "12"]]},
                {"metric": {}, "values": [[1, "13"], [2, "14"]]},
            ],
        )
    )
    assert parsed.value == [11.0, 12.0, 13.0, 14.0]
    assert parsed.value_string == "[11,12,13,14]"


def test_empty_vector_is_an_empty_list() -> None:
    parsed = parse_response(body("vector", []))
    assert parsed.value == []
    assert parsed.value_string == "[]"


def test_special_values() -> None:
    parsed = parse_response(
        body(
            "vector",
            [
                {"metric": {}, "value": [1, "NaN"]},
                {"metric": {}, "value": [1, "+Inf"]},
                {"metric": {}, "value": [1, "-Inf"]},
            ],
        )
    )
    assert isinstance(parsed.value, list)
    assert math.isnan(parsed.value[0])
    assert parsed.value[1:] == [math.inf, -math.inf]
    assert parsed.value_string == "[NaN,+Inf,-Inf]"
    assert parse_response(body("scalar", [1, "NaN"])).value_string == "NaN"


def test_native_histogram_sample_becomes_zero() -> None:
    parsed = parse_response(body("vector", [{"metric": {}, "histogram": [1, {"count": "3"}]}]))
    assert parsed.value == [0.0]


def test_string_result_is_an_error() -> None:
    with pytest.raises(ProviderError, match='unexpected value type "string"'):
        parse_response(body("string", [1, "hello"]))


def test_error_response_is_an_error() -> None:
    with pytest.raises(ProviderError, match="bad_data: parse error"):
        parse_response({"status": "error", "errorType": "bad_data", "error": "parse error"})


def test_warnings_are_kept() -> None:
    parsed = parse_response({**body("vector", []), "warnings": ["careful"]})
    assert parsed.warnings == ("careful",)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.99, "0.99"),
        (10.0, "10"),
        (-0.0, "-0"),
        (1e21, "1000000000000000000000"),
        (1e-7, "0.0000001"),
        (0.1 + 0.2, "0.30000000000000004"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
    ],
)
def test_value_string_uses_go_shortest_f_format(value: float, text: str) -> None:
    assert value_string(value) == text
    assert value_string([value]) == f"[{text}]"
