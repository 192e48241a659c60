"""Every setting of ``model-api serve`` has its row in docs/SERVICE.md's table of variables."""

from __future__ import annotations

from service.settings import ServeSettings
from tests.support.paths import REPO_ROOT


def test_every_setting_is_in_the_table() -> None:
    doc = (REPO_ROOT / "docs" / "SERVICE.md").read_text()
    prefix = ServeSettings.model_config.get("env_prefix", "")
    missing = []
    for name, field in ServeSettings.model_fields.items():
        variable = field.validation_alias or f"{prefix}{name}".upper()
        if f"| `{variable}` |" not in doc:
            missing.append(variable)
    assert not missing, f"not documented in docs/SERVICE.md: {missing}"
