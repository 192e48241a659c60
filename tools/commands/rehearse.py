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
from pathlib import Path
from typing import Any

from tools.analysis.report import render_text, to_json
from tools.errors import EXIT_FINDINGS, EXIT_OK
from tools.rehearsal.scenarios import GROUPS, SCENARIOS, ScenarioResult, Timing, rehearse


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
        choices=sorted({*SCENARIOS, *GROUPS}),
        help="scenario to run (repeatable; default: all); accuracy = accuracy-good and "
        "accuracy-worse",
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


def run(args: argparse.Namespace) -> int:
    timing = Timing.scaled(
        duration=args.duration, count=args.count, window=args.window, warmup=args.warmup
    )
    text = args.output == "text"
    results = rehearse(
        args.scenario or list(SCENARIOS),
        timing,
        log=text,
        report_dir=Path(args.report) if args.report else None,
        on_result=_print_text if text else None,
    )
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
