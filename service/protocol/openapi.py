"""OpenAPI ``requestBody`` objects for the two inference routes.

The routes read raw bytes (FastAPI does not parse or validate these bodies), so their shapes are
described here for the OpenAPI document: clients see the accepted forms, and the schemathesis
run in tests/service/test_fuzz.py generates requests from them.
"""

from __future__ import annotations

from typing import Any

INVOCATIONS_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "dataframe_split": {
                        "type": "object",
                        "properties": {
                            "columns": {"type": "array", "items": {"type": "string"}},
                            "data": {
                                "type": "array",
                                "items": {"type": "array", "items": {"type": ["number", "null"]}},
                            },
                            "index": {"type": "array"},
                        },
                        "required": ["data"],
                    },
                    "dataframe_records": {
                        "type": "array",
                        "items": {"type": "object", "additionalProperties": {"type": "number"}},
                    },
                    "instances": {"type": "array"},
                    "inputs": {"type": ["object", "array"]},
                    "params": {"type": "object"},
                },
            }
        },
        "text/csv": {"schema": {"type": "string"}},
    },
}
TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer"}},
        "datatype": {"type": "string"},
        "data": {"type": "array"},
        "parameters": {"type": "object"},
    },
}
INFER_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["inputs"],
                "properties": {
                    "id": {"type": "string"},
                    "parameters": {"type": "object"},
                    "inputs": {"type": "array", "items": TENSOR},
                    "outputs": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                    },
                },
            }
        }
    },
}
