"""The steps of the training pipeline, as plain functions and as a container entrypoint.

``gitops pipeline run --local`` calls these functions in process; on Argo Workflows each step is
a container running ``python -m tools.pipeline.steps <step> ...`` which calls the same function and
writes its results as files under ``--outputs`` (``/tmp/outputs``) for Argo's output parameters.

Champion rule: the one gate + register policy of :mod:`training.policy`, which ``model-api
train`` applies too. ``evaluate`` is its gate against the current ``champion``; only when it
passes does the pipeline go on: ``register`` promotes the run (registers the version, tags it,
points ``candidate`` at it and moves ``champion`` to it). A refused model is logged as an MLflow
run but never registered. What runs in a cluster is still decided by git: ``build-image`` bakes
that exact version into the image and ``open-pr`` proposes its digest for staging.

The build itself runs in a rootless BuildKit container that has no Python, so for ``build-image``
this module provides the shell script the container runs (:func:`build_image_script`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from service.registry import CHAMPION_ALIAS, MODEL_NAME
from tools.errors import EXIT_USAGE, UserError
from tools.files import write_atomic
from training.policy import GATE_TOLERANCE

if TYPE_CHECKING:
    from training.policy import GateDecision
    from training.train import TrainedRun

CANDIDATE_ALIAS = "candidate"
DEFAULT_MODEL_NAME = MODEL_NAME
DEFAULT_IMAGE = "ghcr.io/example-org/model-api"
DEFAULT_OUTPUTS = "/tmp/outputs"  # noqa: S108 - an emptyDir in the pod; Argo reads it from there
CONTAINERFILE = "service/Containerfile"
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$")
RUN_ID_RE = re.compile(r"^[0-9a-f]{32}$")

BumpMode = Literal["pr", "no-pr", "dry-run"]


@dataclass(frozen=True)
class Registered:
    """The outcome of :func:`register`."""

    version: str
    uri: str
    aliases: tuple[str, ...]
    reused: bool  # a retry found the version this run registered before


# ------------------------------------------------------------------ train / gate / register


def configure(tracking_uri: str | None) -> str:
    from training import tracking

    return tracking.connect(tracking_uri)


@contextlib.contextmanager
def mlflow_errors(step: str, tracking_uri: str | None) -> Iterator[None]:
    """Turn what MLflow or training raise into a one-line :class:`UserError` naming the step."""
    try:
        yield
    except UserError:
        raise
    except Exception as exc:  # MlflowException, TrainingError, connection errors, bad URIs
        from service.registry import resolve_tracking_uri
        from training.tracking import describe

        uri = resolve_tracking_uri(tracking_uri)
        raise UserError(
            f"{step} failed: {describe(exc, uri)}", hint=f"tracking URI: {uri}"
        ) from exc


def _check_model_name(model_name: str) -> None:
    if not MODEL_NAME_RE.match(model_name):
        raise UserError(f"model name {model_name!r} may hold only letters, digits, '.', '_', '-'")


def train(
    *,
    model_name: str = DEFAULT_MODEL_NAME,
    seed: int = 42,
    label_noise: float = 0.0,
    n_estimators: int | None = None,
    tracking_uri: str | None = None,
) -> TrainedRun:
    """Fit the model and log it as an MLflow run (nothing is registered yet)."""
    from training.train import TrainConfig, fit_and_log

    if not 0.0 <= label_noise < 1.0:
        raise UserError(f"label noise must be in [0, 1), got {label_noise}")
    if n_estimators is not None and n_estimators < 1:
        raise UserError(f"n_estimators must be at least 1, got {n_estimators}")
    _check_model_name(model_name)
    options: dict[str, Any] = {"seed": seed, "label_noise": label_noise, "model_name": model_name}
    if n_estimators is not None:
        options["n_estimators"] = n_estimators
    with mlflow_errors("train", tracking_uri):
        configure(tracking_uri)
        return fit_and_log(TrainConfig(**options))


def evaluate(
    metrics: Mapping[str, float],
    *,
    model_name: str = DEFAULT_MODEL_NAME,
    tolerance: float = GATE_TOLERANCE,
    tracking_uri: str | None = None,
) -> GateDecision:
    """The quality gate of ``model-api train``: compare ``metrics`` with the current champion."""
    from training import policy

    _check_model_name(model_name)
    if tolerance < 0:
        raise UserError(f"tolerance must not be negative, got {tolerance}")
    with mlflow_errors("evaluate", tracking_uri):
        configure(tracking_uri)
        return policy.evaluate_gate(
            dict(metrics), model_name, alias=CHAMPION_ALIAS, tolerance=tolerance
        )


def register(
    *,
    run_id: str,
    model_uri: str,
    metrics: Mapping[str, float],
    model_name: str = DEFAULT_MODEL_NAME,
    promote: bool = True,
    gate_reason: str | None = None,
    tracking_uri: str | None = None,
) -> Registered:
    """Promote a run that passed ``evaluate``: register it, alias it ``candidate`` and, with
    ``promote``, ``champion`` (:func:`training.policy.promote`).

    Idempotent: if a previous attempt already registered this run, that version is reused and
    only the tags and aliases are (re)set, so Argo may retry the step.
    """
    from training import policy
    from training.train import TrainedRun

    _check_model_name(model_name)
    if not RUN_ID_RE.match(run_id):
        raise UserError(f"run id {run_id!r} is not an MLflow run id (32 hex digits)")
    aliases = (CANDIDATE_ALIAS, CHAMPION_ALIAS) if promote else (CANDIDATE_ALIAS,)
    # This step runs only after evaluate passed; its reason arrives as an Argo parameter.
    passed = policy.GateDecision(True, gate_reason or "passed (evaluate step)", None, None)
    with mlflow_errors("register", tracking_uri):
        configure(tracking_uri)
        run = TrainedRun(run_id=run_id, model_uri=model_uri, metrics=dict(metrics))
        done = policy.promote(run, passed, model_name, aliases)
    assert done.version is not None and done.registered_uri is not None  # a passed decision
    return Registered(
        version=done.version, uri=done.registered_uri, aliases=done.aliases, reused=done.reused
    )


# --------------------------------------------------------------------------- build-image


def image_tag(version: str) -> str:
    """The tag the pipeline gives an image that carries registry version ``version``."""
    return f"model-{version}"


def build_image_args(
    *,
    context: str,
    version: str,
    model_name: str,
    tracking_uri: str,
    image: str = DEFAULT_IMAGE,
    metadata_file: str = f"{DEFAULT_OUTPUTS}/build-metadata.json",
    push: bool = True,
    local: bool = False,
) -> list[str]:
    """Arguments of ``buildctl build`` for the model image.

    ``context`` is a git URL with ``#ref`` (in the cluster) or, with ``local``, a checkout
    directory. The model is baked in at build time from ``models:/<name>/<version>`` (an exact
    version, never an alias), so the image digest identifies the model.
    """
    sources = (
        ["--opt", f"context={context}", "--opt", f"filename={CONTAINERFILE}"]
        if not local
        else [
            "--local",
            f"context={context}",
            "--local",
            f"dockerfile={Path(context, CONTAINERFILE).parent}",
            "--opt",
            f"filename={Path(CONTAINERFILE).name}",
        ]
    )
    output = f"type=image,name={image}:{image_tag(version)},push={'true' if push else 'false'}"
    return [
        "build",
        "--frontend",
        "dockerfile.v0",
        *sources,
        "--opt",
        f"build-arg:MODEL_SOURCE=models:/{model_name}/{version}",
        "--opt",
        f"build-arg:MLFLOW_TRACKING_URI={tracking_uri}",
        # the model fetch authenticates with this BuildKit secret when it is set
        "--secret",
        "id=mlflow_token,env=MLFLOW_TRACKING_TOKEN",
        "--output",
        output,
        "--metadata-file",
        metadata_file,
    ]


# sed (basic regex) that prints the sha256 digest following the "containerimage.digest" key
_DIGEST_SED = r's/.*"containerimage\.digest": *"\(sha256:[0-9a-f]\{64\}\)".*/\1/p'


def build_image_script(args: Sequence[str], *, digest_file: str) -> str:
    """POSIX shell run by the BuildKit container: build, push, then write the digest file.

    ``buildctl --metadata-file`` writes JSON holding ``"containerimage.digest"``; the image has no
    JSON tool, so the digest is cut out with ``sed`` and checked for form before it is written.
    """
    metadata = args[args.index("--metadata-file") + 1]
    quoted = " ".join(shlex.quote(a) for a in args)
    return "\n".join(
        [
            "set -eu",
            f"mkdir -p {shlex.quote(str(Path(metadata).parent))}",
            f"buildctl-daemonless.sh {quoted}",
            f"digest=$(sed -n {shlex.quote(_DIGEST_SED)} {shlex.quote(metadata)} | head -n 1)",
            'if [ -z "$digest" ]; then',
            '  echo "build-image: no image digest in the build metadata" >&2',
            "  exit 1",
            "fi",
            f'printf %s "$digest" > {shlex.quote(digest_file)}',
            'echo "pushed digest $digest"',
        ]
    )


def digest_from_metadata(path: Path) -> str:
    """The pushed image digest from a ``buildctl --metadata-file`` JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read build metadata {path}: {exc}") from exc
    digest = data.get("containerimage.digest") if isinstance(data, dict) else None
    if not isinstance(digest, str) or not DIGEST_RE.match(digest):
        raise UserError(f"build metadata {path} holds no image digest")
    return digest


def builder_available() -> bool:
    return shutil.which("buildctl-daemonless.sh") is not None


def build_image(
    *,
    context: str,
    version: str,
    model_name: str,
    tracking_uri: str,
    image: str = DEFAULT_IMAGE,
    push: bool = True,
) -> str:
    """Build (and push) the model image with rootless BuildKit; return its digest."""
    if not builder_available():
        raise UserError(
            "build-image needs buildctl-daemonless.sh (rootless BuildKit) on PATH",
            hint="pass --digest of an image built elsewhere, or run the pipeline on Argo Workflows",
        )
    with tempfile.TemporaryDirectory(prefix="build-image-") as tmp:
        metadata = Path(tmp, "metadata.json")
        args = build_image_args(
            context=context,
            version=version,
            model_name=model_name,
            tracking_uri=tracking_uri,
            image=image,
            metadata_file=str(metadata),
            push=push,
            local=True,
        )
        done = subprocess.run(["buildctl-daemonless.sh", *args], check=False)
        if done.returncode != 0:
            raise UserError(f"image build failed (buildctl exit {done.returncode})")
        return digest_from_metadata(metadata)


# --------------------------------------------------------------------------- open-pr


def open_pr(
    *,
    env: str,
    image: str,
    digest: str,
    mode: BumpMode = "pr",
    repo_dir: str | None = None,
) -> int:
    """Propose ``image@digest`` for ``env`` the way ``gitops bump`` does; its exit code."""
    from tools.release.bump import bump
    from tools.release.options import Options

    if not DIGEST_RE.match(digest):
        raise UserError(f"image digest {digest!r} is not of the form sha256:<64 hex>")
    opts = Options(repo_dir=Path(repo_dir or "."), pr=mode != "no-pr", dry_run=mode == "dry-run")
    return bump(env, image, opts, digest=digest)


def clone(repo: str, revision: str, dest: Path) -> Path:
    """Clone ``repo`` at branch ``revision`` into ``dest`` (the open-pr step works on a clone)."""
    done = subprocess.run(
        ["git", "clone", "--quiet", "--branch", revision, repo, str(dest)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise UserError(f"git clone of {repo} at {revision} failed: {done.stderr.strip()}")
    return dest


# --------------------------------------------------------------------------- entrypoint


def _write_outputs(directory: Path, values: Mapping[str, str]) -> None:
    for name, value in values.items():
        write_atomic(directory / name, value, durable=False)


def _metrics_arg(text: str) -> dict[str, float]:
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return {str(k): float(v) for k, v in data.items()}
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(
            f"metrics must be a JSON object of numbers: {exc}"
        ) from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.pipeline.steps", description=__doc__)
    sub = parser.add_subparsers(dest="step", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model-name", default=DEFAULT_MODEL_NAME)
        p.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"))
        p.add_argument("--outputs", type=Path, default=Path(DEFAULT_OUTPUTS))

    p = sub.add_parser("train", help="fit the model and log an MLflow run")
    common(p)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--label-noise", type=float, default=0.0)
    p.add_argument("--n-estimators", type=int, default=None)

    p = sub.add_parser("evaluate", help="quality gate against the current champion")
    common(p)
    p.add_argument("--metrics", type=_metrics_arg, required=True)
    p.add_argument("--tolerance", type=float, default=GATE_TOLERANCE)

    p = sub.add_parser("register", help="register the version; alias candidate and champion")
    common(p)
    p.add_argument("--run-id", required=True)
    p.add_argument("--model-uri", required=True)
    p.add_argument("--metrics", type=_metrics_arg, required=True)
    p.add_argument("--gate-reason", default=None, help="recorded as the version's gate_reason tag")

    p = sub.add_parser("open-pr", help="propose the image digest through gitops bump")
    p.add_argument("--env", default="staging")
    p.add_argument("--image", default=DEFAULT_IMAGE)
    p.add_argument("--digest", required=True)
    p.add_argument("--mode", choices=["pr", "no-pr", "dry-run"], default="pr")
    p.add_argument("--repo", help="git URL to clone first (in the cluster)")
    p.add_argument("--revision", default="main")
    p.add_argument("--repo-dir", default=None, help="an existing checkout (default: a fresh clone)")
    return parser


def _run(args: argparse.Namespace) -> int:
    if args.step == "train":
        run = train(
            model_name=args.model_name,
            seed=args.seed,
            label_noise=args.label_noise,
            n_estimators=args.n_estimators,
            tracking_uri=args.tracking_uri,
        )
        metrics = json.dumps(run.metrics, sort_keys=True)
        _write_outputs(
            args.outputs, {"run-id": run.run_id, "model-uri": run.model_uri, "metrics": metrics}
        )
        print(f"train: run {run.run_id} {metrics}")
        return 0
    if args.step == "evaluate":
        gate = evaluate(
            args.metrics,
            model_name=args.model_name,
            tolerance=args.tolerance,
            tracking_uri=args.tracking_uri,
        )
        champion = "" if gate.champion_version is None else str(gate.champion_version)
        _write_outputs(
            args.outputs,
            {
                "passed": "true" if gate.passed else "false",
                "reason": gate.reason,
                "champion-version": champion,
            },
        )
        print(f"evaluate: {'passed' if gate.passed else 'refused'}: {gate.reason}")
        return 0
    if args.step == "register":
        done = register(
            run_id=args.run_id,
            model_uri=args.model_uri,
            metrics=args.metrics,
            model_name=args.model_name,
            gate_reason=args.gate_reason,
            tracking_uri=args.tracking_uri,
        )
        _write_outputs(args.outputs, {"version": done.version, "registered-uri": done.uri})
        print(f"register: {done.uri} aliases {', '.join(done.aliases)}")
        return 0
    # open-pr
    repo_dir = args.repo_dir
    if repo_dir is None:
        if not args.repo:
            raise UserError("open-pr needs --repo (to clone) or --repo-dir")
        repo_dir = str(clone(args.repo, args.revision, Path(tempfile.mkdtemp(prefix="repo-"))))
    return open_pr(
        env=args.env, image=args.image, digest=args.digest, mode=args.mode, repo_dir=repo_dir
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except UserError as exc:
        sys.stderr.write(f"{args.step}: error: {exc.message}\n")
        if exc.hint:
            sys.stderr.write(f"hint: {exc.hint}\n")
        return exc.exit_code or EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
