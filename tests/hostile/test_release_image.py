"""A typo in ``--image`` is an error that lists the overlay's images, never a no-op commit.

Before issue #15, ``gitops bump --image <typo> --no-pr`` added an ``images:`` entry that no
container uses and pushed that commit to the base branch.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.gitops import failed_cleanly, run_gitops
from tests.support.gitrepo import make_remote


def test_image_not_in_the_overlay_lists_the_images_that_are(tmp_path: Path) -> None:
    remote = make_remote(tmp_path)
    head = remote.head()
    done = run_gitops(
        "bump",
        *("--repo-dir", str(remote.work), "--env", "staging", "--tag", "1.1.0", "--no-pr"),
        *("--image", "ghcr.io/example-org/model-apj"),
        timeout=60,
        memory_mib=512,
    )
    err = failed_cleanly(done)
    assert (
        "overlays/staging/kustomization.yaml has no images entry named "
        "'ghcr.io/example-org/model-apj'; the images it lists: ghcr.io/example-org/model-api"
    ) in err
    assert (remote.head(), remote.branches()) == (head, ["main"])
