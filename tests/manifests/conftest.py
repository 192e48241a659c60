"""Fixtures for the manifest tests: the repository root, rendered kustomizations, promtool."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO_ROOT
from tests.support.schemas import load_documents
from tools import kustomize


@cache
def _render(relative: str) -> tuple[dict[str, Any], ...]:
    return tuple(load_documents(kustomize.build(REPO_ROOT / relative)))


@pytest.fixture(scope="session")
def render() -> Callable[[str], tuple[dict[str, Any], ...]]:
    """Render a kustomization directory (relative to the repository) with real kustomize."""
    return _render


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path of promtool; the rule tests fail (not skip) without it."""
    found = shutil.which("promtool") or next(
        (p for p in ("/usr/bin/promtool", "/usr/local/bin/promtool") if Path(p).is_file()), None
    )
    if found is None:
        pytest.fail("promtool not found: install the Debian package `prometheus`")
    return found
