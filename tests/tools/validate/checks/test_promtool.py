"""Alert rules: `promtool check rules` on extracted specs and the rule-test convention."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tools.validate import Report
from tools.validate.checks import promtool

RULE = """\
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: web-alerts
  labels: {app.kubernetes.io/name: web, app.kubernetes.io/part-of: mlops-platform}
spec:
  groups:
    - name: web
      rules:
        - alert: WebDown
          expr: sum(up{job="web"}) == 0
          for: 5m
          labels: {severity: page}
"""

TEST = """\
rule_files: [web-alerts.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: up{job="web"}
        values: 0x10
    alert_rule_test:
      - eval_time: 10m
        alertname: WebDown
        exp_alerts:
          - exp_labels: {severity: page}
"""


def setup(tmp_path: Path, test: str) -> tuple[Path, Path]:
    manifest = tmp_path / "rules.yaml"
    manifest.write_text(RULE, encoding="utf-8")
    tests = tmp_path / "rule-tests"
    tests.mkdir()
    (tests / "web_test.yaml").write_text(textwrap.dedent(test), encoding="utf-8")
    return manifest, tests


def test_rule_tests_run_against_rendered_rules(
    tmp_path: Path, validate: Callable[..., Report]
) -> None:
    manifest, tests = setup(tmp_path, TEST)
    report = validate(manifest, rule_tests_dir=tests, policy_dirs=[])
    assert report.findings == []


def test_failing_rule_test_is_a_finding(tmp_path: Path, validate: Callable[..., Report]) -> None:
    manifest, tests = setup(tmp_path, TEST.replace("values: 0x10", "values: 1x10"))
    report = validate(manifest, rule_tests_dir=tests, policy_dirs=[])
    (finding,) = report.errors
    assert finding.rule == "promtool-test"
    assert finding.file is not None and finding.file.endswith("web_test.yaml")
    assert "WebDown" in finding.message


def test_no_rule_tests_skips_them(tmp_path: Path, validate: Callable[..., Report]) -> None:
    manifest, tests = setup(tmp_path, TEST.replace("values: 0x10", "values: 1x10"))
    report = validate(manifest, rule_tests_dir=tests, policy_dirs=[], run_rule_tests=False)
    assert report.findings == []


def test_bad_expression_points_at_the_rule(tmp_path: Path, validate: Callable[..., Report]) -> None:
    manifest = tmp_path / "rules.yaml"
    manifest.write_text(RULE.replace('sum(up{job="web"}) == 0', "sum(up) by ("), encoding="utf-8")
    report = validate(manifest, policy_dirs=[], run_rule_tests=False)
    (finding,) = report.errors
    assert finding.rule == "promtool-check"
    assert finding.path == "$.spec.groups[0].rules[0]"
    assert finding.line == 10


def test_passed_rule_test_is_not_run_again_until_an_input_changes(
    tmp_path: Path, validate: Callable[..., Report], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    manifest, tests = setup(tmp_path, TEST)
    assert validate(manifest, rule_tests_dir=tests, policy_dirs=[], cache_dir=cache).findings == []
    assert len(json.loads((cache / "promtool-tests.json").read_text(encoding="utf-8"))) == 1

    real_run = promtool.run_promtool
    ran: list[list[str]] = []

    def recording_run(args: list[str], cwd: Path) -> tuple[int, str]:
        ran.append(args)
        return real_run(args, cwd)

    monkeypatch.setattr(promtool, "run_promtool", recording_run)
    assert validate(manifest, rule_tests_dir=tests, policy_dirs=[], cache_dir=cache).findings == []
    assert [args[1:3] for args in ran] == [["check", "rules"]]

    # A changed rule file is a different input: the test runs again, and here it fails.
    manifest.write_text(RULE.replace("== 0", "== 1"), encoding="utf-8")
    report = validate(manifest, rule_tests_dir=tests, policy_dirs=[], cache_dir=cache)
    assert [f.rule for f in report.errors] == ["promtool-test"]
    assert ["test", "rules"] in [args[1:3] for args in ran]


def test_no_cache_runs_known_rule_tests(
    tmp_path: Path, validate: Callable[..., Report], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    manifest, tests = setup(tmp_path, TEST)
    validate(manifest, rule_tests_dir=tests, policy_dirs=[], cache_dir=cache)
    ran: list[str] = []
    real_run = promtool.run_promtool

    def recording_run(args: list[str], cwd: Path) -> tuple[int, str]:
        ran.append(args[1])
        return real_run(args, cwd)

    monkeypatch.setattr(promtool, "run_promtool", recording_run)
    report = validate(
        manifest, rule_tests_dir=tests, policy_dirs=[], cache_dir=cache, policy_cache=False
    )
    assert report.findings == []
    assert sorted(ran) == ["check", "test"]


@pytest.mark.parametrize("name", ["../../escape", "nul\x00byte", "sp ace"])
def test_rule_names_that_are_no_file_names_are_still_checked(
    tmp_path: Path, validate: Callable[..., Report], name: str
) -> None:
    manifest = tmp_path / "rules.yaml"
    broken = RULE.replace('sum(up{job="web"}) == 0', "sum(up) by (")
    manifest.write_text(broken.replace("name: web-alerts", f"name: {json.dumps(name)}"), "utf-8")
    report = validate(manifest, policy_dirs=[], run_rule_tests=False)
    assert [f.rule for f in report.errors if f.rule.startswith("promtool")] == ["promtool-check"]
    assert not (tmp_path.parent / "escape.yaml").exists()
