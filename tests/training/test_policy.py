"""One gate + register policy, two entry points: ``model-api train`` and ``gitops pipeline run
--local`` (whose ``register`` is also the Argo step) must leave the registry in the same state.

Each entry point trains into its own fresh store: a first model passes (no champion yet) and
becomes version 1 and champion; a model trained on 45 % flipped labels is refused, registered
nowhere, and champion stays.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tools import cli as gitops
from training import cli as model_api_train

pytestmark = pytest.mark.slow

Entry = Callable[[str, float], int]


def train_command(uri: str, noise: float) -> int:
    argv = ["--tracking-uri", uri, "--n-estimators", "21", "--label-noise", str(noise)]
    return model_api_train.main(argv)


def pipeline_run(uri: str, noise: float) -> int:
    argv = ["pipeline", "run", "--local", "--tracking-uri", uri, "--n-estimators", "21"]
    return gitops.main([*argv, "--label-noise", str(noise)])


@pytest.mark.parametrize("entry", [train_command, pipeline_run], ids=["model-api", "pipeline"])
def test_both_entry_points_apply_the_same_policy(
    entry: Entry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri, registry_uri=uri)

    def versions() -> list[str]:
        return sorted(str(v.version) for v in client.search_model_versions("name = 'model-api'"))

    def champion() -> str:
        return str(client.get_model_version_by_alias("model-api", "champion").version)

    assert entry(uri, 0.0) == 0
    assert versions() == ["1"] and champion() == "1"
    first = client.get_model_version("model-api", "1")
    assert first.tags["gate"] == "passed"
    assert "no model-api@champion yet" in first.tags["gate_reason"]
    experiment = client.get_run(first.run_id).info.experiment_id

    assert entry(uri, 0.45) == 0  # refused is an outcome, not an error
    assert versions() == ["1"] and champion() == "1"
    runs = client.search_runs([experiment])
    assert len(runs) == 2  # the refused run stays in the experiment, with its metrics
    refused = next(run for run in runs if run.info.run_id != first.run_id)
    assert refused.data.metrics["roc_auc"] < 0.9
