"""The faster regopy calls give exactly what the public regopy API gives."""

from __future__ import annotations

from typing import Any

import pytest
import regopy

from tools.validate.fast.regofast import fast_query, fast_setter

MODULE = """
package probe

import rego.v1

echo := input

size := count(input)

broken := x if {
	x := 1 / input.zero
}
"""

OBJECTS: list[Any] = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}},
    {"s": "ünïcödé ✓", "i": -7, "big": 2**62, "f": 1.5, "t": True, "n": None, "e": [], "o": {}},
    {"nested": [[1, [2, {"x": [False]}]], {"y": {"z": "deep"}}], "1": "numeric key"},
    ["top", "level", 3],
    "just a string",
    0,
    {"set": {"b", "a"}, "frozen": frozenset({1})},
]


@pytest.fixture(scope="module")
def bundle() -> Any:
    builder = regopy.Interpreter()
    builder.add_module("probe.rego", MODULE)
    return builder.build(None, ["probe/echo", "probe/size", "probe/broken"])


def public(bundle: Any, obj: Any, entrypoint: str) -> tuple[bool, Any]:
    interpreter = regopy.Interpreter()
    interpreter.set_input(obj)
    output = interpreter.query_bundle_entrypoint(bundle, entrypoint)
    if not output.ok():
        return False, None
    expressions = output.results[0].expressions if output.results else []
    return True, expressions[0] if expressions else None


def fast(bundle: Any, obj: Any, entrypoint: str) -> tuple[bool, Any]:
    setter, query = fast_setter(), fast_query()
    assert setter is not None and query is not None, "regopy's C API moved"
    interpreter = regopy.Interpreter()
    setter(interpreter, obj)
    return query(interpreter, bundle, entrypoint.encode())


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: type(o).__name__)
@pytest.mark.parametrize("entrypoint", ["probe/echo", "probe/size"])
def test_same_input_and_output_as_regopy(bundle: Any, obj: Any, entrypoint: str) -> None:
    assert fast(bundle, obj, entrypoint) == public(bundle, obj, entrypoint)


def test_echo_round_trips_the_object(bundle: Any) -> None:
    ok, value = fast(bundle, OBJECTS[1], "probe/echo")
    assert ok and value == OBJECTS[1]


def test_undefined_and_errors_match(bundle: Any) -> None:
    for obj in ({"zero": 0}, {"zero": "text"}, {}):
        assert fast(bundle, obj, "probe/broken") == public(bundle, obj, "probe/broken")


def test_integer_beyond_64_bits_is_passed_like_regopy_does(bundle: Any) -> None:
    # ctypes wraps it to 64 bits in both paths; what matters is that both agree.
    obj = {"n": 2**70}
    assert fast(bundle, obj, "probe/echo") == public(bundle, obj, "probe/echo")


def test_unknown_types_are_rejected() -> None:
    setter = fast_setter()
    assert setter is not None
    with pytest.raises(ValueError, match="complex"):
        setter(regopy.Interpreter(), {"c": 1j})
