"""The few GitHub REST calls the tools need: open a pull request, find one by branch, label it.

Authentication uses ``GITHUB_TOKEN`` (or ``GH_TOKEN``). The API base defaults to
``https://api.github.com``; GitHub Enterprise Server uses ``https://HOST/api/v3`` (pass it with
``--github-api`` or ``GITHUB_API_URL``, which GitHub Actions sets on every runner).

Every answer is read defensively: the body is capped in size and time, must be JSON of the
documented shape, and anything else (an HTML page with 200, ``"errors": 5`` in a 422, a truncated
or deeply nested document) is a :class:`GitHubError` that names the call, the endpoint and the
status, never a traceback.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlsplit

import httpx

from tools.errors import UserError

DEFAULT_API_URL = "https://api.github.com"
_API_VERSION = "2022-11-28"
_ALREADY_EXISTS = "a pull request already exists"
MAX_BODY = 2 * 1024 * 1024  # bytes; a page of 10 pull requests is about 300 KiB


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


@dataclass(frozen=True)
class Answer:
    """A successful answer: its status, its decoded JSON and the call it answers (for messages)."""

    status: int
    data: Any
    where: str  # e.g. "create pull request (POST /repos/o/r/pulls)"

    def unexpected(self, detail: str) -> GitHubError:
        return GitHubError(
            f"GitHub API: {self.where}: {self.status}: unexpected answer: {detail}",
            status=self.status,
            hint="the API URL may not point at a GitHub REST API (see --github-api)",
        )


def _pull_from(item: Any, answer: Answer) -> PullRequest:
    """A pull request object as documented: ``number``, ``html_url``, ``head.ref``, ``base.ref``."""
    if not isinstance(item, dict):
        raise answer.unexpected(f"a pull request is {_kind(item)}, not an object")
    number = item.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise answer.unexpected(f"pull request number {_shown(number)} is not a positive integer")
    url = item.get("html_url")
    if not isinstance(url, str) or not url:
        raise answer.unexpected(f"pull request #{number} has no html_url string")
    refs = []
    for side in ("head", "base"):
        ref = item.get(side)
        name = ref.get("ref") if isinstance(ref, dict) else None
        if not isinstance(name, str) or not name:
            raise answer.unexpected(f"pull request #{number} has no {side}.ref string")
        refs.append(name)
    return PullRequest(number=number, url=_clean(url), head=refs[0], base=refs[1])


class ForgeClient:
    """What the GitHub and GitLab clients share: one httpx client whose answers are read whole,
    at most *max_body* bytes within *timeout* seconds, and transport failures as
    :class:`GitHubError` naming the call. Use it as a context manager."""

    forge = "GitHub"  # as messages name it

    def __init__(
        self, api_url: str, headers: Mapping[str, str], *, timeout: float, max_body: int
    ) -> None:
        try:
            self._http = httpx.Client(
                base_url=api_url.rstrip("/"), timeout=timeout, headers=dict(headers)
            )
        except (httpx.InvalidURL, ValueError) as exc:
            raise GitHubError(f"{self.forge} API URL {api_url!r} is not usable: {exc}") from None
        self._timeout = timeout
        self._max_body = max_body

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _fetch(
        self, method: str, path: str, where: str, **kwargs: Any
    ) -> tuple[httpx.Response, bytes]:
        """The answer and its whole body; raises GitHubError when none arrives."""
        try:
            with self._http.stream(method, path, **kwargs) as response:
                body = self._read(response, where)
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise GitHubError(f"{self.forge} API: {where}: {_clean(reason)}") from None
        except httpx.InvalidURL as exc:
            raise GitHubError(f"{self.forge} API: {where}: invalid URL: {exc}") from None
        return response, body

    def _read(self, response: httpx.Response, where: str) -> bytes:
        """The whole body, at most ``max_body`` bytes, within ``timeout`` seconds in all."""
        deadline = time.monotonic() + self._timeout
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self._max_body:
                raise GitHubError(
                    f"{self.forge} API: {where}: {response.status_code}: the answer is larger "
                    f"than {self._max_body // 1024} KiB; not reading it",
                    status=response.status_code,
                )
            if time.monotonic() > deadline:
                raise GitHubError(
                    f"{self.forge} API: {where}: {response.status_code}: the answer did not "
                    f"arrive within {self._timeout:g}s",
                    status=response.status_code,
                )
            chunks.append(chunk)
        return b"".join(chunks)


class GitHubClient(ForgeClient):
    """A small synchronous client; use it as a context manager.

    *timeout* bounds each network operation and, as a whole, the reading of one answer;
    *max_body* bounds the bytes read from one answer.
    """

    def __init__(
        self,
        token: str,
        api_url: str = DEFAULT_API_URL,
        *,
        timeout: float = 30.0,
        max_body: int = MAX_BODY,
    ):
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": _API_VERSION,
            "User-Agent": "gitops-tools",
        }
        super().__init__(api_url, headers, timeout=timeout, max_body=max_body)

    # ------------------------------------------------------------------ calls

    def find_open_pull(self, repo: RepoSlug, branch: str) -> PullRequest | None:
        """The open pull request whose head is ``branch`` of ``repo``, if any."""
        answer = self._call(
            "GET",
            f"/repos/{repo}/pulls",
            what="list pull requests",
            params={"head": f"{repo.owner}:{branch}", "state": "open", "per_page": "10"},
        )
        if not isinstance(answer.data, list):
            raise answer.unexpected(f"the pull request list is {_kind(answer.data)}, not a list")
        pulls = [_pull_from(item, answer) for item in answer.data]
        return next((p for p in pulls if p.head == branch), None)

    def create_pull(
        self, repo: RepoSlug, *, head: str, base: str, title: str, body: str
    ) -> PullRequest:
        answer = self._call(
            "POST",
            f"/repos/{repo}/pulls",
            what="create pull request",
            json={"title": title, "head": head, "base": base, "body": body},
        )
        return _pull_from(answer.data, answer)

    def add_labels(self, repo: RepoSlug, number: int, labels: Sequence[str]) -> None:
        if not labels:
            return
        answer = self._call(
            "POST",
            f"/repos/{repo}/issues/{number}/labels",
            what=f"label pull request #{number}",
            json={"labels": list(labels)},
        )
        # Documented answer: the labels, an array of objects with a name.
        data = answer.data
        if not isinstance(data, list) or not all(
            isinstance(x, dict) and isinstance(x.get("name"), str) for x in data
        ):
            raise answer.unexpected("the label list is not an array of label objects")

    # ------------------------------------------------------------------ plumbing

    def _call(self, method: str, path: str, *, what: str, **kwargs: Any) -> Answer:
        where = f"{what} ({method} {path})"
        response, body = self._fetch(method, path, where, **kwargs)
        status = response.status_code
        if not 200 <= status < 300:
            raise _error(response, body, where)
        if not body.strip():
            return Answer(status, None, where)
        return Answer(status, _decode(body, response, where), where)


def _decode(body: bytes, response: httpx.Response, where: str) -> Any:
    """JSON of a 2xx answer; anything else is a GitHubError naming what came instead."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        problem = "too deeply nested" if isinstance(exc, RecursionError) else "not valid JSON"
        raise GitHubError(
            f"GitHub API: {where}: {response.status_code}: the answer is {problem} "
            f"({_clean(kind)}, {len(body)} bytes)",
            status=response.status_code,
            hint="the API URL may not point at a GitHub REST API (see --github-api)",
        ) from None


def _error(response: httpx.Response, body: bytes, where: str) -> GitHubError:
    status = response.status_code
    try:
        payload: Any = json.loads(body) if body.strip() else {}
    except (ValueError, RecursionError):
        payload = None
    if isinstance(payload, dict):
        message = payload.get("message")
        message = _clean(message) if isinstance(message, str) and message else None
        details = _details(payload.get("errors"))
    else:
        message, details = None, []
    if message is None:
        kind = response.headers.get("content-type", "").split(";")[0] or "no content type"
        shown = "no body" if not body.strip() else f"a non-GitHub answer ({_clean(kind)})"
        message = f"{response.reason_phrase or 'error'} ({shown})"
    full = message + (": " + "; ".join(details) if details else "")
    prefix = f"GitHub API: {where}: {status} {full}"
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


def _details(errors: Any) -> list[str]:
    """The documented ``errors`` array (objects with ``message`` or ``code``, sometimes plain
    strings); anything else in its place is ignored rather than trusted."""
    if not isinstance(errors, list):
        return []
    out: list[str] = []
    for item in errors[:10]:
        text = item.get("message") or item.get("code") if isinstance(item, dict) else item
        if isinstance(text, str) and text:
            out.append(_clean(text))
    return out


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def _clean(text: str, limit: int = 300) -> str:
    """One line of at most *limit* characters, without control characters (terminal escapes)."""
    flat = _CONTROL_RE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", type(None): "null"}
    return names.get(type(value), f"a {type(value).__name__}")


def _shown(value: Any) -> str:
    return _clean(json.dumps(value), 60) if not isinstance(value, str) else repr(_clean(value, 60))
