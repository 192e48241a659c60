"""The rendered Argo Workflows objects: schema-valid, hardened, and in sync with the Python."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tools import cli, kustomize
from tools.pipeline import render, workflow

TRAINING = Path("base/training")


def _committed(repo_root: Path) -> list[dict[str, Any]]:
    docs = []
    for name in ("workflowtemplate.yaml", "workflowtemplate-image-build.yaml", "cronworkflow.yaml"):
        docs.append(yaml.safe_load((repo_root / TRAINING / name).read_text(encoding="utf-8")))
    return docs


def _errors(schema: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


def test_committed_templates_are_valid_against_the_argo_workflows_crds(
    repo_root: Path, crd_schemas: dict[str, dict[str, Any]]
) -> None:
    docs = _committed(repo_root)
    assert [d["kind"] for d in docs] == ["WorkflowTemplate", "WorkflowTemplate", "CronWorkflow"]
    for doc in docs:
        assert doc["apiVersion"] == "argoproj.io/v1alpha1"
        assert _errors(crd_schemas[doc["kind"]], doc) == []


def test_external_secrets_are_valid_and_nothing_secret_is_committed(
    repo_root: Path, crd_schemas: dict[str, dict[str, Any]]
) -> None:
    for base in ("base/training", "base/mlflow-backup"):
        docs = [d for d in yaml.safe_load_all(kustomize.build(repo_root / base)) if d]
        assert not [d for d in docs if d["kind"] == "Secret"], base
        external = [d for d in docs if d["kind"] == "ExternalSecret"]
        assert external, base
        for doc in external:
            assert doc["apiVersion"] == "external-secrets.io/v1"
            assert doc["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "vault"}
            assert _errors(crd_schemas["ExternalSecret"], doc) == [], doc["metadata"]["name"]


@pytest.mark.parametrize(
    ("kind", "path", "value", "expected"),
    [
        ("WorkflowTemplate", ["spec", "entrypoint"], 5, "is not of type 'string'"),
        ("WorkflowTemplate", ["spec", "retrystrategy"], {"limit": 2}, "Additional properties"),
        ("CronWorkflow", ["spec", "schedules"], None, "'schedules' is a required property"),
    ],
)
def test_the_schema_check_rejects_broken_objects(
    crd_schemas: dict[str, dict[str, Any]],
    kind: str,
    path: list[str],
    value: Any,
    expected: str,
) -> None:
    builders = {
        "WorkflowTemplate": workflow.workflow_template,
        "CronWorkflow": workflow.cron_workflow,
    }
    doc = builders[kind]().to_dict()
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if value is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    assert any(expected in e for e in _errors(crd_schemas[kind], doc))


def test_render_check_passes_on_the_repository(repo_root: Path) -> None:
    assert render.check(repo_root) == []
    assert cli.main(["pipeline", "render", "--check", "--repo-dir", str(repo_root)]) == 0


def test_render_check_fails_on_a_tampered_copy(
    repo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(repo_root / TRAINING, tmp_path / TRAINING)
    target = tmp_path / TRAINING / "workflowtemplate.yaml"
    target.write_text(
        target.read_text(encoding="utf-8").replace("limit: 2", "limit: 5", 1), encoding="utf-8"
    )
    (tmp_path / TRAINING / "cronworkflow.yaml").unlink()

    problems = render.check(tmp_path)
    assert len(problems) == 2
    assert "workflowtemplate.yaml: out of date" in problems[0]
    assert "-      limit: 5" in problems[0] and "+      limit: 2" in problems[0]
    assert "cronworkflow.yaml: missing" in problems[1]

    assert cli.main(["pipeline", "render", "--check", "--repo-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "out of date" in out and "gitops pipeline render" in out

    # render repairs the copy; the check is then clean and nothing else was touched
    assert cli.main(["pipeline", "render", "--repo-dir", str(tmp_path)]) == 0
    assert render.check(tmp_path) == []
    assert (tmp_path / TRAINING / "workflowtemplate.yaml").read_text(encoding="utf-8") == (
        repo_root / TRAINING / "workflowtemplate.yaml"
    ).read_text(encoding="utf-8")


def test_render_refuses_a_directory_that_is_not_the_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["pipeline", "render", "--check", "--repo-dir", str(tmp_path)]) == 2
    assert "does not look like the repository root" in capsys.readouterr().err


def test_steps_run_in_pipeline_order_and_later_ones_wait_for_the_gate() -> None:
    spec = workflow.workflow_template().to_dict()["spec"]
    templates = {t["name"]: t for t in spec["templates"]}
    assert spec["entrypoint"] == "pipeline"
    pipeline = [group[0] for group in templates["pipeline"]["steps"]]
    assert [s["name"] for s in pipeline] == ["train", "evaluate", "release"]
    # everything after the gate is one template, skipped as a whole when the gate refuses
    assert [s.get("when") for s in pipeline] == [
        None,
        None,
        "{{steps.evaluate.outputs.parameters.passed}} == true",
    ]
    release = [group[0] for group in templates["release"]["steps"]]
    assert [s["name"] for s in release] == ["register", "build-image", "open-pr"]
    assert all("when" not in s for s in release)
    build = release[1]
    assert build["templateRef"] == {"name": "model-image-build", "template": "build-image"}
    build_args = {p["name"]: p["value"] for p in build["arguments"]["parameters"]}
    assert build_args["version"] == "{{steps.register.outputs.parameters.version}}"
    assert release[2]["arguments"]["parameters"] == [
        {"name": "digest", "value": "{{steps.build-image.outputs.parameters.digest}}"}
    ]
    # every input the referenced build template declares is passed
    (build_template,) = workflow.image_build_template().to_dict()["spec"]["templates"]
    declared = {p["name"] for p in build_template["inputs"]["parameters"]}
    assert declared == set(build_args)
    assert {p["name"] for p in spec["arguments"]["parameters"]} >= declared - {"version"}
    # and no step refers to a step outside its own template
    for name in ("pipeline", "release"):
        own = {group[0]["name"] for group in templates[name]["steps"]}
        text = str(templates[name]["steps"])
        for ref in re.findall(r"steps\.([a-z-]+)\.outputs", text):
            assert ref in own, (name, ref)


def _containers() -> dict[str, dict[str, Any]]:
    templates = [
        *workflow.workflow_template().to_dict()["spec"]["templates"],
        *workflow.image_build_template().to_dict()["spec"]["templates"],
    ]
    return {t["name"]: t for t in templates if "container" in t}


def test_every_step_is_a_hardened_container_with_resources_and_retries() -> None:
    spec = workflow.workflow_template().to_dict()["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    containers = _containers()
    assert set(containers) == {"train", "evaluate", "register", "build-image", "open-pr"}
    for name, template in containers.items():
        container = template["container"]
        assert container["resources"]["requests"] and container["resources"]["limits"], name
        assert template["retryStrategy"]["limit"] >= 1, name
        ctx = container["securityContext"]
        assert ctx["runAsNonRoot"] is True, name
        assert ctx.get("privileged") in (None, False), name
        if name == "build-image":
            continue  # see the next test
        assert ctx["readOnlyRootFilesystem"] is True, name
        assert ctx["allowPrivilegeEscalation"] is False, name
        assert ctx["capabilities"] == {"drop": ["ALL"]}, name
        assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert container["command"][:4] == ["python", "-m", "tools.pipeline.steps", name]
        assert container["image"] == workflow.TOOLS_IMAGE


def test_the_rootless_build_is_the_one_documented_exception() -> None:
    template = _containers()["build-image"]
    container = template["container"]
    assert container["image"].startswith("moby/buildkit:v") and container["image"].endswith(
        "-rootless"
    )
    assert template["securityContext"]["runAsUser"] == container["securityContext"]["runAsUser"]
    assert container["securityContext"]["runAsUser"] != 0
    assert "buildctl-daemonless.sh build" in container["args"][0]
    assert "push=true" in container["args"][0]
    metadata = workflow.image_build_template().to_dict()["metadata"]
    exempt = metadata["annotations"]["policy.gitops.example.org/exempt"].split(",")
    assert exempt == ["writable_root_fs", "image_registry"]  # Pod Security: the namespace level
    assert metadata["annotations"]["policy.gitops.example.org/exempt-reason"].strip()
    # the main template carries no exemption
    main = workflow.workflow_template().to_dict()["metadata"]
    assert "policy.gitops.example.org/exempt" not in main.get("annotations", {})


def test_cron_runs_the_template_weekly_without_overlap() -> None:
    spec = workflow.cron_workflow().to_dict()["spec"]
    assert spec["workflowSpec"] == {"workflowTemplateRef": {"name": "model-training"}}
    assert spec["concurrencyPolicy"] == "Forbid"
    (schedule,) = spec["schedules"]
    _minute, _hour, dom, month, dow = schedule.split()
    assert (dom, month) == ("*", "*") and dow.isdigit()


def test_kustomize_builds_base_training_without_a_namespace(repo_root: Path) -> None:
    docs = [d for d in yaml.safe_load_all(kustomize.build(repo_root / TRAINING)) if d]
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        [
            "ServiceAccount",
            "Role",
            "RoleBinding",
            "ExternalSecret",
            "ExternalSecret",
            "ExternalSecret",
            "WorkflowTemplate",
            "WorkflowTemplate",
            "CronWorkflow",
        ]
    )
    assert all("namespace" not in d["metadata"] for d in docs)
    secrets = [d for d in docs if d["kind"] == "Secret"]
    assert secrets == []
    role = next(d for d in docs if d["kind"] == "Role")
    assert role["rules"] == [
        {
            "apiGroups": ["argoproj.io"],
            "resources": ["workflowtaskresults"],
            "verbs": ["create", "patch"],
        }
    ]
