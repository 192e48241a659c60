"""Container image references: ``name[:tag][@sha256:…]``, checked against the OCI grammar."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tools.errors import UserError

# distribution/reference grammar, simplified to what registries accept in practice.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*(?::[0-9]+)?"
NAME_RE = re.compile(rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class ImageRef:
    """An image name with an optional tag and an optional digest."""

    name: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def version(self) -> str:
        """The reference without the name: ``1.2.3``, ``sha256:…`` or ``1.2.3@sha256:…``."""
        if self.tag and self.digest:
            return f"{self.tag}@{self.digest}"
        return self.tag or self.digest or "(unset)"

    @property
    def brief(self) -> str:
        """Like :attr:`version` with the digest cut to 12 hex digits, for titles."""
        digest = f"sha256:{self.short}" if self.digest else ""
        if self.tag and digest:
            return f"{self.tag}@{digest}"
        return self.tag or digest or "(unset)"

    @property
    def short(self) -> str:
        """A short, branch-safe label: the first 12 hex digits of the digest, else the tag."""
        if self.digest:
            return self.digest.split(":", 1)[1][:12]
        return self.tag or "unset"


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise UserError(
            f"image name {name!r} is not a valid image reference name",
            hint="expected e.g. ghcr.io/example-org/model-api (lower case, no tag or digest)",
        )
    return name


def check_tag(tag: str) -> str:
    if not TAG_RE.match(tag):
        raise UserError(
            f"tag {tag!r} is not a valid OCI tag",
            hint="a tag is 1-128 characters of [A-Za-z0-9_.-] and must not start with '.' or '-'",
        )
    return tag


def check_digest(digest: str) -> str:
    if not DIGEST_RE.match(digest):
        raise UserError(
            f"digest {digest!r} is not a sha256 digest",
            hint="expected 'sha256:' followed by 64 lower-case hex digits",
        )
    return digest


def parse_reference(text: str) -> ImageRef:
    """Split ``name[:tag][@sha256:…]`` and check every part."""
    rest, _, digest = text.partition("@")
    name, tag = rest, ""
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:  # a colon after the last slash separates the tag (not a registry port)
        name, tag = rest[:colon], rest[colon + 1 :]
    check_name(name)
    return ImageRef(
        name=name,
        tag=check_tag(tag) if tag else None,
        digest=check_digest(digest) if digest else None,
    )
