"""model-api train: logging, registration, the quality gate and the CLI's failure modes.

Every test trains into a temporary SQLite MLflow store; nothing touches ./.mlflow.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from service.registry import configure_tracking, default_tracking_uri, resolve_tracking_uri
from tests.support.net import free_port
from training import cli, policy
from training.policy import GateDecision
from training.train import DEFAULT_N_ESTIMATORS, TrainConfig, TrainingError, flip_labels


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store whose first version (seed 42, clean labels) is the champion."""
    root = tmp_path_factory.mktemp("gate-store")
    uri = configure_tracking(f"sqlite:///{root / 'mlflow.db'}")
    first = policy.train_and_register(TrainConfig())
    assert first.version == "1"
    return uri


def champion_version(uri: str) -> str:
    configure_tracking(uri)
    return str(MlflowClient().get_model_version_by_alias("model-api", "champion").version)


def registered_versions(uri: str) -> list[str]:
    configure_tracking(uri)
    found = MlflowClient().search_model_versions("name = 'model-api'")
    return sorted(str(v.version) for v in found)


def test_first_version_on_a_fresh_store_becomes_champion(store: str) -> None:
    configure_tracking(store)
    client = MlflowClient()
    version = client.get_model_version_by_alias("model-api", "champion")
    assert str(version.version) == "1"
    assert version.tags["gate"] == "passed"
    assert "no model-api@champion yet" in version.tags["gate_reason"]

    run = client.get_run(version.run_id)
    assert {"roc_auc", "accuracy", "log_loss"} <= set(run.data.metrics)
    assert run.data.metrics["roc_auc"] > 0.95
    assert run.data.params["n_estimators"] == str(DEFAULT_N_ESTIMATORS)
    assert run.data.params["label_noise"] == "0.0"


def test_registered_version_carries_signature_example_and_onnx(store: str, tmp_path: Path) -> None:
    import mlflow.artifacts
    import yaml

    configure_tracking(store)
    local = Path(mlflow.artifacts.download_artifacts("models:/model-api/1", dst_path=str(tmp_path)))
    assert (local / "extra_files" / "model.onnx").stat().st_size > 1000
    assert (local / "input_example.json").is_file()
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    inputs = json.loads(mlmodel["signature"]["inputs"])
    assert len(inputs) == 30
    assert {column["type"] for column in inputs} == {"double"}
    assert inputs[0]["name"] == "mean radius"
    assert mlmodel["metadata"]["onnx"]["path"] == "extra_files/model.onnx"


def test_worse_candidate_is_not_registered_and_does_not_move_the_alias(store: str) -> None:
    before = champion_version(store)
    versions = registered_versions(store)
    result = policy.train_and_register(TrainConfig(label_noise=0.45))

    assert not result.gate.passed
    assert result.gate.champion_version == before
    assert result.aliases == ()
    assert result.version is None and result.registered_uri is None
    assert result.run.metrics["roc_auc"] < result.gate.champion_metrics["roc_auc"] - 0.005  # type: ignore[index]
    assert champion_version(store) == before
    assert registered_versions(store) == versions  # the refused model is not in the registry
    # ... but its run stays in the experiment, metrics and all
    assert MlflowClient().get_run(result.run.run_id).data.metrics["roc_auc"] < 0.9


def test_good_candidate_moves_the_alias(store: str) -> None:
    before = champion_version(store)
    result = policy.train_and_register(TrainConfig(seed=7))

    assert result.gate.passed, result.gate.reason
    assert result.aliases == ("champion",)
    assert champion_version(store) == result.version != before
    assert result.registered_uri == f"models:/model-api/{result.version}"


def test_gate_rule_uses_the_tolerance(store: str) -> None:
    configure_tracking(store)
    champion = policy.evaluate_gate({"roc_auc": 0.0}, "model-api").champion_metrics
    assert champion is not None
    reference = champion["roc_auc"]

    just_inside = policy.evaluate_gate({"roc_auc": reference - 0.0049}, "model-api")
    just_outside = policy.evaluate_gate({"roc_auc": reference - 0.0051}, "model-api")
    assert just_inside.passed and not just_outside.passed
    assert "tolerance 0.005" in just_outside.reason


def test_gate_passes_without_champion(store: str) -> None:
    configure_tracking(store)
    decision = policy.evaluate_gate({"roc_auc": 0.5}, "no-such-model")
    assert decision == GateDecision(True, decision.reason, None, None)
    assert "first version" in decision.reason


def test_main_prints_json_and_no_gate_moves_the_alias(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["--tracking-uri", store, "--label-noise", "0.45", "--no-gate", "--output-json"]
    )
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out)  # stdout holds exactly one JSON document
    assert result["gate"]["passed"] is True
    assert "gate skipped" in result["gate"]["reason"]
    assert result["aliases"] == ["champion"]
    assert champion_version(store) == result["version"]
    assert result["tracking_uri"] == store
    tags = MlflowClient().get_model_version("model-api", result["version"]).tags
    assert tags["gate"] == "skipped"


def test_unreachable_tracking_server_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    dead = f"http://127.0.0.1:{free_port()}"
    code = cli.main(["--tracking-uri", dead, "--n-estimators", "3"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"cannot reach the MLflow tracking server at {dead}" in err
    assert "Traceback" not in err


def test_bad_label_noise_is_rejected(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert cli.main(["--tracking-uri", uri, "--label-noise", "1.5"]) == 1
    assert "label noise must be between 0 and 1, got 1.5" in capsys.readouterr().err


def test_flip_labels_flips_exactly_the_fraction() -> None:
    labels = np.zeros(200, dtype=np.int64)
    flipped = flip_labels(labels, 0.25, seed=3)
    assert int(flipped.sum()) == 50
    assert np.array_equal(flip_labels(labels, 0.25, seed=3), flipped)
    assert np.array_equal(flip_labels(labels, 0.0, seed=3), labels)
    with pytest.raises(TrainingError):
        flip_labels(labels, -0.1, seed=3)


def test_default_store_is_under_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert (
        resolve_tracking_uri()
        == default_tracking_uri()
        == (f"sqlite:///{tmp_path.resolve()}/.mlflow/mlflow.db")
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert resolve_tracking_uri() == "http://mlflow.example:5000"


def test_gate_passes_when_the_model_exists_but_the_alias_does_not(store: str) -> None:
    configure_tracking(store)
    decision = policy.evaluate_gate({"roc_auc": 0.5}, "model-api", alias="never-set")
    assert decision.passed and decision.champion_version is None
    assert "no model-api@never-set yet" in decision.reason


def test_if_missing_trains_only_when_the_alias_is_absent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["--tracking-uri", uri, "--n-estimators", "5", "--if-missing"]
    assert cli.main(args) == 0
    first = capsys.readouterr().out
    assert "model URI:     models:/model-api/1" in first
    assert cli.main(args) == 0
    second = capsys.readouterr().out
    assert "models:/model-api@champion is version 1" in second
    assert "not training" in second
    configure_tracking(uri)
    assert len(MlflowClient().search_model_versions("name='model-api'")) == 1
