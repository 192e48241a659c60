"""``gitops bump --gitlab-api``: a merge request instead of a pull request.

GitLab is a remote SaaS API, so it is a local stand-in that follows the documented REST API v4
shapes: ``GET/POST /projects/:id/merge_requests`` (the project path URL-encoded as ``:id``;
``409`` with ``{"message": ["Another open merge request already exists for this source branch:
!1"]}``), ``PUT /projects/:id/merge_requests/:iid`` with ``add_labels``, ``401 {"message": "401
Unauthorized"}`` for a bad ``PRIVATE-TOKEN``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests.support.gitrepo import Remote
from tests.support.net import serving
from tools.cli import main
from tools.release.gitlab import project_from

pytestmark = pytest.mark.integration

PROJECT = "platform/deploy/gitops"  # a project in a subgroup
IMAGE = "ghcr.io/example-org/model-api"


@dataclass
class GitLabState:
    token: str = "glpat-test"
    merge_requests: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, list[str]], Any, str | None]] = field(
        default_factory=list
    )
    hide_open: bool = False  # the list misses the open one once (the 409 path)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: GitLabState


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        state = self.server.state
        parts = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw) if raw else None
        query = parse_qs(parts.query)
        token = self.headers.get("PRIVATE-TOKEN")
        state.requests.append((self.command, parts.path, query, body, token))
        if token != state.token:
            return self._answer(401, {"message": "401 Unauthorized"})
        prefix = f"/api/v4/projects/{quote(PROJECT, safe='')}/merge_requests"
        if not parts.path.startswith(prefix):
            return self._answer(404, {"message": "404 Project Not Found"})
        rest = parts.path.removeprefix(prefix)
        if rest == "" and self.command == "GET":
            if state.hide_open:
                state.hide_open = False
                return self._answer(200, [])
            branch = query.get("source_branch", [""])[0]
            wanted = query.get("state", ["all"])[0]
            return self._answer(
                200,
                [
                    mr
                    for mr in state.merge_requests
                    if mr["source_branch"] == branch and wanted in ("all", mr["state"])
                ],
            )
        if rest == "" and self.command == "POST":
            return self._create(state, body)
        if rest.startswith("/") and self.command == "PUT":
            mr = next((m for m in state.merge_requests if f"/{m['iid']}" == rest), None)
            if mr is None:
                return self._answer(404, {"message": "404 Not found"})
            for label in str(body.get("add_labels", "")).split(","):
                if label and label not in mr["labels"]:
                    mr["labels"].append(label)
            return self._answer(200, mr)
        return self._answer(404, {"message": "404 Not Found"})

    def _create(self, state: GitLabState, body: Any) -> None:
        missing = [k for k in ("source_branch", "target_branch", "title") if not body.get(k)]
        if missing:
            return self._answer(400, {"message": f"{missing[0]} is missing"})
        for mr in state.merge_requests:
            if mr["source_branch"] == body["source_branch"] and mr["state"] == "opened":
                message = [
                    "Another open merge request already exists for this source branch: "
                    f"!{mr['iid']}"
                ]
                return self._answer(409, {"message": message})
        iid = len(state.merge_requests) + 1
        mr = {
            "id": 1000 + iid,
            "iid": iid,
            "project_id": 7,
            "title": body["title"],
            "description": body.get("description"),
            "state": "opened",
            "source_branch": body["source_branch"],
            "target_branch": body["target_branch"],
            "labels": [],
            "web_url": f"https://gitlab.example.com/{PROJECT}/-/merge_requests/{iid}",
        }
        state.merge_requests.append(mr)
        return self._answer(201, mr)

    do_GET = do_POST = do_PUT = _handle


@pytest.fixture
def gitlab(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, GitLabState]]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = GitLabState()
    monkeypatch.setenv("GITLAB_TOKEN", server.state.token)
    monkeypatch.delenv("CI_API_V4_URL", raising=False)
    with serving(server):
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v4", server.state


def bump(remote: Remote, api: str, *args: str) -> int:
    return main(
        [
            "bump",
            "--repo-dir",
            str(remote.work),
            "--image",
            IMAGE,
            "--env",
            "staging",
            "--gitlab-api",
            api,
            "--gitlab-project",
            PROJECT,
            *args,
        ]
    )


def test_project_paths_from_remotes() -> None:
    assert str(project_from("https://gitlab.com/platform/deploy/gitops.git")) == PROJECT
    assert str(project_from("git@gitlab.com:platform/deploy/gitops.git")) == PROJECT
    assert str(project_from(PROJECT)) == PROJECT


def test_bump_opens_one_labelled_merge_request(
    remote: Remote, gitlab: tuple[str, GitLabState], capsys: pytest.CaptureFixture[str]
) -> None:
    api, state = gitlab
    assert bump(remote, api, "--tag", "1.1.0") == 0
    url = f"https://gitlab.example.com/{PROJECT}/-/merge_requests/1"
    assert f"#1: {url}" in capsys.readouterr().out
    (mr,) = state.merge_requests
    branch = "gitops/bump/staging/model-api-1.1.0"
    assert (mr["source_branch"], mr["target_branch"]) == (branch, "main")
    assert mr["title"] == f"chore(staging): bump {IMAGE} to 1.1.0"
    assert f"| old | `{IMAGE}:1.0.0` |" in mr["description"]
    assert mr["labels"] == ["gitops", "env:staging"]
    assert branch in remote.branches()
    assert all(token == state.token for *_, token in state.requests)

    # again: the open merge request is reported, nothing is created
    assert bump(remote, api, "--tag", "1.1.0") == 0
    assert f"already open, nothing changed: {url}" in capsys.readouterr().out
    assert len(state.merge_requests) == 1


def test_a_lost_open_merge_request_is_found_after_the_409(
    remote: Remote, gitlab: tuple[str, GitLabState], capsys: pytest.CaptureFixture[str]
) -> None:
    api, state = gitlab
    assert bump(remote, api, "--tag", "1.1.0") == 0
    state.merge_requests[0]["labels"] = []
    remote_branches = remote.branches()
    state.hide_open = True  # the list misses it, so the create answers 409
    assert bump(remote, api, "--tag", "1.1.0") == 0
    assert len(state.merge_requests) == 1
    assert remote.branches() == remote_branches
    capsys.readouterr()


def test_bad_token_and_missing_token_are_clear_errors(
    remote: Remote,
    gitlab: tuple[str, GitLabState],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api, state = gitlab
    monkeypatch.setenv("GITLAB_TOKEN", "wrong")
    head = remote.head()
    assert bump(remote, api, "--tag", "1.1.0") == 2
    err = capsys.readouterr().err
    assert "GitLab API: list merge requests" in err and "401 401 Unauthorized" in err
    assert "hint: check GITLAB_TOKEN" in err
    assert remote.head() == head and state.merge_requests == []
    monkeypatch.delenv("GITLAB_TOKEN")
    assert bump(remote, api, "--tag", "1.1.0") == 2
    assert "needs a GitLab token" in capsys.readouterr().err
