"""``gitops pipeline run --local``: the pipeline's steps in this process, in their order.

train → evaluate (the gate of :mod:`training.policy`) → register → build-image (only with
``build``; planned otherwise) → open-pr (``gitops bump``). A refused candidate stops the run
before anything is registered. The same step functions run as containers on Argo Workflows
(:mod:`tools.pipeline.steps`).
"""

from __future__ import annotations

from pathlib import Path

from tools.pipeline import steps


def run(
    *,
    tracking_uri: str | None,
    model_name: str,
    seed: int,
    label_noise: float,
    n_estimators: int | None,
    tolerance: float,
    env: str,
    image: str,
    digest: str | None,
    build: bool,
    mode: steps.BumpMode,
    repo_dir: str,
) -> int:
    """Run the steps and print one line per step; the exit code of the bump, or 0 if none ran."""
    with steps.mlflow_errors("configure tracking", tracking_uri):
        resolved = steps.configure(tracking_uri)
    print(f"tracking: {resolved}")

    trained = steps.train(
        model_name=model_name,
        seed=seed,
        label_noise=label_noise,
        n_estimators=n_estimators,
        tracking_uri=tracking_uri,
    )
    shown = ", ".join(f"{k}={v:.4f}" for k, v in sorted(trained.metrics.items()))
    print(f"train: run {trained.run_id} ({shown})")

    gate = steps.evaluate(
        trained.metrics,
        model_name=model_name,
        tolerance=tolerance,
        tracking_uri=tracking_uri,
    )
    print(f"evaluate: {'passed' if gate.passed else 'refused'}: {gate.reason}")
    if not gate.passed:
        champion = gate.champion_version
        print(f"pipeline stops: champion stays at version {champion}; nothing registered")
        return 0

    done = steps.register(
        run_id=trained.run_id,
        model_uri=trained.model_uri,
        metrics=trained.metrics,
        model_name=model_name,
        gate_reason=gate.reason,
        tracking_uri=tracking_uri,
    )
    print(f"register: {done.uri} aliases {', '.join(done.aliases)}")

    if digest is None and build:
        digest = steps.build_image(
            context=str(Path(repo_dir).resolve()),
            version=done.version,
            model_name=model_name,
            tracking_uri=resolved,
            image=image,
        )
        print(f"build-image: pushed {image}@{digest}")
    if digest is None:
        planned = steps.build_image_args(
            context=str(Path(repo_dir).resolve()),
            version=done.version,
            model_name=model_name,
            tracking_uri=resolved,
            image=image,
            local=True,
        )
        print("build-image: skipped (no --digest, no --build); the build would run:")
        print("  buildctl-daemonless.sh " + " ".join(planned))
        print(
            f"open-pr: skipped; after the build it runs: gitops bump --env {env} "
            f"--image {image} --digest <digest> --{mode}"
        )
        return 0

    code = steps.open_pr(env=env, image=image, digest=digest, mode=mode, repo_dir=repo_dir)
    print(f"open-pr: gitops bump exited {code}")
    return code
