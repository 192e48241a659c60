"""Open Inference Protocol v2 (KServe / MLServer / Triton REST) for a tabular model.

Inputs come either as one ``[n, columns]`` tensor in signature order, or as one ``[n]`` tensor per
named column. Outputs are ``predict`` (INT64 class labels) and ``probability`` (FP64 probability
of the positive class); a request may pick a subset through ``outputs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from service.errors import bad_request, invalid_value
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
TENSOR_INPUT = "input-0"
NUMERIC_DATATYPES = frozenset(
    {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"}
    | {"FP16", "FP32", "FP64"}
)


@dataclass(frozen=True)
class InferRequest:
    matrix: Matrix
    id: str | None
    outputs: tuple[str, ...]


def parse_infer(body: bytes, schema: InputSchema) -> InferRequest:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"the body is not valid JSON: {str(exc)[:120]}") from None
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
        _check_tensor(tensor, i)
    if len(inputs) == 1 and len(inputs[0]["shape"]) == 2:
        matrix = _tensor_matrix(inputs[0], schema)
    else:
        matrix = _column_matrix(inputs, schema)
    return InferRequest(matrix, request_id, _requested_outputs(document.get("outputs")))


def _check_tensor(tensor: object, i: int) -> None:
    if not isinstance(tensor, dict):
        raise bad_request(f"inputs[{i}] must be an object, got {json_type(tensor)}")
    for key in ("name", "shape", "datatype", "data"):
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
    if datatype not in NUMERIC_DATATYPES:
        raise bad_request(
            f"inputs[{i}] ({name[:40]!r}): datatype {str(datatype)[:20]!r} is not supported; "
            "send FP64 (or another numeric type)"
        )
    if not isinstance(tensor["data"], list):
        raise bad_request(f"inputs[{i}] ({name[:40]!r}): data must be a list")


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


def _flat(data: list[Any], label: str) -> npt.NDArray[np.float64]:
    """Row-major values, nested (``[[1, 2], [3, 4]]``) or flat (``[1, 2, 3, 4]``)."""
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


def _requested_outputs(outputs: object) -> tuple[str, ...]:
    if outputs is None:
        return OUTPUTS
    if not isinstance(outputs, list) or not outputs:
        raise bad_request("'outputs' must be a non-empty list of {'name': ...} objects")
    names: list[str] = []
    for i, output in enumerate(outputs):
        name = output.get("name") if isinstance(output, dict) else None
        if name not in OUTPUTS:
            raise bad_request(f"outputs[{i}]: unknown output; this model has {', '.join(OUTPUTS)}")
        names.append(name)
    return tuple(dict.fromkeys(names))


def infer_body(
    *,
    model_name: str,
    model_version: str,
    request_id: str | None,
    outputs: Sequence[str],
    labels: npt.NDArray[np.int64],
    probabilities: npt.NDArray[np.float64],
) -> bytes:
    rows = len(labels)
    tensors: list[dict[str, object]] = []
    for name in outputs:
        if name == OUTPUT_LABELS:
            tensors.append({"name": name, "datatype": "INT64", "shape": [rows], "data": labels})
        else:
            tensors.append(
                {"name": name, "datatype": "FP64", "shape": [rows], "data": probabilities}
            )
    response: dict[str, object] = {"model_name": model_name, "model_version": model_version}
    if request_id is not None:
        response["id"] = request_id
    response["outputs"] = tensors
    return orjson.dumps(response, option=orjson.OPT_SERIALIZE_NUMPY)


def metadata(*, name: str, version: str, platform: str, schema: InputSchema) -> dict[str, object]:
    """``GET /v2/models/{name}``: the tensor form, plus the per-column form in ``parameters``."""
    return {
        "name": name,
        "versions": [version],
        "platform": platform,
        "inputs": [{"name": TENSOR_INPUT, "datatype": "FP64", "shape": [-1, schema.width]}],
        "outputs": [
            {"name": OUTPUT_LABELS, "datatype": "INT64", "shape": [-1]},
            {"name": OUTPUT_PROBABILITY, "datatype": "FP64", "shape": [-1]},
        ],
        "parameters": {
            "columns": [
                {"name": c.name, "type": c.type, "required": c.required} for c in schema.columns
            ]
        },
    }
