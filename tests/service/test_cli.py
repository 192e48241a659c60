"""``model-api`` / ``python -m service``: argument handling, settings errors, train delegation."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import pytest

from service import cli
from service.settings import ServeSettings
from tests.support.cli_help import problems
from tests.support.paths import REPO_ROOT


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MODEL_URI", "models:/model-api/3")
    monkeypatch.setenv("MODEL_API_PORT", "9000")
    monkeypatch.setenv("MODEL_API_TOKEN_FILE", str(tmp_path / "token"))
    monkeypatch.setenv("MODEL_API_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    settings = ServeSettings()
    assert settings.model_uri == "models:/model-api/3"
    assert settings.port == 9000 and settings.max_body_bytes == 2048
    assert settings.token_file == tmp_path / "token"
    assert settings.otel_exporter_otlp_endpoint == "http://collector:4318"


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MODEL_URI", "OTEL_EXPORTER_OTLP_ENDPOINT", "MODEL_API_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    settings = ServeSettings()
    assert settings.model_uri == "models:/model-api@champion"
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.token_file is None and settings.otel_exporter_otlp_endpoint is None
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)


def test_invalid_setting_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MODEL_API_WORKERS", "0")
    assert cli.main(["serve"]) == 2
    assert "invalid setting workers" in capsys.readouterr().err
    monkeypatch.delenv("MODEL_API_WORKERS")
    assert cli.main(["serve", "--port", "70000"]) == 2
    with pytest.raises(SystemExit) as caught:
        cli.main(["serve", "--port", "abc"])
    assert caught.value.code == 2


def test_train_delegates_everything_after_the_subcommand(monkeypatch: pytest.MonkeyPatch) -> None:
    import training.cli

    seen: list[Sequence[str]] = []

    def fake_main(argv: Sequence[str] | None = None) -> int:
        seen.append(list(argv or []))
        return 7

    monkeypatch.setattr(training.cli, "main", fake_main)
    assert cli.main(["train", "--help", "--seed", "3"]) == 7
    assert seen == [["--help", "--seed", "3"]]


def test_python_dash_m_service_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service", "--help"], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0
    assert "serve" in result.stdout and "train" in result.stdout


@pytest.mark.integration
def test_serve_without_a_loadable_model_exits_1(tmp_path: Path) -> None:
    missing = tmp_path / "no-model-here"
    result = subprocess.run(
        [sys.executable, "-m", "service", "serve", "--port", "0"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MODEL_URI": str(missing)},
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert str(missing) in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_every_option_has_plain_help() -> None:
    from training import cli as training_cli

    assert problems(cli.build_parser()) + problems(training_cli.build_parser()) == []


def test_version_comes_from_the_installed_distribution(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"model-api {metadata.version('mlops-gitops')}\n"
