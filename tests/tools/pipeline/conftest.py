"""Fixtures of the pipeline tests: the repository root and CRD schemas."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
# The shared CRD schemas sit beside the clone (./dev test exports GITOPS_CRD_DIR).
CRD_ROOT = Path(os.environ.get("GITOPS_CRD_DIR", REPO_ROOT.parent / "shared" / "crds"))
CRD_DIRS = ("argo-workflows", "external-secrets")


def _strict(schema: Any) -> Any:
    """Close every object schema that lists its properties, as the API server's strict field
    validation does: an unknown or misspelt field becomes a validation error instead of being
    silently pruned."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def crd_root() -> Path:
    """The shared CRD folder (its subfolders per project)."""
    assert CRD_ROOT.is_dir(), f"no CRD folder at {CRD_ROOT} (set GITOPS_CRD_DIR)"
    return CRD_ROOT


@pytest.fixture(scope="session")
def crd_schemas() -> dict[str, dict[str, Any]]:
    """kind → strict openAPIV3Schema of the served version (Argo Workflows, External Secrets)."""
    files = sorted(f for d in CRD_DIRS for f in (CRD_ROOT / d).glob("*.yaml"))
    assert files, f"no CRDs under {CRD_ROOT} (set GITOPS_CRD_DIR)"
    schemas: dict[str, dict[str, Any]] = {}
    for path in files:
        with path.open(encoding="utf-8") as fh:
            crd = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        version = next(v for v in crd["spec"]["versions"] if v.get("served", True))
        if crd["spec"]["group"] == "external-secrets.io":
            version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
        schemas[crd["spec"]["names"]["kind"]] = _strict(version["schema"]["openAPIV3Schema"])
    return schemas
