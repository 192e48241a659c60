"""Policy results are reused only while the object, policies and data are unchanged."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from tests.support.paths import REPO_ROOT
from tools.validate import Report


def test_cached_results_equal_fresh_ones_and_data_changes_invalidate(
    tmp_path: Path, validate: Callable[..., Report], patched: dict[str, Path]
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", policies)
    sample = patched["policy-latest-tag"]
    common = {"cache_dir": tmp_path / "cache", "policy_dirs": [policies],
              "data_files": [policies / "data.yaml"]}  # fmt: skip
    fresh = validate(sample, policy_cache=False, **common)
    first = validate(sample, policy_cache=True, **common)
    assert list((tmp_path / "cache" / "policy-results").iterdir())
    second = validate(sample, **common)
    assert fresh.to_dict() == first.to_dict() == second.to_dict()
    assert "deny_image_tag" in {f.rule for f in second.errors}

    data = policies / "data.yaml"
    data.write_text(data.read_text().replace("ghcr.io/example-org/", "quay.io/example-org/"))
    changed = validate(sample, **common)
    assert "deny_image_registry" in {f.rule for f in changed.errors}
    assert len(list((tmp_path / "cache" / "policy-results").iterdir())) == 2
