"""Real git repositories for the release tests: a bare remote seeded with tests/data/bump/repo
and working clones that call it by a GitHub URL."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import TEST_DATA

DATA = TEST_DATA / "bump"
# The clones call the remote by a GitHub-style URL; git rewrites it to the local bare repository,
# so owner/repo parsing sees a real URL while pushes stay on this machine.
REMOTE_URL = "https://github.com/example-org/gitops.git"


def git(cwd: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin", "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1"},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


@dataclass
class Remote:
    root: Path
    bare: Path
    work: Path

    def clone(self, name: str) -> Path:
        path = self.root / name
        git(self.root, "clone", "--quiet", str(self.bare), str(path))
        configure(path, self.bare)
        return path

    def show(self, path: str, ref: str = "main") -> str:
        return git(self.bare, "show", f"{ref}:{path}")

    def head(self, ref: str = "main") -> str:
        return git(self.bare, "rev-parse", ref)

    def branches(self) -> list[str]:
        out = git(self.bare, "for-each-ref", "--format=%(refname:short)", "refs/heads")
        return sorted(out.splitlines())

    def subjects(self, ref: str = "main") -> list[str]:
        return git(self.bare, "log", "--format=%s", ref).splitlines()


def configure(clone: Path, bare: Path) -> None:
    git(clone, "config", "user.name", "Test Bot")
    git(clone, "config", "user.email", "bot@example.org")
    git(clone, "config", "commit.gpgsign", "false")
    git(clone, "remote", "set-url", "origin", REMOTE_URL)
    git(clone, "config", f"url.{bare}.insteadOf", REMOTE_URL)


def make_remote(root: Path, source: Path = DATA / "repo") -> Remote:
    """A bare remote seeded with ``source`` (one commit on main) and a configured clone."""
    seed = root / "seed"
    shutil.copytree(source, seed)
    git(seed, "init", "--quiet", "-b", "main")
    git(seed, "config", "user.name", "Seeder")
    git(seed, "config", "user.email", "seed@example.org")
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "initial manifests")
    bare = root / "remote.git"
    git(root, "init", "--quiet", "--bare", "-b", "main", str(bare))
    git(seed, "push", "--quiet", str(bare), "main")
    shutil.rmtree(seed)
    remote = Remote(root, bare, root / "work")
    git(root, "clone", "--quiet", str(bare), str(remote.work))
    configure(remote.work, bare)
    return remote
