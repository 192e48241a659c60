"""AnalysisTemplates: loading, argument resolution, ``{{args.x}}`` substitution, validation.

Mirrors Argo Rollouts (reference note §3-4): the whole metric is serialised to JSON, every
``{{ ... }}`` tag (trimmed) must be a known ``args.<name>`` whose value is JSON-escaped before
insertion; any other tag, or an argument left without a value, is a spec error that ends the
run as Error before any measurement. ``ValidateMetric`` rules are checked after substitution.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from tools import yamlfile
from tools.analysis.durations import parse_duration
from tools.analysis.expr import goregexp
from tools.repo import repo_root

KINDS = ("AnalysisTemplate", "ClusterAnalysisTemplate")
PROVIDERS = (
    "prometheus",
    "job",
    "web",
    "wavefront",
    "kayenta",
    "datadog",
    "newRelic",
    "cloudWatch",
    "graphite",
    "influxdb",
    "skywalking",
    "plugin",
)
DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4
DEFAULT_MEASUREMENT_RETENTION = 10
_SKIP_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache"})


class TemplateError(Exception):
    """The template cannot be read or found (a usage error, exit 2)."""


class SpecError(Exception):
    """Argo would end the run as Error before measuring (unresolved args, invalid spec)."""


@dataclass(frozen=True)
class Template:
    kind: str
    name: str
    path: Path
    spec: Mapping[str, Any]

    @property
    def args(self) -> list[Mapping[str, Any]]:
        return list(self.spec.get("args") or [])

    @property
    def metric_names(self) -> list[str]:
        metrics = self.spec.get("metrics")
        items = metrics if isinstance(metrics, list) else []
        return [str(m.get("name") or "") if isinstance(m, dict) else "" for m in items]


@dataclass(frozen=True)
class Metric:
    """One resolved, validated metric with Argo's defaults applied."""

    name: str
    provider: Mapping[str, Any]  # the resolved `provider.prometheus` block
    success_condition: str | None = None
    failure_condition: str | None = None
    count: int = 0  # 0 = unset
    interval: timedelta | None = None
    initial_delay: timedelta | None = None
    failure_limit: int = 0
    inconclusive_limit: int = 0
    consecutive_error_limit: int = DEFAULT_CONSECUTIVE_ERROR_LIMIT
    consecutive_success_limit: int = 0
    dry_run: bool = False
    retention: int = DEFAULT_MEASUREMENT_RETENTION
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def effective_count(self) -> int | None:
        """Argo's EffectiveCount: None means "runs until terminated"."""
        if self.count > 0:
            return self.count
        return None if self.interval is not None else 1


# --- finding and loading ---------------------------------------------------------------------


def _documents(path: Path) -> Iterator[Mapping[str, Any]]:
    try:
        text = yamlfile.read_text(path)
    except yamlfile.YamlError as exc:
        raise TemplateError(f"cannot read {path}: {exc}") from None
    try:
        documents = yamlfile.load_all(text)
    except yamlfile.YamlError as exc:
        raise TemplateError(f"{path} is not valid YAML: {exc}") from None
    for doc in documents:
        if isinstance(doc, dict):
            yield doc


def _templates_in(path: Path) -> list[Template]:
    found = []
    for doc in _documents(path):
        if doc.get("kind") in KINDS:
            name = str((doc.get("metadata") or {}).get("name") or "")
            spec = doc.get("spec")
            if not isinstance(spec, dict):
                raise TemplateError(f"{path}: {doc['kind']} {name!r} has no spec")
            found.append(Template(str(doc["kind"]), name, path, spec))
    return found


def _yaml_files(root: Path) -> Iterator[Path]:
    preferred = root / "rollouts"
    if preferred.is_dir():
        yield from sorted(preferred.rglob("*.y*ml"))
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        base = Path(dirpath)
        if base == preferred or preferred in base.parents:
            continue
        for filename in sorted(filenames):
            if filename.endswith((".yaml", ".yml")):
                yield base / filename


def find_template(ref: str, root: Path | None = None) -> Template:
    """``ref`` is a file with one template, or the metadata.name of a template in the repo."""
    path = Path(ref)
    if path.is_file():
        templates = _templates_in(path)
        if not templates:
            raise TemplateError(f"{path} contains no AnalysisTemplate or ClusterAnalysisTemplate")
        if len(templates) > 1:
            names = ", ".join(t.name for t in templates)
            raise TemplateError(f"{path} contains several templates ({names}); pass one name")
        return templates[0]
    if path.suffix in (".yaml", ".yml") or os.sep in ref:
        raise TemplateError(f"{ref}: no such file")
    base = repo_root(root)
    for candidate in _yaml_files(base):
        try:
            templates = _templates_in(candidate)
        except TemplateError:
            continue  # unrelated broken YAML elsewhere in the repo is not our business
        for template in templates:
            if template.name == ref:
                return template
    raise TemplateError(f"no AnalysisTemplate named {ref!r} under {base}")


# --- arguments ---------------------------------------------------------------------------------


def resolve_args(
    template: Template, overrides: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Merge ``--arg`` overrides into the template's args (Argo's MergeArgs).

    Returns the values and the override names the template does not declare (Argo ignores
    those; the CLI warns about them).
    """
    values: dict[str, str] = {}
    declared: list[str] = []
    for arg in template.args:
        name = str(arg.get("name") or "")
        declared.append(name)
        if name in overrides:
            values[name] = overrides[name]
        elif arg.get("value") is not None:
            values[name] = str(arg["value"])
        elif arg.get("valueFrom"):
            source = arg["valueFrom"]
            what = "valueFrom.secretKeyRef" if "secretKeyRef" in source else "valueFrom"
            raise SpecError(
                f"Unable to resolve metric arguments: "
                f'argument "{name}" takes its value from {what}, which gitops analyze cannot '
                f"resolve outside the cluster; pass --arg {name}=VALUE"
            )
        else:
            raise SpecError(
                f'Unable to resolve metric arguments: argument "{name}" was not supplied'
            )
    unknown = [name for name in overrides if name not in declared]
    return values, unknown


def substitute(value: Any, args: Mapping[str, str]) -> Any:
    """Replace every ``{{ args.x }}`` in ``value`` (any JSON-able structure)."""
    text = json.dumps(value, ensure_ascii=False)
    out: list[str] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            out.append(text[pos:])
            break
        end = text.find("}}", start + 2)
        if end < 0:
            raise SpecError(f"cannot find end tag '}}}}' after {text[start : start + 40]!r}")
        out.append(text[pos:start])
        raw_tag = json.loads(f'"{text[start + 2 : end]}"')
        tag = raw_tag.strip()
        if not tag.startswith("args.") or tag[5:] not in args:
            raise SpecError(f"failed to resolve {{{{{raw_tag}}}}}")
        out.append(json.dumps(args[tag[5:]], ensure_ascii=False)[1:-1])
        pos = end + 2
    return json.loads("".join(out))


# --- validation and resolution ------------------------------------------------------------------


@dataclass(frozen=True)
class Overrides:
    """CLI overrides applied to every metric before validation."""

    count: int | None = None
    interval: str | None = None
    once: bool = False


def _int_or_string(value: Any, what: str) -> int:
    """Kubernetes IntOrString.IntValue(): a non-numeric string counts as 0."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise SpecError(f"{what} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return 0
    raise SpecError(f"{what} must be an integer")


def _duration(value: Any, what: str) -> timedelta | None:
    if value in (None, ""):
        return None
    try:
        return parse_duration(str(value))
    except ValueError as exc:
        raise SpecError(f"invalid {what} string: {exc}") from None


def build_metric(raw: Mapping[str, Any], index: int, overrides: Overrides) -> Metric:
    """Apply overrides and Argo's ValidateMetric to one resolved metric."""
    prefix = f"metrics[{index}]"
    raw = dict(raw)
    if overrides.once:
        raw.update(count=1, failureLimit=0, inconclusiveLimit=0, consecutiveErrorLimit=0)
        raw.pop("interval", None)
        raw.pop("consecutiveSuccessLimit", None)
        raw.pop("initialDelay", None)
    else:
        if overrides.count is not None:
            raw["count"] = overrides.count
        if overrides.interval is not None:
            raw["interval"] = overrides.interval
    count = _int_or_string(raw.get("count"), f"{prefix}.count")
    failure_limit = _int_or_string(raw.get("failureLimit"), f"{prefix}.failureLimit")
    inconclusive_limit = _int_or_string(raw.get("inconclusiveLimit"), f"{prefix}.inconclusiveLimit")
    success_limit = _int_or_string(
        raw.get("consecutiveSuccessLimit"), f"{prefix}.consecutiveSuccessLimit"
    )
    error_limit = (
        DEFAULT_CONSECUTIVE_ERROR_LIMIT
        if raw.get("consecutiveErrorLimit") is None
        else _int_or_string(raw.get("consecutiveErrorLimit"), f"{prefix}.consecutiveErrorLimit")
    )

    def fail(message: str) -> SpecError:
        return SpecError(f"{prefix}: {message}")

    if count > 0:
        if failure_limit >= 0 and success_limit >= 0 and count < failure_limit + success_limit:
            raise fail("count must be >= failureLimit + consecutiveSuccessLimit")
        if count < inconclusive_limit:
            raise fail("count must be >= inconclusiveLimit")
    if count > 1 and not raw.get("interval"):
        raise fail("interval must be specified when count > 1")
    try:
        interval = _duration(raw.get("interval"), "interval")
        initial_delay = _duration(raw.get("initialDelay"), "initialDelay")
    except SpecError as exc:
        raise fail(str(exc)) from None
    if failure_limit < -1:
        raise fail("failureLimit must be >= -1")
    if failure_limit == -1 and success_limit == 0:
        raise fail("failureLimit -1 (disabled) requires consecutiveSuccessLimit > 0")
    if inconclusive_limit < 0:
        raise fail("inconclusiveLimit must be >= 0")
    if error_limit < 0:
        raise fail("consecutiveErrorLimit must be >= 0")
    if success_limit < 0:
        raise fail("consecutiveSuccessLimit must be >= 0")
    provider = raw.get("provider") or {}
    kinds = [k for k in provider if k in PROVIDERS] if isinstance(provider, dict) else []
    if not kinds:
        raise fail("no provider specified")
    if len(kinds) > 1:
        raise fail("multiple providers specified")
    if kinds[0] != "prometheus":
        raise fail(f"provider {kinds[0]!r} is not supported by gitops analyze (prometheus only)")
    return Metric(
        name=str(raw.get("name") or ""),
        provider=provider["prometheus"] or {},
        success_condition=raw.get("successCondition") or None,
        failure_condition=raw.get("failureCondition") or None,
        count=count,
        interval=interval,
        initial_delay=initial_delay,
        failure_limit=failure_limit,
        inconclusive_limit=inconclusive_limit,
        consecutive_error_limit=error_limit,
        consecutive_success_limit=success_limit,
        raw=raw,
    )


def _match_rules(
    rules: Sequence[Mapping[str, Any]], names: Sequence[str], what: str
) -> list[tuple[Any, Mapping[str, Any]]]:
    compiled = []
    # Argo matches with Go's regexp.MatchString (RE2: an unanchored search in linear time) and
    # ignores its error, so a pattern Go rejects matches nothing (utils/analysis/helpers.go).
    for i, rule in enumerate(rules):
        pattern = str(rule.get("metricName") or "")
        try:
            regex = goregexp.compile_pattern(pattern)
        except goregexp.RegexpError as exc:
            raise SpecError(f"{what}[{i}]: Rule didn't match any metric name(s) ({exc})") from None
        if not any(regex.search(name) for name in names):
            raise SpecError(f"{what}[{i}]: Rule didn't match any metric name(s)")
        compiled.append((regex, rule))
    return compiled


def resolve_metrics(
    template: Template,
    args: Mapping[str, str],
    *,
    only: Sequence[str] = (),
    overrides: Overrides | None = None,
) -> list[Metric]:
    """Substitute args into every metric, validate, and mark dry-run metrics."""
    overrides = overrides or Overrides()
    raw_metrics = template.spec.get("metrics") or []
    if not isinstance(raw_metrics, list) or not raw_metrics:
        raise SpecError("Analysis spec invalid: no metrics specified")
    names = [str((m or {}).get("name") or "") for m in raw_metrics]
    unknown = [n for n in only if n not in names]
    if unknown:
        raise TemplateError(
            f"template {template.name!r} has no metric {', '.join(map(repr, unknown))}; "
            f"its metrics: {', '.join(names)}"
        )
    metrics: list[Metric] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_metrics):
        if not isinstance(raw, dict):
            raise SpecError(f"Analysis spec invalid: metrics[{i}] is not a mapping")
        if names[i] in seen:
            raise SpecError(f"Analysis spec invalid: metrics[{i}]: duplicate name '{names[i]}'")
        seen.add(names[i])
        try:
            resolved = substitute(raw, args)
        except SpecError as exc:
            raise SpecError(f"Unable to resolve metric arguments: {exc}") from None
        try:
            metrics.append(build_metric(resolved, i, overrides))
        except SpecError as exc:
            raise SpecError(f"Analysis spec invalid: {exc}") from None
    try:
        dry_rules = _match_rules(template.spec.get("dryRun") or [], names, "dryRun")
        retention_rules = _match_rules(
            template.spec.get("measurementRetention") or [], names, "measurementRetention"
        )
    except SpecError as exc:
        raise SpecError(f"Analysis spec invalid: {exc}") from None
    final = []
    for metric in metrics:
        dry = any(regex.search(metric.name) for regex, _ in dry_rules)
        retention = metric.retention
        for regex, rule in retention_rules:
            if regex.search(metric.name):
                retention = _int_or_string(rule.get("limit"), "measurementRetention.limit")
        final.append(replace(metric, dry_run=dry, retention=retention))
    return [m for m in final if not only or m.name in only]


def merge_templates(templates: Sequence[Template]) -> Template:
    """Several templates in one run, as a Rollout's ``analysis.templates`` list does.

    Args of the same name must not carry different values; metric names must be unique
    (Argo's flattenArgs / flattenMetrics).
    """
    if len(templates) == 1:
        return templates[0]
    args: dict[str, dict[str, Any]] = {}
    metrics: list[Any] = []
    dry_run: list[Any] = []
    retention: list[Any] = []
    for template in templates:
        for arg in template.args:
            name = str(arg.get("name") or "")
            if name in args:
                old, new = args[name].get("value"), arg.get("value")
                if old is not None and new is not None and old != new:
                    raise SpecError(
                        f"Argument `{name}` specified multiple times with different values: "
                        f"'{old}', '{new}'"
                    )
                if old is None:
                    args[name] = dict(arg)
            else:
                args[name] = dict(arg)
        metrics.extend(template.spec.get("metrics") or [])
        dry_run.extend(template.spec.get("dryRun") or [])
        retention.extend(template.spec.get("measurementRetention") or [])
    names = [str((m or {}).get("name")) for m in metrics]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecError(f"two metrics have the same name {duplicates[0]!r}")
    spec = {
        "args": list(args.values()),
        "metrics": metrics,
        "dryRun": dry_run,
        "measurementRetention": retention,
    }
    joined = "+".join(t.name for t in templates)
    return Template("AnalysisTemplate", joined, templates[0].path, spec)
