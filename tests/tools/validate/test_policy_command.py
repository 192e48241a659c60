"""``gitops policy test``: unit tests, folders without tests, samples."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT
from tools.cli import main


def copy_policies(tmp_path: Path, *folders: str) -> Path:
    root = tmp_path / "policies"
    root.mkdir()
    shutil.copy(REPO_ROOT / "policies" / "data.yaml", root / "data.yaml")
    for folder in ("lib", *folders):
        shutil.copytree(REPO_ROOT / "policies" / folder, root / folder)
    return root


def run(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["policy", "test", str(root), "--data", str(root / "data.yaml"), *extra])
    return code, capsys.readouterr().out


def test_failing_unit_test_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_policies(tmp_path, "image_tag")
    test_file = root / "image_tag" / "image_tag_test.rego"
    test_file.write_text(
        test_file.read_text().replace(
            "count(deny_image_tag) == 0 with input as image_tag_versioned",
            "count(deny_image_tag) == 1 with input as image_tag_versioned",
        )
    )
    code, out = run(root, capsys)
    assert code == 1
    assert "FAIL" in out and "test_version_tag_allowed" in out


def test_policy_folder_without_tests_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_policies(tmp_path, "read_only_root_fs")
    (root / "read_only_root_fs" / "read_only_root_fs_test.rego").unlink()
    code, out = run(root, capsys, "--no-samples")
    assert code == 1
    assert "read_only_root_fs: policy folder has no *_test.rego" in out


def test_disallowed_sample_that_passes_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy_policies(tmp_path, "probes")
    shutil.copy(root / "probes" / "allowed.yaml", root / "probes" / "disallowed.yaml")
    code, out = run(root, capsys)
    assert code == 1
    assert "disallowed.yaml: none of deny_probes fired" in out


WITH_DATA_TESTS = """
hub := ["nginx"]

other := ["x/"]

dh := registry_docker_hub

test_with_data_allows_docker_hub if {
\tcount(deny_image_registry) == 0 with input as dh with data.gitops.allowed_registries as hub
}

test_with_data_that_cannot_pass if {
\tcount(deny_image_registry) == 0 with input as dh with data.gitops.allowed_registries as other
}
"""


def with_data_policies(tmp_path: Path) -> Path:
    """The image_registry policy with two extra tests that replace data with `with`."""
    root = copy_policies(tmp_path, "image_registry")
    test_file = root / "image_registry" / "image_registry_test.rego"
    test_file.write_text(test_file.read_text() + WITH_DATA_TESTS)
    return root


def test_with_data_is_evaluated_by_regorus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = with_data_policies(tmp_path)
    code, out = run(root, capsys, "--no-samples", "--engine", "regorus", "-v")
    assert code == 1
    passing = [line for line in out.splitlines() if line.startswith("PASS ")]
    assert any(line.endswith(": test_with_data_allows_docker_hub") for line in passing)
    assert "FAIL" in out and "test_with_data_that_cannot_pass: test rule is not true" in out
    assert "(regorus)" in out


def test_unsupported_with_is_reported_not_run_by_regopy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = with_data_policies(tmp_path)
    code, out = run(root, capsys, "--no-samples", "--engine", "regopy")
    assert code == 1
    assert (
        "test_with_data_allows_docker_hub: `with data.gitops.allowed_registries` is not supported"
        in out
    )


@pytest.mark.parametrize("engine", ["regorus", "regopy"])
def test_repository_policies_pass_with_either_engine(
    engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["policy", "test", str(REPO_ROOT / "policies"), "--engine", engine])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASSED: " in out and f"({engine})" in out


def test_rego_v0_policy_tests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "policies" / "pods"
    folder.mkdir(parents=True)
    (folder / "pods.rego").write_text(
        'package main\n\ndeny[msg] {\n\tinput.kind == "Pod"\n\tmsg := "bare pod"\n}\n',
        encoding="utf-8",
    )
    (folder / "pods_test.rego").write_text(
        "package main\n\ntest_pod_denied {\n"
        '\tcount(deny) == 1 with input as {"kind": "Pod"}\n}\n\n'
        "test_service_allowed {\n"
        '\tcount(deny) == 0 with input as {"kind": "Service"}\n}\n',
        encoding="utf-8",
    )
    root = tmp_path / "policies"
    code = main(["policy", "test", str(root), "--no-samples"])
    out = capsys.readouterr().out
    assert code == 1 and "pass --rego-version v0" in out
    code = main(["policy", "test", str(root), "--no-samples", "--rego-version", "v0"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASSED: 2/2 tests" in out
