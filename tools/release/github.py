"""The few GitHub REST calls the tools need: open a pull request, find one by branch, label it.

Authentication uses ``GITHUB_TOKEN`` (or ``GH_TOKEN``). The API base defaults to
``https://api.github.com``; GitHub Enterprise Server uses ``https://HOST/api/v3`` (pass it with
``--github-api`` or ``GITHUB_API_URL``, which GitHub Actions sets on every runner).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from tools.errors import UserError

DEFAULT_API_URL = "https://api.github.com"
_API_VERSION = "2022-11-28"
_ALREADY_EXISTS = "a pull request already exists"


class GitHubError(UserError):
    """A GitHub API call failed; the message says which call and why."""

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status


class PullRequestExists(GitHubError):
    """422 from "create a pull request": one is already open for this head and base."""


@dataclass(frozen=True)
class RepoSlug:
    owner: str
    name: str

    def __str__(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str  # the html_url a person opens
    head: str
    base: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PullRequest:
        try:
            return cls(
                number=int(data["number"]),
                url=str(data["html_url"]),
                head=str(data["head"]["ref"]),
                base=str(data["base"]["ref"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise GitHubError(f"unexpected pull request object from GitHub: missing {exc}") from exc


_SCP_RE = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>[^/].*)$")


def parse_remote_url(url: str) -> RepoSlug:
    """owner/repo of a remote URL.

    Accepts ``https://host/o/r(.git)``, ``ssh://git@host/o/r.git`` and ``git@host:o/r.git``.
    """
    path: str | None = None
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme in ("https", "http", "ssh", "git") and parts.hostname:
            path = parts.path
    else:
        match = _SCP_RE.match(url)
        if match:
            path = match.group("path")
    segments = [s for s in (path or "").strip("/").split("/") if s]
    if len(segments) < 2:
        raise UserError(
            f"cannot tell the GitHub owner/repository from remote URL {url!r}",
            hint="pass --github-repo OWNER/REPO",
        )
    owner, name = segments[-2], segments[-1]
    name = name.removesuffix(".git")
    return RepoSlug(owner, name)


def parse_slug(text: str) -> RepoSlug:
    owner, sep, name = text.partition("/")
    if not sep or not owner or not name or "/" in name:
        raise UserError(f"--github-repo {text!r}: expected OWNER/REPO")
    return RepoSlug(owner, name)


def token_from_env(environ: Mapping[str, str]) -> str | None:
    return environ.get("GITHUB_TOKEN") or environ.get("GH_TOKEN") or None


def api_url_from(option: str | None, environ: Mapping[str, str]) -> str:
    return (option or environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")


class GitHubClient:
    """A small synchronous client; use it as a context manager."""

    def __init__(self, token: str, api_url: str = DEFAULT_API_URL, *, timeout: float = 30.0):
        self._http = httpx.Client(
            base_url=api_url.rstrip("/"),
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": _API_VERSION,
                "User-Agent": "gitops-tools",
            },
        )

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ calls

    def find_open_pull(self, repo: RepoSlug, branch: str) -> PullRequest | None:
        """The open pull request whose head is ``branch`` of ``repo``, if any."""
        data = self._call(
            "GET",
            f"/repos/{repo}/pulls",
            what="list pull requests",
            params={"head": f"{repo.owner}:{branch}", "state": "open", "per_page": "10"},
        )
        if not isinstance(data, list):
            raise GitHubError("unexpected answer from GitHub: pull request list is not a list")
        pulls = [PullRequest.from_json(item) for item in data]
        return next((p for p in pulls if p.head == branch), None)

    def create_pull(
        self, repo: RepoSlug, *, head: str, base: str, title: str, body: str
    ) -> PullRequest:
        data = self._call(
            "POST",
            f"/repos/{repo}/pulls",
            what="create pull request",
            json={"title": title, "head": head, "base": base, "body": body},
        )
        if not isinstance(data, dict):
            raise GitHubError("unexpected answer from GitHub: pull request is not an object")
        return PullRequest.from_json(data)

    def add_labels(self, repo: RepoSlug, number: int, labels: Sequence[str]) -> None:
        if labels:
            self._call(
                "POST",
                f"/repos/{repo}/issues/{number}/labels",
                what=f"label pull request #{number}",
                json={"labels": list(labels)},
            )

    # ------------------------------------------------------------------ plumbing

    def _call(self, method: str, path: str, *, what: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise GitHubError(f"GitHub API: {what}: {exc}") from exc
        if response.is_success:
            return response.json() if response.content else None
        raise _error(response, what)


def _error(response: httpx.Response, what: str) -> GitHubError:
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    payload = payload if isinstance(payload, dict) else {}
    message = str(payload.get("message") or response.reason_phrase)
    details = [
        str(e.get("message") or e.get("code"))
        for e in payload.get("errors") or []
        if isinstance(e, dict) and (e.get("message") or e.get("code"))
    ]
    full = message + (": " + "; ".join(details) if details else "")
    status = response.status_code
    prefix = f"GitHub API: {what}: {status} {full}"
    if status == 401:
        return GitHubError(prefix, status=status, hint="check GITHUB_TOKEN / GH_TOKEN")
    if status == 403:
        return GitHubError(
            prefix,
            status=status,
            hint="the token lacks permission (pull-requests: write, contents: write) "
            "or a rate limit was hit",
        )
    if status == 404:
        return GitHubError(
            prefix,
            status=status,
            hint="wrong owner/repository or API URL, or the token cannot see the repository",
        )
    if status == 422 and any(_ALREADY_EXISTS in d.lower() for d in details):
        return PullRequestExists(prefix, status=status)
    return GitHubError(prefix, status=status)
