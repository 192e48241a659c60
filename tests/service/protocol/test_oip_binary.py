"""The OIP v2 binary tensor codec, checked against Triton's own client serializers.

Request bodies come from ``tritonclient`` (``InferInput.set_data_from_numpy`` in its default
binary mode, ``serialize_byte_tensor``) or are built by hand with ``struct``; responses are read
back with ``tritonclient``'s parser. Every malformed body is a 400 that names the input.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tritonclient.http import InferenceServerClient, InferInput, InferRequestedOutput
from tritonclient.utils import serialize_byte_tensor

from service.errors import ApiError
from service.predictor import Column
from service.protocol import oip, oip_binary
from service.protocol.schema import InputSchema
from tests.support.fakes import FEATURES, ROW

SCHEMA = InputSchema.from_columns([Column(name) for name in FEATURES])
ROWS = np.array([ROW, [v * 1.5 for v in ROW], [v / 3 for v in ROW]], dtype=np.float64)


def triton_body(
    inputs: list[InferInput], outputs: list[InferRequestedOutput] | None = None
) -> tuple[bytes, str]:
    body, json_size = InferenceServerClient.generate_request_body(inputs, outputs=outputs)
    assert json_size is not None, "tritonclient sent no binary part"
    return bytes(body), str(json_size)


def tensor_input(values: np.ndarray, name: str = "input-0") -> InferInput:
    datatype = {np.float32: "FP32", np.float64: "FP64"}[values.dtype.type]
    tensor = InferInput(name, list(values.shape), datatype)
    tensor.set_data_from_numpy(values)  # binary_data=True is the client's default
    return tensor


def hand_body(header: dict[str, Any], *chunks: bytes) -> tuple[bytes, str]:
    text = json.dumps(header).encode()
    return text + b"".join(chunks), str(len(text))


def refused(body: bytes, header_length: str) -> str:
    with pytest.raises(ApiError) as caught:
        oip.parse_binary_infer(body, header_length, SCHEMA)
    assert caught.value.status == 400
    return caught.value.message


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows", [1, 3])
def test_triton_tensor_input_decodes_to_the_same_matrix(dtype: type, rows: int) -> None:
    values = ROWS[:rows].astype(dtype)
    request = oip.parse_binary_infer(*triton_body([tensor_input(values)]), SCHEMA)
    np.testing.assert_array_equal(request.matrix, values.astype(np.float64))
    # No outputs named: Triton's client asks for every output in binary.
    assert request.outputs == oip.OUTPUTS
    assert request.binary == frozenset(oip.OUTPUTS)


def test_triton_inputs_per_column_in_any_order_with_json_outputs() -> None:
    inputs = [tensor_input(ROWS[:, j].copy(), name) for j, name in enumerate(FEATURES)][::-1]
    outputs = [InferRequestedOutput("probability", binary_data=False)]
    request = oip.parse_binary_infer(*triton_body(inputs, outputs), SCHEMA)
    np.testing.assert_array_equal(request.matrix, ROWS)
    assert request.outputs == ("probability",) and request.binary == frozenset()


@pytest.mark.parametrize(
    ("datatype", "dtype"),
    [
        ("BOOL", np.bool_),
        ("INT8", np.int8),
        ("INT16", np.int16),
        ("INT32", np.int32),
        ("INT64", np.int64),
        ("UINT8", np.uint8),
        ("UINT16", np.uint16),
        ("UINT32", np.uint32),
        ("UINT64", np.uint64),
        ("FP16", np.float16),
        ("FP32", np.float32),
        ("FP64", np.float64),
        ("BF16", ml_dtypes.bfloat16),
    ],
)
def test_every_fixed_size_datatype_as_tritonclient_encodes_it(datatype: str, dtype: Any) -> None:
    values = np.array([[1, 0, 1], [0, 1, 1]] if datatype == "BOOL" else [[1, 2, 3], [4, 5, 6]])
    array = values.astype(dtype)
    tensor = InferInput("x", [2, 3], datatype)
    tensor.set_data_from_numpy(array)
    raw = tensor._get_binary_data()  # exactly the bytes the client puts on the wire
    decoded = oip_binary.decode(raw, datatype, [2, 3], "input 'x'")
    assert isinstance(decoded, np.ndarray)
    np.testing.assert_array_equal(decoded, values.reshape(-1).astype(np.float64))


def test_bytes_elements_as_serialize_byte_tensor_writes_them() -> None:
    elements = np.array([b"17.99", "10.38", b"", "-1e3"], dtype=np.object_)
    raw = serialize_byte_tensor(elements).item()
    assert oip_binary.decode(raw, "BYTES", [4], "input 'x'") == ["17.99", "10.38", "", "-1e3"]
    assert oip_binary.encode_bytes([b"17.99", "10.38", b"", "-1e3"]) == raw


def test_bytes_tensor_of_numbers_predicts_like_fp64() -> None:
    text = np.array([[repr(v) for v in ROW]], dtype=np.object_)
    tensor = InferInput("input-0", [1, 30], "BYTES")
    tensor.set_data_from_numpy(text)
    request = oip.parse_binary_infer(*triton_body([tensor]), SCHEMA)
    np.testing.assert_array_equal(request.matrix, np.array([ROW]))


def test_hand_built_body_with_json_and_binary_inputs() -> None:
    raw = struct.pack("<2d", ROW[0], ROW[0] * 2)
    inputs: list[dict[str, Any]] = [
        {"name": name, "shape": [2], "datatype": "FP64", "data": [v, v * 2]}
        for name, v in zip(FEATURES[1:], ROW[1:], strict=True)
    ]
    inputs.insert(
        0,
        {"name": FEATURES[0], "shape": [2], "datatype": "FP64"}
        | {"parameters": {"binary_data_size": len(raw)}},
    )
    header = {"id": "h1", "inputs": inputs, "outputs": [{"name": "predict"}]}
    request = oip.parse_binary_infer(*hand_body(header, raw), SCHEMA)
    np.testing.assert_allclose(request.matrix, np.array([ROW, [v * 2 for v in ROW]]))
    assert request.id == "h1" and request.binary == frozenset()


def binary_tensor(shape: list[int], size: int, datatype: str = "FP64") -> dict[str, Any]:
    return {
        "name": "input-0",
        "shape": shape,
        "datatype": datatype,
        "parameters": {"binary_data_size": size},
    }


ONE_ROW = struct.pack("<30d", *ROW)


@pytest.mark.parametrize(
    ("header", "chunks", "fragment"),
    [
        # the declared size disagrees with the shape
        (binary_tensor([1, 30], 232), [ONE_ROW[:232]], "takes 240 bytes, got 232"),
        (binary_tensor([2, 30], 240), [ONE_ROW], "takes 480 bytes, got 240"),
        (binary_tensor([1, 30], 240, "FP32"), [ONE_ROW], "FP32 takes 120 bytes, got 240"),
        # the body ends before the declared size
        (binary_tensor([1, 30], 240), [ONE_ROW[:100]], "only 100 bytes of binary data remain"),
        # bytes no input claims
        (binary_tensor([1, 30], 240), [ONE_ROW, b"\0" * 8], "8 bytes after the binary data"),
        # absurd declarations are refused by arithmetic, never by allocating
        (binary_tensor([1 << 40, 30], 240), [ONE_ROW], "takes 263882790666240 bytes"),
        (binary_tensor([1, 30], 1 << 62), [ONE_ROW], "binary_data_size is 4611686018427387904"),
        (binary_tensor([1 << 62], 8, "BYTES"), [b"\0" * 8], "need at least"),
        (binary_tensor([1, 30], -1), [ONE_ROW], "must be a byte count"),
        (binary_tensor([1, 30], True), [ONE_ROW], "must be a byte count"),
        (binary_tensor([1, 30], "240"), [ONE_ROW], "must be a byte count"),
        (binary_tensor([1, 30], 240, "BF8"), [ONE_ROW], "datatype 'BF8' is not supported"),
        (binary_tensor([1, -30], 240), [ONE_ROW], "shape must be a list of sizes"),
    ],
)
def test_size_and_shape_mismatches_name_the_input(
    header: dict[str, Any], chunks: list[bytes], fragment: str
) -> None:
    message = refused(*hand_body({"inputs": [header]}, *chunks))
    assert fragment in message
    if "after the binary data" not in fragment:  # the only error about no input in particular
        assert "'input-0'" in message


@pytest.mark.parametrize(
    ("raw", "count", "fragment"),
    [
        (struct.pack("<I", 5) + b"12", 1, "declares 5 bytes, only 2 remain"),
        (struct.pack("<I", 5) + b"12345" + b"\0\0", 2, "element 1 has no length"),
        (struct.pack("<I", 1) + b"1" + b"xyz", 1, "3 bytes follow the last of 1 elements"),
        (struct.pack("<I", 2) + b"\xff\xfe", 1, "not UTF-8"),
        (b"\1\0", 1, "need at least 4 bytes"),
    ],
)
def test_malformed_bytes_elements(raw: bytes, count: int, fragment: str) -> None:
    with pytest.raises(ApiError) as caught:
        oip_binary.decode(raw, "BYTES", [count], "input 'x'")
    assert fragment in caught.value.message and "input 'x'" in caught.value.message


def test_bool_bytes_other_than_zero_or_one() -> None:
    with pytest.raises(ApiError, match="BOOL element 2 is byte 7"):
        oip_binary.decode(b"\1\0\7", "BOOL", [3], "input 'x'")


@pytest.mark.parametrize(
    ("header_length", "fragment"),
    [("x", "must be a byte count"), ("-1", "must be a byte count"), ("99999", "has only")],
)
def test_bad_header_length(header_length: str, fragment: str) -> None:
    body, _ = hand_body({"inputs": [binary_tensor([1, 30], 240)]}, ONE_ROW)
    assert fragment in refused(body, header_length)


def test_header_length_cutting_the_json_is_invalid_json() -> None:
    body, length = hand_body({"inputs": [binary_tensor([1, 30], 240)]}, ONE_ROW)
    assert "not valid JSON" in refused(body, str(int(length) - 3))


def test_binary_size_without_the_header_says_what_is_missing() -> None:
    with pytest.raises(ApiError) as caught:
        oip.parse_infer(json.dumps({"inputs": [binary_tensor([1, 30], 240)]}).encode(), SCHEMA)
    assert "Inference-Header-Content-Length".lower() in caught.value.message.lower()


@pytest.mark.parametrize(
    ("parameters", "outputs", "binary"),
    [
        ({"binary_data_output": True}, None, {"predict", "probability"}),
        ({"binary_data_output": False}, None, set()),
        (None, [{"name": "predict", "parameters": {"binary_data": True}}], {"predict"}),
        (
            {"binary_data_output": True},
            [{"name": "predict"}, {"name": "probability", "parameters": {"binary_data": False}}],
            {"predict"},
        ),
    ],
)
def test_which_outputs_are_binary(
    parameters: dict[str, Any] | None, outputs: list[Any] | None, binary: set[str]
) -> None:
    document: dict[str, Any] = {"inputs": [{"name": "input-0", "shape": [1, 30]}]}
    document["inputs"][0] |= {"datatype": "FP64", "data": list(ROW)}
    if parameters is not None:
        document["parameters"] = parameters
    if outputs is not None:
        document["outputs"] = outputs
    assert oip.parse_infer(json.dumps(document).encode(), SCHEMA).binary == binary


def test_binary_flag_must_be_boolean() -> None:
    document = {
        "inputs": [{"name": "input-0", "shape": [1, 30], "datatype": "FP64", "data": list(ROW)}],
        "parameters": {"binary_data_output": "yes"},
    }
    with pytest.raises(ApiError, match="binary_data_output' must be true or false"):
        oip.parse_infer(json.dumps(document).encode(), SCHEMA)


def test_binary_response_reads_back_with_tritonclient() -> None:
    request = oip.InferRequest(ROWS, None, oip.OUTPUTS, frozenset({"probability"}))
    labels = np.array([1, 0, 1], dtype=np.int64)
    probabilities = np.array([0.75, 0.125, 0.9])
    body, header_length = oip.infer_binary_body(
        model_name="m", model_version="7", request=request, labels=labels,
        probabilities=probabilities,
    )  # fmt: skip
    result = InferenceServerClient.parse_response_body(body, header_length=header_length)
    np.testing.assert_array_equal(result.as_numpy("predict"), labels)
    probability = result.as_numpy("probability")
    assert probability.dtype == np.float32
    np.testing.assert_array_equal(probability, probabilities.astype(np.float32))
    response = result.get_response()
    assert response["id"] and response["model_name"] == "m"
    assert response["outputs"][1]["parameters"] == {"binary_data_size": 12}


sizes = st.one_of(
    st.integers(0, 300), st.integers(-(1 << 63), 1 << 64), st.booleans(), st.text(max_size=3)
)
tensors = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["input-0", *FEATURES[:2], ""]),
        "shape": st.lists(st.one_of(st.integers(0, 40), st.integers(-2, 1 << 64)), max_size=3),
        "datatype": st.sampled_from([*sorted(oip_binary.DATATYPES), "FP8", ""]),
    },
    optional={"parameters": st.fixed_dictionaries({"binary_data_size": sizes})},
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs=st.lists(tensors, max_size=3), binary=st.binary(max_size=600), cut=st.integers(-5, 5))
def test_any_binary_body_is_a_request_or_a_400(
    inputs: list[dict[str, Any]], binary: bytes, cut: int
) -> None:
    """Whatever the header declares, the answer is a request or a 400, never another error."""
    header = json.dumps({"inputs": inputs}).encode()
    try:
        oip.parse_binary_infer(header + binary, str(max(0, len(header) + cut)), SCHEMA)
    except ApiError as error:
        assert error.status == 400
