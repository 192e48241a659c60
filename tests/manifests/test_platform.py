"""What the rendered manifests promise: security, availability, release wiring, Argo CD order."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

Render = Callable[[str], tuple[dict[str, Any], ...]]
OVERLAYS = ["overlays/staging", "overlays/production"]
CLUSTERS = ["clusters/staging", "clusters/production"]
IMAGE = "ghcr.io/example-org/model-api"


def one(objects: tuple[dict[str, Any], ...], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


@pytest.mark.parametrize("root", [*OVERLAYS, *CLUSTERS, "clusters/staging/platform"])
def test_no_secret_is_kept_in_git(render: Render, root: str) -> None:
    assert [o["metadata"]["name"] for o in render(root) if o["kind"] == "Secret"] == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_namespace_enforces_restricted_pod_security(render: Render, overlay: str) -> None:
    namespace = one(render(overlay), "Namespace")
    assert namespace["metadata"]["name"] == f"model-api-{overlay.split('/')[1]}"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert {
        o["metadata"].get("namespace") for o in render(overlay) if o["kind"] != "Namespace"
    } == {namespace["metadata"]["name"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_restricted_and_tokenless(render: Render, overlay: str) -> None:
    objects = render(overlay)
    pod = one(objects, "Rollout")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert one(objects, "ServiceAccount", "model-api")["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (api,) = pod["containers"]
    assert api["name"] == "api"
    assert api["ports"] == [
        {"name": "http", "containerPort": 8000, "protocol": "TCP"},
        {"name": "grpc", "containerPort": 8081, "protocol": "TCP"},
    ]
    sc = api["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    mounts = {m["mountPath"]: m["name"] for m in api["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    # The workload's ServiceAccount is bound to nothing.
    bindings = [o for o in objects if o["kind"] == "RoleBinding"]
    assert all(s.get("kind") != "ServiceAccount" for b in bindings for s in b["subjects"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_and_resources(render: Render, overlay: str) -> None:
    (api,) = one(render(overlay), "Rollout")["spec"]["template"]["spec"]["containers"]
    assert api["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert api["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert api["startupProbe"]["httpGet"]["path"] == "/v2/health/live"
    for kind in ("requests", "limits"):
        assert set(api["resources"][kind]) == {"cpu", "memory"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_spread_over_zones_and_nodes(render: Render, overlay: str) -> None:
    pod = one(render(overlay), "Rollout")["spec"]["template"]["spec"]
    keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
    assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}


@pytest.mark.parametrize(("overlay", "bounds"), [(OVERLAYS[0], (2, 4)), (OVERLAYS[1], (3, 20))])
def test_autoscaling_and_disruption_budget(
    render: Render, overlay: str, bounds: tuple[int, int]
) -> None:
    objects = render(overlay)
    hpa = one(objects, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "name": "model-api",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == bounds
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300
    assert "replicas" not in one(objects, "Rollout")["spec"], "the HPA owns the replica count"
    pdb = one(objects, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1 and "minAvailable" not in pdb["spec"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies(render: Render, overlay: str) -> None:
    policies = {
        o["metadata"]["name"]: o["spec"] for o in render(overlay) if o["kind"] == "NetworkPolicy"
    }
    deny = policies.pop("default-deny")
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    # The ACME solver pod (certificate issuance) is reachable from ingress-nginx only.
    solver = policies.pop("allow-acme-http01-solver")
    assert solver["podSelector"] == {"matchLabels": {"acme.cert-manager.io/http01-solver": "true"}}
    assert [p["port"] for p in solver["ingress"][0]["ports"]] == [8089]
    sources = set()
    destinations = set()
    # Prometheus scrapes http; clients (through ingress-nginx) reach http and grpc.
    ports = {"allow-prometheus-scrape": ["http"], "allow-ingress-nginx": ["http", "grpc"]}
    for name, spec in policies.items():
        for rule in spec.get("ingress", []):
            assert [p["port"] for p in rule["ports"]] == ports[name]
            for peer in rule["from"]:
                sources.add(peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])
        for rule in spec.get("egress", []):
            for peer in rule["to"]:
                destinations.add(
                    peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                )
    assert sources == {"ingress-nginx", "monitoring"}
    assert destinations == {"kube-system", "mlflow", "observability"}


def test_image_references(render: Render) -> None:
    staging = one(render("overlays/staging"), "Rollout")["spec"]["template"]["spec"]["containers"][
        0
    ]["image"]
    production = one(render("overlays/production"), "Rollout")["spec"]["template"]["spec"][
        "containers"
    ][0]["image"]
    assert re.fullmatch(rf"{IMAGE}:[\w][\w.-]*", staging)
    assert re.fullmatch(rf"{IMAGE}@sha256:[0-9a-f]{{64}}", production)


@pytest.mark.parametrize(
    ("overlay", "issuer"),
    [(OVERLAYS[0], "letsencrypt-staging"), (OVERLAYS[1], "letsencrypt-production")],
)
def test_tls_ingress_and_certificate_agree(render: Render, overlay: str, issuer: str) -> None:
    objects = render(overlay)
    ingress = one(objects, "Ingress", "model-api")["spec"]
    certificate = one(objects, "Certificate")["spec"]
    host = ingress["rules"][0]["host"]
    assert ingress["tls"] == [{"hosts": [host], "secretName": certificate["secretName"]}]
    # gRPC: same host and certificate, its own path, cleartext gRPC to the pods' grpc port.
    grpc = one(objects, "Ingress", "model-api-grpc")
    assert grpc["spec"]["tls"] == ingress["tls"]
    assert grpc["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
    (path,) = grpc["spec"]["rules"][0]["http"]["paths"]
    assert grpc["spec"]["rules"][0]["host"] == host
    assert path["path"] == "/inference.GRPCInferenceService"
    assert path["backend"]["service"] == {"name": "model-api", "port": {"name": "grpc"}}
    assert certificate["dnsNames"] == [host]
    assert certificate["issuerRef"] == {
        "group": "cert-manager.io",
        "kind": "ClusterIssuer",
        "name": issuer,
    }
    assert ingress["ingressClassName"] == "nginx"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_come_from_vault(render: Render, overlay: str) -> None:
    env = overlay.split("/")[1]
    externals = [o for o in render(overlay) if o["kind"] == "ExternalSecret"]
    assert {o["spec"]["target"]["name"] for o in externals} == {
        "model-api-token",
        "model-api-mlflow",
        "model-api-feedback-store",
    }
    for obj in externals:
        assert obj["apiVersion"] == "external-secrets.io/v1"
        assert obj["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "vault"}
        assert all(
            d["remoteRef"]["key"].startswith(f"model-api/{env}/") for d in obj["spec"]["data"]
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_metrics_carry_the_pod_template_hash(render: Render, overlay: str) -> None:
    monitor = one(render(overlay), "ServiceMonitor")["spec"]
    assert monitor["podTargetLabels"] == ["rollouts-pod-template-hash"]
    assert monitor["endpoints"][0]["port"] == "http"
    assert monitor["endpoints"][0]["path"] == "/metrics"


def _applications(render: Render, cluster: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in render(cluster) if o["kind"] == "Application"}


def _wave(app: dict[str, Any]) -> int:
    return int(app["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_sync_waves_put_controllers_before_their_users(render: Render, cluster: str) -> None:
    apps = _applications(render, cluster)
    env = cluster.split("/")[1]
    controllers = [
        "argo-rollouts",
        "kube-prometheus-stack",
        "cert-manager",
        "external-secrets",
        "eck-operator",
    ]
    for controller in controllers:
        assert (
            _wave(apps[controller]) < _wave(apps["ingress-nginx"]) < _wave(apps["platform-config"])
        )
    assert _wave(apps["platform-config"]) < _wave(apps["mlflow-postgresql"]) < _wave(apps["mlflow"])
    assert _wave(apps["mlflow"]) < _wave(apps[f"model-api-{env}"])
    other_env = "production" if env == "staging" else "staging"
    assert f"model-api-{other_env}" not in apps


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_addon_charts_are_pinned(render: Render, cluster: str) -> None:
    charts = {
        name: app["spec"]["source"]
        for name, app in _applications(render, cluster).items()
        if "chart" in app["spec"].get("source", {})
    }
    assert {
        "argo-rollouts",
        "kube-prometheus-stack",
        "ingress-nginx",
        "cert-manager",
        "external-secrets",
        "velero",
        "mlflow",
        "mlflow-postgresql",
        "eck-operator",
        "opentelemetry-collector",
        "jaeger",
    } <= set(charts)
    for name, source in charts.items():
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", source["targetRevision"]), (
            f"{name}: {source['targetRevision']}"
        )


def test_staging_syncs_itself_production_waits_for_a_human(render: Render) -> None:
    staging = _applications(render, "clusters/staging")["model-api-staging"]["spec"]
    production = _applications(render, "clusters/production")["model-api-production"]["spec"]
    assert staging["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert "automated" not in production["syncPolicy"]
    assert production["source"]["path"] == "overlays/production"


def test_model_api_project_is_restricted(render: Render) -> None:
    project = one(render("apps"), "AppProject", "model-api")["spec"]
    assert project["sourceRepos"] == ["https://github.com/example-org/mlops-gitops.git"]
    assert {d["namespace"] for d in project["destinations"]} == {
        "model-api-staging",
        "model-api-production",
    }
    assert project["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]
    kinds = {k["kind"] for k in project["namespaceResourceWhitelist"]}
    assert "Secret" not in kinds and "*" not in kinds
    rendered = {o["kind"] for o in render("overlays/production") if o["kind"] != "Namespace"}
    assert rendered <= kinds, f"the overlay renders kinds the project refuses: {rendered - kinds}"
    assert any(
        w["kind"] == "allow" and "model-api-production" in w["applications"]
        for w in project["syncWindows"]
    )


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_daily_backup_of_the_environment(render: Render, cluster: str) -> None:
    schedule = one(render(f"{cluster}/platform"), "Schedule", "daily")
    assert re.fullmatch(r"\d+ \d+ \* \* \*", schedule["spec"]["schedule"])
    assert schedule["spec"]["template"]["ttl"] == "720h0m0s"
    namespaces = schedule["spec"]["template"]["includedNamespaces"]
    assert f"model-api-{cluster.split('/')[1]}" in namespaces and "mlflow" in namespaces


def test_cluster_issuers_for_both_lets_encrypt_endpoints(render: Render) -> None:
    issuers = {
        o["metadata"]["name"]: o for o in render("base/platform") if o["kind"] == "ClusterIssuer"
    }
    assert "acme-staging-v02" in issuers["letsencrypt-staging"]["spec"]["acme"]["server"]
    assert (
        issuers["letsencrypt-production"]["spec"]["acme"]["server"]
        == "https://acme-v02.api.letsencrypt.org/directory"
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_grpc_port_is_served_routed_and_allowed(render: Render, overlay: str) -> None:
    objects = render(overlay)
    rollout = one(objects, "Rollout")["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in rollout["ports"]}
    env = {e["name"]: e.get("value") for e in rollout["env"]}
    assert ports == {"http": 8000, "grpc": 8081}
    assert env["MODEL_API_GRPC_PORT"] == str(ports["grpc"])
    assert env["MODEL_API_PORT"] == str(ports["http"])
    # The probes stay on http: its readiness covers the gRPC listener too (same data plane).
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert rollout[probe]["httpGet"]["port"] == "http"
    for name in ("model-api", "model-api-canary"):
        service = {p["name"]: p for p in one(objects, "Service", name)["spec"]["ports"]}
        assert service["grpc"]["targetPort"] == "grpc"
        assert service["grpc"]["appProtocol"] == "kubernetes.io/h2c"
    allowed = one(objects, "NetworkPolicy", "allow-ingress-nginx")["spec"]["ingress"][0]["ports"]
    assert {"port": "grpc", "protocol": "TCP"} in allowed
