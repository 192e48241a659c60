"""Schemathesis over the app's own OpenAPI document: no generated request may produce a 5xx.

Both schema-conforming and schema-violating (negative) requests are generated for every
operation; the body limit is small so oversized bodies are exercised too. Bounded: a fixed
number of examples per operation, deterministic generation, no shrinking.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.generation import GenerationMode

from service.app import create_app, data_plane
from tests.support.fakes import LinearPredictor
from tests.support.serving import settings as serve_settings

EXAMPLES_PER_OPERATION = 25


def api_schema() -> schemathesis.schemas.BaseSchema:
    """The schema of a loaded app (built at collection: schemathesis parametrizes from it)."""
    store = Path(tempfile.mkdtemp(prefix="model-api-fuzz-"))
    atexit.register(shutil.rmtree, store, True)
    app = create_app(
        serve_settings(
            max_body_bytes=16 * 1024, feedback_store=f"sqlite:///{store / 'feedback.sqlite'}"
        ),
        LinearPredictor(),
    )
    plane = data_plane(app)
    plane.load("models:/model-api@champion")
    # POST /feedback too: the prediction log's writer runs (the app's lifespan does not).
    log = plane.quality.log
    assert log is not None
    log.start()
    atexit.register(log.close)
    assert log.wait_ready(30)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=EXAMPLES_PER_OPERATION,
        deterministic=True,
        no_shrink=True,
    )
    return schema


schema = api_schema()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    )
    if response.status_code >= 400 and response.status_code != 405:
        body = response.json()
        assert isinstance(body.get("message", body.get("error")), str)
