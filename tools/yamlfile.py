"""The one YAML reader of this repository: strict, bounded, and able to say where things are.

Every tool that reads YAML goes through here (ruamel.yaml is used only to edit a file in place,
keeping its comments: tools/images.py). libyaml does the parsing, through PyYAML's
``CSafeLoader``; on top of it:

* **duplicate keys** are an error naming both lines (:class:`YamlError`, rule
  ``duplicate-key``), as ``kubectl apply`` would otherwise silently keep the last one;
* **non-string keys** (``5:``, ``3.14:``, ``true:``) are what Kubernetes' decoder turns into
  strings; here they are reported (:class:`KeyProblem`, rule ``non-string-key``) and kept as the
  text written; a ``null`` or a collection as a key is an error, as it is for Kubernetes;
* **alias expansion** is bounded by the rule of the YAML decoder Kubernetes uses
  (go-yaml, ``decode.go``): every value the decoder materializes counts, values under an alias
  count as aliased, and once more than 100 are aliased and more than 1,000 decoded, the aliased
  share may not exceed 99 % up to 400,000 decoded values, falling linearly to 10 % at 4,000,000
  (:func:`allowed_alias_ratio`). An anchor that contains its own alias is an error too. A 1 KB
  "billion laughs" file is therefore an error after a few thousand values, not 24 GB of objects;
* **decoded size** is budgeted: a document's size is the length of its text plus, for every
  alias, the size of what it repeats (characters of its scalars plus one per value). Past
  :data:`MAX_DECODED_BYTES` for one file (or one kustomize render) reading stops with rule
  ``yaml-size``; callers that read many files enforce :data:`MAX_TOTAL_DECODED_BYTES` with
  :class:`Budget`. Files over :data:`MAX_FILE_BYTES` are not read at all. Nesting deeper than
  libyaml's limit (1,000 levels) is a syntax error;
* **marks**: every error carries a 1-based line and column. A :class:`Reader` asked for
  ``marks`` keeps, from the one parse, the line and column of every key and list item of each
  plain document in a compact table (:class:`Marks`), so finding where a path is costs a
  lookup, not a second parse; :func:`compose_all` and :func:`mark` do the same from composed
  nodes for files that were not read that way (JSON, rendered sources).

Timestamps stay strings (Kubernetes has no timestamp type) and so does a bare ``=``.
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MIB = 1024 * 1024
MAX_FILE_BYTES = 10 * MIB  # a file larger than this is refused unread
MAX_DECODED_BYTES = 64 * MIB  # one file or one render, aliases expanded
MAX_TOTAL_DECODED_BYTES = 512 * MIB  # everything one run reads (see Budget)

# go-yaml's alias rule (decode.go: allowedAliasRatio and the check in decoder.unmarshal)
ALIAS_RATIO_RANGE_LOW = 400_000
ALIAS_RATIO_RANGE_HIGH = 4_000_000
ALIAS_MIN_ALIASED = 100  # the check applies once more values than this come from aliases
ALIAS_MIN_DECODED = 1_000  # ... and more than this were decoded in all

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_YAML = "tag:yaml.org,2002:"
_STR, _INT, _BOOL, _NULL, _FLOAT = (_YAML + t for t in ("str", "int", "bool", "null", "float"))
_MAP, _SEQ, _MERGE = _YAML + "map", _YAML + "seq", _YAML + "merge"
_PLAIN_TAGS: dict[str, str] = {}  # plain scalar text -> resolved tag (StrictLoader.resolve)
_PLAIN_TAGS_MAX = 50_000
_AS_STRING = frozenset({_YAML + "timestamp", _YAML + "value"})  # see the constructors below
_KEY_KINDS = {_INT: "an integer", _FLOAT: "a float", _BOOL: "a boolean"}


class YamlError(ValueError):
    """Text that is not acceptable YAML; ``line``/``column`` are 1-based when known.

    ``rule`` says which check refused it: ``parse`` (syntax, encoding, size of the file),
    ``duplicate-key``, ``non-string-key``, ``yaml-aliases`` or ``yaml-size``.
    """

    def __init__(
        self,
        message: str,
        *,
        rule: str = "parse",
        line: int | None = None,
        column: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.rule = rule
        self.line = line
        self.column = column

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else ""
        if where and self.column:
            where += f", column {self.column}"
        return f"{self.message} ({where})" if where else self.message


@dataclass(frozen=True)
class KeyProblem:
    """A mapping key that YAML reads as a number or boolean: kept as the text written."""

    message: str
    line: int
    column: int
    rule: str = "non-string-key"


@dataclass
class Document:
    """One document of a stream: its value, where it starts, its key problems, and (when the
    :class:`Reader` was asked for them and the document is plain) the marks of its paths."""

    value: Any
    line: int
    column: int
    problems: list[KeyProblem]
    marks: Marks | None = None


class Marks:
    """Where every key and list item of one document is: a table taken while it was built.

    The table holds three integers per node of the document, in document order (pre-order):
    the 1-based line and column of the node's key (for a mapping value) or of the node itself
    (a list item, the document), and the index of the entry after the node's subtree. An alias
    to a list or mapping is a leaf whose third integer is ``-1 - entry of its anchor``. The
    node's key names are not stored: the value built from the document has the same keys in
    the same order (anything that adds keys later appends them, and a path through an added
    key stops at the nearest parent the file has, as :func:`mark` does). ``offset`` is added
    to every line (a document read from a piece of a larger file).
    """

    __slots__ = ("offset", "table")

    def __init__(self, table: array[int], offset: int = 0) -> None:
        self.table = table
        self.offset = offset

    def __getstate__(self) -> tuple[array[int], int]:
        return self.table, self.offset

    def __setstate__(self, state: tuple[array[int], int]) -> None:
        self.table, self.offset = state

    def __len__(self) -> int:
        return len(self.table) // 3

    def find(self, value: Any, parts: Sequence[str | int]) -> tuple[int, int]:
        """(line, column), 1-based, of the deepest key or item along *parts* in *value* (the
        object built from this document): the same answer as :func:`mark` on its node."""
        table = self.table
        entry = 0
        current = value
        for part in parts:
            end = table[3 * entry + 2]
            holder = entry
            if end < 0:  # an alias: its children are the anchor's
                holder = -1 - end
                end = table[3 * holder + 2]
            child = holder + 1
            found = -1
            if isinstance(current, dict) and isinstance(part, str):
                for key in current:
                    if child >= end:
                        break
                    if key == part:
                        found = child
                        break
                    after = table[3 * child + 2]
                    child = after if after >= 0 else child + 1
            elif isinstance(current, list) and isinstance(part, int) and part >= 0:
                index = 0
                while child < end and index < part:
                    after = table[3 * child + 2]
                    child = after if after >= 0 else child + 1
                    index += 1
                if child < end and index < len(current):
                    found = child
            if found < 0:
                break
            entry = found
            current = current[part]
        return table[3 * entry] + self.offset, table[3 * entry + 1]


def allowed_alias_ratio(decoded: int) -> float:
    """The share of decoded values that may come from aliases (go-yaml's allowedAliasRatio)."""
    if decoded <= ALIAS_RATIO_RANGE_LOW:
        return 0.99
    if decoded >= ALIAS_RATIO_RANGE_HIGH:
        return 0.10
    span = ALIAS_RATIO_RANGE_HIGH - ALIAS_RATIO_RANGE_LOW
    return 0.99 - 0.89 * ((decoded - ALIAS_RATIO_RANGE_LOW) / span)


def _excessive(decoded: int, aliased: int) -> bool:
    return (
        aliased > ALIAS_MIN_ALIASED
        and decoded > ALIAS_MIN_DECODED
        and aliased / decoded > allowed_alias_ratio(decoded)
    )


class _Expansion:
    """Counts what decoding one document would materialize, without materializing it.

    The walk visits every node once: an alias (in a composed PyYAML graph, a node reached
    again) adds the memoized size of its subtree in one step. That is exact for the go-yaml
    check: while an alias is expanded both counters grow, so the aliased share only rises and
    the allowed share only falls, and the check fails by the end of the alias if at all; outside
    aliases every value is checked as go-yaml checks it.
    """

    def __init__(self) -> None:
        self.decoded = 1  # go-yaml counts the document node too
        self.aliased = 0
        self.added = 0  # size the aliases add to the text
        self._sizes: dict[int, tuple[int, int]] = {}  # node -> (values, size) when expanded
        self._open: set[int] = set()

    def visit(self, node: yaml.Node, under_alias: bool = False) -> tuple[int, int]:
        key = id(node)
        known = self._sizes.get(key)
        if known is not None or key in self._open:
            return self._alias(node, known, under_alias)
        self.decoded += 1
        self.aliased += under_alias
        if _excessive(self.decoded, self.aliased):
            raise _error_at(node, EXCESSIVE, "yaml-aliases")
        self._open.add(key)
        values, size = 1, 1
        if isinstance(node, yaml.ScalarNode):
            size += len(node.value)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                more, bigger = self.visit(item, under_alias)
                values, size = values + more, size + bigger
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                for child in (key_node, value_node):
                    more, bigger = self.visit(child, under_alias)
                    values, size = values + more, size + bigger
        self._open.discard(key)
        self._sizes[key] = (values, size)
        return values, size

    def _alias(
        self, node: yaml.Node, known: tuple[int, int] | None, under_alias: bool
    ) -> tuple[int, int]:
        if known is None:  # reached again while still inside it
            raise _error_at(node, "an anchor's value contains an alias to itself", "yaml-aliases")
        values, size = known
        self.decoded += 1 + values  # the alias itself, then everything it repeats
        self.aliased += under_alias + values
        self.added += size
        if _excessive(self.decoded, self.aliased):
            raise _error_at(node, EXCESSIVE, "yaml-aliases")
        return 1 + values, size


def _start(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


EXCESSIVE = "document contains excessive aliasing (more than Kubernetes' YAML decoder expands)"


def _error_at(node: yaml.Node, message: str, rule: str) -> YamlError:
    line, column = _start(node)
    return YamlError(message, rule=rule, line=line, column=column)


class _Unusual(Exception):
    """A document the fast path of :class:`StrictLoader` leaves to PyYAML."""


class StrictLoader(_Loader):  # type: ignore[misc]
    """libyaml's safe loader with the checks described in the module docstring."""

    # Build plain documents directly (see _plain); False builds every document the PyYAML
    # way, which gives the same results more slowly (tests compare the two).
    fast = True

    def __init__(
        self, stream: str, max_decoded: int = MAX_DECODED_BYTES, *, marks: bool = False
    ) -> None:
        super().__init__(stream)
        self.document_marks: list[tuple[int, int]] = []
        self.keep_marks = marks
        self.marks: Marks | None = None  # of the last document built, when keep_marks
        self._entries: dict[int, int] = {}  # id of an anchored node -> its entry in the table
        self.problems: list[KeyProblem] = []
        # Without an anchor there is no alias: nothing to count, and the decoded size is the
        # length of the text (the file-size limit bounds it).
        self.anchors = "&" in stream
        self.decoded = len(stream)
        self.max_decoded = max_decoded

    def construct_document(self, node: yaml.Node) -> Any:
        self.document_marks.append(_start(node))
        if self.anchors:
            expansion = _Expansion()
            expansion.visit(node)
            self.decoded += expansion.added
        if self.decoded > self.max_decoded:
            message = f"decoded size over {self.max_decoded // MIB} MiB (aliases expanded)"
            raise _error_at(node, message, "yaml-size")
        self.marks = None
        if self.fast:
            try:
                if not self.keep_marks:
                    return self._plain(node, {})
                line, column = self.document_marks[-1]
                table = [line, column, 1]
                self._entries.clear()
                value = self._plain(node, {}, table, 0)
                self.marks = Marks(array("i", table))
                return value
            except _Unusual:
                self.problems.clear()  # the PyYAML way reports them again
        return super().construct_document(node)

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        # Cheap path first: without merge keys, a mapping has duplicates exactly when the
        # constructed dict is smaller than the node; only then look for the culprit.
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]
        odd = [k for k, _ in node.value if k.tag != _STR and k.tag not in _AS_STRING]
        for key_node in odd:
            if key_node.tag not in _KEY_KINDS and key_node.tag != _MERGE:
                self._string_key(key_node)  # null, a list or a mapping: an error
        if any(k.tag == _MERGE for k, _ in node.value):
            # Merged keys may be overridden; only the mapping's own keys must be unique.
            _check_duplicates(node)
            mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        else:
            mapping = super().construct_mapping(node, deep=deep)
            if len(mapping) != len(node.value):
                _check_duplicates(node)
        if all(type(k) is str for k in mapping):
            return mapping
        key_nodes: dict[Any, yaml.Node] = {}  # a number or boolean key -> its node
        for key_node, _ in node.value:
            if key_node.tag in _KEY_KINDS:
                key_nodes.setdefault(self.construct_object(key_node), key_node)
        out: dict[Any, Any] = {}
        for key, value in mapping.items():
            if type(key) is not str:
                key_node = key_nodes[key]
                key = self._string_key(key_node)
                if key in mapping or key in out:
                    raise DuplicateKeyError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"duplicate key {key!r}",
                        key_node.start_mark,
                    )
            out[key] = value
        return out

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

    def _string_key(self, key_node: yaml.Node) -> str:
        """The text of a number or boolean key (reported); other keys cannot be strings."""
        kind = _KEY_KINDS.get(key_node.tag) if isinstance(key_node, yaml.ScalarNode) else None
        if kind is None:
            if isinstance(key_node, yaml.SequenceNode):
                what = "a list"
            elif isinstance(key_node, yaml.MappingNode):
                what = "a mapping"
            else:
                what = "null" if key_node.tag == _NULL else f"tagged {key_node.tag}"
            message = f"mapping key is {what}; Kubernetes objects need string keys"
            raise _error_at(key_node, message, "non-string-key")
        text = str(key_node.value)
        message = f"mapping key {text} is {kind} in YAML, not a string; quote it ('{text}')"
        self.problems.append(KeyProblem(message, *_start(key_node)))
        return text

    def _plain_key(self, key_node: yaml.Node) -> str:
        """A mapping key of the fast path as text; anything unusual goes the composed way."""
        if type(key_node) is not yaml.ScalarNode or key_node.tag == _MERGE:
            raise _Unusual
        key_tag = key_node.tag
        if key_tag == _STR or key_tag in _AS_STRING:
            return str(key_node.value)
        if key_tag in _KEY_KINDS or key_tag == _NULL:
            return self._string_key(key_node)
        raise _Unusual

    def _plain(
        self,
        node: yaml.Node,
        built: dict[int, Any],
        marks: list[int] | None = None,
        entry: int = 0,
    ) -> Any:
        """The object of a document that uses only plain maps, lists and the JSON scalars.

        PyYAML builds every object through generators so that anchors can make structures
        refer to themselves; Kubernetes manifests never need that, and a direct recursive
        build is faster. An alias gets the object built for its anchor, as in PyYAML
        (*built*: id of node -> object, None while it is being built). Anything else — a
        recursive alias, a merge key, a duplicate key, any other tag — raises
        :class:`_Unusual` and the document is built the PyYAML way, so results and errors are
        exactly PyYAML's.

        With *marks* (the table of :class:`Marks` being filled; *entry* is this node's, which
        the caller added as a leaf) the marks of the children are taken on the way.
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
            if marks is not None:
                marks[3 * entry + 2] = -1 - self._entries[key]
            return built[key]
        built[key] = None
        if marks is not None and self.anchors:
            self._entries[key] = entry
        result: Any
        if marks is not None:
            result = self._plain_marked(node, built, marks)
            marks[3 * entry + 2] = len(marks) // 3
        elif kind is yaml.MappingNode and tag == _MAP:
            result = {}
            plain_key = self._plain_key
            for key_node, value_node in node.value:
                name = plain_key(key_node)
                result[name] = self._plain(value_node, built)
            if len(result) != len(node.value):
                raise _Unusual  # a duplicate key: reported the PyYAML way, in its order
        elif kind is yaml.SequenceNode and tag == _SEQ:
            result = [self._plain(item, built) for item in node.value]
        else:
            raise _Unusual
        built[key] = result
        return result

    def _plain_marked(self, node: yaml.Node, built: dict[int, Any], marks: list[int]) -> Any:
        """:meth:`_plain` of a mapping or list, adding its children to *marks*."""
        kind = type(node)
        tag = node.tag
        plain = self._plain
        if kind is yaml.MappingNode and tag == _MAP:
            result: Any = {}
            plain_key = self._plain_key
            for key_node, value_node in node.value:
                name = plain_key(key_node)
                child = len(marks) // 3
                start = key_node.start_mark
                marks += (start.line + 1, start.column + 1, child + 1)
                result[name] = plain(value_node, built, marks, child)
            if len(result) != len(node.value):
                raise _Unusual
            return result
        if kind is yaml.SequenceNode and tag == _SEQ:
            result = []
            for item in node.value:
                child = len(marks) // 3
                start = item.start_mark
                marks += (start.line + 1, start.column + 1, child + 1)
                result.append(plain(item, built, marks, child))
            return result
        raise _Unusual


class DuplicateKeyError(yaml.MarkedYAMLError):  # type: ignore[misc]
    pass


def _check_duplicates(node: yaml.MappingNode) -> None:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE:
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


StrictLoader.add_constructor(_YAML + "timestamp", _as_string)
# A bare "=" is a YAML 1.1 "value" tag in PyYAML; Kubernetes treats it as a string.
StrictLoader.add_constructor(_YAML + "value", _as_string)


def _from_pyyaml(exc: yaml.YAMLError) -> YamlError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        detail = exc.problem or exc.context or "syntax error"
        if isinstance(exc, DuplicateKeyError):
            return YamlError(detail, rule="duplicate-key", line=line, column=column)
        return YamlError(f"invalid YAML: {detail}", line=line, column=column)
    return YamlError(f"invalid YAML: {exc}")


class Reader:
    """The documents of a YAML stream, one at a time; errors are :class:`YamlError`.

    ``decoded`` is the stream's decoded size so far. Documents before an error are yielded
    before it is raised.
    """

    def __init__(self, text: str, max_decoded: int = MAX_DECODED_BYTES, *, marks: bool = False):
        self.text = text
        self.max_decoded = max_decoded
        self.marks = marks
        self.decoded = len(text)

    def __iter__(self) -> Iterator[Document]:
        loader = StrictLoader(self.text, self.max_decoded, marks=self.marks)
        try:
            while loader.check_data():
                value = loader.get_data()
                self.decoded = loader.decoded
                line, column = loader.document_marks[-1] if loader.document_marks else (1, 1)
                yield Document(value, line, column, list(loader.problems), loader.marks)
                loader.problems.clear()
        except yaml.YAMLError as exc:
            raise _from_pyyaml(exc) from None
        except (ValueError, TypeError) as exc:  # e.g. an int too large for a float
            if isinstance(exc, YamlError):
                raise
            raise YamlError(f"invalid YAML: {exc}") from None
        except RecursionError:
            raise YamlError("invalid YAML: nested too deeply") from None
        finally:
            loader.dispose()


def load_all(text: str, *, string_keys: bool = True) -> list[Any]:
    """Every document's value (empty documents as None).

    With *string_keys* (the default) a number or boolean key is an error too, not only null
    and collection keys: Kubernetes objects, kustomizations, policy data and rule tests all
    have string keys.
    """
    out = []
    for document in Reader(text):
        if string_keys and document.problems:
            problem = document.problems[0]
            raise YamlError(
                problem.message, rule=problem.rule, line=problem.line, column=problem.column
            )
        out.append(document.value)
    return out


def load(text: str, *, string_keys: bool = True) -> Any:
    """The value of a single-document YAML text (None when empty)."""
    documents = load_all(text, string_keys=string_keys)
    if len(documents) > 1:
        raise YamlError("expected one YAML document, found several")
    return documents[0] if documents else None


def read_text(path: Path) -> str:
    """A YAML (or JSON) file's text: not over :data:`MAX_FILE_BYTES`, not binary, UTF-8."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise YamlError(
                f"file is {size / MIB:.1f} MiB, over the {MAX_FILE_BYTES // MIB} MiB "
                "limit for manifests"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise YamlError(f"cannot read file: {exc.strerror or exc}") from None
    if b"\x00" in data[:8192]:
        raise YamlError("binary file, not YAML or JSON")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(f"not UTF-8 text (byte {exc.start})") from None


def load_file(path: Path) -> Any:
    """:func:`load` of a file read with :func:`read_text`."""
    return load(read_text(path))


class Budget:
    """The decoded size a caller reading many files may still spend (run-wide limit)."""

    def __init__(self, total: int | None = None):
        self.total = MAX_TOTAL_DECODED_BYTES if total is None else total
        self.spent = 0

    def spend(self, size: int) -> bool:
        """Count *size*; False once the total is over the budget (and from then on)."""
        self.spent += size
        return self.spent <= self.total


# -- marks: where a path inside a document is --------------------------------------------------


def compose_all(text: str) -> tuple[yaml.Node | None, ...]:
    """The composed documents of *text* (nodes keep their marks); () when it does not parse."""
    try:
        return tuple(yaml.compose_all(text, Loader=_Loader))
    except (yaml.YAMLError, RecursionError):
        return ()


@functools.lru_cache(maxsize=256)
def _composed(path: str, signature: tuple[int, int]) -> tuple[yaml.Node | None, ...]:
    try:
        return compose_all(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return ()


def compose_file(path: str) -> tuple[yaml.Node | None, ...]:
    """:func:`compose_all` of a file, cached while the file is unchanged."""
    try:
        stat = Path(path).stat()
    except OSError:
        return ()
    if stat.st_size > MAX_FILE_BYTES:
        return ()
    return _composed(path, (stat.st_mtime_ns, stat.st_size))


def mark(node: yaml.Node, parts: Sequence[str | int]) -> tuple[int, int]:
    """(line, column), 1-based, of the deepest node along *parts*: the key for a mapping
    entry, the item for a list entry."""
    current = node
    where = _start(node)
    for part in parts:
        child: yaml.Node | None = None
        if isinstance(current, yaml.MappingNode) and isinstance(part, str):
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode) and key.value == part:
                    child, where = value, _start(key)
                    break
        elif (
            isinstance(current, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(current.value)
        ):
            child = current.value[part]
            where = _start(child)
        if child is None:
            break
        current = child
    return where


def scalar_at(node: yaml.Node | None, *keys: str) -> str | None:
    """The text of the scalar at ``node[keys[0]][keys[1]]...``, if there is one."""
    current = node
    for key in keys:
        if not isinstance(current, yaml.MappingNode):
            return None
        current = next(
            (v for k, v in current.value if isinstance(k, yaml.ScalarNode) and k.value == key),
            None,
        )
    return current.value if isinstance(current, yaml.ScalarNode) else None
