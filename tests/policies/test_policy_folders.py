"""The policy tree: one folder per policy with tests and samples, all passing."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT
from tools.cli import main
from tools.validate.checks.policies import RULE_HEAD

POLICIES = REPO_ROOT / "policies"
FOLDERS = sorted(
    p for p in POLICIES.iterdir() if p.is_dir() and any(p.glob("*.rego")) and p.name != "lib"
)


def test_there_is_a_folder_per_policy_of_the_issue() -> None:
    names = {p.name for p in FOLDERS}
    assert {
        "read_only_root_fs", "service_account_token", "plaintext_secrets",
        "image_tag", "image_registry", "image_digest", "ingress_tls", "namespace_pod_security",
        "rbac_wildcards", "cluster_admin", "resources", "probes", "replicas", "hpa_bounds",
        "pdb_disruption", "topology_spread", "rollout_analysis", "recommended_labels",
    } <= names  # fmt: skip


@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_folder_layout(folder: Path) -> None:
    name = folder.name
    policy = folder / f"{name}.rego"
    assert policy.is_file() and (folder / f"{name}_test.rego").is_file()
    assert list(folder.glob("allowed*.yaml")) and list(folder.glob("disallowed*.yaml"))
    source = policy.read_text(encoding="utf-8")
    assert "import rego.v1" in source
    assert source.splitlines()[0].startswith("#"), "explain the policy in a header comment"
    rules = {m["name"] for m in RULE_HEAD.finditer(source)}
    assert rules and all(re.fullmatch(r"(deny|warn)_[a-z0-9_]+", r) for r in rules)
    assert not list(folder.glob("data.*")), "policy data lives in policies/data.yaml only"


def test_samples_are_not_copies() -> None:
    """A sample several folders share is one file (policies/samples/) they link to."""
    seen: dict[str, Path] = {}
    for sample in sorted(POLICIES.glob("*/*allowed*.yaml")):
        if sample.is_symlink():
            target = sample.resolve()
            assert target.is_relative_to(POLICIES / "samples") and target.is_file(), sample
            continue
        digest = hashlib.sha256(sample.read_bytes()).hexdigest()
        assert digest not in seen, f"{sample} copies {seen[digest]}: link to one file instead"
        seen[digest] = sample


def test_lib_has_tests_too() -> None:
    for module in (POLICIES / "lib").glob("*.rego"):
        if not module.stem.endswith("_test"):
            assert (module.parent / f"{module.stem}_test.rego").is_file()


def test_lib_rules_are_named_by_full_path() -> None:
    """``data.lib.k8s.subject``, not ``import data.lib.k8s`` + ``k8s.subject``: regorus
    evaluates every rule of an imported package when one is named through the import, which
    more than doubled the policy time of a Service or ConfigMap (docs/VALIDATE.md)."""
    importing = [
        f"{module.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for module in sorted(POLICIES.rglob("*.rego"))
        for number, line in enumerate(module.read_text(encoding="utf-8").splitlines(), 1)
        if re.match(r"\s*import\s+data\.", line)
    ]
    assert not importing, "name lib rules as data.lib.<package>.<rule>:\n" + "\n".join(importing)


def test_unit_tests_and_samples_pass(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["policy", "test", str(POLICIES), "-v"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASS policies/image_tag/image_tag_test.rego: test_latest_denied" in out
    assert "PASS policies/image_tag/disallowed.yaml: deny_image_tag" in out
    assert "FAIL" not in out
