"""``gitops policy test``: run the ``*_test.rego`` unit tests, like ``opa test``.

With regorus (the default engine when installed) every test module is loaded next to the
policies and each ``test_*`` rule is evaluated as it is: it passes when it is true, as in
``opa test``.

With regopy: rego-cpp (the engine behind regopy) fails on ``with input as`` as soon as the
rule under test calls a built-in, so the runner evaluates a test the other way round: it removes the
``with input as <name>`` clauses from the test module, sets ``<name>``'s value as the
interpreter's input and then queries the test rule. This is equivalent for tests that use one
input per test rule and name it (``count(deny_x) == 1 with input as bad_pod``), which is the
convention of this repository; any other ``with`` is reported as unsupported instead of being
run wrongly. The same files run unchanged under ``opa test`` and ``conftest verify``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.errors import UserError
from tools.validate.checks.policies import (
    Module,
    PolicySet,
    new_interpreter,
    rego_error,
    regorus_engine,
    regorus_error,
    resolve_engine,
)

TEST_HEAD = re.compile(r"^(test_[A-Za-z0-9_]+)\b", re.MULTILINE)
WITH_INPUT = re.compile(r"[ \t]+with[ \t]+input[ \t]+as[ \t]+([A-Za-z_][A-Za-z0-9_.]*)")
OTHER_WITH = re.compile(r"\bwith\s+(?!input\s+as\b)\S+")


@dataclass
class TestResult:
    module: Path
    name: str
    passed: bool
    message: str = ""


@dataclass
class TestRun:
    results: list[TestResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.passed for r in self.results)


def _strip_comments(source: str) -> str:
    # Comments may mention "with input as"; blank them out but keep offsets and lines.
    return re.sub(r"#[^\n]*", lambda m: " " * len(m.group(0)), source)


def _plan(module: Module) -> tuple[str, dict[str, set[str]], dict[str, str]]:
    """(rewritten source, test -> input names, test -> unsupported reason)."""
    code = _strip_comments(module.source)
    heads = [(m.start(), m.group(1)) for m in TEST_HEAD.finditer(code)]
    inputs: dict[str, set[str]] = {name: set() for _, name in heads}
    unsupported: dict[str, str] = {}

    def owner(offset: int) -> str | None:
        current = None
        for start, name in heads:
            if start > offset:
                break
            current = name
        return current

    for match in WITH_INPUT.finditer(code):
        test = owner(match.start())
        if test is not None:
            inputs[test].add(match.group(1))
    for match in OTHER_WITH.finditer(code):
        test = owner(match.start())
        if test is not None:
            unsupported[test] = f"`{match.group(0)}` is not supported by the regopy runner"
    for test, names in inputs.items():
        if len(names) > 1:
            unsupported[test] = "uses more than one `with input as` value"
    rewritten = list(module.source)
    for match in reversed(list(WITH_INPUT.finditer(code))):
        rewritten[match.start() : match.end()] = []
    return "".join(rewritten), inputs, unsupported


def _selected(
    policies: PolicySet, only: set[Path] | None, run: TestRun
) -> Iterator[tuple[Module, str]]:
    """The test modules to run (all, or those in *only*) with their package; a module without
    a package declaration is a problem of *run*."""
    for test_module in policies.tests:
        if only is not None and test_module.path not in only:
            continue
        if test_module.package is None:
            run.problems.append(f"{test_module.path}: no package declaration")
            continue
        yield test_module, test_module.package


def run_tests(policies: PolicySet, only: set[Path] | None = None, engine: str = "auto") -> TestRun:
    """Run every test module (or those in *only*) against the policies."""
    if resolve_engine(engine) == "regorus":
        return _run_regorus(policies, only)
    if policies.rego_version != "v1":
        raise UserError(
            "the regopy test runner reads Rego v1 only",
            hint="use --engine regorus for --rego-version v0 policies",
        )
    run = TestRun()
    for test_module, package in _selected(policies, only, run):
        source, inputs, unsupported = _plan(test_module)
        modules = [*policies.modules, Module(test_module.path, source)]
        try:
            interpreter = new_interpreter(modules, policies.data)
        except UserError as exc:
            run.problems.append(exc.message)
            continue
        probe = interpreter.query("x := 1")  # modules compile on the first query
        if not probe.ok():
            run.problems.append(
                f"{test_module.path}: the policies or this test module do not compile "
                "(rego-cpp printed the error above)"
            )
            continue
        runner = _Runner(interpreter, package, unsupported, inputs)
        for name in inputs:
            if name in unsupported:
                run.results.append(TestResult(test_module.path, name, False, unsupported[name]))
                continue
            run.results.append(runner.run(test_module, name, inputs[name]))
    return run


class _Runner:
    """Evaluates the tests of one module: from a compiled bundle when possible.

    A bundle (compiled once, then one query per test) is much faster than a query per test,
    but rego-cpp aborts the whole process when it compiles ``with`` into a bundle, so modules
    that still contain an (unsupported) ``with`` use plain queries.
    """

    def __init__(
        self,
        interpreter: Any,
        package: str,
        unsupported: dict[str, str],
        inputs: dict[str, set[str]],
    ):
        import regopy

        self.interpreter = interpreter
        self.package = package
        self.bundle: Any = None
        self.runner: Any = None
        if unsupported:
            return
        fixtures = {n for names in inputs.values() for n in names if "." not in n}
        prefix = package.replace(".", "/")
        entrypoints = [f"{prefix}/{name}" for name in [*inputs, *sorted(fixtures)]]
        try:
            self.bundle = interpreter.build(None, entrypoints)
        except regopy.RegoError:
            return
        self.runner = regopy.Interpreter()

    def _query(self, name: str) -> tuple[bool, Any]:
        """(defined, value) of ``data.<package>.<name>``."""
        if self.bundle is not None and "." not in name:
            output = self.runner.query_bundle_entrypoint(
                self.bundle, f"{self.package.replace('.', '/')}/{name}"
            )
            if not output.ok():
                raise RuntimeError("evaluation error")
            if not output.results or not output.results[0].expressions:
                return False, None
            return True, output.results[0].expressions[0]
        ref = name if name.startswith("data.") else f"data.{self.package}.{name}"
        output = self.interpreter.query(f"x := {ref}")
        if not output.ok():
            raise RuntimeError("evaluation error")
        if not output.results:
            return False, None
        return True, output.results[0].bindings.get("x")

    def _set_input(self, value: Any) -> None:
        (self.runner if self.bundle is not None else self.interpreter).set_input(value)

    def run(self, module: Module, name: str, inputs: set[str]) -> TestResult:
        import regopy

        try:
            self._set_input({})
            if inputs:
                (input_name,) = inputs
                defined, value = self._query(input_name)
                if not defined:
                    return TestResult(
                        module.path, name, False, f"test input {input_name} is undefined"
                    )
                self._set_input(value)
            defined, value = self._query(name)
        except RuntimeError as exc:
            return TestResult(module.path, name, False, str(exc))
        except regopy.RegoError as exc:
            return TestResult(module.path, name, False, rego_error(exc, [module]))
        passed = defined and value is True
        return TestResult(module.path, name, passed, "" if passed else "test rule is not true")


def _run_regorus(policies: PolicySet, only: set[Path] | None) -> TestRun:
    run = TestRun()
    try:
        base = regorus_engine(policies.modules, policies.data, policies.rego_version)
    except UserError as exc:
        run.problems.append(f"{exc.message} (hint: {exc.hint})" if exc.hint else exc.message)
        return run
    for test_module, package in _selected(policies, only, run):
        engine = base.clone()
        try:
            engine.add_policy(str(test_module.path), test_module.source)
        except Exception as exc:
            run.problems.append(f"test module does not compile: {regorus_error(exc)}")
            continue
        engine.set_input_json("{}")
        names = dict.fromkeys(
            m.group(1) for m in TEST_HEAD.finditer(_strip_comments(test_module.source))
        )
        for name in names:
            try:
                value = engine.eval_rule_as_json(f"data.{package}.{name}")
            except Exception as exc:
                run.results.append(TestResult(test_module.path, name, False, regorus_error(exc)))
                continue
            passed = value.strip() == "true"
            message = "" if passed else "test rule is not true"
            run.results.append(TestResult(test_module.path, name, passed, message))
    return run
