"""Reading and editing the ``images:`` list of a kustomization in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.errors import UserError
from tools.files import write_atomic
from tools.release.images import ImageRef
from tools.release.kustomization import find_image, read_images, read_text, set_image

NAME = "ghcr.io/example-org/model-api"
DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


BLOCK = f"""\
# staging
images:
  - name: {NAME}   # ours
    newTag: "1.0.0"
  - name: docker.io/library/busybox
    newTag: '1.36'
"""


def test_set_tag_keeps_everything_else() -> None:
    out = set_image(BLOCK, ImageRef(NAME, "1.1.0"))
    assert out == BLOCK.replace('"1.0.0"', '"1.1.0"')


def test_set_digest_replaces_tag_and_keeps_quoting_of_others() -> None:
    out = set_image(BLOCK, ImageRef(NAME, None, DIGEST))
    assert f"    digest: {DIGEST}\n" in out
    assert "1.0.0" not in out
    assert "newTag: '1.36'" in out
    entry = find_image(out, NAME)
    assert entry is not None and (entry.tag, entry.digest) == (None, DIGEST)


def test_tag_and_digest_together() -> None:
    out = set_image(BLOCK, ImageRef(NAME, "2.0", DIGEST))
    entry = find_image(out, NAME)
    assert entry is not None and (entry.tag, entry.digest) == ("2.0", DIGEST)
    # "2.0" would read back as a float unquoted; the original double quotes are kept anyway
    assert 'newTag: "2.0"' in out


def test_plain_scalars_stay_plain_and_numbers_get_quoted() -> None:
    text = f"images:\n- name: {NAME}\n  newTag: v1\n"
    assert set_image(text, ImageRef(NAME, "v2")) == text.replace("v1", "v2")
    assert set_image(text, ImageRef(NAME, "2")) == text.replace("v1", '"2"')


def test_no_change_returns_same_text() -> None:
    assert set_image(BLOCK, ImageRef(NAME, "1.0.0")) is not None
    assert set_image(BLOCK, ImageRef(NAME, "1.0.0")) == BLOCK


def test_adds_entry_without_duplicating() -> None:
    out = set_image(BLOCK, ImageRef("ghcr.io/example-org/other", "3"))
    assert out.startswith(BLOCK)
    assert out.endswith('  - name: ghcr.io/example-org/other\n    newTag: "3"\n')
    again = set_image(out, ImageRef("ghcr.io/example-org/other", "4"))
    assert [e.name for e in read_images(again)].count("ghcr.io/example-org/other") == 1


def test_creates_images_key() -> None:
    text = "resources:\n  - ../../base\n"
    out = set_image(text, ImageRef(NAME, None, DIGEST))
    assert out == text + f"images:\n- name: {NAME}\n  digest: {DIGEST}\n"
    empty = set_image("images: []\n", ImageRef(NAME, "1"))
    assert empty == f'images: [{{name: {NAME}, newTag: "1"}}]\n'


@pytest.mark.parametrize("text", ["", "# only a comment", "# only a comment\n"])
def test_creates_images_key_in_a_file_without_yaml_content(text: str) -> None:
    out = set_image(text, ImageRef(NAME, "1.2.3"))
    separator = "" if not text or text.endswith("\n") else "\n"
    assert out == text + separator + f"images:\n- name: {NAME}\n  newTag: 1.2.3\n"
    assert [(e.name, e.tag) for e in read_images(out)] == [(NAME, "1.2.3")]


def test_flow_style_edit() -> None:
    text = f'images: [{{name: {NAME}, newTag: "1"}}, {{name: x, newTag: "2"}}]  # flow\n'
    out = set_image(text, ImageRef(NAME, None, DIGEST))
    assert (
        out == f'images: [{{name: {NAME}, digest: {DIGEST}}}, {{name: x, newTag: "2"}}]  # flow\n'
    )


def test_crlf_is_kept() -> None:
    text = BLOCK.replace("\n", "\r\n")
    out = set_image(text, ImageRef(NAME, "5", DIGEST))
    assert "\n" not in out.replace("\r\n", "")
    assert find_image(out, NAME) == find_image(set_image(BLOCK, ImageRef(NAME, "5", DIGEST)), NAME)


def test_duplicate_entries_are_refused() -> None:
    text = f"images:\n- name: {NAME}\n  newTag: a\n- name: {NAME}\n  newTag: b\n"
    with pytest.raises(UserError, match="listed 2 times"):
        set_image(text, ImageRef(NAME, "c"))


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("images: {a: 1}\n", "'images' must be a list"),
        ("- a\n", "mapping at the top level"),
        ("images: [\n", "not valid YAML"),
    ],
)
def test_bad_files(text: str, needle: str) -> None:
    with pytest.raises(UserError, match=needle):
        set_image(text, ImageRef(NAME, "1"))


def test_entry_lines() -> None:
    entry = find_image(BLOCK, NAME)
    assert entry is not None and entry.lines == (3, 4)


def test_write_atomic_keeps_mode_and_bytes(tmp_path: Path) -> None:
    path = tmp_path / "kustomization.yaml"
    path.write_bytes(b"a: 1\r\n")
    path.chmod(0o640)
    write_atomic(path, "a: 2\r\n")
    assert path.read_bytes() == b"a: 2\r\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert read_text(path) == "a: 2\r\n"
    assert [p.name for p in tmp_path.iterdir()] == ["kustomization.yaml"]
