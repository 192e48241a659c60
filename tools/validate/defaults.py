"""Objects as the API server stores them: the defaults it fills in before anything reads them.

Policies judge what will run, so they must see the object after defaulting, not the sparse
manifest: a container with a memory *limit* and no memory *request* runs with the request equal
to the limit, and a probe without ``timeoutSeconds`` times out after one second. Applied to every
object right after parsing (:func:`apply`), in place; only fields that are absent are added, so
every path in the manifest stays where it was. Mirrors ``pkg/apis/core/v1/defaults.go``
(``SetDefaults_Container``, ``SetDefaults_Probe``, ``SetDefaults_ResourceList`` via
``defaultRequests`` in ``SetDefaults_Pod``) in kubernetes/kubernetes:

* ``resources.requests[r]`` defaults to ``resources.limits[r]`` for every resource with a limit
  and no request (containers and init containers);
* ``imagePullPolicy`` defaults to ``Always`` for an image with the tag ``latest`` or no tag (and
  no digest), else ``IfNotPresent``;
* probes: ``timeoutSeconds: 1``, ``periodSeconds: 10``, ``successThreshold: 1``,
  ``failureThreshold: 3``.

``automountServiceAccountToken`` comes from the pod's ServiceAccount when the pod does not set
it; that needs the ServiceAccount object, so :func:`inherit_service_accounts` applies it per
scope (everything applied together).
"""

from __future__ import annotations

from typing import Any

from tools.validate.checks.workloads import containers, dig, pod_template

_PROBE_DEFAULTS = (
    ("timeoutSeconds", 1),
    ("periodSeconds", 10),
    ("successThreshold", 1),
    ("failureThreshold", 3),
)
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


def pull_policy(image: str) -> str:
    """The ``imagePullPolicy`` the API server gives a container of ``image``."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def apply(obj: dict[str, Any]) -> None:
    """Fill in the defaults of ``obj``'s pod template (if it has one), in place."""
    found = pod_template(obj)
    if found is None:
        return
    template, _ = found
    for container, path in containers(template):
        if path[-2] == "ephemeralContainers":
            continue  # no resources or probes allowed there
        image = container.get("image")
        if isinstance(image, str) and "imagePullPolicy" not in container:
            container["imagePullPolicy"] = pull_policy(image)
        resources = container.get("resources")
        if isinstance(resources, dict):
            limits = resources.get("limits")
            if isinstance(limits, dict) and limits:
                requests = resources.get("requests")
                if requests is None:
                    requests = resources["requests"] = {}
                if isinstance(requests, dict):
                    for name, value in limits.items():
                        requests.setdefault(name, value)
        for probe_name in _PROBES:
            probe = container.get(probe_name)
            if isinstance(probe, dict):
                for key, value in _PROBE_DEFAULTS:
                    probe.setdefault(key, value)


def inherit_service_account(pod_spec: dict[str, Any], account: dict[str, Any] | None) -> bool:
    """Copy the ServiceAccount's ``automountServiceAccountToken`` into a pod spec that does not
    set it (the kubelet decides with the pod's value first, then the account's). True if the
    spec changed."""
    if account is None or "automountServiceAccountToken" in pod_spec:
        return False
    value = dig(account, "automountServiceAccountToken")
    if not isinstance(value, bool):
        return False
    pod_spec["automountServiceAccountToken"] = value
    return True
