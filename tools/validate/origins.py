"""Point findings on rendered objects back at the source file and line.

kustomize's origin annotation names the file an object came from (or the kustomization whose
generator made it). The object's line is found by matching kind and name in that file; a
field's line by walking the same path in the source document when it exists there (a patch
may have added it, in which case the nearest existing parent is used).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tools import yamlfile
from tools.kustomize import ORIGIN_ANNOTATION
from tools.validate import loader
from tools.validate.findings import Resource


def take_origin(obj: dict[str, Any]) -> str | None:
    """Remove kustomize's origin annotation from *obj* and return the absolute source path."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return None
    annotations = metadata.get("annotations")
    if not isinstance(annotations, dict) or ORIGIN_ANNOTATION not in annotations:
        return None
    raw = annotations.pop(ORIGIN_ANNOTATION)
    if not annotations:
        del metadata["annotations"]
    try:
        origin = yamlfile.load(raw) if isinstance(raw, str) else None
    except yamlfile.YamlError:
        return None
    if not isinstance(origin, dict):
        return None
    for key in ("path", "configuredIn"):
        value = origin.get(key)
        if isinstance(value, str) and value.startswith("/"):
            return value
    return None


def source_document(resource: Resource) -> tuple[str, int] | None:
    """(source path, document index) of a rendered object, if it can be found."""
    if resource.origin is None:
        return None
    docs = loader.documents(resource.origin)
    best: int | None = None
    for index, node in enumerate(docs):
        if node is None or yamlfile.scalar_at(node, "kind") != resource.kind:
            continue
        name = yamlfile.scalar_at(node, "metadata", "name") or ""
        if name == resource.name:
            return resource.origin, index
        if name and name in resource.name and best is None:
            best = index  # namePrefix/nameSuffix changed it
    if best is None and len(docs) == 1:
        best = 0  # kustomization.yaml of a generator, or a lone document
    return (resource.origin, best) if best is not None else None


def locate(resource: Resource, parts: list[str | int]) -> tuple[str, int | None]:
    """(absolute or stored file, line) for a field of *resource*."""
    file, line, _ = locate_mark(resource, parts)
    return file, line


def locate_mark(resource: Resource, parts: list[str | int]) -> tuple[str, int | None, int | None]:
    """(absolute or stored file, line, column) for a field of *resource*: the key itself.

    Objects of manifest files carry the marks of their parse (a lookup); objects rendered by
    kustomize are looked up in their source file, composed again (once per file).
    """
    found = source_document(resource)
    mark: tuple[int, int] | None = None
    if found is not None:
        path, index = found
        mark = loader.mark_for_path(path, index, parts)
    elif resource.origin is not None:
        return resource.origin, None, None
    elif resource.rendered_from is not None:
        return resource.file, None, None
    elif resource.marks is not None:
        path = resource.file
        mark = resource.marks.find(resource.obj, parts)
    elif Path(resource.file).is_file():
        path = resource.file
        mark = loader.mark_for_path(path, resource.doc_index, parts)
    else:
        return resource.file, resource.line, None
    return (path, *mark) if mark else (path, None, None)
