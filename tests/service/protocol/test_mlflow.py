"""MLflow scoring protocol parsing: the four JSON forms, CSV, Parquet, content types, errors."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import orjson
import pytest

from service.errors import ApiError
from service.predictor import Column
from service.protocol import mlflow
from service.protocol.mlflow import Media, media_type, parse, parse_csv, parse_json
from service.protocol.schema import InputSchema, SchemaError
from tests.support.fakes import FEATURES, ROW

LIMITS = {"max_rows": 100_000, "max_decoded_bytes": 64 << 20}

SCHEMA = InputSchema.from_columns([Column(name) for name in FEATURES])
EXPECTED = np.array([ROW])


def body(document: Any) -> bytes:
    return orjson.dumps(document)


def error(document: Any, schema: InputSchema = SCHEMA) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_json(body(document) if not isinstance(document, bytes) else document, schema)
    return caught.value


def records(rows: int = 1) -> list[dict[str, float]]:
    return [dict(zip(FEATURES, ROW, strict=True))] * rows


# --- the four accepted JSON forms -----------------------------------------------------------


def test_dataframe_split_in_signature_order() -> None:
    matrix = parse_json(body({"dataframe_split": {"columns": FEATURES, "data": [ROW] * 3}}), SCHEMA)
    assert matrix.dtype == np.float64 and matrix.flags.c_contiguous
    np.testing.assert_array_equal(matrix, np.array([ROW] * 3))


def test_dataframe_split_with_index_and_shuffled_and_extra_columns() -> None:
    order = [*list(reversed(FEATURES)), "not a feature"]
    data = [[*reversed(ROW), 123.0], [*reversed(ROW), -5.0]]
    matrix = parse_json(
        body({"dataframe_split": {"index": [7, 8], "columns": order, "data": data}}), SCHEMA
    )
    np.testing.assert_array_equal(matrix, np.array([ROW, ROW]))


def test_dataframe_records_ignore_extra_keys() -> None:
    rows = [{**row, "extra": "ignored"} for row in records(2)]
    np.testing.assert_array_equal(
        parse_json(body({"dataframe_records": rows}), SCHEMA), np.array([ROW, ROW])
    )


def test_instances_as_records() -> None:
    np.testing.assert_array_equal(parse_json(body({"instances": records()}), SCHEMA), EXPECTED)


def test_inputs_as_columns_and_as_records() -> None:
    columns = {name: [value, value] for name, value in zip(FEATURES, ROW, strict=True)}
    np.testing.assert_array_equal(
        parse_json(body({"inputs": columns}), SCHEMA), np.array([ROW, ROW])
    )
    np.testing.assert_array_equal(parse_json(body({"inputs": records()}), SCHEMA), EXPECTED)


def test_params_and_unknown_top_level_keys_are_accepted_like_mlflow() -> None:
    document = {"dataframe_records": records(), "params": {"x": 1}, "something": "else"}
    np.testing.assert_array_equal(parse_json(body(document), SCHEMA), EXPECTED)


def test_integers_booleans_and_numeric_strings_convert_like_pandas() -> None:
    row: list[object] = list(ROW)
    row[0], row[1], row[2] = 18, "10.38", True
    matrix = parse_json(body({"dataframe_split": {"columns": FEATURES, "data": [row]}}), SCHEMA)
    assert matrix[0, :3].tolist() == [18.0, 10.38, 1.0]


# --- malformed bodies: status, MLflow error code, message naming the problem ------------------


@pytest.mark.parametrize(
    ("document", "code", "fragment"),
    [
        (b'{"dataframe_split": {"columns": [', "BAD_REQUEST", "not valid JSON"),
        (b"", "BAD_REQUEST", "not valid JSON"),
        (b"\xff\xfe", "BAD_REQUEST", "not valid JSON"),
        ([1, 2], "BAD_REQUEST", "got a JSON array"),
        ({"foo": 1}, "BAD_REQUEST", "exactly one of the keys"),
        ({"input": []}, "BAD_REQUEST", "did you mean 'inputs'"),
        ({"columns": [], "data": []}, "BAD_REQUEST", "wrap them in 'dataframe_split'"),
        ({"dataframe_split": {}, "inputs": {}}, "BAD_REQUEST", "more than one input key"),
        ({"dataframe_records": [], "params": []}, "BAD_REQUEST", "'params'"),
        ({"dataframe_split": [1]}, "BAD_REQUEST", "must be an object"),
        ({"dataframe_split": {"data": [], "foo": 1}}, "BAD_REQUEST", "'data' field"),
        ({"dataframe_split": {"data": [ROW]}}, "INVALID_PARAMETER_VALUE", "no 'columns'"),
        (
            {"dataframe_split": {"columns": FEATURES, "data": [ROW], "index": [1, 2]}},
            "BAD_REQUEST",
            "index",
        ),
        (
            {"dataframe_split": {"columns": FEATURES, "data": []}},
            "INVALID_PARAMETER_VALUE",
            "empty",
        ),
        ({"dataframe_split": {"columns": FEATURES, "data": {}}}, "BAD_REQUEST", "list of rows"),
        ({"dataframe_split": {"columns": "abc", "data": [ROW]}}, "BAD_REQUEST", "column names"),
        ({"dataframe_records": []}, "INVALID_PARAMETER_VALUE", "empty batch"),
        ({"dataframe_records": [1]}, "BAD_REQUEST", "dataframe_records[0] must be an object"),
        ({"instances": [ROW]}, "INVALID_PARAMETER_VALUE", "without column names"),
        ({"inputs": [ROW]}, "INVALID_PARAMETER_VALUE", "without column names"),
        ({"inputs": 5}, "BAD_REQUEST", "list of rows or an object"),
        ({"instances": []}, "INVALID_PARAMETER_VALUE", "empty batch"),
    ],
)
def test_malformed_json(document: Any, code: str, fragment: str) -> None:
    caught = error(document)
    assert caught.status == 400
    assert caught.error_code == code
    assert fragment in caught.message


def test_missing_column_is_named_and_unexpected_ones_listed() -> None:
    columns = [*FEATURES[:-1], "worst fractal dimensionX"]
    caught = error({"dataframe_split": {"columns": columns, "data": [ROW]}})
    assert caught.error_code == "INVALID_PARAMETER_VALUE"
    assert "'worst fractal dimension'" in caught.message
    assert "unexpected column(s) 'worst fractal dimensionX'" in caught.message


def test_missing_key_in_a_record_is_named() -> None:
    row = records()[0]
    del row["mean area"]
    caught = error({"dataframe_records": [row]})
    assert "missing required column(s) 'mean area'" in caught.message


def test_duplicate_column_names() -> None:
    caught = error({"dataframe_split": {"columns": [*FEATURES, "mean area"], "data": [ROW]}})
    assert "more than once: 'mean area'" in caught.message


def test_row_of_the_wrong_length_names_the_row() -> None:
    caught = error({"dataframe_split": {"columns": FEATURES, "data": [ROW, ROW[:29]]}})
    assert caught.error_code == "BAD_REQUEST"
    assert "dataframe_split.data[1] has 29 values but there are 30 columns" in caught.message


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("abc", "cannot convert 'abc' to a number"),
        ({"a": 1}, "expected a number, got object"),
        ([1.0], "expected a number, got array"),
    ],
)
def test_non_numeric_cell_names_row_and_column(value: object, fragment: str) -> None:
    row: list[object] = list(ROW)
    row[3] = value
    caught = error({"dataframe_split": {"columns": FEATURES, "data": [ROW, row]}})
    assert caught.error_code == "BAD_REQUEST"
    assert f"row 1, column 'mean area': {fragment}" in caught.message


def test_numbers_beyond_float_range_are_a_json_error() -> None:
    document = b'{"dataframe_split": {"columns": ["mean radius"], "data": [[1e400]]}}'
    assert "not valid JSON" in error(document).message


@pytest.mark.parametrize("value", [None, "NaN", "inf", "-Infinity"])
def test_null_nan_or_infinite_in_a_required_column_is_refused(value: object) -> None:
    row: list[object] = list(ROW)
    row[5] = value
    caught = error({"dataframe_split": {"columns": FEATURES, "data": [ROW, ROW, row]}})
    assert caught.error_code == "INVALID_PARAMETER_VALUE"
    assert "column 'mean compactness'" in caught.message and "row 2" in caught.message


def test_error_messages_never_echo_the_body() -> None:
    secret = "x" * 5000
    for document in (
        {"dataframe_split": {"columns": FEATURES, "data": [[secret] * 30]}},
        {"dataframe_records": [{secret: 1}]},
        {secret: 1},
    ):
        assert len(error(document).message) < 400
    assert len(error(b'{"dataframe_split": ' + secret.encode()).message) < 400


# --- optional and integer columns ------------------------------------------------------------


def test_optional_columns_may_be_missing_or_null_and_integer_columns_need_whole_numbers() -> None:
    schema = InputSchema.from_columns(
        [Column("a"), Column("b", "double", required=False), Column("n", "long")]
    )
    matrix = parse_json(
        body({"dataframe_records": [{"a": 1, "n": 2}, {"a": 2, "b": None, "n": 3}]}), schema
    )
    assert matrix[:, 0].tolist() == [1.0, 2.0] and np.isnan(matrix[:, 1]).all()
    caught = error({"dataframe_records": [{"a": 1, "n": 2.5}]}, schema)
    assert "column 'n' takes whole numbers" in caught.message
    caught = error({"dataframe_records": [{"a": 1, "b": "-inf", "n": 1}]}, schema)
    assert "column 'b' has an infinite value in row 0" in caught.message


def test_unsupported_signature_types_fail_at_schema_construction() -> None:
    with pytest.raises(SchemaError, match="only numeric columns"):
        InputSchema.from_columns([Column("text", "string")])
    with pytest.raises(SchemaError, match="no input columns"):
        InputSchema.from_columns([])


# --- CSV and Parquet -------------------------------------------------------------------------


def csv_text(header: list[str], *rows: list[object]) -> bytes:
    lines = [",".join(f'"{h}"' for h in header)]
    lines += [",".join("" if v is None else str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def test_csv_like_dataframe_to_csv_with_its_index_column() -> None:
    content = csv_text(["", *FEATURES], [0, *ROW], [1, *ROW])
    np.testing.assert_array_equal(parse_csv(content, SCHEMA), np.array([ROW, ROW]))


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty"),
        (b"\xff\xfe", "not valid UTF-8"),
        (csv_text(list(FEATURES)), "empty batch"),
        (csv_text(list(FEATURES), list(ROW[:10])), "has 10 values"),
        (csv_text(list(FEATURES), ["abc", *ROW[1:]]), "cannot convert 'abc'"),
        (csv_text(list(FEATURES), [None, *ROW[1:]]), "column 'mean radius' has null/NaN"),
        (csv_text(list(FEATURES[1:]), list(ROW[1:])), "missing required column(s) 'mean radius'"),
    ],
)
def test_malformed_csv(content: bytes, fragment: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_csv(content, SCHEMA)
    assert caught.value.status == 400
    assert fragment in caught.value.message


def test_parquet_round_trip_and_garbage() -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({name: [value, value] for name, value in zip(FEATURES, ROW, strict=True)})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    np.testing.assert_array_equal(
        parse(Media.PARQUET, sink.getvalue(), SCHEMA, **LIMITS), np.array([ROW, ROW])
    )
    with pytest.raises(ApiError, match="not a readable Parquet file") as caught:
        parse(Media.PARQUET, b"PAR1 not really", SCHEMA, **LIMITS)
    assert caught.value.status == 400


def test_parquet_is_held_to_the_row_and_decoded_byte_limits_before_decoding() -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = 50_000
    table = pa.table(
        {name: np.full(rows, value) for name, value in zip(FEATURES, ROW, strict=True)}
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    body = sink.getvalue()
    assert len(body) < 64 * 1024  # constant columns: a tiny file for many rows
    with pytest.raises(ApiError, match=f"holds {rows} rows, more than the limit of 1000") as caught:
        parse(Media.PARQUET, body, SCHEMA, max_rows=1000, max_decoded_bytes=1 << 30)
    assert caught.value.status == 413
    with pytest.raises(ApiError, match="more than the limit of 4096 decoded bytes") as caught:
        parse(Media.PARQUET, body, SCHEMA, max_rows=rows, max_decoded_bytes=4096)
    assert caught.value.status == 413
    # Columns the model does not use are not decoded, and do not count.
    wide = table.append_column("blob", pa.array(["x" * 10_000] * rows))
    sink = io.BytesIO()
    pq.write_table(wide, sink, compression="zstd")
    matrix = parse(Media.PARQUET, sink.getvalue(), SCHEMA, max_rows=rows, max_decoded_bytes=1 << 24)
    assert matrix.shape == (rows, len(FEATURES))


def test_json_and_csv_rows_are_held_to_the_row_limit() -> None:
    document = body({"dataframe_split": {"columns": FEATURES, "data": [ROW] * 5}})
    with pytest.raises(ApiError, match="holds 5 rows, more than the limit of 4") as caught:
        parse(Media.JSON, document, SCHEMA, max_rows=4, max_decoded_bytes=1 << 20)
    assert caught.value.status == 413
    text = csv_text(list(FEATURES), *([list(ROW)] * 5))
    with pytest.raises(ApiError, match="holds 5 rows"):
        parse(Media.CSV, text, SCHEMA, max_rows=4, max_decoded_bytes=1 << 20)


# --- Content-Type ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "media"),
    [
        ("application/json", Media.JSON),
        ("Application/JSON; charset=UTF-8", Media.JSON),
        ("text/csv", Media.CSV),
        ("text/csv; charset=utf-8", Media.CSV),
        ("application/vnd.apache.parquet", Media.PARQUET),
    ],
)
def test_accepted_content_types(header: str, media: Media) -> None:
    assert media_type(header) is media


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        (None, "missing Content-Type"),
        ("", "missing Content-Type"),
        ("text/plain", "unsupported Content-Type 'text/plain'"),
        ("application/json; charset=latin-1", "UTF-8"),
        ("application/json; format=pandas-split", "parameter 'format'"),
    ],
)
def test_refused_content_types_are_415(header: str | None, fragment: str) -> None:
    with pytest.raises(ApiError) as caught:
        media_type(header)
    assert caught.value.status == 415
    assert fragment in caught.value.message


def test_predictions_body_shape() -> None:
    assert orjson.loads(mlflow.predictions_body(np.array([0, 1, 1], dtype=np.int64))) == {
        "predictions": [0, 1, 1]
    }


def test_parquet_without_pyarrow_is_a_clear_415(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes "import pyarrow" fail
    with pytest.raises(ApiError, match="Parquet input needs pyarrow") as caught:
        parse(Media.PARQUET, b"PAR1", SCHEMA, **LIMITS)
    assert caught.value.status == 415
