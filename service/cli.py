"""``model-api``: ``serve`` the model over HTTP, or ``train`` and register a new version."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata

from pydantic import ValidationError

from service.registry import DEFAULT_MODEL_URI

EXIT_USAGE = 2
DISTRIBUTION = "mlops-gitops"


def version() -> str:
    """The installed distribution's version (what pip installed)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The ``model-api`` command line: ``serve`` and ``train``."""
    parser = argparse.ArgumentParser(
        prog="model-api",
        description="Serve the MLflow-registered model (MLflow scoring protocol + OIP v2), "
        "or train and register a new version.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {version()}", help="print the version"
    )
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        help="run 'model-api COMMAND --help' for its options",
    )
    serve = commands.add_parser(
        "serve",
        help="serve the model from MODEL_URI",
        description=f"Serve the model from MODEL_URI (default {DEFAULT_MODEL_URI}). "
        "All settings come from the environment (docs/SERVICE.md); the flags override them.",
    )
    serve.add_argument("--host", help="interface to bind (MODEL_API_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port (MODEL_API_PORT, default 8000)")
    serve.add_argument(
        "--workers", type=int, help="worker processes (MODEL_API_WORKERS, default 1)"
    )
    serve.add_argument(
        "--grpc-port",
        type=int,
        help="also serve OIP v2 over gRPC on this port (MODEL_API_GRPC_PORT, default off)",
    )
    train = commands.add_parser(
        "train",
        help="train, log and register a model (see 'model-api train --help')",
        add_help=False,
    )
    train.add_argument("args", nargs=argparse.REMAINDER, help="the options of model-api train")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["train"]:
        # Everything after "train" (even --help) belongs to the trainer. Imported lazily:
        # training pulls in MLflow and scikit-learn, serving does not need them.
        try:
            from training import cli as training_cli
        except ImportError as exc:
            print(
                f"model-api train: needs the training package and the 'train' extra: {exc}",
                file=sys.stderr,
            )
            return 1
        return training_cli.main(arguments[1:])
    return _serve(build_parser().parse_args(arguments))


def _serve(args: argparse.Namespace) -> int:
    from service import server
    from service.settings import ServeSettings

    overrides = {
        key: value
        for key, value in (
            ("host", args.host),
            ("port", args.port),
            ("workers", args.workers),
            ("grpc_port", args.grpc_port),
        )
        if value is not None
    }
    try:
        settings = ServeSettings()
        settings = ServeSettings.model_validate({**settings.model_dump(), **overrides})
    except ValidationError as exc:
        for problem in exc.errors():
            where = ".".join(str(part) for part in problem["loc"])
            print(f"model-api: invalid setting {where}: {problem['msg']}", file=sys.stderr)
        return EXIT_USAGE
    return server.run(settings)


if __name__ == "__main__":
    sys.exit(main())
