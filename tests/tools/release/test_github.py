"""The GitHub client against the local test server."""

from __future__ import annotations

import pytest

from tests.support.github import FakeGitHub, GitHubServer
from tools.errors import UserError
from tools.release.github import (
    GitHubClient,
    GitHubError,
    PullRequestExists,
    RepoSlug,
    api_url_from,
    parse_remote_url,
    token_from_env,
)

REPO = RepoSlug("example-org", "gitops")


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/example-org/gitops.git",
        "https://github.com/example-org/gitops",
        "https://x-access-token:abc@github.com/example-org/gitops.git",
        "git@github.com:example-org/gitops.git",
        "ssh://git@github.com/example-org/gitops.git",
        "ssh://git@ghe.example.com:2222/example-org/gitops",
        "https://ghe.example.com/example-org/gitops/",
    ],
)
def test_parse_remote_url(url: str) -> None:
    assert parse_remote_url(url) == REPO


@pytest.mark.parametrize("url", ["/srv/git/gitops.git", "file:///tmp/x", "https://github.com/only"])
def test_parse_remote_url_rejects(url: str) -> None:
    with pytest.raises(UserError, match="cannot tell the GitHub owner/repository"):
        parse_remote_url(url)


def test_env_helpers() -> None:
    assert token_from_env({"GH_TOKEN": "b"}) == "b"
    assert token_from_env({"GITHUB_TOKEN": "a", "GH_TOKEN": "b"}) == "a"
    assert token_from_env({}) is None
    assert api_url_from(None, {}) == "https://api.github.com"
    assert api_url_from(None, {"GITHUB_API_URL": "https://ghe/api/v3/"}) == "https://ghe/api/v3"
    assert api_url_from("https://x/api/v3", {"GITHUB_API_URL": "y"}) == "https://x/api/v3"


@pytest.fixture
def server() -> FakeGitHub:
    with GitHubServer() as state:
        yield state


@pytest.mark.integration
def test_create_find_and_label(server: FakeGitHub) -> None:
    with GitHubClient(server.token, server.url) as client:
        assert client.find_open_pull(REPO, "gitops/bump/x") is None
        pull = client.create_pull(REPO, head="gitops/bump/x", base="main", title="t", body="b")
        assert (pull.number, pull.head, pull.base) == (1, "gitops/bump/x", "main")
        assert pull.url == "https://github.com/example-org/gitops/pull/1"
        assert client.find_open_pull(REPO, "gitops/bump/x") == pull
        client.add_labels(REPO, 1, ["gitops", "env:staging"])
    listed = server.calls("GET", "/pulls")[0]
    assert listed.query == {
        "head": ["example-org:gitops/bump/x"],
        "state": ["open"],
        "per_page": ["10"],
    }
    created = server.calls("POST", "/pulls")[0]
    assert created.body == {"title": "t", "head": "gitops/bump/x", "base": "main", "body": "b"}
    assert created.headers["Authorization"] == f"Bearer {server.token}"
    assert created.headers["Accept"] == "application/vnd.github+json"
    assert created.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert server.calls("POST", "/issues/1/labels")[0].body == {"labels": ["gitops", "env:staging"]}
    assert [label["name"] for label in server.pulls[0]["labels"]] == ["gitops", "env:staging"]


@pytest.mark.integration
def test_already_exists_is_its_own_error(server: FakeGitHub) -> None:
    with GitHubClient(server.token, server.url) as client:
        client.create_pull(REPO, head="b", base="main", title="t", body="")
        with pytest.raises(
            PullRequestExists, match="A pull request already exists for example-org:b"
        ):
            client.create_pull(REPO, head="b", base="main", title="t", body="")


@pytest.mark.integration
@pytest.mark.parametrize(
    ("token", "repo", "status", "hint"),
    [
        ("wrong", REPO, 401, "GITHUB_TOKEN"),
        ("test-token", RepoSlug("example-org", "nope"), 404, "wrong owner/repository"),
    ],
)
def test_errors(server: FakeGitHub, token: str, repo: RepoSlug, status: int, hint: str) -> None:
    with GitHubClient(token, server.url) as client, pytest.raises(GitHubError) as info:
        client.find_open_pull(repo, "b")
    assert info.value.status == status
    assert str(status) in info.value.message
    assert info.value.hint is not None and hint in info.value.hint


@pytest.mark.integration
def test_forbidden_names_permissions(server: FakeGitHub) -> None:
    server.fail_create = 403
    with GitHubClient(server.token, server.url) as client, pytest.raises(GitHubError) as info:
        client.create_pull(REPO, head="b", base="main", title="t", body="")
    assert "403 Resource not accessible by integration" in info.value.message
    assert info.value.hint is not None and "pull-requests: write" in info.value.hint


def test_unreachable_api_is_a_clear_error() -> None:
    from tests.support.net import free_port

    with (
        GitHubClient("t", f"http://127.0.0.1:{free_port()}", timeout=2) as client,
        pytest.raises(GitHubError, match="GitHub API: list pull requests"),
    ):
        client.find_open_pull(REPO, "b")
