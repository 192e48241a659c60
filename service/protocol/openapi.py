"""What the OpenAPI document says about bodies, statuses and errors: plain JSON Schema data.

The inference routes read raw bytes and return finished bytes (FastAPI neither validates nor
serializes them), so their shapes are written down here, next to the codecs that implement
them, and the routes attach them when they register (:mod:`service.routes.http`). Shapes that
depend on the served model (its column names and types) are components filled from the loaded
signature when the document is built (:func:`model_components`); every response the routes
can give is listed with the body the error helpers really write (:mod:`service.errors`).

Where JSON Schema cannot say what the parsers accept (a row as long as ``columns``, tensor data
as long as its shape says), the schema describes the canonical form exactly and the
description names the other accepted forms; the schemathesis run in tests/service/test_openapi.py
holds the server to the document both ways (valid requests accepted, invalid ones refused).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from service.errors import CLIENT_CLOSED
from service.protocol import oip_binary
from service.protocol.schema import InputSchema

Schema = dict[str, Any]
JSON = "application/json"
CSV = "text/csv"
PARQUET = "application/vnd.apache.parquet"
TEXT = "text/plain"
COMPONENTS = "#/components/schemas/"
# The statuses the inference routes answer besides 200 (499 is never sent: see errors.py).
assert CLIENT_CLOSED == 499


def ref(name: str) -> Schema:
    return {"$ref": COMPONENTS + name}


# -- Errors (service.errors.mlflow_body / oip_body) ----------------------------------------------

MLFLOW_ERROR: Schema = {
    "type": "object",
    "description": "The MLflow scoring server's error shape.",
    "required": ["error_code", "message"],
    "properties": {
        "error_code": {
            "type": "string",
            "enum": [
                "BAD_REQUEST",
                "INVALID_PARAMETER_VALUE",
                "UNAUTHENTICATED",
                "ENDPOINT_NOT_FOUND",
                "RESOURCE_DOES_NOT_EXIST",
                "RESOURCE_LIMIT_EXCEEDED",
                "TEMPORARILY_UNAVAILABLE",
                "REQUEST_TIMEOUT",
                "INTERNAL_ERROR",
            ],
        },
        "message": {"type": "string"},
    },
    "additionalProperties": False,
}
OIP_ERROR: Schema = {
    "type": "object",
    "description": "The Open Inference Protocol's error shape.",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
    "additionalProperties": False,
}
ERROR_SCHEMAS = {"mlflow": "MlflowError", "oip": "OipError"}

# Why each status is answered (the Errors table of docs/SERVICE.md, per status).
REASONS = {
    400: "The body is malformed or does not fit the model signature; the message names the "
    "column, row or tensor.",
    401: "A bearer token is configured and `Authorization: Bearer <token>` is missing or wrong.",
    404: "Unknown model name or version; on /feedback, an unknown or expired prediction id.",
    408: "The request body did not arrive within MODEL_API_BODY_TIMEOUT seconds (connection "
    "closed). A request head that did not arrive within MODEL_API_HEAD_TIMEOUT gets a "
    "plain-text 408 from the HTTP layer.",
    413: "Body over MODEL_API_MAX_BODY_BYTES, more rows than MODEL_API_MAX_ROWS, or a Parquet "
    "body decoding to more than MODEL_API_MAX_DECODED_BYTES.",
    415: "Missing or unsupported Content-Type, a charset other than UTF-8, or an unknown "
    "Content-Type parameter.",
    431: "Request head over MODEL_API_MAX_HEAD_BYTES or MODEL_API_MAX_HEADERS (plain text from "
    "the HTTP layer; the connection closes).",
    500: "The model failed on valid input; details are in the server log.",
    503: "The model is not loaded yet, or the server is shutting down; on /feedback, the "
    "prediction log is unavailable.",
}
_HEAD_TIMEOUT = "The request head did not arrive within MODEL_API_HEAD_TIMEOUT seconds (plain text"
" from the HTTP layer)."
# Answered by the HTTP layer (service/httpguard.py) to any request, before routing.
HTTP_LAYER = (408, 431)


def responses(
    family: str, statuses: Iterable[int], *, ok: Schema, ok_status: int = 200
) -> dict[int | str, Any]:
    """The ``responses`` of one operation: ``ok`` for ``ok_status``, then each error status.

    ``family`` is ``mlflow`` or ``oip`` (the error shape of the route); 408 and 431 are listed on
    every operation since the HTTP layer answers them in plain text before any route runs.
    """
    table: dict[int | str, Any] = {ok_status: ok}
    routed = set(statuses)
    for status in sorted(routed | set(HTTP_LAYER)):
        table[status] = error_response(family, status, routed=status in routed)
    return table


def error_response(family: str, status: int, *, routed: bool = True) -> Schema:
    """One error status: in the route family's shape when the route itself answers it
    (``routed``), in plain text where the HTTP layer does (408, 431)."""
    content: dict[str, Any] = {}
    if routed:
        content[JSON] = {"schema": ref(ERROR_SCHEMAS[family])}
    if status in HTTP_LAYER:
        content[TEXT] = {"schema": {"type": "string"}}
    description = REASONS[status] if routed or status != 408 else _HEAD_TIMEOUT
    entry: dict[str, Any] = {"description": description, "content": content}
    if status == 401:
        entry["headers"] = {
            "WWW-Authenticate": {"required": True, "schema": {"type": "string", "const": "Bearer"}}
        }
    return entry


def ok(
    description: str,
    media: str = JSON,
    schema: Schema | None = None,
    headers: Mapping[str, Schema] | None = None,
) -> Schema:
    """A success response; ``schema=None`` for the MLflow bodies labelled JSON that are not."""
    response: Schema = {
        "description": description,
        "content": {media: {} if schema is None else {"schema": schema}},
    }
    if headers:
        response["headers"] = dict(headers)
    return response


def obj(required: Iterable[str], **properties: Schema) -> Schema:
    return {"type": "object", "required": list(required), "properties": properties}


STRING = {"type": "string"}
TENSOR_META = obj(
    ["name", "datatype", "shape"],
    name=STRING,
    datatype=STRING,
    shape={"type": "array", "items": {"type": "integer"}},
)
OUTPUT_TENSOR = obj(
    ["name", "datatype", "shape"],
    name={"type": "string", "enum": ["predict", "probability"]},
    datatype={"type": "string", "enum": ["INT64", "FP32"]},
    shape={"type": "array", "items": {"type": "integer", "minimum": 0}},
    data={"type": "array", "items": {"type": "number"}},
    parameters={"type": "object"},
)

# -- 200 bodies --------------------------------------------------------------------------------

PREDICTIONS = obj(
    ["predictions"],
    predictions={
        "type": "array",
        "items": {"type": "integer"},
        "description": "The class label of each row, in request order.",
    },
)
SERVER_METADATA = obj(
    ["name", "version", "extensions"],
    name=STRING,
    version=STRING,
    extensions={"type": "array", "items": STRING},
)
LIVE = obj(["live"], live={"const": True})
READY = obj(["ready"], ready={"const": True})
MODEL_READY = obj(["name", "ready"], name=STRING, ready={"const": True})
MODEL_METADATA = obj(
    ["name", "platform", "inputs", "outputs"],
    name=STRING,
    versions={"type": "array", "items": STRING},
    platform=STRING,
    inputs={"type": "array", "items": TENSOR_META},
    outputs={"type": "array", "items": TENSOR_META},
)
INFER_RESPONSE = obj(
    ["model_name", "id", "outputs"],
    model_name=STRING,
    model_version=STRING,
    id=STRING,
    parameters={"type": "object"},
    outputs={"type": "array", "items": OUTPUT_TENSOR},
)
PREDICTION_ID = {
    "X-Prediction-ID": {
        "required": True,
        "description": "The id of this prediction, for POST /feedback.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 64},
    }
}
BINARY_HEADER = "Inference-Header-Content-Length"
assert BINARY_HEADER.lower() == oip_binary.HEADER_LENGTH
INFER_OK: Schema = {
    "description": "The outputs. JSON, unless the request asked for binary outputs "
    "(`parameters.binary_data_output` or an output's `parameters.binary_data`): then "
    f"application/octet-stream, the JSON header of {BINARY_HEADER} bytes followed by the raw "
    "little-endian tensors, in the order of `outputs`.",
    "headers": {
        **PREDICTION_ID,
        BINARY_HEADER: {
            "description": "Length of the JSON header; only on application/octet-stream answers.",
            "schema": {"type": "integer", "minimum": 0},
        },
    },
    "content": {
        JSON: {"schema": ref("InferResponse")},
        oip_binary.OCTET_STREAM: {"schema": {"type": "string", "format": "binary"}},
    },
}

FEEDBACK_OK = obj(
    ["prediction_id", "rows", "counted", "model_version"],
    prediction_id=STRING,
    rows={"type": "integer", "minimum": 1},
    counted={"type": "boolean", "description": "False when the labels had been sent before."},
    model_version=STRING,
)
FEEDBACK_OPERATION = "feedback"
# From a prediction to its feedback: the id in the header, and (as an example a client can run)
# the predicted labels sent back as the true ones.
FEEDBACK_LINK: Schema = {
    "feedback": {
        "operationId": FEEDBACK_OPERATION,
        "description": "Send the true labels of this prediction, one per row.",
        "requestBody": {
            "prediction_id": "$response.header.X-Prediction-ID",
            "labels": "$response.body#/predictions",
        },
    }
}
FEEDBACK_BODY: Schema = {
    "required": True,
    "content": {
        JSON: {
            "schema": ref("FeedbackRequest"),
            "example": {"prediction_id": "3f9c2a7d1b6e4058-1a", "labels": [1, 0]},
        }
    },
}

# -- Request bodies ------------------------------------------------------------------------------

_INPUT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def _one_input_key(key: str, value: Schema) -> Schema:
    """An object with ``key`` and none of the other input keys (``params`` optional)."""
    properties: dict[str, Any] = {other: False for other in _INPUT_KEYS if other != key}
    properties[key] = value
    properties["params"] = {
        "type": ["object", "null"],
        "description": "Accepted and ignored, as MLflow does for scikit-learn models.",
    }
    return {"type": "object", "required": [key], "properties": properties}


INVOCATIONS_JSON: Schema = {
    "description": "Exactly one of dataframe_split, dataframe_records, instances or inputs, plus "
    "optional params; other keys are ignored. Columns are matched by name, in any order, and "
    "columns the model does not use are ignored. Also accepted, though JSON Schema cannot say "
    "it: dataframe_split with extra columns (each row as long as `columns`) and an `index` "
    "with one entry per row. "
    "The bare literals NaN and Infinity are read (then refused as non-finite, naming the column).",
    "oneOf": [
        _one_input_key("dataframe_split", ref("DataframeSplit")),
        _one_input_key("dataframe_records", ref("Records")),
        _one_input_key("instances", {"anyOf": [ref("Records"), ref("ColumnsObject")]}),
        _one_input_key("inputs", {"anyOf": [ref("Records"), ref("ColumnsObject")]}),
    ],
}
INVOCATIONS_BODY: Schema = {
    "required": True,
    "content": {
        JSON: {"schema": ref("InvocationsRequest")},
        CSV: {"schema": ref("Csv")},
        PARQUET: {
            "schema": {
                "type": "string",
                "format": "binary",
                "description": "One Parquet table whose columns are named like the signature "
                "(needs pyarrow in the server; 415 otherwise).",
            }
        },
    },
}
INFER_BODY: Schema = {
    "required": True,
    "description": "JSON, or the binary tensor data extension: the header "
    f"{BINARY_HEADER} gives the length of a JSON header like the JSON body, whose binary "
    "inputs carry `parameters.binary_data_size` and follow it as raw little-endian bytes "
    "(BYTES elements length-prefixed), in the order of `inputs`. Content-Type may be omitted.",
    "content": {
        JSON: {"schema": ref("InferRequest")},
        oip_binary.OCTET_STREAM: {
            "schema": {
                "type": "string",
                "format": "binary",
                "description": f"JSON header ({BINARY_HEADER} bytes), then the raw tensors.",
            }
        },
    },
}
INFER_REQUEST_DESCRIPTION = (
    "Canonical form: one [n, width] tensor in signature order (any name; data flat or nested). "
    "Also accepted: one [n] (or [n, 1]) tensor per column named as the model metadata lists "
    "them, any OIP datatype (BYTES elements as numbers written as text), and any n."
)


# -- Components that follow the served model --------------------------------------------------

# Numbers written as text, in the canonical form (float() also takes blanks around them and
# underscores between digits; the bounded digit counts keep every value finite).
_DECIMAL = r"[+-]?(\d{1,15}(\.\d{0,15})?|\.\d{1,15})([eE][+-]?\d{1,2})?"
_FINITE_TEXT = f"^{_DECIMAL}$"
_WHOLE_TEXT = r"^[+-]?\d{1,15}$"
_FLOAT_TYPES = frozenset({"double", "float"})


def cell(column_type: str, *, required: bool) -> Schema:
    """One value of a column: what the parsers convert (numbers, booleans, numeric text)."""
    whole = column_type not in _FLOAT_TYPES
    number = {"type": "integer" if whole else "number"}
    text = {"type": "string", "pattern": _WHOLE_TEXT if whole else _FINITE_TEXT}
    options: list[Schema] = [number, {"type": "boolean"}, text]
    if not required:
        options.append({"type": "null"})
    return {"anyOf": options}


def model_components(
    schema: InputSchema | None,
    *,
    name: str = "",
    version: str = "",
    classes: Iterable[int] = (),
    labels_max: int = 100_000,
    id_max: int = 64,
) -> dict[str, Schema]:
    """The component schemas of the document, the column-shaped ones from ``schema``.

    ``name`` and ``version`` are the served model's: the only values of the v2 path parameters
    that do not answer 404; ``classes`` the labels it predicts (what /feedback takes).
    ``schema`` is None before the model is loaded (a document asked for then says only that
    rows are objects); the server binds its port after loading, so clients see the model's.
    """
    components: dict[str, Schema] = {
        "MlflowError": MLFLOW_ERROR,
        "OipError": OIP_ERROR,
        "InvocationsRequest": INVOCATIONS_JSON,
        "InferResponse": INFER_RESPONSE,
        "FeedbackRequest": {
            "type": "object",
            "description": "One true label per row of the prediction, in its row order.",
            "required": ["prediction_id", "labels"],
            "additionalProperties": False,
            "properties": {
                "prediction_id": {"type": "string", "minLength": 1, "maxLength": id_max},
                "labels": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": labels_max,
                    "items": {"type": "integer", "enum": list(classes)}
                    if classes
                    else {"type": "integer"},
                },
            },
        },
    }
    if schema is None:
        row: Schema = {"type": "object"}
        components |= {
            "ModelName": STRING,
            "ModelVersion": STRING,
            "Csv": {"type": "string", "description": _CSV_DESCRIPTION},
            "Cell": {},
            "Row": row,
            "Records": {"type": "array", "items": row},
            "ColumnsObject": {"type": "object"},
            "DataframeSplit": {"type": "object", "required": ["columns", "data"]},
            "InferRequest": {"type": "object", "required": ["inputs"]},
        }
        return components
    cells = {c.name: cell(c.type, required=c.required) for c in schema.columns}
    required = [c.name for c in schema.columns if c.required]
    width = schema.width
    row = {"type": "object", "required": required, "properties": cells}
    components |= {
        "ModelName": {"type": "string", "enum": [name], "description": "The served model."},
        "ModelVersion": {"type": "string", "enum": [version]},
        "Csv": _csv(schema),
        "Cell": cell("double", required=True),
        "Row": row,
        "Records": {"type": "array", "minItems": 1, "items": ref("Row")},
        "ColumnsObject": {
            "type": "object",
            "description": "{column: [values]}: the lists must be equally long (JSON Schema "
            "cannot say it); a single value instead of a list stands for the whole column, and "
            "when every column is a single value the request is one row.",
            "required": required,
            "properties": {
                name: {"anyOf": [c, {"type": "array", "minItems": 1, "items": c}]}
                for name, c in cells.items()
            },
        },
        "DataframeSplit": {
            "type": "object",
            "required": ["columns", "data"],
            "additionalProperties": False,
            "properties": {
                "columns": {
                    "type": "array",
                    "description": "The model's columns, in any order.",
                    "items": {"enum": list(schema.names)},
                    "uniqueItems": True,
                    "minItems": width,
                    "maxItems": width,
                },
                "data": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "array",
                        "description": "One row, in the order of `columns`.",
                        "minItems": width,
                        "maxItems": width,
                        "items": ref("Cell"),
                    },
                },
            },
        },
        "InferRequest": _infer_request(width),
    }
    return components


_CSV_DESCRIPTION = (
    "A header line naming the columns, then one line per row. The pattern is the canonical form "
    "(the model's columns in signature order, plain numbers); also accepted: the columns in any "
    "order, extra columns (ignored), quoted fields, and DataFrame.to_csv() output with its "
    "unnamed index column."
)


def _csv(schema: InputSchema) -> Schema:
    if any(set(name) & set(',"\r\n') for name in schema.names) or not all(
        c.required and c.type in _FLOAT_TYPES for c in schema.columns
    ):
        return {"type": "string", "description": _CSV_DESCRIPTION}
    header = ",".join(_literal(name) for name in schema.names)
    row = ",".join([_DECIMAL] * schema.width)
    return {
        "type": "string",
        "description": _CSV_DESCRIPTION,
        "pattern": f"^{header}(\\r?\\n{row})+\\r?\\n?$",
    }


def _literal(text: str) -> str:
    """``text`` as a regular expression (ECMA 262 and Python alike: blanks stay unescaped)."""
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", text)


def _infer_request(width: int) -> Schema:
    values = {"type": "array", "minItems": width, "maxItems": width, "items": {"type": "number"}}
    tensor = obj(
        ["name", "shape", "datatype", "data"],
        name=STRING,
        shape={"const": [1, width]},
        datatype={"const": "FP64"},
        data={"anyOf": [values, {"type": "array", "minItems": 1, "maxItems": 1, "items": values}]},
    )
    flags = {
        "type": ["object", "null"],
        "description": "Extension parameters; the binary data flags must be booleans.",
    }
    return {
        "type": "object",
        "description": INFER_REQUEST_DESCRIPTION,
        "required": ["inputs"],
        "properties": {
            "id": {"type": ["string", "null"]},
            "parameters": flags | {"properties": {"binary_data_output": {"type": "boolean"}}},
            "inputs": {"type": "array", "minItems": 1, "maxItems": 1, "items": tensor},
            "outputs": {
                "type": ["array", "null"],
                "minItems": 1,
                "items": obj(
                    ["name"],
                    name={"enum": ["predict", "probability"]},
                    parameters=flags | {"properties": {"binary_data": {"type": "boolean"}}},
                ),
            },
        },
    }


# Path parameters whose values the served model decides (components, see model_components).
_PATH_COMPONENTS = {"model_name": "ModelName", "model_version": "ModelVersion"}


def path_parameters(names: Iterable[str]) -> list[Schema]:
    """Path parameters, documented from the route's path template."""
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": ref(_PATH_COMPONENTS[name]) if name in _PATH_COMPONENTS else STRING,
        }
        for name in names
    ]


def security_scheme() -> Mapping[str, Schema]:
    return {"bearer": {"type": "http", "scheme": "bearer"}}
