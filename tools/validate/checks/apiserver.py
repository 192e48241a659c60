"""What the Kubernetes API server rejects beyond the OpenAPI schema.

The schema says a field is a string; the API server's validation (``k8s.io/apimachinery``
``pkg/util/validation`` and ``pkg/apis/*/validation`` in kubernetes/kubernetes) also says which
strings. Each rule here mirrors one of those checks, so ``kubectl apply`` would fail the same way:

* ``api-name`` — ``metadata.name``: a DNS-1123 subdomain (at most 253 characters of ``a-z0-9-.``,
  alphanumeric at both ends) for most kinds; a DNS-1123 label (63, no dots) for Namespaces; a
  DNS-1035 label (also starting with a letter) for Services (``ValidateServiceName``).
* ``api-label`` — label keys are qualified names (optional DNS-subdomain prefix and ``/``, then
  at most 63 characters of ``A-Za-z0-9-_.``, alphanumeric at both ends); values are empty or the
  same 63-character form (``IsQualifiedName``, ``IsValidLabelValue``); annotation keys are
  qualified names. Checked on the object, its pod template and its selector.
* ``api-selector`` — a workload's ``spec.selector`` must select its own pod template's labels
  (``ValidateDeploymentSpec`` and its siblings: "selector does not match template labels"), and
  must not be empty.
* ``api-port-name`` — container port names are IANA service names (``IsValidPortName``: 1-15
  characters of ``a-z0-9-``, at least one letter, no leading, trailing or double ``-``) and unique
  within a container; Service port names are DNS-1123 labels, unique, required when a Service
  has more than one port.
* ``api-resources`` — a container's request may not exceed its limit for the same resource
  (``ValidateResourceRequirements``: "must be less than or equal to ... limit").
* ``api-not-served`` — a custom resource in a CRD version marked ``served: false`` (the API server
  has no endpoint for it; deprecated-but-served versions stay a warning, ``api-deprecated``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from tools.validate.checks.base import Context, Report
from tools.validate.checks.workloads import containers, dig, pod_template, selector_matches
from tools.validate.findings import Resource

Path = tuple[str | int, ...]

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?\Z")
_DNS1123_SUBDOMAIN = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z"
)
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\Z")
_PORT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?\Z")
_HAS_LETTER = re.compile(r"[a-z]")

# Kinds whose names are DNS labels rather than subdomains (apimachinery's ValidateNamespaceName,
# core validation's ValidateServiceName); everything else named here is a subdomain.
_LABEL_NAMED = {"Namespace": ("DNS-1123 label", _DNS1123_LABEL, 63)}
_DNS1035_NAMED = {"Service": ("DNS-1035 label", _DNS1035_LABEL, 63)}

# Workloads whose selector must match their template (Job only with manualSelector).
_SELECTING = frozenset(
    {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ReplicationController", "Rollout"}
)

# Binary and decimal suffixes of resource.Quantity.
_SUFFIXES = {
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(
    r"([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)\Z"
)


def quantity(value: object) -> Decimal | None:
    """A ``resource.Quantity`` (``500m``, ``1Gi``, ``1e3``, ``2``) as a Decimal; None if invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value.strip())
    if match is None:
        return None
    number, exponent, suffix = match.groups()
    try:
        amount = Decimal(number)
    except InvalidOperation:
        return None
    if exponent is not None:
        return amount.scaleb(int(exponent))
    return amount * _SUFFIXES[suffix or ""]


def subdomain_problem(value: str) -> str | None:
    if len(value) > 253:
        return "must be no more than 253 characters"
    if not _DNS1123_SUBDOMAIN.match(value):
        return (
            "must consist of lower case alphanumeric characters, '-' or '.', and must start "
            "and end with an alphanumeric character"
        )
    return None


def qualified_name_problem(key: str) -> str | None:
    """Why ``key`` is not a qualified name (label and annotation keys), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return "prefix part must be non-empty"
        problem = subdomain_problem(prefix)
        if problem is not None:
            return f"prefix part {problem}"
    if not name:
        return "name part must be non-empty"
    return _qualified_problem(name, "name part ")


def label_value_problem(value: str) -> str | None:
    if value == "":
        return None
    return _qualified_problem(value, "", may_be_empty=True)


def _qualified_problem(text: str, subject: str, *, may_be_empty: bool = False) -> str | None:
    """The 63-character ``A-Za-z0-9-_.`` form that qualified names and label values share."""
    if len(text) > 63:
        return f"{subject}must be no more than 63 characters"
    if not _QUALIFIED_NAME.match(text):
        empty = "be empty or " if may_be_empty else ""
        return (
            f"{subject}must {empty}consist of alphanumeric characters, '-', '_' or '.', and "
            "must start and end with an alphanumeric character"
        )
    return None


def port_name_problem(name: str) -> str | None:
    """``IsValidPortName`` (IANA_SVC_NAME, RFC 6335)."""
    if not 1 <= len(name) <= 15:
        return "must be no more than 15 characters"
    if not _PORT_NAME.match(name):
        return (
            "must contain only lower case alphanumeric characters and '-', "
            "alphanumeric at both ends"
        )
    if "--" in name:
        return "must not contain consecutive hyphens"
    if not _HAS_LETTER.search(name):
        return "must contain at least one letter (a-z)"
    return None


def check_object(resource: Resource, context: Context, report: Report) -> None:
    obj = resource.obj
    _check_name(resource, report)
    _check_metadata(resource, obj, (), report)
    found = pod_template(obj)
    if found is not None:
        template, base = found
        if base:
            _check_metadata(resource, template, base, report)
            _check_selector(resource, template, base, report)
        for container, path in containers(template, base):
            _check_container(resource, container, path, report)
    if resource.kind == "Service":
        _check_service_ports(resource, report)
    crd = context.schemas.crds.get((resource.api_version, resource.kind))
    if crd is not None and not crd.served:
        report(
            resource,
            "error",
            "api-not-served",
            f"{resource.ref}: version {resource.api_version} of {resource.kind} is not served "
            "(served: false in its CustomResourceDefinition); the API server has no endpoint "
            "for it",
            ("apiVersion",),
            hint="use a served version of the CRD",
        )


def _check_name(resource: Resource, report: Report) -> None:
    name = dig(resource.obj, "metadata", "name")
    if not isinstance(name, str) or not name:
        return  # a missing name is the schema's (or generateName's) business
    kind = resource.kind
    what, pattern, limit = _LABEL_NAMED.get(kind) or _DNS1035_NAMED.get(kind) or ("", None, 253)
    if pattern is None:
        problem = subdomain_problem(name)
        what = "DNS-1123 subdomain"
    elif len(name) > limit:
        problem = f"must be no more than {limit} characters"
    elif not pattern.match(name):
        problem = "must consist of lower case alphanumeric characters or '-', and must " + (
            "start with a letter and end with an alphanumeric character"
            if kind in _DNS1035_NAMED
            else "start and end with an alphanumeric character"
        )
    else:
        problem = None
    if problem is not None:
        report(
            resource,
            "error",
            "api-name",
            f"{resource.ref}: metadata.name {name[:80]!r} is not a valid {what}: {problem}",
            ("metadata", "name"),
        )


def _check_metadata(resource: Resource, holder: Any, base: Path, report: Report) -> None:
    metadata = holder.get("metadata") if isinstance(holder, dict) else None
    if not isinstance(metadata, dict):
        return
    labels = metadata.get("labels")
    if isinstance(labels, dict):
        for key, value in labels.items():
            path = (*base, "metadata", "labels", str(key))
            problem = qualified_name_problem(key) if isinstance(key, str) else "must be a string"
            if problem is not None:
                report(
                    resource,
                    "error",
                    "api-label",
                    f"{resource.ref}: label key {str(key)[:80]!r} is not a qualified name: "
                    f"{problem}",
                    path,
                )
                continue
            if not isinstance(value, str):
                continue  # the schema reports a non-string value
            problem = label_value_problem(value)
            if problem is not None:
                report(
                    resource,
                    "error",
                    "api-label",
                    f"{resource.ref}: label {key}={value[:80]!r}: the value {problem}",
                    path,
                )
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict):
        for key in annotations:
            problem = qualified_name_problem(key) if isinstance(key, str) else "must be a string"
            if problem is not None:
                report(
                    resource,
                    "error",
                    "api-label",
                    f"{resource.ref}: annotation key {str(key)[:80]!r} is not a qualified "
                    f"name: {problem}",
                    (*base, "metadata", "annotations", str(key)),
                )


def _selector_labels(selector: Any) -> Iterator[tuple[str, Any, Path]]:
    if not isinstance(selector, dict):
        return
    match_labels = selector.get("matchLabels") if "matchLabels" in selector else None
    if isinstance(match_labels, dict):
        for key, value in match_labels.items():
            yield str(key), value, ("matchLabels", str(key))


def _check_selector(
    resource: Resource, template: dict[str, Any], base: Path, report: Report
) -> None:
    kind = resource.kind
    spec = resource.obj.get("spec")
    if not isinstance(spec, dict):
        return
    if kind == "Job" and spec.get("manualSelector") is not True:
        return
    if kind not in _SELECTING and kind != "Job":
        return
    if kind == "Rollout" and "workloadRef" in spec:
        return  # the referenced Deployment's template and selector are the ones that run
    selector = spec.get("selector")
    labels = dig(template, "metadata", "labels")
    labels = labels if isinstance(labels, dict) else {}
    if kind == "ReplicationController":
        if selector is None:
            return  # defaulted to the template's labels
        matches = (
            isinstance(selector, dict)
            and bool(selector)
            and all(str(labels.get(k)) == str(v) and k in labels for k, v in selector.items())
        )
    else:
        if not isinstance(selector, dict):
            return  # required: the schema reports it
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            report(
                resource,
                "error",
                "api-selector",
                f"{resource.ref}: spec.selector is empty; an empty selector is invalid for "
                f"a {kind}",
                ("spec", "selector"),
            )
            return
        matches = selector_matches(selector, {str(k): str(v) for k, v in labels.items()})
    if not matches:
        report(
            resource,
            "error",
            "api-selector",
            f"{resource.ref}: spec.selector does not match the pod template's labels "
            f"{dict(sorted(labels.items()))}; the API server refuses it",
            ("spec", "selector"),
            hint="make spec.selector a subset of spec.template.metadata.labels",
        )
    for key, value, path in _selector_labels(selector):
        problem = qualified_name_problem(key)
        if problem is None and isinstance(value, str):
            problem = label_value_problem(value)
        if problem is not None:
            report(
                resource,
                "error",
                "api-label",
                f"{resource.ref}: selector label {key}={str(value)[:80]!r}: {problem}",
                ("spec", "selector", *path),
            )


def _check_container(
    resource: Resource, container: dict[str, Any], path: Path, report: Report
) -> None:
    name = container.get("name")
    seen: set[str] = set()
    for index, port in enumerate(container.get("ports") or []):
        port_name = port.get("name") if isinstance(port, dict) else None
        if not isinstance(port_name, str):
            continue
        where = (*path, "ports", index, "name")
        problem = port_name_problem(port_name)
        if problem is not None:
            report(
                resource,
                "error",
                "api-port-name",
                f"{resource.ref}: container {name!r} port name {port_name[:40]!r} is not a "
                f"valid IANA service name: {problem}",
                where,
            )
        elif port_name in seen:
            report(
                resource,
                "error",
                "api-port-name",
                f"{resource.ref}: container {name!r} has two ports named {port_name!r}",
                where,
            )
        seen.add(port_name)
    resources = container.get("resources")
    if not isinstance(resources, dict):
        return
    requests, limits = resources.get("requests"), resources.get("limits")
    if not isinstance(requests, dict) or not isinstance(limits, dict):
        return
    for resource_name, requested in requests.items():
        if resource_name not in limits:
            continue
        asked, cap = quantity(requested), quantity(limits[resource_name])
        if asked is not None and cap is not None and asked > cap:
            report(
                resource,
                "error",
                "api-resources",
                f"{resource.ref}: container {name!r} requests {resource_name} {requested} but "
                f"its limit is {limits[resource_name]}; a request must be less than or equal "
                "to the limit",
                (*path, "resources", "requests", str(resource_name)),
            )


def _check_service_ports(resource: Resource, report: Report) -> None:
    ports = dig(resource.obj, "spec", "ports")
    if not isinstance(ports, list):
        return
    seen: set[str] = set()
    for index, port in enumerate(ports):
        if not isinstance(port, dict):
            continue
        port_name = port.get("name")
        where = ("spec", "ports", index, "name")
        if port_name is None or port_name == "":
            if len(ports) > 1:
                report(
                    resource,
                    "error",
                    "api-port-name",
                    f"{resource.ref}: spec.ports[{index}] has no name; every port of a "
                    "Service with more than one port needs one",
                    ("spec", "ports", index),
                )
            continue
        if not isinstance(port_name, str):
            continue
        if len(port_name) > 63 or not _DNS1123_LABEL.match(port_name):
            report(
                resource,
                "error",
                "api-port-name",
                f"{resource.ref}: Service port name {port_name[:80]!r} is not a DNS-1123 label",
                where,
            )
        elif port_name in seen:
            report(
                resource,
                "error",
                "api-port-name",
                f"{resource.ref}: two Service ports are named {port_name!r}",
                where,
            )
        seen.add(port_name)
