"""What a change does to the rendered manifests (the library behind ``gitops diff`` and the
rendered-objects section of a bump or promote pull request).

Each affected kustomization is rendered twice with real kustomize, at ``--base`` (checked out in
a temporary worktree) and in the working tree. Objects are matched by apiVersion, kind, namespace
and name, written with sorted keys, and compared one by one, so the output is stable and shows a
reviewer exactly which objects change and how.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tools import kustomize, yamlfile
from tools.errors import UserError
from tools.release.git import Git, temporary_worktree

ObjectKey = tuple[str, str, str, str]  # apiVersion, kind, namespace, name


@dataclass(frozen=True)
class ObjectDiff:
    """One rendered object that differs between two renders."""

    key: ObjectKey
    status: str  # "added" | "removed" | "changed"
    diff: str  # unified diff of the normalised YAML

    @property
    def label(self) -> str:
        _, kind, namespace, name = self.key
        where = f"{namespace}/{name}" if namespace else name
        return f"{kind} {where}"

    @property
    def api_version(self) -> str:
        return self.key[0]


@dataclass(frozen=True)
class KustomizationDiff:
    path: str  # relative to the repository root
    objects: list[ObjectDiff]


def _objects(rendered: str, source: str = "") -> dict[ObjectKey, dict[str, Any]]:
    """Rendered YAML stream → {object key: object}."""
    try:
        documents = yamlfile.load_all(rendered, string_keys=False)
    except yamlfile.YamlError as exc:
        raise UserError(f"{source}: kustomize printed invalid YAML: {exc}") from exc
    objects: dict[ObjectKey, dict[str, Any]] = {}
    for doc in documents:
        if not isinstance(doc, dict):
            continue
        meta: Any = doc.get("metadata") or {}
        meta = meta if isinstance(meta, dict) else {}
        key = (
            str(doc.get("apiVersion", "")),
            str(doc.get("kind", "")),
            str(meta.get("namespace") or ""),
            str(meta.get("name") or ""),
        )
        objects[key] = doc
    return objects


def _dump(doc: dict[str, Any]) -> str:
    return str(yaml.safe_dump(doc, sort_keys=True, default_flow_style=False, width=1000))


def normalise(rendered: str, source: str = "") -> dict[ObjectKey, str]:
    """Rendered YAML stream → {object key: YAML with sorted keys}, ordered by key.

    Secret values are masked (see :func:`mask_secrets`): the text may end up in a PR comment.
    """
    objects = _objects(rendered, source)
    for key, doc in objects.items():
        if _is_secret(key):
            mask_secrets(doc)
    return {key: _dump(doc) for key, doc in sorted(objects.items())}


SECRET_FIELDS = ("data", "stringData")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MASK = "++++++++"


def _is_secret(key: ObjectKey) -> bool:
    return key[0] == "v1" and key[1] == "Secret"


def mask_secrets(*versions: dict[str, Any] | None) -> None:
    """Replace the values of one Secret's versions (before, after) in place, as argocd app diff
    does: per key, equal values get the same run of ``+`` and a different value a longer one,
    so a reviewer sees which keys changed but never a value. The last-applied annotation (a
    copy of the data) is masked the same way."""
    present = [v for v in versions if isinstance(v, dict)]
    for field in SECRET_FIELDS:
        keys = sorted({str(k) for v in present if isinstance(v.get(field), dict) for k in v[field]})
        for name in keys:
            _mask_values([v[field] for v in present if isinstance(v.get(field), dict)], name)
        for version in present:  # a field that is not a mapping hides nothing either
            if field in version and not isinstance(version[field], dict | None):
                version[field] = MASK
    annotated = [
        v["metadata"]["annotations"]
        for v in present
        if isinstance(v.get("metadata"), dict)
        and isinstance(v["metadata"].get("annotations"), dict)
        and LAST_APPLIED in v["metadata"]["annotations"]
    ]
    _mask_values(annotated, LAST_APPLIED)


def _mask_values(mappings: list[dict[Any, Any]], name: str) -> None:
    replacement, seen = MASK, {}
    for mapping in mappings:
        key = next((k for k in mapping if str(k) == name), None)
        if key is None:
            continue
        value = "" if mapping[key] is None else str(mapping[key])
        if value not in seen:
            seen[value] = replacement
            replacement += "++++"
        mapping[key] = seen[value]


def diff_renders(old: str, new: str, path: str = "") -> list[ObjectDiff]:
    """Per-object unified diffs between two renders, sorted by object key; Secret values are
    masked (the diff goes into pull request comments)."""
    before_objects, after_objects = _objects(old, path), _objects(new, path)
    for key in set(before_objects) | set(after_objects):
        if _is_secret(key):
            mask_secrets(before_objects.get(key), after_objects.get(key))
    before = {k: _dump(v) for k, v in before_objects.items()}
    after = {k: _dump(v) for k, v in after_objects.items()}
    result: list[ObjectDiff] = []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key, ""), after.get(key, "")
        if a == b:
            continue
        status = "added" if not a else "removed" if not b else "changed"
        label = ObjectDiff(key, status, "").label
        name = f"{path}: {label}" if path else label
        lines = difflib.unified_diff(
            a.splitlines(keepends=True),
            b.splitlines(keepends=True),
            fromfile=f"a/{name}" if a else "/dev/null",
            tofile=f"b/{name}" if b else "/dev/null",
            n=3,
        )
        result.append(ObjectDiff(key, status, "".join(_ensure_newlines(lines))))
    return result


def _ensure_newlines(lines: Iterable[str]) -> Iterable[str]:
    for line in lines:
        yield line if line.endswith("\n") else line + "\n"


def counts(diffs: Sequence[KustomizationDiff]) -> dict[str, int]:
    totals = {"changed": 0, "added": 0, "removed": 0}
    for kd in diffs:
        for obj in kd.objects:
            totals[obj.status] += 1
    return totals


def format_text(diffs: Sequence[KustomizationDiff]) -> str:
    changed = [d for d in diffs if d.objects]
    if not changed:
        return "no rendered changes\n"
    out: list[str] = []
    for kd in changed:
        c = counts([kd])
        out.append(
            f"# {kd.path}: {c['changed']} changed, {c['added']} added, {c['removed']} removed\n"
        )
        out.extend(obj.diff for obj in kd.objects)
    return "".join(out)


def _fence(text: str) -> str:
    longest, run = 0, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def format_markdown(diffs: Sequence[KustomizationDiff], *, base: str | None = None) -> str:
    """A pull-request comment: summary counts, then one collapsible block per object."""
    changed = [d for d in diffs if d.objects]
    c = counts(diffs)
    total = sum(c.values())
    header = "### Rendered manifest diff"
    if base:
        header += f" against `{base}`"
    out = [header, ""]
    if not changed:
        out += ["No rendered object changes.", ""]
        return "\n".join(out)
    out += [
        f"**{total} object{'s' if total != 1 else ''}** in {len(changed)} "
        f"kustomization{'s' if len(changed) != 1 else ''}: "
        f"{c['changed']} changed, {c['added']} added, {c['removed']} removed",
        "",
    ]
    for kd in changed:
        out += [f"#### `{kd.path}`", ""]
        for obj in kd.objects:
            fence = _fence(obj.diff)
            out += [
                "<details>",
                f"<summary>{obj.status}: <code>{obj.label}</code> ({obj.api_version})</summary>",
                "",
                f"{fence}diff",
                obj.diff.rstrip("\n"),
                fence,
                "",
                "</details>",
                "",
            ]
    return "\n".join(out)


# --------------------------------------------------------------------------- rendering


def render_or_empty(directory: Path) -> str:
    """Render ``directory``; an absent kustomization renders as nothing."""
    if kustomize.kustomization_file(directory) is None:
        return ""
    return kustomize.build(directory)


def diff_trees(old_root: Path, new_root: Path, paths: Sequence[str]) -> list[KustomizationDiff]:
    return [
        KustomizationDiff(
            rel,
            diff_renders(render_or_empty(old_root / rel), render_or_empty(new_root / rel), rel),
        )
        for rel in paths
    ]


def _relative_roots(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in kustomize.discover(root)}


def _changed_files(repo: Git, base: str) -> list[str]:
    tracked = repo.out("diff", "--name-only", "--no-renames", base, "--").splitlines()
    untracked = repo.out("ls-files", "--others", "--exclude-standard").splitlines()
    return sorted({*tracked, *untracked})


def _requested_paths(top: Path, paths: Sequence[str]) -> list[str]:
    out: list[str] = []
    for raw in paths:
        full = Path(raw).resolve()
        try:
            rel = full.relative_to(top.resolve())
        except ValueError as exc:
            raise UserError(f"{raw}: outside the repository {top}") from exc
        if full.is_file():
            rel = rel.parent
        out.append(rel.as_posix() or ".")
    return sorted(set(out))


def run_diff(
    repo_dir: Path, base: str, paths: Sequence[str]
) -> tuple[str, list[KustomizationDiff]]:
    """Render and compare; returns the resolved base commit and the per-kustomization diffs."""
    top = Git(repo_dir).toplevel()
    repo = Git(top)
    base_sha = repo.rev_parse(base)
    if not paths and not _changed_files(repo, base_sha):
        return base_sha, []
    with temporary_worktree(repo, base_sha) as old:
        if paths:
            selected = _requested_paths(top, paths)
            for rel in selected:
                if not any(kustomize.kustomization_file(r / rel) for r in (top, old.cwd)):
                    raise UserError(f"{rel}: no kustomization here or at {base}")
        else:
            selected = sorted(_relative_roots(top) | _relative_roots(old.cwd))
        return base_sha, diff_trees(old.cwd, top, selected)
