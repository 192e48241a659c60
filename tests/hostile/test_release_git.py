"""A failing git command is reported with everything git said, not only its last line.

Before issue #15 a failed ``git fetch`` reported "and the repository exists." — the last line
of a four-line explanation whose first line names the actual problem.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.gitops import failed_cleanly, run_gitops
from tests.support.gitrepo import make_remote

IMAGE = "ghcr.io/example-org/model-api"


def test_failed_fetch_keeps_the_whole_stderr(tmp_path: Path) -> None:
    remote = make_remote(tmp_path)
    shutil.rmtree(remote.bare)  # the remote is gone
    done = run_gitops(
        "bump",
        *("--repo-dir", str(remote.work), "--env", "staging", "--image", IMAGE, "--tag", "2"),
        "--no-pr",
        timeout=60,
        memory_mib=512,
    )
    err = failed_cleanly(done)
    assert "git fetch failed (exit code 128):" in err
    assert f"'{remote.bare}' does not appear to be a git repository" in err
    assert "Could not read from remote repository." in err
    assert "and the repository exists." in err
