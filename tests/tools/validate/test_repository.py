"""The repository itself passes `gitops validate` (what CI gates every change on)."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.paths import REPO_ROOT
from tools import kustomize
from tools.validate import Report
from tools.validate.sources import collect


def test_discovery_finds_overlays_and_skips_components() -> None:
    inputs = collect([], REPO_ROOT)
    roots = {p.relative_to(REPO_ROOT).as_posix() for p in inputs.roots}
    assert {"overlays/staging", "overlays/production"} <= roots
    assert not any(r.startswith("overlays/components/") for r in roots)
    assert all(not kustomize.is_component(REPO_ROOT / r) for r in roots)


def test_whole_repository_has_no_errors(validate: Callable[..., Report]) -> None:
    # The alert-rule unit tests run in tests/manifests; here only their syntax is checked.
    report = validate(run_rule_tests=False)
    assert report.summary.resources > 50
    assert report.errors == [], "\n".join(
        f"{f.file}:{f.line}: {f.rule}: {f.message}" for f in report.errors
    )
