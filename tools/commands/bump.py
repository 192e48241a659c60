"""``gitops bump``: set one environment's image tag and/or digest, as a PR or a direct commit.

The flow (worktree, validation, push or pull request) is :mod:`tools.release`; this module only
turns the command line into a :class:`~tools.release.Change`.
"""

from __future__ import annotations

import argparse
from typing import Any

from tools.errors import UserError
from tools.images import ImageRef, check_digest, check_tag, parse_reference
from tools.release import Change, add_shipping_arguments, options_from, overlay_dir, ship


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "bump",
        help="set an environment's image tag/digest and open a PR (or push)",
        description="Set one environment's image tag and/or digest in overlays/ENV, validate the "
        "result, and open a pull request (default) or push a commit (--no-pr).",
    )
    p.add_argument("--env", required=True, help="environment (overlays/ENV)")
    p.add_argument("--image", required=True, help="image name, e.g. ghcr.io/example-org/model-api")
    p.add_argument("--tag", help="new tag")
    p.add_argument("--digest", help="new digest (sha256:<64 hex>)")
    add_shipping_arguments(p)
    p.set_defaults(func=run)


def image_ref(image: str, tag: str | None, digest: str | None) -> ImageRef:
    """Combine --image with --tag/--digest (or accept ``--image name:tag@digest``)."""
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


def run(args: argparse.Namespace) -> int:
    ref = image_ref(args.image, args.tag, args.digest)
    overlay_dir(args.env)
    return ship(Change(args.env, ref), options_from(args))
