"""Open Inference Protocol v2 request parsing and response shaping."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from service.errors import ApiError
from service.predictor import Column
from service.protocol import oip
from service.protocol.schema import InputSchema
from tests.support.fakes import FEATURES, ROW

SCHEMA = InputSchema.from_columns([Column(name) for name in FEATURES])


def tensor(
    data: Any, shape: list[int], name: str = "input-0", datatype: str = "FP64"
) -> dict[str, Any]:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def parse(document: Any) -> oip.InferRequest:
    return oip.parse_infer(orjson.dumps(document), SCHEMA)


def refused(document: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse(document)
    assert caught.value.status == 400
    return caught.value


def test_one_tensor_nested_or_flat() -> None:
    nested = parse({"id": "r1", "inputs": [tensor([list(ROW), list(ROW)], [2, 30])]})
    flat = parse({"inputs": [tensor([*ROW, *ROW], [2, 30], datatype="FP32")]})
    np.testing.assert_array_equal(nested.matrix, np.array([ROW, ROW]))
    np.testing.assert_array_equal(flat.matrix, nested.matrix)
    assert nested.id == "r1" and flat.id is None
    assert nested.outputs == ("predict", "probability")


def test_one_input_per_column_in_any_order() -> None:
    inputs = [
        tensor([v, v], [2], name=n) for n, v in reversed(list(zip(FEATURES, ROW, strict=True)))
    ]
    request = parse({"inputs": inputs, "outputs": [{"name": "probability"}]})
    np.testing.assert_array_equal(request.matrix, np.array([ROW, ROW]))
    assert request.outputs == ("probability",)


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ([], "must be a JSON object"),
        ({}, "'inputs' must be a non-empty list"),
        ({"inputs": []}, "'inputs' must be a non-empty list"),
        ({"inputs": [1]}, "inputs[0] must be an object"),
        ({"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP64"}]}, "has no 'data'"),
        ({"inputs": [tensor([list(ROW)], [1, 30], datatype="STRING")]}, "'STRING'"),
        ({"inputs": [tensor([["x"] * 30], [1, 30], datatype="BYTES")]}, "cannot convert 'x'"),
        ({"inputs": [tensor([list(ROW)], [1, -30])]}, "shape"),
        ({"inputs": [tensor([list(ROW)], [1, 29])]}, "has 29 columns, the model takes 30"),
        ({"inputs": [tensor(list(ROW)[:2], [1, 30])]}, "needs 30 values, got 2"),
        ({"inputs": [tensor([], [0, 30])]}, "empty batch"),
        ({"inputs": [tensor([["a"] * 30], [1, 30])]}, "cannot convert 'a'"),
        ({"inputs": [tensor([None, *list(ROW[1:])], [1, 30])]}, "column 'mean radius' has null"),
        ({"id": 5, "inputs": [tensor([list(ROW)], [1, 30])]}, "'id' must be a string"),
        ({"inputs": [tensor([list(ROW)], [1, 30])], "outputs": [{"name": "x"}]}, "unknown output"),
        ({"inputs": [tensor([1.0], [1], name="nope")]}, "missing required column(s)"),
        ({"inputs": [tensor([1.0, 2.0], [1], name="mean radius")]}, "needs 1 values, got 2"),
    ],
)
def test_malformed_infer_requests(document: Any, fragment: str) -> None:
    assert fragment in refused(document).message


def test_unknown_input_next_to_all_columns() -> None:
    inputs = [tensor([v], [1], name=n) for n, v in zip(FEATURES, ROW, strict=True)]
    inputs.append(tensor([1.0], [1], name="bogus"))
    assert "unknown input(s) 'bogus'" in refused({"inputs": inputs}).message


def test_bytes_tensor_of_numeric_text() -> None:
    request = parse({"inputs": [tensor([[repr(v) for v in ROW]], [1, 30], datatype="BYTES")]})
    np.testing.assert_array_equal(request.matrix, np.array([ROW]))


def test_infer_body_and_metadata() -> None:
    body = oip.infer_body(
        model_name="m",
        model_version="3",
        request_id="abc",
        outputs=oip.OUTPUTS,
        labels=np.array([1, 0], dtype=np.int64),
        probabilities=np.array([0.9, 0.2]),
    )
    # probability is FP32, and its JSON numbers are float32's shortest form (0.9, not
    # 0.8999999761581421): the ONNX graph computes it in float32.
    assert orjson.loads(body) == {
        "model_name": "m",
        "model_version": "3",
        "id": "abc",
        "outputs": [
            {"name": "predict", "datatype": "INT64", "shape": [2], "data": [1, 0]},
            {"name": "probability", "datatype": "FP32", "shape": [2], "data": [0.9, 0.2]},
        ],
    }
    meta = oip.metadata(name="m", version="3", platform="onnx", schema=SCHEMA)
    assert meta["inputs"] == [{"name": n, "datatype": "FP64", "shape": [-1]} for n in FEATURES]
    assert meta["outputs"] == [
        {"name": "predict", "datatype": "INT64", "shape": [-1]},
        {"name": "probability", "datatype": "FP32", "shape": [-1]},
    ]
    assert "parameters" not in meta


def test_column_datatypes_in_metadata_follow_the_signature() -> None:
    columns = [Column("a", "long"), Column("b", "boolean"), Column("c", "float", required=False)]
    meta = oip.metadata(name="m", version="3", platform="onnx", schema=InputSchema(tuple(columns)))
    assert [(t["name"], t["datatype"]) for t in meta["inputs"]] == [
        ("a", "INT64"),
        ("b", "BOOL"),
        ("c", "FP32"),
    ]


def test_every_response_has_an_id() -> None:
    bodies = [
        orjson.loads(
            oip.infer_body(
                model_name="m",
                model_version="3",
                request_id=None,
                outputs=("predict",),
                labels=np.array([1], dtype=np.int64),
                probabilities=np.array([0.5]),
            )
        )
        for _ in range(2)
    ]
    ids = [body["id"] for body in bodies]
    assert all(isinstance(i, str) and i for i in ids) and ids[0] != ids[1]
