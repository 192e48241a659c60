"""Prometheus provider: run a metric's query and turn the response into Argo's ``result``.

scalar -> one float; vector -> list of floats (one per sample, labels dropped, native
histogram samples become 0); matrix -> all points of all series flattened; string -> error.
An empty vector is an empty (not nil) list. Any query/HTTP/auth error raises
:class:`ProviderError`, which the run turns into a measurement Error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from tools.analysis.durations import parse_duration
from tools.analysis.expr import ExprError, compile_expr
from tools.analysis.expr.types import format_float

DEFAULT_TIMEOUT_SECONDS = 30


class ProviderError(Exception):
    """The measurement could not be taken (becomes a measurement Error)."""


@dataclass(frozen=True)
class QueryResult:
    value: float | list[float]
    value_string: str  # Argo's form: `[0.99]`, `10`, `NaN`, `[]`
    warnings: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)


def value_string(value: float | list[float]) -> str:
    if isinstance(value, list):
        return "[" + ",".join(format_float(v) for v in value) + "]"
    return format_float(value)


def parse_response(body: Any) -> QueryResult:
    """Convert a decoded ``/api/v1/query[_range]`` body into ``result``."""
    if not isinstance(body, dict):
        raise ProviderError("bad_response: response is not a JSON object")
    if body.get("status") != "success":
        error_type = body.get("errorType") or "error"
        raise ProviderError(f"{error_type}: {body.get('error') or 'query failed'}")
    warnings = tuple(str(w) for w in body.get("warnings") or ())
    data = body.get("data")
    if not isinstance(data, dict):
        raise ProviderError("bad_response: response has no data")
    result_type = data.get("resultType")
    result = data.get("result")
    value: float | list[float]
    if result_type == "scalar":
        value = _sample_value(result)
    elif result_type == "vector":
        value = [_vector_sample(sample) for sample in _list(result)]
    elif result_type == "matrix":
        value = [
            _sample_value(point)
            for series in _list(result)
            for point in _list(_dict(series).get("values") or [])
        ]
    else:
        raise ProviderError(f'unexpected value type "{result_type}"')
    return QueryResult(value, value_string(value), warnings)


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise ProviderError("bad_response: malformed result")
    return value


def _dict(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProviderError("bad_response: malformed sample")
    return value


def _vector_sample(sample: object) -> float:
    sample = _dict(sample)
    if "value" not in sample and "histogram" in sample:
        return 0.0  # a native-histogram sample has no float value; Argo ends up with 0
    return _sample_value(sample.get("value"))


def _sample_value(pair: object) -> float:
    if not isinstance(pair, list) or len(pair) != 2:
        raise ProviderError("bad_response: malformed sample value")
    try:
        return float(str(pair[1]))
    except ValueError:
        raise ProviderError(f"bad_response: cannot parse sample value {pair[1]!r}") from None


@dataclass
class PrometheusQuery:
    """The resolved ``provider.prometheus`` block of a metric."""

    address: str
    query: str
    timeout: int = DEFAULT_TIMEOUT_SECONDS
    insecure: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    range_start: str | None = None
    range_end: str | None = None
    range_step: str | None = None
    basic_auth: tuple[str, str] | None = None
    oauth2: Mapping[str, Any] | None = None

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], address_override: str | None) -> PrometheusQuery:
        # Like the controller: an empty address falls back to its environment variable.
        address = (
            address_override
            or str(spec.get("address") or "")
            or os.environ.get("ARGO_ROLLOUTS_PROMETHEUS_ADDRESS", "")
        )
        headers = {str(h.get("key")): str(h.get("value")) for h in spec.get("headers") or []}
        range_query = spec.get("rangeQuery") or {}
        auth = spec.get("authentication") or {}
        basic = auth.get("basicAuth") or {}
        basic_auth = None
        if basic.get("username") or basic.get("password"):
            if not (basic.get("username") and basic.get("password")):
                raise ProviderError("basicAuth requires both username and password")
            basic_auth = (str(basic["username"]), str(basic["password"]))
        sigv4 = auth.get("sigv4") or {}
        if sigv4 and "aps-workspaces" in address:
            raise ProviderError("sigv4 authentication is not supported by gitops analyze")
        timeout = spec.get("timeout", DEFAULT_TIMEOUT_SECONDS)
        try:
            timeout = int(timeout)
        except (TypeError, ValueError):
            raise ProviderError(f"invalid timeout {timeout!r}") from None
        return cls(
            address=address,
            query=str(spec.get("query") or ""),
            timeout=timeout,
            insecure=bool(spec.get("insecure")),
            headers=headers,
            range_start=range_query.get("start"),
            range_end=range_query.get("end"),
            range_step=range_query.get("step"),
            basic_auth=basic_auth,
            oauth2=auth.get("oauth2") or None,
        )


class PrometheusProvider:
    """Runs queries with httpx; ``now`` is injectable so range queries are testable."""

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self.now = now or (lambda: datetime.now(UTC))

    def measure(self, query: PrometheusQuery) -> QueryResult:
        if not query.address:
            raise ProviderError("prometheus address is not configured")
        parts = urlsplit(query.address)
        if not parts.scheme or not parts.netloc:
            raise ProviderError(f"prometheus address {query.address!r} is not a valid URL")
        if query.timeout < 0:
            raise ProviderError("timeout cannot be negative")
        if query.timeout == 0:
            # Argo builds a context with this timeout: zero seconds has expired already.
            raise ProviderError("context deadline exceeded (timeout: 0s)")
        timeout = query.timeout
        headers = dict(query.headers)
        auth = httpx.BasicAuth(*query.basic_auth) if query.basic_auth else None
        base = query.address.rstrip("/")
        try:
            with httpx.Client(timeout=timeout, verify=not query.insecure, auth=auth) as client:
                if query.oauth2 and query.oauth2.get("tokenUrl"):
                    headers["Authorization"] = "Bearer " + _oauth2_token(client, query.oauth2)
                if query.range_start or query.range_end or query.range_step:
                    params = self._range_params(query)
                    url = f"{base}/api/v1/query_range"
                else:
                    params = {"query": query.query, "time": _timestamp(self.now())}
                    url = f"{base}/api/v1/query"
                response = client.post(url, data=params, headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderError(f"Post {base}: {type(exc).__name__}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            raise ProviderError(
                f"bad_response: server returned HTTP {response.status_code} without JSON"
            ) from None
        return replace(parse_response(body), metadata={"ResolvedPrometheusQuery": query.query})

    def _range_params(self, query: PrometheusQuery) -> dict[str, str]:
        if not (query.range_start and query.range_end and query.range_step):
            raise ProviderError("rangeQuery needs start, end and step")
        start = self._time_expr(query.range_start)
        end = self._time_expr(query.range_end)
        try:
            step = parse_duration(query.range_step).total_seconds()
        except ValueError as exc:
            raise ProviderError(f"rangeQuery.step: {exc}") from None
        return {"query": query.query, "start": start, "end": end, "step": f"{step:g}"}

    def _time_expr(self, source: str) -> str:
        try:
            program = compile_expr(source, {})
            value = program.run({})
        except ExprError as exc:
            raise ProviderError(f"rangeQuery time expression {source!r}: {exc}") from None
        if not isinstance(value, datetime):
            raise ProviderError(f"rangeQuery time expression {source!r} is not a time")
        return _timestamp(value)


def _timestamp(moment: datetime) -> str:
    return f"{moment.timestamp():.3f}"


def _oauth2_token(client: httpx.Client, oauth2: Mapping[str, Any]) -> str:
    if not oauth2.get("clientId") or not oauth2.get("clientSecret"):
        raise ProviderError("oauth2 requires clientId and clientSecret with tokenUrl")
    data = {"grant_type": "client_credentials"}
    if oauth2.get("scopes"):
        data["scope"] = " ".join(str(s) for s in oauth2["scopes"])
    response = client.post(
        str(oauth2["tokenUrl"]),
        data=data,
        auth=httpx.BasicAuth(str(oauth2["clientId"]), str(oauth2["clientSecret"])),
    )
    if response.status_code != 200:
        raise ProviderError(f"oauth2: token endpoint answered HTTP {response.status_code}")
    token = response.json().get("access_token")
    if not token:
        raise ProviderError("oauth2: token endpoint returned no access_token")
    return str(token)
