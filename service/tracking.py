"""Where MLflow keeps runs and registered models.

``MLFLOW_TRACKING_URI`` unset means the embedded default: a SQLite store at
``./.mlflow/mlflow.db`` with artifacts under ``./.mlflow/artifacts``, both relative to the
current working directory (git-ignored). Setting the variable (or passing a URI) points training
and serving at a remote tracking server or another store instead; the registry always follows the
tracking URI. Training and serving call :func:`configure_tracking` so that both resolve
``models:/model-api@champion`` against the same store.

mlflow is imported lazily: serving a local model directory never needs it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

DEFAULT_DIR = ".mlflow"
EXPERIMENT_NAME = "model-api"

_configured: str | None = None


def default_tracking_uri(base: Path | None = None) -> str:
    """The embedded SQLite store under ``base`` (default: the current directory)."""
    root = (base or Path.cwd()).resolve() / DEFAULT_DIR
    return f"sqlite:///{root / 'mlflow.db'}"


def resolve_tracking_uri(tracking_uri: str | None = None) -> str:
    """The URI in effect: the argument, else ``MLFLOW_TRACKING_URI``, else the embedded store."""
    return tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def configure_tracking(tracking_uri: str | None = None) -> str:
    """Point mlflow (tracking and registry) at the resolved store and return its URI."""
    import mlflow

    uri = resolve_tracking_uri(tracking_uri)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # The SQLite store runs its schema migrations on first use and logs every step at INFO.
    for name in ("alembic", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    global _configured
    _configured = uri
    return uri


def ensure_configured() -> str:
    """The URI chosen by an earlier :func:`configure_tracking` call, else configure the default."""
    return _configured or configure_tracking()


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
