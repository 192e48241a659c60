"""``gitops bump`` end to end: a temporary repository, a bare remote, the test GitHub server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.github import FakeGitHub
from tests.support.gitrepo import DATA, Remote, git
from tools.cli import main

IMAGE = "ghcr.io/example-org/model-api"
STAGING = "overlays/staging/kustomization.yaml"
PRODUCTION = "overlays/production/kustomization.yaml"
DIGEST = "sha256:" + "2" * 64

pytestmark = pytest.mark.integration


def bump(remote: Remote, *args: str) -> int:
    return main(["bump", "--repo-dir", str(remote.work), "--image", IMAGE, *args])


def snapshot(remote: Remote) -> tuple[str, list[str], str, str, list[str]]:
    """Everything a failed or dry run must leave alone."""
    return (
        remote.head(),
        remote.branches(),
        git(remote.work, "status", "--porcelain", "--ignored"),
        git(remote.work, "for-each-ref"),
        git(remote.work, "worktree", "list", "--porcelain").splitlines(),
    )


def test_no_pr_pushes_one_line_change(remote: Remote, capsys: pytest.CaptureFixture[str]) -> None:
    before = remote.show(STAGING)
    local_head = git(remote.work, "rev-parse", "HEAD")
    assert bump(remote, "--env", "staging", "--tag", "1.1.0", "--no-pr") == 0
    after = remote.show(STAGING)
    assert after == before.replace('newTag: "1.0.0"', 'newTag: "1.1.0"')
    message = git(remote.bare, "log", "-1", "--format=%B", "main")
    assert message.startswith(f"chore(staging): bump {IMAGE} to 1.1.0\n")
    assert f"{IMAGE}:1.0.0\n  → {IMAGE}:1.1.0" in message
    assert "pushed" in capsys.readouterr().out
    # the user's checkout is untouched; only the remote-tracking ref moved
    assert git(remote.work, "rev-parse", "HEAD") == local_head
    assert git(remote.work, "status", "--porcelain") == ""
    assert git(remote.work, "rev-parse", "origin/main") == remote.head()
    assert len(git(remote.work, "worktree", "list").splitlines()) == 1


def test_already_at_reference_is_a_noop(remote: Remote, capsys: pytest.CaptureFixture[str]) -> None:
    head = remote.head()
    assert bump(remote, "--env", "staging", "--tag", "1.0.0", "--no-pr") == 0
    assert "already at 1.0.0; nothing to do" in capsys.readouterr().out
    assert remote.head() == head


def test_dry_run_touches_nothing(remote: Remote, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(remote)
    assert bump(remote, "--env", "staging", "--tag", "1.2.0", "--dry-run") == 0
    out = capsys.readouterr().out
    assert '-    newTag: "1.0.0"\n+    newTag: "1.2.0"' in out
    assert "open PR: gitops/bump/staging/model-api-1.2.0 → main" in out
    assert "changed: Deployment model-api-staging/model-api" in out
    assert snapshot(remote) == before


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--tag=-x"], "not a valid OCI tag"),
        (["--digest", "sha256:abc"], "not a sha256 digest"),
        (["--env", "Staging!", "--tag", "1"], "not a valid name"),
        ([], "nothing to set"),
    ],
)
def test_bad_input_is_refused(
    remote: Remote, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    before = snapshot(remote)
    env = [] if "--env" in args else ["--env", "staging"]
    assert bump(remote, *env, *args, "--no-pr") == 2
    assert needle in capsys.readouterr().err
    assert snapshot(remote) == before


def test_unknown_env_lists_the_real_ones(
    remote: Remote, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bump(remote, "--env", "qa", "--tag", "1", "--no-pr") == 2
    err = capsys.readouterr().err
    assert "overlays/qa/kustomization.yaml does not exist on main" in err
    assert "environments: production, staging" in err


def test_production_needs_a_digest(remote: Remote, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(remote)
    assert bump(remote, "--env", "production", "--tag", "1.1.0", "--no-pr") == 1
    assert "production accepts only images pinned by digest" in capsys.readouterr().err
    assert snapshot(remote) == before
    assert bump(remote, "--env", "production", "--digest", DIGEST, "--no-pr") == 0
    assert f"digest: {DIGEST}" in remote.show(PRODUCTION)


def test_validation_failure_commits_nothing(
    remote: Remote, capsys: pytest.CaptureFixture[str]
) -> None:
    # Relax the tool's own digest rule so the change reaches the validator, whose policy
    # (tests/data/bump/repo/policies/digest.rego) refuses an unpinned production image.
    (remote.work / "pyproject.toml").write_text(
        "[tool.gitops.bump]\nrequire-digest = { production = false }\n", encoding="utf-8"
    )
    before = snapshot(remote)
    assert bump(remote, "--env", "production", "--tag", "1.1.0", "--no-pr") == 1
    err = capsys.readouterr().err
    assert "makes overlays/production invalid, nothing was committed" in err
    assert "deny_unpinned_production_image" in err
    assert snapshot(remote) == before


def test_push_rejected_by_hook_leaves_everything(
    remote: Remote, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = remote.bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'main is protected' >&2\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)
    before = snapshot(remote)
    assert bump(remote, "--env", "staging", "--tag", "1.1.0", "--no-pr") == 2
    err = capsys.readouterr().err
    assert "refused the push to main" in err
    assert snapshot(remote) == before


def test_concurrent_push_is_retried_on_the_new_head(
    remote: Remote, capsys: pytest.CaptureFixture[str]
) -> None:
    """Someone pushes between our fetch and our push: we re-apply on their commit."""
    other = remote.clone("other")
    marker = remote.root / "raced"
    hook = remote.work / ".git" / "hooks" / "pre-push"
    hook.write_text(
        "#!/bin/sh\n"
        f"[ -e {marker} ] && exit 0\n"
        f"touch {marker}\n"
        f"cd {other} && unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE && "
        "sed -i 's/namespace: model-api-production/namespace: model-api-production # edited/' "
        "overlays/production/kustomization.yaml && "
        "git commit -qam 'concurrent edit' && git push -q origin main\n",
        encoding="utf-8",
    )
    hook.chmod(0o755)
    assert bump(remote, "--env", "staging", "--tag", "1.3.0", "--no-pr") == 0
    out = capsys.readouterr().out
    assert "origin/main moved; re-applying" in out
    assert remote.subjects()[:2] == [
        f"chore(staging): bump {IMAGE} to 1.3.0",
        "concurrent edit",
    ]
    assert 'newTag: "1.3.0"' in remote.show(STAGING)
    assert "# edited" in remote.show(PRODUCTION)


# --------------------------------------------------------------------------- pull requests


def test_pr_flow_opens_one_pull_request(
    remote: Remote, github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    head = remote.head()
    assert bump(remote, "--env", "staging", "--tag", "1.1.0") == 0
    assert "opened pull request #1: https://github.com/example-org/gitops/pull/1" in (
        capsys.readouterr().out
    )
    branch = "gitops/bump/staging/model-api-1.1.0"
    assert remote.head() == head  # base untouched
    assert branch in remote.branches()
    assert 'newTag: "1.1.0"' in remote.show(STAGING, branch)
    created = github.calls("POST", "/pulls")
    assert len(created) == 1
    body = created[0].body
    assert body["head"] == branch and body["base"] == "main"
    assert body["title"] == f"chore(staging): bump {IMAGE} to 1.1.0"
    assert "- changed: `Deployment model-api-staging/model-api` (apps/v1)" in body["body"]
    assert f"| old | `{IMAGE}:1.0.0` |" in body["body"]
    assert f"+      - image: {IMAGE}:1.1.0" in body["body"]
    assert "<summary>changed: <code>Deployment model-api-staging/model-api</code>" in body["body"]
    labels = github.calls("POST", "/issues/1/labels")
    assert labels[0].body == {"labels": ["gitops", "env:staging"]}
    assert created[0].headers["Authorization"] == f"Bearer {github.token}"

    # The same bump again: the PR is open, so nothing at all changes.
    branches = remote.branches()
    assert bump(remote, "--env", "staging", "--tag", "1.1.0", "--label", "x") == 0
    assert (
        "pull request already open, nothing changed: https://github.com/example-org/gitops/pull/1"
        in (capsys.readouterr().out)
    )
    assert len(github.calls("POST", "/pulls")) == 1
    assert len(github.calls("POST", "/labels")) == 1
    assert remote.branches() == branches


def test_pr_race_with_422_reports_the_existing_pull(
    remote: Remote, github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bump(remote, "--env", "staging", "--digest", DIGEST) == 0
    capsys.readouterr()
    github.hide_open_pulls_once = True  # the list misses it, so the create answers 422
    assert bump(remote, "--env", "staging", "--digest", DIGEST) == 0
    assert "opened pull request #1" in capsys.readouterr().out
    assert len(github.pulls) == 1
    assert [r.path for r in github.calls("POST", "/pulls")] == [
        "/repos/example-org/gitops/pulls",
        "/repos/example-org/gitops/pulls",
    ]


def test_pr_failure_after_push_removes_the_branch(
    remote: Remote, github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    github.fail_create = 403
    before = snapshot(remote)
    assert bump(remote, "--env", "staging", "--tag", "1.1.0") == 2
    err = capsys.readouterr().err
    assert "403 Resource not accessible by integration" in err
    assert snapshot(remote) == before


def test_bad_credentials_push_nothing(
    remote: Remote,
    github: FakeGitHub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "expired")
    before = snapshot(remote)
    assert bump(remote, "--env", "staging", "--tag", "1.1.0") == 2
    err = capsys.readouterr().err
    assert "401 Bad credentials" in err and "GITHUB_TOKEN" in err
    assert snapshot(remote) == before
    assert github.calls("GET", "/pulls")[0].headers["Authorization"] == "Bearer expired"


def test_missing_token_is_explained(
    remote: Remote, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    assert bump(remote, "--env", "staging", "--tag", "1.1.0") == 2
    assert "needs a GitHub token" in capsys.readouterr().err


def test_enterprise_api_url_and_repo_flag(
    remote: Remote, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9/unused")
    github.owner, github.repo = "platform", "deploys"
    args = ["--env", "staging", "--tag", "1.1.0", "--github-api", github.url]
    assert bump(remote, *args, "--github-repo", "platform/deploys") == 0
    assert github.calls("POST", "/pulls")[0].path == "/repos/platform/deploys/pulls"


def test_image_reference_inline(remote: Remote) -> None:
    base = ["bump", "--repo-dir", str(remote.work), "--env", "staging", "--no-pr"]
    assert main([*base, "--image", f"{IMAGE}:1.5.0"]) == 0
    assert 'newTag: "1.5.0"' in remote.show(STAGING)
    assert main([*base, "--image", f"{IMAGE}:1.6.0", "--tag", "1.7.0"]) == 2


def test_leftover_branch_with_same_content_is_reused(
    remote: Remote, github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run pushed its branch and then died before opening the PR: the rerun finishes it."""
    github.fail_create = 500
    assert bump(remote, "--env", "staging", "--tag", "1.1.0") == 2
    branch = "gitops/bump/staging/model-api-1.1.0"
    # put the branch back as a crashed run would have left it
    other = remote.clone("other")
    git(other, "checkout", "-qb", branch)
    path = other / STAGING
    path.write_text(path.read_text().replace('"1.0.0"', '"1.1.0"'))
    git(other, "commit", "-qam", "leftover")
    git(other, "push", "-q", "origin", branch)
    github.fail_create = None
    capsys.readouterr()
    assert bump(remote, "--env", "staging", "--tag", "1.1.0") == 0
    assert "opened pull request #1" in capsys.readouterr().out
    assert git(remote.bare, "log", "-1", "--format=%s", branch) == "leftover"


def test_leftover_branch_with_other_content_is_refused(
    remote: Remote, github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    other = remote.clone("other")
    branch = "gitops/bump/staging/model-api-1.1.0"
    git(other, "checkout", "-qb", branch)
    (other / "README.md").write_text("x\n")
    git(other, "add", "README.md")
    git(other, "commit", "-qm", "unrelated")
    git(other, "push", "-q", "origin", branch)
    sha = remote.head(branch)
    assert bump(remote, "--env", "staging", "--tag", "1.1.0") == 2
    err = capsys.readouterr().err
    assert f"branch {branch} already exists on origin with different content" in err
    assert remote.head(branch) == sha
    assert github.calls("POST", "/pulls") == []


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ("require-digest = { production = 'yes' }", "require-digest must map"),
        ("push-attempts = 0", "push-attempts must be an integer"),
        ("labels = 'gitops'", "labels must be a list"),
        ("push-timeout = 0", "push-timeout must be a number of seconds from 1 to 3600"),
        ("push-backoff = true", "push-backoff must be a number of seconds from 0 to 16"),
    ],
)
def test_bad_config_is_named(
    remote: Remote, capsys: pytest.CaptureFixture[str], table: str, needle: str
) -> None:
    (remote.work / "pyproject.toml").write_text(f"[tool.gitops.bump]\n{table}\n")
    assert bump(remote, "--env", "staging", "--tag", "1.1.0", "--no-pr") == 2
    assert needle in capsys.readouterr().err


def test_dry_run_without_a_remote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "solo"
    shutil.copytree(DATA / "repo", repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qm", "init")
    args = ["bump", "--repo-dir", str(repo), "--env", "staging", "--image", IMAGE, "--tag", "2"]
    assert main([*args, "--dry-run", "--no-pr"]) == 0
    assert "base:    origin/main at" in capsys.readouterr().out
    assert main([*args, "--no-pr"]) == 2
    assert "no git remote named 'origin'" in capsys.readouterr().err
