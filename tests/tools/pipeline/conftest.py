"""Fixtures of the pipeline tests: the repository root and CRD schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support import schemas
from tests.support.paths import REPO_ROOT

CRD_ROOT = schemas.CRD_DIR


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
    """kind → strict schema of the version this repository uses (Argo Workflows, External Secrets).

    Built by the same helper the manifest tests use (tests/support/schemas.py).
    """
    kinds = {
        "WorkflowTemplate": "argoproj.io/v1alpha1",
        "CronWorkflow": "argoproj.io/v1alpha1",
        "ExternalSecret": "external-secrets.io/v1",
    }
    found = {kind: schemas.crd_schema(api_version, kind) for kind, api_version in kinds.items()}
    missing = sorted(kind for kind, schema in found.items() if schema is None)
    assert not missing, f"no CRD schema for {missing} under {CRD_ROOT} (set GITOPS_CRD_DIR)"
    return {kind: schema for kind, schema in found.items() if schema is not None}
