"""Every deliberately broken manifest fails with its intended rule; the good app passes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.tools.validate.conftest import DATA, rules
from tools.validate import Report

BROKEN = sorted((DATA / "broken").glob("*.yaml"))


def expected_rule(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <rule>'"
    return first.removeprefix("# expect: ").strip()


def test_there_are_broken_samples() -> None:
    assert len(BROKEN) >= 20


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_manifest_fails_with_intended_rule(
    path: Path, validate: Callable[..., Report]
) -> None:
    report = validate(path)
    rule = expected_rule(path)
    assert rule in {f.rule for f in report.errors}, [(f.rule, f.message) for f in report.findings]
    hit = next(f for f in report.errors if f.rule == rule)
    assert hit.file == f"tests/data/validate/broken/{path.name}"
    assert hit.line is not None and hit.line >= 1


def test_good_app_passes_every_check(validate: Callable[..., Report]) -> None:
    report = validate(DATA / "good")
    assert report.findings == []
    assert report.summary.resources == 13


def test_finding_points_at_the_bad_line(validate: Callable[..., Report]) -> None:
    path = DATA / "broken" / "rollout-missing-canary-service.yaml"
    finding = next(f for f in validate(path).errors if f.rule == "ref-rollout-service")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert "canaryService: web-canary" in lines[finding.line - 1]
    assert finding.path == "$.spec.strategy.canary.canaryService"
    assert finding.resource is not None and finding.resource.kind == "Rollout"


def test_schema_finding_for_crd_field_has_path(validate: Callable[..., Report]) -> None:
    report = validate(DATA / "broken" / "schema-crd-unknown-field.yaml")
    (finding,) = [f for f in report.errors if f.rule == "schema"]
    assert "stepz" in finding.message
    assert finding.path == "$.spec.strategy.canary"
    assert rules(report) == {"schema"}
