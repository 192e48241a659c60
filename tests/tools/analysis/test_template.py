"""Templates: finding, args, ``{{args.x}}`` substitution and ValidateMetric rules."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO_ROOT
from tools.analysis.template import (
    Overrides,
    SpecError,
    Template,
    TemplateError,
    find_template,
    merge_templates,
    resolve_args,
    resolve_metrics,
    substitute,
)


def template(
    metrics: list[dict[str, Any]], args: list[dict[str, Any]] | None = None, **spec: Any
) -> Template:
    return Template(
        "AnalysisTemplate", "t", Path("t.yaml"), {"metrics": metrics, "args": args or [], **spec}
    )


def metric(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "m",
        "successCondition": "result[0] > 0",
        "provider": {"prometheus": {"address": "http://p:9090", "query": "up"}},
    }
    base.update(fields)
    return base


def resolve(t: Template, args: dict[str, str] | None = None, **kw: Any) -> list[Any]:
    values, _ = resolve_args(t, args or {})
    return resolve_metrics(t, values, **kw)


# --- substitution ------------------------------------------------------------------------------


def test_substitution_reaches_every_field_and_trims_tags() -> None:
    raw = {"q": 'x{job="{{ args.job }}"}', "nested": [{"h": "{{args.job}}"}], "n": 3}
    assert substitute(raw, {"job": "api"}) == {
        "q": 'x{job="api"}',
        "nested": [{"h": "api"}],
        "n": 3,
    }


def test_values_land_verbatim_even_with_quotes_and_backslashes() -> None:
    value = 'a"b\\c'
    assert substitute({"q": "{{args.x}}"}, {"x": value}) == {"q": value}


def test_unknown_tag_is_an_error() -> None:
    with pytest.raises(SpecError, match=r"failed to resolve \{\{args.nope\}\}"):
        substitute({"q": "{{args.nope}}"}, {"x": "1"})
    with pytest.raises(SpecError, match=r"failed to resolve \{\{ input.x \}\}"):
        substitute({"q": "{{ input.x }}"}, {"x": "1"})


def test_unterminated_tag_is_an_error() -> None:
    with pytest.raises(SpecError, match="end tag"):
        substitute({"q": "{{args.x"}, {"x": "1"})


def test_argument_without_value_is_an_error() -> None:
    t = template([metric()], args=[{"name": "namespace"}])
    with pytest.raises(SpecError, match='argument "namespace" was not supplied'):
        resolve(t)
    assert resolve(t, {"namespace": "prod"})[0].name == "m"


def test_secret_args_need_an_explicit_value_locally() -> None:
    t = template(
        [metric()],
        args=[{"name": "token", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
    )
    with pytest.raises(SpecError, match=r"secretKeyRef.*--arg token=VALUE"):
        resolve(t)
    assert resolve(t, {"token": "x"})


def test_overrides_win_and_unknown_overrides_are_reported() -> None:
    t = template(
        [metric(successCondition="result[0] > {{args.min}}")], args=[{"name": "min", "value": "1"}]
    )
    values, unknown = resolve_args(t, {"min": "2", "typo": "3"})
    assert values == {"min": "2"}
    assert unknown == ["typo"]
    assert resolve_metrics(t, values)[0].success_condition == "result[0] > 2"


def test_unresolved_arg_in_metric_is_spec_error() -> None:
    t = template([metric(successCondition="result[0] > {{args.missing}}")])
    with pytest.raises(SpecError, match="Unable to resolve metric arguments"):
        resolve(t)


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"count": 2}, "interval must be specified when count > 1"),
        ({"count": 2, "interval": "1x"}, "invalid interval string"),
        ({"initialDelay": "soon"}, "invalid initialDelay string"),
        ({"count": 1, "failureLimit": 2}, "count must be >= failureLimit"),
        (
            {"count": 3, "interval": "1s", "failureLimit": 2, "consecutiveSuccessLimit": 2},
            "count must be >= failureLimit",
        ),
        ({"count": 1, "inconclusiveLimit": 2}, "count must be >= inconclusiveLimit"),
        ({"failureLimit": -2}, "failureLimit must be >= -1"),
        ({"failureLimit": -1}, "requires consecutiveSuccessLimit > 0"),
        ({"inconclusiveLimit": -1}, "inconclusiveLimit must be >= 0"),
        ({"consecutiveErrorLimit": -1}, "consecutiveErrorLimit must be >= 0"),
        ({"provider": {}}, "no provider specified"),
        ({"provider": {"prometheus": {}, "web": {}}}, "multiple providers specified"),
        ({"provider": {"datadog": {}}}, "not supported by gitops analyze"),
    ],
)
def test_validate_metric(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        resolve(template([metric(**fields)]))


def test_no_metrics_and_duplicate_names() -> None:
    with pytest.raises(SpecError, match="no metrics specified"):
        resolve(template([]))
    with pytest.raises(SpecError, match="duplicate name 'm'"):
        resolve(template([metric(), metric()]))


def test_defaults_and_int_or_string_fields() -> None:
    (m,) = resolve(
        template([metric(count="{{args.n}}", interval="1m")], args=[{"name": "n", "value": "5"}])
    )
    assert m.count == 5
    assert m.interval == timedelta(minutes=1)
    assert m.failure_limit == 0
    assert m.inconclusive_limit == 0
    assert m.consecutive_error_limit == 4
    assert m.consecutive_success_limit == 0
    assert m.effective_count == 5


def test_effective_count() -> None:
    (once,) = resolve(template([metric()]))
    assert once.effective_count == 1
    (forever,) = resolve(template([metric(interval="10s")]))
    assert forever.effective_count is None


def test_overrides_apply_before_validation() -> None:
    t = template([metric(count=5, interval="1m", failureLimit=1)])
    (m,) = resolve(t, overrides=Overrides(count=3, interval="5s"))
    assert (m.count, m.interval) == (3, timedelta(seconds=5))
    (once,) = resolve(t, overrides=Overrides(once=True))
    assert (once.count, once.interval, once.failure_limit, once.consecutive_error_limit) == (
        1,
        None,
        0,
        0,
    )


def test_dry_run_and_retention_rules() -> None:
    t = template(
        [metric(name="a"), metric(name="b")],
        dryRun=[{"metricName": "^b$"}],
        measurementRetention=[{"metricName": "a", "limit": 3}],
    )
    a, b = resolve(t)
    assert (a.dry_run, b.dry_run) == (False, True)
    assert (a.retention, b.retention) == (3, 10)
    with pytest.raises(SpecError, match=r"dryRun\[0\]: Rule didn't match"):
        resolve(template([metric()], dryRun=[{"metricName": "zzz"}]))
    with pytest.raises(SpecError, match=r"measurementRetention\[0\]"):
        resolve(template([metric()], measurementRetention=[{"metricName": "zzz", "limit": 1}]))


def test_metric_filter() -> None:
    t = template([metric(name="a"), metric(name="b")])
    assert [m.name for m in resolve(t, only=["b"])] == ["b"]
    with pytest.raises(TemplateError, match="has no metric 'c'"):
        resolve(t, only=["c"])


def test_merge_templates_like_a_rollout_step() -> None:
    one = Template(
        "AnalysisTemplate",
        "one",
        Path("1"),
        {"args": [{"name": "w", "value": "2m"}], "metrics": [metric(name="a")]},
    )
    two = Template(
        "AnalysisTemplate",
        "two",
        Path("2"),
        {"args": [{"name": "w", "value": "2m"}], "metrics": [metric(name="b")]},
    )
    merged = merge_templates([one, two])
    assert [m.name for m in resolve(merged)] == ["a", "b"]
    clash = Template(
        "AnalysisTemplate",
        "c",
        Path("3"),
        {"args": [{"name": "w", "value": "5m"}], "metrics": [metric(name="c")]},
    )
    with pytest.raises(SpecError, match="specified multiple times with different values"):
        merge_templates([one, clash])
    with pytest.raises(SpecError, match="same name"):
        merge_templates([one, one])


# --- finding -------------------------------------------------------------------------------------


def test_find_by_file_and_by_name_in_the_repo() -> None:
    by_file = find_template(str(REPO_ROOT / "rollouts/analysistemplate-success-rate.yaml"))
    by_name = find_template("success-rate", REPO_ROOT)
    assert by_file.name == by_name.name == "success-rate"
    assert by_name.path.name == "analysistemplate-success-rate.yaml"


def test_find_errors(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no AnalysisTemplate named 'nope'"):
        find_template("nope", REPO_ROOT)
    with pytest.raises(TemplateError, match="no such file"):
        find_template(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [unclosed")
    with pytest.raises(TemplateError, match="not valid YAML"):
        find_template(str(bad))
    other = tmp_path / "other.yaml"
    other.write_text("kind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(TemplateError, match="contains no AnalysisTemplate"):
        find_template(str(other))


def test_repository_templates_resolve_with_their_documented_args() -> None:
    for name in ("success-rate", "latency-p95", "prediction-drift"):
        t = find_template(name, REPO_ROOT)
        values, _ = resolve_args(t, {"namespace": "ns", "canary-hash": "c", "stable-hash": "s"})
        metrics = resolve_metrics(t, values)
        assert metrics
        for m in metrics:
            assert "{{" not in m.provider["query"]
            assert 'rollouts_pod_template_hash="c"' in m.provider["query"]


def test_dry_run_rule_go_rejects_matches_nothing() -> None:
    # utils/analysis/helpers.go ignores regexp.MatchString's error: the rule matches no metric.
    with pytest.raises(SpecError, match=r"dryRun\[0\]: Rule didn't match .*invalid named capture"):
        resolve(template([metric(name="ab")], dryRun=[{"metricName": "(?<=a)b"}]))
