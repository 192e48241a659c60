from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.github import FakeGitHub, GitHubServer
from tests.support.gitrepo import Remote, make_remote


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return make_remote(tmp_path)


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    with GitHubServer() as state:
        monkeypatch.setenv("GITHUB_TOKEN", state.token)
        monkeypatch.delenv("GH_TOKEN", raising=False)
        monkeypatch.setenv("GITHUB_API_URL", state.url)
        yield state
