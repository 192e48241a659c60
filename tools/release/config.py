"""The ``bump`` settings: how bump and promote ship (read through :mod:`tools.config`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tools.config import Section, load_section

DEFAULT_REQUIRE_DIGEST = {"production": True}
DEFAULT_PUSH_ATTEMPTS = 10
DEFAULT_PUSH_TIMEOUT = 120.0  # seconds of retries after the first refused push
DEFAULT_PUSH_BACKOFF = 0.5  # seconds: the first retry waits up to this, each next one twice as long
MAX_PUSH_BACKOFF = 16.0  # no single wait is longer
KEYS = ("require-digest", "push-attempts", "push-timeout", "push-backoff", "labels")


@dataclass(frozen=True)
class BumpConfig:
    """The ``bump`` table of the repository's configuration (tools/config.py)."""

    require_digest: dict[str, bool] = field(default_factory=lambda: dict(DEFAULT_REQUIRE_DIGEST))
    push_attempts: int = DEFAULT_PUSH_ATTEMPTS
    labels: tuple[str, ...] = ("gitops",)
    push_timeout: float = DEFAULT_PUSH_TIMEOUT
    push_backoff: float = DEFAULT_PUSH_BACKOFF

    def requires_digest(self, env: str) -> bool:
        return self.require_digest.get(env, False)


def load_config(repo_root: Path) -> BumpConfig:
    """``[bump]`` of .gitops.toml or ``[tool.gitops.bump]`` of pyproject.toml (tools/config.py)."""
    table = load_section(repo_root, "bump", KEYS)
    require = table.get("require-digest", DEFAULT_REQUIRE_DIGEST)
    if not isinstance(require, dict) or not all(isinstance(v, bool) for v in require.values()):
        raise table.error("require-digest", "must map environments to booleans")
    attempts = table.get("push-attempts", DEFAULT_PUSH_ATTEMPTS)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 20:
        raise table.error("push-attempts", "must be an integer 1-20")
    labels = table.get("labels", ["gitops"])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise table.error("labels", "must be a list of strings")
    timeout = _seconds(table, "push-timeout", DEFAULT_PUSH_TIMEOUT, 1, 3600)
    backoff = _seconds(table, "push-backoff", DEFAULT_PUSH_BACKOFF, 0, MAX_PUSH_BACKOFF)
    return BumpConfig(
        {str(k): bool(v) for k, v in require.items()},
        attempts,
        tuple(labels),
        push_timeout=timeout,
        push_backoff=backoff,
    )


def _seconds(table: Section, key: str, default: float, low: float, high: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise table.error(key, f"must be a number of seconds from {low:g} to {high:g}")
    return float(value)
