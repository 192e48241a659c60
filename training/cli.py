"""``model-api train``: fit, log to MLflow, then gate and register (:mod:`training.policy`).

``service/cli.py`` hands everything after ``train`` to :func:`main`, importing this package only
for that subcommand (serving does not need MLflow or scikit-learn).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict

from service import registry
from training import policy, tracking
from training.train import DEFAULT_N_ESTIMATORS, TrainConfig


def build_parser() -> argparse.ArgumentParser:
    """The ``model-api train`` options."""
    parser = argparse.ArgumentParser(
        prog="model-api train", description="Train, log to MLflow, register, gate the alias."
    )
    parser.add_argument("--seed", type=int, default=42, help="forest and label-noise seed (42)")
    parser.add_argument(
        "--label-noise",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="experiment knob: flip this fraction of the training labels (0.0)",
    )
    parser.add_argument(
        "--n-estimators",
        type=int,
        default=DEFAULT_N_ESTIMATORS,
        help=f"trees in the forest ({DEFAULT_N_ESTIMATORS})",
    )
    parser.add_argument("--model-name", default=registry.MODEL_NAME, help="registered model name")
    parser.add_argument(
        "--alias", default=policy.CHAMPION_ALIAS, help="alias moved when the gate passes"
    )
    parser.add_argument(
        "--no-gate", action="store_true", help="move the alias even if the quality gate fails"
    )
    parser.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or ./.mlflow)"
    )
    parser.add_argument(
        "--output-json", action="store_true", help="print the result as one JSON object"
    )
    parser.add_argument(
        "--if-missing",
        action="store_true",
        help="do nothing when MODEL_NAME@ALIAS already exists (used by ./dev run)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``model-api train``: 0 trained (gate passed or not), 1 failure, 2 usage."""
    args = build_parser().parse_args(argv)
    config = TrainConfig(
        seed=args.seed,
        label_noise=args.label_noise,
        n_estimators=args.n_estimators,
        model_name=args.model_name,
    )
    try:
        with _stdout_to_stderr():
            uri = tracking.connect(args.tracking_uri)
            existing = (
                policy.current_version(config.model_name, args.alias) if args.if_missing else None
            )
            if existing is None:
                result = policy.train_and_register(config, args.alias, gate=not args.no_gate)
    except Exception as exc:  # every failure becomes one line, never a traceback
        reason = tracking.describe(exc, registry.resolve_tracking_uri(args.tracking_uri))
        print(f"model-api train: error: {reason}", file=sys.stderr)
        return 1
    if existing is not None:
        print(
            f"models:/{config.model_name}@{args.alias} is version {existing} in {uri}; "
            "not training (--if-missing)"
        )
        return 0
    if args.output_json:
        print(json.dumps({"tracking_uri": uri, **asdict(result)}, sort_keys=True))
    else:
        print(f"tracking URI:  {uri}")
        print(f"run:           {result.run.run_id}")
        print("metrics:       " + ", ".join(f"{k}={v:.4f}" for k, v in result.run.metrics.items()))
        print(f"model URI:     {result.registered_uri or 'not registered (the gate refused it)'}")
        print(
            f"gate:          {'PASSED' if result.gate.passed else 'FAILED'}: {result.gate.reason}"
        )
        moved = ", ".join(f"models:/{config.model_name}@{a}" for a in result.aliases)
        print(f"alias:         {moved or f'{args.alias} unchanged'}")
    return 0


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """MLflow prints progress to stdout; keep stdout for the result (and clean JSON)."""
    with contextlib.redirect_stdout(sys.stderr):
        yield
