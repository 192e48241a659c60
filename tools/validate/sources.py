"""What to validate: kustomization roots (rendered) and plain manifest files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools import kustomize
from tools.errors import UserError

# Top-level folders that hold manifests when no PATH is given.
MANIFEST_DIRS = ("base", "overlays", "rollouts", "apps", "clusters")
ROOT_DIRS = ("overlays", "clusters", "apps")
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Inputs:
    roots: list[Path] = field(default_factory=list)  # kustomization directories to render
    files: list[Path] = field(default_factory=list)  # plain manifest files

    def extend(self, other: Inputs) -> None:
        self.roots = list(dict.fromkeys([*self.roots, *other.roots]))
        self.files = list(dict.fromkeys([*self.files, *other.files]))


def _has_kustomization_above(path: Path, stop: Path) -> bool:
    current = path.parent
    while True:
        if kustomize.kustomization_file(current) is not None:
            return True
        if current == stop or current.parent == current:
            return False
        current = current.parent


def _plain_files(top: Path, stop: Path) -> list[Path]:
    """Manifest files under *top* that no kustomization (in their folder or above) owns."""
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        directory = Path(dirpath)
        if kustomize.kustomization_file(directory) is not None:
            dirnames[:] = []  # everything below belongs to this kustomization
            continue
        for name in sorted(filenames):
            path = directory / name
            if path.suffix in MANIFEST_SUFFIXES and not _has_kustomization_above(path, stop):
                out.append(path)
    return out


def _directory(path: Path, stop: Path) -> Inputs:
    if kustomize.kustomization_file(path) is not None:
        if kustomize.is_component(path):
            raise UserError(f"{path}: is a kustomize Component; validate an overlay that uses it")
        return Inputs(roots=[path])
    roots = kustomize.discover(path, under=(".",))
    return Inputs(roots=roots, files=_plain_files(path, stop))


def collect(paths: Sequence[Path], repo_root: Path) -> Inputs:
    """Inputs for the given PATHs, or for the whole repository when there are none."""
    inputs = Inputs()
    if not paths:
        inputs.roots.extend(kustomize.discover(repo_root, under=ROOT_DIRS))
        for top in MANIFEST_DIRS:
            if (repo_root / top).is_dir():
                inputs.files.extend(_plain_files(repo_root / top, repo_root))
        return inputs
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise UserError(f"{raw}: no such file or directory")
        if path.is_dir():
            if not os.access(path, os.R_OK | os.X_OK):
                raise UserError(f"{raw}: directory is not readable")
            stop = path.resolve()
            inputs.extend(_directory(path.resolve(), stop))
        elif path.is_file():
            if not os.access(path, os.R_OK):
                raise UserError(f"{raw}: file is not readable")
            # Not resolved: a link from inside the repository to a file outside it is refused
            # (engine.py), which needs the path as given.
            inputs.files.append(Path(os.path.abspath(path)))
        else:
            raise UserError(f"{raw}: not a regular file or directory")
    return inputs


def display(path: Path | str, repo_root: Path) -> str:
    """Repository-relative path when inside the repository, else the absolute path."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(repo_root).as_posix()
    except ValueError:
        return str(resolved)
