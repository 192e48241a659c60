"""The run as a whole: its decoded-size budget across files (tools/yamlfile.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tools import yamlfile
from tools.validate import Report

CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: {value}\n"


def test_files_after_the_run_budget_are_not_validated(
    tmp_path: Path, validate: Callable[..., Report], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a", "b", "c"):
        text = CONFIGMAP.format(name=name, value="x" * 400)
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setattr(yamlfile, "MAX_TOTAL_DECODED_BYTES", 1000)  # two of the three files
    report = validate(tmp_path, policy_dirs=[], run_rule_tests=False)
    (finding,) = report.findings
    assert (finding.rule, finding.file) == ("yaml-size", str(tmp_path / "c.yaml"))
    assert "not validated" in finding.message
    assert report.summary.resources == 2
