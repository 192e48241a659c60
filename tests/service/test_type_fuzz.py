"""Type fuzz over HTTP: any field of a valid request of either protocol, replaced by a JSON value
of any type, is answered 200 or 4xx with a message — never 5xx.

Every path of a valid request (top-level keys, each tensor field, each cell, each column list)
is a candidate; hypothesis picks one and a replacement from every JSON type (null, booleans, huge
and negative integers, floats, strings, nested lists and objects). The request goes through the
whole app (routes, codecs, data plane) in process.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.fakes import FEATURES, ROW, LinearPredictor
from tests.support.serving import settings as serve_settings

Path = tuple[str | int, ...]

any_json = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=6),
        st.sampled_from(["FP64", "BYTES", "input-0", FEATURES[0], "1e400", ""]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(["a", "data", "name", FEATURES[0]]), children, max_size=3),
    ),
    max_leaves=8,
)

MLFLOW_DOCUMENTS: dict[str, Any] = {
    "split": {"dataframe_split": {"columns": list(FEATURES), "data": [list(ROW)], "index": [0]}},
    "records": {"dataframe_records": [dict(zip(FEATURES, ROW, strict=True))]},
    "instances": {"instances": [dict(zip(FEATURES, ROW, strict=True))], "params": {"a": 1}},
    "inputs": {"inputs": {name: [value] for name, value in zip(FEATURES, ROW, strict=True)}},
}
OIP_DOCUMENTS: dict[str, Any] = {
    "tensor": {
        "id": "r1",
        "inputs": [
            {"name": "input-0", "shape": [1, len(FEATURES)], "datatype": "FP64", "data": list(ROW)}
        ],
        "outputs": [{"name": "predict"}, {"name": "probability"}],
        "parameters": {"content_type": "np"},
    },
    "columns": {
        "inputs": [
            {"name": name, "shape": [1], "datatype": "FP64", "data": [value]}
            for name, value in zip(FEATURES, ROW, strict=True)
        ]
    },
}


def paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every path inside a JSON document (the root excluded)."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, child in items:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key))


def replaced(document: Any, path: Path, value: Any) -> Any:
    changed = copy.deepcopy(document)
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return changed


def mutations(documents: dict[str, Any]) -> st.SearchStrategy[tuple[Any, Path, Any]]:
    cases = [(doc, path) for doc in documents.values() for path in paths(doc)]
    return st.tuples(st.sampled_from(cases), any_json).map(lambda c: (c[0][0], c[0][1], c[1]))


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    from service.app import create_app

    app = create_app(serve_settings(), LinearPredictor())
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def post_mutation(
    client: TestClient, url: str, mutation: tuple[Any, Path, Any], message_key: str
) -> None:
    """POST the mutated document as JSON to ``url``: 200, or a 4xx with a message under
    ``message_key`` (the protocol's error shape) — never a 5xx."""
    document, path, value = mutation
    body = json.dumps(replaced(document, path, value)).encode()  # (big ints too)
    response = client.post(url, content=body, headers={"content-type": "application/json"})
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        assert 400 <= response.status_code < 500
        message = response.json()[message_key]
        assert isinstance(message, str) and message


def test_the_valid_documents_are_valid(client: TestClient) -> None:
    for document in MLFLOW_DOCUMENTS.values():
        assert client.post("/invocations", json=document).status_code == 200, document
    for document in OIP_DOCUMENTS.values():
        response = client.post("/v2/models/model-api/infer", json=document)
        assert response.status_code == 200, response.text


# One app serves every example (a module-scoped fixture, hence the health check suppressed).
fuzz = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@fuzz
@given(mutations(MLFLOW_DOCUMENTS))
def test_any_mlflow_field_of_any_type_is_never_a_5xx(
    client: TestClient, mutation: tuple[Any, Path, Any]
) -> None:
    post_mutation(client, "/invocations", mutation, "message")


@fuzz
@given(mutations(OIP_DOCUMENTS))
def test_any_oip_field_of_any_type_is_never_a_5xx(
    client: TestClient, mutation: tuple[Any, Path, Any]
) -> None:
    post_mutation(client, "/v2/models/model-api/infer", mutation, "error")
