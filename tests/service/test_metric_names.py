"""Metric names are an API: exposed, documented, and the only ones the GitOps tree queries."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service import metrics
from tests.support.fakes import LinearPredictor, mlmodel_with_distribution
from tests.support.paths import REPO_ROOT
from tests.support.serving import split_body

NAMES = {
    value
    for key, value in vars(metrics).items()
    if key.isupper() and isinstance(value, str) and value.startswith("model_api_")
}
LABELS = {
    metrics.REQUESTS_TOTAL: {"route", "method", "status"},
    metrics.REQUEST_DURATION_SECONDS: {"route", "method", "status"},
    metrics.REQUESTS_IN_FLIGHT: set(),
    metrics.PREDICTIONS_TOTAL: {"model_version"},
    metrics.PREDICTION_PROBABILITY: {"model_version"},
    metrics.MODEL_INFO: {"name", "version", "alias", "run_id"},
    metrics.MODEL_LOADED: set(),
    metrics.FEEDBACK_TOTAL: {"model_version"},
    metrics.FEEDBACK_CORRECT_TOTAL: {"model_version"},
    metrics.FEEDBACK_CONFUSION_TOTAL: {"model_version", "predicted", "actual"},
    metrics.PREDICTION_LOG_DROPPED_TOTAL: set(),
    metrics.FEATURE_PSI: {"feature"},
    metrics.TRAINING_ACCURACY: {"model_version"},
}
SUFFIXES = ("_bucket", "_count", "_sum")


def test_every_name_is_exposed_with_its_labels(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    assert set(LABELS) == NAMES
    client = make_client(
        LinearPredictor(mlmodel=mlmodel_with_distribution()),
        feedback_store=f"sqlite:///{tmp_path / 'feedback.sqlite'}",
        drift_window=10,
    )
    answer = client.post("/invocations", json=split_body(10))
    labels = {"prediction_id": answer.headers["x-prediction-id"], "labels": [1] * 10}
    assert client.post("/feedback", json=labels).status_code == 202
    client.get("/no/such/path")
    families = {
        family.name: family
        for family in text_string_to_metric_families(client.get("/metrics").text)
    }
    for name, labels in LABELS.items():
        family = families[name.removesuffix("_total")]
        sample_labels = {key for s in family.samples for key in s.labels} - {"le"}
        assert sample_labels == labels, name
    routes = {s.labels["route"] for s in families["model_api_requests"].samples}
    assert routes == {"/invocations", "/feedback", "unmatched"}
    buckets = [
        s.labels["le"]
        for s in families["model_api_prediction_probability"].samples
        if s.name.endswith("_bucket")
    ]
    assert buckets == [*(str(b) for b in metrics.PROBABILITY_BUCKETS), "+Inf"]
    count = next(
        s.value
        for s in families["model_api_prediction_probability"].samples
        if s.name.endswith("_count")
    )
    assert count == 10


def test_every_name_is_documented() -> None:
    text = (REPO_ROOT / "docs" / "METRICS.md").read_text()
    for name in NAMES:
        assert f"`{name}`" in text, f"{name} missing from docs/METRICS.md"


def test_the_gitops_tree_queries_only_known_names() -> None:
    known = NAMES | {name + suffix for name in NAMES for suffix in SUFFIXES}
    pattern = re.compile(r"\bmodel_api_[a-z_]+\b")
    unknown: dict[str, set[str]] = {}
    for folder in ("rollouts", "base", "overlays", "clusters", "apps", "docs", "bench"):
        root = REPO_ROOT / folder
        files = [p for p in root.rglob("*") if p.suffix in {".yaml", ".yml", ".json", ".md"}]
        for path in files:
            for token in pattern.findall(path.read_text(errors="replace")):
                if token not in known:
                    unknown.setdefault(str(Path(path).relative_to(REPO_ROOT)), set()).add(token)
    assert not unknown, f"queries of unknown metric names: {unknown}"
