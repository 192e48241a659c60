"""Training's side of MLflow tracking: connect to the store, select the experiment, name errors.

Where the store is (``MLFLOW_TRACKING_URI`` or the embedded ``./.mlflow``) is decided by
:mod:`service.registry`, which serving uses too, so both resolve ``models:/model-api@champion``
against the same store.
"""

from __future__ import annotations

import os
from pathlib import Path

from service import registry

# The experiment is named after the registered model.
EXPERIMENT_NAME = registry.MODEL_NAME


def connect(tracking_uri: str | None = None) -> str:
    """Configure the store for training and return its URI.

    A dead tracking server otherwise costs minutes of HTTP retries before the error shows, so
    retries and timeouts are bounded unless the environment already sets them.
    """
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    return registry.configure_tracking(tracking_uri)


def describe(exc: BaseException, uri: str) -> str:
    """A one-line reason, also for errors MLflow wraps around connection failures."""
    if registry.unreachable(exc):
        return f"cannot reach the MLflow tracking server at {uri} ({type(exc).__name__})"
    return registry.first_line(exc)


def ensure_experiment(name: str = EXPERIMENT_NAME) -> str:
    """Select (creating if needed) the experiment that training logs to; return its id.

    For a local SQLite store the experiment's artifacts go next to the database
    (``.mlflow/artifacts``) instead of MLflow's default ``./mlruns``; a tracking server decides
    its artifact location itself.
    """
    import mlflow

    uri = mlflow.get_tracking_uri()
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        location: str | None = None
        if uri.startswith("sqlite:///"):
            db = Path(uri.removeprefix("sqlite:///"))
            location = (db.parent / "artifacts").resolve().as_uri()
        experiment_id = mlflow.create_experiment(name, artifact_location=location)
    else:
        experiment_id = experiment.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return str(experiment_id)
