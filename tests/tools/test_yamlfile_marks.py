"""tools.yamlfile.Marks: the line and column of every path, taken in the one parse.

Every answer is compared with :func:`yamlfile.mark` on the document composed again (what
``gitops validate`` did before the table existed), over every path of the document plus paths
that leave it (a missing key, an index past the end, a key asked of a list).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import pytest

from tools import yamlfile

Path = tuple[str | int, ...]


def paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every path into *value*, and for each container some that lead nowhere."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
        yield (*prefix, "missing")
        yield (*prefix, 0)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))
        yield (*prefix, len(value))
        yield (*prefix, -1)
        yield (*prefix, "name")
    else:
        yield (*prefix, "below-a-scalar")


def assert_same_as_composing(text: str) -> list[yamlfile.Document]:
    documents = list(yamlfile.Reader(text, marks=True))
    nodes = yamlfile.compose_all(text)
    assert len(documents) == len(nodes)
    for document, node in zip(documents, nodes, strict=True):
        assert document.marks is not None and node is not None
        for path in paths(document.value):
            assert document.marks.find(document.value, path) == yamlfile.mark(node, path), path
    return documents


def find(document: yamlfile.Document, *parts: str | int) -> tuple[int, int]:
    assert document.marks is not None
    return document.marks.find(document.value, parts)


def test_nested_keys_and_list_items() -> None:
    text = (
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "spec:\n"
        "  template:\n"
        "    spec:\n"
        "      containers:\n"
        "        - name: a\n"
        "          image: x\n"
        "        -   name: b\n"
        "            ports:\n"
        "            - containerPort: 80\n"
    )
    (document,) = assert_same_as_composing(text)
    assert find(document) == (1, 1)
    assert find(document, "spec", "template", "spec") == (5, 5)
    assert find(document, "spec", "template", "spec", "containers", 0, "image") == (8, 11)
    assert find(document, "spec", "template", "spec", "containers", 1) == (9, 13)
    assert find(document, "spec", "template", "spec", "containers", 1, "ports", 0) == (11, 15)
    # a path that leaves the file stops at the deepest key or item it has
    assert find(document, "spec", "template", "spec", "containers", 2, "image") == (6, 7)
    assert find(document, "spec", "replicas") == (3, 1)


def test_several_documents_each_from_its_own_start() -> None:
    text = "# header\n---\na: 1\n---\n---\n- x\n- y: [1, 2]\n--- {k: v}\n"
    documents = assert_same_as_composing(text)
    assert [d.line for d in documents] == [3, 5, 6, 8]
    assert find(documents[0], "a") == (3, 1)
    assert find(documents[1]) == (5, 1)  # empty document: only its start
    assert find(documents[2], 1, "y", 1) == (7, 10)  # an item of a flow list: the item
    assert find(documents[3], "k") == (8, 6)


def test_flow_style_keys_and_items_have_their_columns() -> None:
    text = 'metadata: {name: a, labels: {"app": web, tier: "1"}}\nports: [{port: 80}, {port: 81}]\n'
    (document,) = assert_same_as_composing(text)
    assert find(document, "metadata", "labels", "tier") == (1, 42)
    assert find(document, "ports", 1, "port") == (2, 22)
    assert find(document, "ports", 1) == (2, 21)


def test_aliases_lead_to_their_anchor() -> None:
    text = (
        "defaults: &probe\n"
        "  httpGet: {path: /health, port: http}\n"
        "  periodSeconds: 10\n"
        "liveness: *probe\n"
        "probes:\n"
        "  - *probe\n"
        "  - &other [1, 2]\n"
        "  - *other\n"
        "name: &n web\n"
        "again: *n\n"
    )
    (document,) = assert_same_as_composing(text)
    # the key of the alias, then the anchor's children (as on the composed nodes)
    assert find(document, "liveness") == (4, 1)
    assert find(document, "liveness", "periodSeconds") == (3, 3)
    assert find(document, "probes", 0, "httpGet", "port") == (2, 28)
    assert find(document, "probes", 2, 1) == (7, 16)
    assert find(document, "again") == (10, 1)


def test_keys_added_after_parsing_stop_at_the_nearest_parent() -> None:
    text = "spec:\n  containers:\n  - name: a\n    resources:\n      limits: {memory: 1Gi}\n"
    (document,) = list(yamlfile.Reader(text, marks=True))
    container = document.value["spec"]["containers"][0]
    container["imagePullPolicy"] = "IfNotPresent"  # what defaulting adds: after the file's keys
    container["resources"]["requests"] = {"memory": "1Gi"}
    assert find(document, "spec", "containers", 0, "imagePullPolicy") == (3, 5)
    assert find(document, "spec", "containers", 0, "resources", "requests", "memory") == (4, 5)
    assert find(document, "spec", "containers", 0, "resources", "limits", "memory") == (5, 16)


def test_number_keys_are_found_by_their_text() -> None:
    text = "data:\n  5: five\n  true: yes\n  x: 1\n"
    (document,) = assert_same_as_composing(text)
    assert find(document, "data", "true") == (3, 3)
    assert find(document, "data", "x") == (4, 3)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x {b: 1}\nc: *x\nc: 2\n",  # a duplicate key: built the PyYAML way
        "base: &b {x: 1}\nmerged:\n  <<: *b\n  y: 2\n",  # a merge key
        "when: !!binary aGVsbG8=\n",  # another tag
    ],
)
def test_documents_built_the_pyyaml_way_have_no_table(text: str) -> None:
    try:
        documents = list(yamlfile.Reader(text, marks=True))
    except yamlfile.YamlError:
        return  # refused outright: nothing to locate
    assert [d.marks for d in documents] == [None] * len(documents)


def test_marks_cross_a_process_boundary_as_they_are() -> None:
    text = "a:\n  b: [1, 2]\n"
    (document,) = list(yamlfile.Reader(text, marks=True))
    assert document.marks is not None
    document.marks.offset = 40
    copy = pickle.loads(pickle.dumps(document.marks))
    assert copy.find(document.value, ("a", "b", 1)) == (42, 10)
    assert len(copy) == 5  # the document, a, b and its two items


def test_no_table_unless_asked() -> None:
    assert [d.marks for d in yamlfile.Reader("a: 1\n---\nb: 2\n")] == [None, None]
