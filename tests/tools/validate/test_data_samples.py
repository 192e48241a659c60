"""Every deliberately broken manifest fails with its intended rule; the good app passes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.validate import BROKEN, DATA, PATCHES, expected_rules, rules
from tools.validate import Report


def test_there_are_broken_samples() -> None:
    assert len(BROKEN) + len(PATCHES) >= 20


def _fails_with_its_rule(report: Report, rule: str, shown: str) -> None:
    assert rule in {f.rule for f in report.errors}, [(f.rule, f.message) for f in report.findings]
    hit = next(f for f in report.errors if f.rule == rule)
    assert hit.file == shown
    assert hit.line is not None and hit.line >= 1


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_manifest_fails_with_intended_rule(
    path: Path, validate: Callable[..., Report]
) -> None:
    report = validate(path)
    for rule in expected_rules(path):
        _fails_with_its_rule(report, rule, f"tests/data/validate/broken/{path.name}")


@pytest.mark.parametrize("patch", PATCHES, ids=[p.stem for p in PATCHES])
def test_patched_good_app_fails_with_intended_rule(
    patch: Path, patched: dict[str, Path], validate: Callable[..., Report]
) -> None:
    sample = patched[patch.stem]
    report = validate(sample)
    for rule in expected_rules(patch):
        _fails_with_its_rule(report, rule, str(sample))


def test_patches_are_small() -> None:
    """A patch shows only what it breaks: nobody copies the good application into one."""
    for patch in PATCHES:
        assert len(patch.read_text(encoding="utf-8").splitlines()) <= 30, patch.name


def test_good_app_passes_every_check(validate: Callable[..., Report]) -> None:
    report = validate(DATA / "good")
    assert report.findings == []
    assert report.summary.resources == 13


def test_finding_points_at_the_bad_line(
    patched: dict[str, Path], validate: Callable[..., Report]
) -> None:
    path = patched["rollout-missing-canary-service"]
    finding = next(f for f in validate(path).errors if f.rule == "ref-rollout-service")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert "canaryService: web-canary" in lines[finding.line - 1]
    assert finding.path == "$.spec.strategy.canary.canaryService"
    assert finding.resource is not None and finding.resource.kind == "Rollout"


def test_schema_finding_for_crd_field_has_path(
    patched: dict[str, Path], validate: Callable[..., Report]
) -> None:
    report = validate(patched["schema-crd-unknown-field"])
    (finding,) = [f for f in report.errors if f.rule == "schema"]
    assert "unknown field 'stepz'" in finding.message
    assert finding.path == "$.spec.strategy.canary.stepz"  # the key itself, not its parent
    assert rules(report) == {"schema"}
