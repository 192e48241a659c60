"""Manifests from YAML/JSON text: objects become resources, everything wrong a finding.

The YAML is read by :mod:`tools.yamlfile` (strict and bounded: duplicate keys, non-string keys,
alias expansion and decoded size are findings with a line). Lines for a path *inside* a
document are looked up lazily (:func:`line_for_path`) by composing the file again, only for
documents that have findings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools import yamlfile
from tools.validate import defaults
from tools.validate.findings import Finding, Resource


@dataclass
class Parsed:
    resources: list[Resource]
    findings: list[Finding]
    decoded: int = 0  # decoded size of the text (yamlfile: aliases expanded)


def _parse_finding(
    file: str, message: str, line: int | None = None, column: int | None = None
) -> Finding:
    return Finding("error", "parse", message, file=file, line=line, column=column)


def read_text(path: Path, shown: str) -> tuple[str | None, Finding | None]:
    """The file's text, or a finding saying why it cannot be validated."""
    try:
        return yamlfile.read_text(path), None
    except yamlfile.YamlError as exc:
        return None, _parse_finding(shown, exc.message)


def parse_text(text: str, file: str, *, rendered_from: str | None = None) -> Parsed:
    """All objects in a multi-document YAML (or JSON) stream; errors become findings.

    Documents before a syntax error are kept: the error is reported once, with its line.
    Empty documents are skipped; non-mapping documents and documents without
    apiVersion/kind are findings.
    """
    if file.endswith(".json"):
        return _parse_json(text, file, rendered_from)
    resources: list[Resource] = []
    findings: list[Finding] = []
    reader = yamlfile.Reader(text)
    try:
        for doc_index, document in enumerate(reader):
            for problem in document.problems:
                findings.append(
                    Finding(
                        "error",
                        problem.rule,
                        problem.message,
                        file=file,
                        line=problem.line,
                        column=problem.column,
                    )
                )
            obj = document.value
            if obj is None:
                continue
            if (
                isinstance(obj, dict)
                and obj.get("kind") == "List"
                and isinstance(obj.get("items"), list)
            ):
                items = obj["items"]
            else:
                items = [obj]
            for item in items:
                problem_text = _shape_problem(item)
                if problem_text:
                    findings.append(
                        _parse_finding(file, problem_text, document.line, document.column)
                    )
                    continue
                defaults.apply(item)
                resources.append(Resource(item, file, doc_index, document.line, rendered_from))
    except yamlfile.YamlError as exc:
        findings.append(
            Finding("error", exc.rule, exc.message, file=file, line=exc.line, column=exc.column)
        )
    return Parsed(resources, findings, reader.decoded)


class _DuplicateJsonKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateJsonKey(key)
        out[key] = value
    return out


def _parse_json(text: str, file: str, rendered_from: str | None) -> Parsed:
    """JSON files go through the json module (PyYAML rejects some valid JSON escapes)."""
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateJsonKey as exc:
        return Parsed([], [Finding("error", "duplicate-key", f"duplicate key {exc}", file=file)])
    except json.JSONDecodeError as exc:
        return Parsed([], [_parse_finding(file, f"invalid JSON: {exc.msg}", exc.lineno, exc.colno)])
    except RecursionError:
        return Parsed([], [_parse_finding(file, "invalid JSON: nested too deeply")])
    decoded = len(text)
    items = data if isinstance(data, list) else [data]
    if (
        isinstance(data, dict)
        and data.get("kind") == "List"
        and isinstance(data.get("items"), list)
    ):
        items = data["items"]
    resources: list[Resource] = []
    findings: list[Finding] = []
    for item in items:
        problem = _shape_problem(item)
        if problem:
            findings.append(_parse_finding(file, problem, 1))
        else:
            defaults.apply(item)
            resources.append(Resource(item, file, 0, 1, rendered_from))
    return Parsed(resources, findings, decoded)


def _shape_problem(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return f"document is a {type(obj).__name__}, not a Kubernetes object"
    missing = [k for k in ("apiVersion", "kind") if not isinstance(obj.get(k), str) or not obj[k]]
    if missing:
        return f"document has no {' or '.join(missing)}"
    if not all(isinstance(k, str) for k in obj):
        return "document has non-string keys"
    return None


def parse_file(path: Path, shown: str) -> Parsed:
    text, problem = read_text(path, shown)
    if text is None:
        return Parsed([], [problem] if problem else [])
    return parse_text(text, shown)


def documents(path: str) -> tuple[Any, ...]:
    """The composed documents of a file (cached while the file is unchanged)."""
    return yamlfile.compose_file(path)


def mark_for_path(path: str, doc_index: int, parts: list[str | int]) -> tuple[int, int] | None:
    """(line, column), 1-based, of the key or item at *parts* (or its nearest existing parent)."""
    docs = documents(path)
    if not 0 <= doc_index < len(docs) or docs[doc_index] is None:
        return None
    return yamlfile.mark(docs[doc_index], parts)


def line_for_path(path: str, doc_index: int, parts: list[str | int]) -> int | None:
    found = mark_for_path(path, doc_index, parts)
    return found[0] if found else None
