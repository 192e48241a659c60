"""Policy samples: every ``allowed*.yaml`` passes all policies, every ``disallowed*.yaml``
is denied by a rule of its own folder."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tools.validate import loader
from tools.validate.checks.policies import RULE_HEAD, PolicySet, make_evaluator, split_rule


@dataclass
class SampleResult:
    path: Path
    passed: bool
    message: str


def folder_rules(folder: Path) -> set[str]:
    rules: set[str] = set()
    for path in folder.glob("*.rego"):
        if not path.stem.endswith("_test"):
            rules.update(m["name"] for m in RULE_HEAD.finditer(path.read_text(encoding="utf-8")))
    return rules


def check_samples(
    policies: PolicySet, folders: list[Path], engine: str = "auto"
) -> list[SampleResult]:
    evaluator = make_evaluator(policies, engine)
    out: list[SampleResult] = []
    for folder in folders:
        own = folder_rules(folder)
        for sample in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.json")):
            if not re.match(r"(allowed|disallowed)", sample.name):
                continue
            parsed = loader.parse_file(sample, str(sample))
            if parsed.findings or not parsed.resources:
                out.append(
                    SampleResult(sample, False, "sample does not parse as Kubernetes objects")
                )
                continue
            found = [r for res in parsed.resources for r in evaluator.evaluate(res.obj)]
            denied = [r for r in found if r.severity == "error"]
            if sample.name.startswith("allowed"):
                passed = not denied
                message = "; ".join(f"{r.rule}: {r.message}" for r in denied)
            else:
                hits = [r for r in found if split_rule(r.rule)[1] in own]
                passed = bool(hits)
                message = (
                    ", ".join(sorted({r.rule for r in hits}))
                    if hits
                    else f"none of {', '.join(sorted(own)) or 'its rules'} fired"
                )
            out.append(SampleResult(sample, passed, message))
    return out
