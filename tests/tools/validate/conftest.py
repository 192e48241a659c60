"""Fixtures for the gitops validate tests: options with the shared CRDs, a per-session cache,
and the broken samples made from the good one (see tests/support/validate.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT
from tests.support.validate import PATCHES, patched_sample, shared_crds
from tools.validate import Report, ValidateOptions, load_options, validate_paths


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("validate-cache")


@pytest.fixture(scope="session")
def patched(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name -> the good application with ``patches/<name>.yaml`` applied, written once."""
    out = tmp_path_factory.mktemp("patched-samples")
    return {path.stem: patched_sample(path, out) for path in PATCHES}


@pytest.fixture
def options(cache_dir: Path) -> ValidateOptions:
    opts = load_options(REPO_ROOT, crd_dirs=[shared_crds()], cache_dir=cache_dir)
    opts.crd_urls = []  # no network in tests; URL fetching has its own test
    return opts


@pytest.fixture
def validate(options: ValidateOptions) -> Callable[..., Report]:
    def run(*paths: Path, **changes: object) -> Report:
        for key, value in changes.items():
            setattr(options, key, value)
        return validate_paths(list(paths), options)

    return run
