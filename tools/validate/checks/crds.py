"""CRD ``openAPIV3Schema`` -> strict JSON Schema, with an on-disk cache.

The conversion follows kubeconform's ``openapi2jsonschema`` rules so that results match what
people already get from that tool, but stricter by default:

* an object schema that lists ``properties`` gets ``additionalProperties: false`` unless it says
  ``x-kubernetes-preserve-unknown-fields: true`` (or sets additionalProperties itself);
* ``x-kubernetes-int-or-string: true`` becomes "string or integer";
* ``nullable: true`` adds ``null`` to the type;
* the object's ``metadata`` is checked against the Kubernetes ObjectMeta schema;
* a ``$ref`` is an error, as the API server's CRD validation has it ("$ref is not supported"):
  it is never followed, so a CRD cannot make validation fetch a URL.

Parsing a large CRD file is the slow part, so converted schemas are cached under the cache
directory keyed by the SHA-256 of the file's bytes (and a converter version).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools import yamlfile
from tools.files import write_atomic

CONVERTER_VERSION = "2"  # 2: a $ref is an error
OBJECT_META_REF = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


@dataclass(frozen=True)
class CrdSchema:
    group: str
    version: str
    kind: str
    schema: dict[str, Any]
    source: str  # file, URL or "cluster"
    served: bool = True
    deprecated: bool = False
    deprecation_warning: str | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


class CrdError(Exception):
    """A CRD that cannot be converted (reported as a finding on its file)."""


def _convert_node(node: Any, where: str = "openAPIV3Schema") -> Any:
    if isinstance(node, list):
        return [_convert_node(item, f"{where}[{i}]") for i, item in enumerate(node)]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        raise CrdError(f"{where}.$ref: $ref is not supported in a CRD schema: {node['$ref']!r}")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("default", "example", "enum", "const"):
            out[key] = value  # instance values, not schemas
        elif key in ("properties", "patternProperties", "definitions", "$defs"):
            if not isinstance(value, dict):
                raise CrdError(f"{key} must be a mapping")
            out[key] = {k: _convert_node(v, f"{where}.{key}.{k}") for k, v in value.items()}
        elif isinstance(value, (dict, list)):
            out[key] = _convert_node(value, f"{where}.{key}")
        else:
            out[key] = value
    if out.get("x-kubernetes-int-or-string") is True:
        out.pop("type", None)
        out.pop("format", None)
        out["anyOf"] = [{"type": "string"}, {"type": "integer"}]
    preserve = out.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    if out.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif "anyOf" in out:
            out["anyOf"] = [*out["anyOf"], {"type": "null"}]
    return out


def convert_schema(openapi: dict[str, Any]) -> dict[str, Any]:
    """One CRD version's openAPIV3Schema as a strict JSON Schema (draft 2020-12)."""
    if not isinstance(openapi, dict):
        raise CrdError("openAPIV3Schema must be a mapping")
    schema: dict[str, Any] = _convert_node(copy.deepcopy(openapi))
    properties = schema.setdefault("properties", {})
    if not isinstance(properties, dict):
        raise CrdError("openAPIV3Schema.properties must be a mapping")
    properties["metadata"] = {"$ref": OBJECT_META_REF}
    properties.setdefault("apiVersion", {"type": "string"})
    properties.setdefault("kind", {"type": "string"})
    if "additionalProperties" not in schema and not schema.get(
        "x-kubernetes-preserve-unknown-fields"
    ):
        schema["additionalProperties"] = False
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def schemas_from_crd(crd: Any, source: str) -> list[CrdSchema]:
    """Every version of one CustomResourceDefinition object."""
    if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
        return []
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        raise CrdError("CRD has no spec")
    group = spec.get("group")
    names = spec.get("names")
    kind = names.get("kind") if isinstance(names, dict) else None
    if not isinstance(group, str) or not isinstance(kind, str):
        raise CrdError("CRD spec needs group and names.kind")
    versions = spec.get("versions")
    if not isinstance(versions, list):
        raise CrdError("CRD spec.versions must be a list")
    out: list[CrdSchema] = []
    for entry in versions:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise CrdError("every CRD version needs a name")
        raw = (entry.get("schema") or {}).get("openAPIV3Schema")
        if raw is None:
            # No structural schema: anything goes (like kubeconform, which cannot check it).
            schema: dict[str, Any] = {"type": "object"}
        else:
            try:
                schema = convert_schema(raw)
            except CrdError as exc:
                raise CrdError(f"version {entry['name']}: {exc}") from None
        warning = entry.get("deprecationWarning")
        out.append(
            CrdSchema(
                group=group,
                version=entry["name"],
                kind=kind,
                schema=schema,
                source=source,
                served=entry.get("served", True) is not False,
                deprecated=entry.get("deprecated") is True,
                deprecation_warning=warning if isinstance(warning, str) else None,
            )
        )
    return out


def schemas_from_text(text: str, source: str) -> list[CrdSchema]:
    out: list[CrdSchema] = []
    try:
        documents = yamlfile.load_all(text)
    except yamlfile.YamlError as exc:
        raise CrdError(str(exc)) from None
    for doc in documents:
        if isinstance(doc, dict) and doc.get("kind") == "List":
            items: Iterable[Any] = doc.get("items") or []
        else:
            items = [doc]
        for item in items:
            out.extend(schemas_from_crd(item, source))
    return out


def _cache_path(cache_dir: Path, digest: str) -> Path:
    return cache_dir / "crds" / f"{digest}-v{CONVERTER_VERSION}.json"


def _encode(schemas: list[CrdSchema]) -> str:
    return json.dumps(
        [
            {
                "group": s.group,
                "version": s.version,
                "kind": s.kind,
                "schema": s.schema,
                "served": s.served,
                "deprecated": s.deprecated,
                "deprecation_warning": s.deprecation_warning,
            }
            for s in schemas
        ]
    )


def _decode(text: str, source: str) -> list[CrdSchema]:
    return [
        CrdSchema(
            group=e["group"],
            version=e["version"],
            kind=e["kind"],
            schema=e["schema"],
            source=source,
            served=e["served"],
            deprecated=e["deprecated"],
            deprecation_warning=e["deprecation_warning"],
        )
        for e in json.loads(text)
    ]


def load_cached(data: bytes, source: str, cache_dir: Path | None) -> list[CrdSchema]:
    """Schemas in a CRD file's bytes, converted once and then served from the cache."""
    digest = hashlib.sha256(data).hexdigest()
    if digest in _MEMORY:
        return [dataclasses.replace(s, source=source) for s in _MEMORY[digest]]
    schemas = _load_cached(data, digest, source, cache_dir)
    _MEMORY[digest] = schemas
    return schemas


# Conversions already done in this process (repeated runs in tests, the benchmark).
_MEMORY: dict[str, list[CrdSchema]] = {}


def _load_cached(data: bytes, digest: str, source: str, cache_dir: Path | None) -> list[CrdSchema]:
    cached = _cache_path(cache_dir, digest) if cache_dir else None
    if cached is not None and cached.is_file():
        try:
            return _decode(cached.read_text(encoding="utf-8"), source)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # corrupt cache entry: convert again and overwrite it
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CrdError("not UTF-8 text") from exc
    schemas = schemas_from_text(text, source)
    if cached is not None:
        with contextlib.suppress(OSError):  # a read-only cache only costs time
            write_atomic(cached, _encode(schemas), durable=False)
    return schemas


def crd_files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file() and p.suffix in (".yaml", ".yml", ".json") and not p.name.startswith(".")
    )
