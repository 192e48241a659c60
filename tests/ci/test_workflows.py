"""GitHub Actions workflows: schema-valid, and every `gitops` call in them parses."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))

# Values the workflows take from `${{ ... }}` or the environment, as CI would see them.
SAMPLE_ENV = {
    "$IMAGE": "ghcr.io/example-org/model-api",
    "$DIGEST": "sha256:" + "ab" * 32,
    "$BASE_REF": "main",
}
SHELL_STOP = {">", ">>", "|", "||", "&&", ";", "2>&1"}


def gitops_invocations() -> list[tuple[str, list[str]]]:
    """(where, argv) for every `gitops ...` command in a `run:` step of a workflow."""
    found: list[tuple[str, list[str]]] = []
    for workflow in WORKFLOWS:
        doc = yaml.safe_load(workflow.read_text())
        for job_name, job in doc["jobs"].items():
            for step in job.get("steps", []):
                script = step.get("run", "").replace("\\\n", " ")
                for line in script.splitlines():
                    tokens = shlex.split(line, comments=True)
                    for i, token in enumerate(tokens):
                        if Path(token).name != "gitops":
                            continue
                        argv: list[str] = []
                        for arg in tokens[i + 1 :]:
                            if arg in SHELL_STOP:
                                break
                            argv.append(SAMPLE_ENV.get(arg, arg))
                        found.append((f"{workflow.name}:{job_name}", argv))
    return found


def test_there_are_workflows_with_gitops_calls() -> None:
    names = {w.name for w in WORKFLOWS}
    assert {"ci.yml", "cd.yml"} <= names
    commands = {argv[0] for _, argv in gitops_invocations()}
    # validate runs through the repository's own action (tests/ci/test_action.py runs its step)
    assert {"policy", "diff", "bump", "promote"} <= commands


def test_workflows_match_the_github_workflow_schema() -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, WORKFLOWS),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("where", "argv"), gitops_invocations(), ids=lambda v: v if isinstance(v, str) else " ".join(v)
)
def test_every_gitops_call_parses(where: str, argv: list[str]) -> None:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse rejects unknown commands and flags with exit 2
        pytest.fail(f"{where}: `gitops {' '.join(argv)}` is rejected by the CLI (exit {exc.code})")
    assert callable(args.func)


def _test_sources() -> dict[Path, str]:
    here = Path(__file__).resolve().parent
    return {
        path: path.read_text()
        for path in (ROOT / "tests").rglob("test_*.py")
        if here not in path.parents
    }


@pytest.mark.parametrize(
    ("where", "argv"), gitops_invocations(), ids=lambda v: v if isinstance(v, str) else " ".join(v)
)
def test_every_gitops_call_is_exercised_by_a_test_with_the_same_flags(
    where: str, argv: list[str]
) -> None:
    """Some test outside tests/ci runs this subcommand with every flag the workflow passes."""
    command = argv[0]
    flags = {arg.split("=", 1)[0] for arg in argv[1:] if arg.startswith("--")}
    quoted = (f'"{command}"', f"'{command}'")
    subcommand_tests = [t for t in _test_sources().values() if any(q in t for q in quoted)]
    covering = [text for text in subcommand_tests if all(f'"{flag}"' in text for flag in flags)]
    assert covering, f"{where}: no test runs `gitops {command}` with all of {sorted(flags)}"
