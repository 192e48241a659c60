"""Entry point of the ``gitops`` command.

Subcommands live in ``tools.commands.<name>``; each module exposes ``add_parser(subparsers)``
(registering its arguments and ``set_defaults(func=run)``) and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tools.errors import EXIT_USAGE, UserError

# Module names under tools.commands, in the order `gitops --help` lists them.
COMMANDS = ("validate", "policy", "bump", "promote", "diff", "analyze", "rehearse", "pipeline")
DISTRIBUTION = "mlops-gitops"


def version() -> str:
    """The installed distribution's version (what pip installed), not a copy kept in the code."""
    from importlib import metadata  # ~20 ms of start-up: only for --version

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


class _Parser(argparse.ArgumentParser):
    """argparse exits with 2 on usage errors already; keep its message short and clear."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


class _Version(argparse.Action):
    """argparse's "version" action, asking for the version only when --version is given: the
    distribution's metadata costs ~25 ms of every command's start-up."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        sys.stdout.write(f"{parser.prog} {version()}\n")
        parser.exit()


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or of *only* that one (its imports are not free)."""
    parser = _Parser(
        prog="gitops",
        description="Validate, release and rehearse the model-api GitOps repository.",
    )
    parser.add_argument("--version", action=_Version, help="print the version")
    sub = parser.add_subparsers(
        dest="command",
        metavar="COMMAND",
        parser_class=_Parser,
        help="run 'gitops COMMAND --help' for its options",
    )
    sub.required = True
    for name in (only,) if only else COMMANDS:
        importlib.import_module(f"tools.commands.{name}").add_parser(sub)
    if only is None:  # --print-completion comes before any command: no use with one
        _add_completion(parser)
    return parser


def _add_completion(parser: argparse.ArgumentParser) -> None:
    """``--print-completion SHELL``: a shell completion script generated from the parser.

    Arguments whose metavar names a folder or a file complete paths of that kind.
    """
    try:
        import shtab
    except ImportError:  # the option is absent where shtab is not installed
        return
    kinds = {"DIR": shtab.DIRECTORY, "FILE": shtab.FILE, "PATH": shtab.FILE}
    pending = [parser]
    while pending:
        current = pending.pop()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())
            elif isinstance(action.metavar, str) and action.metavar in kinds:
                action.complete = kinds[action.metavar]  # type: ignore[attr-defined]
    shtab.add_argument_to(
        parser, ["--print-completion"], help="print a completion script for SHELL and exit"
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `gitops validate ...` needs only the validate module: start-up time is part of every CI
    # run. Anything else (no command, --help, a typo) gets the full parser and its messages.
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UserError as exc:
        sys.stderr.write(f"gitops {args.command}: error: {exc.message}\n")
        if exc.hint:
            sys.stderr.write(f"hint: {exc.hint}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("gitops: interrupted\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
