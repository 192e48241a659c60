"""Promote: copy the exact image reference one environment runs into another.

The reference (digest, and tag if there is one) is read from the source overlay on the base
branch and written to the target overlay through :func:`~tools.release.ship.ship`; the commit and
the pull request name the commit that last changed the source environment's image.
"""

from __future__ import annotations

from tools.errors import EXIT_FINDINGS, UserError
from tools.release.images import ImageRef, check_name
from tools.release.kustomization import ImageEntry, read_images
from tools.release.options import Options
from tools.release.ship import Change, open_context, overlay_dir, overlay_file, ship


def pick_entry(entries: list[ImageEntry], image: str | None, source: str) -> ImageEntry:
    if image is not None:
        check_name(image)
        matches = [e for e in entries if e.name == image]
        if not matches:
            listed = ", ".join(e.name for e in entries) or "none"
            raise UserError(
                f"{overlay_file(source)} has no images entry named {image!r}; "
                f"the images it lists: {listed}"
            )
        return matches[0]
    if len(entries) != 1:
        names = ", ".join(e.name for e in entries) or "none"
        raise UserError(
            f"{overlay_file(source)} lists {len(entries)} images ({names})",
            hint="name one with --image",
        )
    return entries[0]


def promote(source: str, target: str, opts: Options, *, image: str | None = None) -> int:
    """Ship the reference ``source`` runs to ``target``; the exit code."""
    overlay_dir(source)
    overlay_dir(target)
    if source == target:
        raise UserError("--from and --to name the same environment")
    ctx = open_context(opts)
    rel = overlay_file(source)
    text = ctx.repo.show(ctx.start, rel)
    if text is None:
        raise UserError(f"{rel} does not exist on {ctx.base}")
    entry = pick_entry(read_images(text, rel), image, source)
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
