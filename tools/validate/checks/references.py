"""Checks across objects: does every name an object points at exist, and fit?

Objects are checked within their *scope*: everything one kustomization renders, or all plain
manifest files of the run together.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tools.validate.checks.base import Context, Report
from tools.validate.checks.scope import Scope
from tools.validate.checks.workloads import (
    containers,
    dig,
    labels_of,
    pod_template,
    selector_matches,
)
from tools.validate.findings import Resource

ARG_USE = re.compile(r"\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}")


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _defined(scope: Scope, kind: str, name: str, namespace: str | None) -> bool:
    """Whether a Secret (from any provider) or a ConfigMap ``name`` exists in ``namespace``."""
    if kind == "Secret":
        return name in scope.secret_providers(namespace)
    return scope.find("ConfigMap", name, namespace) is not None


def check_duplicates(scope: Scope, context: Context, report: Report) -> None:
    seen: dict[tuple[str, str, str | None, str], Resource] = {}
    for resource in scope.resources:
        key = (resource.group, resource.kind, resource.namespace, resource.name)
        first = seen.get(key)
        if first is None:
            seen[key] = resource
            continue
        report(
            resource,
            "error",
            "duplicate-object",
            f"{resource.ref} is defined twice (also in {Path(first.origin or first.file).name})",
            ("metadata", "name"),
        )


def check_services(scope: Scope, context: Context, report: Report) -> None:
    for service in scope.by_kind.get("Service", []):
        selector = dig(service.obj, "spec", "selector")
        if not isinstance(selector, dict) or not selector:
            continue
        pods = scope.matching_templates(selector, service.namespace)
        if not pods:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(selector.items()))
            report(
                service,
                "error",
                "ref-service-selector",
                f"Service {service.name}: selector {{{shown}}} matches no pod template",
                ("spec", "selector"),
            )
            continue
        ports = dig(service.obj, "spec", "ports") or []
        for index, port in enumerate(ports if isinstance(ports, list) else []):
            target = port.get("targetPort") if isinstance(port, dict) else None
            if not isinstance(target, str):
                continue
            names = {
                p.get("name")
                for _, template in pods
                for container, _ in containers(template)
                for p in container.get("ports") or []
                if isinstance(p, dict)
            }
            if target not in names:
                report(
                    service,
                    "error",
                    "ref-port-name",
                    f"Service {service.name}: targetPort {target!r} is not a container port "
                    "name of the selected pods "
                    f"(have: {', '.join(sorted(map(str, names))) or 'none'})",
                    ("spec", "ports", index, "targetPort"),
                )


def _analysis_refs(obj: dict[str, Any]) -> Iterable[tuple[dict[str, Any], tuple[str | int, ...]]]:
    """Every `analysis`-like block (templates + args) in a Rollout with its path."""
    strategy = dig(obj, "spec", "strategy") or {}
    canary = strategy.get("canary") if isinstance(strategy, dict) else None
    if isinstance(canary, dict):
        if isinstance(canary.get("analysis"), dict):
            yield canary["analysis"], ("spec", "strategy", "canary", "analysis")
        for index, step in enumerate(canary.get("steps") or []):
            if isinstance(step, dict) and isinstance(step.get("analysis"), dict):
                yield step["analysis"], ("spec", "strategy", "canary", "steps", index, "analysis")
    blue_green = strategy.get("blueGreen") if isinstance(strategy, dict) else None
    if isinstance(blue_green, dict):
        for key in ("prePromotionAnalysis", "postPromotionAnalysis"):
            if isinstance(blue_green.get(key), dict):
                yield blue_green[key], ("spec", "strategy", "blueGreen", key)


def check_rollouts(scope: Scope, context: Context, report: Report) -> None:
    for rollout in scope.by_kind.get("Rollout", []):
        strategy = dig(rollout.obj, "spec", "strategy") or {}
        for kind_key, fields in (
            ("canary", ("canaryService", "stableService")),
            ("blueGreen", ("activeService", "previewService")),
        ):
            block = strategy.get(kind_key) if isinstance(strategy, dict) else None
            if not isinstance(block, dict):
                continue
            for key in fields:
                name = block.get(key)
                if isinstance(name, str) and not scope.find("Service", name, rollout.namespace):
                    report(
                        rollout,
                        "error",
                        "ref-rollout-service",
                        f"Rollout {rollout.name}: {key} {name!r} does not exist",
                        ("spec", "strategy", kind_key, key),
                    )
            # nginx names its Ingress once (stableIngress) or as a list (stableIngresses).
            nginx = dig(block, "trafficRouting", "nginx")
            if isinstance(nginx, dict):
                base: tuple[str | int, ...] = ("spec", "strategy", kind_key, "trafficRouting")
                several = nginx.get("stableIngresses")
                named: list[tuple[str, object, tuple[str | int, ...]]] = [
                    ("stableIngress", nginx.get("stableIngress"), (*base, "nginx", "stableIngress"))
                ]
                if isinstance(several, list):
                    named += [
                        ("stableIngresses", name, (*base, "nginx", "stableIngresses", index))
                        for index, name in enumerate(several)
                    ]
                for key, name, ingress_path in named:
                    if isinstance(name, str) and not scope.find("Ingress", name, rollout.namespace):
                        report(
                            rollout,
                            "error",
                            "ref-rollout-service",
                            f"Rollout {rollout.name}: {key} {name!r} does not exist",
                            ingress_path,
                        )
        for analysis, path in _analysis_refs(rollout.obj):
            supplied = {a.get("name") for a in analysis.get("args") or [] if isinstance(a, dict)}
            for index, ref in enumerate(analysis.get("templates") or []):
                if not isinstance(ref, dict) or not isinstance(ref.get("templateName"), str):
                    continue
                name = ref["templateName"]
                kind = "ClusterAnalysisTemplate" if ref.get("clusterScope") else "AnalysisTemplate"
                template = scope.find(kind, name, rollout.namespace)
                where = (*path, "templates", index, "templateName")
                if template is None:
                    report(
                        rollout,
                        "error",
                        "ref-analysis-template",
                        f"Rollout {rollout.name}: {kind} {name!r} does not exist",
                        where,
                    )
                    continue
                for arg in dig(template.obj, "spec", "args") or []:
                    if not isinstance(arg, dict) or "value" in arg or "valueFrom" in arg:
                        continue
                    if arg.get("name") not in supplied:
                        report(
                            rollout,
                            "error",
                            "ref-analysis-args",
                            f"Rollout {rollout.name}: {kind} {name} needs arg "
                            f"{arg.get('name')!r}, which the Rollout does not pass",
                            (*path, "args") if "args" in analysis else where,
                        )


def check_analysis_templates(scope: Scope, context: Context, report: Report) -> None:
    for kind in ("AnalysisTemplate", "ClusterAnalysisTemplate"):
        for template in scope.by_kind.get(kind, []):
            declared = {
                a.get("name")
                for a in dig(template.obj, "spec", "args") or []
                if isinstance(a, dict)
            }
            for index, metric in enumerate(dig(template.obj, "spec", "metrics") or []):
                used = set(ARG_USE.findall(repr(metric)))
                for name in sorted(used - declared):
                    report(
                        template,
                        "error",
                        "ref-analysis-args",
                        f"{kind} {template.name}: metric uses {{{{args.{name}}}}} but spec.args "
                        f"does not declare {name!r}",
                        ("spec", "metrics", index),
                    )


def check_scaling(scope: Scope, context: Context, report: Report) -> None:
    for hpa in scope.by_kind.get("HorizontalPodAutoscaler", []):
        target = dig(hpa.obj, "spec", "scaleTargetRef")
        if not isinstance(target, dict):
            continue
        kind, name = target.get("kind"), target.get("name")
        missing = isinstance(kind, str) and isinstance(name, str)
        if missing and scope.find(str(kind), str(name), hpa.namespace) is None:
            report(
                hpa,
                "error",
                "ref-scale-target",
                f"HorizontalPodAutoscaler {hpa.name}: scaleTargetRef {kind} {name!r} "
                "does not exist",
                ("spec", "scaleTargetRef"),
            )
    for pdb in scope.by_kind.get("PodDisruptionBudget", []):
        selector = dig(pdb.obj, "spec", "selector")
        if not scope.matching_templates(selector, pdb.namespace):
            report(
                pdb,
                "error",
                "ref-pdb-selector",
                f"PodDisruptionBudget {pdb.name}: selector matches no pod template",
                ("spec", "selector"),
            )


def check_pods(scope: Scope, context: Context, report: Report) -> None:
    for resource in scope.resources:
        found = pod_template(resource.obj)
        if found is None:
            continue
        template, base = found
        namespace = resource.namespace
        # (kind, name, path, "volume 'x'" or None) of each required ConfigMap/Secret reference
        refs: list[tuple[str, Any, tuple[str | int, ...], str | None]] = []
        for container, path in containers(template, base):
            port_names = {
                p.get("name") for p in container.get("ports") or [] if isinstance(p, dict)
            }
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                for handler in ("httpGet", "tcpSocket", "grpc"):
                    port = dig(container, probe, handler, "port")
                    if isinstance(port, str) and port not in port_names:
                        report(
                            resource,
                            "error",
                            "ref-port-name",
                            f"{resource.kind} {resource.name}: container "
                            f"{container.get('name')!r} {probe} uses port {port!r}, which is "
                            "not one of its port names",
                            (*path, probe, handler, "port"),
                        )
            for index, source in enumerate(container.get("envFrom") or []):
                if not isinstance(source, dict):
                    continue
                for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    ref = source.get(key)
                    if isinstance(ref, dict) and not ref.get("optional"):
                        refs.append((kind, ref.get("name"), (*path, "envFrom", index, key), None))
            for index, env in enumerate(container.get("env") or []):
                value_from = env.get("valueFrom") if isinstance(env, dict) else None
                if not isinstance(value_from, dict):
                    continue
                for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    ref = value_from.get(key)
                    if isinstance(ref, dict) and not ref.get("optional"):
                        where = (*path, "env", index, "valueFrom", key)
                        refs.append((kind, ref.get("name"), where, None))
        spec = _mapping(template.get("spec"))
        for index, volume in enumerate(spec.get("volumes") or []):
            if not isinstance(volume, dict):
                continue
            for key, kind, name_key in (
                ("configMap", "ConfigMap", "name"),
                ("secret", "Secret", "secretName"),
            ):
                ref = volume.get(key)
                if isinstance(ref, dict) and not ref.get("optional"):
                    where = (*base, "spec", "volumes", index, key, name_key)
                    label = f"volume {volume.get('name')!r}"
                    refs.append((kind, ref.get(name_key), where, label))
        for kind, name, where, via in refs:
            if not isinstance(name, str) or _defined(scope, kind, name, namespace):
                continue
            if via is not None:
                message = f"{via} uses {kind} {name!r}, which is not defined"
            else:
                message = f"{kind} {name!r} is not defined" + (
                    " (no Secret, ExternalSecret, Certificate or operator creates it)"
                    if kind == "Secret"
                    else ""
                )
            report(
                resource,
                "error",
                f"ref-{kind.lower()}",
                f"{resource.kind} {resource.name}: {message}",
                where,
            )
        account = spec.get("serviceAccountName")
        if (
            isinstance(account, str)
            and account != "default"
            and scope.by_kind.get("ServiceAccount")
            and scope.find("ServiceAccount", account, namespace) is None
        ):
            report(
                resource,
                "error",
                "ref-service-account",
                f"{resource.kind} {resource.name}: ServiceAccount {account!r} is not defined",
                (*base, "spec", "serviceAccountName"),
            )


def check_monitors(scope: Scope, context: Context, report: Report) -> None:
    for monitor in scope.by_kind.get("ServiceMonitor", []):
        selector = dig(monitor.obj, "spec", "selector")
        namespaces = dig(monitor.obj, "spec", "namespaceSelector", "matchNames")
        if isinstance(namespaces, list):
            pool: Iterable[Resource] = itertools.chain.from_iterable(
                scope.in_namespace("Service", str(ns)) for ns in namespaces
            )
        else:
            pool = scope.in_namespace("Service", monitor.namespace)
        plain = selector.get("matchLabels") if isinstance(selector, dict) else None
        if isinstance(plain, dict) and plain:
            key, value = next(iter(plain.items()))
            wanted = scope.labelled("Service", str(key), str(value))
            pool = (s for s in pool if id(s) in wanted)
        services = list(
            {id(s): s for s in pool if selector_matches(selector, labels_of(s.obj))}.values()
        )
        if not services:
            report(
                monitor,
                "error",
                "ref-service-selector",
                f"ServiceMonitor {monitor.name}: selector matches no Service",
                ("spec", "selector"),
            )
            continue
        names = {
            p.get("name")
            for s in services
            for p in dig(s.obj, "spec", "ports") or []
            if isinstance(p, dict)
        }
        for index, endpoint in enumerate(dig(monitor.obj, "spec", "endpoints") or []):
            port = endpoint.get("port") if isinstance(endpoint, dict) else None
            if isinstance(port, str) and port not in names:
                report(
                    monitor,
                    "error",
                    "ref-port-name",
                    f"ServiceMonitor {monitor.name}: endpoint port {port!r} is not a port name "
                    f"of the selected Services (have: {', '.join(sorted(map(str, names)))})",
                    ("spec", "endpoints", index, "port"),
                )


def check_ingresses(scope: Scope, context: Context, report: Report) -> None:
    for ingress in scope.by_kind.get("Ingress", []):
        backends: list[tuple[Any, tuple[str | int, ...]]] = []
        default = dig(ingress.obj, "spec", "defaultBackend", "service")
        if default is not None:
            backends.append((default, ("spec", "defaultBackend", "service")))
        for r_index, rule in enumerate(dig(ingress.obj, "spec", "rules") or []):
            for p_index, path in enumerate(dig(rule, "http", "paths") or []):
                backends.append(
                    (
                        dig(path, "backend", "service"),
                        ("spec", "rules", r_index, "http", "paths", p_index, "backend", "service"),
                    )
                )
        for backend, where in backends:
            if not isinstance(backend, dict) or not isinstance(backend.get("name"), str):
                continue
            service = scope.find("Service", backend["name"], ingress.namespace)
            if service is None:
                report(
                    ingress,
                    "error",
                    "ref-ingress-backend",
                    f"Ingress {ingress.name}: backend Service {backend['name']!r} does not exist",
                    (*where, "name"),
                )
                continue
            port = backend.get("port") or {}
            ports = [p for p in dig(service.obj, "spec", "ports") or [] if isinstance(p, dict)]
            if "name" in port and port["name"] not in {p.get("name") for p in ports}:
                report(
                    ingress,
                    "error",
                    "ref-ingress-backend",
                    f"Ingress {ingress.name}: Service {service.name} has no port named "
                    f"{port['name']!r}",
                    (*where, "port", "name"),
                )
            if "number" in port and port["number"] not in {p.get("port") for p in ports}:
                report(
                    ingress,
                    "error",
                    "ref-ingress-backend",
                    f"Ingress {ingress.name}: Service {service.name} has no port {port['number']}",
                    (*where, "port", "number"),
                )
        secrets: set[str] | None = None
        for index, tls in enumerate(dig(ingress.obj, "spec", "tls") or []):
            name = tls.get("secretName") if isinstance(tls, dict) else None
            if not isinstance(name, str):
                continue
            secrets = scope.secret_providers(ingress.namespace)
            annotations = dig(ingress.obj, "metadata", "annotations") or {}
            from_issuer = any(k.startswith("cert-manager.io/") for k in annotations)
            if name not in secrets and not from_issuer:
                report(
                    ingress,
                    "error",
                    "ref-secret",
                    f"Ingress {ingress.name}: TLS Secret {name!r} is not defined and no "
                    "Certificate or cert-manager annotation creates it",
                    ("spec", "tls", index, "secretName"),
                )


def _glob(pattern: Any, value: str) -> bool:
    if not isinstance(pattern, str):
        return False
    negate = pattern.startswith("!")
    matched = fnmatch.fnmatchcase(value, pattern.lstrip("!"))
    return not matched if negate else matched


def check_applications(scope: Scope, context: Context, report: Report) -> None:
    """Argo CD Applications: source paths exist and render; the AppProject allows them."""
    for app in scope.by_kind.get("Application", []):
        if not app.api_version.startswith("argoproj.io/"):
            continue
        spec = _mapping(app.obj.get("spec"))
        sources: list[tuple[dict[str, Any], tuple[str | int, ...]]] = []
        if isinstance(spec.get("source"), dict):
            sources.append((spec["source"], ("spec", "source")))
        for index, source in enumerate(spec.get("sources") or []):
            if isinstance(source, dict):
                sources.append((source, ("spec", "sources", index)))
        for source, where in sources:
            path = source.get("path")
            repo = source.get("repoURL")
            if not isinstance(path, str) or source.get("chart") or not isinstance(repo, str):
                continue
            if not context.is_this_repo(repo):
                continue
            target = (context.repo_root / path).resolve()
            if not target.is_relative_to(context.repo_root) or not target.is_dir():
                report(
                    app,
                    "error",
                    "ref-app-path",
                    f"Application {app.name}: source path {path!r} does not exist in this "
                    "repository",
                    (*where, "path"),
                )
                continue
            problem = context.renders(target)
            if problem is not None:
                report(
                    app,
                    "error",
                    "ref-app-path",
                    f"Application {app.name}: source path {path!r} does not render: {problem}",
                    (*where, "path"),
                )
        project_name = str(spec.get("project") or "default")
        project = scope.find("AppProject", project_name, None)
        if project is None:
            if project_name != "default" and scope.by_kind.get("AppProject"):
                report(
                    app,
                    "error",
                    "ref-app-project",
                    f"Application {app.name}: AppProject {project_name!r} does not exist",
                    ("spec", "project"),
                )
            continue
        destination = _mapping(spec.get("destination"))
        allowed = dig(project.obj, "spec", "destinations") or []
        namespace = str(destination.get("namespace") or "")
        server = destination.get("server")
        cluster = destination.get("name")
        ok = any(
            isinstance(entry, dict)
            and (
                (isinstance(server, str) and _glob(entry.get("server"), server))
                or (isinstance(cluster, str) and _glob(entry.get("name"), cluster))
            )
            and _glob(entry.get("namespace"), namespace)
            for entry in allowed
        )
        if not ok:
            report(
                app,
                "error",
                "ref-app-project",
                f"Application {app.name}: destination {server or cluster} namespace "
                f"{namespace!r} is not allowed by AppProject {project_name}",
                ("spec", "destination"),
            )
        repos = dig(project.obj, "spec", "sourceRepos") or []
        for source, where in sources:
            repo = source.get("repoURL")
            if isinstance(repo, str) and not any(_glob(p, repo) for p in repos):
                report(
                    app,
                    "error",
                    "ref-app-project",
                    f"Application {app.name}: repoURL {repo!r} is not in AppProject "
                    f"{project_name} sourceRepos",
                    (*where, "repoURL"),
                )
