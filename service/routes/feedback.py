"""``POST /feedback``: the true labels of an earlier prediction, named by its prediction id.

``{"prediction_id": "...", "labels": [<one true label per predicted row>]}`` -> 202 with what was
joined. 404 for an unknown or expired id; 400 for a malformed body, a wrong number of labels or a
label the model cannot predict; the same bearer token as the inference routes. Sending the same
feedback twice is harmless: the second answer says ``"counted": false``. Errors in MLflow's
``{"error_code", "message"}`` shape.
"""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from service import errors
from service.errors import ApiError
from service.protocol import openapi
from service.quality import Quality
from service.routes.http import (
    Authorize,
    BodyLimits,
    inference_route,
    json_response,
    mlflow_error,
    read_body,
)


def add_routes(app: FastAPI, quality: Quality, *, authorize: Authorize, limits: BodyLimits) -> None:
    @inference_route(
        app,
        "/feedback",
        tags=["quality"],
        summary="True labels of an earlier prediction (by its X-Prediction-ID)",
        body=openapi.FEEDBACK_BODY,
        responses=openapi.responses(
            "mlflow",
            [400, 404, 408, 413, 503],
            ok=openapi.ok("The labels were joined with the prediction", schema=openapi.FEEDBACK_OK),
            ok_status=202,
        ),
        authorize=authorize,
        family="mlflow",
        status=202,
        operation_id=openapi.FEEDBACK_OPERATION,
    )
    async def feedback(request: Request) -> Response:
        try:
            authorize(request)
            body = await read_body(request, limits)
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise errors.bad_request("the body is not valid JSON") from None
            if not isinstance(payload, dict):
                raise errors.bad_request(
                    'the body must be {"prediction_id": "...", "labels": [...]}'
                )
            unknown = sorted(set(payload) - {"prediction_id", "labels"})
            if unknown:
                raise errors.bad_request(f"unknown field {errors.quote(unknown[0])}")
            for field in ("prediction_id", "labels"):
                if field not in payload:
                    raise errors.bad_request(f"missing field {field!r}")
            result = await quality.feedback(payload["prediction_id"], payload["labels"])
        except ApiError as error:
            return mlflow_error(error)
        return json_response(result.body(), status=202)
