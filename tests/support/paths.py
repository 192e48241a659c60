"""Paths shared by the tests."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository root (the folder holding pyproject.toml)."""

TEST_DATA = REPO_ROOT / "tests" / "data"
