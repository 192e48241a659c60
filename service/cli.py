"""``model-api``: ``serve`` the model over HTTP, ``train`` and register a new version, or
``feedback import`` ground truth from a CSV into a running API."""

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
    feedback = commands.add_parser(
        "feedback",
        help="ground truth for earlier predictions (see docs/MONITORING.md)",
        description="Ground truth for earlier predictions.",
    )
    actions = feedback.add_subparsers(
        dest="action", required=True, metavar="ACTION", help="what to do (import)"
    )
    importer = actions.add_parser(
        "import",
        help="back-fill labels from a CSV (prediction_id,row,label) through POST /feedback",
        description="Back-fill labels from a CSV with the header prediction_id,row,label (row = "
        "the row's index in its request, from 0): one POST /feedback per prediction id to a "
        "running API, validated and counted like live feedback. Exit 0 when every prediction "
        "was joined (now or before), 1 otherwise.",
    )
    importer.add_argument("file", metavar="FILE", help="the CSV file")
    importer.add_argument(
        "--url", default="http://127.0.0.1:8000", help="the API (default http://127.0.0.1:8000)"
    )
    importer.add_argument(
        "--token-file", help="file holding the bearer token (as MODEL_API_TOKEN_FILE)"
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
    args = build_parser().parse_args(arguments)
    if args.command == "feedback":
        return _feedback_import(args)
    return _serve(args)


def _feedback_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from service.feedback_import import ImportError_, import_file

    try:
        token = Path(args.token_file).read_text().strip() if args.token_file else None
        report = import_file(Path(args.file), args.url, token)
    except (ImportError_, OSError) as exc:
        print(f"model-api feedback import: {exc}", file=sys.stderr)
        return 1
    for problem in report.problems:
        print(f"model-api feedback import: {problem}", file=sys.stderr)
    print(
        f"{report.counted} predictions labelled, {report.already} had their labels already, "
        f"{len(report.problems)} problems"
    )
    return 0 if report.ok else 1


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
