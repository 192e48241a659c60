"""The pipeline as Argo Workflows objects, defined once with Hera.

``workflow_template()`` is the ``WorkflowTemplate`` ``model-training`` (steps
train → evaluate → register → build-image → open-pr); ``cron_workflow()`` runs it weekly.
Neither carries a namespace: Argo CD deploys ``base/training`` into ``ml-training``.

The Python steps run ``python -m tools.pipeline.steps`` in the tools image (the ``pipeline``
target of ``tools/Containerfile``); build-image runs rootless BuildKit. Every step retries: train
(a retry is just another MLflow run), evaluate (read only), register (reuses the version of the run
on retry), build-image (pushing the same content twice yields the same digest) and open-pr
(``gitops bump`` is a no-op when the same pull request is open).
"""

from __future__ import annotations

from typing import Any

from hera.workflows import (
    Container,
    CronWorkflow,
    EmptyDirVolume,
    Env,
    Parameter,
    Resources,
    RetryStrategy,
    SecretEnv,
    SecretVolume,
    Step,
    Steps,
    WorkflowTemplate,
)
from hera.workflows import models as m

from tools.pipeline import steps
from training.policy import GATE_TOLERANCE

TEMPLATE_NAME = "model-training"
BUILD_TEMPLATE_NAME = "model-image-build"
CRON_NAME = "model-training-weekly"
SERVICE_ACCOUNT = "model-training"
SCHEDULE = "0 3 * * 1"  # Mondays 03:00 UTC
TOOLS_IMAGE = "ghcr.io/example-org/mlops-tools:0.1.0"
BUILDKIT_IMAGE = "moby/buildkit:v0.23.2-rootless"
GITHUB_SECRET = "model-training-github"  # noqa: S105 - a Secret's name, not a secret
REGISTRY_SECRET = "model-training-registry"  # noqa: S105
MLFLOW_SECRET = "model-training-mlflow"  # noqa: S105
OUTPUTS = steps.DEFAULT_OUTPUTS
LABELS = {
    "app.kubernetes.io/name": TEMPLATE_NAME,
    "app.kubernetes.io/part-of": "model-api",
    "app.kubernetes.io/component": "training",
}

# The build template's inputs; all but version are passed through from the workflow parameters.
BUILD_INPUTS = ("version", "model-name", "mlflow-tracking-uri", "image", "git-repo", "git-revision")
# The inputs of register, handed on by the nested release template that runs it.
RELEASE_INPUTS = ["run-id", "model-uri", "metrics", "gate-reason"]

# Policy exemptions of the build template (policies/exceptions): rootless BuildKit writes to its
# root filesystem, and its image is upstream's, pinned by version. Its Unconfined seccomp and
# AppArmor profiles are a Pod Security matter: ml-training enforces the privileged level (the
# Argo CD Application's managedNamespaceMetadata), which gitops validate reads.
EXEMPT_ANNOTATIONS = {
    "policy.gitops.example.org/exempt": "writable_root_fs,image_registry",
    "policy.gitops.example.org/exempt-reason": (
        "rootless BuildKit needs a user namespace (seccomp/AppArmor Unconfined, newuidmap file "
        "capabilities, writable home); it runs as uid 1000, unprivileged, in this template only; "
        "image is upstream moby/buildkit pinned by version"
    ),
}

# Workflow parameters (name → default). Submitters may override any of them.
PARAMETERS: dict[str, str] = {
    "model-name": steps.DEFAULT_MODEL_NAME,
    "mlflow-tracking-uri": "http://mlflow.mlflow.svc.cluster.local:5000",
    "seed": "42",
    "label-noise": "0.0",
    "tolerance": str(GATE_TOLERANCE),
    "image": steps.DEFAULT_IMAGE,
    "git-repo": "https://github.com/example-org/mlops-gitops.git",
    "git-revision": "main",
    "env": "staging",
}


def _param(name: str) -> str:
    return f"{{{{workflow.parameters.{name}}}}}"


def _input(name: str) -> str:
    return f"{{{{inputs.parameters.{name}}}}}"


def _restricted(*, read_only: bool = True) -> m.SecurityContext:
    return m.SecurityContext(
        run_as_non_root=True,
        allow_privilege_escalation=False,
        read_only_root_filesystem=read_only,
        capabilities=m.Capabilities(drop=["ALL"]),
        seccomp_profile=m.SeccompProfile(type="RuntimeDefault"),
    )


def _secret_env(name: str, secret: str, key: str) -> SecretEnv:
    """An environment variable read from a key of a Secret (filled by an ExternalSecret)."""
    return SecretEnv(name=name, secret_name=secret, secret_key=key)


def _retry(limit: int = 2) -> RetryStrategy:
    return RetryStrategy(
        limit=limit,
        retry_policy="Always",
        backoff=m.Backoff(duration="30s", factor=m.IntOrString(2), max_duration="10m"),
    )


def _outputs(*names: str) -> list[Parameter]:
    return [Parameter(name=n, value_from=m.ValueFrom(path=f"{OUTPUTS}/{n}")) for n in names]


_TMP = m.VolumeMount(name="tmp", mount_path="/tmp")  # noqa: S108 - the pod's scratch emptyDir


def _python_step(
    name: str,
    args: list[str],
    *,
    inputs: list[str] | None = None,
    outputs: tuple[str, ...] = (),
    resources: Resources,
    env: list[Any] | None = None,
) -> Container:
    return Container(
        name=name,
        image=TOOLS_IMAGE,
        command=["python", "-m", "tools.pipeline.steps", name],
        args=args,
        inputs=[Parameter(name=n) for n in inputs or []],
        outputs=_outputs(*outputs),
        env=[
            Env(name="MLFLOW_TRACKING_URI", value=_param("mlflow-tracking-uri")),
            _secret_env("MLFLOW_TRACKING_USERNAME", MLFLOW_SECRET, "username"),
            _secret_env("MLFLOW_TRACKING_PASSWORD", MLFLOW_SECRET, "password"),
            Env(name="HOME", value="/tmp"),  # noqa: S108 - caches go to the scratch volume
            *(env or []),
        ],
        resources=resources,
        security_context=_restricted(),
        volume_mounts=[_TMP],
        retry_strategy=_retry(),
    )


def _build_image_step() -> Container:
    args = steps.build_image_args(
        context=f"{_input('git-repo')}#{_input('git-revision')}",
        version=_input("version"),
        model_name=_input("model-name"),
        tracking_uri=_input("mlflow-tracking-uri"),
        image=_input("image"),
        metadata_file=f"{OUTPUTS}/build-metadata.json",
    )
    script = steps.build_image_script(args, digest_file=f"{OUTPUTS}/digest")
    return Container(
        name="build-image",
        image=BUILDKIT_IMAGE,
        command=["sh", "-c"],
        args=[script],
        inputs=[Parameter(name=n) for n in BUILD_INPUTS],
        outputs=_outputs("digest"),
        env=[
            # No nested process sandbox: the pod is not privileged (BuildKit rootless docs).
            Env(name="BUILDKITD_FLAGS", value="--oci-worker-no-process-sandbox"),
            Env(name="DOCKER_CONFIG", value="/home/user/.docker"),
            # handed to the build as the secret "mlflow_token" (never a build argument)
            _secret_env("MLFLOW_TRACKING_TOKEN", MLFLOW_SECRET, "token"),
        ],
        resources=Resources(
            cpu_request="1", cpu_limit="2", memory_request="2Gi", memory_limit="4Gi"
        ),
        # Rootless BuildKit creates a user namespace and mounts inside it: RuntimeDefault seccomp
        # and AppArmor block those calls, and its newuidmap helper needs file capabilities (so no
        # drop ALL and no allowPrivilegeEscalation=false); it writes to /home/user and /run. It
        # still runs as uid 1000 and is not privileged. The exception is confined to this one
        # template, which is why it lives in its own WorkflowTemplate (see EXEMPT_ANNOTATIONS).
        pod_security_context=m.PodSecurityContext(
            run_as_non_root=True,
            run_as_user=1000,
            run_as_group=1000,
            fs_group=1000,
            seccomp_profile=m.SeccompProfile(type="Unconfined"),
        ),
        security_context=m.SecurityContext(
            run_as_non_root=True,
            run_as_user=1000,
            run_as_group=1000,
            privileged=False,
            seccomp_profile=m.SeccompProfile(type="Unconfined"),
            app_armor_profile=m.AppArmorProfile(type="Unconfined"),
        ),
        # template-level volumes (the calling workflow does not declare them); Hera mounts each
        volumes=[
            EmptyDirVolume(
                name="tmp",
                mount_path="/tmp",  # noqa: S108 - the pod's scratch emptyDir
                size_limit=m.Quantity("1Gi"),
            ),
            EmptyDirVolume(
                name="buildkit-state",
                mount_path="/home/user/.local/share/buildkit",
                size_limit=m.Quantity("20Gi"),
            ),
            SecretVolume(
                name="registry-auth",
                mount_path="/home/user/.docker",
                read_only=True,
                secret_name=REGISTRY_SECRET,
                items=[m.KeyToPath(key=".dockerconfigjson", path="config.json")],
            ),
        ],
        retry_strategy=_retry(),
    )


def image_build_template() -> WorkflowTemplate:
    """``model-image-build``: the rootless BuildKit step, referenced by ``model-training``."""
    with WorkflowTemplate(
        name=BUILD_TEMPLATE_NAME,
        labels=LABELS,
        annotations=EXEMPT_ANNOTATIONS,
        entrypoint="build-image",
        service_account_name=SERVICE_ACCOUNT,
        active_deadline_seconds=2 * 3600,
    ) as template:
        _build_image_step()
    return template


def _git_env() -> list[Any]:
    # git reads its credential helper from GIT_CONFIG_* variables; the token stays in the
    # environment and never lands in a file of the clone.
    helper = '!f() { echo username=x-access-token; echo "password=${GITHUB_TOKEN}"; }; f'
    return [
        _secret_env("GITHUB_TOKEN", GITHUB_SECRET, "token"),
        Env(name="GIT_CONFIG_COUNT", value="1"),
        Env(name="GIT_CONFIG_KEY_0", value="credential.helper"),
        Env(name="GIT_CONFIG_VALUE_0", value=helper),
        Env(name="GIT_AUTHOR_NAME", value="model-training pipeline"),
        Env(name="GIT_AUTHOR_EMAIL", value="model-training@users.noreply.github.com"),
        Env(name="GIT_COMMITTER_NAME", value="model-training pipeline"),
        Env(name="GIT_COMMITTER_EMAIL", value="model-training@users.noreply.github.com"),
    ]


def workflow_template() -> WorkflowTemplate:
    """The ``model-training`` WorkflowTemplate."""
    small = Resources(cpu_request="100m", cpu_limit="1", memory_request="512Mi", memory_limit="1Gi")
    with WorkflowTemplate(
        name=TEMPLATE_NAME,
        labels=LABELS,
        entrypoint="pipeline",
        service_account_name=SERVICE_ACCOUNT,
        arguments=[Parameter(name=k, value=v) for k, v in PARAMETERS.items()],
        security_context=m.PodSecurityContext(
            run_as_non_root=True,
            run_as_user=10001,
            run_as_group=10001,
            fs_group=10001,
            seccomp_profile=m.SeccompProfile(type="RuntimeDefault"),
        ),
        # One training at a time: the gate compares against the champion that register moves.
        synchronization=m.Synchronization(mutexes=[m.Mutex(name=TEMPLATE_NAME)]),
        active_deadline_seconds=4 * 3600,
        ttl_strategy=m.TTLStrategy(seconds_after_completion=7 * 24 * 3600),
        pod_gc=m.PodGC(strategy="OnPodSuccess"),
        volumes=[EmptyDirVolume(name="tmp", size_limit=m.Quantity("2Gi"))],
    ) as template:
        train = _python_step(
            "train",
            [
                "--model-name",
                _param("model-name"),
                "--seed",
                _param("seed"),
                "--label-noise",
                _param("label-noise"),
            ],
            outputs=("run-id", "model-uri", "metrics"),
            resources=Resources(
                cpu_request="500m", cpu_limit="2", memory_request="1Gi", memory_limit="2Gi"
            ),
        )
        evaluate = _python_step(
            "evaluate",
            [
                "--model-name",
                _param("model-name"),
                "--tolerance",
                _param("tolerance"),
                "--metrics",
                _input("metrics"),
            ],
            inputs=["metrics"],
            outputs=("passed", "reason", "champion-version"),
            resources=small,
        )
        register = _python_step(
            "register",
            [
                "--model-name",
                _param("model-name"),
                "--run-id",
                _input("run-id"),
                "--model-uri",
                _input("model-uri"),
                "--metrics",
                _input("metrics"),
                "--gate-reason",
                _input("gate-reason"),
            ],
            inputs=RELEASE_INPUTS,
            outputs=("version", "registered-uri"),
            resources=small,
        )
        open_pr = _python_step(
            "open-pr",
            [
                "--env",
                _param("env"),
                "--image",
                _param("image"),
                "--digest",
                _input("digest"),
                "--mode",
                "pr",
                "--repo",
                _param("git-repo"),
                "--revision",
                _param("git-revision"),
            ],
            inputs=["digest"],
            resources=Resources(
                cpu_request="100m", cpu_limit="1", memory_request="256Mi", memory_limit="512Mi"
            ),
            env=_git_env(),
        )
        # Everything after the gate sits in one nested template that is skipped as a whole:
        # no step ever refers to the outputs of a skipped step (which Argo may not resolve).
        with Steps(name="release", inputs=[Parameter(name=n) for n in RELEASE_INPUTS]) as release:
            register(
                name="register",
                arguments={n: _input(n) for n in RELEASE_INPUTS},
            )
            Step(
                name="build-image",
                template_ref=m.TemplateRef(name=BUILD_TEMPLATE_NAME, template="build-image"),
                arguments={
                    "version": "{{steps.register.outputs.parameters.version}}",
                    **{n: _param(n) for n in BUILD_INPUTS if n != "version"},
                },
            )
            open_pr(
                name="open-pr",
                arguments={"digest": "{{steps.build-image.outputs.parameters.digest}}"},
            )
        with Steps(name="pipeline"):
            trained = train(name="train")
            assert isinstance(trained, Step)
            evaluate(
                name="evaluate",
                arguments={"metrics": trained.get_parameter("metrics")},
            )
            release(
                name="release",
                when="{{steps.evaluate.outputs.parameters.passed}} == true",
                arguments={
                    "run-id": trained.get_parameter("run-id"),
                    "model-uri": trained.get_parameter("model-uri"),
                    "metrics": trained.get_parameter("metrics"),
                    "gate-reason": "{{steps.evaluate.outputs.parameters.reason}}",
                },
            )
    return template


def cron_workflow() -> CronWorkflow:
    """Weekly retraining: a CronWorkflow that runs the ``model-training`` template."""
    return CronWorkflow(
        name=CRON_NAME,
        labels=LABELS,
        schedules=[SCHEDULE],
        timezone="UTC",
        concurrency_policy="Forbid",
        starting_deadline_seconds=3600,
        successful_jobs_history_limit=3,
        failed_jobs_history_limit=3,
        workflow_template_ref=m.WorkflowTemplateRef(name=TEMPLATE_NAME),
    )
