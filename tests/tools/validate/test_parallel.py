"""Forked workers (parse + policies in one pool) give exactly the single-process report."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tools.errors import UserError
from tools.validate import Report

from .conftest import DATA


def corpus(tmp_path: Path) -> Path:
    """Every broken and good sample, plus copies, so each worker gets several files."""
    folder = tmp_path / "manifests"
    folder.mkdir()
    for sample in [*sorted((DATA / "broken").glob("*.yaml")), DATA / "good" / "app.yaml"]:
        for copy in range(3):
            shutil.copyfile(sample, folder / f"{copy}-{sample.name}")
    return folder


def as_tuples(report: Report) -> list[tuple[object, ...]]:
    return [
        (f.severity, f.rule, f.message, f.resource, f.file, f.line, f.path, f.hint)
        for f in report.findings
    ]


@pytest.mark.parametrize("policy_cache", [False, True], ids=["evaluated", "cached"])
def test_workers_report_what_one_process_reports(
    tmp_path: Path, validate: Callable[..., Report], policy_cache: bool
) -> None:
    folder = corpus(tmp_path)
    cache = tmp_path / "cache"
    alone = validate(folder, workers=1, policy_cache=False, run_rule_tests=False)
    assert {"deny_image_tag", "duplicate-key", "parse", "schema"} <= {
        f.rule for f in alone.findings
    }
    for _ in range(2):  # with the cache: filled by the first run, used by the second
        forked = validate(
            folder, workers=2, policy_cache=policy_cache, cache_dir=cache, run_rule_tests=False
        )
        assert as_tuples(forked) == as_tuples(alone)
        assert forked.summary == alone.summary


def test_policy_that_does_not_compile_is_a_usage_error_with_workers(
    tmp_path: Path, validate: Callable[..., Report]
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "broken.rego").write_text(
        "package main\n\ndeny contains msg if {\n  msg := \n}\n", encoding="utf-8"
    )
    with pytest.raises(UserError, match=r"policy does not compile: .*broken\.rego:4"):
        validate(corpus(tmp_path), workers=2, policy_dirs=[policies], run_rule_tests=False)


def test_rendered_objects_over_workers_report_what_one_process_reports(
    validate: Callable[..., Report],
) -> None:
    # The whole repository is rendered (not parsed from files), so with workers the policy
    # stage forks after parsing and promtool starts only after it.
    alone = validate(workers=1, policy_cache=False, run_rule_tests=False)
    forked = validate(workers=2, policy_cache=False, run_rule_tests=False)
    assert alone.summary.resources > 100
    assert as_tuples(forked) == as_tuples(alone)
    assert forked.summary == alone.summary
