"""Bump: set one environment's image tag and/or digest through :func:`~tools.release.ship.ship`."""

from __future__ import annotations

from tools.errors import UserError
from tools.release.images import ImageRef, check_digest, check_tag, parse_reference
from tools.release.options import Options
from tools.release.ship import Change, overlay_dir, ship


def image_ref(image: str, tag: str | None, digest: str | None) -> ImageRef:
    """Combine an image name with a tag and/or digest (or accept ``name:tag@digest`` alone)."""
    parsed = parse_reference(image)
    if (parsed.tag or parsed.digest) and (tag or digest):
        raise UserError("give the tag/digest either in --image or with --tag/--digest, not both")
    if parsed.tag or parsed.digest:
        return parsed
    if not tag and not digest:
        raise UserError("nothing to set: pass --tag and/or --digest")
    return ImageRef(
        parsed.name,  # parse_reference checked it
        check_tag(tag) if tag else None,
        check_digest(digest) if digest else None,
    )


def bump(
    env: str,
    image: str,
    opts: Options,
    *,
    tag: str | None = None,
    digest: str | None = None,
    resolve_digest: bool = False,
) -> int:
    """Ship ``image`` at ``tag``/``digest`` to ``env``; the exit code (0: done or nothing to do).

    With *resolve_digest* the tag's digest is read from the registry and pinned beside it.
    """
    ref = image_ref(image, tag, digest)
    overlay_dir(env)
    if resolve_digest:
        if ref.digest or not ref.tag:
            raise UserError("--resolve-digest needs a --tag and no --digest")
        from tools.release.registry import resolve_digest as from_registry

        ref = ImageRef(ref.name, ref.tag, from_registry(ref.name, ref.tag))
        print(f"resolved {ref.name}:{ref.tag} to {ref.digest}")
    return ship(Change(env, ref), opts)
