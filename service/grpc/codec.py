"""gRPC messages to and from the shapes :mod:`service.protocol.oip` works with.

A ``ModelInferRequest`` becomes the same request document the HTTP route decodes from JSON, so
both transports run one validation with one set of messages. Tensor values come either typed
(``contents.fp64_contents`` ...) or raw (``raw_input_contents``, one entry per input, decoded by
:mod:`service.protocol.oip_binary`). Responses always carry ``raw_output_contents``, as Triton's
server does; every client library reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from service.errors import bad_request
from service.grpc import oip_pb2
from service.protocol import oip, oip_binary
from service.protocol.schema import InputSchema

# datatype -> the InferTensorContents field that carries it typed.
_CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}


class RawContents:
    """``raw_input_contents``: entry *i* holds the bytes of ``inputs[i]``."""

    def __init__(self, raw: Sequence[bytes], inputs: int) -> None:
        if len(raw) != inputs:
            raise bad_request(
                f"raw_input_contents has {len(raw)} entries for {inputs} inputs; "
                "send one per input, in the order of inputs"
            )
        self._raw = raw

    def take(self, tensor: dict[str, Any], index: int, label: str) -> bytes:
        return self._raw[index]

    def finish(self) -> None:
        return None


def infer_request(request: oip_pb2.ModelInferRequest, schema: InputSchema) -> oip.InferRequest:
    """Validate a ``ModelInferRequest`` exactly as the HTTP route validates its JSON."""
    raw = request.raw_input_contents
    inputs: list[dict[str, Any]] = []
    for i, tensor in enumerate(request.inputs):
        item: dict[str, Any] = {
            "name": tensor.name,
            "shape": list(tensor.shape),
            "datatype": tensor.datatype,
        }
        if tensor.HasField("contents"):
            if raw:
                raise bad_request(
                    f"inputs[{i}] has contents but the request also has raw_input_contents; "
                    "use one or the other"
                )
            item["data"] = _typed(tensor.contents, tensor.datatype, f"input {tensor.name[:40]!r}")
        inputs.append(item)
    document: dict[str, Any] = {"inputs": inputs}
    if request.id:
        document["id"] = request.id
    if request.outputs:
        document["outputs"] = [{"name": output.name} for output in request.outputs]
    contents = RawContents(raw, len(inputs)) if raw else None
    return oip.infer_request(document, schema, contents)


def _typed(
    contents: oip_pb2.InferTensorContents, datatype: str, label: str
) -> npt.NDArray[np.float64] | list[str]:
    field = _CONTENTS_FIELD.get(datatype)
    if field is None:
        # Left to the shared validation, which names the unsupported datatype; FP16 and BF16
        # have no typed field and travel raw.
        if datatype in oip_binary.DATATYPES:
            raise bad_request(f"{label}: {datatype} values travel in raw_input_contents only")
        return []
    values = getattr(contents, field)
    if datatype == "BYTES":
        try:
            return [bytes(value).decode("utf-8") for value in values]
        except UnicodeDecodeError:
            raise bad_request(f"{label}: a BYTES element is not UTF-8 text") from None
    return np.array(values, dtype=np.float64)


def infer_response(
    *,
    model_name: str,
    model_version: str,
    request: oip.InferRequest,
    labels: npt.NDArray[np.int64],
    probabilities: npt.NDArray[np.float64],
) -> oip_pb2.ModelInferResponse:
    response = oip_pb2.ModelInferResponse(
        model_name=model_name, model_version=model_version, id=oip.response_id(request.id)
    )
    rows = len(labels)
    for name, datatype, values in oip.output_tensors(request.outputs, labels, probabilities):
        response.outputs.add(name=name, datatype=datatype, shape=[rows])
        response.raw_output_contents.append(oip_binary.encode(values, datatype))
    return response


def metadata_response(
    *, name: str, version: str, platform: str, schema: InputSchema
) -> oip_pb2.ModelMetadataResponse:
    response = oip_pb2.ModelMetadataResponse(name=name, versions=[version], platform=platform)
    for target, tensors in (
        (response.inputs, oip.input_metadata(schema)),
        (response.outputs, oip.output_metadata()),
    ):
        for tensor in tensors:
            target.add(name=tensor["name"], datatype=tensor["datatype"], shape=tensor["shape"])
    return response
