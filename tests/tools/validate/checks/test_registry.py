"""Every check function is registered, so the engine runs it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from tools.validate import checks


def test_every_check_function_is_in_a_registry() -> None:
    registered = {*checks.OBJECT_CHECKS, *checks.SCOPE_CHECKS}
    found = []
    for info in pkgutil.iter_modules(checks.__path__):
        module = importlib.import_module(f"{checks.__name__}.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("check_") and function.__module__ == module.__name__:
                found.append(function)
                params = list(inspect.signature(function).parameters)
                assert params[1:] == ["context", "report"], f"{module.__name__}.{name}: {params}"
                assert function in registered, f"{module.__name__}.{name} is not registered"
    assert len(found) == len(registered) >= 10
