"""``python -m service.fetch_model MODEL_URI DEST``: download a model to bake into an image.

Run by service/Containerfile at build time (``--build-arg MODEL_SOURCE=...``). DEST becomes a
plain MLflow model directory plus ``model-source.json`` (name, version, alias, run id), so
``MODEL_URI=DEST`` serves it without a registry and still reports what it is.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from service.model import fetch_model
from service.predictor import ModelLoadError
from service.registry import DEFAULT_MODEL_URI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m service.fetch_model",
        description="Download an MLflow model (models:/, runs:/, ...) into a new directory.",
    )
    parser.add_argument("model_uri", help=f"e.g. {DEFAULT_MODEL_URI}")
    parser.add_argument("destination", type=Path, help="directory to create")
    parser.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or ./.mlflow)"
    )
    args = parser.parse_args(argv)
    try:
        path = fetch_model(args.model_uri, args.destination, tracking_uri=args.tracking_uri)
    except ModelLoadError as exc:
        print(f"fetch_model: error: {exc}", file=sys.stderr)
        return 1
    print(f"fetched {args.model_uri} into {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
