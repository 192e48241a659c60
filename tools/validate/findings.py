"""The data ``gitops validate`` works on: resources in, findings and a report out."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from tools.yamlfile import Marks

from tools.validate.rules import RuleDoc

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class ResourceRef:
    """How a finding names a Kubernetes object."""

    apiVersion: str
    kind: str
    namespace: str | None
    name: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": self.apiVersion,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


@dataclass
class Finding:
    """One problem. ``file`` is relative to the repository root when it lies inside it."""

    severity: Severity
    rule: str
    message: str
    resource: ResourceRef | None = None
    file: str | None = None
    line: int | None = None
    path: str | None = None  # JSONPath-like location inside the object, e.g. $.spec.replicas
    hint: str | None = None
    column: int | None = None  # 1-based, of the offending key or item, where the file has one

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "rule": self.rule,
            "message": self.message,
            "resource": self.resource.to_dict() if self.resource else None,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "hint": self.hint,
        }

    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.file or "", self.line or 0, self.rule, self.message)


@dataclass
class Resource:
    """One Kubernetes object plus where it came from.

    ``file``/``doc_index``/``line`` locate the object in the file it was parsed from (for rendered
    objects: the kustomize output, until :mod:`tools.validate.origins` maps it to its source).
    """

    obj: dict[str, Any]
    file: str
    doc_index: int
    line: int
    rendered_from: str | None = None  # kustomization directory (repo-relative) if rendered
    origin: str | None = None  # absolute source path from kustomize's origin annotation
    # Line and column of every path of the document, taken when it was parsed (plain files)
    marks: Marks | None = None

    # The identity strings are read tens of thousands of times by the reference checks:
    # computed once. (Nothing changes an object's apiVersion, kind, name or namespace after
    # parsing; ``metadata`` stays a live view because origins.py edits the annotations.)
    @cached_property
    def api_version(self) -> str:
        value = self.obj.get("apiVersion")
        return value if isinstance(value, str) else ""

    @cached_property
    def kind(self) -> str:
        value = self.obj.get("kind")
        return value if isinstance(value, str) else ""

    @property
    def metadata(self) -> dict[str, Any]:
        value = self.obj.get("metadata")
        return value if isinstance(value, dict) else {}

    @cached_property
    def name(self) -> str:
        value = self.metadata.get("name")
        return value if isinstance(value, str) else ""

    @cached_property
    def namespace(self) -> str | None:
        value = self.metadata.get("namespace")
        return value if isinstance(value, str) else None

    @cached_property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def ref(self) -> ResourceRef:
        return ResourceRef(self.api_version, self.kind, self.namespace, self.name)


@dataclass
class Summary:
    resources: int = 0
    files: int = 0
    errors: int = 0
    warnings: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "resources": self.resources,
            "files": self.files,
            "errors": self.errors,
            "warnings": self.warnings,
        }


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    summary: Summary = field(default_factory=Summary)
    # rule id -> its description, for every rule with a finding (SARIF's rules)
    rules: dict[str, RuleDoc] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.to_dict() for f in self.findings],
            "summary": self.summary.to_dict(),
        }


def json_path(parts: list[str | int] | tuple[str | int, ...]) -> str:
    """``["spec", "containers", 0, "image"]`` -> ``$.spec.containers[0].image``."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.replace("_", "").replace("-", "").isalnum() and "." not in part:
            out += f".{part}"
        else:
            escaped = part.replace("'", "\\'")
            out += f"['{escaped}']"
    return out


def parse_json_path(path: str) -> list[str | int]:
    """Inverse of :func:`json_path` (best effort; unknown syntax stops the walk)."""
    parts: list[str | int] = []
    i = 1 if path.startswith("$") else 0
    while i < len(path):
        ch = path[i]
        if ch == ".":
            j = i + 1
            while j < len(path) and path[j] not in ".[":
                j += 1
            parts.append(path[i + 1 : j])
            i = j
        elif ch == "[":
            end = path.find("]", i)
            if end < 0:
                break
            inner = path[i + 1 : end]
            if inner.startswith("'") and inner.endswith("'"):
                parts.append(inner[1:-1].replace("\\'", "'"))
            elif inner.isdigit():
                parts.append(int(inner))
            else:
                parts.append(inner)
            i = end + 1
        else:
            break
    return parts
