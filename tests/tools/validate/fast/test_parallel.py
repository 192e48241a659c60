"""Worker processes (parsing, and the budgeted policy workers) give exactly the single-process
report."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.validate import BROKEN, GOOD
from tools.errors import UserError
from tools.validate import Report


def corpus(tmp_path: Path, patched: dict[str, Path]) -> Path:
    """Every broken and good sample, plus copies, so each worker gets several files."""
    folder = tmp_path / "manifests"
    folder.mkdir()
    for sample in [*BROKEN, *sorted(patched.values()), GOOD]:
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
    tmp_path: Path, validate: Callable[..., Report], policy_cache: bool, patched: dict[str, Path]
) -> None:
    folder = corpus(tmp_path, patched)
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
    tmp_path: Path, validate: Callable[..., Report], patched: dict[str, Path]
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "broken.rego").write_text(
        "package main\n\ndeny contains msg if {\n  msg := \n}\n", encoding="utf-8"
    )
    with pytest.raises(UserError, match=r"policy does not compile: .*broken\.rego:4"):
        validate(corpus(tmp_path, patched), workers=2, policy_dirs=[policies], run_rule_tests=False)


def test_rendered_objects_over_workers_report_what_one_process_reports(
    validate: Callable[..., Report],
) -> None:
    # The whole repository is rendered (not parsed from files): only the policy workers differ.
    alone = validate(workers=1, policy_cache=False, run_rule_tests=False)
    forked = validate(workers=2, policy_cache=False, run_rule_tests=False)
    assert alone.summary.resources > 100
    assert as_tuples(forked) == as_tuples(alone)
    assert forked.summary == alone.summary


UNUSUAL = {
    "int-key": "data:\n  1: one\n",
    "nan": "data:\n  ratio: .nan\n",
    "inf": "spec:\n  limit: -.inf\n",
    "big-int": "spec:\n  replicas: 123456789012345678901234567890\n",
    "binary": "binaryData:\n  blob: !!binary aGVsbG8=\n",
    "null": "data:\n  empty: null\n",
}


def test_objects_that_json_cannot_carry_come_back_unchanged(tmp_path: Path) -> None:
    from tools.validate import loader
    from tools.validate.fast import parallel

    files = []
    for copy in range(4):
        for name, body in UNUSUAL.items():
            path = tmp_path / f"{copy}-{name}.yaml"
            path.write_text(
                f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{body}---\n"
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n",
                encoding="utf-8",
            )
            files.append((str(path), path.name))
    expected = [loader.parse_file(Path(path), shown) for path, shown in files]
    got = parallel.parse_files(files, workers=2)
    assert len(got) == len(expected)
    for parsed, alone in zip(got, expected, strict=True):
        # repr: NaN != NaN, and 1 == 1.0 == True would hide a changed type
        assert repr([r.obj for r in parsed.resources]) == repr([r.obj for r in alone.resources])
        assert [(r.file, r.doc_index, r.line) for r in parsed.resources] == [
            (r.file, r.doc_index, r.line) for r in alone.resources
        ]


def test_json_is_used_only_when_exact() -> None:
    from tools.validate.fast.parallel import exact_json

    assert exact_json([{"a": [1, 2.5, None, True, "x"]}]) is not None
    assert exact_json([{"a": float("nan")}, {"b": None}]) is None
    assert exact_json([{1: "int key"}]) is None
    assert exact_json([{"a": 2**70}]) is None
    assert exact_json([{"a": b"bytes"}]) is None
