"""Grafana dashboards: at least the four required ones, loadable by the sidecar, valid PromQL.

Every panel query has its Grafana variables replaced by concrete values and is handed to
``promtool check rules`` as the expression of a recording rule, so the real PromQL parser
judges it.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

Render = Callable[[str], tuple[dict[str, Any], ...]]

REQUIRED_UIDS = {"model-api-red", "model-api-canary", "model-api-slo", "model-api-predictions"}
VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "30s",
    "__range": "6h",
    "namespace": "model-api-production",
    "canary": "6d4f8b9c7",
    "stable": "58c9d7f6b",
    "datasource": "prometheus",
}


def substitute(expr: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in VARIABLES:
            raise KeyError(f"unknown Grafana variable ${name} in {expr!r}")
        return VARIABLES[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def panel_exprs(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    def walk(panels: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    yield panel["title"], target["expr"]
            yield from walk(panel.get("panels", []))

    yield from walk(dashboard.get("panels", []))


@pytest.fixture(scope="module")
def dashboards(render: Render) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for obj in render("base/monitoring"):
        if (
            obj["kind"] != "ConfigMap"
            or obj["metadata"].get("labels", {}).get("grafana_dashboard") != "1"
        ):
            continue
        for key, text in obj["data"].items():
            assert key.endswith(".json"), f"ConfigMap {obj['metadata']['name']}: {key}"
            dashboard = json.loads(text)
            found[dashboard["uid"]] = dashboard
    return found


def test_required_dashboards_exist(dashboards: dict[str, Any]) -> None:
    assert set(dashboards) >= REQUIRED_UIDS


def test_every_dashboard_has_queries(dashboards: dict[str, Any]) -> None:
    for uid, dashboard in dashboards.items():
        assert len(list(panel_exprs(dashboard))) >= 5, uid


def test_every_panel_query_is_valid_promql(
    dashboards: dict[str, Any], promtool: str, tmp_path: Path
) -> None:
    rules = []
    for uid, dashboard in sorted(dashboards.items()):
        for index, (title, expr) in enumerate(panel_exprs(dashboard)):
            rules.append(
                {
                    "record": f"dashboard:{uid.replace('-', '_')}:q{index}",
                    "expr": substitute(expr),
                    "labels": {"panel": title},
                }
            )
    path = tmp_path / "dashboards.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_invalid_query_is_caught(promtool: str, tmp_path: Path) -> None:
    """The check above can fail: promtool rejects a broken expression."""
    path = tmp_path / "broken.yaml"
    rule = {
        "record": "x:y",
        "expr": substitute("sum(rate(model_api_requests_total[$__rate_interval])"),
    }
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [rule]}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode != 0


def test_variables_are_substituted() -> None:
    assert substitute('rate(x{namespace="$namespace"}[${__rate_interval}])') == (
        'rate(x{namespace="model-api-production"}[1m])'
    )
    with pytest.raises(KeyError):
        substitute("$unknown")
