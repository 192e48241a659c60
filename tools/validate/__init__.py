"""``gitops validate``: render, parse strictly, check schemas, policies, references, alert rules.

Layout: ``engine`` runs one pass (``sources`` picks the inputs, ``loader`` parses them,
``origins`` maps findings back to source lines, ``reporters`` formats the report);
``findings`` holds the data (objects in, findings out); ``checks/`` decides the findings
(schemas, crds, references, policies, promtool; its docstring says how to add one);
``fast/`` only makes the run faster (worker processes, the policy-result cache, regofast).
``policytest`` and ``samples`` serve ``gitops policy test``.

Public API::

    from tools.validate import ValidateOptions, load_options, validate_paths
    report = validate_paths([Path("overlays/staging")], load_options(repo_root))
    report.errors, report.warnings, report.summary
"""

from tools.validate.engine import resources_of, validate_paths
from tools.validate.findings import Finding, Report, Resource, ResourceRef, Summary
from tools.validate.options import ValidateOptions, load_options

__all__ = [
    "Finding",
    "Report",
    "Resource",
    "ResourceRef",
    "Summary",
    "ValidateOptions",
    "load_options",
    "resources_of",
    "validate_paths",
]
