"""A thin, typed wrapper over the ``git`` command line.

Every change the tools make to a repository happens in a temporary worktree
(:func:`temporary_worktree`) on a detached HEAD, so the user's checkout, index and branches are
never touched, and a failure only has to remove the worktree to leave things as they were.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from tools.errors import UserError

# Fixed so that messages we parse (push results) are not translated.
_ENV_OVERRIDES = {"LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}


# How git says "the remote moved under you" (a plain non-fast-forward, or losing the ref-update
# race inside the remote when two pushes arrive together).
_STALE_MARKERS = (
    "non-fast-forward",
    "fetch first",
    "stale info",
    "failed to update ref",
    "cannot lock ref",
    "incorrect old value",
)


class GitError(UserError):
    """A git command failed; the message names the command and quotes git's stderr."""


_CREDENTIALS_RE = re.compile(r"(\w+://)[^/@\s]+@")
_MAX_DETAIL_LINES = 40
_MAX_DETAIL_CHARS = 4000


def git_output(text: str) -> str:
    """What git printed, for a message: every non-blank line (git's reason is often spread over
    several, e.g. "Could not read from remote repository. / Please make sure you have the
    correct access rights / and the repository exists."), credentials in URLs masked, and at
    most the last 40 lines / 4000 characters."""
    lines = [_CREDENTIALS_RE.sub(r"\1***@", ln.rstrip()) for ln in text.splitlines()]
    lines = [ln for ln in lines if ln.strip()]
    if len(lines) > _MAX_DETAIL_LINES:
        lines = ["…", *lines[-_MAX_DETAIL_LINES:]]
    joined = "\n".join(lines)
    if len(joined) > _MAX_DETAIL_CHARS:
        joined = "…" + joined[-_MAX_DETAIL_CHARS:]
    return joined


def _git_binary() -> str:
    found = shutil.which("git")
    if found is None:
        raise UserError("git is not installed or not on PATH")
    return found


@dataclass(frozen=True)
class Git:
    """Runs git commands in one directory (a checkout or a worktree)."""

    cwd: Path

    def run(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **_ENV_OVERRIDES, **(env or {})}
        proc = subprocess.run(
            [_git_binary(), *args],
            cwd=self.cwd,
            input=input,
            capture_output=True,
            text=True,
            env=full_env,
            check=False,
        )
        if check and proc.returncode != 0:
            detail = git_output(proc.stderr or proc.stdout)
            said = f":\n{_indent(detail)}" if detail else " without a message"
            raise GitError(f"git {args[0]} failed (exit code {proc.returncode}){said}")
        return proc

    def out(self, *args: str) -> str:
        """stdout of a successful command, without the trailing newline."""
        return self.run(*args).stdout.rstrip("\n")

    # ---------------------------------------------------------------- queries

    def toplevel(self) -> Path:
        try:
            return Path(self.out("rev-parse", "--show-toplevel"))
        except GitError as exc:
            raise UserError(f"{self.cwd} is not inside a git repository") from exc

    def current_branch(self) -> str | None:
        """The checked-out branch, or None on a detached HEAD."""
        proc = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return proc.stdout.strip() or None

    def rev_parse(self, rev: str) -> str:
        proc = self.run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        if proc.returncode != 0:
            raise GitError(f"unknown revision {rev!r}")
        return proc.stdout.strip()

    def rev_parse_tree(self, rev: str) -> str:
        """The tree (content) id of commit ``rev``."""
        return self.out("rev-parse", "--verify", f"{rev}^{{tree}}")

    def has_ref(self, ref: str) -> bool:
        return self.run("rev-parse", "--verify", "--quiet", ref, check=False).returncode == 0

    def is_clean(self) -> bool:
        """No staged, unstaged or untracked changes."""
        return self.out("status", "--porcelain", "--untracked-files=normal") == ""

    def show(self, rev: str, path: str) -> str | None:
        """Content of ``path`` at ``rev`` (bytes kept as is), or None when it does not exist."""
        proc = subprocess.run(
            [_git_binary(), "show", f"{rev}:{path}"],
            cwd=self.cwd,
            capture_output=True,
            env={**os.environ, **_ENV_OVERRIDES},
            check=False,
        )
        if proc.returncode != 0:
            return None
        try:
            return proc.stdout.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UserError(f"{path} at {rev}: not UTF-8 text") from exc

    def remote_url(self, remote: str) -> str:
        """The configured URL of ``remote`` (as written, before ``insteadOf`` rewrites)."""
        proc = self.run("config", "--get", f"remote.{remote}.url", check=False)
        if proc.returncode != 0 or not proc.stdout.strip():
            raise UserError(f"no git remote named {remote!r}", hint="see `git remote -v`")
        return proc.stdout.strip()

    def remote_default_branch(self, remote: str) -> str | None:
        """The branch the remote's HEAD points at (e.g. ``main``)."""
        proc = self.run("ls-remote", "--symref", remote, "HEAD", check=False)
        for line in proc.stdout.splitlines():
            if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
                return line[len("ref: refs/heads/") : -len("\tHEAD")]
        return None

    def tracked_default_branch(self, remote: str) -> str | None:
        """What ``refs/remotes/<remote>/HEAD`` points at locally (set by ``git clone``)."""
        proc = self.run("symbolic-ref", "--quiet", f"refs/remotes/{remote}/HEAD", check=False)
        prefix = f"refs/remotes/{remote}/"
        ref = proc.stdout.strip()
        return ref[len(prefix) :] if ref.startswith(prefix) else None

    def remote_branch_sha(self, remote: str, branch: str) -> str | None:
        """The commit ``branch`` points at on ``remote`` right now (asks the remote)."""
        proc = self.run("ls-remote", "--heads", remote, f"refs/heads/{branch}")
        for line in proc.stdout.splitlines():
            sha, _, ref = line.partition("\t")
            if ref == f"refs/heads/{branch}":
                return sha
        return None

    def last_commit_touching(
        self, rev: str, path: str, lines: tuple[int, int] | None = None
    ) -> str | None:
        """The newest commit reachable from ``rev`` that changed ``path`` (or those lines)."""
        if lines is not None:
            start, end = lines
            proc = self.run(
                "log",
                "-1",
                "--format=%H",
                "--no-patch",
                f"-L{start},{end}:{path}",
                rev,
                check=False,
            )
            sha = proc.stdout.strip().splitlines()
            if proc.returncode == 0 and sha:
                return sha[0]
        proc = self.run("log", "-1", "--format=%H", rev, "--", path, check=False)
        return proc.stdout.strip() or None

    def subject(self, rev: str) -> str:
        return self.out("log", "-1", "--format=%s", rev)

    def check_branch_name(self, name: str) -> bool:
        return self.run("check-ref-format", "--branch", name, check=False).returncode == 0

    # ---------------------------------------------------------------- changes

    def fetch(self, remote: str, branch: str) -> str:
        """Fetch ``branch`` from ``remote`` into ``refs/remotes/<remote>/<branch>``; its sha."""
        tracking = f"refs/remotes/{remote}/{branch}"
        self.run("fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{branch}:{tracking}")
        return self.rev_parse(tracking)

    def commit_all(self, message: str) -> str:
        """Commit every tracked change in this worktree; the new commit's sha."""
        self.run("commit", "--quiet", "--all", "--file", "-", input=message)
        return self.rev_parse("HEAD")

    def push(self, remote: str, src: str, branch: str) -> PushResult:
        """Push ``src`` to ``refs/heads/<branch>`` without force; classify a rejection."""
        proc = self.run(
            "push", "--porcelain", "--quiet", remote, f"{src}:refs/heads/{branch}", check=False
        )
        if proc.returncode == 0:
            return PushResult(PushStatus.OK, "")
        text = f"{proc.stdout}\n{proc.stderr}"
        # --porcelain reports a refused ref as "!<TAB>src:dst<TAB>[rejected] (reason)"; the
        # remote's own words (a hook's message, "remote: ...") are on stderr.
        refused = [ln.split("\t")[-1] for ln in proc.stdout.splitlines() if ln.startswith("!")]
        said = git_output(proc.stderr)
        detail = "\n".join(filter(None, [*refused[:1], said])) or f"exit {proc.returncode}"
        if any(marker in text for marker in _STALE_MARKERS):
            return PushResult(PushStatus.STALE, detail)
        return PushResult(PushStatus.REJECTED, detail)

    def delete_remote_branch(self, remote: str, branch: str, expected_sha: str) -> None:
        """Delete ``branch`` on ``remote`` only if it still points at ``expected_sha``."""
        self.run(
            "push",
            "--quiet",
            f"--force-with-lease=refs/heads/{branch}:{expected_sha}",
            remote,
            f":refs/heads/{branch}",
            check=False,
        )


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


class PushStatus(Enum):
    OK = "ok"
    STALE = "stale"  # non-fast-forward or lost a race: fetch and try again
    REJECTED = "rejected"  # refused for another reason (hook, permissions): give up


@dataclass(frozen=True)
class PushResult:
    status: PushStatus
    detail: str


@contextmanager
def temporary_worktree(repo: Git, rev: str) -> Iterator[Git]:
    """A detached worktree of ``rev`` in a temporary directory, removed afterwards."""
    parent = Path(tempfile.mkdtemp(prefix="gitops-wt-"))
    path = parent / "tree"
    try:
        repo.run("worktree", "add", "--quiet", "--detach", str(path), rev)
        yield Git(path)
    finally:
        if path.exists():
            repo.run("worktree", "remove", "--force", str(path), check=False)
        shutil.rmtree(parent, ignore_errors=True)
        repo.run("worktree", "prune", check=False)
