"""Fixtures for the gitops validate tests: the repository, CRDs and a per-session cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tools.validate import Report, ValidateOptions, load_options, validate_paths

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "tests" / "data" / "validate"


def shared_crds() -> Path:
    """The CRD folder CI checks out next to the repository (required, never skipped)."""
    path = (REPO / ".." / "shared" / "crds").resolve()
    assert path.is_dir(), f"CRD schemas expected at {path} (see [tool.gitops.validate] crd-dirs)"
    return path


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("validate-cache")


@pytest.fixture
def options(cache_dir: Path) -> ValidateOptions:
    opts = load_options(REPO, crd_dirs=[shared_crds()], cache_dir=cache_dir)
    opts.crd_urls = []  # no network in tests; URL fetching has its own test
    return opts


@pytest.fixture
def validate(options: ValidateOptions) -> Callable[..., Report]:
    def run(*paths: Path, **changes: object) -> Report:
        for key, value in changes.items():
            setattr(options, key, value)
        return validate_paths(list(paths), options)

    return run


def rules(report: Report) -> set[str]:
    return {f.rule for f in report.findings}
