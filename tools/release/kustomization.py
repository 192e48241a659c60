"""In-place edits of the ``images:`` list of a ``kustomization.yaml``.

The edit is surgical: ruamel.yaml composes the file into nodes that carry exact character
positions, and the new value is spliced into the original text. Everything outside the changed
scalar (comments, key order, quoting, indentation, CRLF line ends) therefore stays byte for byte
as it was. When a key or an entry has to be added, it is written in the style of its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tools.errors import UserError
from tools.release.images import ImageRef

TAG_KEY = "newTag"
DIGEST_KEY = "digest"

# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class ImageEntry:
    """One item of ``images:`` as written in the file."""

    name: str
    new_name: str | None
    tag: str | None
    digest: str | None
    lines: tuple[int, int] = (0, 0)  # first and last line (1-based) of the entry in the file

    @property
    def ref(self) -> ImageRef:
        return ImageRef(self.new_name or self.name, self.tag, self.digest)


def _compose(text: str, source: str) -> MappingNode | None:
    try:
        root = YAML(typ="rt").compose(text)
    except YAMLError as exc:
        raise UserError(f"{source}: not valid YAML: {exc}".replace("\n", " ")) from exc
    if root is None:
        return None
    if not isinstance(root, MappingNode):
        raise UserError(f"{source}: a kustomization must be a mapping at the top level")
    return root


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and str(node.tag).endswith(":null")


def _get(mapping: MappingNode, key: str) -> tuple[ScalarNode, Node] | None:
    for k, v in mapping.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return k, v
    return None


def _scalar(mapping: MappingNode, key: str) -> str | None:
    found = _get(mapping, key)
    if found is None or not isinstance(found[1], ScalarNode):
        return None
    value = found[1].value
    return None if _is_null(found[1]) else str(value)


def _entries(root: MappingNode | None, source: str) -> tuple[Node | None, list[MappingNode]]:
    """The ``images`` value node and its mapping items."""
    if root is None:
        return None, []
    found = _get(root, "images")
    if found is None:
        return None, []
    node = found[1]
    if _is_null(node):
        return node, []
    if not isinstance(node, SequenceNode):
        raise UserError(f"{source}: 'images' must be a list")
    items: list[MappingNode] = []
    for item in node.value:
        if not isinstance(item, MappingNode):
            raise UserError(f"{source}: every item of 'images' must be a mapping")
        items.append(item)
    return node, items


def read_images(text: str, source: str = "kustomization.yaml") -> list[ImageEntry]:
    """All ``images:`` entries of a kustomization file."""
    _, items = _entries(_compose(text, source), source)
    return [
        ImageEntry(
            name=_scalar(item, "name") or "",
            new_name=_scalar(item, "newName"),
            tag=_scalar(item, TAG_KEY),
            digest=_scalar(item, DIGEST_KEY),
            lines=(item.start_mark.line + 1, text.count("\n", 0, _last_scalar_end(item)) + 1),
        )
        for item in items
    ]


def find_image(text: str, name: str, source: str = "kustomization.yaml") -> ImageEntry | None:
    """The entry whose ``name`` is ``name``; an error if the file lists it more than once."""
    matches = [e for e in read_images(text, source) if e.name == name]
    _refuse_duplicates(len(matches), name, source)
    return matches[0] if matches else None


def _refuse_duplicates(count: int, name: str, source: str) -> None:
    if count > 1:
        raise UserError(
            f"{source}: image {name!r} is listed {count} times under 'images:'",
            hint="remove the duplicates by hand; kustomize applies only one of them",
        )


# --------------------------------------------------------------------------- editing


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _plain_ok(value: str) -> bool:
    """True when ``value`` written unquoted reads back as the same string."""
    try:
        node = YAML(typ="rt").compose(f"k: {value}\n")
    except YAMLError:
        return False
    if not isinstance(node, MappingNode):
        return False
    scalar = node.value[0][1]
    return (
        isinstance(scalar, ScalarNode)
        and str(scalar.tag).endswith(":str")
        and scalar.value == value
        and scalar.style is None
    )


def _render(value: str, style: str | None) -> str:
    """``value`` as a YAML scalar in the given style (``None`` = plain when possible)."""
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style is None and _plain_ok(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_after(text: str, index: int) -> int:
    """Index just past the newline that ends the line containing ``index``."""
    end = text.find("\n", index)
    return len(text) if end < 0 else end + 1


def _last_scalar_end(node: Node) -> int:
    while isinstance(node, MappingNode | SequenceNode) and node.value and not node.flow_style:
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    return int(node.end_mark.index)


@dataclass(frozen=True)
class _Splice:
    start: int
    end: int
    text: str

    def apply(self, text: str) -> str:
        return text[: self.start] + self.text + text[self.end :]


def _set_key(text: str, item: MappingNode, key: str, value: str) -> _Splice | None:
    found = _get(item, key)
    if found is not None:
        node = found[1]
        if not isinstance(node, ScalarNode):
            raise UserError(f"'{key}' of an images entry must be a plain value")
        if node.value == value and not _is_null(node):
            return None
        style = node.style if node.style in ("'", '"') else None
        return _Splice(node.start_mark.index, node.end_mark.index, _render(value, style))
    rendered = f"{key}: {_render(value, None)}"
    if item.flow_style:
        close = item.end_mark.index - 1  # the '}'
        body_end = len(text[:close].rstrip())
        sep = ", " if item.value else ""
        return _Splice(body_end, body_end, f"{sep}{rendered}")
    first_key = item.value[0][0]
    indent = " " * first_key.start_mark.column
    at = _line_after(text, _last_scalar_end(item))
    prefix = "" if at == 0 or text[at - 1] == "\n" else _newline(text)
    return _Splice(at, at, f"{prefix}{indent}{rendered}{_newline(text)}")


def _drop_key(text: str, item: MappingNode, key: str) -> _Splice | None:
    pairs = item.value
    index = next((i for i, (k, _) in enumerate(pairs) if k.value == key), None)
    if index is None:
        return None
    k, v = pairs[index]
    if index + 1 < len(pairs):
        following = pairs[index + 1][0].start_mark.index
        if item.flow_style or index == 0:
            return _Splice(k.start_mark.index, following, "")
        return _Splice(_line_start(text, k.start_mark.index), _line_start(text, following), "")
    if item.flow_style:
        return _Splice(pairs[index - 1][1].end_mark.index, v.end_mark.index, "")
    return _Splice(
        _line_start(text, k.start_mark.index), _line_after(text, _last_scalar_end(v)), ""
    )


def _new_entry(
    text: str, images: Node | None, root: MappingNode | None, fields: list[tuple[str, str]]
) -> str:
    """*text* with an ``images:`` entry of *fields* added (and ``images:`` if missing; *root*
    is None for a file without YAML content, e.g. only comments)."""
    nl = _newline(text)
    if isinstance(images, SequenceNode) and images.flow_style:
        close = images.end_mark.index - 1  # the ']'
        body_end = len(text[:close].rstrip())
        inner = ", ".join(f"{k}: {_render(v, None)}" for k, v in fields)
        sep = ", " if images.value else ""
        return _Splice(body_end, body_end, f"{sep}{{{inner}}}").apply(text)
    if isinstance(images, SequenceNode) and images.value:
        last = images.value[-1]
        col = last.start_mark.column
        line_start = _line_start(text, last.start_mark.index)
        dash = text.rfind("-", line_start, last.start_mark.index)
        dash_col = dash - line_start if dash >= 0 else max(col - 2, 0)
        pad = " " * (col - dash_col - 1)
        at = _line_after(text, _last_scalar_end(last))
        lines = [
            (" " * dash_col + "-" + pad if i == 0 else " " * col) + f"{k}: {_render(v, None)}"
            for i, (k, v) in enumerate(fields)
        ]
        prefix = "" if text[at - 1] == "\n" else nl
        return _Splice(at, at, prefix + nl.join(lines) + nl).apply(text)
    block = nl.join(
        ("- " if i == 0 else "  ") + f"{k}: {_render(v, None)}" for i, (k, v) in enumerate(fields)
    )
    if root is not None and root.flow_style:
        raise UserError("cannot add 'images:' to a kustomization written in flow style")
    found = _get(root, "images") if root is not None else None
    if found is not None:  # `images:` with no value: put the list right under the key
        key_node, value_node = found
        indent = " " * key_node.start_mark.column
        body = nl.join(indent + line for line in block.split(nl)) + nl
        if value_node.end_mark.index > value_node.start_mark.index:  # an explicit `null` / `~`
            colon = text.index(":", key_node.end_mark.index) + 1
            text = _Splice(colon, value_node.end_mark.index, "").apply(text)
        at = _line_after(text, key_node.end_mark.index)
        prefix = "" if text[at - 1] == "\n" else nl
        return text[:at] + prefix + body + text[at:]
    prefix = "" if not text or text.endswith("\n") else nl
    return text + prefix + "images:" + nl + block + nl


def set_image(
    text: str, ref: ImageRef, *, drop_other: bool = True, source: str = "kustomization.yaml"
) -> str:
    """Return ``text`` with the ``images:`` entry named ``ref.name`` set to ``ref``.

    Sets ``newTag`` and/or ``digest`` (whichever ``ref`` carries); with ``drop_other`` the field
    ``ref`` does not carry is removed so the entry pins exactly ``ref``. The entry is added when
    missing and ``images:`` is created when absent. Returns ``text`` unchanged when the entry is
    already at ``ref``.
    """
    if ref.tag is None and ref.digest is None:
        raise UserError("a tag or a digest is required")
    root = _compose(text, source)
    images, items = _entries(root, source)
    matches = [i for i in items if _scalar(i, "name") == ref.name]
    _refuse_duplicates(len(matches), ref.name, source)
    wanted = [(TAG_KEY, ref.tag), (DIGEST_KEY, ref.digest)]
    if not matches:
        fields = [("name", ref.name)] + [(k, v) for k, v in wanted if v is not None]
        return _new_entry(text, images, root, fields)
    # Apply one change at a time, recomposing in between so positions stay exact.
    for key, value in wanted:
        item = _match(text, ref.name, source)
        splice = _set_key(text, item, key, value) if value is not None else None
        if value is None and drop_other:
            splice = _drop_key(text, item, key)
        if splice is not None:
            text = splice.apply(text)
    return text


def _match(text: str, name: str, source: str) -> MappingNode:
    _, items = _entries(_compose(text, source), source)
    return next(i for i in items if _scalar(i, "name") == name)


# --------------------------------------------------------------------------- files


def read_text(path: Path) -> str:
    """Read a file without newline translation (CRLF stays CRLF)."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError as exc:
        raise UserError(f"{path}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text") from exc
