#!/usr/bin/env python3
"""Differential check: regorus's interpreter against its compiled VM on damaged objects.

`gitops validate --engine auto` evaluates the policies with regorus's compiled VM and falls back
to the interpreter for an object whose VM answer holds an undefined value (docs/VALIDATE.md,
*Compiled VM*). The two are meant to agree except where a built-in fails: the interpreter reports
a `policy-error`, the VM leaves the expression undefined as conftest and OPA do by default.
This script measures that claim. It takes every YAML document of the repository's manifests and
policy samples, damages copies at random (a value replaced by another type, a key removed, an
image reference altered; one to three changes each), evaluates each copy with both
(`make_evaluator(..., "regorus")` and `make_evaluator(..., "auto")`) and counts the objects whose
findings differ; among those, the ones where the VM reports a finding the interpreter's error
replaced, and the ones where it misses a finding the interpreter reports (expected: none; the
exit status is 1 if there is one).

Usage: .venv/bin/python bench/rego_vm_diff.py [--count 4000] [--seed 1] [--show 3]
"""

from __future__ import annotations

import argparse
import copy
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools import yamlfile  # noqa: E402
from tools.validate.checks.policies import PolicyResult, load_policies, make_evaluator  # noqa: E402

CORPUS_DIRS = ("base", "overlays", "rollouts", "apps", "clusters", "policies", "tests/data")
# What a damaged value becomes: other JSON types, and strings the policies look at.
VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 2.5, "", "x", "latest", "a:b", "ALL", [], {}, [1], {"a": 1},
    "0", "1000m", "ghcr.io/x/y:latest", "nginx",
]  # fmt: skip
SUFFIXES = (":latest", "@sha256:x", "/", "")


def corpus() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for folder in CORPUS_DIRS:
        for path in sorted((ROOT / folder).rglob("*.yaml")):
            try:
                loaded = yamlfile.load_all(path.read_text(encoding="utf-8"), string_keys=False)
            except Exception:  # broken samples are part of tests/data
                continue
            documents += [d for d in loaded if isinstance(d, dict) and "kind" in d]
    return documents


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def damaged(original: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    obj = copy.deepcopy(original)
    for _ in range(rng.randint(1, 3)):
        candidates = [p for p in paths(obj) if p and p != ("kind",)]
        if not candidates:
            break
        where = rng.choice(candidates)
        parent: Any = obj
        for key in where[:-1]:
            parent = parent[key]
        last = where[-1]
        roll = rng.random()
        if roll < 0.4:
            parent[last] = copy.deepcopy(rng.choice(VALUES))
        elif roll < 0.7 and isinstance(parent, dict):
            del parent[last]
        elif isinstance(parent[last], str):
            parent[last] = parent[last] + rng.choice(SUFFIXES)
        else:
            parent[last] = copy.deepcopy(rng.choice(VALUES))
    return obj


def key(results: list[PolicyResult]) -> list[tuple[str, str, str]]:
    return sorted((r.rule, r.severity, r.message) for r in results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/rego_vm_diff.py", description=__doc__)
    parser.add_argument("--count", type=int, default=4000, help="damaged objects (4000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
    parser.add_argument("--show", type=int, default=3, help="differences to print (3)")
    args = parser.parse_args(argv)
    policies = load_policies([ROOT / "policies"], [ROOT / "policies" / "data.yaml"])
    interpreter = make_evaluator(policies, "regorus")
    compiled = make_evaluator(policies, "auto")
    if "rvm" not in compiled.engine_id:
        print("the compiled VM is not available for these policies", file=sys.stderr)
        return 1
    documents = corpus()
    rng = random.Random(args.seed)
    differ = vm_errors = more = fewer = 0
    for _ in range(args.count):
        obj = damaged(rng.choice(documents), rng)
        strict, vm = key(interpreter.evaluate(obj)), key(compiled.evaluate(obj))
        if strict == vm:
            continue
        differ += 1
        found = {r for r in strict if r[0] != "policy-error"}
        found_vm = {r for r in vm if r[0] != "policy-error"}
        vm_errors += any(r[0] == "policy-error" for r in vm)
        more += bool(found_vm - found)  # findings the interpreter's error hid
        fewer += bool(found - found_vm)  # findings the VM misses: expected none
        if differ <= args.show:
            print(f"{obj.get('kind')}: interpreter {len(strict)} findings, VM {len(vm)}")
            for rule, _, message in sorted(set(strict) ^ set(vm)):
                print(f"  {rule}: {message[:150]}")
    print(
        f"{args.count} damaged objects from {len(documents)} documents (seed {args.seed}): "
        f"{differ} with different findings; in {more} of them the VM reports findings that the "
        f"interpreter's policy-error replaced, in {fewer} it misses a finding the interpreter "
        f"reports, in {vm_errors} it has a policy-error of its own"
    )
    return 1 if fewer else 0


if __name__ == "__main__":
    sys.exit(main())
