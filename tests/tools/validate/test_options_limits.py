"""The limits of gitops validate come from [validate] or flags; the network only from a flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.errors import UserError
from tools.validate.options import load_options


def repo(tmp_path: Path, config: str) -> Path:
    (tmp_path / ".gitops.toml").write_text(config)
    (tmp_path / "policies").mkdir()
    return tmp_path


def test_defaults(tmp_path: Path) -> None:
    options = load_options(repo(tmp_path, ""))
    assert (options.policy_timeout, options.policy_memory_mib) == (10.0, 1024)
    assert (options.kustomize_timeout, options.kustomize_memory_mib) == (60.0, 2048)
    assert options.allow_remote is False


def test_configured_limits_and_flags_over_them(tmp_path: Path) -> None:
    config = (
        "[validate]\npolicy-timeout = 2.5\npolicy-memory = 512\n"
        "kustomize-timeout = 30\nkustomize-memory = 4096\n"
    )
    options = load_options(repo(tmp_path, config))
    assert (options.policy_timeout, options.policy_memory_mib) == (2.5, 512)
    assert (options.kustomize_timeout, options.kustomize_memory_mib) == (30.0, 4096)
    flagged = load_options(tmp_path, policy_timeout=1.0, kustomize_memory_mib=1024)
    assert (flagged.policy_timeout, flagged.kustomize_memory_mib) == (1.0, 1024)


@pytest.mark.parametrize(
    "line",
    ['policy-timeout = "10"', "policy-timeout = 0", "policy-memory = 1.5", "kustomize-memory = -1"],
)
def test_bad_limits_are_errors_naming_the_key(tmp_path: Path, line: str) -> None:
    with pytest.raises(UserError, match=line.split(" ")[0]):
        load_options(repo(tmp_path, f"[validate]\n{line}\n"))


def test_the_configuration_cannot_turn_the_network_on(tmp_path: Path) -> None:
    # A pull request can edit the configuration; only the --allow-remote flag may.
    with pytest.raises(UserError, match="allow-remote"):
        load_options(repo(tmp_path, "[validate]\nallow-remote = true\n"))
