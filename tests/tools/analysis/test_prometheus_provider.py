"""The Prometheus provider against a real Prometheus: queries, address and timeout rules."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tools.analysis.prometheus import PrometheusProvider, PrometheusQuery, ProviderError
from tools.rehearsal.prometheus import PrometheusServer

pytestmark = pytest.mark.integration


def query(spec: dict[str, object], override: str | None = None) -> PrometheusQuery:
    return PrometheusQuery.from_spec(spec, override)


def test_instant_query_and_resolved_query_metadata(prometheus: PrometheusServer) -> None:
    result = PrometheusProvider().measure(query({"address": prometheus.url, "query": "vector(3)"}))
    assert result.value == [3.0]
    assert result.metadata == {"ResolvedPrometheusQuery": "vector(3)"}


def test_instant_query_is_taken_at_the_clock_time(prometheus: PrometheusServer) -> None:
    fixed = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    provider = PrometheusProvider(now=lambda: fixed)
    result = provider.measure(query({"address": prometheus.url, "query": "time()"}))
    assert result.value == fixed.timestamp()


def test_range_query_needs_all_three_fields(prometheus: PrometheusServer) -> None:
    spec = {"address": prometheus.url, "query": "vector(1)", "rangeQuery": {"start": "now()"}}
    with pytest.raises(ProviderError, match="rangeQuery needs start, end and step"):
        PrometheusProvider().measure(query(spec))
    spec["rangeQuery"] = {"start": "'x'", "end": "now()", "step": "1s"}
    with pytest.raises(ProviderError, match="is not a time"):
        PrometheusProvider().measure(query(spec))


def test_override_replaces_the_address(prometheus: PrometheusServer) -> None:
    spec = {"address": "http://in-cluster.invalid:9090", "query": "vector(1)"}
    assert PrometheusProvider().measure(query(spec, prometheus.url)).value == [1.0]


def test_address_rules(prometheus: PrometheusServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARGO_ROLLOUTS_PROMETHEUS_ADDRESS", raising=False)
    with pytest.raises(ProviderError, match="prometheus address is not configured"):
        PrometheusProvider().measure(query({"query": "vector(1)"}))
    with pytest.raises(ProviderError, match="not a valid URL"):
        PrometheusProvider().measure(query({"address": "localhost", "query": "vector(1)"}))
    monkeypatch.setenv("ARGO_ROLLOUTS_PROMETHEUS_ADDRESS", prometheus.url)
    assert PrometheusProvider().measure(query({"query": "vector(1)"})).value == [1.0]


def test_timeout_rules(prometheus: PrometheusServer) -> None:
    base = {"address": prometheus.url, "query": "vector(1)"}
    with pytest.raises(ProviderError, match="timeout cannot be negative"):
        PrometheusProvider().measure(query({**base, "timeout": -1}))
    with pytest.raises(ProviderError, match="deadline exceeded"):
        PrometheusProvider().measure(query({**base, "timeout": 0}))
    assert PrometheusProvider().measure(query({**base, "timeout": 5})).value == [1.0]


def test_auth_field_rules() -> None:
    with pytest.raises(ProviderError, match="basicAuth requires both"):
        query({"address": "http://p:9090", "authentication": {"basicAuth": {"username": "u"}}})
    sigv4 = {"sigv4": {"region": "eu-west-1"}}
    with pytest.raises(ProviderError, match="sigv4"):
        query(
            {"address": "https://aps-workspaces.eu-west-1.amazonaws.com/x", "authentication": sigv4}
        )
    # outside Amazon Managed Prometheus sigv4 is ignored, as in Argo
    assert query({"address": "http://p:9090", "authentication": sigv4}).address == "http://p:9090"


@pytest.fixture(scope="module")
def protected() -> Iterator[PrometheusServer]:
    server = PrometheusServer(basic_auth=("argo", "s3cret")).start()
    try:
        yield server
    finally:
        server.stop()


def test_basic_auth_and_headers_reach_prometheus(protected: PrometheusServer) -> None:
    base = {"address": protected.url, "query": "vector(1)"}
    with pytest.raises(ProviderError, match="HTTP 401"):
        PrometheusProvider().measure(query(base))
    with pytest.raises(ProviderError, match="HTTP 401"):
        auth = {"basicAuth": {"username": "argo", "password": "wrong"}}
        PrometheusProvider().measure(query({**base, "authentication": auth}))
    auth = {"basicAuth": {"username": "argo", "password": "s3cret"}}
    assert PrometheusProvider().measure(query({**base, "authentication": auth})).value == [1.0]
    token = base64.b64encode(b"argo:s3cret").decode()
    headers = [{"key": "Authorization", "value": f"Basic {token}"}]
    assert PrometheusProvider().measure(query({**base, "headers": headers})).value == [1.0]
