"""The objects of one scope, indexed for the checks that look across objects.

A scope is everything one kustomization renders, or all plain manifest files of a run together:
the objects that are applied together and so may refer to each other by name.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tools.validate.checks.workloads import dig, labels_of, pod_template, selector_matches
from tools.validate.findings import Resource

CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "ClusterIssuer",
        "ClusterSecretStore",
        "ClusterAnalysisTemplate",
        "PriorityClass",
        "StorageClass",
        "IngressClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "PersistentVolume",
        "ClusterWorkflowTemplate",
    }
)


# Secrets an operator creates for one of its objects, in the object's namespace, by kind:
# ECK names them after the Elasticsearch or Kibana object (the `elastic` superuser's password,
# the public CA of the HTTP and transport certificates).
OPERATOR_SECRETS: dict[str, tuple[str, ...]] = {
    "Elasticsearch": (
        "{name}-es-elastic-user",
        "{name}-es-http-certs-public",
        "{name}-es-transport-certs-public",
    ),
    "Kibana": ("{name}-kb-http-certs-public",),
}


@dataclass
class Scope:
    """The objects of one scope, indexed so that every lookup is (close to) constant time."""

    resources: list[Resource]
    by_kind: dict[str, list[Resource]] = field(default_factory=lambda: defaultdict(list))
    _by_name: dict[tuple[str, str], list[Resource]] = field(
        default_factory=lambda: defaultdict(list)
    )
    _by_kind_ns: dict[tuple[str, str | None], list[Resource]] = field(
        default_factory=lambda: defaultdict(list)
    )
    _templates: dict[str | None, list[tuple[Resource, dict[str, Any]]]] | None = None
    _template_labels: dict[tuple[str | None, str, str], list[int]] | None = None
    _secrets: dict[str | None, set[str]] = field(default_factory=dict)
    _labels: dict[str, dict[tuple[str, str], set[int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for resource in self.resources:
            self.by_kind[resource.kind].append(resource)
            self._by_name[(resource.kind, resource.name)].append(resource)
            self._by_kind_ns[(resource.kind, resource.namespace)].append(resource)

    def find(self, kind: str, name: str, namespace: str | None) -> Resource | None:
        for resource in self._by_name.get((kind, name), ()):
            if kind in CLUSTER_SCOPED or same_namespace(resource.namespace, namespace):
                return resource
        return None

    def in_namespace(self, kind: str, namespace: str | None) -> Iterable[Resource]:
        if namespace is None:
            return iter(self.by_kind.get(kind, []))
        return itertools.chain(
            self._by_kind_ns.get((kind, namespace), ()), self._by_kind_ns.get((kind, None), ())
        )

    def _index_templates(self) -> dict[str | None, list[tuple[Resource, dict[str, Any]]]]:
        if self._templates is None:
            self._templates = defaultdict(list)
            for resource in self.resources:
                found = pod_template(resource.obj)
                if found is None and resource.kind == "Rollout":
                    ref = dig(resource.obj, "spec", "workloadRef", "name")
                    target = self.find("Deployment", ref, resource.namespace) if ref else None
                    found = pod_template(target.obj) if target else None
                if found is not None:
                    self._templates[resource.namespace].append((resource, found[0]))
        return self._templates

    def pod_templates(self, namespace: str | None) -> Iterable[tuple[Resource, dict[str, Any]]]:
        templates = self._index_templates()
        if namespace is None:
            return itertools.chain.from_iterable(templates.values())
        return itertools.chain(templates.get(namespace, ()), templates.get(None, ()))

    def matching_templates(
        self, selector: Any, namespace: str | None
    ) -> list[tuple[Resource, dict[str, Any]]]:
        """Pod templates in *namespace* whose labels match *selector*."""
        candidates: Iterable[tuple[Resource, dict[str, Any]]] = self.pod_templates(namespace)
        plain = selector.get("matchLabels", selector) if isinstance(selector, dict) else None
        if isinstance(plain, dict) and plain and namespace is not None:
            # Narrow by one required label first: with thousands of workloads per namespace
            # checking every template against every selector would be quadratic.
            key, value = next(iter(plain.items()))
            candidates = self._with_label(namespace, str(key), str(value))
        return [(r, t) for r, t in candidates if selector_matches(selector, labels_of(t))]

    def _with_label(
        self, namespace: str, key: str, value: str
    ) -> list[tuple[Resource, dict[str, Any]]]:
        templates = self._index_templates()
        if self._template_labels is None:
            self._template_labels = defaultdict(list)
            for ns, entries in templates.items():
                for position, (_, template) in enumerate(entries):
                    for k, v in labels_of(template).items():
                        self._template_labels[(ns, k, v)].append(position)
        by_label = self._template_labels
        out = [templates[namespace][i] for i in by_label.get((namespace, key, value), ())]
        out += [templates[None][i] for i in by_label.get((None, key, value), ())]
        return out

    def labelled(self, kind: str, key: str, value: str) -> set[int]:
        """ids of the objects of *kind* that carry label key=value."""
        index = self._labels.get(kind)
        if index is None:
            index = defaultdict(set)
            for resource in self.by_kind.get(kind, []):
                for k, v in labels_of(resource.obj).items():
                    index[(k, v)].add(id(resource))
            self._labels[kind] = index
        return index.get((key, value), set())

    def secret_providers(self, namespace: str | None) -> set[str]:
        """Names of the Secrets that exist in *namespace*: Secrets, SealedSecrets, and what
        ExternalSecrets, cert-manager Certificates and operators (OPERATOR_SECRETS) create."""
        if namespace not in self._secrets:
            self._secrets[namespace] = self._providers(namespace)
        return self._secrets[namespace]

    def _providers(self, namespace: str | None) -> set[str]:
        names = {r.name for r in self.in_namespace("Secret", namespace)}
        for kind, patterns in OPERATOR_SECRETS.items():
            for owner in self.in_namespace(kind, namespace):
                names.update(pattern.format(name=owner.name) for pattern in patterns)
        names |= {r.name for r in self.in_namespace("SealedSecret", namespace)}
        for external in self.in_namespace("ExternalSecret", namespace):
            names.add(dig(external.obj, "spec", "target", "name") or external.name)
        for cert in self.in_namespace("Certificate", namespace):
            secret = dig(cert.obj, "spec", "secretName")
            if isinstance(secret, str):
                names.add(secret)
        return names


def same_namespace(a: str | None, b: str | None) -> bool:
    # An object without a namespace lands in whatever namespace it is applied to.
    return a is None or b is None or a == b
