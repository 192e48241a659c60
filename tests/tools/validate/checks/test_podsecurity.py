"""Pod Security Standards: every check, allowed and forbidden, at both levels, on every kind.

The table (tests/data/podsecurity/cases.yaml) changes one thing in a pod that passes
"restricted"; each case is wrapped into every pod-bearing kind of the shared list and into an
Argo Workflows template, and evaluated at baseline and restricted.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.paths import TEST_DATA
from tools.validate.checks.base import Context
from tools.validate.checks.podsecurity import (
    CHECK_IDS,
    LATEST,
    Violation,
    check_scope,
    checks_for,
    evaluate,
    parse_version,
)
from tools.validate.checks.scope import Scope
from tools.validate.checks.workloads import kind_list
from tools.validate.findings import Resource
from tools.validate.options import ValidateOptions

TABLE = yaml.safe_load((TEST_DATA / "podsecurity" / "cases.yaml").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = TABLE["cases"]
API_VERSIONS = {
    "": "v1",
    "apps": "apps/v1",
    "batch": "batch/v1",
    "argoproj.io": "argoproj.io/v1alpha1",
}


def _tokens(path: str) -> list[str | int]:
    return [int(part) if part.isdigit() else part for part in path.split(".")]


def changed_pod(case: dict[str, Any]) -> dict[str, Any]:
    """The base pod (metadata + spec) with the case's changes applied."""
    pod = copy.deepcopy(TABLE["base"])
    for path, value in case["set"].items():
        *parents, last = _tokens(path)
        node: Any = pod
        for key in parents:
            if isinstance(key, int):
                node = node[key]
                continue
            if not isinstance(node.get(key), dict | list):
                node[key] = {}
            node = node[key]
        if value is None:
            if isinstance(node, dict):
                node.pop(last, None)
        else:
            node[last] = copy.deepcopy(value)
    return pod


# -- wrapping one pod into every kind ------------------------------------------------------


def _put(obj: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = obj
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def in_pod_kind(kind: str, pod: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(object of *kind* carrying *pod*, JSONPath prefix of the pod inside it)."""
    entry = kind_list().pods[kind]
    group = sorted(entry.groups)[0]
    obj: dict[str, Any] = {
        "apiVersion": API_VERSIONS[group],
        "kind": kind,
        "metadata": {"name": "sample", "namespace": "apps"},
    }
    if not entry.path:  # the Pod itself
        obj["metadata"].update(copy.deepcopy(pod["metadata"]))
        obj["spec"] = copy.deepcopy(pod["spec"])
        return obj, "$"
    _put(obj, entry.path, copy.deepcopy(pod))
    return obj, "$." + ".".join(entry.path)


ARGO_POD_FIELDS = {
    "securityContext",
    "initContainers",
    "containers",
    "volumes",
    "hostNetwork",
    "nodeSelector",
}


def in_workflow_kind(kind: str, pod: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(Argo object whose one template runs *pod*, pod JSONPath prefix -> object prefix)."""
    spec = pod["spec"]
    assert set(spec) <= ARGO_POD_FIELDS, f"no Argo field for {set(spec) - ARGO_POD_FIELDS}"
    (main,) = spec["containers"]
    template: dict[str, Any] = {"name": "run", "container": copy.deepcopy(main)}
    for key in ("securityContext", "initContainers", "volumes", "nodeSelector"):
        if key in spec:
            template[key] = copy.deepcopy(spec[key])
    if pod["metadata"]:
        template["metadata"] = copy.deepcopy(pod["metadata"])
    workflow: dict[str, Any] = {"entrypoint": "run", "templates": [template]}
    if "hostNetwork" in spec:
        workflow["hostNetwork"] = spec["hostNetwork"]
    entry = kind_list().workflows[kind]
    obj: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "sample"},
    }
    _put(obj, entry.path, workflow)
    base = "$." + ".".join(entry.path)
    return obj, {
        "spec.containers[0]": f"{base}.templates[0].container",
        "spec.initContainers": f"{base}.templates[0].initContainers",
        "spec.securityContext": f"{base}.templates[0].securityContext",
        "spec.volumes": f"{base}.templates[0].volumes",
        "spec.hostNetwork": f"{base}.hostNetwork",
        "metadata": f"{base}.templates[0].metadata",
    }


def _argo_path(relative: str, prefixes: dict[str, str]) -> str:
    for start, replacement in prefixes.items():
        if relative.startswith(start):
            return replacement + relative[len(start) :]
    raise AssertionError(f"no Argo place for {relative}")


def wrapped(case: dict[str, Any]) -> list[tuple[str, dict[str, Any], str | None]]:
    """(kind, object, expected JSONPath of the case's first check or None) per kind."""
    pod = changed_pod(case)
    relative = case.get("path")
    out: list[tuple[str, dict[str, Any], str | None]] = []
    for kind in kind_list().pods:
        obj, prefix = in_pod_kind(kind, pod)
        out.append((kind, obj, f"{prefix}.{relative}" if relative else None))
    if case.get("argo", True):
        for kind in kind_list().workflows:
            obj, prefixes = in_workflow_kind(kind, pod)
            out.append((kind, obj, _argo_path(relative, prefixes) if relative else None))
    return out


PARAMS = [
    pytest.param(case, level, id=f"{case['name']}-{level}")
    for case in CASES
    for level in ("baseline", "restricted")
]


@pytest.mark.parametrize(("case", "level"), PARAMS)
def test_case_on_every_kind(case: dict[str, Any], level: str) -> None:
    version = case.get("version", "latest")
    expected = case[level]
    for kind, obj, path in wrapped(case):
        found = evaluate(obj, level, version)
        assert sorted({v.check for v in found}) == sorted(expected), (kind, found)
        if path and expected:
            paths = {v.path for v in found if v.check == expected[0]}
            assert path in paths, (kind, paths)
        assert evaluate(obj, "privileged", version) == []


def test_table_covers_every_check_allowed_and_forbidden() -> None:
    forbidden = {
        check for case in CASES for level in ("baseline", "restricted") for check in case[level]
    }
    assert forbidden == CHECK_IDS
    for check in CHECK_IDS:
        # an allowed variant: a case on the same fields that some level admits
        related = [c for c in CASES if check in c["baseline"] or check in c["restricted"]]
        assert related, check
    admitted = [c for c in CASES if not c["baseline"] and not c["restricted"]]
    assert len(admitted) >= 20


# -- registry: levels, versions, overrides -------------------------------------------------


def ids(level: str, version: str) -> list[str]:
    parsed = parse_version(version)
    assert parsed is not None
    return [check.id for check, _ in checks_for(level, parsed)]


def test_restricted_replaces_the_overridden_baseline_checks() -> None:
    restricted = ids("restricted", "latest")
    for replaced, by in [
        ("hostPathVolumes", "restrictedVolumes"),
        ("capabilities_baseline", "capabilities_restricted"),
        ("seccompProfile_baseline", "seccompProfile_restricted"),
        ("procMount", "procMount_restricted"),
    ]:
        assert replaced in ids("baseline", "latest")
        assert replaced not in restricted and by in restricted


def test_overrides_follow_the_version_of_the_restricted_check() -> None:
    assert "seccompProfile_baseline" in ids("restricted", "v1.18")
    assert "seccompProfile_baseline" not in ids("restricted", "v1.19")
    assert "capabilities_baseline" in ids("restricted", "v1.21")
    assert "procMount" in ids("restricted", "v1.34")
    assert "procMount_restricted" in ids("restricted", "v1.35")
    assert "hostProbesAndHostLifecycle" not in ids("baseline", "v1.33")
    assert "hostProbesAndHostLifecycle" in ids("baseline", "v1.34")
    assert "runAsUser" not in ids("restricted", "v1.22")
    assert ids("privileged", "latest") == []


def test_versions() -> None:
    assert LATEST == (1, 37)
    assert parse_version("latest") == LATEST
    assert parse_version("v1.99") == LATEST  # newer than any check: the newest policy
    assert parse_version("v1.0") == (1, 0)
    for bad in ("1.30", "v1.030", "v2.0", "v1", "", "latest "):
        assert parse_version(bad) is None, bad


def test_unknown_level_or_version_is_a_value_error() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}
    with pytest.raises(ValueError, match="level"):
        evaluate(pod, "Restricted")
    with pytest.raises(ValueError, match="version"):
        evaluate(pod, "restricted", "1.30")


# -- messages, kinds without pods, Argo specifics ------------------------------------------


def _deployment(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"template": {"spec": spec}},
    }


def test_message_names_object_container_value_and_level() -> None:
    spec = copy.deepcopy(TABLE["base"]["spec"])
    spec["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    (found,) = evaluate(_deployment(spec), "baseline", "v1.33")
    assert found == Violation(
        "hostPorts",
        ("spec", "template", "spec", "containers", 0, "ports", 0, "hostPort"),
        'Deployment web: container "app" uses hostPort 8080 '
        "(host ports; Pod Security baseline:v1.33)",
        found.hint,
    )
    assert found.path == "$.spec.template.spec.containers[0].ports[0].hostPort"
    assert "Service" in found.hint


def test_non_zero_run_as_user_is_named_in_the_message() -> None:
    spec = copy.deepcopy(TABLE["base"]["spec"])
    spec["securityContext"] = {"runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}
    messages = [v.message for v in evaluate(_deployment(spec), "restricted")]
    assert any("runAsUser 1000 does not count" in m for m in messages), messages


def test_kinds_without_pods_and_templates_without_spec() -> None:
    assert (
        evaluate({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, "restricted")
        == []
    )
    rc = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "rc"},
        "spec": {},
    }
    assert evaluate(rc, "restricted") == []  # an RC without a template is skipped
    other = _deployment({"hostNetwork": True, "containers": [{"name": "a"}]})
    other["apiVersion"] = "example.org/v1"  # a Deployment of some other group is not a pod
    assert evaluate(other, "restricted") == []


def test_rollout_with_workload_ref_runs_the_referenced_deployment() -> None:
    rollout = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web"},
        "spec": {"workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}},
    }
    assert evaluate(rollout, "restricted") == []
    deployment = _deployment({"containers": [{"name": "app", "image": "x:1"}]})
    assert {v.check for v in evaluate(deployment, "restricted")} >= {"runAsNonRoot"}


def _workflow(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "train"},
        "spec": spec,
    }


SAFE = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}


def test_argo_script_container_set_and_sidecars_are_containers() -> None:
    workflow = _workflow(
        {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "templates": [
                {"name": "main", "steps": [[{"name": "a", "template": "script"}]]},
                {"name": "script", "script": {"image": "python:3", "source": "print()"}},
                {
                    "name": "set",
                    "containerSet": {"containers": [{"name": "a", "securityContext": SAFE}]},
                    "sidecars": [
                        {"name": "proxy", "securityContext": {**SAFE, "privileged": True}}
                    ],
                },
            ],
        }
    )
    found = {(v.check, v.path) for v in evaluate(workflow, "restricted")}
    assert found == {
        (
            "allowPrivilegeEscalation",
            "$.spec.templates[1].script.securityContext.allowPrivilegeEscalation",
        ),
        ("capabilities_restricted", "$.spec.templates[1].script.securityContext.capabilities.drop"),
        ("privileged", "$.spec.templates[2].sidecars[0].securityContext.privileged"),
    }


def test_argo_template_security_context_replaces_the_workflow_one() -> None:
    template = {"name": "run", "container": {"image": "x:1", "securityContext": SAFE}}
    workflow = _workflow(
        {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "templates": [
                template,
                {**template, "name": "own", "securityContext": {"runAsUser": 0}},
            ],
        }
    )
    found = {(v.check, v.path) for v in evaluate(workflow, "restricted")}
    assert found == {
        ("runAsNonRoot", "$.spec.templates[1].container.securityContext.runAsNonRoot"),
        ("runAsUser", "$.spec.templates[1].securityContext.runAsUser"),
        (
            "seccompProfile_restricted",
            "$.spec.templates[1].container.securityContext.seccompProfile.type",
        ),
    }


def test_argo_template_defaults_and_pod_metadata_apply_to_every_template() -> None:
    workflow = _workflow(
        {
            "podMetadata": {
                "annotations": {"container.apparmor.security.beta.kubernetes.io/main": "unconfined"}
            },
            "templateDefaults": {"container": {"securityContext": {"privileged": True}}},
            "volumes": [{"name": "host", "hostPath": {"path": "/"}}],
            "templates": [{"name": "run", "container": {"image": "x:1"}}],
        }
    )
    found = {(v.check, v.path) for v in evaluate(workflow, "baseline")}
    assert found == {
        (
            "appArmorProfile",
            "$.spec.podMetadata.annotations['container.apparmor.security.beta.kubernetes.io/main']",
        ),
        ("privileged", "$.spec.templates[0].container.securityContext.privileged"),
        ("hostPathVolumes", "$.spec.volumes[0].hostPath"),
    }


def test_cron_workflow_and_cluster_workflow_template() -> None:
    bad = {"templates": [{"name": "r", "container": {"securityContext": {"privileged": True}}}]}
    cron = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 1 * * *", "workflowSpec": bad},
    }
    (found,) = evaluate(cron, "baseline")
    assert found.path == "$.spec.workflowSpec.templates[0].container.securityContext.privileged"
    cluster = {**cron, "kind": "ClusterWorkflowTemplate", "spec": bad}
    assert [v.check for v in evaluate(cluster, "baseline")] == ["privileged"]


HOSTILE: list[Any] = [
    None,
    "text",
    7,
    [],
    {"securityContext": "x", "containers": "x", "volumes": {"a": 1}},
    {"securityContext": {"sysctls": [{"name": ["x"]}, "y"], "seLinuxOptions": {"type": ["t"]}}},
    {
        "containers": [
            None,
            "c",
            {"securityContext": {"capabilities": {"add": [["x"]], "drop": "ALL"}}},
        ]
    },
    {"containers": [{"ports": [None, {"hostPort": "80"}], "livenessProbe": {"httpGet": "x"}}]},
    {"volumes": [{"name": 1, 2: 3, "hostPath": "x"}], "hostNetwork": "yes"},
    {"securityContext": {"runAsUser": False, "runAsNonRoot": "true", "appArmorProfile": "x"}},
]


@pytest.mark.parametrize("spec", HOSTILE)
def test_malformed_pods_give_findings_or_nothing_never_an_exception(spec: Any) -> None:
    for level in ("baseline", "restricted"):
        for kind in kind_list().pods:
            obj, _ = in_pod_kind(kind, {"metadata": {"annotations": {"a": None}}, "spec": {}})
            if kind == "Pod":
                obj["spec"] = spec
            else:
                obj_template = obj
                for key in kind_list().pods[kind].path:
                    obj_template = obj_template[key]
                obj_template["spec"] = spec
            for violation in evaluate(obj, level):
                assert violation.path.startswith("$")
        workflow = _workflow({"templates": [{"name": "t", "container": spec}], "volumes": spec})
        evaluate(workflow, level)


# -- the level of each namespace, in a run -------------------------------------------------


def _resource(obj: dict[str, Any], rendered_from: str | None = None) -> Resource:
    return Resource(obj, "manifests.yaml", 0, 1, rendered_from=rendered_from)


def _namespace(name: str, **labels: str) -> dict[str, Any]:
    keys = {f"pod-security.kubernetes.io/{k.replace('_', '-')}": v for k, v in labels.items()}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": keys}}


def _pod(namespace: str | None, **spec: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "p"}
    if namespace:
        metadata["namespace"] = namespace
    container = {"name": "c", "image": "x:1", **spec.pop("container", {})}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": [container], **spec},
    }


def run_scopes(
    scopes: list[list[Resource]], level: str = "restricted", cluster: str = "1.33"
) -> list[tuple[str, str, str]]:
    """Findings of the Pod Security scope check over a run of *scopes* (name, rule, message)."""
    found: list[tuple[str, str, str]] = []

    def report(
        resource: Resource,
        severity: str,
        rule: str,
        message: str,
        parts: Any = (),
        hint: str | None = None,
    ) -> None:
        assert severity == "error" and hint
        found.append((resource.name, rule, message))

    options = ValidateOptions(
        repo_root=Path("."), kubernetes_version=cluster, pod_security_level=level
    )
    everything = [r for scope in scopes for r in scope]
    context = Context(options, None, lambda _: None, lambda _: True, everything)  # type: ignore[arg-type]
    for scope in scopes:
        check_scope(Scope(scope), context, report)
    return found


HOST_NETWORK = {"hostNetwork": True}


def test_the_namespace_label_of_the_same_render_decides() -> None:
    scopes = [
        [
            _resource(_namespace("apps", enforce="privileged")),
            _resource(_pod("apps", **HOST_NETWORK)),
        ],
        [
            _resource(_namespace("apps", enforce="baseline")),
            _resource(_pod("apps", **HOST_NETWORK)),
        ],
    ]
    found = run_scopes(scopes)
    assert [rule for _, rule, _ in found] == ["pod-security/hostNamespaces"]
    assert "Pod Security baseline:v1.33, namespace apps, Namespace apps" in found[0][2]


def test_namespace_elsewhere_in_the_run_then_the_default() -> None:
    scopes = [
        [_resource(_namespace("apps", enforce="baseline"))],
        [_resource(_pod("apps", container={"securityContext": {"runAsUser": 0}}))],
        [_resource(_pod("other", container={"securityContext": {"runAsUser": 0}}))],
    ]
    found = run_scopes(scopes)
    assert [(name, rule) for name, rule, _ in found if rule == "pod-security/runAsUser"] == [
        ("p", "pod-security/runAsUser")
    ]
    assert all("namespace other, the default" in message for _, _, message in found)
    assert run_scopes(scopes[1:], level="privileged") == []


def _application(namespace: str, path: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "training", "namespace": "argocd"},
        "spec": {
            "source": {"repoURL": "https://example.org/repo.git", "path": path},
            "destination": {"namespace": namespace},
            "syncPolicy": {
                "syncOptions": ["CreateNamespace=true"],
                "managedNamespaceMetadata": {"labels": labels},
            },
        },
    }


def test_argo_cd_managed_namespace_metadata_and_destination() -> None:
    app = _application("ml", "base/training", {"pod-security.kubernetes.io/enforce": "privileged"})
    rendered = _resource(_pod(None, **HOST_NETWORK), rendered_from="base/training")
    assert run_scopes([[_resource(app)], [rendered]]) == []
    # without CreateNamespace=true Argo CD does not label the namespace
    app["spec"]["syncPolicy"]["syncOptions"] = []
    found = run_scopes([[_resource(app)], [rendered]])
    assert {rule for _, rule, _ in found} >= {"pod-security/hostNamespaces"}
    assert "namespace ml, the default" in found[0][2]


def test_bad_labels_are_refused_and_read_as_admission_reads_them() -> None:
    namespace = _namespace("apps", enforce="Privileged", warn_version="1.30")
    found = run_scopes(
        [[_resource(namespace), _resource(_pod("apps", **HOST_NETWORK))]], level="privileged"
    )
    rules = [rule for _, rule, _ in found]
    assert rules.count("pod-security/labels") == 2
    assert "pod-security/hostNamespaces" in rules  # a bad enforce level counts as restricted
    assert any("restricted:v1.33" in message for _, _, message in found)
    app = _application("ml", "x", {"pod-security.kubernetes.io/audit": "strict"})
    (label,) = run_scopes([[_resource(app)]])
    assert label[1] == "pod-security/labels" and "managedNamespaceMetadata" in label[2]


def test_enforce_version_label_and_the_cluster_version_cap_the_policy() -> None:
    probe = {"livenessProbe": {"httpGet": {"host": "example.org", "port": 80}}}
    pod = _resource(_pod("apps", container=probe))
    labels = {"enforce": "baseline"}
    assert run_scopes([[_resource(_namespace("apps", **labels)), pod]], cluster="1.33") == []
    found = run_scopes([[_resource(_namespace("apps", **labels)), pod]], cluster="1.34")
    assert [rule for _, rule, _ in found] == ["pod-security/hostProbesAndHostLifecycle"]
    pinned = _namespace("apps", enforce="baseline", enforce_version="v1.33")
    assert run_scopes([[_resource(pinned), pod]], cluster="1.37") == []


# -- the command, end to end ---------------------------------------------------------------

TREE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: legacy
  labels:
    pod-security.kubernetes.io/enforce: baseline
---
apiVersion: v1
kind: ReplicationController
metadata:
  name: legacy-proxy
  namespace: legacy
spec:
  replicas: 1
  selector: {app: proxy}
  template:
    metadata:
      labels: {app: proxy}
    spec:
      hostNetwork: true
      containers:
        - name: proxy
          image: nginx:latest
          securityContext:
            privileged: true
---
apiVersion: v1
kind: Pod
metadata:
  name: worker
  namespace: jobs
spec:
  securityContext:
    runAsUser: 1000
  containers:
    - name: work
      image: busybox:1.36
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "manifests.yaml").write_text(TREE, encoding="utf-8")
    return tmp_path


def gitops(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    from tools.cli import main

    code = main(["validate", "--no-rule-tests", *args])
    out, err = capsys.readouterr()
    return code, out + err


@pytest.fixture(autouse=False)
def in_repo(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.support.paths import REPO_ROOT

    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.mark.usefixtures("in_repo")
def test_cli_json_names_rule_path_and_level(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = gitops(capsys, "--output", "json", str(tree))
    assert code == 1
    findings = [f for f in json.loads(out)["findings"] if f["rule"].startswith("pod-security/")]
    got = {(f["rule"], f["resource"]["name"], f["path"]) for f in findings}
    assert got == {
        ("pod-security/hostNamespaces", "legacy-proxy", "$.spec.template.spec.hostNetwork"),
        (
            "pod-security/privileged",
            "legacy-proxy",
            "$.spec.template.spec.containers[0].securityContext.privileged",
        ),
        *(
            (f"pod-security/{check}", "worker", f"$.spec.containers[0].securityContext.{field}")
            for check, field in [
                ("runAsNonRoot", "runAsNonRoot"),
                ("allowPrivilegeEscalation", "allowPrivilegeEscalation"),
                ("seccompProfile_restricted", "seccompProfile.type"),
                ("capabilities_restricted", "capabilities.drop"),
            ]
        ),
    }
    assert all(f["severity"] == "error" and f["line"] and f["hint"] for f in findings)
    rc = next(f for f in findings if f["rule"] == "pod-security/privileged")
    assert "baseline" in rc["message"] and "legacy" in rc["message"]
    lines = (tree / "manifests.yaml").read_text(encoding="utf-8").splitlines()
    assert "privileged: true" in lines[rc["line"] - 1]
    # the level comes from the labels: at the default level the RC is fine only if privileged
    code, out = gitops(capsys, "--output", "json", "--pod-security-level", "privileged", str(tree))
    rules = {f["rule"] for f in json.loads(out)["findings"]}
    assert "pod-security/privileged" in rules and "pod-security/runAsNonRoot" not in rules


@pytest.mark.usefixtures("in_repo")
def test_cli_sarif_reports_pod_security_as_errors(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = gitops(capsys, "--output", "sarif", str(tree))
    assert code == 1
    run = json.loads(out)["runs"][0]
    results = [r for r in run["results"] if r["ruleId"].startswith("pod-security/")]
    assert {r["ruleId"] for r in results} >= {
        "pod-security/privileged",
        "pod-security/runAsNonRoot",
    }
    assert {r["level"] for r in results} == {"error"}
    assert all("Pod Security " in r["message"]["text"] for r in results)
    rule_ids = {rule["id"] for rule in run["tool"]["driver"]["rules"]}
    assert "pod-security/hostNamespaces" in rule_ids


@pytest.mark.usefixtures("in_repo")
def test_cli_refuses_an_unknown_default_level(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = gitops(capsys, "--pod-security-version", "1.30", str(tree))
    assert code == 2
    assert "pod-security-version '1.30'" in out


def test_default_level_is_kubernetes_unless_configured(tmp_path: Path) -> None:
    from tests.support.paths import REPO_ROOT
    from tools.errors import UserError
    from tools.validate import load_options

    assert load_options(REPO_ROOT).pod_security_level == "restricted"
    assert load_options(tmp_path).pod_security_level == "privileged"
    assert load_options(tmp_path).pod_security_version == "latest"
    (tmp_path / "pyproject.toml").write_text(
        '[tool.gitops.validate]\npod-security-level = "strict"\n', encoding="utf-8"
    )
    with pytest.raises(UserError, match="pod-security-level 'strict'"):
        load_options(tmp_path)
