"""The package map of docs/CODE.md, held by reading every module's imports (ast, no imports run).

Each rule names the files that break it, so a failure says where to look:

- ``tools.commands`` is imported by ``tools/cli.py`` alone (commands are entry points);
- nothing under ``service/`` imports scikit-learn or skl2onnx, and only ``service/cli.py``
  reaches ``training`` (lazily, for ``model-api train``): the serving image holds only serving;
- one module moves an MLflow alias (:mod:`training.policy`);
- a private name (``_name``) is used only inside its own package (folder);
- a test imports from ``tests.`` only ``tests.support``, and never a conftest;
- the registered model's name is spelt out once, ``service.registry.MODEL_NAME``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import REPO_ROOT

PACKAGES = ("service", "training", "tools", "tests", "bench")
PROJECT = re.compile(r"^(service|training|tools|tests|bench)(\.|$)")
DOTTED_PRIVATE = re.compile(r"^(service|training|tools)(\.\w+)*\._[a-z]\w*$")

# tests/load/loadtest.py is the load generator cd.yml runs as a script, not a test module: its
# test imports the program it tests, as a test of tools/ imports tools.
TEST_IMPORTS_ALLOWED = ("tests.support", "tests.load.loadtest")


@dataclass(frozen=True)
class Import:
    """One imported name: ``module`` (absolute) and ``name`` (None for ``import module``)."""

    path: Path
    line: int
    module: str
    name: str | None
    local: str  # the name the import binds in the module

    def __str__(self) -> str:
        what = self.module if self.name is None else f"{self.module}.{self.name}"
        return f"{self.path}:{self.line} {what}"


def module_of(path: Path) -> str:
    parts = list(path.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> str:
    """The package (folder) a file belongs to, dotted."""
    return ".".join(path.parent.parts)


def sources() -> Iterator[tuple[Path, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            relative = path.relative_to(REPO_ROOT)
            yield relative, ast.parse(path.read_text(encoding="utf-8"), str(relative))


SOURCES = list(sources())


def absolute(path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module_of(path).split(".")
    if path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports(path: Path, tree: ast.Module) -> Iterator[Import]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                yield Import(path, node.lineno, alias.name, None, local)
        elif isinstance(node, ast.ImportFrom):
            module = absolute(path, node)
            for alias in node.names:
                yield Import(path, node.lineno, module, alias.name, alias.asname or alias.name)


IMPORTS = [found for path, tree in SOURCES for found in imports(path, tree)]


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def in_folder(path: Path, folder: str) -> bool:
    return path.is_relative_to(folder)


def test_only_the_cli_imports_command_modules() -> None:
    """Not even another command module: a flow two commands share lives in a library."""
    offenders = [
        str(found)
        for found in IMPORTS
        if found.path != Path("tools/cli.py")
        and (
            within(found.module, "tools.commands")
            or (found.module == "tools" and found.name == "commands")
        )
    ]
    assert offenders == []


def test_serving_imports_no_training_library() -> None:
    offenders = [
        str(found)
        for found in IMPORTS
        if in_folder(found.path, "service")
        and (
            within(found.module, "sklearn")
            or within(found.module, "skl2onnx")
            or (within(found.module, "training") and found.path != Path("service/cli.py"))
        )
    ]
    assert offenders == []


def moves_an_alias(node: ast.AST) -> bool:
    """An MLflow client call that sets or drops an alias, or the REST route that does."""
    if isinstance(node, ast.Attribute):
        return node.attr in {"set_registered_model_alias", "delete_registered_model_alias"}
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and "registered-models/alias" in node.value
    )


def test_one_module_moves_an_alias() -> None:
    movers = {
        str(path)
        for path, tree in SOURCES
        if not in_folder(path, "tests")
        for node in ast.walk(tree)
        if moves_an_alias(node)
    }
    assert movers == {"training/policy.py"}


def private_uses(path: Path, tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every private project name this file reaches."""
    bound: dict[str, str] = {}  # local name -> the project module or name it stands for
    for found in imports(path, tree):
        if not PROJECT.match(found.module):
            continue
        dotted = found.module if found.name is None else f"{found.module}.{found.name}"
        if private_part(dotted) is not None:
            yield found.line, dotted
        if found.name is None and found.local == found.module.split(".")[0]:
            bound[found.local] = found.local  # import a.b binds a
        else:
            bound[found.local] = dotted
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            chain = [node.attr]
            value = node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in bound:
                yield node.lineno, ".".join([bound[value.id], *reversed(chain)])
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and DOTTED_PRIVATE.match(node.value)
        ):
            yield node.lineno, node.value  # monkeypatch.setattr("pkg.module._name", ...)


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_part(dotted: str) -> int | None:
    """Index of the first private segment of a dotted name, or None."""
    parts = dotted.split(".")
    return next((i for i, part in enumerate(parts) if is_private(part)), None)


def owner_package(dotted: str) -> str:
    """The package a private name belongs to: the folder of the module that defines it."""
    parts = dotted.split(".")
    index = private_part(dotted)
    assert index is not None
    owner = ".".join(parts[:index])  # the module (or package) holding the private name
    folder = REPO_ROOT.joinpath(*owner.split("."))
    return owner if folder.is_dir() else owner.rpartition(".")[0]


def test_private_names_stay_in_their_package() -> None:
    offenders = [
        f"{path}:{line} {dotted}"
        for path, tree in SOURCES
        for line, dotted in private_uses(path, tree)
        if owner_package(dotted) != package_of(path)
    ]
    assert offenders == []


def test_tests_import_only_the_support_package() -> None:
    offenders = [
        str(found)
        for found in IMPORTS
        if in_folder(found.path, "tests")
        and (
            (
                within(found.module, "tests")
                and not any(
                    within(found.module, allowed) or within(f"{found.module}.{found.name}", allowed)
                    for allowed in TEST_IMPORTS_ALLOWED
                )
            )
            or found.module.split(".")[-1] == "conftest"
            or found.name == "conftest"
        )
    ]
    assert offenders == []


def names_the_model(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """A literal that stands for the registered model: a ``models:/`` URI or v2 path with the
    name, or the bare name given as a model name (the app, image and job names are others)."""
    if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
        return False
    if "models:/model-api" in node.value or "/models/model-api" in node.value:
        return not isinstance(parents.get(node), ast.Expr)  # docstrings may say it
    if node.value != "model-api":
        return False
    parent = parents.get(node)
    if isinstance(parent, ast.keyword):
        return parent.arg is not None and "model_name" in parent.arg
    if isinstance(parent, ast.Assign | ast.AnnAssign):
        targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
        return any(isinstance(t, ast.Name) and "MODEL" in t.id.upper() for t in targets)
    return False


def test_the_model_name_is_defined_once() -> None:
    offenders = []
    for path, tree in SOURCES:
        if in_folder(path, "tests") or path == Path("service/registry.py"):
            continue
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        offenders += [
            f"{path}:{node.lineno}" for node in ast.walk(tree) if names_the_model(node, parents)
        ]
    assert offenders == []


def test_the_rules_see_a_breach() -> None:
    """The scans read what they should: a made-up module breaking every rule is caught."""
    source = (
        "from tools.commands import validate\n"
        "import sklearn.linear_model\n"
        "from service import cli\n"
        "from . import conftest\n"
        "cli._parser()\n"
        "client.set_registered_model_alias('m', 'champion', '1')\n"
    )
    path = Path("service/routes/example.py")
    tree = ast.parse(source)
    found = list(imports(path, tree))
    assert [str(f) for f in found] == [
        "service/routes/example.py:1 tools.commands.validate",
        "service/routes/example.py:2 sklearn.linear_model",
        "service/routes/example.py:3 service.cli",
        "service/routes/example.py:4 service.routes.conftest",
    ]
    private = "service.cli." + "_parser"  # spelt apart: this file is scanned too
    assert list(private_uses(path, tree)) == [(5, private)]
    assert owner_package(private) == "service" != package_of(path)
    assert owner_package("service.routes." + "_x") == "service.routes"
    named = ast.parse(
        'URI = "models:/' + 'model-api@champion"\n'
        'request(model_name="model-' + 'api")\n'
        'SERVICE_NAME = "model-' + 'api"\n'
    )
    parents = {child: node for node in ast.walk(named) for child in ast.iter_child_nodes(node)}
    assert [n.lineno for n in ast.walk(named) if names_the_model(n, parents)] == [1, 2]
