"""Registry disaster recovery: the backup CronJob's scripts against a real PostgreSQL.

MLflow runs on a PostgreSQL 15 started for the test (Debian ``postgresql`` package, free port on
127.0.0.1). The test fills the registry, runs ``backup.sh`` exactly as it is committed in the
CronJob's ConfigMap, drops the database, runs ``restore.sh``, and asks the registry again.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.paths import REPO_ROOT
from tests.support.postgres import Postgres, running_postgres

pytestmark = pytest.mark.integration

CONFIGMAP = REPO_ROOT / "base/mlflow-backup/configmap-backup-script.yaml"


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with running_postgres() as server:
        yield server


def _scripts(directory: Path) -> dict[str, Path]:
    """backup.sh and restore.sh, extracted from the committed ConfigMap."""
    configmap = yaml.safe_load(CONFIGMAP.read_text(encoding="utf-8"))
    paths = {}
    for name in ("backup.sh", "restore.sh"):
        path = directory / name
        path.write_text(configmap["data"][name], encoding="utf-8")
        paths[name] = path
    return paths


def _run_script(
    script: Path, server: Postgres, backups: Path, *args: str, **extra: str
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{server.bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(backups.parent),
        "BACKUP_DIR": str(backups),
        **server.env(),
        **extra,
    }
    return subprocess.run(
        ["sh", str(script), *args], env=env, capture_output=True, text=True, timeout=120
    )


def _snapshot(uri: str) -> dict[str, Any]:
    """The registry and the runs as a client sees them, in a comparable form."""
    from mlflow import MlflowClient

    client = MlflowClient(uri, uri)
    models = {}
    for model in client.search_registered_models():
        versions = client.search_model_versions(f"name = '{model.name}'")
        models[model.name] = {
            "description": model.description,
            "aliases": {k: str(v) for k, v in sorted(model.aliases.items())},
            "tags": dict(sorted(model.tags.items())),
            "versions": sorted(
                (str(v.version), v.run_id, v.source, sorted(v.tags.items())) for v in versions
            ),
        }
    runs = {}
    for exp in client.search_experiments():
        for run in client.search_runs([exp.experiment_id]):
            runs[run.info.run_id] = (exp.name, run.data.params, run.data.metrics)
    return {"models": models, "runs": runs}


def _fill_registry(uri: str, artifacts: Path) -> None:
    """Runs with params and metrics, two models, versions, aliases and tags (MLflow's own API)."""
    from mlflow import MlflowClient

    client = MlflowClient(uri, uri)
    experiment = client.create_experiment("model-api", artifact_location=artifacts.as_uri())
    for name, n_versions in (("model-api", 3), ("model-api-shadow", 1)):
        client.create_registered_model(name, tags={"team": "ml"}, description=f"{name} registry")
        for i in range(n_versions):
            run = client.create_run(experiment, run_name=f"{name}-{i}")
            client.log_param(run.info.run_id, "label_noise", str(i / 10))
            client.log_metric(run.info.run_id, "roc_auc", 0.99 - i / 100)
            client.set_terminated(run.info.run_id)
            version = client.create_model_version(
                name, source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id
            )
            client.set_model_version_tag(name, version.version, "gate", "passed")
    client.set_registered_model_alias("model-api", "champion", "2")
    client.set_registered_model_alias("model-api", "candidate", "3")
    client.set_registered_model_alias("model-api-shadow", "champion", "1")


def test_backup_drop_restore_brings_back_models_versions_and_aliases(
    postgres: Postgres, tmp_path: Path
) -> None:
    scripts = _scripts(tmp_path)
    backups = tmp_path / "backups"
    backups.mkdir()
    _fill_registry(postgres.uri(), tmp_path / "artifacts")
    before = _snapshot(postgres.uri())
    assert before["models"]["model-api"]["aliases"] == {"candidate": "3", "champion": "2"}
    assert len(before["models"]["model-api"]["versions"]) == 3
    assert len(before["runs"]) == 4

    backup = _run_script(scripts["backup.sh"], postgres, backups)
    assert backup.returncode == 0, backup.stderr
    (dump,) = sorted(backups.iterdir())
    assert dump.name.startswith("mlflow-") and dump.suffix == ".dump"
    assert f"wrote {dump}" in backup.stdout

    postgres.superuser_sql("DROP DATABASE mlflow WITH (FORCE)")
    assert (
        postgres.superuser_sql("SELECT datname FROM pg_database")
        == "postgres\ntemplate0\ntemplate1"
    )

    restore = _run_script(scripts["restore.sh"], postgres, backups)  # newest dump by default
    assert restore.returncode == 0, restore.stderr
    assert "database mlflow is missing; creating it" in restore.stdout
    assert _snapshot(postgres.uri()) == before

    # Restoring over a database that moved on since the backup returns it to the backup's state.
    from mlflow import MlflowClient

    client = MlflowClient(postgres.uri(), postgres.uri())
    client.set_registered_model_alias("model-api", "champion", "3")
    client.delete_registered_model("model-api-shadow")
    assert _snapshot(postgres.uri()) != before
    again = _run_script(scripts["restore.sh"], postgres, backups, str(dump))
    assert again.returncode == 0, again.stderr
    assert "creating it" not in again.stdout
    assert _snapshot(postgres.uri()) == before


def test_backup_keeps_the_newest_dumps_and_refuses_bad_settings(
    postgres: Postgres, tmp_path: Path
) -> None:
    scripts = _scripts(tmp_path)
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "unrelated.txt").write_text("kept")
    names = []
    for _ in range(3):
        done = _run_script(scripts["backup.sh"], postgres, backups, BACKUP_KEEP="2")
        assert done.returncode == 0, done.stderr
        names.append(done.stdout.split("wrote ")[1].split()[0])
        time.sleep(1.1)  # dump names carry the second they were taken
    left = sorted(p.name for p in backups.iterdir())
    assert left == sorted([Path(names[1]).name, Path(names[2]).name, "unrelated.txt"])

    bad_keep = _run_script(scripts["backup.sh"], postgres, backups, BACKUP_KEEP="many")
    assert bad_keep.returncode == 2 and "BACKUP_KEEP must be a positive integer" in bad_keep.stderr
    wrong_pw = _run_script(scripts["backup.sh"], postgres, backups, PGPASSWORD="wrong")
    assert wrong_pw.returncode != 0 and "password authentication failed" in wrong_pw.stderr
    assert not [p for p in backups.iterdir() if p.name.startswith(".")]  # no partial dump left

    missing = _run_script(scripts["restore.sh"], postgres, backups, str(backups / "nope.dump"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    not_a_dump = _run_script(
        scripts["restore.sh"], postgres, backups, str(backups / "unrelated.txt")
    )
    assert not_a_dump.returncode == 2 and "is not a pg_dump archive" in not_a_dump.stderr
