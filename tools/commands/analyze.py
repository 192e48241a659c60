"""``gitops analyze``: run an AnalysisTemplate against Prometheus with Argo Rollouts' semantics.

Exit codes: 0 Successful, 1 Failed, 3 Inconclusive, 2 Error or usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from tools.analysis.analyze import load_template, run_template, unknown_args
from tools.analysis.durations import parse_duration
from tools.analysis.phases import Phase
from tools.analysis.report import render_json, render_text, write_report
from tools.analysis.run import DEFAULT_ERROR_RETRY_INTERVAL, Measurement, MetricResult
from tools.analysis.template import Overrides, SpecError, TemplateError
from tools.errors import EXIT_FINDINGS, EXIT_INCONCLUSIVE, EXIT_OK, EXIT_USAGE, UserError

EXIT_CODES = {
    Phase.SUCCESSFUL: EXIT_OK,
    Phase.FAILED: EXIT_FINDINGS,
    Phase.INCONCLUSIVE: EXIT_INCONCLUSIVE,
    Phase.ERROR: EXIT_USAGE,
}


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="run an AnalysisTemplate against Prometheus with Argo Rollouts' semantics",
        description=(
            "Run an AnalysisTemplate or ClusterAnalysisTemplate against Prometheus exactly as "
            "the Argo Rollouts controller would. Exit 0 Successful, 1 Failed, 3 Inconclusive, "
            "2 Error or usage error."
        ),
    )
    p.add_argument("template", metavar="TEMPLATE", help="template file, or its metadata.name")
    p.add_argument("--prometheus", metavar="URL", help="replaces every provider's address")
    p.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="template argument (repeatable)",
    )
    p.add_argument(
        "--metric", action="append", default=[], metavar="NAME", help="only these metrics"
    )
    p.add_argument("--count", type=int, metavar="N", help="override every metric's count")
    p.add_argument("--interval", metavar="DURATION", help="override every metric's interval")
    p.add_argument(
        "--error-retry-interval",
        metavar="DURATION",
        help="wait after an Error measurement (Argo: 10s)",
    )
    p.add_argument(
        "--once",
        action="store_true",
        help="one measurement per metric; the metric takes that measurement's phase",
    )
    p.add_argument(
        "--output",
        choices=("text", "json"),
        default="text",
        help="text (default) or json: one object with every measurement",
    )
    p.add_argument("--report", metavar="FILE", help="write charts to FILE.html or FILE.png")
    p.set_defaults(func=run)


def parse_args_option(values: list[str]) -> dict[str, str]:
    args: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UserError(f"--arg {item!r}: expected NAME=VALUE")
        args[name] = value
    return args


def _duration_option(flag: str, value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        parsed = parse_duration(value)
    except ValueError as exc:
        raise UserError(
            f"{flag} {value!r}: {exc}", hint="use a Go duration like 30s or 1m"
        ) from None
    if parsed <= timedelta(0):
        raise UserError(f"{flag} must be positive")
    return parsed


def run(args: argparse.Namespace) -> int:
    if args.count is not None and args.count < 1:
        raise UserError("--count must be at least 1")
    if args.report and Path(args.report).suffix.lower() not in (".html", ".htm", ".png"):
        raise UserError(f"--report {args.report!r}: the file name must end in .html or .png")
    interval = _duration_option("--interval", args.interval)
    retry = _duration_option("--error-retry-interval", args.error_retry_interval)
    values = parse_args_option(args.arg)
    try:
        template = load_template(args.template)
    except TemplateError as exc:
        raise UserError(str(exc)) from None
    for name in unknown_args(template, values):
        sys.stderr.write(f"warning: template {template.name!r} has no argument {name!r}\n")
    overrides = Overrides(
        count=args.count, interval=args.interval if interval else None, once=args.once
    )
    try:
        result = run_template(
            template,
            prometheus=args.prometheus,
            args=values,
            metrics=args.metric,
            overrides=overrides,
            error_retry=retry or DEFAULT_ERROR_RETRY_INTERVAL,
            progress=_progress if args.output == "text" else None,
        )
    except TemplateError as exc:
        raise UserError(str(exc)) from None
    except SpecError as exc:  # the run ends as Error before any measurement
        if args.output == "json":
            sys.stdout.write(_json_error(str(exc)))
        else:
            sys.stdout.write(f"run: Error - {exc}\n")
        return EXIT_USAGE
    title = f"{template.kind} {template.name}"
    if args.output == "json":
        sys.stdout.write(render_json(result))
    else:
        sys.stdout.write(render_text(result, title=title))
    if args.report:
        try:
            write_report(result, Path(args.report), title=title)
        except OSError as exc:
            raise UserError(f"cannot write report {args.report}: {exc}") from None
    return EXIT_CODES.get(result.phase, EXIT_USAGE)


def _progress(result: MetricResult, measurement: Measurement) -> None:
    """One stderr line per measurement while a long run is going (text output only)."""
    at = measurement.finished_at.astimezone().strftime("%H:%M:%S")
    detail = measurement.value or measurement.message
    sys.stderr.write(f"{at} {result.name}: {measurement.phase} {detail}\n")
    sys.stderr.flush()


def _json_error(message: str) -> str:
    return json.dumps({"phase": "Error", "message": message, "metrics": []}, indent=2) + "\n"
