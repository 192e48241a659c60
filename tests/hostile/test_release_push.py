"""``--no-pr`` pushes that race: backoff with jitter lets them all land, within a time bound.

Before issue #15 a push that lost the race was retried at once, five times: 3 of 8 concurrent
bumps gave up. Each bump here runs in its own clone (as separate CI jobs would) in a child
process under memory, CPU and time caps.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support.bounded import Outcome
from tests.support.gitops import failed_cleanly, run_gitops
from tests.support.gitrepo import Remote, make_remote
from tools.release.kustomization import find_image

IMAGE = "ghcr.io/example-org/model-api"
STAGING = "overlays/staging/kustomization.yaml"


def bump(clone: Path, tag: str) -> Outcome:
    args = ("--repo-dir", str(clone), "--env", "staging", "--image", IMAGE, "--tag", tag)
    return run_gitops("bump", *args, "--no-pr", timeout=300, memory_mib=1024)


def slow_pre_push(clone: Path) -> None:
    """Widen the window between fetching the base and pushing onto it."""
    hook = clone / ".git" / "hooks" / "pre-push"
    hook.write_text("#!/bin/sh\nsleep 0.3\n", encoding="utf-8")
    hook.chmod(0o755)


def test_eight_concurrent_bumps_all_land(tmp_path: Path) -> None:
    remote = make_remote(tmp_path)
    tags = [f"4.0.{i}" for i in range(8)]
    clones = [remote.clone(f"job-{i}") for i in range(8)]
    for clone in clones:
        slow_pre_push(clone)
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(bump, clones, tags))
    for outcome in outcomes:
        assert not outcome.timed_out and outcome.returncode == 0, str(outcome)
    subjects = remote.subjects()
    assert len(subjects) == 1 + len(tags)  # the initial commit and one per bump
    assert sorted(subjects[:-1]) == sorted(f"chore(staging): bump {IMAGE} to {t}" for t in tags)
    entry = find_image(remote.show(STAGING) + "\n", IMAGE)
    assert entry is not None and entry.tag == subjects[0].rsplit(" ", 1)[-1]


def test_a_branch_that_keeps_moving_is_given_up_within_the_configured_time(
    tmp_path: Path,
) -> None:
    remote: Remote = make_remote(tmp_path)
    # The remote refuses every update the way git reports a lost ref-update race.
    hook = remote.bare / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\necho \"error: cannot lock ref 'refs/heads/main': is at 0 but expected 1\" >&2"
        "\nexit 1\n",
        encoding="utf-8",
    )
    hook.chmod(0o755)
    (remote.work / "pyproject.toml").write_text(
        "[tool.gitops.bump]\npush-attempts = 20\npush-timeout = 3\npush-backoff = 0.5\n",
        encoding="utf-8",
    )
    head = remote.head()
    done = run_gitops(
        "bump",
        *("--repo-dir", str(remote.work), "--env", "staging", "--image", IMAGE, "--tag", "5"),
        "--no-pr",
        timeout=90,
        memory_mib=1024,
    )
    err = failed_cleanly(done)
    assert "(3s of retries at most): origin/main kept moving" in err
    assert "origin/main moved; re-applying on" in done.stdout
    assert remote.head() == head
