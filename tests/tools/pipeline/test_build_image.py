"""The build-image step's shell and its digest hand-over.

BuildKit cannot run here (it needs user namespaces and a registry), so ``buildctl-daemonless.sh``
is replaced by a script that writes the metadata file the way ``buildctl --metadata-file`` does;
everything around it — the generated script, its ``sed`` extraction and checks, the in-process
``build_image`` and ``digest_from_metadata`` — is the real code.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tools.errors import UserError
from tools.pipeline import steps

DIGEST = "sha256:" + "0123456789abcdef" * 4


def _fake_builder(bin_dir: Path, metadata: dict[str, object], *, indent: int | None) -> Path:
    """A buildctl-daemonless.sh that records its argv and writes ``metadata`` where asked."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "buildctl-daemonless.sh"
    body = json.dumps(metadata, indent=indent)
    script.write_text(
        "#!/bin/sh\n"
        'printf "%s\\n" "$@" > "$(dirname "$0")/argv"\n'
        'while [ "$#" -gt 0 ]; do\n'
        '  if [ "$1" = --metadata-file ]; then out=$2; fi\n'
        "  shift\n"
        "done\n"
        f"cat > \"$out\" <<'JSON'\n{body}\nJSON\n",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _metadata(digest: str) -> dict[str, object]:
    return {
        "buildx.build.ref": "builder/builder0/abc",
        "containerimage.descriptor": {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:" + "f" * 64,
            "size": 1234,
        },
        "containerimage.digest": digest,
        "image.name": "ghcr.io/example-org/model-api:model-3",
    }


def _args(tmp_path: Path) -> list[str]:
    return steps.build_image_args(
        context="https://github.com/example-org/mlops-gitops.git#main",
        version="3",
        model_name="model-api",
        tracking_uri="http://mlflow.mlflow.svc.cluster.local:5000",
        metadata_file=str(tmp_path / "out" / "build-metadata.json"),
    )


@pytest.mark.parametrize("indent", [None, 2])
def test_script_writes_the_pushed_digest_for_the_next_step(
    tmp_path: Path, indent: int | None
) -> None:
    bin_dir = tmp_path / "bin"
    _fake_builder(bin_dir, _metadata(DIGEST), indent=indent)
    digest_file = tmp_path / "out" / "digest"
    script = steps.build_image_script(_args(tmp_path), digest_file=str(digest_file))
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert digest_file.read_text() == DIGEST
    argv = (bin_dir / "argv").read_text().splitlines()
    assert argv[:3] == ["build", "--frontend", "dockerfile.v0"]
    assert "context=https://github.com/example-org/mlops-gitops.git#main" in argv
    assert "filename=service/Containerfile" in argv
    assert "build-arg:MODEL_SOURCE=models:/model-api/3" in argv
    assert "id=mlflow_token,env=MLFLOW_TRACKING_TOKEN" in argv
    assert "type=image,name=ghcr.io/example-org/model-api:model-3,push=true" in argv


def test_script_fails_when_the_build_reports_no_digest(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    _fake_builder(bin_dir, _metadata("sha256:short"), indent=2)
    digest_file = tmp_path / "out" / "digest"
    script = steps.build_image_script(_args(tmp_path), digest_file=str(digest_file))
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert "no image digest in the build metadata" in done.stderr
    assert not digest_file.exists()


def test_in_process_build_uses_a_local_context_and_reads_the_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    _fake_builder(bin_dir, _metadata(DIGEST), indent=2)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    digest = steps.build_image(
        context=str(tmp_path), version="3", model_name="model-api", tracking_uri="http://m:5000"
    )
    assert digest == DIGEST
    argv = (bin_dir / "argv").read_text().splitlines()
    assert f"context={tmp_path}" in argv and f"dockerfile={tmp_path}/service" in argv
    assert "filename=Containerfile" in argv


def test_without_a_builder_the_local_build_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UserError) as exc:
        steps.build_image(context=".", version="1", model_name="m", tracking_uri="x")
    assert "buildctl-daemonless.sh" in exc.value.message
    assert exc.value.hint and "--digest" in exc.value.hint
