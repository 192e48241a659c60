"""How to ship a change (shared by bump and promote), and the command-line flags that set it."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Options:
    """How to ship a change: where, against which base, as a PR or a push, or only planned."""

    repo_dir: Path
    remote: str = "origin"
    base: str | None = None
    pr: bool = True
    dry_run: bool = False
    labels: tuple[str, ...] | None = None
    github_api: str | None = None
    github_repo: str | None = None
    gitlab_api: str | None = None  # set: merge requests on GitLab instead of GitHub PRs
    gitlab_project: str | None = None
    validate: bool = True


def add_shipping_arguments(p: argparse.ArgumentParser) -> None:
    """The flags ``bump`` and ``promote`` share; :func:`options_from` reads them back."""
    p.add_argument(
        "--pr",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="open a pull request (default) or, with --no-pr, push to the base branch",
    )
    p.add_argument("--dry-run", action="store_true", help="print the diff and the plan only")
    p.add_argument("--base", help="base branch (default: the remote's default branch)")
    p.add_argument("--remote", default="origin", help="git remote (default: origin)")
    p.add_argument("--repo-dir", type=Path, default=Path("."), help="repository (default: .)")
    p.add_argument(
        "--label", action="append", dest="labels", metavar="LABEL", help="PR label (repeatable)"
    )
    p.add_argument(
        "--github-api", help="GitHub API base URL (default: $GITHUB_API_URL or api.github.com)"
    )
    p.add_argument(
        "--github-repo", metavar="OWNER/REPO", help="default: parsed from the remote URL"
    )
    p.add_argument(
        "--gitlab-api",
        metavar="URL",
        help="open a GitLab merge request through this REST API v4 URL instead of a GitHub "
        "pull request (in GitLab CI: $CI_API_V4_URL; token from $GITLAB_TOKEN)",
    )
    p.add_argument(
        "--gitlab-project",
        metavar="GROUP/PROJECT",
        help="GitLab project path (default: parsed from the remote URL)",
    )


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        repo_dir=args.repo_dir,
        remote=args.remote,
        base=args.base,
        pr=args.pr,
        dry_run=args.dry_run,
        labels=tuple(args.labels) if args.labels else None,
        github_api=args.github_api,
        github_repo=args.github_repo,
        gitlab_api=args.gitlab_api,
        gitlab_project=args.gitlab_project,
    )
