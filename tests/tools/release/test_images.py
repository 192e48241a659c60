"""Image references: parsing, checking and the short labels used in titles and branches."""

from __future__ import annotations

import pytest

from tools.errors import UserError
from tools.release.images import ImageRef, parse_reference

NAME = "ghcr.io/example-org/model-api"
DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{NAME}:1.2.3", ImageRef(NAME, "1.2.3")),
        (f"{NAME}@{DIGEST}", ImageRef(NAME, None, DIGEST)),
        (f"{NAME}:v1@{DIGEST}", ImageRef(NAME, "v1", DIGEST)),
        ("localhost:5000/team/app:7", ImageRef("localhost:5000/team/app", "7")),
        ("localhost:5000/team/app", ImageRef("localhost:5000/team/app")),
    ],
)
def test_parse_reference(text: str, expected: ImageRef) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (f"{NAME}:-bad", "not a valid OCI tag"),
        (f"{NAME}:" + "x" * 129, "not a valid OCI tag"),
        (f"{NAME}@sha256:ABC", "not a sha256 digest"),
        (f"{NAME}@sha256:" + "A" * 64, "not a sha256 digest"),
        ("GHCR.io/Upper/Case", "not a valid image reference name"),
    ],
)
def test_parse_reference_rejects(text: str, needle: str) -> None:
    with pytest.raises(UserError, match=needle):
        parse_reference(text)


def test_ref_labels() -> None:
    assert ImageRef(NAME, "1.0", DIGEST).version == f"1.0@{DIGEST}"
    assert ImageRef(NAME, None, DIGEST).short == "ab" * 6
    assert ImageRef(NAME, "1.0", DIGEST).brief == "1.0@sha256:" + "ab" * 6
    assert ImageRef(NAME, None, DIGEST).brief == "sha256:" + "ab" * 6
    assert str(ImageRef(NAME, "1.0")) == f"{NAME}:1.0"
