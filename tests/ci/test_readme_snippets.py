"""README "Use it in your repository": every snippet is valid for the tool that reads it and
names only hooks, inputs, keys and flags that exist."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.support.paths import REPO_ROOT
from tools.cli import build_parser
from tools.config import load_section
from tools.validate.options import KEYS

BIN = Path(sys.executable).parent


def section() -> str:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("## Use it in your repository", 1)[1].split("\n## ", 1)[0]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(), re.S)


def test_config_snippet_is_accepted_by_the_config_reader(tmp_path: Path) -> None:
    (toml,) = blocks("toml")
    (tmp_path / ".gitops.toml").write_text(toml)
    table = load_section(tmp_path, "validate", KEYS)  # raises on an unknown key
    assert set(tomllib.loads(toml)["validate"]) <= set(KEYS) and table.get("crd-dirs")


def test_pre_commit_snippet_is_a_valid_config_naming_published_hooks(tmp_path: Path) -> None:
    config = next(b for b in blocks("yaml") if b.startswith("repos:"))
    path = tmp_path / ".pre-commit-config.yaml"
    path.write_text(config)
    result = subprocess.run(
        [str(BIN / "pre-commit"), "validate-config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    published = {
        h["id"] for h in yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    }
    used = {hook["id"] for repo in yaml.safe_load(config)["repos"] for hook in repo["hooks"]}
    assert used == published


def test_action_snippet_is_a_valid_workflow_using_declared_inputs(tmp_path: Path) -> None:
    workflow = next(b for b in blocks("yaml") if b.startswith("jobs:"))
    path = tmp_path / "workflow.yml"
    path.write_text("name: manifests\non: [pull_request]\n" + workflow)
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    inputs = yaml.safe_load((REPO_ROOT / "action.yml").read_text())["inputs"]
    steps = yaml.safe_load(workflow)["jobs"]["manifests"]["steps"]
    ours = [s for s in steps if s.get("uses", "").startswith("example-org/mlops-gitops@")]
    assert ours and set(ours[0]["with"]) <= set(inputs)


@pytest.mark.parametrize("line", [ln for b in blocks("bash") for ln in b.splitlines() if ln])
def test_image_snippet_calls_a_command_the_cli_has(line: str) -> None:
    tokens = shlex.split(line)
    image = next(i for i, t in enumerate(tokens) if t.startswith("ghcr.io/example-org/gitops:"))
    argv = tokens[image + 1 :]
    assert callable(build_parser().parse_args(argv).func)
    assert "--read-only" in tokens  # the image is shown the way it is meant to run
