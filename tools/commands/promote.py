"""``gitops promote``: copy the exact image reference one environment runs into another.

The reference (digest, and tag if there is one) is read from the source overlay on the base
branch and written to the target overlay through the same flow as ``gitops bump``; the commit
and the pull request name the commit that last changed the source environment's image.
"""

from __future__ import annotations

import argparse
from typing import Any

from tools.errors import EXIT_FINDINGS, UserError
from tools.images import ImageEntry, ImageRef, check_name, read_images
from tools.release import (
    Change,
    add_shipping_arguments,
    open_context,
    options_from,
    overlay_dir,
    overlay_file,
    ship,
)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "promote",
        help="copy the image reference of one environment into another (PR or push)",
        description="Copy the exact image reference (digest, and tag if any) that one environment "
        "runs on the base branch into another, as a pull request (default) or a commit.",
    )
    p.add_argument("--from", dest="source", required=True, metavar="ENV", help="e.g. staging")
    p.add_argument("--to", dest="target", required=True, metavar="ENV", help="e.g. production")
    p.add_argument("--image", help="image name (default: the only image of the source overlay)")
    add_shipping_arguments(p)
    p.set_defaults(func=run)


def pick_entry(entries: list[ImageEntry], image: str | None, source: str) -> ImageEntry:
    if image is not None:
        check_name(image)
        matches = [e for e in entries if e.name == image]
        if not matches:
            raise UserError(f"{overlay_file(source)} has no images entry named {image!r}")
        return matches[0]
    if len(entries) != 1:
        names = ", ".join(e.name for e in entries) or "none"
        raise UserError(
            f"{overlay_file(source)} lists {len(entries)} images ({names})",
            hint="name one with --image",
        )
    return entries[0]


def run(args: argparse.Namespace) -> int:
    source, target = args.source, args.target
    overlay_dir(source)
    overlay_dir(target)
    if source == target:
        raise UserError("--from and --to name the same environment")
    opts = options_from(args)
    ctx = open_context(opts)
    rel = overlay_file(source)
    text = ctx.repo.show(ctx.start, rel)
    if text is None:
        raise UserError(f"{rel} does not exist on {ctx.base}")
    entry = pick_entry(read_images(text, rel), args.image, source)
    if entry.tag is None and entry.digest is None:
        raise UserError(f"{rel}: {entry.name} has neither newTag nor digest; nothing to promote")
    if ctx.config.requires_digest(target) and entry.digest is None:
        raise UserError(
            f"{source} runs {entry.name}:{entry.tag} by tag only, and {target} accepts only "
            "images pinned by digest",
            hint=f"bump {source} with --digest first (gitops bump --env {source} "
            f"--image {entry.name} --digest sha256:...), then promote",
            exit_code=EXIT_FINDINGS,
        )
    sha = ctx.repo.last_commit_touching(ctx.start, rel, entry.lines)
    carried = f"{sha[:12]} ({ctx.repo.subject(sha)})" if sha else "an unknown commit"
    change = Change(
        env=target,
        ref=ImageRef(entry.name, entry.tag, entry.digest),
        verb="promote",
        note=f"Promoted from {source}, where commit {carried} set this reference.",
        trailers=(f"Source-Commit: {sha}",) if sha else (),
        title_suffix=f" from {source}",
    )
    return ship(change, opts, ctx, tool="gitops promote")
