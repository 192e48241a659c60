"""Large files read in pieces of whole documents by the workers: the same as read at once."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.validate import BROKEN, GOOD
from tools import yamlfile
from tools.validate import Report, loader
from tools.validate.fast import parallel


def as_tuples(report: Report) -> list[tuple[object, ...]]:
    return [
        (f.severity, f.rule, f.message, f.resource, f.file, f.line, f.path, f.hint)
        for f in report.findings
    ]


def config_map(index: int) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{index}\n"
        f"  labels: {{app.kubernetes.io/name: cm-{index}}}\ndata:\n  key: value-{index}\n"
    )


def stream(count: int) -> str:
    """*count* ConfigMaps, with an empty document, a comment, a list and a number key."""
    parts = []
    for index in range(count):
        body = config_map(index)
        if index % 7 == 3:
            body = body.replace("  key:", "  5: five\n  key:")
        parts.append(body)
        if index % 11 == 5:
            parts.append("# nothing here\n")  # an empty document
        if index % 13 == 7:
            parts.append("- not\n- an object\n")
    return "".join(f"---\n{part}" for part in parts)


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "SPLIT_BYTES", 1024)
    monkeypatch.setattr(parallel, "PIECE_CHARS", 512)


def summary(parsed: loader.Parsed) -> tuple[object, ...]:
    return (
        [(r.obj, r.file, r.doc_index, r.line) for r in parsed.resources],
        [(f.rule, f.message, f.file, f.line) for f in parsed.findings],
        parsed.decoded,
        parsed.documents,
    )


def test_pieces_start_at_documents_and_know_their_line() -> None:
    text = stream(60)
    pieces = loader.pieces(text, 500)
    assert len(pieces) > 5
    assert "".join(piece for _, piece in pieces) == text
    lines = text.split("\n")
    for first_line, piece in pieces:
        assert piece.startswith("---\n") and lines[first_line - 1] == "---"
        assert len(piece) >= 500 or piece is pieces[-1][1]


@pytest.mark.parametrize(
    "marker",
    ["%YAML 1.1\n", "...\n", "a: 1\r", "a: \u2028b\n"],
    ids=["directive", "document-end", "lone-cr", "unicode-line-break"],
)
def test_texts_that_would_read_differently_stay_whole(marker: str) -> None:
    text = stream(30) + marker + stream(30)
    assert loader.pieces(text, 500) == [(1, text)]
    assert loader.pieces(stream(3), 500) == [(1, stream(3))]  # small: not worth it


def test_a_large_file_over_the_workers_reads_as_at_once(tmp_path: Path, small_pieces: None) -> None:
    large = tmp_path / "large.yaml"
    large.write_text(stream(120), encoding="utf-8")
    crlf = tmp_path / "crlf.yaml"
    crlf.write_bytes(stream(50).replace("\n", "\r\n").encode())
    small = tmp_path / "small.yaml"
    small.write_text(stream(9), encoding="utf-8")
    files = [(str(p), p.name) for p in (large, small, crlf)]
    assert len([u for u in parallel.work_units(files)[0] if u.file == 0]) > 10
    got = parallel.parse_files(files, workers=2)
    for parsed, (path, shown) in zip(got, files, strict=True):
        alone = loader.parse_file(Path(path), shown)
        assert summary(parsed) == summary(alone)
        assert {f.rule for f in alone.findings} == {"non-string-key", "parse"}
        text = Path(path).read_text(encoding="utf-8")
        nodes = yamlfile.compose_all(text)
        for resource in parsed.resources:
            assert resource.marks is not None
            node = nodes[resource.doc_index]
            assert node is not None
            for parts in (["data", "key"], ["metadata", "labels", "app.kubernetes.io/name"], []):
                assert resource.marks.find(resource.obj, parts) == yamlfile.mark(node, parts)


@pytest.mark.parametrize(
    "broken",
    [
        "data:\n  text: 'starts here\n---\n  and goes on'\n",  # a quote across a document
        "data:\n  a: 1\n  a: 2\n",  # a duplicate key
        "data: [unclosed\n",
    ],
    ids=["quote-across-documents", "duplicate-key", "syntax"],
)
def test_an_error_in_a_piece_reads_the_file_at_once(
    tmp_path: Path, small_pieces: None, broken: str
) -> None:
    text = stream(40) + "---\napiVersion: v1\nkind: ConfigMap\n" + broken + stream(40)
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    (parsed,) = parallel.parse_files([(str(path), "broken.yaml")], workers=2)
    alone = loader.parse_file(path, "broken.yaml")
    assert alone.stopped and summary(parsed) == summary(alone)


def test_pieces_over_the_decoded_limit_of_one_file_are_not_joined() -> None:
    parts = [loader.Parsed([], [], yamlfile.MAX_DECODED_BYTES // 2 + 1, 3) for _ in range(2)]
    assert loader.join(parts) is None
    joined = loader.join(parts[:1] * 1)
    assert joined is not None and joined.documents == 3


def test_report_of_large_files_is_the_same_in_pieces(
    tmp_path: Path, validate: Callable[..., Report], small_pieces: None, patched: dict[str, Path]
) -> None:
    folder = tmp_path / "manifests"
    folder.mkdir()
    samples = [*BROKEN, *sorted(patched.values()), GOOD]
    # a sample that stops reading (a syntax error) would hide the ones after it: last
    samples.sort(key=lambda sample: loader.parse_file(sample, sample.name).stopped)
    with (folder / "all.yaml").open("w", encoding="utf-8") as out:
        for sample in samples:  # every sample's documents, one stream
            text = sample.read_text(encoding="utf-8")
            if not text.startswith("---"):
                out.write("---\n")
            out.write(text if text.endswith("\n") else text + "\n")
    shutil.copyfile(GOOD, folder / "good.yaml")
    assert len(parallel.work_units([(str(folder / "all.yaml"), "all.yaml")])[0]) > 5
    alone = validate(folder, workers=1, policy_cache=False, run_rule_tests=False)
    split = validate(folder, workers=2, policy_cache=False, run_rule_tests=False)
    assert len(alone.findings) > 40 and alone.summary.resources > 100
    assert as_tuples(split) == as_tuples(alone)
    assert split.summary == alone.summary
