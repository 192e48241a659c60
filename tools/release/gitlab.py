"""GitLab merge requests for ``gitops bump``/``promote`` (``--gitlab-api``): the same three calls
as :mod:`tools.release.github`, through GitLab's REST API v4.

* ``GET /projects/:id/merge_requests?state=opened&source_branch=B`` finds an open one;
* ``POST /projects/:id/merge_requests`` opens one (``409`` when one is already open);
* ``PUT /projects/:id/merge_requests/:iid`` with ``add_labels`` labels it.

``:id`` is the URL-encoded project path (``group/sub/project``). The token (``GITLAB_TOKEN``)
goes in the ``PRIVATE-TOKEN`` header. Answers are read as for GitHub (:class:`ForgeClient`: bounded
in size and time). Errors are :class:`GitHubError`s, the forge error that
:func:`tools.release.ship.ship` handles, so both forges share one shipping flow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from tools.errors import UserError
from tools.release.github import (
    MAX_BODY,
    ForgeClient,
    GitHubError,
    PullRequest,
    PullRequestExists,
    RepoSlug,
    _clean,
)

DEFAULT_API_URL = "https://gitlab.com/api/v4"


def token_from_env(environ: Mapping[str, str]) -> str | None:
    return environ.get("GITLAB_TOKEN") or None


def api_url_from(option: str | None, environ: Mapping[str, str]) -> str:
    """--gitlab-api, else GitLab CI's ``CI_API_V4_URL``, else gitlab.com."""
    return (option or environ.get("CI_API_V4_URL") or DEFAULT_API_URL).rstrip("/")


def project_from(text: str) -> RepoSlug:
    """``group/sub/project`` (a --gitlab-project value, or a remote URL) as a slug."""
    path = text
    if "://" in text:
        path = urlsplit(text).path
    elif ":" in text and "@" in text.split(":", 1)[0]:  # git@host:group/project.git
        path = text.split(":", 1)[1]
    segments = [s for s in path.strip("/").removesuffix(".git").split("/") if s]
    if len(segments) < 2:
        raise UserError(
            f"cannot tell the GitLab project from {text!r}",
            hint="pass --gitlab-project GROUP/PROJECT",
        )
    return RepoSlug("/".join(segments[:-1]), segments[-1])


class GitLabClient(ForgeClient):
    """Merge requests through the GitLab REST API; use it as a context manager."""

    forge = "GitLab"

    def __init__(
        self,
        token: str,
        api_url: str = DEFAULT_API_URL,
        *,
        timeout: float = 30.0,
        max_body: int = MAX_BODY,
    ):
        headers = {"PRIVATE-TOKEN": token, "User-Agent": "gitops-tools"}
        super().__init__(api_url, headers, timeout=timeout, max_body=max_body)

    def find_open_pull(self, repo: RepoSlug, branch: str) -> PullRequest | None:
        data = self._call(
            "GET",
            f"{_project(repo)}/merge_requests",
            what="list merge requests",
            params={"state": "opened", "source_branch": branch, "per_page": "10"},
        )
        if not isinstance(data, list):
            raise _unexpected("list merge requests", "the answer is not a list")
        found = [_merge_request(item) for item in data]
        return next((mr for mr in found if mr.head == branch), None)

    def create_pull(
        self, repo: RepoSlug, *, head: str, base: str, title: str, body: str
    ) -> PullRequest:
        data = self._call(
            "POST",
            f"{_project(repo)}/merge_requests",
            what="create merge request",
            json={
                "source_branch": head,
                "target_branch": base,
                "title": title,
                "description": body,
                "remove_source_branch": True,
            },
        )
        return _merge_request(data)

    def add_labels(self, repo: RepoSlug, number: int, labels: Sequence[str]) -> None:
        if not labels:
            return
        data = self._call(
            "PUT",
            f"{_project(repo)}/merge_requests/{number}",
            what=f"label merge request !{number}",
            json={"add_labels": ",".join(labels)},
        )
        if not isinstance(data, dict) or not isinstance(data.get("labels"), list):
            raise _unexpected(f"label merge request !{number}", "no labels list in the answer")

    def _call(self, method: str, path: str, *, what: str, **kwargs: Any) -> Any:
        where = f"{what} ({method} {path})"
        response, body = self._fetch(method, path, where, **kwargs)
        try:
            data = json.loads(body) if body.strip() else None
        except (ValueError, RecursionError):
            data = None
            if response.is_success:
                raise _unexpected(what, "the answer is not JSON") from None
        if not response.is_success:
            raise _error(response.status_code, data, where)
        return data


def _project(repo: RepoSlug) -> str:
    return f"/projects/{quote(str(repo), safe='')}"


def _merge_request(item: Any) -> PullRequest:
    """A merge request as documented: ``iid``, ``web_url``, ``source_branch``, ``target_branch``."""
    if not isinstance(item, dict):
        raise _unexpected("merge request", "a merge request is not an object")
    iid = item.get("iid")
    url, head, base = item.get("web_url"), item.get("source_branch"), item.get("target_branch")
    if not isinstance(iid, int) or isinstance(iid, bool) or iid < 1:
        raise _unexpected("merge request", "iid is not a positive integer")
    if not all(isinstance(v, str) and v for v in (url, head, base)):
        raise _unexpected("merge request", f"!{iid} lacks web_url, source or target branch")
    return PullRequest(number=iid, url=_clean(str(url)), head=str(head), base=str(base))


def _unexpected(where: str, detail: str) -> GitHubError:
    return GitHubError(
        f"GitLab API: {where}: unexpected answer: {detail}",
        hint="the API URL may not point at a GitLab REST API v4 (see --gitlab-api)",
    )


def _error(status: int, data: Any, where: str) -> GitHubError:
    message: Any = data.get("message") or data.get("error") if isinstance(data, dict) else None
    if isinstance(message, list):
        message = "; ".join(str(m) for m in message)
    elif isinstance(message, dict):
        message = "; ".join(f"{k} {v}" for k, v in message.items())
    text = _clean(str(message)) if message else "no error message"
    prefix = f"GitLab API: {where}: {status} {text}"
    if status == 409 or (status == 422 and "already exists" in text.lower()):
        return PullRequestExists(prefix, status=status)
    hints = {
        401: "check GITLAB_TOKEN",
        403: "the token lacks the api scope or Developer access to the project",
        404: "wrong project or API URL, or the token cannot see the project",
    }
    return GitHubError(prefix, status=status, hint=hints.get(status))
