"""``gitops diff``: what a change does to the rendered manifests.

Each affected kustomization is rendered twice with real kustomize, at ``--base`` and in the working
tree, and compared object by object (:mod:`tools.release.renderdiff`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tools.release.renderdiff import format_markdown, format_text, run_diff


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "diff",
        help="diff the rendered manifests of a base revision and the working tree",
        description="Render each affected kustomization at --base and in the working tree with "
        "real kustomize and show which objects change and how.",
    )
    p.add_argument(
        "paths", nargs="*", metavar="PATH", help="kustomization directories (default: all roots)"
    )
    p.add_argument("--base", default="HEAD", help="revision to compare against (default: HEAD)")
    p.add_argument(
        "--output",
        choices=("text", "markdown"),
        default="text",
        help="text (default) or markdown for a pull request comment",
    )
    p.add_argument(
        "--exit-code",
        action="store_true",
        help="exit 1 when rendered objects differ (like git diff)",
    )
    p.add_argument("--repo-dir", type=Path, default=Path("."), help="repository (default: .)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    base_sha, diffs = run_diff(args.repo_dir, args.base, args.paths)
    if args.output == "markdown":
        sys.stdout.write(format_markdown(diffs, base=f"{args.base} ({base_sha[:12]})") + "\n")
    else:
        sys.stdout.write(format_text(diffs))
    differs = any(d.objects for d in diffs)
    return 1 if args.exit_code and differs else 0
