"""The prediction log: what each prediction id predicted, kept until its true labels arrive.

Any replica may receive the feedback for a prediction another replica made, days later, after
restarts, so the log lives in a database shared by the replicas: ``MODEL_API_FEEDBACK_STORE``, a
SQLAlchemy URL (SQLite for one process on one machine, PostgreSQL in the cluster). One row per
request: the id, when, which model version, the predicted labels (rows are addressed by their
index) and, once feedback arrived, the true labels.

The request path never waits for the database: :meth:`PredictionLog.record` appends to an
in-memory queue; a background thread writes the queue in batches every
:data:`FLUSH_SECONDS`. When the queue holds ``queue_limit`` entries (the database is slow or
down), new entries are dropped and counted instead (``model_api_prediction_log_dropped_total``).
The same thread deletes rows older than the retention period once an hour.

The writer shares the GIL with the event loop, so a batch costs it as little Python as possible:
the whole batch is serialized into one JSON array and inserted by one statement that unpacks it
in the database (:data:`ONE_STATEMENT_INSERT`: ``json_each`` on SQLite, ``json_array_elements`` on
PostgreSQL). A row-by-row ``executemany`` releases and re-takes the GIL around every row's
``sqlite3_step``, and each hand-over to and from the busy event loop thread costs both threads
(docs/PERFORMANCE.md, "Prediction log"); other databases get SQLAlchemy's ``executemany``.

The table's layout is versioned in ``model_api_schema`` (one row: the version); on start the
thread applies the :data:`MIGRATIONS` the database lacks, in order, under a lock on PostgreSQL so
that replicas starting together do not race. A new layout is a new function appended to the list.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

_log = logging.getLogger("model_api.feedback")

OFF = "off"
FLUSH_SECONDS = 0.2
# One INSERT statement (and one transaction) holds at most this many predictions, or this many
# predicted labels in all (a batch of large requests stays a few megabytes).
BATCH_ROWS = 5000
BATCH_LABELS = 200_000
CLEANUP_SECONDS = 3600.0
RETRY_SECONDS = 2.0
READY_WAIT_SECONDS = 5.0
ID_MAX = 64
_NUMPY = orjson.OPT_SERIALIZE_NUMPY
# pg_advisory_xact_lock key for migrations ("mapi" in ASCII).
_MIGRATION_LOCK = 0x6D617069

_metadata = sa.MetaData()
schema_table = sa.Table(
    "model_api_schema", _metadata, sa.Column("version", sa.Integer, nullable=False)
)
predictions = sa.Table(
    "model_api_predictions",
    _metadata,
    sa.Column("prediction_id", sa.String(ID_MAX), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("predicted", sa.Text, nullable=False),  # JSON list, one label per row
    sa.Column("actual", sa.Text, nullable=True),  # JSON list once feedback arrived
    sa.Column("labelled_at", sa.Float, nullable=True),
)


# prediction id, created at (epoch seconds), model version, predicted labels
_Entry = tuple[str, float, str, npt.NDArray[np.int64]]


# One statement per batch: the bound parameter ``rows`` is a JSON array of
# ``[prediction_id, created_at, model_version, [label, ...]]``; the labels column stores the
# JSON text of the inner array (SQLite's ``json_extract`` and PostgreSQL's ``->>`` return an
# array element as its compact text, which is exactly what orjson writes).
ONE_STATEMENT_INSERT = {
    "sqlite": sa.text(
        "INSERT INTO model_api_predictions (prediction_id, created_at, model_version, predicted) "
        "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
        "json_extract(value, '$[2]'), json_extract(value, '$[3]') FROM json_each(:rows)"
    ),
    "postgresql": sa.text(
        "INSERT INTO model_api_predictions (prediction_id, created_at, model_version, predicted) "
        "SELECT e ->> 0, CAST(e ->> 1 AS DOUBLE PRECISION), e ->> 2, e ->> 3 "
        "FROM json_array_elements(CAST(:rows AS JSON)) AS e"
    ),
}


def _as_list(value: object) -> object:
    """orjson's fallback for arrays it does not serialize natively (non-contiguous ones)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in the prediction log")


def insert_batch(connection: Connection, entries: Sequence[_Entry]) -> None:
    """Insert ``entries`` (id, created at, model version, predicted labels).

    On SQLite and PostgreSQL the batch is serialized by one orjson call and inserted by one
    statement: the writer thread holds the GIL for microseconds per batch rather than a Python
    loop over its rows, which the request path would wait for after every call that releases
    the GIL (the model's run, socket writes).
    """
    statement = ONE_STATEMENT_INSERT.get(connection.dialect.name)
    if statement is not None:
        rows = orjson.dumps(entries, default=_as_list, option=_NUMPY).decode()
        connection.execute(statement, {"rows": rows})
        return
    columns = ("prediction_id", "created_at", "model_version", "predicted")
    connection.execute(
        predictions.insert(),
        [
            dict(zip(columns, (pid, created, version, _labels_json(labels)), strict=True))
            for pid, created, version, labels in entries
        ],
    )


def _labels_json(labels: npt.NDArray[np.int64]) -> str:
    return orjson.dumps(labels, default=_as_list, option=_NUMPY).decode()


def _create_v1(connection: Connection) -> None:
    predictions.create(connection, checkfirst=True)


# (version, step): step brings the database from version - 1 to version.
MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [(1, _create_v1)]
SCHEMA_VERSION = MIGRATIONS[-1][0]


class StoreUnavailable(Exception):
    """The database cannot be reached (or is not migrated yet); the message says why."""


@dataclass(frozen=True)
class Logged:
    """A prediction as the log holds it."""

    prediction_id: str
    created_at: float
    model_version: str
    predicted: list[int]


@dataclass(frozen=True)
class Joined:
    logged: Logged
    # False when this prediction had received its labels before (idempotent feedback).
    first: bool


class WrongLabelCount(Exception):
    def __init__(self, expected: int, got: int) -> None:
        super().__init__(f"expected {expected} labels (one per predicted row), got {got}")
        self.expected = expected
        self.got = got


def engine_for(url: str) -> Engine:
    """An engine for ``url``; plain ``postgresql://`` uses psycopg2 (what the image ships)."""
    parsed = sa.make_url(url)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    engine = sa.create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _wal(dbapi_connection: Any, _: Any) -> None:
            # Several worker processes share the file: readers never wait for the writer.
            # synchronous=NORMAL: a commit appends to the WAL without an fsync (the WAL is
            # synced at checkpoints); a crash of the process loses nothing committed, a power
            # loss may lose the last commits. The fsync per batch cost the writer thread about
            # twice the CPU per prediction (docs/PERFORMANCE.md, "Prediction log").
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


def migrate(engine: Engine) -> int:
    """Bring the tables to :data:`SCHEMA_VERSION`; the version found before."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
        schema_table.create(connection, checkfirst=True)
        found = connection.execute(sa.select(schema_table.c.version)).scalar()
        current = int(found or 0)
        if current > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"the feedback store has schema version {current}, newer than this service "
                f"knows ({SCHEMA_VERSION}); upgrade the service"
            )
        for version, step in MIGRATIONS:
            if version > current:
                step(connection)
        if found is None:
            connection.execute(schema_table.insert().values(version=SCHEMA_VERSION))
        elif current < SCHEMA_VERSION:
            connection.execute(schema_table.update().values(version=SCHEMA_VERSION))
    return current


class PredictionLog:
    """The queue, its writer thread and the feedback join, over one database."""

    def __init__(
        self,
        url: str,
        *,
        retention_seconds: float,
        queue_limit: int,
        on_drop: Callable[[int], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.retention_seconds = retention_seconds
        self.queue_limit = queue_limit
        self._on_drop = on_drop
        self._clock = clock
        self._engine = engine_for(url)
        self._queue: collections.deque[_Entry] = collections.deque()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._problem = "the feedback store is starting"
        self._thread: threading.Thread | None = None
        self._next_cleanup = 0.0

    # -- request path ------------------------------------------------------------------------

    def record(self, prediction_id: str, model_version: str, labels: npt.NDArray[np.int64]) -> None:
        """Queue one prediction (never blocks); dropped and counted when the queue is full."""
        if len(self._queue) >= self.queue_limit:
            self._on_drop(1)
            return
        self._queue.append((prediction_id, self._clock(), model_version, labels))

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
            self._thread.start()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the writer after one last flush (within ``timeout`` seconds)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._engine.dispose()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                migrate(self._engine)
            except Exception as exc:
                self._problem = f"the feedback store is unavailable: {_first_line(exc)}"
                _log.warning("feedback store unavailable", extra={"reason": _first_line(exc)})
                self._stop.wait(RETRY_SECONDS)
                continue
            self._ready.set()
            break
        while True:
            stopping = self._stop.wait(FLUSH_SECONDS)
            try:
                self.flush()
                if self._clock() >= self._next_cleanup:
                    self.delete_expired()
                    self._next_cleanup = self._clock() + CLEANUP_SECONDS
            except Exception as exc:
                # The batch went back to the queue's head; a full queue drops new entries.
                _log.warning("prediction log write failed", extra={"reason": _first_line(exc)})
                self._stop.wait(RETRY_SECONDS)
            if stopping:
                return

    # -- writer ------------------------------------------------------------------------------

    def flush(self) -> int:
        """Write everything queued now; the number of predictions written.

        Only what is queued when the call starts: entries that arrive meanwhile wait for the
        next flush. Chasing them would turn a busy server's log into a stream of tiny
        transactions, each paying the commit and the writer's GIL hand-overs for a few rows.
        """
        if not self._ready.is_set():
            return 0
        written = 0
        with self._write_lock:
            pending = len(self._queue)
            while pending > 0 and self._queue:
                batch = self._take_batch(pending)
                pending -= len(batch)
                try:
                    with self._engine.begin() as connection:
                        insert_batch(connection, batch)
                except Exception:
                    self._queue.extendleft(reversed(batch))
                    raise
                written += len(batch)
        return written

    def _take_batch(self, limit: int) -> list[_Entry]:
        """The queue's head: up to ``limit`` and :data:`BATCH_ROWS` entries, or until
        :data:`BATCH_LABELS` labels."""
        batch: list[_Entry] = []
        labels = 0
        queue = self._queue
        limit = min(limit, BATCH_ROWS)
        while queue and len(batch) < limit and labels < BATCH_LABELS:
            entry = queue.popleft()
            batch.append(entry)
            labels += len(entry[3])
        return batch

    def delete_expired(self) -> int:
        cutoff = self._clock() - self.retention_seconds
        with self._engine.begin() as connection:
            result = connection.execute(
                predictions.delete().where(predictions.c.created_at < cutoff)
            )
        return int(result.rowcount or 0)

    # -- feedback ----------------------------------------------------------------------------

    def lookup(self, prediction_id: str) -> Logged | None:
        """The logged prediction, or None when unknown or older than the retention period."""
        self._require_ready()
        row = self._select(prediction_id)
        if row is None:
            # Feedback that overtakes its own prediction's write on this replica: the entry is
            # still queued, or in the batch the writer thread is inserting right now (flush
            # waits for that batch through the write lock, then writes what is queued).
            self.flush()
            row = self._select(prediction_id)
        if row is None or row.created_at < self._clock() - self.retention_seconds:
            return None
        return Logged(
            prediction_id=row.prediction_id,
            created_at=row.created_at,
            model_version=row.model_version,
            predicted=[int(v) for v in orjson.loads(row.predicted)],
        )

    def join(self, logged: Logged, labels: list[int]) -> Joined:
        """Store the true labels of ``logged`` unless it has some already."""
        if len(labels) != len(logged.predicted):
            raise WrongLabelCount(len(logged.predicted), len(labels))
        with self._engine.begin() as connection:
            result = connection.execute(
                predictions.update()
                .where(predictions.c.prediction_id == logged.prediction_id)
                .where(predictions.c.actual.is_(None))
                .values(actual=orjson.dumps(labels).decode(), labelled_at=self._clock())
            )
        return Joined(logged=logged, first=result.rowcount == 1)

    def _select(self, prediction_id: str) -> Any:
        query = sa.select(predictions).where(predictions.c.prediction_id == prediction_id)
        with self._engine.connect() as connection:
            return connection.execute(query).one_or_none()

    def _require_ready(self) -> None:
        # Feedback in the first moments after start waits for the migration (briefly).
        if not self._ready.wait(READY_WAIT_SECONDS):
            raise StoreUnavailable(self._problem)


def _first_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]
