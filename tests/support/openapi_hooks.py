"""Schemathesis hooks (``SCHEMATHESIS_HOOKS=tests.support.openapi_hooks``) for the bodies that
JSON Schema cannot describe: a Parquet file and a request in the OIP binary data extension.

The document describes both as bytes (``format: binary``); valid ones are built here from the
fake model's columns (tests/support/fakes.py) the way clients build them, so "a schema-valid
request is accepted" is tested on them too. The binary extension's header
(``Inference-Header-Content-Length``) belongs to the body, so it is set from it.

One rule of the document is prose only: the column lists of ``instances``/``inputs`` given as
an object must be equally long. Schema-valid bodies are made to follow it (the lists cut to
the shortest); schema-violating ones are left alone.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import schemathesis
from hypothesis import strategies as st
from schemathesis.generation.case import Case

from tests.support.fakes import FEATURES

OCTET_STREAM = "application/octet-stream"
HEADER_LENGTH = "Inference-Header-Content-Length"
_FINITE = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def _matrix(draw: st.DrawFn) -> np.ndarray[Any, np.dtype[np.float64]]:
    rows = draw(st.integers(min_value=1, max_value=4))
    cells = draw(st.lists(_FINITE, min_size=rows * len(FEATURES), max_size=rows * len(FEATURES)))
    return np.array(cells, dtype=np.float64).reshape(rows, len(FEATURES))


@st.composite
def parquet_bodies(draw: st.DrawFn) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    matrix = draw(_matrix())
    table = pa.table({name: matrix[:, i] for i, name in enumerate(FEATURES)})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


@st.composite
def binary_infer_bodies(draw: st.DrawFn) -> bytes:
    """A JSON header naming one [n, 30] FP64 input of ``binary_data_size`` raw bytes."""
    matrix = draw(_matrix())
    raw = matrix.astype("<f8").tobytes()
    header: dict[str, Any] = {
        "inputs": [
            {
                "name": "input-0",
                "shape": list(matrix.shape),
                "datatype": "FP64",
                "parameters": {"binary_data_size": len(raw)},
            }
        ]
    }
    if draw(st.booleans()):
        header["parameters"] = {"binary_data_output": True}
    return json.dumps(header).encode() + raw


schemathesis.openapi.media_type("application/vnd.apache.parquet", parquet_bodies())
schemathesis.openapi.media_type(OCTET_STREAM, binary_infer_bodies())


def _equal_columns(body: dict[str, Any]) -> None:
    for key in ("instances", "inputs"):
        columns = body.get(key)
        if isinstance(columns, dict):
            lists = [v for v in columns.values() if isinstance(v, list)]
            if lists:
                rows = min(len(v) for v in lists)
                for name, values in columns.items():
                    if isinstance(values, list):
                        columns[name] = values[:rows]


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: Case[Any]) -> Case[Any]:
    meta = case.meta
    positive = meta is not None and meta.generation.mode.is_positive
    if positive and case.path == "/invocations" and isinstance(case.body, dict):
        _equal_columns(case.body)
    if case.media_type == OCTET_STREAM and isinstance(case.body, bytes):
        try:
            _, end = json.JSONDecoder().raw_decode(case.body.decode("latin-1"))
        except ValueError:
            return case
        case.headers[HEADER_LENGTH] = str(end)
    return case
