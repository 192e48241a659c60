"""Strict schema checks for rendered manifests.

Kubernetes built-in kinds go through kubernetes-validate (strict, pinned Kubernetes version).
Custom resources are checked against the ``openAPIV3Schema`` of the CRDs in ``../shared/crds``,
made strict the way the API server prunes: an object schema that lists ``properties`` and does
not say ``x-kubernetes-preserve-unknown-fields`` accepts no other keys.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.support.paths import REPO_ROOT

KUBERNETES_VERSION = "1.33"
# The shared CRD schemas sit beside the clone (./dev test exports GITOPS_CRD_DIR).
CRD_DIR = Path(os.environ.get("GITOPS_CRD_DIR", REPO_ROOT.parent / "shared" / "crds"))

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
METADATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {
            "type": "string",
            "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
            "maxLength": 253,
        },
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "finalizers": {"type": "array", "items": {"type": "string"}},
    },
}


@dataclass(frozen=True)
class Problem:
    kind: str
    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.message}"


def _strict(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        if out.get("x-kubernetes-int-or-string"):
            out.pop("type", None)
            out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


_NAMES_KIND = re.compile(r"^  names:\n(?:    .*\n)*?    kind: (\w+)$", re.MULTILINE)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def _crd_files_by_kind() -> dict[str, list[Path]]:
    """Kind -> CRD files declaring it, found by a text scan (parsing every CRD is slow)."""
    files: dict[str, list[Path]] = {}
    for path in sorted(CRD_DIR.rglob("*.yaml")):
        for kind in _NAMES_KIND.findall(path.read_text(encoding="utf-8")):
            files.setdefault(kind, []).append(path)
    return files


@cache
def crd_schema(api_version: str, kind: str) -> dict[str, Any] | None:
    """Strict JSON schema of ``kind`` at ``api_version`` from the CRDs, if a CRD serves it."""
    for path in _crd_files_by_kind().get(kind, []):
        for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_LOADER):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            group = doc["spec"]["group"]
            if doc["spec"]["names"]["kind"] != kind:
                continue
            for version in doc["spec"]["versions"]:
                if f"{group}/{version['name']}" != api_version or not version.get("served", True):
                    continue
                schema = _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
                schema.setdefault("properties", {})["metadata"] = METADATA_SCHEMA
                return schema
    return None


def validate_object(obj: dict[str, Any]) -> list[Problem]:
    kind = str(obj.get("kind"))
    name = str(obj.get("metadata", {}).get("name"))
    key = (str(obj.get("apiVersion")), kind)
    schema = crd_schema(*key)
    if schema is not None:
        validator = jsonschema.Draft7Validator(schema)
        return [
            Problem(kind, name, f"{'/'.join(map(str, e.absolute_path))}: {e.message}")
            for e in validator.iter_errors(obj)
        ]
    group = key[0].split("/")[0] if "/" in key[0] else ""
    if group.endswith(".io") and group not in BUILTIN_GROUPS:
        return [Problem(kind, name, f"no CRD schema for {key[0]} {kind} in {CRD_DIR}")]
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = "/".join(map(str, exc.path))
        return [Problem(kind, name, f"{path}: {exc.message}")]
    except kubernetes_validate.SchemaNotFoundError:
        return [Problem(kind, name, f"no Kubernetes {KUBERNETES_VERSION} schema for {key}")]
    return []


BUILTIN_GROUPS = {
    "rbac.authorization.k8s.io",
    "networking.k8s.io",
    "admissionregistration.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "apiextensions.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "certificates.k8s.io",
}


def validate_all(objects: Iterable[dict[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    for obj in objects:
        problems.extend(validate_object(obj))
    return problems


def load_documents(text: str) -> Iterator[dict[str, Any]]:
    for doc in yaml.safe_load_all(text):
        if isinstance(doc, dict):
            yield doc
