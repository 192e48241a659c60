"""Manifests from YAML/JSON text: objects become resources, everything wrong a finding.

The YAML is read by :mod:`tools.yamlfile` (strict and bounded: duplicate keys, non-string keys,
alias expansion and decoded size are findings with a line). Objects of a manifest file keep the
marks of that one parse (``Resource.marks``: where every key and list item is), so the line of a
path *inside* a document is a lookup; for files read without them (JSON, kustomize sources)
:func:`mark_for_path` composes the file again, only for documents that have findings.

A large file can be read in pieces of whole documents (:func:`pieces`), each piece by another
worker: :func:`join` puts the pieces back together as if the file had been read at once.
"""

from __future__ import annotations

import json
import re
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
    documents: int = 0  # documents read, empty ones included
    stopped: bool = False  # reading ended at an error (the documents after it are not read)


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


def parse_text(
    text: str,
    file: str,
    *,
    rendered_from: str | None = None,
    marks: bool = False,
    first_line: int = 1,
) -> Parsed:
    """All objects in a multi-document YAML (or JSON) stream; errors become findings.

    Documents before a syntax error are kept: the error is reported once, with its line.
    Empty documents are skipped; non-mapping documents and documents without
    apiVersion/kind are findings. With *marks* every object keeps the marks of its document
    (``Resource.marks``, for :func:`tools.validate.origins.locate`). *first_line* is the line
    of the file *text* starts on (a piece of a larger file).
    """
    if file.endswith(".json"):
        return _parse_json(text, file, rendered_from)
    resources: list[Resource] = []
    findings: list[Finding] = []
    reader = yamlfile.Reader(text, marks=marks)
    shift = first_line - 1
    documents = 0
    stopped = False
    try:
        for doc_index, document in enumerate(reader):
            documents = doc_index + 1
            for problem in document.problems:
                line = problem.line + shift
                findings.append(
                    Finding(
                        "error",
                        problem.rule,
                        problem.message,
                        file=file,
                        line=line,
                        column=problem.column,
                    )
                )
            table = document.marks
            if table is not None:
                table.offset = shift
            obj = document.value
            if obj is None:
                continue
            if (
                isinstance(obj, dict)
                and obj.get("kind") == "List"
                and isinstance(obj.get("items"), list)
            ):
                items = obj["items"]
                table = None  # a path of an item is looked up from the List's start
            else:
                items = [obj]
            line = document.line + shift
            for item in items:
                problem_text = _shape_problem(item)
                if problem_text:
                    findings.append(_parse_finding(file, problem_text, line, document.column))
                    continue
                defaults.apply(item)
                resources.append(Resource(item, file, doc_index, line, rendered_from, None, table))
    except yamlfile.YamlError as exc:
        at = exc.line + shift if exc.line is not None else None
        findings.append(
            Finding("error", exc.rule, exc.message, file=file, line=at, column=exc.column)
        )
        stopped = True
    return Parsed(resources, findings, reader.decoded, documents, stopped)


# A document marker at the start of a line; the YAML grammar allows it nowhere else there (a
# quoted scalar or flow collection across it is an error either way, see join).
_DOCUMENT_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)
# What pieces would read differently: directives and document end markers (which belong to
# the next or previous document), and line breaks other than \n and \r\n (libyaml counts them,
# str.count("\n") would not).
_WHOLE = re.compile(r"^(%|\.\.\.(?=[ \t\r\n]|$))|\x85|\u2028|\u2029|\r(?!\n)", re.MULTILINE)


def pieces(text: str, size: int) -> list[tuple[int, str]]:
    """(first line, text) of consecutive pieces of whole documents of about *size* characters
    (at least one); ``[(1, text)]`` when the text should be read at once."""
    if len(text) < 2 * size or _WHOLE.search(text):
        return [(1, text)]
    out: list[tuple[int, str]] = []
    start, line = 0, 1
    for match in _DOCUMENT_START.finditer(text):
        cut = match.start()
        if cut - start >= size:
            out.append((line, text[start:cut]))
            line += text.count("\n", start, cut)
            start = cut
    out.append((line, text[start:]))
    return out


def join(parts: list[Parsed]) -> Parsed | None:
    """The pieces of one file (in order) as one :class:`Parsed`, documents numbered across
    the file; None when the file must be read at once to say the same (a piece stopped at an
    error, which may read differently in the whole file, or the decoded size of the whole
    is over the limit for one file)."""
    if any(p.stopped for p in parts):
        return None
    decoded = sum(p.decoded for p in parts)
    if decoded > yamlfile.MAX_DECODED_BYTES:
        return None
    joined = Parsed([], [], decoded)
    for part in parts:
        for resource in part.resources:
            resource.doc_index += joined.documents
        joined.resources.extend(part.resources)
        joined.findings.extend(part.findings)
        joined.documents += part.documents
    return joined


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
    return Parsed(resources, findings, decoded, 1)


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
    """:func:`parse_text` of a manifest file, its objects with their marks."""
    text, problem = read_text(path, shown)
    if text is None:
        return Parsed([], [problem] if problem else [])
    return parse_text(text, shown, marks=True)


def documents(path: str) -> tuple[Any, ...]:
    """The composed documents of a file (cached while the file is unchanged)."""
    return yamlfile.compose_file(path)


def mark_for_path(path: str, doc_index: int, parts: list[str | int]) -> tuple[int, int] | None:
    """(line, column), 1-based, of the key or item at *parts* (or its nearest existing parent)
    in a document of a file, composing the file again (see Resource.marks for the fast way)."""
    docs = documents(path)
    if not 0 <= doc_index < len(docs) or docs[doc_index] is None:
        return None
    return yamlfile.mark(docs[doc_index], parts)


def line_for_path(path: str, doc_index: int, parts: list[str | int]) -> int | None:
    found = mark_for_path(path, doc_index, parts)
    return found[0] if found else None
