"""Removed and deprecated Kubernetes API versions (from the upstream deprecation guide)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ApiChange:
    api_version: str
    kinds: frozenset[str] | None  # None: every kind in that group/version
    deprecated_in: tuple[int, int]
    removed_in: tuple[int, int] | None
    replacement: str


def _c(api: str, kinds: str | None, dep: str, rem: str | None, repl: str) -> ApiChange:
    def v(text: str) -> tuple[int, int]:
        major, minor = text.split(".")
        return int(major), int(minor)

    return ApiChange(
        api,
        frozenset(kinds.split()) if kinds else None,
        v(dep),
        v(rem) if rem else None,
        repl,
    )


CHANGES: tuple[ApiChange, ...] = (
    _c("extensions/v1beta1", None, "1.8", "1.22", "apps/v1 or networking.k8s.io/v1"),
    _c("apps/v1beta1", None, "1.9", "1.16", "apps/v1"),
    _c("apps/v1beta2", None, "1.9", "1.16", "apps/v1"),
    _c("networking.k8s.io/v1beta1", "Ingress IngressClass", "1.19", "1.22", "networking.k8s.io/v1"),
    _c("rbac.authorization.k8s.io/v1beta1", None, "1.17", "1.22", "rbac.authorization.k8s.io/v1"),
    _c("rbac.authorization.k8s.io/v1alpha1", None, "1.17", "1.22", "rbac.authorization.k8s.io/v1"),
    _c(
        "admissionregistration.k8s.io/v1beta1",
        None,
        "1.16",
        "1.22",
        "admissionregistration.k8s.io/v1",
    ),
    _c("apiextensions.k8s.io/v1beta1", None, "1.16", "1.22", "apiextensions.k8s.io/v1"),
    _c("apiregistration.k8s.io/v1beta1", None, "1.19", "1.22", "apiregistration.k8s.io/v1"),
    _c("certificates.k8s.io/v1beta1", None, "1.19", "1.22", "certificates.k8s.io/v1"),
    _c("coordination.k8s.io/v1beta1", None, "1.19", "1.22", "coordination.k8s.io/v1"),
    _c("scheduling.k8s.io/v1beta1", None, "1.14", "1.22", "scheduling.k8s.io/v1"),
    _c(
        "storage.k8s.io/v1beta1",
        "CSIDriver CSINode StorageClass VolumeAttachment",
        "1.19",
        "1.22",
        "storage.k8s.io/v1",
    ),
    _c("batch/v1beta1", "CronJob", "1.21", "1.25", "batch/v1"),
    _c("discovery.k8s.io/v1beta1", "EndpointSlice", "1.21", "1.25", "discovery.k8s.io/v1"),
    _c("events.k8s.io/v1beta1", "Event", "1.19", "1.25", "events.k8s.io/v1"),
    _c("autoscaling/v2beta1", "HorizontalPodAutoscaler", "1.19", "1.25", "autoscaling/v2"),
    _c("autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.23", "1.26", "autoscaling/v2"),
    _c("policy/v1beta1", "PodDisruptionBudget", "1.21", "1.25", "policy/v1"),
    _c(
        "policy/v1beta1",
        "PodSecurityPolicy",
        "1.21",
        "1.25",
        "Pod Security Admission (namespace labels)",
    ),
    _c("node.k8s.io/v1beta1", "RuntimeClass", "1.20", "1.25", "node.k8s.io/v1"),
    _c(
        "flowcontrol.apiserver.k8s.io/v1beta1",
        None,
        "1.23",
        "1.26",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    _c(
        "flowcontrol.apiserver.k8s.io/v1beta2",
        None,
        "1.26",
        "1.29",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    _c(
        "flowcontrol.apiserver.k8s.io/v1beta3",
        None,
        "1.29",
        "1.32",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    _c("storage.k8s.io/v1beta1", "CSIStorageCapacity", "1.24", "1.27", "storage.k8s.io/v1"),
    _c("v1", "Endpoints", "1.33", None, "discovery.k8s.io/v1 EndpointSlice"),
)


def lookup(api_version: str, kind: str) -> ApiChange | None:
    for change in CHANGES:
        if change.api_version == api_version and (change.kinds is None or kind in change.kinds):
            return change
    return None


def status(api_version: str, kind: str, target: str) -> tuple[str, str] | None:
    """("removed"|"deprecated", message) for *kind* in *api_version* on Kubernetes *target*."""
    change = lookup(api_version, kind)
    if change is None:
        return None
    major, minor = (int(p) for p in target.split(".")[:2])
    version = (major, minor)
    if change.removed_in is not None and version >= change.removed_in:
        removed = ".".join(map(str, change.removed_in))
        return (
            "removed",
            f"{kind} {api_version} was removed in Kubernetes {removed}; use {change.replacement}",
        )
    if version >= change.deprecated_in:
        deprecated = ".".join(map(str, change.deprecated_in))
        until = f", removed in {'.'.join(map(str, change.removed_in))}" if change.removed_in else ""
        return (
            "deprecated",
            f"{kind} {api_version} is deprecated since Kubernetes {deprecated}{until}; "
            f"use {change.replacement}",
        )
    return None
