"""The ``bump`` settings: how bump and promote ship (read through :mod:`tools.config`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tools.config import load_section

DEFAULT_REQUIRE_DIGEST = {"production": True}
DEFAULT_PUSH_ATTEMPTS = 5


@dataclass(frozen=True)
class BumpConfig:
    """The ``bump`` table of the repository's configuration (tools/config.py)."""

    require_digest: dict[str, bool] = field(default_factory=lambda: dict(DEFAULT_REQUIRE_DIGEST))
    push_attempts: int = DEFAULT_PUSH_ATTEMPTS
    labels: tuple[str, ...] = ("gitops",)

    def requires_digest(self, env: str) -> bool:
        return self.require_digest.get(env, False)


def load_config(repo_root: Path) -> BumpConfig:
    """``[bump]`` of .gitops.toml or ``[tool.gitops.bump]`` of pyproject.toml (tools/config.py)."""
    table = load_section(repo_root, "bump", ("require-digest", "push-attempts", "labels"))
    require = table.get("require-digest", DEFAULT_REQUIRE_DIGEST)
    if not isinstance(require, dict) or not all(isinstance(v, bool) for v in require.values()):
        raise table.error("require-digest", "must map environments to booleans")
    attempts = table.get("push-attempts", DEFAULT_PUSH_ATTEMPTS)
    if not isinstance(attempts, int) or not 1 <= attempts <= 20:
        raise table.error("push-attempts", "must be an integer 1-20")
    labels = table.get("labels", ["gitops"])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise table.error("labels", "must be a list of strings")
    return BumpConfig({str(k): bool(v) for k, v in require.items()}, attempts, tuple(labels))
