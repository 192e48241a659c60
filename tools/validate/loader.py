"""Strict YAML/JSON loading: duplicate keys and syntax errors become findings with a line.

PyYAML's libyaml-backed loader does the parsing; the only additions are a duplicate-key check
while mappings are constructed, dates kept as strings (Kubernetes has no date type), and the
start line of every document. Lines for a path *inside* a document are looked up lazily
(:func:`line_for_path`) by composing the file again, only for documents that have findings.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tools.validate.findings import Finding, Resource

# Files above this size are reported instead of parsed: nobody commits a 10 MiB manifest on
# purpose, and parsing one would dominate the run.
MAX_FILE_BYTES = 10 * 1024 * 1024

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DuplicateKeyError(yaml.MarkedYAMLError):  # type: ignore[misc]
    pass


class _Unusual(Exception):
    """A document the fast path of :class:`StrictLoader` leaves to PyYAML."""


_YAML = "tag:yaml.org,2002:"
_STR, _INT, _BOOL, _NULL, _FLOAT = (_YAML + t for t in ("str", "int", "bool", "null", "float"))
_MAP, _SEQ, _MERGE = _YAML + "map", _YAML + "seq", _YAML + "merge"
_PLAIN_TAGS: dict[str, str] = {}  # plain scalar text -> resolved tag (StrictLoader.resolve)
_PLAIN_TAGS_MAX = 50_000
_AS_STRING = frozenset({_YAML + "timestamp", _YAML + "value"})  # see the constructors below


class StrictLoader(_Loader):  # type: ignore[misc]
    """Safe loader that rejects duplicate mapping keys and keeps timestamps as strings."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.document_lines: list[int] = []

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        # Cheap path first: without merge keys, a mapping has duplicates exactly when the
        # constructed dict is smaller than the node; only then look for the culprit.
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]
        pairs = len(node.value)
        if any(k.tag == "tag:yaml.org,2002:merge" for k, _ in node.value):
            # Merged keys may be overridden; only the mapping's own keys must be unique.
            _check_duplicates(node)
            return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        if len(mapping) != pairs:
            _check_duplicates(node)
        return mapping

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        # The tag of a plain scalar depends only on its text (the loader has no path
        # resolvers), and manifests repeat the same keys and values over and over.
        if kind is yaml.ScalarNode and implicit[0] and not self.yaml_path_resolvers:
            tag = _PLAIN_TAGS.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(_PLAIN_TAGS) < _PLAIN_TAGS_MAX and len(value) <= 64:
                    _PLAIN_TAGS[value] = tag
            return tag
        return super().resolve(kind, value, implicit)  # type: ignore[no-any-return]

    def construct_document(self, node: yaml.Node) -> Any:
        self.document_lines.append(node.start_mark.line + 1)
        try:
            return self._plain(node, {})
        except _Unusual:
            return super().construct_document(node)

    def _plain(self, node: yaml.Node, built: dict[int, Any]) -> Any:
        """The object of a document that uses only plain maps, lists and the JSON scalars.

        PyYAML builds every object through generators so that anchors can make structures
        refer to themselves; Kubernetes manifests never need that, and a direct recursive
        build is faster. An alias gets the object built for its anchor, as in PyYAML
        (*built*: id of node -> object, None while it is being built). Anything else — a
        recursive alias, a merge key, a duplicate key, any other tag — raises
        :class:`_Unusual` and the document is built the PyYAML way, so results and errors are
        exactly PyYAML's.
        """
        kind = type(node)
        tag = node.tag
        if kind is yaml.ScalarNode:
            if tag == _STR:
                return node.value
            if tag == _INT:
                return self.construct_yaml_int(node)
            if tag == _BOOL:
                return self.construct_yaml_bool(node)
            if tag == _NULL:
                return None
            if tag == _FLOAT:
                return self.construct_yaml_float(node)
            if tag in _AS_STRING:
                return str(node.value)
            raise _Unusual
        key = id(node)
        if key in built:
            if built[key] is None:
                raise _Unusual  # an alias inside its own anchor: a recursive structure
            return built[key]
        built[key] = None
        result: Any
        if kind is yaml.MappingNode and tag == _MAP:
            result = {}
            for key_node, value_node in node.value:
                if type(key_node) is not yaml.ScalarNode or key_node.tag == _MERGE:
                    raise _Unusual
                result[self._plain(key_node, built)] = self._plain(value_node, built)
            if len(result) != len(node.value):
                raise _Unusual  # a duplicate key: reported the PyYAML way, in its order
        elif kind is yaml.SequenceNode and tag == _SEQ:
            result = [self._plain(item, built) for item in node.value]
        else:
            raise _Unusual
        built[key] = result
        return result


def _check_duplicates(node: yaml.MappingNode) -> None:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = key_node.value
        if key in seen:
            raise DuplicateKeyError(
                "while constructing a mapping",
                node.start_mark,
                f"duplicate key {key!r} (first defined on line {seen[key].start_mark.line + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node


def _as_string(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(node.value)


StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _as_string)
# A bare "=" is a YAML 1.1 "value" tag in PyYAML; Kubernetes treats it as a string.
StrictLoader.add_constructor("tag:yaml.org,2002:value", _as_string)


@dataclass
class Parsed:
    resources: list[Resource]
    findings: list[Finding]


def _parse_finding(file: str, message: str, line: int | None = None) -> Finding:
    return Finding(severity="error", rule="parse", message=message, file=file, line=line)


def read_text(path: Path, shown: str) -> tuple[str | None, Finding | None]:
    """The file's text, or a finding saying why it cannot be validated."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, _parse_finding(
                shown,
                f"file is {size / 1048576:.1f} MiB, over the {MAX_FILE_BYTES // 1048576} MiB "
                "limit for manifests",
            )
        data = path.read_bytes()
    except OSError as exc:
        return None, _parse_finding(shown, f"cannot read file: {exc.strerror or exc}")
    if b"\x00" in data[:8192]:
        return None, _parse_finding(shown, "binary file, not YAML or JSON")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, _parse_finding(shown, f"not UTF-8 text (byte {exc.start})")


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
    loader = StrictLoader(text)
    index = 0
    try:
        while loader.check_data():
            obj = loader.get_data()
            line = loader.document_lines[-1] if loader.document_lines else 1
            doc_index = index
            index += 1
            if obj is None:
                continue
            if isinstance(obj, list) and file.endswith(".json"):
                items = obj  # a JSON array of objects
            elif (
                isinstance(obj, dict)
                and obj.get("kind") == "List"
                and isinstance(obj.get("items"), list)
            ):
                items = obj["items"]
            else:
                items = [obj]
            for item in items:
                problem = _shape_problem(item)
                if problem:
                    findings.append(_parse_finding(file, problem, line))
                    continue
                resources.append(Resource(item, file, doc_index, line, rendered_from))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        error_line = mark.line + 1 if mark is not None else None
        detail = exc.problem or exc.context or "syntax error"
        what = "invalid YAML" if not isinstance(exc, DuplicateKeyError) else None
        findings.append(
            Finding(
                severity="error",
                rule="duplicate-key" if isinstance(exc, DuplicateKeyError) else "parse",
                message=f"{what}: {detail}" if what else detail,
                file=file,
                line=error_line,
            )
        )
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        findings.append(_parse_finding(file, f"invalid YAML: {exc}"))
    finally:
        loader.dispose()
    return Parsed(resources, findings)


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
        return Parsed([], [_parse_finding(file, f"invalid JSON: {exc.msg}", exc.lineno)])
    except RecursionError:
        return Parsed([], [_parse_finding(file, "invalid JSON: nested too deeply")])
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
            resources.append(Resource(item, file, 0, 1, rendered_from))
    return Parsed(resources, findings)


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


@functools.lru_cache(maxsize=256)
def _composed(path: str, signature: tuple[int, int]) -> tuple[yaml.Node | None, ...]:
    try:
        text = Path(path).read_text(encoding="utf-8")
        return tuple(yaml.compose_all(text, Loader=_Loader))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return ()


def documents(path: str) -> tuple[yaml.Node | None, ...]:
    """The composed documents of a file (cached while the file is unchanged)."""
    try:
        stat = Path(path).stat()
    except OSError:
        return ()
    if stat.st_size > MAX_FILE_BYTES:
        return ()
    return _composed(path, (stat.st_mtime_ns, stat.st_size))


def node_line(node: yaml.Node, parts: list[str | int]) -> int:
    """Line of the deepest node along *parts* (1-based)."""
    current = node
    line: int = node.start_mark.line + 1
    for part in parts:
        child: yaml.Node | None = None
        if isinstance(current, yaml.MappingNode) and isinstance(part, str):
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode) and key.value == part:
                    child = value
                    line = int(key.start_mark.line) + 1
                    break
        elif (
            isinstance(current, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(current.value)
        ):
            child = current.value[part]
            line = int(child.start_mark.line) + 1
        if child is None:
            break
        current = child
    return line


def line_for_path(path: str, doc_index: int, parts: list[str | int]) -> int | None:
    docs = documents(path)
    if not 0 <= doc_index < len(docs) or docs[doc_index] is None:
        return None
    node = docs[doc_index]
    assert node is not None
    return int(node_line(node, parts))
