"""Hostile YAML given to `gitops validate` ends in a finding within seconds and bounded memory.

Each case runs `gitops validate` in a child process under an address-space and CPU cap and a
wall-clock timeout (tests/support/bounded.py). Before issue #15 the first ones took the machine
to 24 GB (a plain manifest) or 23 GB (inside kustomize), and a ConfigMap with a key `5` was
"internal error: TypeError"; the limits are in docs/VALIDATE.md ("YAML").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.support.bounded import run_bounded, run_python
from tests.support.validate import shared_crds, widget_crd

GITOPS = [sys.executable, "-c", "import sys; from tools.cli import main; sys.exit(main())"]
MEMORY_MIB = 2048


def laughs(levels: int = 9, indent: str = "  ") -> str:
    """The "billion laughs": nine levels of ten aliases, 10^9 strings from under 1 KB."""
    lines = [f"{indent}l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels):
        lines.append(f"{indent}l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def validate(repo: Path, *args: str) -> dict[str, Any]:
    """`gitops validate -o json ARGS` in *repo*, bounded; the parsed report."""
    (repo / "pyproject.toml").write_text(
        "[tool.gitops.validate]\npolicy-dirs = []\n", encoding="utf-8"
    )
    argv = [*GITOPS, "validate", "--crd-dir", str(shared_crds()), "--no-cache", "-o", "json"]
    done = run_bounded([*argv, *args], cwd=repo, timeout=120, memory_mib=MEMORY_MIB)
    assert not done.timed_out, str(done)
    assert done.returncode == 1, str(done)  # findings, not a crash (exit 2) or a kill
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, str(done)
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def findings(report: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["rule"] == rule]


CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\n  namespace: default\n"


def test_billion_laughs_as_a_plain_manifest(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(CONFIGMAP + "data:\n" + laughs(), encoding="utf-8")
    report = validate(tmp_path, "cm.yaml")
    (finding,) = findings(report, "yaml-aliases")
    assert finding["file"] == "cm.yaml" and finding["line"] > 5
    assert "excessive aliasing" in finding["message"]
    assert report["summary"]["resources"] == 0


def test_billion_laughs_as_a_kustomization_input(tmp_path: Path) -> None:
    app = tmp_path / "overlays" / "app"
    app.mkdir(parents=True)
    (app / "kustomization.yaml").write_text(
        "resources:\n- cm.yaml\npatches:\n- path: patch.yaml\n", encoding="utf-8"
    )
    (app / "cm.yaml").write_text(CONFIGMAP + "data:\n  a: b\n", encoding="utf-8")
    (app / "patch.yaml").write_text(CONFIGMAP + "data:\n" + laughs(), encoding="utf-8")
    report = validate(tmp_path, "overlays/app")
    (finding,) = findings(report, "yaml-aliases")
    assert finding["file"] == "overlays/app/patch.yaml"
    assert "kustomize is not run on overlays/app" in finding["message"]


def test_billion_laughs_in_a_crd(tmp_path: Path) -> None:
    crds = tmp_path / "crds"
    crds.mkdir()
    crd = json.dumps(widget_crd({"type": "object"}))  # JSON is YAML: add the bomb beside it
    (crds / "widget.yaml").write_text(crd + "\n", encoding="utf-8")
    (crds / "bomb.yaml").write_text("bomb:\n" + laughs(), encoding="utf-8")
    manifest = tmp_path / "w.yaml"
    manifest.write_text(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {}\n",
        encoding="utf-8",
    )
    report = validate(tmp_path, "--crd-dir", str(crds), "w.yaml")
    (finding,) = findings(report, "crd-schema")
    assert finding["file"].endswith("bomb.yaml") and "excessive aliasing" in finding["message"]
    assert findings(report, "schema-missing") == []  # the good CRD still counts


def test_deep_nesting(tmp_path: Path) -> None:
    depth = 100_000
    (tmp_path / "deep.yaml").write_text(
        CONFIGMAP + "data:\n  a: " + "[" * depth + "]" * depth + "\n", encoding="utf-8"
    )
    report = validate(tmp_path, "deep.yaml")
    (finding,) = findings(report, "parse")
    assert "nesting depth" in finding["message"] and finding["line"] == 7


def test_huge_scalars(tmp_path: Path) -> None:
    scalar = "x" * (9 * 1024 * 1024)  # under the 10 MiB file limit
    (tmp_path / "repeated.yaml").write_text(
        CONFIGMAP + f"data:\n  a: &a {scalar}\n  b: [" + ", ".join(["*a"] * 10) + "]\n",
        encoding="utf-8",
    )
    (tmp_path / "big.yaml").write_text(CONFIGMAP + f"data:\n  a: {scalar}{scalar}\n", "utf-8")
    report = validate(tmp_path, "repeated.yaml", "big.yaml")
    (repeated,) = findings(report, "yaml-size")
    assert repeated["file"] == "repeated.yaml" and "64 MiB" in repeated["message"]
    (big,) = findings(report, "parse")
    assert big["file"] == "big.yaml" and "over the 10 MiB limit" in big["message"]


def test_non_string_keys_in_a_configmap(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(
        CONFIGMAP + "data:\n  5: five\n  3.14: pi\n  true: 'yes'\n  name: ok\n", encoding="utf-8"
    )
    (tmp_path / "null.yaml").write_text(CONFIGMAP + "data:\n  null: nothing\n", "utf-8")
    (tmp_path / "list.yaml").write_text(CONFIGMAP + "data:\n  ? [a, b]\n  : list\n", "utf-8")
    report = validate(tmp_path, "cm.yaml", "null.yaml", "list.yaml")
    keys = findings(report, "non-string-key")
    assert [(f["file"], f["line"]) for f in keys] == [
        ("cm.yaml", 7),
        ("cm.yaml", 8),
        ("cm.yaml", 9),
        ("list.yaml", 7),
        ("null.yaml", 7),
    ]
    assert report["summary"]["resources"] == 1  # the ConfigMap whose keys can be strings
    assert {f["rule"] for f in report["findings"]} == {"non-string-key"}


def test_kustomize_runs_under_a_memory_cap(tmp_path: Path) -> None:
    # Should a file get past the check, kustomize itself cannot take the machine down.
    (tmp_path / "kustomization.yaml").write_text("resources:\n- cm.yaml\n", encoding="utf-8")
    (tmp_path / "cm.yaml").write_text(CONFIGMAP + "data:\n" + laughs(), encoding="utf-8")
    done = run_python(
        "import sys\n"
        "from tools import kustomize\n"
        "from tools.errors import UserError\n"
        "kustomize.check_inputs = lambda *args: None  # what the cap is for: no check\n"
        "try:\n"
        f"    kustomize.build(__import__('pathlib').Path({str(tmp_path)!r}))\n"
        "except UserError as exc:\n"
        "    print(exc.message)\n",
        timeout=120,
        memory_mib=4096,
    )
    assert not done.timed_out and done.returncode == 0, str(done)
    assert "over its memory limit" in done.stdout, str(done)
