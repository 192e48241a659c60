"""``gitops policy test``: Rego unit tests (like ``opa test``) plus the policy samples.

Every policy folder must have a ``*_test.rego``; a folder without tests fails the run.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tools.errors import EXIT_FINDINGS, EXIT_OK, UserError
from tools.repo import repo_root
from tools.validate.checks.policies import ENGINES, REGO_VERSIONS, resolve_engine
from tools.validate.options import load_options, load_policy_set
from tools.validate.policytest import run_tests
from tools.validate.samples import check_samples


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "policy", help="work with the Rego policies", description="Work with the Rego policies."
    )
    sub = p.add_subparsers(
        dest="policy_command",
        metavar="ACTION",
        help="run 'gitops policy ACTION --help' for its options",
    )
    sub.required = True
    t = sub.add_parser(
        "test",
        help="run the *_test.rego unit tests and check the allowed/disallowed samples",
        description="Run the Rego unit tests (*_test.rego, like opa test) and check every policy "
        "folder's allowed/disallowed sample manifests. A policy folder without tests fails.",
    )
    t.add_argument(
        "policy_dirs",
        nargs="*",
        type=Path,
        metavar="DIR",
        help="policy folder (repeatable; default: the configured policy-dirs)",
    )
    t.add_argument(
        "--data",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="policy data file (JSON/YAML; repeatable); replaces the configured data files",
    )
    t.add_argument(
        "--no-samples",
        dest="samples",
        action="store_false",
        help="run only the Rego unit tests, not the allowed/disallowed samples",
    )
    t.add_argument("-v", "--verbose", action="store_true", help="list passing tests too")
    t.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="Rego engine (default: the validate engine setting, auto: regorus when installed)",
    )
    t.add_argument(
        "--namespace",
        action="append",
        default=[],
        metavar="PACKAGE",
        help="package whose rules the samples are checked against (repeatable; default main)",
    )
    t.add_argument(
        "--all-namespaces",
        action="store_true",
        default=None,
        help="check the samples against the rules of every package",
    )
    t.add_argument(
        "--rego-version",
        choices=REGO_VERSIONS,
        default=None,
        help="Rego syntax of the policies, as conftest's --rego-version (default v1)",
    )
    t.set_defaults(func=run)


def policy_folders(dirs: list[Path]) -> list[Path]:
    """Folders that hold policy modules (not tests)."""
    folders: set[Path] = set()
    for directory in dirs:
        for path in directory.rglob("*.rego"):
            if not path.stem.endswith("_test"):
                folders.add(path.parent)
    return sorted(folders)


def run(args: argparse.Namespace) -> int:
    options = load_options(
        repo_root(),
        policy_dirs=[d.resolve() for d in args.policy_dirs] or None,
        data_files=[d.resolve() for d in args.data] or None,
        engine=args.engine,
        rego_version=args.rego_version,
        namespaces=args.namespace or None,
        all_namespaces=args.all_namespaces,
    )
    engine = resolve_engine(options.engine)
    policies = load_policy_set(options)
    if not policies.modules:
        raise UserError(f"no Rego policies under {', '.join(map(str, options.policy_dirs))}")
    out = sys.stdout
    failed = 0
    root = options.repo_root

    def shown(path: Path) -> str:
        try:  # absolute, but a sample that links to a shared one keeps its own name
            return Path(os.path.abspath(path)).relative_to(root).as_posix()
        except ValueError:
            return str(path)

    folders = policy_folders(options.policy_dirs)
    tested = {m.path.parent for m in policies.tests}
    for folder in folders:
        if folder not in tested:
            failed += 1
            out.write(f"FAIL {shown(folder)}: policy folder has no *_test.rego\n")
    result = run_tests(policies, engine=engine)
    for problem in result.problems:
        failed += 1
        out.write(f"ERROR {problem}\n")
    for test in result.results:
        if not test.passed:
            failed += 1
            out.write(f"FAIL {shown(test.module)}: {test.name}: {test.message}\n")
        elif args.verbose:
            out.write(f"PASS {shown(test.module)}: {test.name}\n")
    samples = check_samples(policies, folders, engine) if args.samples else []
    for sample in samples:
        if not sample.passed:
            failed += 1
            out.write(f"FAIL {shown(sample.path)}: {sample.message}\n")
        elif args.verbose:
            out.write(f"PASS {shown(sample.path)}: {sample.message or 'no denials'}\n")
    passed = sum(t.passed for t in result.results)
    out.write(
        f"{'FAILED' if failed else 'PASSED'}: {passed}/{len(result.results)} tests, "
        f"{sum(s.passed for s in samples)}/{len(samples)} samples, {len(folders)} policy folders "
        f"({engine})\n"
    )
    return EXIT_FINDINGS if failed else EXIT_OK
