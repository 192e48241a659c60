"""Report formats: text (default), json, junit, sarif (code scanning), github (annotations).

Every format is one pass over the findings; JSON documents (json, sarif, junit's details) are
written by orjson, in UTF-8 (not ASCII escapes), indented by two spaces.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import orjson

from tools.errors import UserError
from tools.files import write_atomic
from tools.validate.findings import Finding, Report
from tools.validate.rules import DOCS, RuleDoc

FORMATS = ("text", "json", "junit", "sarif", "github")
TOOL_URI = DOCS


def _where(finding: Finding) -> str:
    if finding.file and finding.line:
        return f"{finding.file}:{finding.line}"
    return finding.file or "-"


def text(report: Report, *, color: bool = False) -> str:
    def paint(code: str, value: str) -> str:
        return f"\033[{code}m{value}\033[0m" if color else value

    by_file: dict[str, list[Finding]] = defaultdict(list)
    for finding in report.findings:
        by_file[finding.file or "(no file)"].append(finding)
    lines: list[str] = []
    for file in sorted(by_file):
        lines.append(paint("1", file))
        for finding in by_file[file]:
            label = paint("31", "error") if finding.severity == "error" else paint("33", "warning")
            where = f"{finding.line}" if finding.line else "-"
            lines.append(f"  {where:>5}  {label}  {finding.message}  {paint('2', finding.rule)}")
            if finding.hint:
                lines.append(f"         hint: {finding.hint}")
        lines.append("")
    s = report.summary
    verdict = paint("31", "FAILED") if s.errors else paint("32", "OK")
    lines.append(
        f"{verdict}: {s.resources} resources in {s.files} files, "
        f"{s.errors} error{'s' if s.errors != 1 else ''}, "
        f"{s.warnings} warning{'s' if s.warnings != 1 else ''}"
    )
    return "\n".join(lines) + "\n"


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode("utf-8")


def as_json(report: Report) -> str:
    return _dumps(report.to_dict()) + "\n"


def junit(report: Report) -> str:
    suite = ET.Element(
        "testsuite",
        name="gitops validate",
        tests=str(max(1, len(report.findings))),
        failures=str(report.summary.errors),
        errors="0",
        skipped="0",
    )
    if not report.findings:
        ET.SubElement(suite, "testcase", classname="gitops.validate", name="all checks")
    for finding in report.findings:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"gitops.validate.{finding.rule}",
            name=f"{_where(finding)} {finding.resource or ''}".strip(),
            file=finding.file or "",
            line=str(finding.line or 0),
        )
        if finding.severity == "error":
            failure = ET.SubElement(case, "failure", type=finding.rule, message=finding.message)
            failure.text = _dumps(finding.to_dict())
        else:
            out = ET.SubElement(case, "system-out")
            out.text = f"warning: {finding.message}"
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _sarif_rule(rule: str, doc: RuleDoc | None) -> dict[str, object]:
    doc = doc or RuleDoc(rule)
    title = doc.title or rule
    description = doc.description or title
    links = [f"- [{text or url}]({url})" for url, text in doc.related]
    text_links = [f"{url} ({text})" if text else url for url, text in doc.related]
    entry: dict[str, object] = {
        "id": rule,
        "name": rule,
        "shortDescription": {"text": title},
        "fullDescription": {"text": description},
        "help": {
            "text": " ".join([description, *(f"See {link}." for link in text_links)]),
            "markdown": "\n\n".join(
                [f"**{title}**", description, *(["\n".join(links)] if links else [])]
            ),
        },
        "helpUri": doc.help_uri,
    }
    return entry


def sarif(report: Report) -> str:
    """SARIF 2.1.0: one rule per rule id found (described), one result per finding."""
    rules = sorted({f.rule for f in report.findings})
    index = {rule: i for i, rule in enumerate(rules)}
    results = []
    for finding in report.findings:
        result: dict[str, object] = {
            "ruleId": finding.rule,
            "ruleIndex": index[finding.rule],
            "level": "error" if finding.severity == "error" else "warning",
            "message": {
                "text": finding.message + (f" (hint: {finding.hint})" if finding.hint else "")
            },
        }
        if finding.file and not finding.file.startswith(("/", "http")):
            region: dict[str, int] = {}
            if finding.line:
                region["startLine"] = finding.line
                if finding.column:
                    region["startColumn"] = finding.column
            location: dict[str, object] = {"artifactLocation": {"uri": finding.file}}
            if region:
                location["region"] = region
            result["locations"] = [{"physicalLocation": location}]
        if finding.resource is not None:
            result["properties"] = {"resource": finding.resource.to_dict(), "path": finding.path}
        results.append(result)
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "gitops-validate",
                        "informationUri": TOOL_URI,
                        "rules": [_sarif_rule(rule, report.rules.get(rule)) for rule in rules],
                    }
                },
                "results": results,
            }
        ],
    }
    return _dumps(document) + "\n"


def _escape(value: str, *, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def github(report: Report) -> str:
    """GitHub Actions workflow commands (``::error file=...,line=...::message``)."""
    lines = []
    for finding in report.findings:
        props = []
        if finding.file:
            props.append(f"file={_escape(finding.file, prop=True)}")
        if finding.line:
            props.append(f"line={finding.line}")
            if finding.column:
                props.append(f"col={finding.column}")
        props.append(f"title={_escape(finding.rule, prop=True)}")
        level = "error" if finding.severity == "error" else "warning"
        lines.append(f"::{level} {','.join(props)}::{_escape(finding.message)}")
    s = report.summary
    lines.append(
        f"gitops validate: {s.resources} resources in {s.files} files, "
        f"{s.errors} errors, {s.warnings} warnings"
    )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Output:
    """One ``--output FORMAT[=FILE]``: a report format and where it goes (None: stdout)."""

    format: str
    file: Path | None = None


def parse_output(value: str) -> Output:
    """``FORMAT`` or ``FORMAT=FILE`` (argparse type of ``--output``)."""
    fmt, sep, file = value.partition("=")
    if fmt not in FORMATS:
        raise argparse.ArgumentTypeError(
            f"unknown format {fmt!r} in {value!r}; expected one of {', '.join(FORMATS)}"
        )
    if sep and not file:
        raise argparse.ArgumentTypeError(f"{value!r}: no file after '='")
    return Output(fmt, Path(file) if sep else None)


def write_reports(report: Report, outputs: list[Output], *, color: bool = False) -> None:
    """Every requested report from the one run: files first, then the one for stdout."""
    to_stdout = [o for o in outputs if o.file is None]
    if len(to_stdout) > 1:
        names = ", ".join(o.format for o in to_stdout)
        raise UserError(
            f"{len(to_stdout)} reports ({names}) would go to stdout together",
            hint="give all but one a file: --output sarif=gitops.sarif",
        )
    for output in outputs:
        if output.file is not None:
            try:
                write_atomic(output.file, render(report, output.format))
            except OSError as exc:
                raise UserError(f"cannot write the {output.format} report: {exc}") from exc
    for output in to_stdout:
        sys.stdout.write(render(report, output.format, color=color))


def render(report: Report, fmt: str, *, color: bool = False) -> str:
    if fmt == "json":
        return as_json(report)
    if fmt == "junit":
        return junit(report)
    if fmt == "sarif":
        return sarif(report)
    if fmt == "github":
        return github(report)
    return text(report, color=color)
