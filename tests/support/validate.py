"""Shared by the ``gitops validate`` tests: the sample folders, the CRD folder, a few builders,
and the broken samples made from the good one.

A broken sample that is the good application with one thing wrong is not stored as a copy: it
is ``tests/data/validate/patches/<name>.yaml``, a list of patches in the shape of a
kustomization's ``patches:`` entries, applied to ``good/app.yaml`` by :func:`patched_sample`:

* ``{target: {kind, name}, patch: [<JSON 6902 operations>]}`` edits that document;
* ``{target: {kind, name}, patch: {$patch: delete}}`` removes it (kustomize's delete patch);
* ``{resource: <object>}`` adds one more document at the end.

The first line names the rule(s) the sample must break (``# expect: <rule>, ...``), the
second says how.
Samples that share nothing with the good application stay whole in ``broken/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonpatch
import yaml

from tests.support.paths import REPO_ROOT, TEST_DATA
from tools.validate import Report

DATA = TEST_DATA / "validate"
GOOD = DATA / "good" / "app.yaml"
BROKEN = sorted((DATA / "broken").glob("*.yaml"))  # whole files
PATCHES = sorted((DATA / "patches").glob("*.yaml"))  # the good app plus a patch


def shared_crds() -> Path:
    """The CRD folder CI checks out next to the repository (required, never skipped)."""
    path = (REPO_ROOT / ".." / "shared" / "crds").resolve()
    assert path.is_dir(), f"CRD schemas expected at {path} (see [tool.gitops.validate] crd-dirs)"
    return path


def rules(report: Report) -> set[str]:
    return {f.rule for f in report.findings}


def expected_rules(path: Path) -> list[str]:
    """The rules a broken sample or patch declares on its first line
    (``# expect: <rule>[, <rule> ...]``); it must break every one of them."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <rule>'"
    return [rule.strip() for rule in first.removeprefix("# expect: ").split(",")]


def _matches(document: dict[str, Any], target: dict[str, Any]) -> bool:
    return all(
        (document.get("metadata") or {}).get("name") == value
        if key == "name"
        else document.get(key) == value
        for key, value in target.items()
    )


def apply_patches(documents: list[dict[str, Any]], patches: list[dict[str, Any]]) -> None:
    """Apply *patches* (see the module docstring) to *documents*, in place."""
    for entry in patches:
        if "resource" in entry:
            documents.append(entry["resource"])
            continue
        target, patch = entry["target"], entry["patch"]
        (index,) = [i for i, d in enumerate(documents) if _matches(d, target)]
        if patch == {"$patch": "delete"}:
            del documents[index]
        else:
            documents[index] = jsonpatch.apply_patch(documents[index], patch)


def patched_sample(patch_file: Path, out_dir: Path) -> Path:
    """Write the good application with *patch_file* applied to ``out_dir/<name>.yaml``."""
    documents = [d for d in yaml.safe_load_all(GOOD.read_text(encoding="utf-8")) if d]
    apply_patches(documents, yaml.safe_load(patch_file.read_text(encoding="utf-8")))
    out = out_dir / patch_file.name
    out.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump_all(documents, sort_keys=False, width=1000)
    out.write_text(text, encoding="utf-8")
    return out


# A CRD for the kind Widget (example.com/v1) whose schema the CRD tests choose.
WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "port": {"x-kubernetes-int-or-string": True},
                "note": {"type": "string", "nullable": True},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}


def widget_crd(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def widget(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    meta = {"name": "w", **metadata}
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": meta, "spec": spec}


# Two Rego rules no engine can finish: one asks for gigabytes at once (an object named "huge"),
# one loops for hours (an object named "slow"). Tests append a rule of their own for the objects
# that must still be checked; the policy sandbox must end the first two as policy-error findings.
RUNAWAY_POLICY = """package main

import rego.v1

deny contains msg if {
  input.metadata.name == "huge"
  msg := sprintf("%d numbers", [count(numbers.range(1, 2e8))])
}

deny contains msg if {
  input.metadata.name == "slow"
  every i in numbers.range(1, 100000) {
    every j in numbers.range(1, 100000) { i != 0 - j }
  }
  msg := "never"
}
"""
