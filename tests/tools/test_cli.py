"""The `gitops` dispatcher: usage errors exit 2; a UserError is one message, no traceback."""

from __future__ import annotations

import argparse
from importlib import metadata

import pytest

from tests.support.cli_help import problems
from tools import cli
from tools.errors import EXIT_FINDINGS, UserError

MINIMAL_ARGS = {
    "policy": ["test"],
    "bump": ["--env", "staging", "--image", "x", "--tag", "1"],
    "promote": ["--from", "staging", "--to", "production"],
    "analyze": ["success-rate"],
    "pipeline": ["render"],
}


@pytest.mark.parametrize("name", cli.COMMANDS)
def test_every_subcommand_is_registered(name: str) -> None:
    args = cli.build_parser().parse_args([name, *MINIMAL_ARGS.get(name, [])])
    assert args.command == name
    assert callable(args.func)


@pytest.mark.parametrize("argv", [[], ["nope"], ["validate", "--no-such-flag"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_user_error_is_one_line_with_hint_and_its_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing(args: argparse.Namespace) -> int:
        raise UserError("overlays/qa does not exist", hint="use --env staging", exit_code=1)

    # add_parser binds run when main() builds it
    monkeypatch.setattr("tools.commands.validate.run", failing)
    assert cli.main(["validate"]) == EXIT_FINDINGS
    err = capsys.readouterr().err
    assert err == "gitops validate: error: overlays/qa does not exist\nhint: use --env staging\n"


def test_every_command_and_option_has_plain_help() -> None:
    assert problems(cli.build_parser()) == []


def test_version_comes_from_the_installed_distribution(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"gitops {metadata.version('mlops-gitops')}\n"


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_script_names_every_command_and_option(
    shell: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--print-completion", shell])
    assert exc.value.code == 0
    script = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in script
    for option in ("--crd-dir", "--fail-on-warn", "--no-samples", "--github-repo"):
        assert option in script
    if shell == "zsh":  # folders complete as folders
        assert "--crd-dir" in script and "_files -/" in script
