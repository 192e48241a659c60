"""Options of a validation run, read from ``[validate]`` in .gitops.toml or pyproject.toml.

Keys (all optional; paths relative to the repository root; see tools/config.py for the files)::

    [validate]                        # [tool.gitops.validate] in pyproject.toml
    kubernetes-version = "1.33"
    crd-dirs = ["../shared/crds"]   # a configured dir that is missing only gives a warning
    crd-urls = ["https://raw.githubusercontent.com/.../crd.yaml"]   # pinned, fetched once, cached
    policy-dirs = ["policies"]
    data-files = ["policies/data.yaml"]
    ignore-missing-schemas = false
    rule-tests = "tests/rules"        # promtool unit tests (*_test.yaml)
    repo-urls = ["https://github.com/example-org/mlops-gitops.git"]  # Applications pointing
                                      # here must name paths that exist and render
    pod-security-level = "restricted" # namespaces without an enforce label in the run
                                      # (default privileged, as an unconfigured cluster)
    pod-security-version = "latest"
    policy-timeout = 10               # seconds of Rego evaluation per object
    policy-memory = 1024              # MiB a Rego worker may use (per object)
    kustomize-timeout = 60            # seconds per kustomize build
    kustomize-memory = 2048           # MiB of address space per kustomize build

There is deliberately no key for ``--allow-remote``: the configuration is part of the
repository, so a pull request could change it, and CI must stay network-free.

Command-line flags add to the configured CRD lists (``--crd-dir``); ``--policy-dir`` and scalar
flags replace the configured value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.config import Section, load_section
from tools.errors import UserError
from tools.validate.checks.policies import ENGINES, REGO_VERSIONS, PolicySet, load_policies

DEFAULT_KUBERNETES_VERSION = "1.33"
# Every key of the [validate] table; anything else is an error naming the closest of these.
KEYS = (
    "kubernetes-version",
    "crd-dirs",
    "crd-urls",
    "policy-dirs",
    "data-files",
    "ignore-missing-schemas",
    "engine",
    "rego-version",
    "namespaces",
    "all-namespaces",
    "rule-tests",
    "repo-urls",
    "pod-security-level",
    "pod-security-version",
    "policy-timeout",
    "policy-memory",
    "kustomize-timeout",
    "kustomize-memory",
)
# Limits (docs/VALIDATE.md, "Limits"): defaults, and the settings that change them.
DEFAULT_POLICY_TIMEOUT = 10.0
DEFAULT_POLICY_MEMORY_MIB = 1024
DEFAULT_KUSTOMIZE_TIMEOUT = 60.0
DEFAULT_KUSTOMIZE_MEMORY_MIB = 2048


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitops-validate"


@dataclass
class ValidateOptions:
    repo_root: Path
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    crd_dirs: list[Path] = field(default_factory=list)
    crd_urls: list[str] = field(default_factory=list)
    crd_from_cluster: bool = False
    policy_dirs: list[Path] = field(default_factory=list)
    data_files: list[Path] = field(default_factory=list)
    ignore_missing_schemas: bool = False
    opa_url: str | None = None
    engine: str = "auto"  # in-process Rego engine: auto (regorus if installed), regorus, regopy
    rego_version: str = "v1"  # Rego syntax of the policies: v1 or v0 (conftest --rego-version)
    namespaces: list[str] = field(default_factory=lambda: ["main"])  # conftest --namespace
    all_namespaces: bool = False  # conftest --all-namespaces
    run_rule_tests: bool = True
    rule_tests_dir: Path | None = None
    cache_dir: Path = field(default_factory=default_cache_dir)
    # Directories from the config file that did not exist (reported as warnings, not errors:
    # a developer machine may not have the shared CRD folder CI uses).
    missing_config_dirs: list[Path] = field(default_factory=list)
    workers: int | None = None  # None: decide from the input size and CPU count
    repo_urls: list[str] = field(default_factory=list)  # URLs Argo CD uses for this repository
    policy_cache: bool = True  # reuse policy results of unchanged objects (policycache.py)
    # Pod Security level and version of namespaces whose enforce labels are not in the run:
    # Kubernetes' own default (privileged, latest) unless configured; this repository
    # configures restricted.
    pod_security_level: str = "privileged"
    pod_security_version: str = "latest"
    # Network: kustomize remote resources and CRD URLs are fetched only when this is set
    # (command line only, never from the configuration; see the module docstring).
    allow_remote: bool = False
    policy_timeout: float = DEFAULT_POLICY_TIMEOUT  # seconds per object (checks/sandbox.py)
    policy_memory_mib: int = DEFAULT_POLICY_MEMORY_MIB
    kustomize_timeout: float = DEFAULT_KUSTOMIZE_TIMEOUT  # seconds per build
    kustomize_memory_mib: int = DEFAULT_KUSTOMIZE_MEMORY_MIB


def _str_list(table: Section, key: str) -> list[str]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise table.error(key, "must be a list of strings")
    return list(value)


def check_version(version: str) -> str:
    parts = version.removeprefix("v").split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise UserError(f"--kubernetes-version {version!r}: expected MAJOR.MINOR such as 1.33")
    return f"{int(parts[0])}.{int(parts[1])}"


# List options a caller replaces rather than extends (``--policy-dir`` picks the policy set).
_REPLACED = frozenset({"policy_dirs", "data_files", "namespaces"})


def load_options(repo_root: Path, **overrides: Any) -> ValidateOptions:
    """Options from the repository config, then *overrides* (list fields are appended to)."""
    repo_root = Path(repo_root).resolve()
    table = load_section(repo_root, "validate", KEYS)
    options = ValidateOptions(repo_root=repo_root)
    version = str(table.get("kubernetes-version", DEFAULT_KUBERNETES_VERSION))
    try:
        options.kubernetes_version = check_version(version)
    except UserError:
        raise table.error(
            "kubernetes-version", f"{version!r}: expected MAJOR.MINOR such as 1.33"
        ) from None
    for raw in _str_list(table, "crd-dirs"):
        path = (repo_root / raw).resolve()
        (options.crd_dirs if path.is_dir() else options.missing_config_dirs).append(path)
    options.crd_urls = _str_list(table, "crd-urls")
    policy_dirs = _str_list(table, "policy-dirs") if "policy-dirs" in table else ["policies"]
    options.policy_dirs = [(repo_root / p).resolve() for p in policy_dirs]
    data_files = _str_list(table, "data-files")
    options.data_files = [(repo_root / p).resolve() for p in data_files]
    options.repo_urls = _str_list(table, "repo-urls")
    options.ignore_missing_schemas = bool(table.get("ignore-missing-schemas", False))
    options.engine = str(table.get("engine", "auto"))
    options.rego_version = str(table.get("rego-version", "v1"))
    if options.rego_version not in REGO_VERSIONS:
        raise table.error("rego-version", f"{options.rego_version!r}: expected v1 or v0")
    if "namespaces" in table:
        options.namespaces = _str_list(table, "namespaces")
    options.all_namespaces = bool(table.get("all-namespaces", False))
    if options.engine not in ENGINES:
        raise table.error("engine", f"{options.engine!r}: expected one of {', '.join(ENGINES)}")
    for key in ("pod-security-level", "pod-security-version"):
        value = str(table.get(key, getattr(options, key.replace("-", "_"))))
        problem = pod_security_problem(key, value)
        if problem:
            raise table.error(key, problem)
        setattr(options, key.replace("-", "_"), value)
    rule_tests = table.get("rule-tests", "tests/rules")
    options.rule_tests_dir = (repo_root / str(rule_tests)).resolve()
    options.policy_timeout = _positive(table, "policy-timeout", DEFAULT_POLICY_TIMEOUT)
    options.policy_memory_mib = int(
        _positive(table, "policy-memory", DEFAULT_POLICY_MEMORY_MIB, whole=True)
    )
    options.kustomize_timeout = _positive(table, "kustomize-timeout", DEFAULT_KUSTOMIZE_TIMEOUT)
    options.kustomize_memory_mib = int(
        _positive(table, "kustomize-memory", DEFAULT_KUSTOMIZE_MEMORY_MIB, whole=True)
    )
    for key, value in overrides.items():
        if value is None:
            continue
        if not hasattr(options, key):
            raise TypeError(f"unknown validate option {key!r}")
        current = getattr(options, key)
        if isinstance(current, list) and isinstance(value, list) and key not in _REPLACED:
            current.extend(v for v in value if v not in current)
        else:
            setattr(options, key, value)
    options.kubernetes_version = check_version(options.kubernetes_version)
    for key in ("pod-security-level", "pod-security-version"):
        problem = pod_security_problem(key, getattr(options, key.replace("-", "_")))
        if problem:
            raise UserError(f"--{key} {problem}")
    return options


def pod_security_problem(key: str, value: str) -> str | None:
    """Why *value* is not a Pod Security level (or version), or None."""
    from tools.validate.checks.podsecurity import LEVELS, VERSION_PATTERN

    if key == "pod-security-level" and value not in LEVELS:
        return f"{value!r}: expected one of {', '.join(LEVELS)}"
    if key == "pod-security-version" and value != "latest" and not VERSION_PATTERN.fullmatch(value):
        return f"{value!r}: expected latest or v1.N (such as v1.33)"
    return None


def _positive(table: Section, key: str, default: float, *, whole: bool = False) -> float:
    value = table.get(key, default)
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if number is None or (whole and not isinstance(number, int)) or not 0 < number < 1e9:
        what = "a positive whole number" if whole else "a positive number"
        raise table.error(key, f"must be {what}")
    return float(number)


def load_policy_set(options: ValidateOptions) -> PolicySet:
    """The policies *options* select: folders, data, Rego version and packages."""
    return load_policies(
        options.policy_dirs,
        options.data_files,
        options.rego_version,
        options.namespaces,
        options.all_namespaces,
    )
