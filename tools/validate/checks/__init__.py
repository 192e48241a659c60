"""The checks of ``gitops validate``: everything that decides whether an object is a finding.

What runs lives here; how to run it fast lives in :mod:`tools.validate.fast` (worker processes,
the policy-result cache, the regopy fast path), which never decides a finding itself.

Adding a check
--------------
Write a function in a module of this package and append it to one of the two lists below;
the engine (:mod:`tools.validate.engine`) calls every entry, in order, and nothing else needs
to change:

* ``OBJECT_CHECKS``: ``check(resource, context, report)``, called once per object, for checks
  that need nothing but the object (and the schemas and options in the :class:`Context`);
* ``SCOPE_CHECKS``: ``check(scope, context, report)``, called once per *scope* (everything one
  kustomization renders, or all plain manifest files of the run together), for checks that look
  across objects: names that must exist, a Namespace's labels that apply to its pods. The
  :class:`Scope` indexes the objects by kind, name, namespace and labels.

A check reports with ``report(resource, severity, rule, message, path, hint=None)``: ``path``
is the offending field inside the object (``("spec", "replicas")``); the engine turns it into
the file and line to show, a JSONPath, and drops repeats. Name the rule like the others
(``ref-*``, ``schema``, ...), add a broken sample under ``tests/data/validate`` and list the
rule in docs/VALIDATE.md.

Two stages are not in the lists because they batch their work: the Rego policies
(:mod:`.policies`, evaluated over worker processes and cached) and the alert rules
(:mod:`.promtool`, one promtool run for every PrometheusRule, in the background).
"""

from __future__ import annotations

from collections.abc import Callable

from tools.validate.checks import apiserver, availability, podsecurity, references, schemas
from tools.validate.checks.base import Context, Report
from tools.validate.checks.scope import Scope
from tools.validate.findings import Resource

ObjectCheck = Callable[[Resource, Context, Report], None]
ScopeCheck = Callable[[Scope, Context, Report], None]

OBJECT_CHECKS: tuple[ObjectCheck, ...] = (schemas.check_object, apiserver.check_object)

SCOPE_CHECKS: tuple[ScopeCheck, ...] = (
    references.check_duplicates,
    references.check_services,
    references.check_rollouts,
    references.check_analysis_templates,
    references.check_scaling,
    references.check_pods,
    references.check_monitors,
    references.check_ingresses,
    references.check_applications,
    podsecurity.check_scope,
    availability.check_disruption_budgets,
    availability.check_role_bindings,
    availability.check_service_account_tokens,
)

__all__ = [
    "OBJECT_CHECKS",
    "SCOPE_CHECKS",
    "Context",
    "ObjectCheck",
    "Report",
    "Scope",
    "ScopeCheck",
]
