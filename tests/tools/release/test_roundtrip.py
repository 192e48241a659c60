"""Property: a bump changes only the intended scalar, whatever the file looks like."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from tools.release.images import ImageRef
from tools.release.kustomization import set_image

TARGET = "ghcr.io/example-org/model-api"
OTHERS = ["docker.io/library/busybox", "registry.example.org:5000/team/sidecar", "nginx"]
tags = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}\Z")
digests = st.binary(min_size=32, max_size=32).map(lambda b: f"sha256:{b.hex()}")
comments = st.sampled_from(["", "  # keep me", "   #tight", "  # déjà vu: ü"])
quote = st.sampled_from(["plain", "'", '"'])


def scalar(value: str, style: str) -> str:
    if style == "'":
        return f"'{value}'"
    if style == '"' or not _plain_is_string(value):
        return f'"{value}"'
    return value


def _plain_is_string(value: str) -> bool:
    loaded = YAML(typ="safe").load(f"k: {value}\n")
    return isinstance(loaded, dict) and loaded.get("k") == value


@st.composite
def entries(draw: st.DrawFn, name: str) -> list[tuple[str, str]]:
    fields = [("name", name)]
    if draw(st.booleans()):
        fields.append(("newName", "mirror.example.org/" + name.rsplit("/", 1)[-1]))
    fields.append(("newTag", scalar(draw(tags), draw(quote))))
    if draw(st.booleans()):
        fields.append(("digest", draw(digests)))
    order = draw(st.permutations(fields))
    return list(order)


@st.composite
def kustomizations(draw: st.DrawFn) -> str:
    names = [TARGET, *draw(st.lists(st.sampled_from(OTHERS), unique=True, max_size=2))]
    names = draw(st.permutations(names))
    items = [draw(entries(n)) for n in names]
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    indent = draw(st.sampled_from(["", "  ", "    "]))
    flow = draw(st.booleans())
    lines = []
    if draw(st.booleans()):
        lines.append("# overlay for an environment" + draw(comments))
    lines += ["apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization"]
    lines.append("namespace: model-api-staging" + draw(comments))
    lines += ["resources:", f"{indent}- ../../base" + draw(comments)]
    if flow:
        body = ", ".join("{" + ", ".join(f"{k}: {v}" for k, v in item) + "}" for item in items)
        lines.append(f"images: [{body}]" + draw(comments))
    else:
        lines.append("images:" + draw(comments))
        for item in items:
            for i, (k, v) in enumerate(item):
                lead = f"{indent}- " if i == 0 else f"{indent}  "
                lines.append(f"{lead}{k}: {v}" + draw(comments))
    if draw(st.booleans()):
        lines.append("commonLabels:" + nl.join(["", "  team: ml"]))
    return nl.join(lines) + nl


def _data(text: str) -> object:
    return YAML(typ="safe").load(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kustomizations(), tags, digests)
def test_bump_changes_only_the_scalar(text: str, new_tag: str, new_digest: str) -> None:
    before = _data(text)
    assert isinstance(before, dict)
    entry = next(e for e in before["images"] if e["name"] == TARGET)
    # One scalar changes: the digest when the entry is pinned by one, else the tag.
    if "digest" in entry:
        ref = ImageRef(TARGET, entry["newTag"], new_digest)
        new_value = new_digest
    else:
        ref = ImageRef(TARGET, new_tag)
        new_value = new_tag
    out = set_image(text, ref)

    after = _data(out)
    changed_key = "digest" if "digest" in entry else "newTag"
    expected = dict(before)
    expected["images"] = [
        {**e, changed_key: new_value} if e["name"] == TARGET else e for e in before["images"]
    ]
    assert after == expected

    # Byte for byte: the output is the input with that one scalar replaced, its quoting kept
    # (plain values that would read back as another type get double quotes).
    begin, end, style = _span(text, changed_key)
    rendered = new_value if style == "plain" and _plain_is_string(new_value) else None
    if style == "'":
        rendered = f"'{new_value}'"
    elif rendered is None:
        rendered = f'"{new_value}"'
    assert out == text[:begin] + rendered + text[end:]


def _span(text: str, key: str) -> tuple[int, int, str]:
    """Start, end and quote style of ``key`` in the TARGET entry, from ruamel's node marks."""
    root = YAML(typ="rt").compose(text)
    images = next(v for k, v in root.value if k.value == "images")
    item = next(
        i for i in images.value if any(k.value == "name" and v.value == TARGET for k, v in i.value)
    )
    node = next(v for k, v in item.value if k.value == key)
    return node.start_mark.index, node.end_mark.index, node.style or "plain"


def _insertion(text: str, out: str) -> str:
    """The one contiguous piece ``out`` adds to ``text`` (fails if anything else changed)."""
    prefix = 0
    while prefix < len(text) and text[prefix] == out[prefix]:
        prefix += 1
    suffix = 0
    while suffix < len(text) - prefix and text[-1 - suffix] == out[-1 - suffix]:
        suffix += 1
    assert prefix + suffix == len(text), "something besides an insertion changed"
    return out[prefix : len(out) - suffix]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kustomizations(), digests)
def test_adding_a_key_or_an_entry_only_inserts(text: str, new_digest: str) -> None:
    before = _data(text)
    assert isinstance(before, dict)
    entry = next(e for e in before["images"] if e["name"] == TARGET)
    if "digest" in entry:  # add a whole new entry instead
        name = "ghcr.io/example-org/new-image"
        out = set_image(text, ImageRef(name, None, new_digest))
        added = _insertion(text, out)
        assert name in added and new_digest in added
        after = _data(out)
        assert isinstance(after, dict)
        assert after["images"] == [*before["images"], {"name": name, "digest": new_digest}]
    else:  # pin the existing entry: the digest key is added next to the tag
        out = set_image(text, ImageRef(TARGET, entry["newTag"], new_digest))
        added = _insertion(text, out)
        assert added.strip(" ,\r\n") == f"digest: {new_digest}"
        after = _data(out)
        assert isinstance(after, dict)
        assert next(e for e in after["images"] if e["name"] == TARGET) == {
            **entry,
            "digest": new_digest,
        }
    assert ("\r\n" in text) == ("\r\n" in out)
    assert out.replace("\r\n", "").count("\n") == 0 or "\r\n" not in text
