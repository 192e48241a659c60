"""The configuration files: .gitops.toml or [tool.gitops] in pyproject.toml, strictly checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT
from tools.cli import main
from tools.config import load_section
from tools.errors import UserError
from tools.release.config import load_config
from tools.validate.options import load_options


def write(root: Path, name: str, text: str) -> None:
    (root / name).write_text(text, encoding="utf-8")


def test_gitops_toml_has_the_same_tables_without_the_prefix(tmp_path: Path) -> None:
    write(
        tmp_path,
        ".gitops.toml",
        '[validate]\nkubernetes-version = "1.31"\npolicy-dirs = ["rego"]\n'
        "[bump]\npush-attempts = 3\nlabels = []\n",
    )
    options = load_options(tmp_path)
    assert options.kubernetes_version == "1.31"
    assert options.policy_dirs == [(tmp_path / "rego").resolve()]
    config = load_config(tmp_path)
    assert (config.push_attempts, config.labels) == (3, ())


def test_pyproject_without_a_gitops_table_does_not_hide_gitops_toml(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[project]\nname = "x"\n')
    write(tmp_path, ".gitops.toml", '[validate]\nkubernetes-version = "1.30"\n')
    assert load_options(tmp_path).kubernetes_version == "1.30"


def test_pyproject_table_is_read(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.gitops.validate]\nkubernetes-version = "1.29"\n')
    assert load_options(tmp_path).kubernetes_version == "1.29"


def test_configuration_in_both_files_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[tool.gitops.bump]\npush-attempts = 2\n")
    write(tmp_path, ".gitops.toml", "[bump]\npush-attempts = 4\n")
    with pytest.raises(UserError) as exc:
        load_config(tmp_path)
    assert ".gitops.toml and pyproject.toml [tool.gitops]" in exc.value.message
    assert exc.value.hint == "keep one of the two"


@pytest.mark.parametrize(
    ("name", "text", "message", "hint"),
    [
        (
            "pyproject.toml",
            '[tool.gitops.validate]\nkubernetes-versoin = "1.30"\n',
            "pyproject.toml [tool.gitops.validate]: unknown key 'kubernetes-versoin'",
            "did you mean 'kubernetes-version'?",
        ),
        (
            ".gitops.toml",
            '[validate]\ncrd-dir = ["crds"]\n',
            ".gitops.toml [validate]: unknown key 'crd-dir'",
            "did you mean 'crd-dirs'?",
        ),
        (
            ".gitops.toml",
            "[valdate]\n",
            ".gitops.toml: unknown table '[valdate]'",
            "did you mean '[validate]'?",
        ),
        (
            "pyproject.toml",
            "[tool.gitops.bumb]\nlabels = []\n",
            "pyproject.toml: unknown table '[tool.gitops.bumb]'",
            "did you mean '[tool.gitops.bump]'?",
        ),
    ],
)
def test_unknown_keys_and_tables_name_the_closest_valid_one(
    tmp_path: Path, name: str, text: str, message: str, hint: str
) -> None:
    write(tmp_path, name, text)
    with pytest.raises(UserError) as exc:
        load_options(tmp_path)
    assert (exc.value.message, exc.value.hint) == (message, hint)


def test_unknown_key_without_a_close_match_lists_the_valid_ones(tmp_path: Path) -> None:
    write(tmp_path, ".gitops.toml", "[bump]\nzzz = 1\n")
    with pytest.raises(UserError) as exc:
        load_config(tmp_path)
    assert (
        exc.value.hint == "valid: labels, push-attempts, push-backoff, push-timeout, require-digest"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[validate\n", "cannot read"),
        ("validate = 3\n", ".gitops.toml [validate] must be a table"),
        ('[validate]\nkubernetes-version = "latest"\n', "kubernetes-version 'latest': expected"),
        ("[validate]\ncrd-dirs = [1]\n", ".gitops.toml [validate] crd-dirs must be a list"),
    ],
)
def test_bad_values_name_the_file_table_and_key(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, ".gitops.toml", text)
    with pytest.raises(UserError) as exc:
        load_options(tmp_path)
    assert message in exc.value.message


def test_non_utf8_config_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / ".gitops.toml").write_bytes(b"[validate]\n# \xff\n")
    with pytest.raises(UserError, match="cannot read"):
        load_section(tmp_path, "validate", ())


def test_this_repository_configuration_is_valid() -> None:
    assert load_options(REPO_ROOT).policy_dirs == [REPO_ROOT / "policies"]
    assert load_config(REPO_ROOT).push_attempts == 10


def test_gitops_validate_reports_a_typo_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, ".gitops.toml", '[validate]\nkubernetes-versoin = "1.30"\n')
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")  # the root is found from below, by its .gitops.toml
    assert main(["validate"]) == 2
    assert capsys.readouterr().err == (
        "gitops validate: error: .gitops.toml [validate]: unknown key 'kubernetes-versoin'\n"
        "hint: did you mean 'kubernetes-version'?\n"
    )
