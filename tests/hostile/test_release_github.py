"""Hostile GitHub answers end ``gitops bump`` with exit 2 naming the call, endpoint and status.

Each case runs the real command in a child process under memory, CPU and time caps against the
GitHub stand-in (tests/support/github.py), which answers with the documented shapes except for
the one answer the case replaces. Before issue #15 most of these ended in a Python traceback
(exit 1), and a failure after the pull request was opened deleted its branch (closing it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.github import FakeGitHub, GitHubServer, RawAnswer
from tests.support.gitops import failed_cleanly, run_gitops
from tests.support.gitrepo import Remote, make_remote

IMAGE = "ghcr.io/example-org/model-api"
BRANCH = "gitops/bump/staging/model-api-1.1.0"
LIST = "list pull requests (GET /repos/example-org/gitops/pulls)"
CREATE = "create pull request (POST /repos/example-org/gitops/pulls)"
HTML = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>proxy</body></html>"


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return make_remote(tmp_path)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with GitHubServer() as state:
        yield state


def bump_pr(remote: Remote, github: FakeGitHub) -> str:
    """Run a PR bump that must fail cleanly; its stderr."""
    done = run_gitops(
        "bump",
        *("--repo-dir", str(remote.work), "--env", "staging", "--image", IMAGE, "--tag", "1.1.0"),
        env={"GITHUB_TOKEN": github.token, "GITHUB_API_URL": github.url},
    )
    return failed_cleanly(done)


def test_html_page_with_200_is_named_not_parsed(remote: Remote, github: FakeGitHub) -> None:
    github.raw[("GET", "/pulls")] = RawAnswer(200, HTML, "text/html; charset=utf-8")
    head = remote.head()
    err = bump_pr(remote, github)
    assert f"GitHub API: {LIST}: 200: the answer is not valid JSON (text/html" in err
    assert (remote.head(), remote.branches()) == (head, ["main"])


def test_422_whose_errors_is_not_an_array(remote: Remote, github: FakeGitHub) -> None:
    github.raw[("POST", "/pulls")] = RawAnswer(
        422, b'{"message": "Validation Failed", "errors": 5}'
    )
    err = bump_pr(remote, github)
    assert f"GitHub API: {CREATE}: 422 Validation Failed" in err
    # GitHub says no pull request uses the branch: it is removed again
    assert remote.branches() == ["main"] and github.pulls == []


def test_error_page_from_a_proxy(remote: Remote, github: FakeGitHub) -> None:
    github.raw[("GET", "/pulls")] = RawAnswer(502, HTML, "text/html")
    err = bump_pr(remote, github)
    assert f"GitHub API: {LIST}: 502 Bad Gateway (a non-GitHub answer (text/html))" in err


def test_truncated_answer_after_the_pull_request_was_opened(
    remote: Remote, github: FakeGitHub
) -> None:
    # The pull request is created, but the answer that says so is cut off.
    cut = b'{"url": "https://api.github.com/repos/example-org/gitops/pulls/1", "number": 1, "he'
    github.raw[("POST", "/pulls")] = RawAnswer(201, cut, handled=True)
    err = bump_pr(remote, github)
    assert f"GitHub API: {CREATE}: 201: the answer is not valid JSON" in err
    # never delete a branch that has a pull request: it would close it
    assert BRANCH in remote.branches()
    assert [p["state"] for p in github.pulls] == ["open"]


def test_pull_request_of_the_wrong_shape(remote: Remote, github: FakeGitHub) -> None:
    body = b'{"number": "1", "html_url": "https://github.com/o/r/pull/1", "head": {"ref": "x"}}'
    github.raw[("POST", "/pulls")] = RawAnswer(201, body)
    err = bump_pr(remote, github)
    assert f"{CREATE}: 201: unexpected answer: pull request number '1' is not a positive" in err
    assert remote.branches() == ["main"]


def test_deeply_nested_answer(remote: Remote, github: FakeGitHub) -> None:
    github.raw[("GET", "/pulls")] = RawAnswer(200, b"[" * 100_000 + b"]" * 100_000)
    err = bump_pr(remote, github)
    assert f"GitHub API: {LIST}: 200: the answer is too deeply nested" in err


def test_oversized_answer_is_not_read(remote: Remote, github: FakeGitHub) -> None:
    github.raw[("GET", "/pulls")] = RawAnswer(200, b"[" + b"0," * (3 * 1024 * 1024) + b"0]")
    err = bump_pr(remote, github)
    assert f"GitHub API: {LIST}: 200: the answer is larger than 2048 KiB" in err


def test_label_failure_keeps_the_pull_request_and_its_branch(
    remote: Remote, github: FakeGitHub
) -> None:
    github.fail_labels = 403
    done = run_gitops(
        "bump",
        *("--repo-dir", str(remote.work), "--env", "staging", "--image", IMAGE, "--tag", "1.1.0"),
        env={"GITHUB_TOKEN": github.token, "GITHUB_API_URL": github.url},
    )
    err = failed_cleanly(done)
    url = "https://github.com/example-org/gitops/pull/1"
    assert f"pull request #1 is open ({url}), but labelling it failed" in err
    assert "label pull request #1 (POST /repos/example-org/gitops/issues/1/labels): 403" in err
    assert f"opened pull request #1: {url}" in done.stdout
    assert BRANCH in remote.branches()
    assert [p["state"] for p in github.pulls] == ["open"]


def test_pull_request_that_exists_but_is_not_listed_keeps_its_branch(
    remote: Remote, github: FakeGitHub
) -> None:
    # Another job opened the pull request for this branch; the list does not show it yet, so
    # this run pushes the branch and GitHub answers 422 "A pull request already exists".
    created = httpx.post(
        f"{github.url}/repos/example-org/gitops/pulls",
        headers={"Authorization": f"Bearer {github.token}"},
        json={"title": "t", "head": BRANCH, "base": "main", "body": ""},
    )
    assert created.status_code == 201
    github.hide_open_pulls = 100
    err = bump_pr(remote, github)
    assert f"GitHub API: {CREATE}: 422 Validation Failed: A pull request already exists" in err
    assert BRANCH in remote.branches()  # deleting it would close the other job's pull request
