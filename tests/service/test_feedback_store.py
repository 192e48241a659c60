"""The prediction log on a real SQLite file and a real PostgreSQL (started by the fixture):
migrations, batched writes, the feedback join (idempotent), retention, and a full queue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from service import feedback
from service.feedback import PredictionLog, StoreUnavailable, WrongLabelCount
from tests.support.net import free_port
from tests.support.postgres import Postgres, running_postgres


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with running_postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nested' / 'feedback.sqlite'}"
    server: Postgres = request.getfixturevalue("postgres")
    database = f"feedback_{tmp_path.name.lower().replace('-', '_')[-40:]}"
    server.superuser_sql(f"CREATE DATABASE {database} OWNER mlflow")
    # Plain postgresql:// as the cluster's Secret writes it (psycopg2 is chosen for it).
    return server.uri(database).replace("postgresql+psycopg2://", "postgresql://")


def started(
    url: str, clock: Clock, *, queue_limit: int = 1000, drops: list[int] | None = None
) -> PredictionLog:
    log = PredictionLog(
        url,
        retention_seconds=86400.0,
        queue_limit=queue_limit,
        on_drop=(drops if drops is not None else []).append,
        clock=clock,
    )
    log.start()
    assert log.wait_ready(60)
    return log


def test_migrations_create_the_versioned_table_once(url: str) -> None:
    engine = feedback.engine_for(url)
    try:
        assert feedback.migrate(engine) == 0
        assert feedback.migrate(engine) == feedback.SCHEMA_VERSION  # nothing left to do
        with engine.connect() as connection:
            versions = connection.execute(sa.select(feedback.schema_table.c.version)).all()
            assert [v for (v,) in versions] == [feedback.SCHEMA_VERSION]
        assert "model_api_predictions" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_sqlite_commits_to_a_wal_without_an_fsync_each(tmp_path: Path) -> None:
    engine = feedback.engine_for(f"sqlite:///{tmp_path / 'feedback.sqlite'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        engine.dispose()


def test_a_newer_schema_is_refused(url: str) -> None:
    engine = feedback.engine_for(url)
    try:
        feedback.migrate(engine)
        with engine.begin() as connection:
            connection.execute(feedback.schema_table.update().values(version=99))
        with pytest.raises(StoreUnavailable, match="schema version 99"):
            feedback.migrate(engine)
    finally:
        engine.dispose()


def test_join_is_idempotent_and_checks_the_row_count(url: str) -> None:
    clock = Clock()
    log = started(url, clock)
    try:
        log.record("p-1", "3", np.array([1, 0, 1], dtype=np.int64))
        log.record("p-2", "4", np.array([0], dtype=np.int64))
        assert log.flush() == 2
        logged = log.lookup("p-1")
        assert logged is not None
        assert (logged.model_version, logged.predicted) == ("3", [1, 0, 1])
        with pytest.raises(WrongLabelCount, match="expected 3 labels"):
            log.join(logged, [1, 0])
        assert log.join(logged, [1, 1, 1]).first
        assert not log.join(logged, [0, 0, 0]).first  # counts once; the first labels stay
        engine = feedback.engine_for(url)
        with engine.connect() as connection:
            query = sa.select(feedback.predictions.c.actual).where(
                feedback.predictions.c.prediction_id == "p-1"
            )
            assert connection.execute(query).scalar() == "[1,1,1]"
        engine.dispose()
        assert log.lookup("nope") is None
    finally:
        log.close()


def test_feedback_that_overtakes_the_write_finds_its_prediction(url: str) -> None:
    log = started(url, Clock())
    try:
        log.record("fresh", "1", np.array([1], dtype=np.int64))
        found = log.lookup("fresh")  # flushes the queue when the row is not there yet
        assert found is not None and found.predicted == [1]
    finally:
        log.close()


def test_predictions_expire_after_the_retention_period(url: str) -> None:
    clock = Clock()
    log = started(url, clock)
    try:
        log.record("old", "1", np.array([1], dtype=np.int64))
        log.flush()
        clock.now += 86400.0 - 1
        assert log.lookup("old") is not None
        clock.now += 2
        assert log.lookup("old") is None  # expired even before the cleanup ran
        log.record("new", "1", np.array([0], dtype=np.int64))
        log.flush()
        assert log.delete_expired() == 1
        assert log.lookup("new") is not None
    finally:
        log.close()


def test_close_writes_what_is_queued(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feedback, "BATCH_ROWS", 500)
    monkeypatch.setattr(feedback, "BATCH_LABELS", 2000)
    clock = Clock()
    log = started(url, clock, queue_limit=5000)
    for n in range(1200):  # more than one batch by count
        log.record(f"q-{n}", "1", np.array([n % 2], dtype=np.int64))
    for n in range(3):  # and by labels: 1,500 labels each, so one entry per batch
        log.record(f"big-{n}", "1", np.full(1500, n % 2, dtype=np.int64))
    log.close()
    again = started(url, clock)
    try:
        found = again.lookup("q-1199")
        assert found is not None and found.predicted == [1]
        for n in range(3):
            big = again.lookup(f"big-{n}")
            assert big is not None and big.predicted == [n % 2] * 1500
    finally:
        again.close()


@pytest.mark.parametrize("statement", ["one statement per batch", "executemany"])
def test_a_batch_stores_exactly_what_was_recorded(
    url: str, statement: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if statement == "executemany":  # the path of databases other than SQLite and PostgreSQL
        monkeypatch.setattr(feedback, "ONE_STATEMENT_INSERT", {})
    monkeypatch.setattr(feedback, "FLUSH_SECONDS", 3600.0)  # only this test's flush writes
    clock = Clock()
    clock.now = 1_800_000_000.123456
    log = started(url, clock)
    recorded = {
        "plain-1": ("7", [0, 1, 1]),
        "quote'\"back\\slash": ("v'1\"", [1]),
        "unicode-é-✓-😀": ("ü", [0] * 300),
        "strided": ("1", [1, 0, 1]),  # recorded from a non-contiguous view, below
    }
    try:
        for pid, (version, labels) in recorded.items():
            array = np.array(labels, dtype=np.int64)
            if pid == "strided":
                array = np.repeat(array, 2)[::2]
                assert not array.flags.c_contiguous
            log.record(pid, version, array)
            clock.now += 0.25
        assert log.flush() == 4
        engine = feedback.engine_for(url)
        with engine.connect() as connection:
            table = feedback.predictions
            rows = connection.execute(sa.select(table).order_by(table.c.created_at)).all()
        engine.dispose()
        assert [r.prediction_id for r in rows] == list(recorded)
        assert [r.created_at for r in rows] == [1_800_000_000.123456 + 0.25 * n for n in range(4)]
        for row in rows:
            version, labels = recorded[row.prediction_id]
            assert (row.model_version, row.actual, row.labelled_at) == (version, None, None)
            # The stored text is the compact JSON array, whichever statement wrote it.
            assert row.predicted == json.dumps(labels, separators=(",", ":"))
            logged = log.lookup(row.prediction_id)
            assert logged is not None and logged.predicted == labels
    finally:
        log.close()


def test_a_flush_writes_what_was_queued_when_it_started(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Predictions recorded while a batch is being written wait for the next flush: a busy
    server's log is written in a few large transactions, not chased row by row."""
    monkeypatch.setattr(feedback, "FLUSH_SECONDS", 3600.0)  # only this test's flushes write
    clock = Clock()
    log = started(url, clock)
    insert = feedback.insert_batch
    late = iter(range(3))

    def insert_while_requests_arrive(connection: sa.Connection, entries: object) -> None:
        insert(connection, entries)  # type: ignore[arg-type]
        for n in late:  # once: the request path records while the first batch is written
            log.record(f"late-{n}", "1", np.array([1], dtype=np.int64))

    monkeypatch.setattr(feedback, "insert_batch", insert_while_requests_arrive)
    try:
        for n in range(5):
            log.record(f"early-{n}", "1", np.array([0], dtype=np.int64))
        assert log.flush() == 5
        assert log.flush() == 3
        assert log.flush() == 0
        for pid in ("early-4", "late-2"):
            assert log.lookup(pid) is not None
    finally:
        log.close()


def test_an_unreachable_store_drops_and_counts_beyond_the_queue() -> None:
    drops: list[int] = []
    url = f"postgresql://nobody:x@127.0.0.1:{free_port()}/nothing"
    log = PredictionLog(
        url, retention_seconds=60, queue_limit=2, on_drop=drops.append, clock=Clock()
    )
    log.start()
    try:
        for n in range(5):
            log.record(f"d-{n}", "1", np.array([1], dtype=np.int64))
        assert drops == [1, 1, 1]
        assert not log.wait_ready(0.5)
    finally:
        log.close()
