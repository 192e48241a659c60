"""``gitops promote`` end to end."""

from __future__ import annotations

import pytest

from tests.support.github import FakeGitHub
from tests.support.gitrepo import Remote, git
from tools.cli import main

IMAGE = "ghcr.io/example-org/model-api"
STAGING = "overlays/staging/kustomization.yaml"
PRODUCTION = "overlays/production/kustomization.yaml"
DIGEST = "sha256:" + "3" * 64
SHORT = "sha256:" + "3" * 12

pytestmark = pytest.mark.integration


def run(remote: Remote, command: str, *args: str) -> int:
    return main([command, "--repo-dir", str(remote.work), *args])


def test_tag_only_source_is_refused_for_production(
    remote: Remote, capsys: pytest.CaptureFixture[str]
) -> None:
    head = remote.head()
    assert run(remote, "promote", "--from", "staging", "--to", "production", "--no-pr") == 1
    err = capsys.readouterr().err
    assert f"staging runs {IMAGE}:1.0.0 by tag only" in err
    assert "production accepts only images pinned by digest" in err
    assert f"gitops bump --env staging --image {IMAGE} --digest" in err
    assert remote.head() == head


def test_promote_copies_the_exact_digest_and_names_the_source_commit(
    remote: Remote, github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--env", "staging", "--image", IMAGE, "--tag", "1.4.0", "--digest", DIGEST, "--no-pr"]
    assert run(remote, "bump", *args) == 0
    staging_commit = remote.head()
    # an unrelated later commit must not be named as the source
    other = remote.clone("other")
    (other / "README.md").write_text("docs\n", encoding="utf-8")
    git(other, "add", "README.md")
    git(other, "commit", "-qm", "docs: readme")
    git(other, "push", "-q", "origin", "main")
    capsys.readouterr()

    # the exact flags of .github/workflows/cd.yml (production-pr job)
    promote = ["--from", "staging", "--to", "production", "--image", IMAGE, "--pr"]
    assert run(remote, "promote", *promote) == 0
    out = capsys.readouterr().out
    assert "opened pull request #1" in out
    branch = f"gitops/promote/production/model-api-{'3' * 12}"
    promoted = remote.show(PRODUCTION, branch)
    assert f"digest: {DIGEST}\n    newTag: 1.4.0" in promoted  # existing key kept first
    assert "# production is pinned by digest (promoted from staging)" in promoted
    pull = github.calls("POST", "/pulls")[0].body
    assert pull["title"] == f"chore(production): promote {IMAGE} to 1.4.0@{SHORT} from staging"
    assert f"| new | `{IMAGE}:1.4.0@{DIGEST}` |" in pull["body"]
    assert f"commit {staging_commit[:12]} (chore(staging): bump {IMAGE}" in pull["body"]
    assert "changed: `Deployment model-api-production/model-api`" in pull["body"]
    message = git(remote.bare, "log", "-1", "--format=%B", branch)
    assert message.endswith(f"\n\nSource-Commit: {staging_commit}")
    assert f"@{DIGEST}" in message  # the body carries the full reference

    # promoting again while the PR is open changes nothing
    assert run(remote, "promote", "--from", "staging", "--to", "production") == 0
    assert "pull request already open" in capsys.readouterr().out
    assert len(github.pulls) == 1


def test_promote_no_pr_and_noop(remote: Remote, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--env", "staging", "--image", IMAGE, "--digest", DIGEST, "--no-pr"]
    assert run(remote, "bump", *args) == 0
    assert run(remote, "promote", "--from", "staging", "--to", "production", "--no-pr") == 0
    assert f"digest: {DIGEST}" in remote.show(PRODUCTION)
    assert remote.subjects()[0] == f"chore(production): promote {IMAGE} to {SHORT} from staging"
    capsys.readouterr()
    head = remote.head()
    assert run(remote, "promote", "--from", "staging", "--to", "production", "--no-pr") == 0
    assert "already at" in capsys.readouterr().out
    assert remote.head() == head


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--from", "staging", "--to", "staging"], "same environment"),
        (
            ["--from", "staging", "--to", "production", "--image", "ghcr.io/x/y"],
            f"no images entry named 'ghcr.io/x/y'; the images it lists: {IMAGE}",
        ),
        (["--from", "qa", "--to", "production"], "overlays/qa/kustomization.yaml does not exist"),
    ],
)
def test_promote_usage_errors(
    remote: Remote, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    assert run(remote, "promote", *args, "--no-pr") == 2
    assert needle in capsys.readouterr().err
