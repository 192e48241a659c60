"""Where the model lives in MLflow: the registered name, the serving alias and the store.

Training registers ``MODEL_NAME`` and moves ``CHAMPION_ALIAS``; serving resolves
``models:/model-api@champion`` (:data:`DEFAULT_MODEL_URI`). Both must find the same store, so
the store's location is resolved here, in the package the serving image holds:
``MLFLOW_TRACKING_URI`` unset means the embedded default, a SQLite store at
``./.mlflow/mlflow.db`` with artifacts under ``./.mlflow/artifacts``, both relative to the
current working directory (git-ignored). Setting the variable (or passing a URI) points training
and serving at a remote tracking server or another store instead; the registry always follows
the tracking URI.

mlflow is imported lazily: serving a local model directory never needs it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

MODEL_NAME = "model-api"
CHAMPION_ALIAS = "champion"
DEFAULT_MODEL_URI = f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}"
DEFAULT_DIR = ".mlflow"

# The URI chosen by the last configure_tracking() call in this process.
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


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what MLflow wrapped around it) says the tracking server is down."""
    text = str(exc)
    return "Max retries exceeded" in text or "Connection refused" in text


def first_line(exc: BaseException) -> str:
    """The first line of an error's message, else its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
