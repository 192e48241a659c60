"""``gitops pipeline run --local`` and the step entrypoint against a fresh embedded MLflow store.

Label noise makes a model measurably worse on the fixed validation split (ROC AUC about 0.97 at
30% flipped training labels, 0.63 at 45%, 0.99 at none), which is how these tests order runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.support.paths import REPO_ROOT
from tools import cli
from tools.pipeline import steps

pytestmark = pytest.mark.slow


@pytest.fixture
def fresh_clone_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory and no MLFLOW_TRACKING_URI: the embedded store applies."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


def _aliases(client: MlflowClient, name: str = "model-api") -> dict[str, str]:
    return {k: str(v) for k, v in client.get_registered_model(name).aliases.items()}


def _versions(client: MlflowClient, name: str = "model-api") -> list[str]:
    return sorted(str(v.version) for v in client.search_model_versions(f"name = '{name}'"))


def test_champion_moves_only_for_a_model_that_passes_the_gate(
    fresh_clone_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 1. fresh store: the first model passes (there is no champion) and becomes champion
    assert cli.main(["pipeline", "run", "--local", "--label-noise", "0.3"]) == 0
    out = capsys.readouterr().out
    assert (fresh_clone_dir / ".mlflow" / "mlflow.db").is_file()
    assert "evaluate: passed: no model-api@champion yet" in out
    assert "register: models:/model-api/1 aliases candidate, champion" in out
    assert "open-pr: skipped" in out  # no image digest without a build

    client = MlflowClient()
    assert _aliases(client) == {"candidate": "1", "champion": "1"}
    assert client.get_model_version("model-api", "1").tags["gate"] == "passed"

    # 2. a worse model: refused, nothing registered, champion and candidate stay
    assert cli.main(["pipeline", "run", "--local", "--label-noise", "0.45"]) == 0
    out = capsys.readouterr().out
    assert "evaluate: refused: candidate roc_auc" in out
    assert "champion stays at version 1" in out
    assert _versions(client) == ["1"]
    assert _aliases(client) == {"candidate": "1", "champion": "1"}

    # 3. a better model: registered as version 2 and both aliases move to it
    assert cli.main(["pipeline", "run", "--local", "--label-noise", "0.0"]) == 0
    out = capsys.readouterr().out
    assert "evaluate: passed: candidate roc_auc" in out
    assert _versions(client) == ["1", "2"]
    assert _aliases(client) == {"candidate": "2", "champion": "2"}
    champion_auc = client.get_run(client.get_model_version("model-api", "2").run_id).data.metrics
    first_auc = client.get_run(client.get_model_version("model-api", "1").run_id).data.metrics
    assert champion_auc["roc_auc"] > first_auc["roc_auc"]


def test_step_entrypoint_writes_argo_outputs_and_register_is_retry_safe(
    fresh_clone_dir: Path,
) -> None:
    """The container entrypoint: each step writes the files Argo turns into output parameters."""
    uri = f"sqlite:///{fresh_clone_dir / 'store.db'}"
    outputs = fresh_clone_dir / "outputs"
    common = ["--tracking-uri", uri, "--outputs", str(outputs)]

    assert steps.main(["train", *common, "--label-noise", "0.0"]) == 0
    run_id = (outputs / "run-id").read_text()
    model_uri = (outputs / "model-uri").read_text()
    metrics = (outputs / "metrics").read_text()
    assert set(json.loads(metrics)) >= {"roc_auc", "accuracy", "log_loss"}

    assert steps.main(["evaluate", *common, "--metrics", metrics]) == 0
    assert (outputs / "passed").read_text() == "true"
    assert (outputs / "champion-version").read_text() == ""
    reason = (outputs / "reason").read_text()

    register = ["register", *common, "--run-id", run_id, "--model-uri", model_uri]
    register += ["--metrics", metrics, "--gate-reason", reason]
    assert steps.main(register) == 0
    assert (outputs / "version").read_text() == "1"
    assert (outputs / "registered-uri").read_text() == "models:/model-api/1"

    # Argo retries a failed attempt: the same run must not become a second version
    assert steps.main(register) == 0
    assert (outputs / "version").read_text() == "1"
    client = MlflowClient(uri)
    assert _versions(client) == ["1"]
    assert _aliases(client) == {"candidate": "1", "champion": "1"}
    assert client.get_model_version("model-api", "1").tags["gate_reason"] == reason

    # the gate now compares with that champion
    assert steps.main(["evaluate", *common, "--metrics", metrics]) == 0
    assert (outputs / "passed").read_text() == "true"
    assert (outputs / "champion-version").read_text() == "1"
    worse = json.dumps({**json.loads(metrics), "roc_auc": 0.5})
    assert steps.main(["evaluate", *common, "--metrics", worse]) == 0
    assert (outputs / "passed").read_text() == "false"


def test_step_entrypoint_rejects_bad_input_without_a_traceback(
    fresh_clone_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"sqlite:///{fresh_clone_dir / 'store.db'}"
    with pytest.raises(SystemExit) as exc:
        steps.main(["evaluate", "--tracking-uri", uri, "--metrics", "[1, 2]"])
    assert exc.value.code == 2
    assert "metrics must be a JSON object" in capsys.readouterr().err

    args = ["register", "--tracking-uri", uri, "--run-id", "../etc", "--model-uri", "x"]
    assert steps.main([*args, "--metrics", "{}"]) == 2
    assert "is not an MLflow run id" in capsys.readouterr().err

    assert steps.main(["open-pr", "--digest", "sha256:abc", "--repo-dir", "."]) == 2
    assert "is not of the form sha256:<64 hex>" in capsys.readouterr().err

    assert cli.main(["pipeline", "run", "--local", "--label-noise", "1.5"]) == 2
    assert "label noise must be in [0, 1)" in capsys.readouterr().err

    assert cli.main(["pipeline", "run", "--local", "--model-name", "a'b"]) == 2
    assert 'model name "a\'b" may hold only' in capsys.readouterr().err

    assert cli.main(["pipeline", "run", "--local", "--tracking-uri", "bogus://store"]) == 2
    err = capsys.readouterr().err
    assert "train failed: Model registry functionality is unavailable" in err
    assert "Traceback" not in err


def test_run_requires_local(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["pipeline", "run"])
    assert exc.value.code == 2
    assert "--local" in capsys.readouterr().err


def test_container_entrypoint_runs_as_a_module(fresh_clone_dir: Path) -> None:
    """What the pods run: ``python -m tools.pipeline.steps <step>``, configured by environment."""
    outputs = fresh_clone_dir / "outputs"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{fresh_clone_dir / 'store.db'}"}
    metrics = json.dumps({"roc_auc": 0.97, "accuracy": 0.95, "log_loss": 0.2})
    step = [sys.executable, "-m", "tools.pipeline.steps", "evaluate"]
    done = subprocess.run(
        [*step, "--metrics", metrics, "--outputs", str(outputs)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "evaluate: passed: no model-api@champion yet" in done.stdout
    assert (outputs / "passed").read_text() == "true"
    assert (fresh_clone_dir / "store.db").is_file()
