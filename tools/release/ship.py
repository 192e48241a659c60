"""Ship one image-reference change to an environment: the flow behind ``bump`` and ``promote``.

The edit, the render and the validation happen in a temporary worktree of the remote base branch,
never in the user's checkout, so every failure simply drops that worktree and nothing is left
behind. The result is a dry-run plan, a commit pushed to the base branch (retried when the branch
moves, never forced) or a pull request (idempotent: an open one is reported, not duplicated).
"""

from __future__ import annotations

import contextlib
import difflib
import os
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools import kustomize
from tools.errors import EXIT_FINDINGS, UserError
from tools.files import write_atomic
from tools.release import gitlab
from tools.release.config import MAX_PUSH_BACKOFF, BumpConfig, load_config
from tools.release.git import Git, GitError, PushStatus, temporary_worktree
from tools.release.github import (
    GitHubClient,
    GitHubError,
    PullRequest,
    PullRequestExists,
    RepoSlug,
    api_url_from,
    parse_remote_url,
    parse_slug,
    token_from_env,
)
from tools.release.gitlab import GitLabClient
from tools.release.images import ImageRef
from tools.release.kustomization import find_image, read_images, read_text, set_image
from tools.release.options import Options
from tools.release.renderdiff import (
    KustomizationDiff,
    ObjectDiff,
    diff_renders,
    format_markdown,
)

_ENV_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_RANDOM = random.SystemRandom()  # jitter differs between processes started together

Forge = GitHubClient | GitLabClient  # the pull/merge request API a change is shipped through


# --------------------------------------------------------------------------- the change


def overlay_dir(env: str) -> str:
    if not _ENV_RE.match(env):
        raise UserError(f"environment {env!r} is not a valid name", hint="e.g. staging, production")
    return f"overlays/{env}"


def overlay_file(env: str) -> str:
    return f"{overlay_dir(env)}/kustomization.yaml"


@dataclass(frozen=True)
class Change:
    """One image reference to set in one environment, and how to describe it."""

    env: str
    ref: ImageRef
    verb: str = "bump"  # "bump" | "promote"
    note: str = ""  # extra paragraph for the commit and PR bodies (promote: the source commit)
    trailers: tuple[str, ...] = ()  # commit message trailers, e.g. "Source-Commit: <sha>"
    title_suffix: str = ""

    @property
    def branch(self) -> str:
        label = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.ref.short).strip(".-")
        label = re.sub(r"\.{2,}", ".", label).removesuffix(".lock")
        basename = self.ref.name.rsplit("/", 1)[-1]
        return f"gitops/{self.verb}/{self.env}/{basename}-{label}"

    @property
    def title(self) -> str:
        what = f"{self.verb} {self.ref.name} to {self.ref.brief}"
        return f"chore({self.env}): {what}{self.title_suffix}"

    def message(self, old: ImageRef | None) -> str:
        lines = [
            self.title,
            "",
            f"{overlay_file(self.env)}:",
            f"  {old if old else '(not set)'}",
            f"  → {self.ref}",
        ]
        if self.note:
            lines += ["", self.note]
        if self.trailers:
            lines += ["", *self.trailers]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Context:
    repo: Git
    top: Path
    remote: str
    base: str
    start: str  # commit the change is made on top of
    config: BumpConfig


def open_context(opts: Options) -> Context:
    """Find the repository, the base branch and the commit to start from (fetching it)."""
    repo = Git(opts.repo_dir.resolve())
    top = repo.toplevel()
    repo = Git(top)
    config = load_config(top)
    base = opts.base
    has_remote = (
        repo.run("config", "--get", f"remote.{opts.remote}.url", check=False).returncode == 0
    )
    if opts.dry_run:
        # Touch nothing, not even remote-tracking refs: plan against what we already know.
        base = base or repo.tracked_default_branch(opts.remote) or repo.current_branch() or "main"
        tracking = f"refs/remotes/{opts.remote}/{base}"
        if has_remote and repo.has_ref(tracking):
            return Context(repo, top, opts.remote, base, repo.rev_parse(tracking), config)
        return Context(repo, top, opts.remote, base, repo.rev_parse(f"refs/heads/{base}"), config)
    if not has_remote:
        raise UserError(f"no git remote named {opts.remote!r}", hint="pass --remote NAME")
    base = base or repo.remote_default_branch(opts.remote) or repo.current_branch()
    if base is None:
        raise UserError("cannot tell the base branch", hint="pass --base BRANCH")
    start = repo.fetch(opts.remote, base)
    return Context(repo, top, opts.remote, base, start, config)


def check_policy(change: Change, config: BumpConfig) -> None:
    if config.requires_digest(change.env) and not change.ref.digest:
        raise UserError(
            f"{change.env} accepts only images pinned by digest; {change.ref} has no digest",
            hint="pass --digest sha256:... (or set require-digest in [tool.gitops.bump])",
            exit_code=EXIT_FINDINGS,
        )


def validate_overlay(ctx: Context, tree: Path, env: str) -> None:
    """Run the ``gitops validate`` engine on the changed overlay only; refuse on errors."""
    from tools.validate import load_options, validate_paths  # the engine of `gitops validate`

    # The worktree is the repository being validated (its config and policies are those of
    # the base commit), but CRD folders configured relative to the checkout (../shared/crds)
    # only resolve from the user's checkout, so those are handed over. promtool rule tests are
    # not about this change and stay out of it.
    from_checkout = load_options(ctx.top)
    options = load_options(tree, run_rule_tests=False, crd_dirs=from_checkout.crd_dirs)
    report = validate_paths([tree / overlay_dir(env)], options)
    errors = list(report.errors)
    if errors:
        shown = "\n  ".join(_finding(e, tree) for e in errors[:10])
        more = f"\n  … and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise UserError(
            f"the change makes {overlay_dir(env)} invalid, nothing was committed:\n  {shown}{more}",
            exit_code=EXIT_FINDINGS,
        )


def _finding(finding: Any, tree: Path) -> str:
    where = str(finding.resource) if getattr(finding, "resource", None) else ""
    file = str(getattr(finding, "file", "") or "").replace(f"{tree}/", "")
    location = where or file
    return f"{location}: {finding.message} [{finding.rule}]" if location else str(finding.message)


@dataclass
class Edit:
    path: str  # the edited file, relative to the repository root
    old: ImageRef | None
    old_text: str
    new_text: str
    objects: list[ObjectDiff]


def apply_edit(ctx: Context, tree: Git, change: Change, *, render: bool = True) -> Edit | None:
    """Edit (and, with *render*, render before and after) in ``tree``; None when already at the
    reference. The image must already have an ``images:`` entry in the overlay: a new entry for
    a name no container uses would change nothing but still make a commit."""
    rel = overlay_file(change.env)
    path = tree.cwd / rel
    if not path.is_file():
        raise UserError(
            f"{rel} does not exist on {ctx.base}",
            hint=f"environments: {', '.join(list_envs(tree.cwd)) or '(none)'}",
        )
    old_text = read_text(path)
    entry = find_image(old_text, change.ref.name, rel)
    if entry is None:
        names = [e.name for e in read_images(old_text, rel)]
        listed = ", ".join(names) if names else "none"
        raise UserError(
            f"{rel} has no images entry named {change.ref.name!r}; the images it lists: {listed}",
            hint="check the spelling of --image; nothing was changed",
        )
    new_text = set_image(old_text, change.ref, source=rel)
    if new_text == old_text:
        return None
    before = kustomize.build(path.parent) if render else ""
    write_atomic(path, new_text)
    after = kustomize.build(path.parent) if render else ""
    objects = diff_renders(before, after, overlay_dir(change.env)) if render else []
    old = ImageRef(change.ref.name, entry.tag, entry.digest)
    return Edit(rel, old, old_text, new_text, objects)


def list_envs(root: Path) -> list[str]:
    overlays = root / "overlays"
    return (
        sorted(p.name for p in overlays.iterdir() if (p / "kustomization.yaml").is_file())
        if overlays.is_dir()
        else []
    )


# --------------------------------------------------------------------------- output


def pr_body(change: Change, edit: Edit, tool: str) -> str:
    lines = [
        f"{change.verb.capitalize()}s `{change.ref.name}` in **{change.env}**.",
        "",
        "| | reference |",
        "|---|---|",
        f"| old | `{edit.old if edit.old else '(not set)'}` |",
        f"| new | `{change.ref}` |",
        "",
        f"File: `{overlay_file(change.env)}`",
        "",
    ]
    if change.note:
        lines += [change.note, ""]
    lines += ["### Rendered objects that change", ""]
    if edit.objects:
        lines += [f"- {o.status}: `{o.label}` ({o.api_version})" for o in edit.objects]
    else:
        lines += ["- none (the image is not used by any rendered object)"]
    lines += [""]
    details = format_markdown([KustomizationDiff(overlay_dir(change.env), edit.objects)])
    lines += [details, ""]
    lines += [f"_Opened by `{tool}`._"]
    return "\n".join(lines) + "\n"


def file_diff(rel: str, edit: Edit) -> str:
    return "".join(
        difflib.unified_diff(
            edit.old_text.splitlines(keepends=True),
            edit.new_text.splitlines(keepends=True),
            fromfile=f"a/{rel}",
            tofile=f"b/{rel}",
        )
    )


def _already(change: Change) -> None:
    say(f"{change.env}: {change.ref.name} is already at {change.ref.version}; nothing to do")


def say(text: str) -> None:
    sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))
    sys.stdout.flush()


# --------------------------------------------------------------------------- shipping


def ship(
    change: Change, opts: Options, ctx: Context | None = None, tool: str = "gitops bump"
) -> int:
    """Make ``change`` on the base branch: dry run, direct push, or pull request."""
    ctx = ctx or open_context(opts)
    check_policy(change, ctx.config)
    if opts.dry_run:
        return _dry_run(ctx, change, opts)
    if not opts.pr:
        return _push_to_base(ctx, change, opts)
    client, slug = _github(ctx, opts)
    with client:
        return _open_pull(ctx, change, opts, client, slug, tool)


def _github(ctx: Context, opts: Options) -> tuple[Forge, RepoSlug]:
    """The forge client and the repository: GitLab with --gitlab-api, else GitHub."""
    if opts.gitlab_api or opts.gitlab_project:
        token = gitlab.token_from_env(os.environ)
        if not token:
            raise UserError(
                "opening a merge request needs a GitLab token",
                hint="set GITLAB_TOKEN (scope api), or use --no-pr to push to the base branch",
            )
        project = opts.gitlab_project or ctx.repo.remote_url(ctx.remote)
        api = gitlab.api_url_from(opts.gitlab_api, os.environ)
        return GitLabClient(token, api), gitlab.project_from(project)
    token = token_from_env(os.environ)
    if not token:
        raise UserError(
            "opening a pull request needs a GitHub token",
            hint="set GITHUB_TOKEN or GH_TOKEN, or use --no-pr to push to the base branch",
        )
    if opts.github_repo:
        slug = parse_slug(opts.github_repo)
    else:
        slug = parse_remote_url(ctx.repo.remote_url(ctx.remote))
    return GitHubClient(token, api_url_from(opts.github_api, os.environ)), slug


def _dry_run(ctx: Context, change: Change, opts: Options) -> int:
    with temporary_worktree(ctx.repo, ctx.start) as tree:
        edit = apply_edit(ctx, tree, change)
        if edit is not None and opts.validate:
            validate_overlay(ctx, tree.cwd, change.env)
    if edit is None:
        _already(change)
        return 0
    rel = overlay_file(change.env)
    say(file_diff(rel, edit))
    say("")
    say("Plan (dry run, nothing was changed):")
    say(f"  base:    {ctx.remote}/{ctx.base} at {ctx.start[:12]}")
    say(f"  commit:  {change.title}")
    if opts.pr:
        say(f"  push:    {ctx.remote} {change.branch}")
        labels = ", ".join(_labels(ctx, change, opts))
        say(f"  open PR: {change.branch} → {ctx.base}, labels: {labels}")
    else:
        say(f"  push:    {ctx.remote} {ctx.base} (retry on a concurrent push, never forced)")
    say("  rendered objects that change:")
    for obj in edit.objects or []:
        say(f"    {obj.status}: {obj.label}")
    if not edit.objects:
        say("    none")
    return 0


def _labels(ctx: Context, change: Change, opts: Options) -> list[str]:
    chosen = list(opts.labels) if opts.labels else [*ctx.config.labels, f"env:{change.env}"]
    return list(dict.fromkeys(chosen))


def _push_to_base(ctx: Context, change: Change, opts: Options) -> int:
    """Commit on the base branch's tip and push; when someone pushed first, wait (exponential
    backoff with full jitter, so racing jobs spread out) and re-apply on their commit, within
    ``push-attempts`` tries and ``push-timeout`` seconds from the first refused push."""
    config = ctx.config
    deadline: float | None = None
    start = ctx.start
    validated: str | None = None  # the tree the validator last accepted
    with temporary_worktree(ctx.repo, start) as tree:
        for attempt in range(1, config.push_attempts + 1):
            # Only the commit is pushed: the rendered diff is for plans and PR bodies.
            edit = apply_edit(ctx, tree, change, render=False)
            if edit is None:
                _already(change)
                return 0
            sha = tree.commit_all(change.message(edit.old))
            content = tree.rev_parse_tree(sha)
            if opts.validate and content != validated:
                # A retry whose result is byte for byte what was validated (another job changed
                # the same line, or files this change does not touch) needs no second run.
                validate_overlay(ctx, tree.cwd, change.env)
                validated = content
            result = ctx.repo.push(ctx.remote, sha, ctx.base)
            if result.status is PushStatus.OK:
                with contextlib.suppress(GitError):  # only refreshes origin/<base> locally
                    ctx.repo.fetch(ctx.remote, ctx.base)
                say(f"pushed {sha[:12]} to {ctx.remote}/{ctx.base}: {change.title}")
                return 0
            if result.status is PushStatus.REJECTED:
                raise UserError(
                    f"{ctx.remote} refused the push to {ctx.base}:\n{_indent(result.detail)}",
                    hint="nothing was changed; a protected branch needs --pr",
                )
            if attempt == config.push_attempts:
                break
            deadline = deadline or time.monotonic() + config.push_timeout
            delay = backoff_delay(attempt, config.push_backoff)
            if time.monotonic() + delay >= deadline:
                break
            time.sleep(delay)
            # Someone pushed first: start again from their commit and re-apply the edit.
            start = ctx.repo.fetch(ctx.remote, ctx.base)
            tree.run("checkout", "--quiet", "--force", "--detach", start)
            say(
                f"{ctx.remote}/{ctx.base} moved; re-applying on {start[:12]} after waiting "
                f"{delay:.2f}s (try {attempt + 1} of {config.push_attempts})"
            )
    raise UserError(
        f"gave up after {attempt} attempts ({config.push_timeout:g}s of retries at most): "
        f"{ctx.remote}/{ctx.base} kept moving",
        hint="nothing was pushed; run the command again (push-attempts and push-timeout in "
        "the [bump] configuration allow more)",
    )


def backoff_delay(attempt: int, base: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number *attempt* (1-based): "full jitter", a uniform draw
    from 0 to ``base * 2**(attempt - 1)``, capped, so that jobs that collided once are
    unlikely to collide again."""
    ceiling = min(MAX_PUSH_BACKOFF, base * 2 ** (attempt - 1))
    return (rng or _RANDOM).uniform(0.0, ceiling)


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


def _open_pull(
    ctx: Context, change: Change, opts: Options, client: Forge, slug: RepoSlug, tool: str
) -> int:
    branch = change.branch
    if not ctx.repo.check_branch_name(branch):
        raise UserError(f"cannot make a branch name from {change.ref.version!r} ({branch!r})")
    with temporary_worktree(ctx.repo, ctx.start) as tree:
        edit = apply_edit(ctx, tree, change)
        if edit is None:
            _already(change)
            return 0
        existing = client.find_open_pull(slug, branch)
        if existing is not None:
            say(f"pull request already open, nothing changed: {existing.url}")
            return 0
        if opts.validate:
            validate_overlay(ctx, tree.cwd, change.env)
        sha = tree.commit_all(change.message(edit.old))
        pushed = _push_branch(ctx, tree, branch, sha, edit)
        try:
            pull = _create_pull(client, slug, change, edit, ctx.base, tool)
        except GitHubError as exc:
            # Leave the remote as we found it, unless a pull request may use the branch: GitHub
            # said one exists, or does not say there is none. (Interrupted, the branch stays
            # too: a rerun reuses it.)
            exists = isinstance(exc, PullRequestExists)
            if pushed is not None and not exists and not _may_have_pull(client, slug, branch):
                ctx.repo.delete_remote_branch(ctx.remote, branch, pushed)
            raise
    # From here on the pull request exists: its branch stays whatever happens.
    labels = _labels(ctx, change, opts)
    try:
        client.add_labels(slug, pull.number, labels)
    except GitHubError as exc:
        say(f"opened pull request #{pull.number}: {pull.url}")
        raise UserError(
            f"pull request #{pull.number} is open ({pull.url}), but labelling it failed: "
            f"{exc.message}",
            hint=f"the pull request and its branch stay; add the labels ({', '.join(labels)}) "
            "by hand or fix the token's permissions",
        ) from None
    say(f"opened pull request #{pull.number}: {pull.url}")
    return 0


def _may_have_pull(client: Forge, slug: RepoSlug, branch: str) -> bool:
    """Whether an open pull request may use *branch* (a failed create can still have made one,
    e.g. when the answer was lost). Unless GitHub says there is none, assume there is."""
    try:
        return client.find_open_pull(slug, branch) is not None
    except GitHubError:
        return True


def _push_branch(ctx: Context, tree: Git, branch: str, sha: str, edit: Edit) -> str | None:
    """Push the PR branch; the sha pushed, or None when an identical branch already exists."""
    rel = edit.path
    remote_sha = ctx.repo.remote_branch_sha(ctx.remote, branch)
    if remote_sha is not None:
        tree.run("fetch", "--quiet", "--no-tags", ctx.remote, f"refs/heads/{branch}")
        if tree.show("FETCH_HEAD", rel) == edit.new_text:
            return None  # a previous run pushed exactly this; reuse it
        raise UserError(
            f"branch {branch} already exists on {ctx.remote} with different content",
            hint=f"delete it (git push {ctx.remote} --delete {branch}) and run again",
        )
    result = ctx.repo.push(ctx.remote, sha, branch)
    if result.status is not PushStatus.OK:
        raise UserError(f"{ctx.remote} refused the push of {branch}:\n{_indent(result.detail)}")
    return sha


def _create_pull(
    client: Forge, slug: RepoSlug, change: Change, edit: Edit, base: str, tool: str
) -> PullRequest:
    try:
        return client.create_pull(
            slug,
            head=change.branch,
            base=base,
            title=change.title,
            body=pr_body(change, edit, tool),
        )
    except PullRequestExists:
        found = client.find_open_pull(slug, change.branch)
        if found is None:
            raise
        return found
