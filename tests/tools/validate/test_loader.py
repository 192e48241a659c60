"""Strict parsing: syntax errors, duplicate keys, junk and huge files become findings."""

from __future__ import annotations

from pathlib import Path

from tools.validate import loader


def test_documents_keep_start_lines_and_skip_empty_ones() -> None:
    text = "---\napiVersion: v1\nkind: A\n---\n---\n# comment\napiVersion: v1\nkind: B\n"
    parsed = loader.parse_text(text, "x.yaml")
    assert [(r.kind, r.line) for r in parsed.resources] == [("A", 2), ("B", 7)]
    assert parsed.findings == []


def test_duplicate_key_is_reported_with_both_lines() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: '1'\n  b: '2'\n  a: '3'\n"
    parsed = loader.parse_text(text, "dup.yaml")
    (finding,) = parsed.findings
    assert finding.rule == "duplicate-key"
    assert finding.line == 6
    assert "'a'" in finding.message and "line 4" in finding.message
    assert parsed.resources == []


def test_documents_before_a_syntax_error_are_kept() -> None:
    text = "apiVersion: v1\nkind: A\n---\napiVersion: v1\nkind: [B\n"
    parsed = loader.parse_text(text, "x.yaml")
    assert [r.kind for r in parsed.resources] == ["A"]
    (finding,) = parsed.findings
    assert finding.rule == "parse" and finding.line is not None and finding.line >= 5


def test_dates_stay_strings_and_lists_are_unpacked() -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- apiVersion: v1\n  kind: ConfigMap\n  data: {day: 2024-01-01, eq: =}\n"
    )
    (resource,) = loader.parse_text(text, "x.yaml").resources
    assert resource.obj["data"] == {"day": "2024-01-01", "eq": "="}


def test_binary_junk_is_a_finding(tmp_path: Path) -> None:
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(bytes(range(256)) * 8)
    parsed = loader.parse_file(junk, "junk.yaml")
    assert [f.rule for f in parsed.findings] == ["parse"]
    assert "binary" in parsed.findings[0].message


def test_invalid_utf8_is_a_finding(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("kind: Caf\xe9\n".encode("latin-1"))
    (finding,) = loader.parse_file(path, "latin1.yaml").findings
    assert "UTF-8" in finding.message


def test_fifty_megabyte_file_is_refused_without_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    chunk = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n" * 1000).encode()
    with big.open("wb") as handle:
        while handle.tell() < 50 * 1024 * 1024:
            handle.write(chunk)
    (finding,) = loader.parse_file(big, "big.yaml").findings
    assert finding.rule == "parse"
    assert "MiB" in finding.message and "limit" in finding.message


def test_non_objects_are_findings() -> None:
    parsed = loader.parse_text("- a\n- b\n---\nkind: NoApiVersion\n", "x.yaml")
    messages = [f.message for f in parsed.findings]
    assert any("list" in m for m in messages)
    assert any("no apiVersion" in m for m in messages)


def test_line_for_path_walks_mappings_and_sequences(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: v1\nkind: Pod\nspec:\n"
        "  containers:\n    - name: a\n    - name: b\n      image: x\n",
        encoding="utf-8",
    )
    assert loader.line_for_path(str(path), 1, ["spec", "containers", 1, "image"]) == 10
    # a path that does not exist stops at the deepest existing node
    assert loader.line_for_path(str(path), 1, ["spec", "containers", 1, "ports", 0]) == 9
