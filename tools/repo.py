"""Where the repository a command works on is."""

from __future__ import annotations

from pathlib import Path

from tools.config import CONFIG_FILE, PYPROJECT

_MARKERS = (CONFIG_FILE, PYPROJECT, ".git")


def repo_root(start: Path | None = None) -> Path:
    """The nearest folder at or above *start* (default: the working directory) that holds a
    gitops configuration file or ``.git``; *start* itself when there is none."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if any((candidate / marker).exists() for marker in _MARKERS):
            return candidate
    return here
