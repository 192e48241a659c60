"""The two regopy calls made per object, with less Python around them.

Setting the input: ``regopy.Interpreter.set_input`` walks the object in Python and makes
one ctypes call per value through a wrapper that copies every string into a fresh buffer and
compares the return code with an ``IntEnum``. :func:`fast_setter` makes the same calls into the
same C API (``regoInputString``, ``regoInputObject``, ...) with exact-type checks first and the
return codes folded into one check at the end.

Querying: ``regopy.Output`` fetches the result JSON twice and wraps it in result objects;
:func:`fast_query` fetches it once and returns the first expression.

Both use regopy's low-level module (``regopy.rego_shared``); if that ever changes shape, they
return None and callers use the public API.
"""

from __future__ import annotations

import ctypes
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

InputSetter = Callable[[Any, Any], None]


def fast_setter() -> InputSetter | None:
    """``setter(interpreter, obj)``, or None when regopy's C API is not where we expect it."""
    try:
        from regopy import rego_shared

        lib = rego_shared.rego
        new_input = rego_shared.rego_new_input
        free_input = rego_shared.rego_free_input
        set_input = rego_shared.rego_set_input
        error = rego_shared.RegoError
        string, integer, number = lib.regoInputString, lib.regoInputInt, lib.regoInputFloat
        boolean, null = lib.regoInputBoolean, lib.regoInputNull
        item, mapping, array = lib.regoInputObjectItem, lib.regoInputObject, lib.regoInputArray
        members = lib.regoInputSet
    except (ImportError, AttributeError):
        return None

    def setter(interpreter: Any, obj: Any) -> None:
        handle = new_input()
        failed = 0

        def add(value: Any) -> None:
            nonlocal failed
            kind = type(value)
            if kind is str:
                failed |= string(handle, value.encode("utf-8"))
            elif kind is dict:
                for key, child in value.items():
                    add(key)
                    add(child)
                    failed |= item(handle)
                failed |= mapping(handle, len(value))
            elif kind is list:
                for child in value:
                    add(child)
                failed |= array(handle, len(value))
            elif kind is bool:
                failed |= boolean(handle, value)
            elif kind is int:
                failed |= integer(handle, value)
            elif kind is float:
                failed |= number(handle, value)
            elif value is None:
                failed |= null(handle)
            elif isinstance(value, (set, frozenset)):
                for child in value:
                    add(child)
                failed |= members(handle, len(value))
            else:
                add(_plain(value))

        try:
            add(obj)
            if failed:
                raise error("Unable to create input", failed)
            set_input(interpreter._impl, handle)
        except ctypes.ArgumentError as exc:  # a value ctypes cannot convert
            raise ValueError(f"cannot pass the object to rego: {exc}") from exc
        finally:
            free_input(handle)

    return setter


def _plain(value: Any) -> Any:
    """Subclasses of the JSON types as the plain types (what regopy accepts, in its order)."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence):
        return list(value)
    raise ValueError(f"cannot convert object of type {type(value).__name__} to rego input")


# (interpreter, bundle, entrypoint) -> (ok, first expression of the first result or None)
QueryRunner = Callable[[Any, Any, bytes], tuple[bool, Any]]


def fast_query() -> QueryRunner | None:
    """``query(interpreter, bundle, entrypoint)``, or None when the C API is not as expected."""
    try:
        from regopy import rego_shared

        lib = rego_shared.rego
        query = lib.regoBundleQueryEntrypoint
        output_ok, size_of, text_of = lib.regoOutputOk, lib.regoOutputJSONSize, lib.regoOutputJSON
        free_output = rego_shared.rego_free_output
        last_error = rego_shared.rego_get_error
        error = rego_shared.RegoError
    except (ImportError, AttributeError):
        return None

    def run(interpreter: Any, bundle: Any, entrypoint: bytes) -> tuple[bool, Any]:
        output = query(interpreter._impl, bundle._impl, entrypoint)
        if not output:
            raise error(last_error(interpreter._impl))
        try:
            if not output_ok(output):
                return False, None
            size = size_of(output)
            buffer = ctypes.create_string_buffer(size)
            if text_of(output, buffer, size) != 0:
                raise error(last_error(interpreter._impl))
            text = buffer.value
        finally:
            free_output(output)
        if text == b"undefined":
            return True, None
        value = json.loads(text)
        first = value[0] if isinstance(value, list) and value else value
        expressions = first.get("expressions") if isinstance(first, dict) else None
        return True, expressions[0] if expressions else None

    return run
