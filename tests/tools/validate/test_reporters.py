"""SARIF 2.1.0: rules described from Rego METADATA and the built-in rule docs; findings point at
the offending key (line and column)."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT
from tests.support.validate import shared_crds
from tools.cli import main
from tools.validate.checks.policies import load_policies
from tools.validate.rules import BUILTIN, DOCS, builtin

POLICY = """\
package main

# METADATA
# title: Services name their protocol
# description: >-
#   Every Service port says TCP or UDP, so that a reader
#   need not know the default.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/services-networking/service/#protocol-support
#     description: Service protocols
#   - https://example.org/second
# custom:
#   kinds: [Service]
deny_port_protocol contains msg if {
\tinput.kind == "Service"
\tsome port in input.spec.ports
\tnot port.protocol
\tmsg := sprintf("Service %s: port %v names no protocol", [input.metadata.name, port.port])
}

warn_no_doc contains msg if {
\tinput.kind == "Service"
\tmsg := "undocumented"
}
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
    - port: 80
      protcol: TCP
"""


@pytest.fixture
def sarif(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> dict[str, object]:
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "ports.rego").write_text(POLICY)
    (tmp_path / "service.yaml").write_text(SERVICE)
    (tmp_path / ".gitops.toml").write_text('[validate]\npolicy-dirs = ["policy"]\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    args = ["validate", "--crd-dir", str(shared_crds()), "--no-rule-tests", "-o", "sarif"]
    assert main([*args, "service.yaml"]) == 1
    document: dict[str, object] = json.loads(capsys.readouterr().out)
    return document


def driver(document: dict[str, object]) -> dict[str, object]:
    run = document["runs"][0]  # type: ignore[index]
    return run["tool"]["driver"]  # type: ignore[no-any-return]


def rule(document: dict[str, object], rule_id: str) -> dict[str, object]:
    rules = driver(document)["rules"]
    return next(r for r in rules if r["id"] == rule_id)  # type: ignore[attr-defined]


def test_rego_metadata_describes_its_rule(sarif: dict[str, object]) -> None:
    described = rule(sarif, "deny_port_protocol")
    assert described["shortDescription"] == {"text": "Services name their protocol"}
    assert described["fullDescription"] == {
        "text": "Every Service port says TCP or UDP, so that a reader need not know the default."
    }
    url = "https://kubernetes.io/docs/concepts/services-networking/service/#protocol-support"
    assert described["helpUri"] == url
    help_ = described["help"]
    assert f"[Service protocols]({url})" in help_["markdown"]  # type: ignore[index]
    assert "https://example.org/second" in help_["text"]  # type: ignore[index]


def test_rules_without_metadata_and_builtin_rules_are_described(sarif: dict[str, object]) -> None:
    bare = rule(sarif, "warn_no_doc")
    assert bare["shortDescription"] == {"text": "warn_no_doc"}
    assert bare["helpUri"] == f"{DOCS}#policies"
    schema = rule(sarif, "schema")
    assert schema["shortDescription"] == {"text": BUILTIN["schema"].title}
    assert schema["fullDescription"] == {"text": BUILTIN["schema"].description}
    assert schema["helpUri"] == f"{DOCS}#what-it-checks-rule-ids"


def test_results_point_at_the_key_with_a_column(sarif: dict[str, object]) -> None:
    results = sarif["runs"][0]["results"]  # type: ignore[index]
    ids = [r["id"] for r in driver(sarif)["rules"]]  # type: ignore[attr-defined]
    for result in results:
        assert ids[result["ruleIndex"]] == result["ruleId"]
    unknown = next(r for r in results if r["ruleId"] == "schema")
    region = unknown["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 9, "startColumn": 7}  # "protcol:", not the port above it
    assert "unknown field 'protcol'" in unknown["message"]["text"]
    for result in results:
        for location in result.get("locations", []):
            assert "startColumn" in location["physicalLocation"]["region"]


def test_parse_errors_carry_a_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nkind: Secret\n")
    (tmp_path / ".gitops.toml").write_text("[validate]\npolicy-dirs = []\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert main(["validate", "--no-rule-tests", "-o", "json", "bad.yaml"]) == 1
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert (finding["rule"], finding["line"], finding["column"]) == ("duplicate-key", 3, 1)
    assert main(["validate", "--no-rule-tests", "-o", "github", "bad.yaml"]) == 1
    assert "::error file=bad.yaml,line=3,col=1,title=duplicate-key::" in capsys.readouterr().out


def test_every_rule_in_the_docs_table_is_described() -> None:
    text = (REPO_ROOT / "docs" / "VALIDATE.md").read_text(encoding="utf-8")
    table = text.split("## What it checks (rule ids)", 1)[1].split("\n## ", 1)[0]
    documented = {
        rule_id
        for line in table.splitlines()
        if line.startswith("| `")
        for rule_id in re.findall(r"`([a-z][a-z0-9_/<> *-]*)`", line.split("|")[1])
    }
    policies = {"deny_*", "violation_*", "warn_*"}
    assert documented >= policies
    for rule_id in documented - policies:
        probe = rule_id.replace("<check id>", "privileged")
        assert builtin(probe) is not None, f"{rule_id} is in docs/VALIDATE.md but not in rules.py"
    for rule_id in BUILTIN:
        assert f"`{rule_id}`" in table, f"{rule_id} is described in rules.py but not documented"


def test_descriptions_are_plain_sentences() -> None:
    for rule_id, doc in BUILTIN.items():
        assert doc.title and doc.description.endswith("."), rule_id
        assert "`" not in doc.title + doc.description, rule_id
        assert textwrap.shorten(doc.title, 60) == doc.title, rule_id


def test_every_rule_of_this_repository_describes_itself() -> None:
    """Code scanning shows each rule's title and description: none may be missing, and a
    METADATA block that does not parse would also lose its kinds."""
    policies = load_policies([REPO_ROOT / "policies"], [REPO_ROOT / "policies" / "data.yaml"])
    undocumented = [
        rule
        for rule in policies.rules
        if rule not in policies.rule_docs
        or not (policies.rule_docs[rule].title and policies.rule_docs[rule].description)
    ]
    assert undocumented == []
