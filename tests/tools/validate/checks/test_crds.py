"""CRD conversion follows openapi2jsonschema semantics, strictly; broken CRDs are findings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jsonschema_rs
import pytest
import yaml

from tests.support.validate import WIDGET_SCHEMA, widget, widget_crd
from tools.validate import Report
from tools.validate.checks import crds
from tools.validate.checks.schemas import SchemaStore


def validator() -> jsonschema_rs.Validator:
    store = SchemaStore("1.33")
    for schema in crds.schemas_from_crd(widget_crd(WIDGET_SCHEMA), "test"):
        store.add_crd(schema)
    compiled = store.validator("example.com/v1", "Widget")
    assert compiled is not None
    return compiled.validator


def test_unknown_fields_rejected_inside_crd_objects() -> None:
    v = validator()
    assert v.is_valid(widget({"port": 80}))
    assert not v.is_valid(widget({"prot": 80}))


def test_int_or_string_nullable_and_preserve_unknown_fields() -> None:
    v = validator()
    assert v.is_valid(widget({"port": "http", "note": None, "free": {"anything": [1]}}))
    assert not v.is_valid(widget({"port": 1.5}))
    assert v.is_valid(widget({"labels": {"a": "b"}}))
    assert not v.is_valid(widget({"labels": {"a": 1}}))


def test_metadata_is_checked_against_object_meta() -> None:
    v = validator()
    assert v.is_valid(widget({}, labels={"a": "b"}))
    assert not v.is_valid(widget({}, lables={"a": "b"}))


def test_conversion_is_cached_by_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crds, "_MEMORY", {})
    data = yaml.safe_dump(widget_crd(WIDGET_SCHEMA)).encode()
    first = crds.load_cached(data, "a.yaml", tmp_path)
    cached = list((tmp_path / "crds").iterdir())
    assert len(cached) == 1
    second = crds.load_cached(data, "b.yaml", tmp_path)
    assert [s.schema for s in first] == [s.schema for s in second]
    assert second[0].source == "b.yaml"


def test_broken_crd_schema_is_a_finding_not_a_crash(
    tmp_path: Path, validate: Callable[..., Report]
) -> None:
    crd_dir = tmp_path / "crds"
    crd_dir.mkdir()
    (crd_dir / "broken.yaml").write_text(
        yaml.safe_dump(widget_crd({"type": "object", "properties": {"spec": {"type": 5}}})),
        encoding="utf-8",
    )
    (crd_dir / "not-a-crd.yaml").write_text("spec: {group: [\n", encoding="utf-8")
    manifest = tmp_path / "widget.yaml"
    manifest.write_text(yaml.safe_dump(widget({"port": 1})), encoding="utf-8")
    report = validate(manifest, crd_dirs=[crd_dir], policy_dirs=[])
    found = {(f.rule, f.file) for f in report.errors}
    assert any(
        rule == "crd-schema" and "Widget" in msg
        for rule, msg in [(f.rule, f.message) for f in report.errors]
    )
    assert ("crd-schema", str(crd_dir / "not-a-crd.yaml")) in found
