"""The ``gitops`` configuration: ``.gitops.toml``, or ``[tool.gitops]`` in pyproject.toml.

Both hold the same tables: ``[validate]`` / ``[bump]`` at the top of ``.gitops.toml`` are
``[tool.gitops.validate]`` / ``[tool.gitops.bump]`` in pyproject.toml. A repository keeps its
configuration in one of the two; both at once is an error, so that no setting is silently
ignored. Unknown tables and keys are errors that name the closest valid one, so a typo such as
``kubernetes-versoin`` cannot quietly fall back to a default.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.errors import UserError

CONFIG_FILE = ".gitops.toml"
PYPROJECT = "pyproject.toml"
# Every table the tools read. A command reading a new table adds it here.
SECTIONS = ("validate", "bump")


@dataclass(frozen=True)
class Section:
    """One table of the configuration and where it came from (for messages)."""

    values: Mapping[str, Any]
    where: str  # e.g. ".gitops.toml [validate]" or "pyproject.toml [tool.gitops.validate]"

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def error(self, key: str, problem: str) -> UserError:
        return UserError(f"{self.where} {key} {problem}")


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{path}: cannot read: {exc}") from exc


def _unknown(kind: str, name: str, valid: Iterable[str], where: str) -> UserError:
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"valid: {', '.join(sorted(valid))}"
    return UserError(f"{where}: unknown {kind} {name!r}", hint=hint)


def tables(repo_root: Path) -> tuple[dict[str, Any], str, str]:
    """The gitops tables, the file they came from, and the prefix of a table's name in it."""
    config = repo_root / CONFIG_FILE
    pyproject = repo_root / PYPROJECT
    from_pyproject: Any = {}
    if pyproject.is_file():
        from_pyproject = _read(pyproject).get("tool", {}).get("gitops", {})
        if not isinstance(from_pyproject, dict):
            raise UserError(f"{pyproject}: [tool.gitops] must be a table")
    if config.is_file():
        if from_pyproject:
            raise UserError(
                f"{repo_root}: gitops configuration in both {CONFIG_FILE} and "
                f"{PYPROJECT} [tool.gitops]",
                hint="keep one of the two",
            )
        return _read(config), CONFIG_FILE, ""
    return from_pyproject, PYPROJECT, "tool.gitops."


def load_section(repo_root: Path, name: str, keys: Iterable[str]) -> Section:
    """Table *name* (empty when absent); raises on unknown tables and on keys not in *keys*."""
    data, source, prefix = tables(repo_root)
    for section in data:
        if section not in SECTIONS:
            valid = [f"[{prefix}{s}]" for s in SECTIONS]
            raise _unknown("table", f"[{prefix}{section}]", valid, source)
    where = f"{source} [{prefix}{name}]"
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise UserError(f"{where} must be a table")
    known = tuple(keys)
    for key in table:
        if key not in known:
            raise _unknown("key", key, known, where)
    return Section(table, where)
