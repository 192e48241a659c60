"""The command contract: exit codes, output formats, usage errors, rendered kustomizations."""

from __future__ import annotations

import json
import os
import textwrap
from importlib import metadata
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml

from tests.support.paths import REPO_ROOT
from tests.support.validate import DATA, GOOD, shared_crds
from tools import kustomize
from tools.cli import main

# A whole broken sample in the repository: findings name it by its repository path.
IN_REPO = DATA / "broken" / "app-project-destination.yaml"


@pytest.fixture
def broken(patched: dict[str, Path]) -> Path:
    """The good application without its canary Service (outside the repository)."""
    return patched["rollout-missing-canary-service"]


@pytest.fixture(autouse=True)
def in_repo(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> None:
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_dir))


def gitops(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(["validate", "--crd-dir", str(shared_crds()), *args])
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_exit_zero_on_good_manifests(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = gitops(capsys, str(GOOD))
    assert code == 0
    assert out.strip().endswith("OK: 13 resources in 1 files, 0 errors, 0 warnings")


def test_exit_one_and_text_grouped_by_file(
    capsys: pytest.CaptureFixture[str], broken: Path
) -> None:
    code, out, _ = gitops(capsys, str(broken), str(IN_REPO))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == str(broken)  # outside the repository: the absolute path
    assert "tests/data/validate/broken/app-project-destination.yaml" in lines
    assert "canaryService 'web-canary' does not exist" in out
    assert "\033[" not in out  # no colours when not on a terminal
    assert lines[-1].startswith("FAILED: ")


def test_json_output_contract(capsys: pytest.CaptureFixture[str], broken: Path) -> None:
    code, out, _ = gitops(capsys, "--output", "json", str(broken))
    assert code == 1
    report = json.loads(out)
    assert set(report) == {"findings", "summary"}
    assert set(report["summary"]) == {"resources", "files", "errors", "warnings"}
    finding = next(f for f in report["findings"] if f["rule"] == "ref-rollout-service")
    assert set(finding) == {
        "severity", "rule", "message", "resource", "file", "line", "column", "path", "hint",
    }  # fmt: skip
    assert finding["resource"] == {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "namespace": "model-api-production",
        "name": "web",
    }


def test_junit_sarif_and_github_outputs(capsys: pytest.CaptureFixture[str], broken: Path) -> None:
    _, junit, _ = gitops(capsys, "-o", "junit", str(broken))
    suite = ET.fromstring(junit.split("\n", 1)[1]).find("testsuite")
    assert suite is not None and int(suite.get("failures", "0")) >= 1
    _, sarif, _ = gitops(capsys, "-o", "sarif", str(broken), str(IN_REPO))
    run = json.loads(sarif)["runs"][0]
    outside = next(r for r in run["results"] if r["ruleId"] == "ref-rollout-service")
    assert "locations" not in outside  # SARIF locations are relative to the repository
    result = next(r for r in run["results"] if r["ruleId"] == "ref-app-project")
    location = result["locations"][0]["physicalLocation"]
    assert (
        location["artifactLocation"]["uri"]
        == "tests/data/validate/broken/app-project-destination.yaml"
    )
    assert location["region"]["startLine"] > 1
    _, github, _ = gitops(capsys, "-o", "github", str(broken), str(IN_REPO))
    assert any(
        line.startswith(f"::error file={broken}") and "title=ref-rollout-service" in line
        for line in github.splitlines()
    )
    assert any(
        line.startswith("::error file=tests/data/validate/broken/app-project-destination.yaml")
        and "title=ref-app-project" in line
        for line in github.splitlines()
    )


def test_one_run_writes_several_reports(
    capsys: pytest.CaptureFixture[str], broken: Path, tmp_path: Path
) -> None:
    sarif, junit = tmp_path / "out" / "gitops.sarif", tmp_path / "junit.xml"
    args = ["-o", "github", "-o", f"sarif={sarif}", "--output", f"junit={junit}", str(broken)]
    code, out, _ = gitops(capsys, *args, str(IN_REPO))
    assert code == 1
    _, alone, _ = gitops(capsys, "-o", "github", str(broken), str(IN_REPO))
    assert out == alone  # stdout gets the one format without a file
    _, sarif_alone, _ = gitops(capsys, "-o", "sarif", str(broken), str(IN_REPO))
    assert sarif.read_text(encoding="utf-8") == sarif_alone
    assert ET.parse(junit).getroot().tag == "testsuites"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "yaml"], "unknown format 'yaml'"),
        (["-o", "sarif="], "no file after '='"),
        (["-o", "json", "-o", "text"], "2 reports (json, text) would go to stdout together"),
        (["-o", "json=/proc/no/such/dir/report.json"], "cannot write the json report"),
    ],
)
def test_bad_outputs_are_usage_errors(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = gitops(capsys, *args, str(GOOD))
    assert code == 2
    assert message in err and "Traceback" not in err


def test_unknown_flag_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = gitops(capsys, "--no-such-flag")
    assert code == 2
    assert "unrecognized arguments" in err


def test_missing_path_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = gitops(capsys, "does/not/exist.yaml")
    assert code == 2
    assert "does/not/exist.yaml: no such file or directory" in err
    assert out == ""


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files without permission")
def test_unreadable_file_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text("kind: x\n")
    path.chmod(0)
    code, _, err = gitops(capsys, str(path))
    assert code == 2 and "not readable" in err


def test_bad_kubernetes_version_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = gitops(capsys, "--kubernetes-version", "1.99", str(GOOD))
    assert code == 2
    assert "no bundled Kubernetes schemas for version 1.99" in err


def test_no_kustomize_is_usage_error_with_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(kustomize.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(metadata, "distribution", _not_installed)  # nor found by its RECORD
    code, _, err = gitops(capsys, str(tmp_path))
    assert code == 2
    assert "no kustomize binary found" in err and "hint:" in err


def _not_installed(name: str) -> metadata.Distribution:
    raise metadata.PackageNotFoundError(name)


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_rendered_findings_point_at_source_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    write(repo, "pyproject.toml", "[tool.gitops.validate]\npolicy-dirs = []\n")
    write(repo, "base/kustomization.yaml", "resources: [service.yaml]\n")
    write(
        repo,
        "base/service.yaml",
        """\
        # a comment first
        apiVersion: v1
        kind: Service
        metadata:
          name: web
        spec:
          ports:
            - port: 80
              protcol: TCP
        """,
    )
    write(
        repo, "overlays/staging/kustomization.yaml", "resources: [../../base]\nnamePrefix: stg-\n"
    )
    monkeypatch.chdir(repo)
    code, out, _ = gitops(capsys, "-o", "json")
    assert code == 1
    (finding,) = json.loads(out)["findings"]
    assert finding["rule"] == "schema"
    assert finding["file"] == "base/service.yaml"
    # the misspelt key itself (line 9, column 7 in the file), not the object that holds it
    assert (finding["line"], finding["column"]) == (9, 7)
    assert finding["path"] == "$.spec.ports[0].protcol"
    assert finding["resource"]["name"] == "stg-web"


def test_looping_and_escaping_kustomizations_are_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    outside = tmp_path / "outside"
    write(repo, "pyproject.toml", "[tool.gitops.validate]\npolicy-dirs = []\n")
    write(repo, "overlays/a/kustomization.yaml", "resources: [../b]\n")
    write(repo, "overlays/b/kustomization.yaml", "resources: [../a]\n")
    write(outside, "kustomization.yaml", "resources: [cm.yaml]\n")
    write(outside, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    write(repo, "overlays/escape/kustomization.yaml", "resources: [../../../outside]\n")
    monkeypatch.chdir(repo)
    code, out, _ = gitops(capsys, "-o", "json", "overlays/a", "overlays/escape")
    assert code == 1
    findings = json.loads(out)["findings"]
    messages = [f["message"] for f in findings if f["rule"] == "render"]
    assert any("cycle" in m for m in messages)
    # Refused before kustomize reads anything outside (tools/kustomize.py check_references).
    escaped = [f for f in findings if f["rule"] == "outside-repository"]
    assert [f["file"] for f in escaped] == ["overlays/escape/kustomization.yaml"]
    assert "'../../../outside' resolves outside the repository" in escaped[0]["message"]


def test_unreachable_opa_server_is_usage_error_with_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.support.net import free_port

    code, _, err = gitops(capsys, "--opa-url", f"http://127.0.0.1:{free_port()}", str(GOOD))
    assert code == 2
    assert "OPA server at http://127.0.0.1:" in err and "hint:" in err


def test_crd_from_cluster_without_kubeconfig_is_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    code, _, err = gitops(capsys, "--crd-from-cluster", str(GOOD))
    assert code == 2
    assert "--crd-from-cluster" in err


def test_both_engines_report_the_same_json(
    capsys: pytest.CaptureFixture[str], patched: dict[str, Path]
) -> None:
    broken = sorted(str(p) for p in (DATA / "broken").glob("policy-*.yaml"))
    broken += [str(path) for name, path in patched.items() if name.startswith("policy-")]
    reports = {}
    for engine in ("regorus", "regopy"):
        code, out, _ = gitops(capsys, "--engine", engine, "--no-cache", "-o", "json", *broken)
        assert code == 1
        reports[engine] = json.loads(out)
    assert reports["regorus"] == reports["regopy"]
    assert {f["rule"] for f in reports["regorus"]["findings"]} >= {
        "deny_image_tag",
        "deny_secret_data",
    }


def test_unknown_engine_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = gitops(capsys, "--engine", "opa", str(GOOD))
    assert code == 2
    assert "invalid choice: 'opa'" in err


def test_engine_from_the_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.gitops.validate]\nengine = "rego-cpp"\npolicy-dirs = []\n', encoding="utf-8"
    )
    manifest = tmp_path / "app.yaml"
    manifest.write_text(GOOD.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.rego").write_text(
        'package main\n\nimport rego.v1\n\ndeny contains "no" if false\n', encoding="utf-8"
    )
    code, _, err = gitops(capsys, "--policy-dir", "policies", str(manifest))
    assert code == 2
    assert "[tool.gitops.validate] engine 'rego-cpp': expected one of auto, regorus, regopy" in err


def test_rego_v0_policies_need_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policies = tmp_path / "v0"
    policies.mkdir()
    (policies / "pods.rego").write_text(
        'package main\n\ndeny[msg] {\n\tinput.kind == "Rollout"\n\tmsg := "v0 rule fired"\n}\n',
        encoding="utf-8",
    )
    args = ["--policy-dir", str(policies), "--no-rule-tests", "--no-cache", str(GOOD)]
    code, _, err = gitops(capsys, *args)
    assert code == 2
    assert "hint: policies in Rego v0 syntax? pass --rego-version v0" in err
    code, out, _ = gitops(capsys, *args, "--rego-version", "v0", "-o", "json")
    assert code == 1
    assert {f["message"] for f in json.loads(out)["findings"]} == {"v0 rule fired"}
    code, _, err = gitops(capsys, *args, "--rego-version", "v0", "--engine", "regopy")
    assert code == 2 and "regopy evaluates Rego v1 only" in err


def test_namespace_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "rollouts.rego").write_text(
        "package kubernetes.rollouts\n\nimport rego.v1\n\n"
        'deny_everything contains "rollout seen" if input.kind == "Rollout"\n',
        encoding="utf-8",
    )
    args = ["--policy-dir", str(policies), "--no-rule-tests", "--no-cache", "-o", "json"]

    def rules(*extra: str) -> tuple[int, set[str]]:
        code, out, _ = gitops(capsys, *args, *extra, str(GOOD))
        return code, {f["rule"] for f in json.loads(out)["findings"]}

    code, _, err = gitops(capsys, *args, str(GOOD))  # package main, which has no rules here
    assert code == 2
    assert "no deny/violation/warn rules in package main" in err
    assert "packages with rules: kubernetes.rollouts" in err and "--all-namespaces" in err
    expected = (1, {"kubernetes.rollouts.deny_everything"})
    assert rules("--namespace", "kubernetes.rollouts") == expected
    assert rules("--all-namespaces") == expected


def test_fail_on_warn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The good app in a non-production namespace without zone spread: one warning, no error.
    text = GOOD.read_text(encoding="utf-8").replace("model-api-production", "model-api-staging")
    docs = [d for d in yaml.safe_load_all(text) if d]
    (rollout,) = [d for d in docs if d["kind"] == "Rollout"]
    del rollout["spec"]["template"]["spec"]["topologySpreadConstraints"]
    manifest = tmp_path / "app.yaml"
    manifest.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
    code, out, _ = gitops(capsys, "--no-rule-tests", str(manifest))
    assert code == 0 and out.strip().endswith("0 errors, 1 warning")
    code, out, _ = gitops(capsys, "--no-rule-tests", "--fail-on-warn", str(manifest))
    assert code == 1 and "warn_topology_spread" in out


def test_data_flag_replaces_the_policy_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load((REPO_ROOT / "policies" / "data.yaml").read_text(encoding="utf-8"))
    data["gitops"]["allowed_registries"] = ["registry.example.net/"]
    replaced = tmp_path / "data.yaml"
    replaced.write_text(yaml.safe_dump(data), encoding="utf-8")
    code, out, _ = gitops(capsys, "--no-rule-tests", "--data", str(replaced), str(GOOD))
    assert code == 1
    assert 'is not from an allowed registry ["registry.example.net/"]' in out
    code, _, err = gitops(
        capsys, "--no-rule-tests", "--data", str(tmp_path / "nope.yaml"), str(GOOD)
    )
    assert code == 2 and "nope.yaml" in err
