"""The model signature as the parsers see it, and the shared matrix building and validation.

The hot path is ``np.array(rows, dtype=float64)``: one C-level conversion of the decoded JSON
lists. Only when that fails (or the shape is wrong) do we walk the rows in Python to find the
first bad cell and name it; a valid request never pays for the diagnosis.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from service.errors import ApiError, bad_request, invalid_value, quote
from service.predictor import Column

Matrix = npt.NDArray[np.float64]

_FLOAT_TYPES = frozenset({"double", "float"})
_INTEGER_TYPES = frozenset({"long", "integer"})
_BOOLEAN_TYPES = frozenset({"boolean"})
_KNOWN_TYPES = _FLOAT_TYPES | _INTEGER_TYPES | _BOOLEAN_TYPES
# How many names an error message lists before it says "and N more".
_NAMES_SHOWN = 5
# A column the request does not give (distinct from a column given as null).
_ABSENT = object()


class SchemaError(ValueError):
    """The model signature has a column type the numeric matrix cannot carry."""


@dataclass(frozen=True)
class InputSchema:
    """The model's input columns with everything the parsers look up per request precomputed."""

    columns: tuple[Column, ...]
    names: tuple[str, ...] = field(init=False)
    index: Mapping[str, int] = field(init=False)
    required: frozenset[str] = field(init=False)
    # Positions whose values must be whole numbers (long/integer/boolean columns).
    integral: tuple[int, ...] = field(init=False)
    # Positions that may hold NaN (optional columns).
    nullable: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        if not self.columns:
            raise SchemaError("the model signature has no input columns")
        for column in self.columns:
            if column.type not in _KNOWN_TYPES:
                raise SchemaError(
                    f"column {column.name!r} has type {column.type!r}; only numeric columns "
                    f"({', '.join(sorted(_KNOWN_TYPES))}) can be served"
                )
        names = tuple(column.name for column in self.columns)
        if len(set(names)) != len(names):
            raise SchemaError("the model signature names a column twice")
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "index", {name: i for i, name in enumerate(names)})
        object.__setattr__(self, "required", frozenset(c.name for c in self.columns if c.required))
        object.__setattr__(
            self,
            "integral",
            tuple(i for i, c in enumerate(self.columns) if c.type not in _FLOAT_TYPES),
        )
        object.__setattr__(
            self, "nullable", tuple(i for i, c in enumerate(self.columns) if not c.required)
        )

    @classmethod
    def from_columns(cls, columns: Sequence[Column]) -> InputSchema:
        return cls(tuple(columns))

    @property
    def width(self) -> int:
        return len(self.names)

    def missing(self, present: Container[str]) -> list[str]:
        """The required columns not in ``present``, in signature order."""
        return [name for name in self.names if name in self.required and name not in present]


def name_list(names: Sequence[str]) -> str:
    """``'a', 'b', 'c' and 4 more`` — bounded, so a message never grows with the request."""
    shown = ", ".join(quote(name) for name in names[:_NAMES_SHOWN])
    if len(names) > _NAMES_SHOWN:
        shown += f" and {len(names) - _NAMES_SHOWN} more"
    return shown


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def cell_problem(value: object) -> str | None:
    """Why one decoded value cannot become a float64, or None if it can."""
    if value is None or isinstance(value, bool | float):
        return None
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            return "the number is too large"
        return None
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return f"cannot convert {quote(value)} to a number"
        return None
    return f"expected a number, got {json_type(value)}"


def column_positions(
    given: object, schema: InputSchema, *, where: str
) -> tuple[list[str], list[int] | None]:
    """Map the request's column names onto model positions.

    Returns the names and, unless they already equal the model's order, the model position of
    each given column (``-1`` for a column the model does not use: ignored, as MLflow does).
    Missing required columns are an error naming them.
    """
    if isinstance(given, list) and tuple(given) == schema.names:
        return given, None
    if not isinstance(given, list) or not all(isinstance(name, str) for name in given):
        raise bad_request(f"{where} must be a list of column names (strings)")
    names: list[str] = given
    if len(set(names)) != len(names):
        seen: set[str] = set()
        twice = [n for n in names if n in seen or seen.add(n)]  # type: ignore[func-returns-value]
        raise bad_request(f"{where} names a column more than once: {name_list(twice)}")
    missing = schema.missing(set(names))
    if missing:
        raise missing_columns(missing, [n for n in names if n not in schema.index], schema)
    return names, [schema.index.get(name, -1) for name in names]


def missing_columns(
    missing: Sequence[str], unexpected: Sequence[str], schema: InputSchema
) -> ApiError:
    message = f"missing required column(s) {name_list(missing)}"
    if unexpected:
        message += f"; unexpected column(s) {name_list(unexpected)}"
    return invalid_value(
        f"{message} (the model expects {schema.width} columns; GET /v2/models/<name> lists them)"
    )


def rows_to_matrix(
    rows: object,
    schema: InputSchema,
    *,
    labels: Sequence[str],
    positions: list[int] | None,
    where: str,
) -> Matrix:
    """Turn a list of rows (each a list of ``len(labels)`` values) into the model matrix."""
    if not isinstance(rows, list):
        raise bad_request(f"{where} must be a list of rows")
    if not rows:
        raise invalid_value(f"empty batch: {where} has no rows")
    width = len(labels)
    try:
        array = np.array(rows, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        raise _diagnose_rows(rows, labels, where) from None
    if array.ndim != 2 or array.shape[1] != width:
        raise _diagnose_rows(rows, labels, where)
    if positions is not None:
        array = _reorder(array, positions, schema)
    return checked(array, schema)


def records_to_matrix(records: object, schema: InputSchema, *, where: str) -> Matrix:
    """Turn a list of ``{column: value}`` objects into the model matrix (extra keys ignored)."""
    if not isinstance(records, list):
        raise bad_request(f"{where} must be a list of objects")
    if not records:
        raise invalid_value(f"empty batch: {where} has no rows")
    names = schema.names
    optional = len(schema.required) != len(names)
    rows: list[list[Any]] = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise bad_request(f"{where}[{i}] must be an object, got {json_type(record)}")
        try:
            rows.append([record.get(n) if optional else record[n] for n in names])
        except KeyError:
            raise _record_lacks(records, i, schema, where) from None
    return rows_to_matrix(rows, schema, labels=names, positions=None, where=where)


def _record_lacks(records: list[Any], i: int, schema: InputSchema, where: str) -> ApiError:
    """The error for record ``i`` lacking required keys: which row lacks which column.

    pandas (and so MLflow) fills a key missing from one record with NaN; here a required column
    takes finite numbers only, so the row is refused, and the message says which row lacks which
    column (and which keys of that row the model does not know, since a typo shows up as both).
    """
    record = records[i]
    missing = schema.missing(record)
    unexpected = [k for k in record if k not in schema.index]
    others = [other for other in records if isinstance(other, dict)]
    if all(name not in other for other in others for name in missing):
        return missing_columns(missing, unexpected, schema)  # no row has them: a column is missing
    message = f"{where}[{i}] (row {i}) lacks required column(s) {name_list(missing)}"
    if unexpected:
        message += f"; it has unexpected key(s) {name_list(unexpected)}"
    return invalid_value(message + "; other rows have them")


def columns_to_matrix(columns: Mapping[str, object], schema: InputSchema, *, where: str) -> Matrix:
    """Turn ``{column: [values]}`` into the model matrix (unused columns ignored).

    A column given as one scalar instead of a list is broadcast to the length of the list
    columns, and when every column is a scalar the request is one row: that is what pandas
    makes of such a dict in MLflow, and what ``convert_input_example_to_serving_input``
    produces from a dict input example (``{"inputs": {column: value}}``).
    """
    missing = schema.missing(columns)
    if missing:
        raise missing_columns(missing, [k for k in columns if k not in schema.index], schema)
    length: int | None = None
    vectors: list[list[Any] | object] = []
    for name in schema.names:
        values = columns.get(name, _ABSENT)
        if values is not _ABSENT and not isinstance(values, list):
            if isinstance(values, dict):
                raise bad_request(
                    f"{where}[{name!r}] must be a list of values or one value, got an object"
                )
        elif isinstance(values, list):
            if length is None:
                length = len(values)
            elif len(values) != length:
                raise bad_request(
                    f"{where}: column {name!r} has {len(values)} values, "
                    f"earlier columns have {length}"
                )
        vectors.append(values)
    if length is None:  # only scalars (or nothing): one row
        length = 1 if any(values is not _ABSENT for values in vectors) else 0
    if not length:
        raise invalid_value(f"empty batch: {where} has no rows")
    matrix = np.full((length, schema.width), np.nan)
    for position, values in enumerate(vectors):
        if values is _ABSENT:
            continue
        if not isinstance(values, list):
            problem = cell_problem(values)
            if problem is not None:
                raise bad_request(f"column {schema.names[position]!r}: {problem}")
            matrix[:, position] = np.nan if values is None else float(values)  # type: ignore[arg-type]
            continue
        try:
            column = np.array(values, dtype=np.float64)
        except (ValueError, TypeError, OverflowError):
            column = None
        if column is None or column.ndim != 1:
            raise _diagnose_column(values, schema.names[position], where)
        matrix[:, position] = column
    return checked(matrix, schema)


def _all_finite(matrix: Matrix) -> bool:
    """True when no cell is NaN or infinite.

    The dot product with zeros is 0 exactly when every cell is finite (x * 0 is 0 for any finite
    x, so nothing can overflow) and NaN as soon as one is not. On small matrices it costs about
    half of ``np.isfinite(matrix).all()``, which allocates a boolean matrix first.
    """
    size = matrix.size
    if size > _ZEROS.size:
        return bool(np.isfinite(matrix).all())
    return bool(np.vdot(matrix, _ZEROS[:size]) == 0.0)


# Shared read-only zeros for _all_finite: covers batches up to this many cells.
_ZEROS = np.zeros(1 << 16)


def checked(matrix: Matrix, schema: InputSchema) -> Matrix:
    """Reject NaN in required columns, infinities anywhere, fractions in integer columns."""
    if not _all_finite(matrix):
        bad = ~np.isfinite(matrix)
        if schema.nullable:
            bad[:, list(schema.nullable)] &= ~np.isnan(matrix[:, list(schema.nullable)])
        if bad.any():
            row, position = (int(i) for i in np.argwhere(bad)[0])
            value = matrix[row, position]
            what = "null/NaN" if np.isnan(value) else "an infinite value"
            raise invalid_value(
                f"column {schema.names[position]!r} has {what} in row {row}; "
                "the column is required and takes finite numbers only"
            )
    for position in schema.integral:
        column = matrix[:, position]
        fractional = np.isfinite(column) & (column != np.floor(column))
        if fractional.any():
            row = int(np.argmax(fractional))
            raise invalid_value(
                f"column {schema.names[position]!r} takes whole numbers "
                f"({schema.columns[position].type}); row {row} has {column[row]!r}"
            )
    return np.ascontiguousarray(matrix)


def _reorder(array: Matrix, positions: list[int], schema: InputSchema) -> Matrix:
    out = np.full((array.shape[0], schema.width), np.nan)
    source = [j for j, p in enumerate(positions) if p >= 0]
    out[:, [positions[j] for j in source]] = array[:, source]
    return out


def _diagnose_rows(rows: list[Any], labels: Sequence[str], where: str) -> ApiError:
    width = len(labels)
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            return bad_request(
                f"{where}[{i}] must be a list of {width} values, got {json_type(row)}"
            )
        if len(row) != width:
            return bad_request(f"{where}[{i}] has {len(row)} values but there are {width} columns")
        for j, value in enumerate(row):
            problem = cell_problem(value)
            if problem is not None:
                return bad_request(f"row {i}, column {labels[j]!r}: {problem}")
    return bad_request(f"{where} is not a table of numbers")


def _diagnose_column(values: list[Any], name: str, where: str) -> ApiError:
    for i, value in enumerate(values):
        problem = cell_problem(value)
        if problem is not None:
            return bad_request(f"row {i}, column {name!r}: {problem}")
    return bad_request(f"{where}[{name!r}] must be a flat list of numbers")
