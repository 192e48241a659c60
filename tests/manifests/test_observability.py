"""Logs and traces: what the rendered clusters promise about ELK, Filebeat, collector, Jaeger.

The production cluster is rendered with real kustomize (its Applications and its platform
configuration); the collector's and Jaeger's configurations are the Helm values in their
Applications, parsed here because neither binary runs in the tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.paths import REPO_ROOT

Render = Callable[[str], tuple[dict[str, Any], ...]]
CLUSTERS = ["clusters/staging", "clusters/production"]
KINDS = ("receivers", "processors", "exporters")
# Components the chart's presets add to the collector configuration, by preset.
PRESET_PROCESSORS = {"kubernetesAttributes": "k8sattributes"}
API_ROUTE_FIELDS = ("trace_id", "span_id", "request_id", "route", "status")


def one(objects: tuple[dict[str, Any], ...], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


def cluster(render: Render, name: str) -> tuple[dict[str, Any], ...]:
    """Everything Argo CD applies for cluster ``name``: its Applications and platform config."""
    return render(f"clusters/{name}") + render(f"clusters/{name}/platform")


def application(objects: tuple[dict[str, Any], ...], name: str) -> dict[str, Any]:
    return one(objects, "Application", name)


def values(objects: tuple[dict[str, Any], ...], name: str) -> dict[str, Any]:
    found: dict[str, Any] = application(objects, name)["spec"]["source"]["helm"]["valuesObject"]
    return found


def wave(app: dict[str, Any]) -> int:
    return int(app["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))


def undefined_components(config: dict[str, Any], preset_defined: set[str]) -> list[str]:
    """``pipeline: kind name`` for every component a pipeline names that the config lacks."""
    missing = []
    pipelines = config["service"]["pipelines"]
    assert pipelines, "no pipelines"
    for pipeline, spec in pipelines.items():
        assert spec["receivers"] and spec["exporters"], f"{pipeline}: empty pipeline"
        for kind in KINDS:
            defined = set(config.get(kind) or {}) | (
                preset_defined if kind == "processors" else set()
            )
            missing += [f"{pipeline}: {kind} {n}" for n in spec.get(kind, []) if n not in defined]
    for extension in config["service"].get("extensions", []):
        if extension not in (config.get("extensions") or {}):
            missing.append(f"service: extension {extension}")
    return missing


def collector_config(objects: tuple[dict[str, Any], ...]) -> tuple[dict[str, Any], set[str]]:
    chart = values(objects, "opentelemetry-collector")
    presets = {p for p, v in chart.get("presets", {}).items() if v.get("enabled")}
    # alternateConfig replaces the chart's default config (nothing merged in but presets).
    assert chart["alternateConfig"], "the collector config must be complete in the Application"
    return chart["alternateConfig"], {PRESET_PROCESSORS[p] for p in presets}


@pytest.mark.parametrize("name", ["staging", "production"])
def test_collector_pipelines_name_only_defined_components(render: Render, name: str) -> None:
    config, preset_defined = collector_config(cluster(render, name))
    assert undefined_components(config, preset_defined) == []
    assert set(config["service"]["pipelines"]) == {"traces"}
    traces = config["service"]["pipelines"]["traces"]
    # memory_limiter first (refuse before running out), batch last (after sampling).
    assert traces["processors"][0] == "memory_limiter"
    assert traces["processors"][-1] == "batch"
    assert traces["processors"].index("tail_sampling") < traces["processors"].index("batch")


def test_the_checker_finds_an_undefined_component() -> None:
    config = {
        "receivers": {"otlp": {}},
        "exporters": {"otlp/jaeger": {}},
        "service": {
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["batch"],
                    "exporters": ["otlp/jaeger", "debug"],
                }
            }
        },
    }
    assert undefined_components(config, set()) == [
        "traces: processors batch",
        "traces: exporters debug",
    ]


def test_collector_samples_errors_slow_and_a_share_of_the_rest(render: Render) -> None:
    config, _ = collector_config(cluster(render, "production"))
    sampling = config["processors"]["tail_sampling"]
    policies = {p["name"]: p for p in sampling["policies"]}
    assert {p["type"] for p in policies.values()} >= {"status_code", "latency", "and"}
    errors = next(p for p in policies.values() if p["type"] == "status_code")
    assert errors["status_code"]["status_codes"] == ["ERROR"]
    slow = next(p for p in policies.values() if p["type"] == "latency")
    assert slow["latency"]["threshold_ms"] == 500  # the p95 < 500 ms objective
    (rest,) = [p for p in policies.values() if p["type"] == "and"]
    sub = {p["type"]: p for p in rest["and"]["and_sub_policy"]}
    assert 0 < sub["probabilistic"]["probabilistic"]["sampling_percentage"] <= 10
    skipped = sub["string_attribute"]["string_attribute"]
    assert skipped["key"] == "http.route" and skipped["invert_match"] is True
    assert {"/metrics", "/v2/health/ready", "/v2/health/live"} <= set(skipped["values"])
    # 20 pods at 100 req/s for decision_wait seconds must fit in num_traces.
    wait = int(sampling["decision_wait"].removesuffix("s"))
    assert 20 * 100 * wait <= sampling["num_traces"]


def test_collector_exports_traces_to_jaeger(render: Render) -> None:
    objects = cluster(render, "production")
    config, _ = collector_config(objects)
    (exporter,) = config["service"]["pipelines"]["traces"]["exporters"]
    assert exporter.split("/")[0] == "otlp"  # OTLP/gRPC
    endpoint = config["exporters"][exporter]["endpoint"]
    jaeger_app = application(objects, "jaeger")
    jaeger = values(objects, "jaeger")
    service = f"{jaeger['fullnameOverride']}.{jaeger_app['spec']['destination']['namespace']}.svc"
    grpc = jaeger["userconfig"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert endpoint == f"{service}:{grpc.rsplit(':', 1)[1]}"
    collector = application(objects, "opentelemetry-collector")
    assert wave(jaeger_app) <= wave(collector)


def test_jaeger_is_v2_with_persistent_storage(render: Render) -> None:
    objects = cluster(render, "production")
    jaeger = values(objects, "jaeger")
    config = jaeger["userconfig"]
    assert undefined_components(config, set()) == []
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["jaeger_storage_exporter"]
    store = config["exporters"]["jaeger_storage_exporter"]["trace_storage"]
    assert config["extensions"]["jaeger_query"]["storage"]["traces"] == store
    badger = config["extensions"]["jaeger_storage"]["backends"][store]["badger"]
    assert badger["ephemeral"] is False
    mounts = {m["mountPath"]: m["name"] for m in jaeger["jaeger"]["extraVolumeMounts"]}
    for directory in badger["directories"].values():
        mount = next(path for path in mounts if directory.startswith(path + "/"))
        volume = next(v for v in jaeger["jaeger"]["extraVolumes"] if v["name"] == mounts[mount])
        claim = volume["persistentVolumeClaim"]["claimName"]
        assert any(o["metadata"]["name"] == claim for o in jaeger["extraObjects"])
    # The chart's probes ask :13133/status, which healthcheckv2 serves.
    assert config["extensions"]["healthcheckv2"]["http"]["endpoint"].endswith(":13133")
    pod = jaeger["jaeger"]["podSecurityContext"]
    assert pod["runAsNonRoot"] is True and pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert jaeger["jaeger"]["securityContext"]["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.parametrize("name", ["staging", "production"])
def test_logging_addons_are_pinned_and_ordered(render: Render, name: str) -> None:
    objects = cluster(render, name)
    for app in ("eck-operator", "jaeger", "opentelemetry-collector"):
        source = application(objects, app)["spec"]["source"]
        assert re.fullmatch(r"\d+\.\d+\.\d+", source["targetRevision"]), app
    operator = application(objects, "eck-operator")
    assert values(objects, "eck-operator")["installCRDs"] is True
    # The operator and its CRDs before the Elasticsearch/Kibana/Beat objects of platform-config.
    assert wave(operator) < wave(application(objects, "platform-config"))
    managed = set(values(objects, "eck-operator")["managedNamespaces"])
    elastic = [o for o in objects if o["apiVersion"].split("/")[0].endswith(".k8s.elastic.co")]
    assert {o["metadata"]["namespace"] for o in elastic} <= managed
    project = one(objects, "AppProject", "platform")["spec"]
    destinations = {d["namespace"] for d in project["destinations"]}
    assert managed | {"elastic-system", "observability"} <= destinations
    for app in ("eck-operator", "jaeger"):
        assert application(objects, app)["spec"]["source"]["repoURL"] in project["sourceRepos"]


@pytest.mark.parametrize(("name", "nodes"), [("staging", 1), ("production", 3)])
def test_elasticsearch_kibana_and_filebeat_are_wired(render: Render, name: str, nodes: int) -> None:
    objects = cluster(render, name)
    es = one(objects, "Elasticsearch")
    kibana = one(objects, "Kibana")
    beat = one(objects, "Beat")
    (node_set,) = es["spec"]["nodeSets"]
    assert node_set["count"] == nodes
    assert ("zoneAwareness" in node_set) is (nodes > 1)
    # TLS stays on: ECK's self-signed certificate is not disabled.
    assert es["spec"].get("http", {}).get("tls", {}).get("selfSignedCertificate", {}) in (
        {},
        {"disabled": False},
    )
    assert es["spec"]["version"] == kibana["spec"]["version"] == beat["spec"]["version"]
    ref = {"name": es["metadata"]["name"]}
    assert kibana["spec"]["elasticsearchRef"] == ref
    assert kibana["metadata"]["namespace"] == es["metadata"]["namespace"]
    assert beat["spec"]["type"] == "filebeat"
    assert beat["spec"]["elasticsearchRef"] == {**ref, "namespace": es["metadata"]["namespace"]}
    assert "daemonSet" in beat["spec"] and "deployment" not in beat["spec"]
    # No credentials in git: only the operator's and External Secrets' Secrets.
    assert [o for o in objects if o["kind"] == "Secret"] == []
    realm = {r["secretName"] for r in es["spec"]["auth"]["fileRealm"]}
    externals = {o["spec"]["target"]["name"]: o for o in objects if o["kind"] == "ExternalSecret"}
    assert realm <= set(externals)
    for secret in realm:
        target = externals[secret]["spec"]["target"]
        assert target["template"]["type"] == "kubernetes.io/basic-auth"
        assert target["template"]["data"]["roles"] == "viewer"  # read-only


def _api_template(beat: dict[str, Any]) -> dict[str, Any]:
    (provider,) = beat["spec"]["config"]["filebeat.autodiscover"]["providers"]
    (api,) = [
        t
        for t in provider["templates"]
        if any("ndjson" in parser for config in t["config"] for parser in config.get("parsers", []))
    ]
    return api


def test_filebeat_parses_the_api_json_lines_into_their_own_data_stream(render: Render) -> None:
    objects = cluster(render, "production")
    beat = one(objects, "Beat")
    api = _api_template(beat)
    conditions = api["condition"]["and"]
    assert {"equals": {"kubernetes.container.name": "api"}} in conditions
    (namespaces,) = [c["regexp"]["kubernetes.namespace"] for c in conditions if "regexp" in c]
    assert re.match(namespaces, "model-api-production") and re.match(
        namespaces, "model-api-staging"
    )
    assert not re.match(namespaces, "logging")
    (config,) = api["config"]
    parsers = config["parsers"]
    assert list(parsers[0]) == ["container"]  # CRI line first, then the JSON inside it
    ndjson = parsers[1]["ndjson"]
    assert ndjson["target"] == "" and ndjson["add_error_key"] is True
    # The other template catches every other container, unparsed, elsewhere.
    (provider,) = beat["spec"]["config"]["filebeat.autodiscover"]["providers"]
    (other,) = [t for t in provider["templates"] if t is not api]
    assert other["condition"] == {"not": api["condition"]}
    index = config["index"]
    setup = beat["spec"]["config"]
    default_index = setup["output.elasticsearch"]["index"]
    pattern = setup["setup.template.pattern"].replace("%{[agent.version]}", "9.4.3")
    for stream in (index, default_index):
        concrete = stream.replace("%{[agent.version]}", "9.4.3")
        assert re.fullmatch(pattern.replace(".", r"\.").replace("*", ".*"), concrete)
    assert index != default_index
    # Kibana's data view and Grafana's datasource read exactly the API's data stream.
    data_view = json.loads((REPO_ROOT / "base/logging/data-view-model-api-logs.json").read_text())
    title = data_view["data_view"]["title"]
    concrete = index.replace("%{[agent.version]}", "9.4.3")
    assert re.fullmatch(title.replace(".", r"\.").replace("*", ".*"), concrete)
    assert not re.fullmatch(
        title.replace("*", ".*"), default_index.replace("%{[agent.version]}", "9.4.3")
    )
    grafana = values(objects, "kube-prometheus-stack")["grafana"]
    sources = {d["uid"]: d for d in grafana["additionalDataSources"]}
    assert sources["elasticsearch-logs"]["jsonData"]["index"] == title


def test_logs_are_kept_thirty_days(render: Render) -> None:
    objects = cluster(render, "production")
    setup = one(objects, "Beat")["spec"]["config"]
    assert setup["setup.ilm.enabled"] is True and setup["setup.ilm.overwrite"] is True
    policy_file = setup["setup.ilm.policy_file"]
    pod = one(objects, "Beat")["spec"]["daemonSet"]["podTemplate"]["spec"]
    (mount,) = [
        m
        for m in pod["containers"][0]["volumeMounts"]
        if policy_file.startswith(m["mountPath"] + "/")
    ]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    configmap = one(objects, "ConfigMap", volume["configMap"]["name"])
    policy = json.loads(configmap["data"][policy_file.rsplit("/", 1)[1]])["policy"]["phases"]
    assert list(policy) == ["hot", "delete"]
    assert "rollover" in policy["hot"]["actions"]
    assert policy["delete"]["min_age"] == "30d" and "delete" in policy["delete"]["actions"]


def test_grafana_links_traces_and_logs_by_trace_id(render: Render) -> None:
    objects = cluster(render, "production")
    grafana = values(objects, "kube-prometheus-stack")["grafana"]
    sources = {d["uid"]: d for d in grafana["additionalDataSources"]}
    jaeger, logs = sources["jaeger"], sources["elasticsearch-logs"]
    jaeger_values = values(objects, "jaeger")
    assert jaeger["url"] == f"http://{jaeger_values['fullnameOverride']}.observability.svc:16686"
    to_logs = jaeger["jsonData"]["tracesToLogsV2"]
    assert to_logs["datasourceUid"] == "elasticsearch-logs"
    assert to_logs["query"] == 'trace_id:"${__trace.traceId}"'
    (link,) = logs["jsonData"]["dataLinks"]
    assert (link["field"], link["datasourceUid"]) == ("trace_id", "jaeger")
    es = one(objects, "Elasticsearch")
    assert logs["url"] == f"https://{es['metadata']['name']}-es-http.logging.svc:9200"
    # Password and CA are files from Secrets that ExternalSecrets make in monitoring.
    mounts = {m["mountPath"]: m["secretName"] for m in grafana["extraSecretMounts"]}
    externals = {
        o["spec"]["target"]["name"]
        for o in objects
        if o["kind"] == "ExternalSecret" and o["metadata"]["namespace"] == "monitoring"
    }
    for value in logs["secureJsonData"].values():
        (path,) = re.findall(r"\$__file\{(.+)\}", value)
        directory = path.rsplit("/", 1)[0]
        assert mounts[directory] in externals


def _allows(
    policy: dict[str, Any], direction: str, namespace: str, label: tuple[str, str]
) -> set[int]:
    ports = set()
    key = "from" if direction == "ingress" else "to"
    for rule in policy["spec"].get(direction, []):
        for peer in rule.get(key, []):
            peer_ns = (
                peer.get("namespaceSelector", {})
                .get("matchLabels", {})
                .get("kubernetes.io/metadata.name", policy["metadata"]["namespace"])
            )
            labels = peer.get("podSelector", {}).get("matchLabels", {})
            if peer_ns == namespace and labels.get(label[0]) == label[1]:
                ports |= {p["port"] for p in rule["ports"]}
    return ports


def test_network_policies_let_logs_flow_and_nothing_else(render: Render) -> None:
    objects = cluster(render, "production")
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    for namespace in ("logging", "log-shipper"):
        deny = one(
            tuple(p for p in policies if p["metadata"]["namespace"] == namespace),
            "NetworkPolicy",
            "default-deny",
        )
        assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    es = one(objects, "Elasticsearch")["metadata"]["name"]
    es_label = ("elasticsearch.k8s.elastic.co/cluster-name", es)
    beat_label = ("beat.k8s.elastic.co/name", one(objects, "Beat")["metadata"]["name"])
    kibana_label = ("kibana.k8s.elastic.co/name", one(objects, "Kibana")["metadata"]["name"])

    def selects(policy: dict[str, Any], label: tuple[str, str]) -> bool:
        return policy["spec"]["podSelector"].get("matchLabels", {}).get(label[0]) == label[1]

    shipper_out = set().union(
        *(_allows(p, "egress", "logging", es_label) for p in policies if selects(p, beat_label))
    )
    es_in_from_beat = set().union(
        *(
            _allows(p, "ingress", "log-shipper", beat_label)
            for p in policies
            if selects(p, es_label)
        )
    )
    assert shipper_out == es_in_from_beat == {9200}
    es_in_from_kibana = set().union(
        *(_allows(p, "ingress", "logging", kibana_label) for p in policies if selects(p, es_label))
    )
    assert es_in_from_kibana == {9200}
    grafana = ("app.kubernetes.io/name", "grafana")
    assert set().union(
        *(_allows(p, "ingress", "monitoring", grafana) for p in policies if selects(p, es_label))
    ) == {9200}
    # Nothing may connect to Filebeat.
    assert not [p for p in policies if selects(p, beat_label) and p["spec"].get("ingress")]


def test_only_the_shipper_namespace_is_exempt_from_restricted(render: Render) -> None:
    objects = cluster(render, "production")
    namespaces = {o["metadata"]["name"]: o["metadata"] for o in objects if o["kind"] == "Namespace"}
    label = "pod-security.kubernetes.io/enforce"
    assert namespaces["logging"]["labels"][label] == "restricted"
    shipper = namespaces["log-shipper"]
    assert shipper["labels"][label] == "privileged"
    assert shipper["annotations"]["policy.gitops.example.org/exempt"] == "namespace_pod_security"
    # Nothing but Filebeat runs there, and it runs as tight as reading host files allows.
    workloads = {
        o["kind"]
        for o in objects
        if o["metadata"].get("namespace") == "log-shipper"
        and o["kind"] in {"Beat", "Deployment", "DaemonSet", "StatefulSet", "Job", "CronJob", "Pod"}
    }
    assert workloads == {"Beat"}
    pod = one(objects, "Beat")["spec"]["daemonSet"]["podTemplate"]["spec"]
    assert pod.get("hostNetwork") in (None, False) and not pod.get("hostPID")
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    host_paths = {v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    assert host_paths == {"/var/log/containers", "/var/log/pods"}
    assert all(m.get("readOnly") for m in container["volumeMounts"])
