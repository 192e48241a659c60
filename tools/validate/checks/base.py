"""What every check is handed: the run's context and a way to report a finding."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tools.validate.findings import Resource, Severity

if TYPE_CHECKING:  # options imports the policy check: a runtime import here would be circular
    from tools.validate.checks.schemas import SchemaStore
    from tools.validate.checks.scope import Scope
    from tools.validate.options import ValidateOptions


class Report(Protocol):
    """Adds a finding on *resource*; *parts* is the path of the offending field inside it
    (``("spec", "replicas")``), from which the engine finds the file and line to show."""

    def __call__(
        self,
        resource: Resource,
        severity: Severity,
        rule: str,
        message: str,
        parts: Sequence[str | int] = (),
        hint: str | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class Context:
    """What a check may read besides the objects: the run's options and shared lookups."""

    options: ValidateOptions
    schemas: SchemaStore  # built-in and CRD schemas, including CRDs found in this run
    renders: Callable[[Path], str | None]  # kustomization dir -> why it does not render, or None
    is_this_repo: Callable[[str], bool]  # whether a git URL names this repository
    # Every object of the run (all scopes), for the facts a scope check may need from another
    # render: the Pod Security labels of a Namespace, an Argo CD Application's destination.
    resources: Sequence[Resource] = ()

    @cached_property
    def run_scope(self) -> Scope:
        """:attr:`resources` indexed like a scope (built on first use)."""
        from tools.validate.checks.scope import Scope

        return Scope(list(self.resources))

    @property
    def repo_root(self) -> Path:
        return self.options.repo_root
