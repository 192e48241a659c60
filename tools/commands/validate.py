"""``gitops validate``: the CI gate for manifests (see docs/VALIDATE.md)."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path

from tools.errors import EXIT_FINDINGS, EXIT_OK, UserError
from tools.repo import repo_root
from tools.validate import load_options, validate_paths
from tools.validate.checks.policies import ENGINES, REGO_VERSIONS
from tools.validate.reporters import FORMATS, Output, parse_output, write_reports


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "validate",
        help="render, schema-check, policy-check and cross-check manifests",
        description="Validate kustomizations and manifests in one pass. Without PATH: the whole "
        "repository (kustomization roots under overlays/, clusters/, apps/ plus plain manifests).",
    )
    p.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="kustomization directory, manifest file (YAML or JSON) or directory of manifests",
    )
    p.add_argument(
        "--output",
        "-o",
        action="append",
        type=parse_output,
        default=[],
        metavar="FORMAT[=FILE]",
        help=f"report format ({', '.join(FORMATS)}; default text), written to FILE or stdout; "
        "repeatable: one run, several reports (e.g. -o github -o sarif=gitops.sarif)",
    )
    p.add_argument(
        "--kubernetes-version",
        metavar="X.Y",
        help="schemas of this Kubernetes minor version (1.25-1.37; default from the config)",
    )
    p.add_argument(
        "--crd-dir",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="folder of CustomResourceDefinition YAML files (repeatable)",
    )
    p.add_argument(
        "--crd-url",
        action="append",
        default=[],
        metavar="URL",
        help="a CRD file over HTTP, cached by URL: pin it (repeatable)",
    )
    p.add_argument(
        "--crd-from-cluster",
        action="store_true",
        default=None,
        help="read the CRDs of the cluster the kubeconfig points at",
    )
    p.add_argument(
        "--policy-dir",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="Rego policy folder (repeatable); replaces the configured ones",
    )
    p.add_argument(
        "--data",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="policy data file (JSON/YAML; repeatable), as conftest --data; replaces the "
        "configured data files",
    )
    p.add_argument(
        "--ignore-missing-schemas",
        action="store_true",
        default=None,
        help="a kind without a schema is a warning instead of an error",
    )
    p.add_argument(
        "--opa-url",
        metavar="URL",
        help="evaluate the policies on this OPA server instead of in-process",
    )
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="in-process Rego engine (default auto: regorus, with its compiled VM where the "
        "policies allow, when installed, else regopy; regorus: its interpreter only, which "
        "reports built-in errors)",
    )
    p.add_argument(
        "--namespace",
        action="append",
        default=[],
        metavar="PACKAGE",
        help="Rego package whose rules are evaluated (repeatable; default main), as conftest",
    )
    p.add_argument(
        "--all-namespaces",
        action="store_true",
        default=None,
        help="evaluate the rules of every package, as conftest --all-namespaces",
    )
    p.add_argument(
        "--rego-version",
        choices=REGO_VERSIONS,
        default=None,
        help="Rego syntax of the policies, as conftest's --rego-version (default v1)",
    )
    p.add_argument(
        "--pod-security-level",
        choices=("privileged", "baseline", "restricted"),
        default=None,
        help="Pod Security level of namespaces without a pod-security.kubernetes.io/enforce "
        "label in the run (default from the config, else privileged as in Kubernetes)",
    )
    p.add_argument(
        "--pod-security-version",
        metavar="latest|v1.N",
        default=None,
        help="Pod Security policy version of those namespaces (default latest)",
    )
    p.add_argument(
        "--fail-on-warn",
        action="store_true",
        help="exit 1 on warnings too (as conftest --fail-on-warn)",
    )
    p.add_argument(
        "--no-rule-tests",
        dest="run_rule_tests",
        action="store_false",
        default=None,
        help="skip the promtool rule unit tests (rule syntax is still checked)",
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        default=None,
        help="let kustomize fetch remote resources (git, HTTP, Helm charts) and fetch CRD URLs; "
        "without it validate makes no network request (only this flag turns it on, never the "
        "configuration, which a pull request could change)",
    )
    p.add_argument(
        "--policy-timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="Rego evaluation time per object before it is a policy-error (default 10)",
    )
    p.add_argument(
        "--policy-memory",
        dest="policy_memory_mib",
        type=_positive_int,
        metavar="MIB",
        help="memory a Rego worker may use for one object (default 1024)",
    )
    p.add_argument(
        "--kustomize-timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="time per kustomize build before it is a render finding (default 60)",
    )
    p.add_argument(
        "--kustomize-memory",
        dest="kustomize_memory_mib",
        type=_positive_int,
        metavar="MIB",
        help="address space per kustomize build (default 2048)",
    )
    p.add_argument(
        "--no-cache",
        dest="policy_cache",
        action="store_false",
        default=None,
        help="evaluate every policy and run every rule test again instead of reusing the "
        "results of unchanged inputs",
    )
    p.set_defaults(func=run)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive whole number")
    return value


def run(args: argparse.Namespace) -> int:
    root = repo_root()
    options = load_options(
        root,
        kubernetes_version=args.kubernetes_version,
        crd_dirs=[d.resolve() for d in args.crd_dir] or None,
        crd_urls=args.crd_url or None,
        crd_from_cluster=args.crd_from_cluster,
        policy_dirs=[d.resolve() for d in args.policy_dir] or None,
        data_files=[d.resolve() for d in args.data] or None,
        ignore_missing_schemas=args.ignore_missing_schemas,
        opa_url=args.opa_url,
        engine=args.engine,
        rego_version=args.rego_version,
        namespaces=args.namespace or None,
        all_namespaces=args.all_namespaces,
        run_rule_tests=args.run_rule_tests,
        policy_cache=args.policy_cache,
        pod_security_level=args.pod_security_level,
        pod_security_version=args.pod_security_version,
        allow_remote=args.allow_remote,
        policy_timeout=args.policy_timeout,
        policy_memory_mib=args.policy_memory_mib,
        kustomize_timeout=args.kustomize_timeout,
        kustomize_memory_mib=args.kustomize_memory_mib,
    )
    # Parsed manifests are hundreds of thousands of small dicts and lists that the cyclic
    # garbage collector would scan again and again while they pile up (a third of the parse
    # time, and most of the time to receive objects from worker processes). Nothing here
    # builds reference cycles worth collecting in a run that lasts seconds.
    collecting = gc.isenabled()
    gc.disable()
    try:
        report = validate_paths(args.paths, options)
    except (UserError, KeyboardInterrupt):
        raise
    except Exception as exc:  # never a traceback: a bug here is still a clear exit 2
        raise UserError(
            f"internal error: {type(exc).__name__}: {exc}",
            hint="please report it together with the input that caused it",
        ) from exc
    finally:
        if collecting:
            gc.enable()
    outputs = args.output or [Output("text")]
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    write_reports(report, outputs, color=color)
    failed = report.errors or (args.fail_on_warn and report.warnings)
    return EXIT_FINDINGS if failed else EXIT_OK
