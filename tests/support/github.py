"""A local stand-in for the GitHub REST API, limited to the calls ``gitops`` makes (a remote SaaS
API, so a fake is allowed; it follows the documented shapes).

Shapes follow the documented endpoints: ``GET/POST /repos/{owner}/{repo}/pulls`` and
``POST /repos/{owner}/{repo}/issues/{number}/labels``, with GitHub's error bodies for 401, 404 and
the 422 "A pull request already exists" validation failure. Every request is recorded so tests
can assert what the tool sent.

For the hostile tests an answer can be replaced by raw bytes (:class:`RawAnswer`: an HTML page
with 200, a 422 whose ``errors`` is not an array, truncated JSON...), either instead of handling
the request or after handling it (the pull request exists, but the answer that says so is lost).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.net import free_port

DOCS = "https://docs.github.com/rest"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class RawAnswer:
    """Bytes to answer with instead of the documented shape."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    handled: bool = False  # True: the request takes effect first; only its answer is replaced


@dataclass
class FakeGitHub:
    token: str = "test-token"
    owner: str = "example-org"
    repo: str = "gitops"
    pulls: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    fail_create: int | None = None  # answer POST /pulls with this status
    hide_open_pulls_once: bool = False  # the first list call misses an open PR (a race)
    hide_open_pulls: int = 0  # this many list calls miss the open PRs (a lagging search)
    fail_labels: int | None = None  # answer POST /issues/{n}/labels with this status
    raw: dict[tuple[str, str], RawAnswer] = field(default_factory=dict)  # (method, path suffix)
    url: str = ""

    def calls(self, method: str, suffix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.endswith(suffix)]


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep pytest output quiet
            pass

        def _send(self, status: int, payload: Any) -> None:
            self._send_raw(RawAnswer(status, json.dumps(payload).encode()))

        def _send_raw(self, answer: RawAnswer) -> None:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def _handle(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            with lock:
                state.requests.append(
                    Recorded(method, parts.path, parse_qs(parts.query), dict(self.headers), body)
                )
                raw = next(
                    (
                        a
                        for (m, suffix), a in state.raw.items()
                        if m == method and parts.path.endswith(suffix)
                    ),
                    None,
                )
                if raw is None or raw.handled:
                    status, payload = self._route(method, parts.path, parse_qs(parts.query), body)
            if raw is not None:
                self._send_raw(raw)
            else:
                self._send(status, payload)

        def _route(
            self, method: str, path: str, query: dict[str, list[str]], body: Any
        ) -> tuple[int, Any]:
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                return 401, {"message": "Bad credentials", "documentation_url": DOCS}
            prefix = f"/repos/{state.owner}/{state.repo}"
            if not path.startswith(prefix + "/"):
                return 404, {"message": "Not Found", "documentation_url": DOCS}
            rest = path[len(prefix) :]
            if rest == "/pulls" and method == "GET":
                return 200, self._list(query)
            if rest == "/pulls" and method == "POST":
                return self._create(body)
            if rest.startswith("/issues/") and rest.endswith("/labels") and method == "POST":
                return self._label(int(rest.split("/")[2]), body)
            return 404, {"message": "Not Found", "documentation_url": DOCS}

        def _list(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
            if state.hide_open_pulls_once:
                state.hide_open_pulls_once = False
                return []
            if state.hide_open_pulls > 0:
                state.hide_open_pulls -= 1
                return []
            head = query.get("head", [""])[0]
            wanted_state = query.get("state", ["open"])[0]
            return [
                p
                for p in state.pulls
                if (not head or p["head"]["label"] == head)
                and (wanted_state == "all" or p["state"] == wanted_state)
            ]

        def _create(self, body: Any) -> tuple[int, Any]:
            if state.fail_create is not None:
                return state.fail_create, {
                    "message": "Resource not accessible by integration",
                    "documentation_url": DOCS,
                }
            missing = [
                k
                for k in ("head", "base", "title")
                if not isinstance(body, dict) or not body.get(k)
            ]
            if missing:
                return 422, {
                    "message": "Validation Failed",
                    "errors": [
                        {"resource": "PullRequest", "code": "missing_field", "field": m}
                        for m in missing
                    ],
                    "documentation_url": DOCS,
                }
            label = f"{state.owner}:{body['head']}"
            if any(p["head"]["label"] == label and p["state"] == "open" for p in state.pulls):
                return 422, {
                    "message": "Validation Failed",
                    "errors": [
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"A pull request already exists for {label}.",
                        }
                    ],
                    "documentation_url": DOCS,
                }
            number = len(state.pulls) + 1
            pull = {
                "url": f"{state.url}/repos/{state.owner}/{state.repo}/pulls/{number}",
                "html_url": f"https://github.com/{state.owner}/{state.repo}/pull/{number}",
                "number": number,
                "state": "open",
                "title": body["title"],
                "body": body.get("body"),
                "labels": [],
                "head": {"ref": body["head"], "label": label},
                "base": {"ref": body["base"], "label": f"{state.owner}:{body['base']}"},
            }
            state.pulls.append(pull)
            return 201, pull

        def _label(self, number: int, body: Any) -> tuple[int, Any]:
            if state.fail_labels is not None:
                return state.fail_labels, {
                    "message": "Resource not accessible by integration",
                    "documentation_url": DOCS,
                }
            pull = next((p for p in state.pulls if p["number"] == number), None)
            if pull is None:
                return 404, {"message": "Not Found", "documentation_url": DOCS}
            names = body.get("labels") if isinstance(body, dict) else None
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                return 422, {"message": "Invalid request.", "documentation_url": DOCS}
            for name in names:
                if name not in [label["name"] for label in pull["labels"]]:
                    pull["labels"].append({"name": name, "color": "ededed", "default": False})
            return 200, pull["labels"]

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

    return Handler


class GitHubServer:
    """Runs :class:`FakeGitHub` on 127.0.0.1 in a thread."""

    def __init__(self) -> None:
        self.state = FakeGitHub()
        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), _handler(self.state))
        self.state.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGitHub:
        self._thread.start()
        return self.state

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
