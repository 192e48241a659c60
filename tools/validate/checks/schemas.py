"""The schema check: each object against its kind's JSON Schema, and removed/deprecated APIs.

Kubernetes schemas come from the strict schema set bundled in the ``kubernetes-validate`` wheel
for the target version; CRD schemas from :mod:`tools.validate.checks.crds`. Validators are
compiled with ``jsonschema-rs`` the first time a kind is seen and reused for every later object,
always offline: a ``$ref`` is resolved from the bundled definitions or not at all (jsonschema-rs
would otherwise fetch an http(s) URL while compiling).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

from tools.errors import UserError
from tools.validate.checks import apis
from tools.validate.checks.base import Context, Report
from tools.validate.checks.crds import CrdSchema
from tools.validate.findings import Resource, json_path

DEFINITIONS_URI = "https://kubernetes.io/api/_definitions.json"


@cache
def bundled_root() -> Path:
    # Located, not imported: importing kubernetes_validate pulls in jsonschema (~50 ms).
    import importlib.util

    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - declared
        raise UserError(
            "the kubernetes-validate package (bundled Kubernetes schemas) is not installed",
            hint="pip install -e '.[tools]'",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"


def supported_versions() -> list[str]:
    found = []
    for entry in bundled_root().iterdir():
        match = re.fullmatch(r"v(\d+)\.(\d+)\.\d+-local-strict", entry.name)
        if match:
            found.append((int(match[1]), int(match[2])))
    return [f"{a}.{b}" for a, b in sorted(found)]


def schema_dir(version: str) -> Path:
    candidates = sorted(bundled_root().glob(f"v{version}.*-local-strict"))
    if not candidates:
        versions = supported_versions()
        span = f"{versions[0]}-{versions[-1]}" if versions else "none"
        raise UserError(
            f"no bundled Kubernetes schemas for version {version} (available: {span})",
            hint="pass --kubernetes-version with a supported MAJOR.MINOR",
        )
    return candidates[-1]


def is_builtin_group(group: str) -> bool:
    """Groups served by the Kubernetes API server itself (schemas come with the wheel)."""
    return group == "" or "." not in group or group.endswith(".k8s.io")


@dataclass
class Validator:
    validator: Any  # jsonschema_rs validator
    source: str


@dataclass
class SchemaStore:
    """Lazily compiled validators for one Kubernetes version plus registered CRDs."""

    kubernetes_version: str
    crds: dict[tuple[str, str], CrdSchema] = field(default_factory=dict)
    _root: Path | None = None
    _registry: Any = None
    _validators: dict[tuple[str, str], Validator | None] = field(default_factory=dict)
    broken: dict[tuple[str, str], str] = field(default_factory=dict)
    _files: dict[tuple[str, str], Path | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._root = schema_dir(self.kubernetes_version)

    @property
    def registry(self) -> Any:
        if self._registry is None:
            assert self._root is not None
            definitions = json.loads((self._root / "_definitions.json").read_text("utf-8"))
            self._registry = jsonschema_rs.Registry([(DEFINITIONS_URI, definitions)])
        return self._registry

    def add_crd(self, schema: CrdSchema) -> None:
        """Register a CRD version; the first registration of an (apiVersion, kind) wins."""
        key = (schema.api_version, schema.kind)
        self.crds.setdefault(key, schema)

    def builtin_schema_file(self, api_version: str, kind: str) -> Path | None:
        key = (api_version, kind)
        if key not in self._files:  # asked once per object: remember the answer per kind
            self._files[key] = self._find_builtin(api_version, kind)
        return self._files[key]

    def _find_builtin(self, api_version: str, kind: str) -> Path | None:
        assert self._root is not None
        group, _, version = api_version.rpartition("/")
        if not is_builtin_group(group):
            return None
        stem = kind.lower() + (f"-{group.split('.')[0]}" if group else "") + f"-{version}"
        path = self._root / f"{stem}.json"
        return path if path.is_file() else None

    def has_schema(self, api_version: str, kind: str) -> bool:
        return (api_version, kind) in self.crds or self.builtin_schema_file(
            api_version, kind
        ) is not None

    def validator(self, api_version: str, kind: str) -> Validator | None:
        """The compiled validator, or None if there is no (usable) schema for this kind."""
        key = (api_version, kind)
        if key in self._validators:
            return self._validators[key]
        compiled: Validator | None = None
        crd = self.crds.get(key)
        try:
            if crd is not None:
                compiled = Validator(
                    jsonschema_rs.validator_for(crd.schema, registry=self.registry, offline=True),
                    crd.source,
                )
            else:
                path = self.builtin_schema_file(api_version, kind)
                if path is not None:
                    schema = json.loads(path.read_text("utf-8"))
                    compiled = Validator(
                        jsonschema_rs.validator_for(schema, registry=self.registry, offline=True),
                        f"kubernetes {self.kubernetes_version}",
                    )
        except (ValueError, jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError) as exc:
            source = crd.source if crd is not None else api_version
            self.broken[key] = f"schema for {kind} {api_version} from {source} is invalid: {exc}"
        self._validators[key] = compiled
        return compiled


def check_object(resource: Resource, context: Context, report: Report) -> None:
    """API removals and deprecations, then the object against its schema (20 errors at most)."""
    api_version, kind = resource.api_version, resource.kind
    version = context.options.kubernetes_version
    change = apis.status(api_version, kind, version)
    if change is not None:
        state, message = change
        report(
            resource,
            "error" if state == "removed" else "warning",
            f"api-{state}",
            f"{resource.ref}: {message}",
            ("apiVersion",),
        )
        if state == "removed":
            return
    store = context.schemas
    validator = store.validator(api_version, kind)
    if validator is None:
        broken = store.broken.get((api_version, kind))
        if broken:
            report(resource, "error", "crd-schema", broken, ("kind",))
            return
        group = resource.group
        where = (
            f"Kubernetes {version}"
            if is_builtin_group(group)
            else "the CRDs given (--crd-dir/--crd-url)"
        )
        report(
            resource,
            "warning" if context.options.ignore_missing_schemas else "error",
            "schema-missing",
            f"{resource.ref}: no schema for {kind} {api_version} in {where}",
            ("kind",),
            hint=None if is_builtin_group(group) else "add the CRD with --crd-dir",
        )
        return
    crd = store.crds.get((api_version, kind))
    if crd is not None and crd.deprecated:
        report(
            resource,
            "warning",
            "api-deprecated",
            f"{resource.ref}: {crd.deprecation_warning or f'{api_version} {kind} is deprecated'}",
            ("apiVersion",),
        )
    try:
        errors = list(validator.validator.iter_errors(resource.obj))
    except (ValueError, OverflowError) as exc:
        report(resource, "error", "schema", f"{resource.ref}: cannot validate: {exc}")
        return
    for error in errors[:20]:
        parts = list(error.instance_path)
        unexpected = _unknown_fields(error)
        if not unexpected:
            message = f"{resource.ref}: {json_path(parts)}: {error.message}"
            report(resource, "error", "schema", message, parts)
        for key in unexpected:  # each at its own key, not at the object that holds it
            message = f"{resource.ref}: {json_path([*parts, key])}: unknown field {key!r}"
            report(resource, "error", "schema", message, [*parts, key])


def _unknown_fields(error: Any) -> list[str]:
    """The keys an ``additionalProperties: false`` error names (empty for other errors)."""
    kind = getattr(error, "kind", None)
    if type(kind).__name__ != "AdditionalProperties":
        return []
    unexpected = getattr(kind, "unexpected", None)
    return [k for k in unexpected if isinstance(k, str)] if isinstance(unexpected, list) else []
