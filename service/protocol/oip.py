"""Open Inference Protocol v2 (KServe / MLServer / Triton) for a tabular model.

Inputs come either as one ``[n, columns]`` tensor in signature order, or as one ``[n]`` tensor per
named column, with their values in JSON or as raw bytes (:mod:`service.protocol.oip_binary`: the
HTTP binary data extension and gRPC's ``raw_input_contents``). Outputs are ``predict`` (INT64
class labels) and ``probability`` (probability of the positive class); a request may pick a subset
through ``outputs`` and ask for them as raw bytes.

``probability`` is labelled and sent as **FP32**: the served ONNX graph computes it in float32
(see service/onnx_export.py), so float64 digits beyond those would be noise dressed up as
precision. The scikit-learn fallback's float64 values are rounded to float32 on the way out.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import orjson

from service.errors import bad_request, invalid_value
from service.protocol import oip_binary
from service.protocol.schema import (
    InputSchema,
    Matrix,
    cell_problem,
    checked,
    columns_to_matrix,
    json_type,
    missing_columns,
    name_list,
)

OUTPUT_LABELS = "predict"
OUTPUT_PROBABILITY = "probability"
OUTPUTS = (OUTPUT_LABELS, OUTPUT_PROBABILITY)
OUTPUT_DATATYPES = {OUTPUT_LABELS: "INT64", OUTPUT_PROBABILITY: "FP32"}
TENSOR_INPUT = "input-0"
# What the server metadata announces (over HTTP and gRPC).
EXTENSIONS = (oip_binary.EXTENSION,)
# Every OIP datatype but BF16 has a JSON form; BYTES elements are parsed as numbers, like strings.
DATATYPES = oip_binary.DATATYPES
# Signature column type -> the datatype the metadata announces for that column's tensor.
_COLUMN_DATATYPES = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
}
_NO_BINARY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class InferRequest:
    matrix: Matrix
    id: str | None
    outputs: tuple[str, ...]
    # The requested outputs to answer as raw bytes (HTTP binary data extension).
    binary: frozenset[str] = _NO_BINARY


class RawInputs(Protocol):
    """Where the values of inputs without JSON ``data`` come from (binary body, gRPC raw)."""

    def take(self, tensor: dict[str, Any], index: int, label: str) -> memoryview | bytes | None:
        """The raw bytes of ``tensor`` (``inputs[index]``), or None if it has none."""

    def finish(self) -> None:
        """Called after the last input: complain about bytes no input claimed."""


class BinaryBody:
    """The binary part of an HTTP request, claimed by ``parameters.binary_data_size``."""

    def __init__(self, data: memoryview) -> None:
        self._inputs = oip_binary.BinaryInputs(data)

    def take(self, tensor: dict[str, Any], index: int, label: str) -> memoryview | None:
        parameters = tensor.get("parameters")
        if not isinstance(parameters, dict) or oip_binary.BINARY_DATA_SIZE not in parameters:
            return None
        return self._inputs.take(parameters[oip_binary.BINARY_DATA_SIZE], label)

    def finish(self) -> None:
        self._inputs.finish()


def parse_infer(body: bytes, schema: InputSchema) -> InferRequest:
    """A JSON request body."""
    return infer_request(_load(body), schema)


def parse_binary_infer(body: bytes, header_length: str, schema: InputSchema) -> InferRequest:
    """A body of the binary data extension: JSON header of ``header_length`` bytes, then tensors."""
    header, binary = oip_binary.split_body(body, header_length)
    return infer_request(_load(header), schema, BinaryBody(binary))


def _load(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"the body is not valid JSON: {str(exc)[:120]}") from None


def infer_request(
    document: object, schema: InputSchema, raw: RawInputs | None = None
) -> InferRequest:
    """Validate a decoded request (JSON, or built from gRPC) into the model matrix."""
    if not isinstance(document, dict):
        raise bad_request(f"the body must be a JSON object, got a JSON {json_type(document)}")
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise bad_request("'id' must be a string")
    parameters = document.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise bad_request("'parameters' must be an object")
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise bad_request("'inputs' must be a non-empty list of tensors")
    for i, tensor in enumerate(inputs):
        _check_tensor(tensor, i, raw)
    if raw is not None:
        raw.finish()
    if len(inputs) == 1 and len(inputs[0]["shape"]) == 2:
        matrix = _tensor_matrix(inputs[0], schema)
    else:
        matrix = _column_matrix(inputs, schema)
    outputs = document.get("outputs")
    if outputs is None and parameters is None:
        return InferRequest(matrix, request_id, OUTPUTS)
    names, binary = _requested_outputs(outputs, parameters)
    return InferRequest(matrix, request_id, names, binary)


def _check_tensor(tensor: object, i: int, raw: RawInputs | None) -> None:
    if not isinstance(tensor, dict):
        raise bad_request(f"inputs[{i}] must be an object, got {json_type(tensor)}")
    for key in ("name", "shape", "datatype"):
        if key not in tensor:
            raise bad_request(f"inputs[{i}] has no {key!r}")
    name, shape, datatype = tensor["name"], tensor["shape"], tensor["datatype"]
    if not isinstance(name, str):
        raise bad_request(f"inputs[{i}].name must be a string")
    if not (
        isinstance(shape, list)
        and shape
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise bad_request(f"inputs[{i}] ({name[:40]!r}): shape must be a list of sizes >= 0")
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        raise bad_request(
            f"inputs[{i}] ({name[:40]!r}): datatype {str(datatype)[:20]!r} is not supported; "
            "send FP64 (or another numeric type)"
        )
    data = tensor.get("data")
    if isinstance(data, list | np.ndarray):
        return
    if data is None:
        label = f"input {name[:40]!r}"
        chunk = None if raw is None else raw.take(tensor, i, label)
        if chunk is not None:
            tensor["data"] = oip_binary.decode(chunk, datatype, shape, label)
            return
        raise bad_request(f"inputs[{i}] has no 'data'{_binary_hint(tensor)}")
    raise bad_request(f"inputs[{i}] ({name[:40]!r}): data must be a list")


def _binary_hint(tensor: dict[str, Any]) -> str:
    """Why an input declaring binary data has none: the body is not in the binary format."""
    parameters = tensor.get("parameters")
    if isinstance(parameters, dict) and oip_binary.BINARY_DATA_SIZE in parameters:
        return (
            f" (parameters.{oip_binary.BINARY_DATA_SIZE} needs the binary format: the "
            f"{oip_binary.HEADER_LENGTH} header giving the length of the JSON part)"
        )
    return ""


def _tensor_matrix(tensor: dict[str, Any], schema: InputSchema) -> Matrix:
    rows, width = tensor["shape"]
    label = f"input {tensor['name'][:40]!r}"
    if width != schema.width:
        raise invalid_value(
            f"{label}: shape [{rows}, {width}] has {width} columns, the model takes "
            f"{schema.width} (in signature order; or send one input per column)"
        )
    if rows == 0:
        raise invalid_value(f"empty batch: {label} has no rows")
    values = _flat(tensor["data"], label)
    if values.size != rows * width:
        raise bad_request(
            f"{label}: shape [{rows}, {width}] needs {rows * width} values, got {values.size}"
        )
    return checked(values.reshape(rows, width), schema)


def _column_matrix(inputs: list[dict[str, Any]], schema: InputSchema) -> Matrix:
    names = [tensor["name"] for tensor in inputs]
    unknown = [name for name in names if name not in schema.index]
    if unknown:
        missing = schema.missing(names)
        if missing:
            raise missing_columns(missing, unknown, schema)
        raise bad_request(
            f"unknown input(s) {name_list(unknown)}; send one [n, {schema.width}] tensor "
            "or one input per model column"
        )
    if len(set(names)) != len(names):
        raise bad_request("an input name appears more than once")
    columns: dict[str, object] = {}
    for tensor in inputs:
        shape = tensor["shape"]
        label = f"input {tensor['name'][:40]!r}"
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise bad_request(f"{label}: shape must be [n] or [n, 1], got {shape[:4]}")
        values = _flat(tensor["data"], label)
        if values.size != shape[0]:
            raise bad_request(f"{label}: shape {shape} needs {shape[0]} values, got {values.size}")
        columns[tensor["name"]] = values.tolist()
    return columns_to_matrix(columns, schema, where="inputs")


def _flat(data: list[Any] | npt.NDArray[Any], label: str) -> npt.NDArray[np.float64]:
    """Row-major values, nested (``[[1, 2], [3, 4]]``) or flat (``[1, 2, 3, 4]``)."""
    if isinstance(data, np.ndarray):
        return data.astype(np.float64, copy=False).reshape(-1)
    try:
        return np.array(data, dtype=np.float64).reshape(-1)
    except (ValueError, TypeError, OverflowError):
        pass
    stack: list[Any] = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        problem = cell_problem(item)
        if problem is not None:
            raise bad_request(f"{label}: {problem}")
    raise bad_request(f"{label}: data must be a regular (rectangular) array of numbers")


def _requested_outputs(
    outputs: object, parameters: dict[str, Any] | None
) -> tuple[tuple[str, ...], frozenset[str]]:
    """The outputs to answer, and those of them to answer as raw bytes."""
    default = _flag(parameters, oip_binary.BINARY_DATA_OUTPUT, "parameters", False)
    if outputs is None:
        return OUTPUTS, frozenset(OUTPUTS) if default else _NO_BINARY
    if not isinstance(outputs, list) or not outputs:
        raise bad_request("'outputs' must be a non-empty list of {'name': ...} objects")
    names: list[str] = []
    binary: set[str] = set()
    for i, output in enumerate(outputs):
        name = output.get("name") if isinstance(output, dict) else None
        if name not in OUTPUTS:
            raise bad_request(f"outputs[{i}]: unknown output; this model has {', '.join(OUTPUTS)}")
        names.append(name)
        where = f"outputs[{i}].parameters"
        if _flag(output.get("parameters"), oip_binary.BINARY_DATA, where, default):
            binary.add(name)
    return tuple(dict.fromkeys(names)), frozenset(binary)


def _flag(parameters: object, key: str, where: str, default: bool) -> bool:
    """A boolean parameter of the binary data extension, ``default`` when absent."""
    if parameters is None:
        return default
    if not isinstance(parameters, dict):
        raise bad_request(f"'{where}' must be an object")
    value = parameters.get(key, default)
    if not isinstance(value, bool):
        raise bad_request(f"'{where}.{key}' must be true or false")
    return value


# Generated request ids: a random per-process prefix and a counter, unique without a syscall.
_ID_PREFIX = os.urandom(4).hex()
_ID_COUNTER = itertools.count(1)


def response_id(request_id: str | None) -> str:
    """The request's ``id``, or a fresh one: every response carries one (KServe requires it)."""
    return request_id or f"{_ID_PREFIX}-{next(_ID_COUNTER):08x}"


def output_tensors(
    outputs: Sequence[str],
    labels: npt.NDArray[np.int64],
    probabilities: npt.NDArray[np.float64],
) -> list[tuple[str, str, npt.NDArray[Any]]]:
    """``(name, datatype, values)`` of each requested output, values in that datatype."""
    tensors: list[tuple[str, str, npt.NDArray[Any]]] = []
    for name in outputs:
        if name == OUTPUT_LABELS:
            tensors.append((name, "INT64", labels))
        else:
            tensors.append((name, "FP32", probabilities.astype(np.float32)))
    return tensors


def infer_body(
    *,
    model_name: str,
    model_version: str,
    request_id: str | None,
    outputs: Sequence[str],
    labels: npt.NDArray[np.int64],
    probabilities: npt.NDArray[np.float64],
) -> bytes:
    """The JSON response."""
    shape = [len(labels)]
    return orjson.dumps(
        {
            "model_name": model_name,
            "model_version": model_version,
            "id": response_id(request_id),
            "outputs": [
                {"name": name, "datatype": datatype, "shape": shape, "data": values}
                for name, datatype, values in output_tensors(outputs, labels, probabilities)
            ],
        },
        option=orjson.OPT_SERIALIZE_NUMPY,
    )


def infer_binary_body(
    *,
    model_name: str,
    model_version: str,
    request: InferRequest,
    labels: npt.NDArray[np.int64],
    probabilities: npt.NDArray[np.float64],
) -> tuple[bytes, int]:
    """A response in the binary data extension, and the length of its JSON header.

    The outputs in ``request.binary`` carry ``parameters.binary_data_size`` and follow the JSON
    header as raw bytes, in the order of ``outputs``; the others keep their JSON ``data``.
    """
    shape = [len(labels)]
    tensors: list[dict[str, object]] = []
    chunks: list[bytes] = []
    for name, datatype, values in output_tensors(request.outputs, labels, probabilities):
        tensor: dict[str, object] = {"name": name, "datatype": datatype, "shape": shape}
        if name in request.binary:
            chunk = oip_binary.encode(values, datatype)
            tensor["parameters"] = {oip_binary.BINARY_DATA_SIZE: len(chunk)}
            chunks.append(chunk)
        else:
            tensor["data"] = values
        tensors.append(tensor)
    header = orjson.dumps(
        {
            "model_name": model_name,
            "model_version": model_version,
            "id": response_id(request.id),
            "outputs": tensors,
        },
        option=orjson.OPT_SERIALIZE_NUMPY,
    )
    return oip_binary.response_body(header, chunks), len(header)


def input_metadata(schema: InputSchema) -> list[dict[str, object]]:
    """One ``[-1]`` tensor per signature column, in signature order."""
    return [
        {"name": column.name, "datatype": _COLUMN_DATATYPES[column.type], "shape": [-1]}
        for column in schema.columns
    ]


def output_metadata() -> list[dict[str, object]]:
    return [
        {"name": name, "datatype": datatype, "shape": [-1]}
        for name, datatype in OUTPUT_DATATYPES.items()
    ]


def metadata(*, name: str, version: str, platform: str, schema: InputSchema) -> dict[str, object]:
    """``GET /v2/models/{name}``: the signature columns as input tensors, and the outputs.

    The columns are the named form of the input; the one-tensor form (``input-0``, ``[n, width]``
    in signature order) is accepted as well and described in docs/SERVICE.md. The metadata
    object of the protocol has no ``parameters``; the columns' order and types are all the
    tensor metadata says.
    """
    return {
        "name": name,
        "versions": [version],
        "platform": platform,
        "inputs": input_metadata(schema),
        "outputs": output_metadata(),
    }
