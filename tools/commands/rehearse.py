"""``gitops rehearse``: a whole canary analysis on this machine, loopback only.

Trains the models into a temporary MLflow store, starts Prometheus, a stable API and, per
scenario, a canary API, sends 90/10 load, runs the repository's AnalysisTemplates (scaled
down) and prints promote or abort with the report. Exit 0 when every scenario ended the way
it should (good -> promote, faults -> abort, no traffic -> never promote), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from tools.analysis.durations import format_duration, parse_duration
from tools.analysis.report import render_text, to_json, write_report
from tools.analysis.template import SpecError, TemplateError
from tools.errors import EXIT_FINDINGS, EXIT_OK, UserError
from tools.rehearsal.prometheus import HarnessError
from tools.rehearsal.scenarios import SCENARIOS, Rehearsal, ScenarioResult, Timing


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "rehearse",
        help="rehearse a canary analysis locally (Prometheus + stable and canary APIs)",
        description="Rehearse a whole canary analysis on this machine (loopback only): "
        "Prometheus, a stable and a canary API, 90/10 load and the repository's "
        "AnalysisTemplates, scaled down. Exit 0 when every scenario ends as it should.",
    )
    p.add_argument(
        "--scenario",
        action="append",
        choices=sorted(SCENARIOS),
        help="scenario to run (repeatable; default: all)",
    )
    p.add_argument(
        "--duration",
        metavar="DURATION",
        default="10s",
        help="analysis length per scenario: count x interval (default 10s = 3 x 5s)",
    )
    p.add_argument("--count", type=int, default=3, help="measurements per metric (default 3)")
    p.add_argument("--window", default="10s", help="the templates' rate window (default 10s)")
    p.add_argument(
        "--warmup", type=float, default=12.0, help="seconds of load before analysis (12)"
    )
    p.add_argument(
        "--output",
        choices=("text", "json"),
        default="text",
        help="text (default) or json: one object per scenario",
    )
    p.add_argument("--report", metavar="DIR", help="write one HTML report per scenario here")
    p.set_defaults(func=run)


def timing_from(args: argparse.Namespace) -> Timing:
    if args.count < 1:
        raise UserError("--count must be at least 1")
    try:
        duration = parse_duration(args.duration)
        parse_duration(args.window)
    except ValueError as exc:
        raise UserError(str(exc), hint="use a Go duration like 10s or 1m") from None
    if duration <= timedelta(0):
        raise UserError("--duration must be positive")
    if args.warmup < 0:
        raise UserError("--warmup must not be negative")
    # count measurements span (count - 1) intervals; at least one second apart.
    interval = max(timedelta(seconds=1), duration / max(1, args.count - 1))
    return Timing(
        window=args.window,
        interval=format_duration(interval),
        count=args.count,
        warmup=args.warmup,
    )


def run(args: argparse.Namespace) -> int:
    timing = timing_from(args)
    names = args.scenario or list(SCENARIOS)
    results: list[ScenarioResult] = []
    log = args.output == "text"
    try:
        keys = ("champion", *sorted({SCENARIOS[n].canary_model for n in names}))
        with Rehearsal(timing=timing, log=log, model_keys=keys) as rehearsal:
            for name in names:
                result = rehearsal.run(SCENARIOS[name])
                results.append(result)
                if log:
                    _print_text(result)
                if args.report:
                    path = Path(args.report) / f"rehearsal-{name}.html"
                    write_report(result.run, path, title=f"rehearsal {name}")
    except (HarnessError, TemplateError, SpecError) as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"rehearsal failed: {exc}") from None
    if args.output == "json":
        sys.stdout.write(json.dumps([_as_json(r) for r in results], indent=2) + "\n")
    else:
        print("summary:")
        for r in results:
            mark = "ok" if r.as_expected else "UNEXPECTED"
            print(f"  {r.scenario.name:<16} {r.run.phase:<13} {r.decision:<40} {mark}")
    return EXIT_OK if all(r.as_expected for r in results) else EXIT_FINDINGS


def _print_text(result: ScenarioResult) -> None:
    print(render_text(result.run, title=f"== scenario {result.scenario.name} =="), end="")
    print(f"load: {result.load.summary()}")
    for note in result.notes:
        print(f"note: {note}")
    print(f"decision: {result.decision}\n", flush=True)


def _as_json(result: ScenarioResult) -> dict[str, Any]:
    return {
        "scenario": result.scenario.name,
        "decision": result.decision,
        "asExpected": result.as_expected,
        "expected": [str(p) for p in result.scenario.expected],
        "analysis": to_json(result.run),
        "load": result.load.summary(),
    }
