"""The model runtime: resolve a model URI, read its signature, predict with ONNX Runtime.

:func:`load_predictor` accepts ``models:/name@alias``, ``models:/name/version``, ``runs:/...``
(or any other URI MLflow can download) and a local MLflow model directory. It resolves and
downloads the model and reads ``MLmodel`` (signature -> :class:`Column`, registry facts ->
:class:`ModelInfo`); :meth:`load` then builds the runtime (the data plane warms it up).

* ``model.onnx`` present (training stores it in every logged model) -> ONNX Runtime with one
  intra-op thread and sequential execution: for one-row requests, thread hand-offs cost more
  than they save.
* otherwise -> the scikit-learn flavour through ``mlflow.sklearn`` (``predict_proba``).

mlflow is imported only when it is needed: to resolve/download a registry or run URI, or for the
scikit-learn fallback. Serving a local directory that carries ``model.onnx`` imports neither
mlflow nor scikit-learn (tests/service/test_model.py checks this in a fresh interpreter).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from service import onnx_runtime, registry
from service.predictor import Column, ModelInfo, ModelLoadError, Prediction, Predictor

MLMODEL = "MLmodel"
# Written next to MLmodel by fetch_model(): the registry facts a bare directory cannot know.
SOURCE_FILE = "model-source.json"
SUPPORTED_COLUMN_TYPES = frozenset({"double", "float", "long", "integer", "boolean"})


@dataclass(frozen=True)
class _Origin:
    """What the URI says about the model before it is opened."""

    name: str = ""
    version: str = ""
    alias: str = ""
    run_id: str = ""


class _BasePredictor:
    """Shared state: where the model lives, what it expects, and whether it is loaded."""

    runtime = ""

    def __init__(self, directory: Path, mlmodel: dict[str, Any], info: ModelInfo) -> None:
        self.directory = directory
        self.mlmodel = mlmodel
        self.columns: Sequence[Column] = signature_columns(mlmodel)
        self.info = replace(info, runtime=self.runtime)
        self._loaded = False

    def load(self) -> None:
        """Build the runtime (once); the data plane runs the warm-up prediction."""
        if self._loaded:
            return
        try:
            self._open()
        except ModelLoadError:
            raise
        except Exception as exc:
            raise ModelLoadError(f"cannot load model {self.info.uri}: {exc}") from exc
        self._loaded = True

    def _open(self) -> None:
        raise NotImplementedError

    def predict(self, features: npt.NDArray[np.float64]) -> Prediction:
        raise NotImplementedError

    def _require_loaded(self) -> None:
        if not self._loaded:
            raise RuntimeError("predict() called before load()")


class OnnxPredictor(_BasePredictor):
    """Predict with ONNX Runtime from the ``model.onnx`` stored inside the MLflow model."""

    runtime = "onnx"

    def __init__(
        self, directory: Path, mlmodel: dict[str, Any], info: ModelInfo, onnx_path: Path
    ) -> None:
        super().__init__(directory, mlmodel, info)
        self.onnx_path = onnx_path
        self._session: Any = None
        self._run: onnx_runtime.OnnxRunner | None = None

    def _open(self) -> None:
        session = onnx_runtime.onnx_session(str(self.onnx_path))
        shape = session.get_inputs()[0].shape
        width = shape[1] if len(shape) == 2 else None
        if isinstance(width, int) and width != len(self.columns):
            raise ModelLoadError(
                f"model {self.info.uri}: model.onnx takes {width} features but the signature "
                f"has {len(self.columns)} columns"
            )
        self._session = session
        self._run = onnx_runtime.OnnxRunner(session)

    def predict(self, features: npt.NDArray[np.float64]) -> Prediction:
        if self._run is None:
            raise RuntimeError("predict() called before load()")
        labels, probabilities = self._run(features)
        return Prediction(labels=labels, probabilities=probabilities)


class SklearnPredictor(_BasePredictor):
    """Fallback: the scikit-learn flavour, loaded through mlflow.sklearn."""

    runtime = "sklearn"

    def __init__(self, directory: Path, mlmodel: dict[str, Any], info: ModelInfo) -> None:
        super().__init__(directory, mlmodel, info)
        self._estimator: Any = None
        self._names: list[str] | None = None

    def _open(self) -> None:
        try:
            import mlflow.sklearn
        except ImportError as exc:
            raise ModelLoadError(
                f"model {self.info.uri} has no model.onnx and the scikit-learn fallback needs "
                "the 'train' extra (mlflow, scikit-learn)"
            ) from exc
        estimator = mlflow.sklearn.load_model(str(self.directory))
        if not hasattr(estimator, "predict_proba") or len(getattr(estimator, "classes_", ())) != 2:
            raise ModelLoadError(f"model {self.info.uri} is not a binary classifier")
        names = getattr(estimator, "feature_names_in_", None)
        self._names = [str(n) for n in names] if names is not None else None
        self._estimator = estimator

    def predict(self, features: npt.NDArray[np.float64]) -> Prediction:
        self._require_loaded()
        data: Any = features
        if self._names is not None:
            import pandas as pd

            data = pd.DataFrame(features, columns=self._names)
        probabilities = np.asarray(self._estimator.predict_proba(data), dtype=np.float64)
        classes = np.asarray(self._estimator.classes_)
        labels = classes[np.argmax(probabilities, axis=1)].astype(np.int64)
        return Prediction(labels=labels, probabilities=probabilities[:, 1].copy())


def load_predictor(model_uri: str, *, tracking_uri: str | None = None) -> Predictor:
    """Resolve ``model_uri`` and return a predictor for it; call ``load()`` before ``predict()``.

    Raises :class:`ModelLoadError` when the model cannot be found, downloaded or understood.
    """
    local = _local_directory(model_uri)
    if local is not None:
        return _open_directory(local, model_uri, _read_source(local))
    origin = _resolve_origin(model_uri, tracking_uri)
    directory = _download(_pinned_uri(model_uri, origin), tracking_uri)
    try:
        predictor = _open_directory(directory, model_uri, origin)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    # The download lives as long as the predictor that reads it.
    weakref.finalize(predictor, shutil.rmtree, directory, True)
    return predictor


def fetch_model(model_uri: str, destination: Path, *, tracking_uri: str | None = None) -> Path:
    """Download ``model_uri`` into ``destination`` with a :data:`SOURCE_FILE` naming it.

    Used at image build time to bake a model in: the directory then serves without MLflow and
    still reports its registered name, version and alias.
    """
    origin = _resolve_origin(model_uri, tracking_uri)
    downloaded = _download(_pinned_uri(model_uri, origin), tracking_uri)
    try:
        if not (downloaded / MLMODEL).is_file():
            raise ModelLoadError(f"{model_uri} is not an MLflow model (no {MLMODEL} file)")
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.exists():
            raise ModelLoadError(f"{destination} already exists")
        shutil.copytree(downloaded, destination)
    finally:
        shutil.rmtree(downloaded, ignore_errors=True)
    run_id = origin.run_id or str(read_mlmodel(destination).get("run_id") or "")
    source = {**origin.__dict__, "run_id": run_id, "uri": model_uri}
    (destination / SOURCE_FILE).write_text(json.dumps(source, indent=2) + "\n", encoding="utf-8")
    return destination


def read_mlmodel(directory: Path) -> dict[str, Any]:
    path = directory / MLMODEL
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelLoadError(f"{directory} is not an MLflow model directory (no MLmodel)") from exc
    except (OSError, yaml.YAMLError) as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path} is not a YAML mapping")
    return data


def signature_columns(mlmodel: dict[str, Any]) -> list[Column]:
    """The named input columns of the model signature (``MLmodel`` ``signature.inputs``)."""
    raw = (mlmodel.get("signature") or {}).get("inputs")
    if not raw:
        raise ModelLoadError("the model has no input signature; log it with a signature")
    try:
        specs = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"the model's input signature is not valid JSON: {exc}") from exc
    columns: list[Column] = []
    for spec in specs:
        if not isinstance(spec, dict) or "name" not in spec or spec.get("type") == "tensor":
            raise ModelLoadError("the model's signature must list named columns, not tensors")
        kind = str(spec.get("type", "double"))
        if kind not in SUPPORTED_COLUMN_TYPES:
            raise ModelLoadError(f"column {spec['name']!r} has unsupported type {kind!r}")
        columns.append(Column(str(spec["name"]), kind, bool(spec.get("required", True))))
    return columns


def onnx_path(directory: Path, mlmodel: dict[str, Any]) -> Path | None:
    """Where this model keeps its ONNX graph, if it has one."""
    declared = ((mlmodel.get("metadata") or {}).get(onnx_runtime.METADATA_KEY) or {}).get("path")
    candidates = [declared] if declared else []
    candidates += [onnx_runtime.ONNX_FILENAME, f"extra_files/{onnx_runtime.ONNX_FILENAME}"]
    for candidate in candidates:
        path = (directory / str(candidate)).resolve()
        if path.is_file() and path.is_relative_to(directory.resolve()):
            return path
    return None


def _open_directory(directory: Path, uri: str, origin: _Origin) -> _BasePredictor:
    mlmodel = read_mlmodel(directory)
    info = ModelInfo(
        name=origin.name or directory.name,
        version=origin.version,
        alias=origin.alias,
        run_id=origin.run_id or str(mlmodel.get("run_id") or ""),
        uri=uri,
        runtime="",
    )
    onnx = onnx_path(directory, mlmodel)
    if onnx is not None:
        return OnnxPredictor(directory, mlmodel, info, onnx)
    if "sklearn" not in (mlmodel.get("flavors") or {}):
        raise ModelLoadError(f"model {uri} has neither model.onnx nor a scikit-learn flavour")
    return SklearnPredictor(directory, mlmodel, info)


def _local_directory(uri: str) -> Path | None:
    if uri.startswith("file://"):
        return Path(uri.removeprefix("file://"))
    if "://" in uri or uri.startswith(("models:/", "runs:/")):
        return None
    path = Path(uri)
    if not path.is_dir():
        raise ModelLoadError(f"model directory {uri} does not exist")
    return path


def _read_source(directory: Path) -> _Origin:
    path = directory / SOURCE_FILE
    if not path.is_file():
        return _Origin()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}") from exc
    return _Origin(
        **{key: str(data.get(key) or "") for key in ("name", "version", "alias", "run_id")}
    )


def _resolve_origin(uri: str, tracking_uri: str | None) -> _Origin:
    """Registry facts for ``models:/`` URIs (one lookup) and the run id of ``runs:/`` URIs."""
    if uri.startswith("runs:/"):
        return _Origin(run_id=uri.removeprefix("runs:/").split("/", 1)[0])
    if not uri.startswith("models:/"):
        return _Origin()
    reference = uri.removeprefix("models:/").strip("/")
    name, alias, version = reference, "", ""
    if "@" in reference:
        name, alias = reference.split("@", 1)
    elif "/" in reference:
        name, version = reference.rsplit("/", 1)
    else:  # models:/<logged model id> (MLflow 3)
        return _Origin()
    client = _client(tracking_uri)
    try:
        found = (
            client.get_model_version_by_alias(name, alias)
            if alias
            else client.get_model_version(name, version)
        )
    except Exception as exc:
        raise ModelLoadError(f"cannot resolve {uri}: {_reason(exc, tracking_uri)}") from exc
    return _Origin(name=name, version=str(found.version), alias=alias, run_id=found.run_id or "")


def _pinned_uri(uri: str, origin: _Origin) -> str:
    """Download the version the alias pointed at when resolved, even if it moves meanwhile."""
    if origin.alias and origin.version:
        return f"models:/{origin.name}/{origin.version}"
    return uri


def _download(uri: str, tracking_uri: str | None) -> Path:
    _client(tracking_uri)
    import mlflow.artifacts

    target = Path(tempfile.mkdtemp(prefix="model-api-model-"))
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(target)))
    except Exception as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise ModelLoadError(f"cannot download {uri}: {_reason(exc, tracking_uri)}") from exc
    return local if local.is_dir() else target


def _client(tracking_uri: str | None) -> Any:
    try:
        from mlflow import MlflowClient
    except ImportError as exc:
        raise ModelLoadError(
            "resolving models:/ or runs:/ URIs needs mlflow (the 'registry' extra); "
            "serve a local model directory instead"
        ) from exc
    registry.configure_tracking(tracking_uri)
    return MlflowClient()


def _reason(exc: BaseException, tracking_uri: str | None) -> str:
    """The first line of the error; a short one for an unreachable tracking server."""
    if registry.unreachable(exc):
        uri = registry.resolve_tracking_uri(tracking_uri)
        return f"cannot reach the MLflow tracking server at {uri}"
    return registry.first_line(exc)
