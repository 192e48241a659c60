"""A real PostgreSQL for tests (Debian ``postgresql`` package): initdb into a temporary
directory, started on a free port of 127.0.0.1 (as the ``postgres`` user when we are root:
initdb and postgres refuse to run as root), stopped and deleted afterwards."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.net import free_port

PASSWORD = "backup-test-pw"  # a throwaway role of a throwaway cluster


def postgres_bindir() -> Path:
    """The PostgreSQL server binaries: pg_config's bindir, Debian's layout, or PATH."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb") or "").resolve().parent)
    for directory in candidates:
        if all((directory / b).is_file() for b in ("initdb", "pg_ctl", "pg_dump", "pg_restore")):
            return directory
    pytest.fail("PostgreSQL server binaries not found (apt-get install postgresql)")


@dataclass
class Postgres:
    bindir: Path
    port: int
    socket_dir: Path
    as_postgres: list[str]  # prefix that runs a command as the cluster's OS user

    def superuser_sql(self, sql: str) -> str:
        psql = [str(self.bindir / "psql"), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1"]
        where = ["-h", str(self.socket_dir), "-p", str(self.port), "-d", "postgres"]
        done = subprocess.run(
            [*self.as_postgres, *psql, *where, "-c", sql],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return "\n".join(sorted(done.stdout.split()))

    def env(self, database: str = "mlflow") -> dict[str, str]:
        """What the CronJob gets from its Secret: libpq variables (over TCP, with a password)."""
        return {
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGDATABASE": database,
            "PGUSER": "mlflow",
            "PGPASSWORD": PASSWORD,
        }

    def uri(self, database: str = "mlflow") -> str:
        # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; the dev extra ships psycopg2.
        return f"postgresql+psycopg2://mlflow:{PASSWORD}@127.0.0.1:{self.port}/{database}"


@contextlib.contextmanager
def running_postgres() -> Iterator[Postgres]:
    """A fresh PostgreSQL cluster on a free port of 127.0.0.1 with role and database
    ``mlflow`` (password :data:`PASSWORD`); stopped and deleted on exit."""
    bindir = postgres_bindir()
    root = Path(tempfile.mkdtemp(prefix="mlflow-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        shutil.chown(root, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data, sockets = root / "data", root / "sock"
    for d in (data, sockets):
        d.mkdir(mode=0o700)
        if as_postgres:
            shutil.chown(d, "postgres", "postgres")
    port = free_port()
    auth = ["--auth-local=trust", "--auth-host=scram-sha-256"]
    subprocess.run(
        [
            *as_postgres,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--no-sync",
            *auth,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data)]
    log = root / "server.log"
    started = subprocess.run(
        [*pg_ctl, "-l", str(log), "-o", options, "-w", "-t", "60", "start"],
        capture_output=True,
        text=True,
        timeout=90,
    )
    if started.returncode != 0:
        server_log = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {started.stderr.strip()}\n{server_log}")
    server = Postgres(bindir, port, sockets, as_postgres)
    try:
        server.superuser_sql(f"CREATE ROLE mlflow LOGIN CREATEDB PASSWORD '{PASSWORD}'")
        server.superuser_sql("CREATE DATABASE mlflow OWNER mlflow")
        yield server
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
