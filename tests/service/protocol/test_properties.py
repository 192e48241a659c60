"""Property tests: whatever JSON arrives, the parsers either return a valid matrix or raise
ApiError with a 4xx status and a bounded message — never another exception."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.errors import ApiError
from service.predictor import Column
from service.protocol import mlflow, oip
from service.protocol.schema import InputSchema
from tests.support.fakes import FEATURES

NAMES = list(FEATURES[:3])
SCHEMA = InputSchema.from_columns([Column(n) for n in NAMES])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(["1.5", "nan", "inf", "-1e308", ""]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(NAMES), st.text(max_size=6)), children, max_size=4
        ),
    ),
    max_leaves=20,
)
keys = st.sampled_from([*mlflow.INPUT_KEYS, "params", "input", "data", "columns"])
numbers = st.one_of(
    st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6), st.sampled_from([None, "2"])
)
records = st.lists(st.fixed_dictionaries({n: numbers for n in NAMES}), min_size=0, max_size=3)
# Mostly-valid documents too, so the success path is exercised, not only the refusals.
near_valid = st.one_of(
    st.builds(lambda rows: {"dataframe_records": rows}, records),
    st.builds(
        lambda rows, extra: {"dataframe_split": {"columns": NAMES, "data": rows}, **extra},
        st.lists(st.lists(numbers, min_size=2, max_size=4), max_size=3),
        st.dictionaries(keys, json_values, max_size=1),
    ),
)
mlflow_documents = st.one_of(
    json_values, st.dictionaries(keys, json_values, max_size=3), near_valid
)
tensor = st.fixed_dictionaries(
    {
        "name": st.one_of(st.sampled_from([*NAMES, "input-0"]), json_values),
        "shape": st.one_of(st.lists(st.integers(-1, 4), max_size=3), json_values),
        "datatype": st.sampled_from(["FP64", "FP32", "INT64", "BYTES", "BOOL", "x"]),
        "data": json_values,
    }
)
oip_documents = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"inputs": st.one_of(st.lists(tensor, max_size=4), json_values)},
        optional={"id": json_values, "outputs": json_values, "parameters": json_values},
    ),
)


OUTCOMES: set[str] = set()


def check(parse: Any, document: Any) -> None:
    try:
        result = parse(orjson.dumps(document), SCHEMA)
    except ApiError as error:
        assert 400 <= error.status < 500
        assert len(error.message) < 600
        OUTCOMES.add(f"{parse.__name__}:refused")
        return
    OUTCOMES.add(f"{parse.__name__}:accepted")
    matrix = getattr(result, "matrix", result)
    assert matrix.dtype == np.float64 and matrix.shape[1] == len(NAMES) and len(matrix) > 0
    assert np.isfinite(matrix).all()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mlflow_documents)
def test_mlflow_json_never_fails_unexpectedly(document: Any) -> None:
    check(mlflow.parse_json, document)


def test_both_outcomes_were_generated() -> None:
    test_mlflow_json_never_fails_unexpectedly()
    assert {"parse_json:accepted", "parse_json:refused"} <= OUTCOMES


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(oip_documents)
def test_oip_never_fails_unexpectedly(document: Any) -> None:
    check(oip.parse_infer, document)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_csv_never_fails_unexpectedly(text: str) -> None:
    try:
        mlflow.parse_csv(text.encode(), SCHEMA)
    except ApiError as error:
        assert error.status == 400
