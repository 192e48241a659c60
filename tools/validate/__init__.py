"""``gitops validate``: render, parse strictly, check schemas, policies, references, alert rules.

Public API::

    from tools.validate import ValidateOptions, load_options, validate_paths
    report = validate_paths([Path("overlays/staging")], load_options(repo_root))
    report.errors, report.warnings, report.summary
"""

from tools.validate.engine import resources_of, validate_paths
from tools.validate.model import Finding, Report, Resource, ResourceRef, Summary
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
