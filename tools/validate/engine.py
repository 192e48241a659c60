"""One validation pass: render, parse, then the checks (schemas, policies, references, alert rules).

This module orders the stages and collects the findings; the checks themselves are in
:mod:`tools.validate.checks` (see its docstring to add one), and what makes the run fast
(worker processes, caches) in :mod:`tools.validate.fast`.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tools import kustomize, yamlfile
from tools.errors import UserError
from tools.validate import defaults, loader, origins, sources
from tools.validate.checks import OBJECT_CHECKS, SCOPE_CHECKS, Context, Scope, crds, promtool
from tools.validate.checks.policies import Evaluator, PolicyResult, PolicySet, make_evaluator
from tools.validate.checks.sandbox import (
    Budget,
    SandboxedEvaluator,
    encode_objects,
    start_fork_server,
)
from tools.validate.checks.schemas import SchemaStore
from tools.validate.checks.workloads import pod_template
from tools.validate.fast.policycache import PolicyCache
from tools.validate.findings import (
    Finding,
    Report,
    Resource,
    Severity,
    Summary,
    json_path,
    parse_json_path,
)
from tools.validate.options import ValidateOptions, load_policy_set
from tools.validate.rules import describe as describe_rule

PARALLEL_THRESHOLD = 400  # objects; below this a process pool costs more than it saves
PARALLEL_FILES = 200
PARALLEL_BYTES = 256 * 1024  # of manifest files (~300 objects): parsed over processes from here


class Run:
    """State of one validation run (kept out of module globals)."""

    def __init__(self, options: ValidateOptions):
        self.options = options
        self.timings: dict[str, float] = {}
        self._mark = time.perf_counter()
        self.root = options.repo_root
        self.findings: list[Finding] = []
        self.files: set[str] = set()
        self.rendered: dict[Path, str | None] = {}  # kustomization -> error message or None
        # Policy machinery, built once per run when first needed (see _policy_engine).
        self.policy_cache: PolicyCache | None = None
        self._evaluator: Evaluator | UserError | None = None
        self._sandbox: SandboxedEvaluator | None = None
        self._is_this_repo: Callable[[str], bool] | None = None
        self.budget = yamlfile.Budget()  # decoded size of everything read (tools/yamlfile.py)
        self.over_budget = False
        self._budget_lock = threading.Lock()  # kustomizations are rendered on several threads
        self._shown: dict[str, str] = {}  # path -> how findings show it (see display)

    def spend(self, parsed: loader.Parsed, shown: str) -> None:
        """Count what *parsed* decoded to against the run's budget; over it, drop its objects."""
        with self._budget_lock:
            if self.budget.spend(parsed.decoded):
                return
            first = not self.over_budget
            self.over_budget = True
        parsed.resources.clear()
        if first:
            self.add(
                "error",
                "yaml-size",
                f"the manifests read so far decode to over {self.budget.total // yamlfile.MIB} "
                "MiB; this file and the ones after it are not validated",
                file=shown,
            )

    def this_repo(self, url: str) -> bool:
        """Whether *url* names this repository (its git remotes, or the configured URLs)."""
        if self._is_this_repo is None:
            self._is_this_repo = _this_repo(self.root, self.options.repo_urls)
        return self._is_this_repo(url)

    def evaluator(self, policies: PolicySet) -> Evaluator:
        """The compiled policies (raises UserError if they do not compile, every time asked)."""
        if isinstance(self._evaluator, UserError):
            raise self._evaluator  # compiled once only: rego-cpp prints its errors each time
        if self._evaluator is None:
            try:
                self._evaluator = make_evaluator(policies, self.options.engine)
            except UserError as exc:
                self._evaluator = exc
                raise
        return self._evaluator

    def sandbox(self, policies: PolicySet, workers: int) -> SandboxedEvaluator:
        """The compiled policies, evaluated by budgeted workers (checks/sandbox.py)."""
        if self._sandbox is None:
            budget = Budget(self.options.policy_timeout, self.options.policy_memory_mib)
            self._sandbox = SandboxedEvaluator(self.evaluator(policies), budget, workers)
        self._sandbox.workers = max(1, workers)
        return self._sandbox

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()

    def build(self, path: Path, *, origin_annotations: bool = False) -> str:
        """``kustomize build`` with this run's network setting and limits."""
        return kustomize.build(
            path,
            origin_annotations=origin_annotations,
            timeout=self.options.kustomize_timeout,
            memory_mib=self.options.kustomize_memory_mib,
            allow_remote=self.options.allow_remote,
            boundary=self.root,
        )

    def lap(self, stage: str) -> None:
        """Record the time since the previous lap (printed with GITOPS_VALIDATE_TIMINGS=1)."""
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - self._mark
        self._mark = now

    # -- findings -------------------------------------------------------------------------
    def display(self, path: Path | str) -> str:
        # Every finding of a file asks again; resolving a path costs a few system calls.
        key = str(path)
        shown = self._shown.get(key)
        if shown is None:
            shown = self._shown[key] = sources.display(path, self.root)
        return shown

    def display_listed(self, path: Path) -> str:
        """Like :meth:`display`, but of the path as found, not of what a link points at."""
        listed = Path(os.path.abspath(path))
        try:
            return listed.relative_to(self.root).as_posix()
        except ValueError:
            return str(listed)

    def add(
        self,
        severity: Severity,
        rule: str,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        hint: str | None = None,
        column: int | None = None,
    ) -> None:
        self.findings.append(Finding(severity, rule, message, None, file, line, None, hint, column))

    def on_resource(
        self,
        resource: Resource,
        severity: Severity,
        rule: str,
        message: str,
        parts: Sequence[str | int] = (),
        hint: str | None = None,
    ) -> None:
        file, line, column = origins.locate_mark(resource, list(parts))
        self.findings.append(
            Finding(
                severity,
                rule,
                message,
                resource.ref,
                self.display(file),
                line,
                json_path(list(parts)) if parts else None,
                hint,
                column,
            )
        )


def _load_crds(run: Run, store: SchemaStore) -> None:
    options = run.options
    for missing in options.missing_config_dirs:
        run.add(
            "warning",
            "config",
            f"CRD directory {missing} from [tool.gitops.validate] crd-dirs does not exist; "
            "custom resources it would cover may be reported without a schema",
        )
    for directory in options.crd_dirs:
        if not directory.is_dir():
            raise UserError(f"--crd-dir {directory}: not a directory")
        for path in crds.crd_files(directory):
            _register_crd_bytes(run, store, path.read_bytes(), run.display(path))


def _register_crd_bytes(run: Run, store: SchemaStore, data: bytes, source: str) -> None:
    try:
        for schema in crds.load_cached(data, source, run.options.cache_dir):
            store.add_crd(schema)
    except (crds.CrdError, RecursionError) as exc:
        run.add("error", "crd-schema", f"cannot use CRD: {exc}", file=source)


def _load_crd_urls(run: Run, store: SchemaStore) -> None:
    from tools.validate.fetch import FetchError, fetch_url

    # Without --allow-remote only copies cached by an earlier run are used.
    offline = not run.options.allow_remote
    why_not = (
        "an earlier URL could not connect"
        if run.options.allow_remote
        else "not cached, and validate makes no network request unless --allow-remote is given"
    )
    for url in run.options.crd_urls:
        try:
            data = fetch_url(url, run.options.cache_dir, network=not offline, why_not=why_not)
        except FetchError as exc:
            run.add("warning", "crd-url", exc.message, file=url)
            if exc.offline:
                offline = True  # no network: only cached URLs can still be served
            continue
        _register_crd_bytes(run, store, data, url)


def _load_cluster_crds(run: Run, store: SchemaStore) -> None:
    from tools.validate.fetch import cluster_crds

    for crd in cluster_crds():
        try:
            for schema in crds.schemas_from_crd(crd, "cluster"):
                store.add_crd(schema)
        except crds.CrdError as exc:
            run.add("warning", "crd-schema", f"cluster CRD {crd.get('metadata', {})}: {exc}")


def _render(run: Run, root: Path) -> list[Resource]:
    shown = run.display(root)
    try:
        text = run.build(root, origin_annotations=True)
    except kustomize.InputError as exc:
        run.rendered[root] = exc.message
        problem = exc.error
        message = f"{problem.message} (kustomize is not run on {shown})"
        run.add(
            "error",
            problem.rule,
            message,
            file=run.display(exc.path),
            line=problem.line,
            column=problem.column,
        )
        return []
    except kustomize.RefusedError as exc:
        run.rendered[root] = exc.message
        for refusal in exc.refusals:
            run.add("error", refusal.rule, refusal.message, file=run.display(refusal.file))
        return []
    except UserError as exc:
        if "no kustomize binary" in exc.message:
            raise
        run.rendered[root] = exc.message
        run.add("error", "render", exc.message, file=shown + "/kustomization.yaml")
        return []
    run.rendered[root] = None
    parsed = loader.parse_text(text, str(root), rendered_from=shown)
    run.spend(parsed, shown)
    for finding in parsed.findings:
        finding.file = shown
        run.findings.append(finding)
    for resource in parsed.resources:
        resource.origin = origins.take_origin(resource.obj)
        if resource.origin is not None:
            run.files.add(resource.origin)
            if not Path(resource.origin).resolve().is_relative_to(run.root):
                run.on_resource(
                    resource,
                    "error",
                    "render",
                    f"{shown} pulls {resource.ref} from {resource.origin}, outside the repository",
                )
    return parsed.resources


def _renders(run: Run) -> Callable[[Path], str | None]:
    def check(path: Path) -> str | None:
        if path in run.rendered:
            return run.rendered[path]
        if kustomize.kustomization_file(path) is None:
            has_yaml = any(p.suffix in (".yaml", ".yml", ".json") for p in path.iterdir())
            run.rendered[path] = None if has_yaml else "no kustomization or manifests there"
        else:
            try:
                run.build(path)
                run.rendered[path] = None
            except UserError as exc:
                run.rendered[path] = exc.message
        return run.rendered[path]

    return check


def _this_repo(root: Path, configured: list[str]) -> Callable[[str], bool]:
    urls: set[str] = {_normal_url(u) for u in configured}
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "remote", "-v"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        for line in out.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 2:
                urls.add(_normal_url(parts[1]))
    except (OSError, subprocess.TimeoutExpired):
        pass

    def check(url: str) -> bool:
        # Without a remote we cannot tell which URL is "ours": assume a monorepo.
        return not urls or _normal_url(url) in urls

    return check


def _normal_url(url: str) -> str:
    url = url.strip().removesuffix("/").removesuffix(".git")
    if url.startswith("git@"):
        host, _, path = url[4:].partition(":")
        url = f"https://{host}/{path}"
    return url.lower()


def _policy_cache(run: Run, policies: PolicySet) -> PolicyCache | None:
    options = run.options
    if run.policy_cache is None and options.policy_cache and not options.opa_url:
        run.policy_cache = PolicyCache(run.evaluator(policies), options.cache_dir)
    return run.policy_cache


def _start_policies(
    run: Run, policies: PolicySet, resources: list[Resource], pool: ThreadPoolExecutor
) -> Callable[[], None]:
    """Start evaluating the policies on *resources* in *pool* (the workers do the work; the
    thread waits for them) and return the call that waits for them and reports the findings.

    The objects are copied (encoded) before this returns, so the checks that run meanwhile
    cannot change what the policies see.
    """
    if policies.empty or not resources:
        return lambda: None
    cache = _policy_cache(run, policies)
    results: list[list[PolicyResult] | None] = [None] * len(resources)
    keys: dict[int, str] = {}
    if cache is not None:
        for index, resource in enumerate(resources):
            keys[index] = cache.key(resource.obj)
            results[index] = cache.get(keys[index])
    missing = [i for i, found in enumerate(results) if found is None]
    fresh: Future[list[list[PolicyResult]]] | None = None
    if missing and run.options.opa_url:
        from tools.validate.checks.policies import OpaServerEvaluator

        server = OpaServerEvaluator(
            policies, run.options.opa_url, timeout=run.options.policy_timeout
        )
        objects = [copy.deepcopy(resources[i].obj) for i in missing]
        fresh = pool.submit(lambda: [server.evaluate(obj) for obj in objects])
    elif missing:
        workers = run.options.workers
        if workers is None:
            many = len(missing) >= PARALLEL_THRESHOLD
            workers = min(os.cpu_count() or 1, 4) if many else 1
        sandbox = run.sandbox(policies, workers)
        encoded = encode_objects([resources[i].obj for i in missing])
        fresh = pool.submit(sandbox.evaluate_encoded, encoded)

    def finish() -> None:
        if fresh is not None:
            for index, computed in zip(missing, fresh.result(), strict=True):
                results[index] = computed
                if cache is not None:
                    cache.put(keys[index], computed)
        if cache is not None:
            cache.save()
        for resource, found in zip(resources, results, strict=True):
            for result in found or []:
                parts = parse_json_path(result.path) if result.path else []
                hint = result.details.get("hint")
                run.on_resource(
                    resource,
                    "warning" if result.severity == "warning" else "error",
                    result.rule,
                    result.message,
                    parts,
                    hint=hint if isinstance(hint, str) else None,
                )

    return finish


def _start_promtool(
    run: Run, resources: list[Resource], whole_repo: bool, pool: ThreadPoolExecutor
) -> Future[list[promtool.RuleIssue]]:
    """Run promtool in the background: rule tests take seconds and need only the rendering."""
    rules = [r for r in resources if r.kind == "PrometheusRule"]
    tests_dir = run.options.rule_tests_dir if run.options.run_rule_tests else None
    cache = run.options.cache_dir if run.options.policy_cache else None
    return pool.submit(promtool.check, rules, tests_dir, run.display, whole_repo, cache)


def _promtool_findings(run: Run, issues: list[promtool.RuleIssue]) -> None:
    for issue in issues:
        if issue.resource is not None:
            run.on_resource(issue.resource, "error", issue.rule, issue.message, issue.path)
        else:
            run.add("error", issue.rule, issue.message, file=issue.file)


def _application_paths(run: Run, resources: list[Resource]) -> list[Path]:
    found: list[Path] = []
    for resource in resources:
        if resource.kind != "Application" or not resource.api_version.startswith("argoproj.io/"):
            continue
        spec = resource.obj.get("spec")
        if not isinstance(spec, dict):
            continue
        candidates = [spec.get("source"), *(spec.get("sources") or [])]
        for source in candidates:
            if not isinstance(source, dict) or source.get("chart"):
                continue
            path, repo = source.get("path"), source.get("repoURL")
            if not isinstance(path, str) or not isinstance(repo, str) or not run.this_repo(repo):
                continue
            target = (run.root / path).resolve()
            if (
                target.is_relative_to(run.root)
                and kustomize.kustomization_file(target) is not None
                and not kustomize.is_component(target)
                and target not in found
            ):
                found.append(target)
    return found


def _render_application_paths(run: Run, resources: list[Resource]) -> list[list[Resource]]:
    """Render the in-repository kustomizations Applications point at, transitively."""
    scopes: list[list[Resource]] = []
    pending = [p for p in _application_paths(run, resources) if p not in run.rendered]
    for _ in range(50):  # app-of-apps chains are short; bound the walk anyway
        if not pending:
            break
        batch = [p for p in dict.fromkeys(pending) if p not in run.rendered]
        pending = []
        for target in batch:
            scope = _render(run, target)
            scopes.append(scope)
            pending.extend(_application_paths(run, scope))
    return scopes


def _parse_all(run: Run, files: list[Path]) -> list[loader.Parsed]:
    """Parse the manifest files (over processes for many files)."""
    workers = run.options.workers
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if _many(files) else 1
    if workers <= 1:
        return [loader.parse_file(f, str(f)) for f in files]
    from tools.validate.fast import parallel

    return parallel.parse_files([(str(f), str(f)) for f in files], workers)


def _outside(run: Run, file: Path) -> bool:
    """A manifest found inside the repository whose real file is outside it (a symlink out)."""
    listed = Path(os.path.abspath(file))
    return listed.is_relative_to(run.root) and not file.resolve().is_relative_to(run.root)


def _many(files: list[Path]) -> bool:
    """Whether *files* are worth the processes: many files, or a lot of text in a few."""
    if len(files) >= PARALLEL_FILES:
        return True
    size = 0
    for path in files:
        try:
            size += path.stat().st_size
        except OSError:
            continue
        if size >= PARALLEL_BYTES:
            return True
    return False


def _unique(findings: list[Finding]) -> list[Finding]:
    """Drop repeats: a base file rendered by two overlays has the same problem once."""
    seen: set[tuple[object, ...]] = set()
    out = []
    for finding in findings:
        key = (finding.severity, finding.rule, finding.message, finding.file, finding.line)
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out


def _will_evaluate(options: ValidateOptions) -> bool:
    """Whether the policy workers are likely needed: policy folders to evaluate in-process, and
    no cached results that could answer for every object."""
    if not options.policy_dirs or options.opa_url:
        return False
    if not options.policy_cache:
        return True
    return not any((options.cache_dir / "policy-results").glob("*.json"))


def _check_resources(
    run: Run,
    store: SchemaStore,
    policies: PolicySet | None,
    scopes: list[list[Resource]],
    resources: list[Resource],
    pool: ThreadPoolExecutor,
) -> None:
    """Schemas, policies and references of the rendered and parsed objects (the policies
    evaluated on a thread of *pool*)."""
    options = run.options

    # CRDs being validated also describe the custom resources next to them.
    if any(r.kind not in ("CustomResourceDefinition",) for r in resources):
        for resource in resources:
            if resource.kind == "CustomResourceDefinition":
                try:
                    for schema in crds.schemas_from_crd(resource.obj, run.display(resource.file)):
                        store.add_crd(schema)
                except crds.CrdError as exc:
                    run.on_resource(resource, "error", "crd-schema", f"cannot use CRD: {exc}")
    if options.crd_urls and any(not store.has_schema(r.api_version, r.kind) for r in resources):
        _load_crd_urls(run, store)

    # The policy workers evaluate while this process checks the schemas and references. The
    # policies see pods with their ServiceAccount's automount setting, the schema checks the
    # objects as written: inherit, take the policies' copy, undo; inherit again after schemas.
    indexed_scopes = [Scope(scope) for scope in scopes]
    inherited = [spec for indexed in indexed_scopes for spec in _inherit_service_accounts(indexed)]
    policy_findings = (
        _start_policies(run, policies, resources, pool) if policies is not None else None
    )
    for spec in inherited:
        del spec["automountServiceAccountToken"]
    run.lap("policies")
    context = Context(options, store, _renders(run), run.this_repo, resources)
    for resource in resources:
        for object_check in OBJECT_CHECKS:
            object_check(resource, context, run.on_resource)
    run.lap("schemas")
    for indexed in indexed_scopes:
        _inherit_service_accounts(indexed)
    for indexed in indexed_scopes:
        for scope_check in SCOPE_CHECKS:
            scope_check(indexed, context, run.on_resource)
    run.lap("references")
    if policy_findings is not None:
        policy_findings()
    run.lap("policies")


def _inherit_service_accounts(scope: Scope) -> list[dict[str, Any]]:
    """Pods that do not set automountServiceAccountToken take their ServiceAccount's value
    (defaulting that needs a second object, see :mod:`tools.validate.defaults`), before the
    policies see them. Returns the pod specs that changed."""
    changed: list[dict[str, Any]] = []
    if not scope.by_kind.get("ServiceAccount"):
        return changed
    for resource in scope.resources:
        found = pod_template(resource.obj)
        spec = found[0].get("spec") if found is not None else None
        if not isinstance(spec, dict):
            continue
        name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        account = scope.find("ServiceAccount", str(name), resource.namespace)
        if defaults.inherit_service_account(spec, account.obj if account else None):
            changed.append(spec)
    return changed


def validate_paths(paths: Sequence[Path], options: ValidateOptions) -> Report:
    """Validate *paths* (or the whole repository when empty) and return every finding.

    Raises :class:`UserError` for usage and tool failures (unreadable path, no kustomize,
    a policy that does not compile); everything wrong with the manifests is a finding.
    """
    run = Run(options)
    if _will_evaluate(options):
        # The fork server starts up (a Python process importing the policy modules, ~0.2 s of
        # CPU) on the core this process leaves idle while it loads the CRDs and the policies,
        # rather than beside the parse workers.
        start_fork_server()
    store = SchemaStore(options.kubernetes_version)
    _load_crds(run, store)
    if options.crd_from_cluster:
        _load_cluster_crds(run, store)
    inputs = sources.collect(list(paths), options.repo_root)
    policies = load_policy_set(options) if options.policy_dirs else None
    run.lap("setup")

    scopes: list[list[Resource]] = []
    if inputs.roots:
        kustomize.kustomize_command()  # fail early (exit 2) if there is no kustomize at all
        workers = min(4, len(inputs.roots))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            rendered = list(pool.map(lambda root: _render(run, root), inputs.roots))
        scopes.extend(rendered)
        if not paths:
            # Whole repository: what Argo CD deploys from this repository is validated too,
            # also when it lives outside overlays/, clusters/ and apps/ (e.g. base/training).
            scopes.extend(_render_application_paths(run, [r for s in rendered for r in s]))
    plain: list[Resource] = []
    files: list[Path] = []
    for file in inputs.files:
        if _outside(run, file):
            run.add(
                "error",
                "outside-repository",
                f"{run.display_listed(file)} is a link to a file outside the repository; "
                "it is not read",
                file=run.display_listed(file),
            )
        else:
            files.append(file)
    for file, parsed in zip(files, _parse_all(run, files), strict=True):
        run.files.add(str(file))
        run.spend(parsed, run.display(file))
        for finding in parsed.findings:
            finding.file = run.display(file)
            run.findings.append(finding)
        plain.extend(parsed.resources)
    if plain:
        scopes.append(plain)
    run.lap("render+parse")
    resources = [r for scope in scopes for r in scope]
    background = ThreadPoolExecutor(max_workers=2)
    rule_check: list[Future[list[promtool.RuleIssue]]] = []

    # promtool overlaps the schema, policy and reference checks, and the policy evaluation
    # overlaps the schema and reference checks. The policy workers come from a fork server
    # (checks/sandbox.py), so these threads are never inherited by a forked child.
    rule_check.append(_start_promtool(run, resources, not paths, background))
    try:
        _check_resources(run, store, policies, scopes, resources, background)
        _promtool_findings(run, rule_check[0].result())
    finally:
        background.shutdown(wait=False, cancel_futures=True)
        run.close()
    run.lap("promtool")
    if os.environ.get("GITOPS_VALIDATE_TIMINGS"):
        sys.stderr.write(
            "timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in run.timings.items()) + "\n"
        )

    findings = _unique(sorted(run.findings, key=Finding.sort_key))
    summary = Summary(
        resources=len(resources),
        files=len(run.files) + len(inputs.roots),
        errors=sum(1 for f in findings if f.severity == "error"),
        warnings=sum(1 for f in findings if f.severity == "warning"),
    )
    rule_docs = policies.rule_docs if policies is not None else {}
    policy_rules = set(policies.rules) if policies is not None else set()
    described = {
        rule: describe_rule(rule, rule_docs, policy_rules)
        for rule in sorted({f.rule for f in findings})
    }
    return Report(findings, summary, described)


def resources_of(text: str, file: str = "<rendered>") -> list[dict[str, Any]]:
    """Objects in a YAML stream, for callers that only need parsing (diff, bump)."""
    return [r.obj for r in loader.parse_text(text, file).resources]
