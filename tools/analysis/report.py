"""Render a finished run: text for people, JSON for machines, HTML/PNG charts per metric."""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tools.analysis.expr import ExprError, ast, parse
from tools.analysis.phases import Phase
from tools.analysis.run import Measurement, MetricResult, RunResult
from tools.files import write_atomic

PHASE_COLOURS = {
    Phase.SUCCESSFUL: "#2e7d32",
    Phase.FAILED: "#c62828",
    Phase.INCONCLUSIVE: "#ef6c00",
    Phase.ERROR: "#6a1b9a",
}
PHASE_MARKERS = {
    Phase.SUCCESSFUL: "o",
    Phase.FAILED: "X",
    Phase.INCONCLUSIVE: "D",
    Phase.ERROR: "s",
}


def _timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with second precision, like a Kubernetes metav1.Time."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def kept(result: MetricResult) -> list[Measurement]:
    """The measurements Argo keeps in status (measurementRetention, default 10)."""
    limit = result.metric.retention
    return result.measurements[-limit:] if limit > 0 else result.measurements


def to_json(run: RunResult) -> dict[str, Any]:
    return {
        "phase": str(run.phase),
        "message": run.message,
        "metrics": [
            {
                "name": r.name,
                "phase": str(r.phase),
                "successful": r.successful,
                "failed": r.failed,
                "inconclusive": r.inconclusive,
                "error": r.error,
                "consecutiveError": r.consecutive_error,
                "measurements": [
                    {
                        "phase": str(m.phase),
                        "value": m.value,
                        "message": m.message,
                        "startedAt": _timestamp(m.started_at),
                        "finishedAt": _timestamp(m.finished_at),
                    }
                    for m in kept(r)
                ],
            }
            for r in run.metrics
        ],
    }


def render_json(run: RunResult) -> str:
    return json.dumps(to_json(run), indent=2) + "\n"


def render_text(run: RunResult, *, title: str = "") -> str:
    lines = []
    if title:
        lines.append(title)
    for r in run.metrics:
        dry = " (dry run)" if r.metric.dry_run else ""
        lines.append(
            f"metric {r.name}{dry}: {r.phase}  successful={r.successful} failed={r.failed} "
            f"inconclusive={r.inconclusive} error={r.error} consecutiveError={r.consecutive_error}"
        )
        for m in r.measurements:
            at = m.finished_at.strftime("%H:%M:%S")
            detail = f"value={m.value}" if m.value else ""
            if m.message:
                detail = f"{detail}  {m.message}" if detail else m.message
            lines.append(f"  {at}  {m.phase:<12} {detail}")
    lines.append(f"run: {run.phase}" + (f" - {run.message}" if run.message else ""))
    return "\n".join(lines) + "\n"


# --- charts ----------------------------------------------------------------------------------


def thresholds(condition: str | None) -> list[float]:
    """Numbers a condition compares the result against (``result[0] >= 0.99`` -> [0.99])."""
    if not condition:
        return []
    try:
        tree = parse(condition)
    except ExprError:
        return []
    found: list[float] = []

    def walk(node: ast.Node) -> None:
        if isinstance(node, ast.Binary):
            if node.op in ("<", ">", "<=", ">="):
                for side, other in ((node.left, node.right), (node.right, node.left)):
                    if isinstance(side, ast.Literal) and _mentions_result(other):
                        value = side.value
                        if isinstance(value, int | float) and not isinstance(value, bool):
                            found.append(float(value))
            walk(node.left)
            walk(node.right)
        elif isinstance(node, ast.Unary):
            walk(node.operand)
        elif isinstance(node, ast.Call):
            for arg in node.args:
                walk(arg)
        elif isinstance(node, ast.Closure):
            walk(node.body)

    walk(tree)
    return sorted(set(found))


_NOT_A_VALUE = frozenset({"len", "count", "isNaN", "isInf", "isNil"})


def _mentions_result(node: ast.Node) -> bool:
    if isinstance(node, ast.Name):
        return node.name == "result"
    if isinstance(node, ast.Pointer):
        return True
    children: list[ast.Node] = []
    if isinstance(node, ast.Index):
        children = [node.target, node.index]
    elif isinstance(node, ast.Binary):
        children = [node.left, node.right]
    elif isinstance(node, ast.Unary):
        children = [node.operand]
    elif isinstance(node, ast.Call):
        if node.name in _NOT_A_VALUE:
            return False  # `len(result) > 0` is a guard, not a threshold
        children = list(node.args)
    return any(_mentions_result(child) for child in children)


def _points(m: Measurement) -> list[float]:
    if isinstance(m.result, list):
        return [v for v in m.result if not math.isnan(v)]
    if isinstance(m.result, float) and not math.isnan(m.result):
        return [m.result]
    return []


def _figure(run: RunResult, title: str) -> Any:
    os.environ.setdefault("MPLCONFIGDIR", tempfile.gettempdir())
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    count = max(1, len(run.metrics))
    fig, axes = plt.subplots(count, 1, figsize=(9, 3.2 * count), squeeze=False)
    for ax, r in zip(axes[:, 0], run.metrics, strict=False):
        start = run.started_at
        for phase in PHASE_COLOURS:
            xs: list[float] = []
            ys: list[float] = []
            empty: list[float] = []
            for m in r.measurements:
                if m.phase is not phase:
                    continue
                t = (m.finished_at - start).total_seconds()
                points = _points(m)
                if not points:
                    # No plottable value (Error, empty vector, NaN): a line and a marker
                    # on the bottom edge, so it is visible whatever the y range.
                    ax.axvline(t, color=PHASE_COLOURS[phase], alpha=0.35, linestyle=":")
                    empty.append(t)
                for value in points:
                    xs.append(t)
                    ys.append(max(min(value, 1e9), -1e9))
            if empty:
                ax.scatter(
                    empty,
                    [0.03] * len(empty),
                    transform=ax.get_xaxis_transform(),
                    color=PHASE_COLOURS[phase],
                    marker=PHASE_MARKERS[phase],
                    facecolors="none",
                    s=60,
                    label=f"{phase} (no value)",
                    zorder=3,
                )
            if xs:
                ax.scatter(
                    xs,
                    ys,
                    color=PHASE_COLOURS[phase],
                    marker=PHASE_MARKERS[phase],
                    s=60,
                    label=str(phase),
                    zorder=3,
                )
        series = [
            ((m.finished_at - start).total_seconds(), _points(m)[0])
            for m in r.measurements
            if _points(m)
        ]
        if series:
            ax.plot([x for x, _ in series], [y for _, y in series], color="#607d8b", zorder=2)
        limits = set(thresholds(r.metric.success_condition))
        limits |= set(thresholds(r.metric.failure_condition))
        for limit in sorted(limits):
            ax.axhline(limit, color="#37474f", linestyle="--", linewidth=1)
            ax.annotate(f"threshold {limit:g}", (0, limit), fontsize=8, va="bottom")
        dry = " (dry run)" if r.metric.dry_run else ""
        ax.set_title(f"{r.name}{dry}: {r.phase}", color=PHASE_COLOURS.get(r.phase, "black"))
        ax.set_xlabel("seconds since the run started")
        ax.set_ylabel("result")
        ax.grid(alpha=0.3)
        handles, _ = ax.get_legend_handles_labels()
        if handles:
            ax.legend(loc="best", fontsize=8)
    fig.suptitle(f"{title} - run {run.phase}" if title else f"run {run.phase}")
    fig.tight_layout()
    return fig


def render_png(run: RunResult, *, title: str = "") -> bytes:
    from matplotlib import pyplot as plt

    fig = _figure(run, title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def render_html(run: RunResult, *, title: str = "") -> str:
    image = base64.b64encode(render_png(run, title=title)).decode("ascii")
    rows = []
    for r in run.metrics:
        for m in r.measurements:
            colour = PHASE_COLOURS.get(m.phase, "black")
            rows.append(
                f"<tr><td>{html.escape(r.name)}</td><td>{_timestamp(m.finished_at)}</td>"
                f'<td style="color:{colour}">{m.phase}</td><td>{html.escape(m.value)}</td>'
                f"<td>{html.escape(m.message)}</td></tr>"
            )
    heading = html.escape(title or "gitops analyze")
    message = html.escape(run.message)
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{heading}</title></head><body>\n"
        f"<h1>{heading}: {run.phase}</h1>\n<p>{message}</p>\n"
        f'<img alt="measurements per metric" src="data:image/png;base64,{image}">\n'
        "<table border='1' cellpadding='4'><tr><th>metric</th><th>finished</th>"
        "<th>phase</th><th>value</th><th>message</th></tr>\n"
        + "\n".join(rows)
        + "\n</table></body></html>\n"
    )


def write_report(run: RunResult, path: Path, *, title: str = "") -> None:
    """Write ``.html`` or ``.png`` atomically (temp file + rename)."""
    suffix = path.suffix.lower()
    if suffix == ".png":
        data = render_png(run, title=title)
    elif suffix in (".html", ".htm"):
        data = render_html(run, title=title).encode("utf-8")
    else:
        raise ValueError(f"report must end in .html or .png, not {path.name!r}")
    write_atomic(path, data)
