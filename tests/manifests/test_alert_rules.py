"""The PrometheusRules in base/monitoring: valid for promtool, unit-tested, documented.

Each PrometheusRule's ``spec`` is written to ``<metadata.name>.yaml`` in a temporary directory
next to copies of ``tests/rules/*_test.yaml`` (whose ``rule_files`` use exactly those names),
then ``promtool check rules`` and ``promtool test rules`` run there.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.paths import REPO_ROOT

RULES_DIR = REPO_ROOT / "tests" / "rules"
RUNBOOK_PREFIX = "https://github.com/example-org/mlops-gitops/blob/main/"
REQUIRED_ANNOTATIONS = ("summary", "description", "runbook_url")
MONITORING_ROOTS = ("base/monitoring",)

Render = Callable[[str], tuple[dict[str, Any], ...]]


@pytest.fixture(scope="module")
def prometheus_rules(render: Render) -> dict[str, dict[str, Any]]:
    rules: dict[str, dict[str, Any]] = {}
    for root in MONITORING_ROOTS:
        for obj in render(root):
            if obj["kind"] == "PrometheusRule":
                name = obj["metadata"]["name"]
                assert name not in rules, f"two PrometheusRules named {name}"
                rules[name] = obj["spec"]
    assert rules, "no PrometheusRule rendered"
    return rules


@pytest.fixture(scope="module")
def rule_dir(tmp_path_factory: pytest.TempPathFactory, prometheus_rules: dict[str, Any]) -> Path:
    directory = tmp_path_factory.mktemp("rules")
    for name, spec in prometheus_rules.items():
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    for test_file in RULES_DIR.glob("*_test.yaml"):
        (directory / test_file.name).write_text(test_file.read_text(encoding="utf-8"))
    return directory


def _alerts(prometheus_rules: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        rule
        for spec in prometheus_rules.values()
        for group in spec["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def test_promtool_check_rules(
    promtool: str, rule_dir: Path, prometheus_rules: dict[str, Any]
) -> None:
    files = [f"{name}.yaml" for name in prometheus_rules]
    result = subprocess.run(
        [promtool, "check", "rules", *files], cwd=rule_dir, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass(promtool: str, rule_dir: Path) -> None:
    tests = sorted(p.name for p in rule_dir.glob("*_test.yaml"))
    assert tests, "no promtool unit tests in tests/rules"
    result = subprocess.run(
        [promtool, "test", "rules", *tests], cwd=rule_dir, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_test_file_names_an_existing_rule(prometheus_rules: dict[str, Any]) -> None:
    for test_file in RULES_DIR.glob("*_test.yaml"):
        data = yaml.safe_load(test_file.read_text(encoding="utf-8"))
        for rule_file in data["rule_files"]:
            assert rule_file.removesuffix(".yaml") in prometheus_rules, (
                f"{test_file.name}: rule file {rule_file} is no PrometheusRule metadata.name"
            )


def test_at_least_twelve_alerts(prometheus_rules: dict[str, Any]) -> None:
    assert len(_alerts(prometheus_rules)) >= 12


def test_every_alert_is_documented(prometheus_rules: dict[str, Any]) -> None:
    problems = []
    for rule in _alerts(prometheus_rules):
        name = rule["alert"]
        if rule.get("labels", {}).get("severity") not in {"critical", "warning", "info"}:
            problems.append(f"{name}: severity label missing or unknown")
        annotations = rule.get("annotations", {})
        problems += [f"{name}: no {a}" for a in REQUIRED_ANNOTATIONS if not annotations.get(a)]
        url = annotations.get("runbook_url", "")
        if not url.startswith(RUNBOOK_PREFIX):
            problems.append(f"{name}: runbook_url {url!r} is not in this repository")
        elif not (REPO_ROOT / url.removeprefix(RUNBOOK_PREFIX)).is_file():
            problems.append(f"{name}: runbook {url.removeprefix(RUNBOOK_PREFIX)} does not exist")
    assert not problems, "\n".join(problems)


def test_every_alert_is_unit_tested_firing_and_silent(prometheus_rules: dict[str, Any]) -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for test_file in RULES_DIR.glob("*_test.yaml"):
        data = yaml.safe_load(test_file.read_text(encoding="utf-8"))
        for case in data["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for rule in _alerts(prometheus_rules)}
    assert names - firing == set(), "alerts never shown firing"
    assert names - silent == set(), "alerts never shown silent"


def test_required_alerts_exist(prometheus_rules: dict[str, Any]) -> None:
    exprs = " ".join(rule["expr"] for rule in _alerts(prometheus_rules))
    for needle in (
        "CrashLoopBackOff",
        "kube_pod_status_ready",
        "kube_horizontalpodautoscaler_spec_max_replicas",
        'phase="Degraded"',
        "analysis_run_info",
        "model_api_model_loaded == 0",
        "model_api:prediction_probability",
        "certmanager_certificate_expiration_timestamp_seconds",
        "externalsecret_status_condition",
        "velero_backup",
        "kube_cronjob_status_last_successful_time",
        "model_api:sli_errors:ratio_rate1h > (14.4 * 0.001)",
        "model_api:sli_errors:ratio_rate3d > (1 * 0.001)",
        "model_api:sli_latency_slow:ratio_rate6h > (6 * 0.05)",
    ):
        assert needle in exprs, f"no alert uses {needle}"


def test_rules_name_no_environment(prometheus_rules: dict[str, Any]) -> None:
    """Rules are shared by every environment: no expression names a specific one."""
    text = yaml.safe_dump(prometheus_rules)
    assert not re.search(r"model-api-(staging|production)", text)
