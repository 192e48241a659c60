"""The MLflow scoring protocol (``POST /invocations``), as spoken by ``mlflow models serve`` 3.x.

Accepted bodies: JSON with exactly one of ``dataframe_split``, ``dataframe_records``,
``instances`` or ``inputs`` (plus optional ``params``, accepted and ignored like MLflow does for
scikit-learn models), CSV with a header line, and Parquet when pyarrow is installed. Columns are
matched by name; unknown columns are ignored; missing, null, non-numeric or infinite values in a
required column are a 400 naming the column.
"""

from __future__ import annotations

import csv
import enum
import io
import json
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from service.errors import (
    bad_request,
    decoded_too_large,
    invalid_value,
    rows_too_many,
    unsupported_media_type,
)
from service.protocol.schema import (
    InputSchema,
    Matrix,
    checked,
    column_positions,
    columns_to_matrix,
    json_type,
    records_to_matrix,
    rows_to_matrix,
)

INPUT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_SPLIT_KEYS = frozenset({"columns", "data", "index"})
_NEEDS_NAMES = (
    "the model matches inputs by column name; send the column names "
    "(dataframe_split.columns, dataframe_records, or inputs as {column: [values]})"
)
_KEYS_TEXT = ", ".join(INPUT_KEYS)


class Media(enum.Enum):
    JSON = "application/json"
    CSV = "text/csv"
    PARQUET = "application/vnd.apache.parquet"


_MEDIA = {media.value: media for media in Media}
_SUPPORTED = ", ".join(_MEDIA)
# Parsed Content-Type headers; clients send a handful of distinct values, so a small bounded
# cache spares the split/lower work on every request.
_CONTENT_TYPES: dict[str, Media] = {}
_CONTENT_TYPES_MAX = 64


def media_type(header: str | None) -> Media:
    """Parse ``Content-Type`` like MLflow: a supported type, optionally ``charset=utf-8``."""
    if header is not None and (cached := _CONTENT_TYPES.get(header)) is not None:
        return cached
    if header is None or not header.strip():
        raise unsupported_media_type(f"missing Content-Type header; send one of: {_SUPPORTED}")
    essence, _, parameters = header.partition(";")
    media = _MEDIA.get(essence.strip().lower())
    if media is None:
        raise unsupported_media_type(
            f"unsupported Content-Type {essence.strip()[:60]!r}; send one of: {_SUPPORTED}"
        )
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        key = key.strip().lower()
        if not key:
            continue
        if key != "charset":
            raise unsupported_media_type(
                f"unsupported Content-Type parameter {key[:40]!r}; only charset=utf-8 is accepted "
                "(MLflow 1.x 'format=' parameters are not part of the MLflow 2+ scoring protocol)"
            )
        if value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise unsupported_media_type("only the UTF-8 charset is supported")
    if len(_CONTENT_TYPES) < _CONTENT_TYPES_MAX:
        _CONTENT_TYPES[header] = media
    return media


def parse(
    media: Media, body: bytes, schema: InputSchema, *, max_rows: int, max_decoded_bytes: int
) -> Matrix:
    """The request body as the model matrix (rows x signature columns, float64).

    JSON and CSV decode to at most a small multiple of the body (whose size is bounded before
    it is read); Parquet is compressed, so its rows and decoded bytes are checked against
    ``max_rows`` and ``max_decoded_bytes`` from the file's metadata before anything is decoded.
    """
    if media is Media.JSON:
        matrix = parse_json(body, schema)
    elif media is Media.CSV:
        matrix = parse_csv(body, schema)
    else:
        matrix = parse_parquet(body, schema, max_rows=max_rows, max_decoded_bytes=max_decoded_bytes)
    if matrix.shape[0] > max_rows:
        raise rows_too_many(matrix.shape[0], max_rows)
    return matrix


def parse_json(body: bytes, schema: InputSchema) -> Matrix:
    document = load_json(body)
    if not isinstance(document, dict):
        raise bad_request(
            f"the body must be a JSON object with exactly one of the keys {_KEYS_TEXT}; "
            f"got a JSON {json_type(document)}"
        )
    present = [key for key in INPUT_KEYS if key in document]
    if len(present) != 1:
        raise bad_request(_wrong_keys_message(document, present))
    params = document.get("params")
    if params is not None and not isinstance(params, dict):
        raise bad_request("'params' must be a JSON object")
    key = present[0]
    value = document[key]
    if key == "dataframe_split":
        return _split(value, schema)
    if key == "dataframe_records":
        return records_to_matrix(value, schema, where=key)
    if isinstance(value, dict):  # {column: [values]} or {column: scalar}, under either key
        return columns_to_matrix(value, schema, where=key)
    return _instances(value, schema, where=key)


# Tokens that Python's json module (which MLflow's server and client use) reads and writes for
# non-finite floats, and that strict JSON parsers such as orjson refuse.
_NON_FINITE = (b"NaN", b"Infinity")


def load_json(body: bytes) -> Any:
    """Decode a JSON body; ``NaN``/``Infinity``/``-Infinity`` literals are accepted like MLflow.

    MLflow's ``ScoringServerClient`` serializes a DataFrame holding NaN with ``json.dumps``,
    which writes the bare literal ``NaN``. orjson (the fast path) refuses it, so only a body
    that orjson refuses *and* that contains one of those tokens is decoded a second time with
    the standard library, which maps them to floats; the values are then judged by the
    signature's null/NaN policy like any other. Valid JSON never pays for the fallback.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        error = exc
    if any(token in body for token in _NON_FINITE):
        try:
            return json.loads(body)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            pass
    raise bad_request(f"the body is not valid JSON: {str(error)[:120]}") from None


def _wrong_keys_message(document: dict[str, Any], present: list[str]) -> str:
    if present:
        return f"the body has more than one input key ({', '.join(present)}); send exactly one"
    hint = ""
    if "input" in document:
        hint = " (found 'input': did you mean 'inputs'?)"
    elif "data" in document or "columns" in document:
        hint = " (found 'data'/'columns' at the top level: wrap them in 'dataframe_split')"
    return f"the body must be a JSON object with exactly one of the keys {_KEYS_TEXT}{hint}"


def _split(value: object, schema: InputSchema) -> Matrix:
    where = "dataframe_split"
    if not isinstance(value, dict):
        raise bad_request(f"{where} must be an object with 'columns' and 'data'")
    extra = set(value) - _SPLIT_KEYS
    if extra or "data" not in value:
        raise bad_request(
            f"{where} must have a 'data' field and optionally 'columns' and 'index'; "
            f"got fields {sorted(value)[:10]}"
        )
    data = value["data"]
    index = value.get("index")
    if index is not None and (
        not isinstance(index, list) or not isinstance(data, list) or len(index) != len(data)
    ):
        raise bad_request(f"{where}.index must be a list with one entry per row of data")
    if value.get("columns") is None:
        raise invalid_value(f"{where} has no 'columns': {_NEEDS_NAMES}")
    names, positions = column_positions(value["columns"], schema, where=f"{where}.columns")
    return rows_to_matrix(data, schema, labels=names, positions=positions, where=f"{where}.data")


def _instances(value: object, schema: InputSchema, *, where: str) -> Matrix:
    if not isinstance(value, list):
        raise bad_request(f"{where} must be a list of rows or an object of columns")
    if value and isinstance(value[0], dict):
        return records_to_matrix(value, schema, where=where)
    if not value:
        raise invalid_value(f"empty batch: {where} has no rows")
    raise invalid_value(f"{where} is a list of rows without column names: {_NEEDS_NAMES}")


def parse_csv(body: bytes, schema: InputSchema) -> Matrix:
    """CSV with a header line (``DataFrame.to_csv()`` output works; its index column is ignored)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(f"the CSV body is not valid UTF-8 (byte {exc.start})") from None
    try:
        lines = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    except csv.Error as exc:
        raise bad_request(f"the CSV body cannot be parsed: {str(exc)[:120]}") from None
    if not lines:
        raise bad_request("the CSV body is empty; send a header line with the column names")
    header = [name.strip() for name in lines[0]]
    names, positions = column_positions(header, schema, where="the CSV header")
    rows = [[cell if cell.strip() else None for cell in row] for row in lines[1:]]
    return rows_to_matrix(rows, schema, labels=names, positions=positions, where="the CSV rows")


def parse_parquet(
    body: bytes, schema: InputSchema, *, max_rows: int, max_decoded_bytes: int
) -> Matrix:
    """Parquet (one table, columns named like the signature); needs pyarrow.

    Only the signature's columns are decoded. Before any page is decompressed, the footer's row
    count and the uncompressed sizes of those columns' chunks are held against the limits, so a
    small, highly compressed file cannot expand to gigabytes in memory.
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise unsupported_media_type(
            "Parquet input needs pyarrow, which is not installed in this server; send JSON or CSV"
        ) from None
    try:
        parquet = pq.ParquetFile(pa.BufferReader(body))
        metadata = parquet.metadata
        names = list(parquet.schema_arrow.names)
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt input
        raise bad_request(f"the body is not a readable Parquet file: {_first_line(exc)}") from None
    column_positions(names, schema, where="the Parquet columns")
    if metadata.num_rows > max_rows:
        raise rows_too_many(metadata.num_rows, max_rows)
    wanted = [name for name in schema.names if name in set(names)]
    wanted_set = set(wanted)
    decoded = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for position in range(row_group.num_columns):
            chunk = row_group.column(position)
            if chunk.path_in_schema in wanted_set:
                decoded += max(chunk.total_uncompressed_size, 0)
    if decoded > max_decoded_bytes:
        raise decoded_too_large(decoded, max_decoded_bytes)
    try:
        table = parquet.read(columns=wanted)
    except Exception as exc:
        raise bad_request(f"the body is not a readable Parquet file: {_first_line(exc)}") from None
    if table.num_rows == 0:
        raise invalid_value("empty batch: the Parquet table has no rows")
    if table.num_rows > max_rows:  # the footer understated it
        raise rows_too_many(table.num_rows, max_rows)
    matrix = np.full((table.num_rows, schema.width), np.nan)
    for position, name in enumerate(schema.names):
        if name not in wanted_set:
            continue
        try:
            column: npt.NDArray[Any] = table.column(name).to_numpy(zero_copy_only=False)
            matrix[:, position] = column.astype(np.float64)
        except (ValueError, TypeError, pa.ArrowException):
            raise bad_request(f"Parquet column {name!r} is not numeric") from None
    return checked(matrix, schema)


def _first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def predictions_body(labels: npt.NDArray[np.int64]) -> bytes:
    """``{"predictions": [...]}`` — the class label per row, like MLflow's sklearn flavour."""
    return orjson.dumps({"predictions": labels}, option=orjson.OPT_SERIALIZE_NUMPY)
