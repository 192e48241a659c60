"""``gitops diff``: rendered manifests at a base revision against the working tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.gitrepo import Remote, git
from tests.support.paths import REPO_ROOT
from tools.cli import main
from tools.files import write_atomic
from tools.release.images import ImageRef
from tools.release.kustomization import read_text, set_image
from tools.release.renderdiff import diff_renders, normalise

IMAGE = "ghcr.io/example-org/model-api"
STAGING = "overlays/staging/kustomization.yaml"


def set_tag(root: Path, env: str, tag: str) -> None:
    path = root / f"overlays/{env}/kustomization.yaml"
    write_atomic(path, set_image(read_text(path), ImageRef(IMAGE, tag)))


def diff(remote: Remote, *args: str) -> int:
    return main(["diff", "--repo-dir", str(remote.work), *args])


def test_no_changes(remote: Remote, capsys: pytest.CaptureFixture[str]) -> None:
    assert diff(remote, "--exit-code") == 0
    assert capsys.readouterr().out == "no rendered changes\n"


def test_text_diff_of_an_image_bump(remote: Remote, capsys: pytest.CaptureFixture[str]) -> None:
    set_tag(remote.work, "staging", "1.1.0")
    assert diff(remote) == 0
    out = capsys.readouterr().out
    assert out.startswith("# overlays/staging: 1 changed, 0 added, 0 removed\n")
    assert "--- a/overlays/staging: Deployment model-api-staging/model-api\n" in out
    assert f"-      - image: {IMAGE}:1.0.0\n+      - image: {IMAGE}:1.1.0\n" in out
    assert "overlays/production" not in out
    assert "Service" not in out
    assert diff(remote, "--exit-code") == 1
    # the temporary worktree of the base revision is gone again
    assert len(git(remote.work, "worktree", "list").splitlines()) == 1


def test_markdown_for_a_pr_comment(remote: Remote, capsys: pytest.CaptureFixture[str]) -> None:
    set_tag(remote.work, "staging", "1.1.0")
    base = git(remote.work, "rev-parse", "HEAD")[:12]
    assert diff(remote, "--output", "markdown") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"### Rendered manifest diff against `HEAD ({base})`\n")
    assert "**1 object** in 1 kustomization: 1 changed, 0 added, 0 removed" in out
    assert "#### `overlays/staging`" in out
    assert (
        "<summary>changed: <code>Deployment model-api-staging/model-api</code> (apps/v1)</summary>"
        in out
    )
    assert "```diff\n--- a/overlays/staging: Deployment" in out
    assert out.count("<details>") == out.count("</details>") == 1


def test_added_and_removed_objects(remote: Remote, capsys: pytest.CaptureFixture[str]) -> None:
    base = remote.work / "base"
    (base / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: '1'\n",
        encoding="utf-8",
    )
    kustomization = base / "kustomization.yaml"
    kustomization.write_text(
        read_text(kustomization).replace("  - service.yaml\n", "  - configmap.yaml\n"),
        encoding="utf-8",
    )
    assert diff(remote) == 0
    out = capsys.readouterr().out
    for env in ("production", "staging"):
        assert f"# overlays/{env}: 0 changed, 1 added, 1 removed\n" in out
        assert f"+++ b/overlays/{env}: ConfigMap model-api-{env}/settings\n" in out
        assert f"--- a/overlays/{env}: Service model-api-{env}/model-api\n+++ /dev/null\n" in out
    assert out.index("overlays/production") < out.index("overlays/staging")


def test_deleted_overlay_shows_every_object_removed(
    remote: Remote, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(remote.work / "overlays" / "production")
    assert diff(remote) == 0
    assert "# overlays/production: 0 changed, 0 added, 2 removed\n" in capsys.readouterr().out


def test_base_revision_and_paths(remote: Remote, capsys: pytest.CaptureFixture[str]) -> None:
    set_tag(remote.work, "staging", "1.1.0")
    git(remote.work, "commit", "-qam", "bump")
    assert diff(remote) == 0
    assert capsys.readouterr().out == "no rendered changes\n"
    assert diff(remote, "--base", "HEAD~1") == 0
    assert "1 changed" in capsys.readouterr().out
    assert diff(remote, "--base", "HEAD~1", str(remote.work / "overlays/production")) == 0
    assert capsys.readouterr().out == "no rendered changes\n"
    assert diff(remote, "--base", "HEAD~1", str(remote.work / STAGING)) == 0
    assert "# overlays/staging: 1 changed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--base", "no-such-ref"], "unknown revision 'no-such-ref'"),
        (["/"], "outside the repository"),
    ],
)
def test_errors(
    remote: Remote, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    assert diff(remote, *args) == 2
    assert needle in capsys.readouterr().err


def test_missing_kustomization_path(remote: Remote, capsys: pytest.CaptureFixture[str]) -> None:
    assert diff(remote, str(remote.work / "base" / "nope")) == 2
    assert "no kustomization here or at HEAD" in capsys.readouterr().err


def test_broken_kustomization_is_an_error(
    remote: Remote, capsys: pytest.CaptureFixture[str]
) -> None:
    path = remote.work / STAGING
    path.write_text(read_text(path) + "  - ../missing\n", encoding="utf-8")
    path.write_text(read_text(path).replace("images:", "resources2:"), encoding="utf-8")
    assert diff(remote) == 2
    assert "kustomize build" in capsys.readouterr().err


def test_normalise_is_order_independent() -> None:
    a = "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: n}\nspec: {b: 1, a: 2}\n"
    b = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {x: y}\n"
    one, two = f"{a}---\n{b}", f"{b}---\n" + a.replace("{b: 1, a: 2}", "{a: 2, b: 1}")
    assert normalise(one) == normalise(two)
    assert list(normalise(one)) == [("v1", "ConfigMap", "", "c"), ("v1", "Service", "n", "s")]
    assert diff_renders(one, two) == []


def test_real_overlays_in_a_clone(tmp_path: Path) -> None:
    """The repository's own staging overlay: a bump shows up as a one-image change."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True)
    set_tag(clone, "staging", "9.9.9")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools",
            "diff",
            "--repo-dir",
            str(clone),
            str(clone / "overlays/staging"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"image: {IMAGE}:9.9.9" in proc.stdout
    changed = [line for line in proc.stdout.splitlines() if line.startswith(("+ ", "- ", "+\t"))]
    assert all("image" in line for line in changed if not line.startswith(("+++", "---")))


SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: n
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{{"data":{{"password":"{password}"}}}}'
type: Opaque
data:
  password: {password}
  user: YWRtaW4=
stringData:
  token: {token}
"""


def test_secret_values_never_reach_the_diff() -> None:
    old = SECRET.format(password="c2VjcmV0MQ==", token="tok-1")
    new = SECRET.format(password="c2VjcmV0Mg==", token="tok-1")
    (changed,) = diff_renders(old, new, "overlays/x")
    for value in ("c2VjcmV0MQ==", "c2VjcmV0Mg==", "YWRtaW4=", "tok-1"):
        assert value not in changed.diff
    # like argocd app diff: the changed key shows a longer run of +, unchanged keys none at all
    assert "-  password: ++++++++\n" in changed.diff
    assert "+  password: ++++++++++++\n" in changed.diff
    assert "user:" not in changed.diff.replace("  user: ++++++++\n", "")
    assert "token" not in changed.diff  # same value on both sides: no change to show
    assert diff_renders(old, old) == []


def test_added_secret_and_normalised_text_are_masked() -> None:
    new = SECRET.format(password="c2VjcmV0MQ==", token="tok-1")
    (added,) = diff_renders("", new)
    assert added.status == "added"
    assert "c2VjcmV0MQ==" not in added.diff and "tok-1" not in added.diff
    (text,) = normalise(new).values()
    assert "c2VjcmV0MQ==" not in text and "password: ++++++++" in text
    # other kinds keep their data: a ConfigMap is not a secret
    config = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {password: visible}\n"
    assert "visible" in next(iter(normalise(config).values()))
