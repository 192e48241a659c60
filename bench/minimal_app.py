"""The ceiling of the HTTP stack: FastAPI on uvicorn, parse the request, return a constant.

bench/serve drives it with the same wrk script as the model servers. It reads the body, parses
the JSON and checks that it is a ``dataframe_split`` object with ``columns`` and ``data`` (what
every real server must do at least), then answers ``{"predictions": [0]}`` without a model.

    python -m uvicorn --app-dir bench minimal_app:app --port 8100 --no-access-log
"""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request, Response

app = FastAPI()
_CONSTANT = orjson.dumps({"predictions": [0]})


@app.post("/invocations")
async def invocations(request: Request) -> Response:
    try:
        payload = orjson.loads(await request.body())
        split = payload["dataframe_split"]
        if not isinstance(split["columns"], list) or not isinstance(split["data"], list):
            raise TypeError("columns and data must be lists")
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        body = orjson.dumps({"error_code": "BAD_REQUEST", "message": str(exc)})
        return Response(body, status_code=400, media_type="application/json")
    return Response(_CONSTANT, media_type="application/json")


@app.get("/ping")
async def ping() -> Response:
    return Response(b"\n", media_type="application/json")
