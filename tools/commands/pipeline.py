"""``gitops pipeline``: render, run locally, or submit the training pipeline.

- ``render [--check]`` writes ``base/training/{workflowtemplate,cronworkflow}.yaml`` from
  ``tools/pipeline/workflow.py``; with ``--check`` it writes nothing and exits 1 if they differ.
- ``run --local`` runs the same step functions in process against the embedded MLflow store
  (or ``--tracking-uri``): train → gate → register → (image digest) → ``gitops bump``.
- ``submit --argo-server URL`` asks an Argo Server to run the ``model-training`` template.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from service.registry import MODEL_NAME
from tools.errors import EXIT_FINDINGS, UserError
from tools.pipeline.steps import DEFAULT_IMAGE
from training.policy import GATE_TOLERANCE

DEFAULT_NAMESPACE = "ml-training"


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "pipeline",
        help="render, run locally or submit the training pipeline",
        description="The training pipeline (train, gate, register, build, bump): render its "
        "Argo Workflows YAML, run it in this process, or submit it to an Argo Server.",
    )
    p.set_defaults(func=run)
    sub = p.add_subparsers(
        dest="action", metavar="ACTION", help="run 'gitops pipeline ACTION --help' for its options"
    )
    sub.required = True

    r = sub.add_parser("render", help="write base/training from the Hera definition")
    r.add_argument("--check", action="store_true", help="only compare; exit 1 when out of date")
    r.add_argument("--repo-dir", type=Path, default=Path("."), help="repository root")

    lr = sub.add_parser("run", help="run the pipeline in process (--local)")
    lr.add_argument("--local", action="store_true", required=True, help="run in this process")
    lr.add_argument(
        "--tracking-uri",
        default=os.environ.get("MLFLOW_TRACKING_URI"),
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or the embedded ./.mlflow)",
    )
    lr.add_argument("--model-name", default=MODEL_NAME, help=f"registered model ({MODEL_NAME})")
    lr.add_argument("--seed", type=int, default=42, help="training seed (42)")
    lr.add_argument(
        "--label-noise",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="flip this fraction of the training labels (0.0)",
    )
    lr.add_argument(
        "--n-estimators", type=int, default=None, help="trees in the forest (trainer default)"
    )
    lr.add_argument(
        "--tolerance",
        type=float,
        default=GATE_TOLERANCE,
        help="quality gate: the candidate's ROC AUC may be this much below the champion's",
    )
    lr.add_argument("--env", default="staging", help="environment the bump targets")
    lr.add_argument(
        "--image",
        default=DEFAULT_IMAGE,
        help=f"image name the bump writes ({DEFAULT_IMAGE})",
    )
    lr.add_argument(
        "--digest", help="digest of an image already built for this model (skips build-image)"
    )
    lr.add_argument(
        "--build",
        action="store_true",
        help="build and push the image with local rootless BuildKit (buildctl-daemonless.sh)",
    )
    mode = lr.add_mutually_exclusive_group()
    mode.add_argument(
        "--dry-run",
        dest="mode",
        action="store_const",
        const="dry-run",
        help="plan the bump, change nothing (default)",
    )
    mode.add_argument(
        "--no-pr",
        dest="mode",
        action="store_const",
        const="no-pr",
        help="bump as a direct commit to the base branch",
    )
    mode.add_argument(
        "--pr", dest="mode", action="store_const", const="pr", help="bump as a pull request"
    )
    lr.set_defaults(mode="dry-run")
    lr.add_argument("--repo-dir", default=".", help="checkout that gitops bump edits")

    s = sub.add_parser("submit", help="submit the WorkflowTemplate through the Argo Server API")
    s.add_argument(
        "--argo-server", default=os.environ.get("ARGO_SERVER"), help="e.g. https://argo:2746"
    )
    s.add_argument("--token", default=None, help="bearer token (default: $ARGO_TOKEN)")
    s.add_argument(
        "--namespace",
        default=DEFAULT_NAMESPACE,
        help=f"namespace of the WorkflowTemplate ({DEFAULT_NAMESPACE})",
    )
    s.add_argument(
        "--template", default="model-training", help="WorkflowTemplate name (model-training)"
    )
    s.add_argument(
        "-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
        help="override a workflow parameter (repeatable)",
    )  # fmt: skip
    s.add_argument(
        "--insecure", action="store_true", help="do not verify the server's TLS certificate"
    )
    s.add_argument(
        "--timeout", type=float, default=30.0, metavar="SECONDS", help="HTTP timeout (30)"
    )


def run(args: argparse.Namespace) -> int:
    if args.action == "render":
        return _render(args)
    if args.action == "run":
        return _run_local(args)
    return _submit(args)


# --------------------------------------------------------------------------- render


def _render(args: argparse.Namespace) -> int:
    from tools.pipeline import render

    root: Path = args.repo_dir
    if not (root / "base").is_dir():
        raise UserError(
            f"{root.resolve()} does not look like the repository root (no base/)",
            hint="run from the repository root or pass --repo-dir",
        )
    if args.check:
        problems = render.check(root)
        for problem in problems:
            print(problem)
        if problems:
            print(f"{len(problems)} generated file(s) out of date; run `gitops pipeline render`")
            return EXIT_FINDINGS
        print("base/training is up to date with tools/pipeline/workflow.py")
        return 0
    changed = render.render(root)
    for path in changed:
        print(f"wrote {path}")
    if not changed:
        print("base/training already up to date")
    return 0


# --------------------------------------------------------------------------- run --local


def _run_local(args: argparse.Namespace) -> int:
    from tools.pipeline import local

    return local.run(
        tracking_uri=args.tracking_uri,
        model_name=args.model_name,
        seed=args.seed,
        label_noise=args.label_noise,
        n_estimators=args.n_estimators,
        tolerance=args.tolerance,
        env=args.env,
        image=args.image,
        digest=args.digest,
        build=args.build,
        mode=args.mode,
        repo_dir=args.repo_dir,
    )


# --------------------------------------------------------------------------- submit


def _submit(args: argparse.Namespace) -> int:
    from tools.pipeline.submit import submit

    submitted = submit(
        args.argo_server,
        args.token or os.environ.get("ARGO_TOKEN"),
        namespace=args.namespace,
        template=args.template,
        parameters=args.parameter,
        timeout=args.timeout,
        verify=not args.insecure,
    )
    print(f"submitted workflow {submitted.name} in {submitted.namespace}")
    print(submitted.url)
    return 0
