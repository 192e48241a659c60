"""``gitops bump``: set one environment's image tag and/or digest, as a PR or a direct commit.

The flow (worktree, validation, push or pull request) is :mod:`tools.release.ship`.
"""

from __future__ import annotations

import argparse
from typing import Any

from tools.release.bump import bump
from tools.release.options import add_shipping_arguments, options_from


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "bump",
        help="set an environment's image tag/digest and open a PR (or push)",
        description="Set one environment's image tag and/or digest in overlays/ENV, validate the "
        "result, and open a pull request (default) or push a commit (--no-pr).",
    )
    p.add_argument("--env", required=True, help="environment (overlays/ENV)")
    p.add_argument("--image", required=True, help="image name, e.g. ghcr.io/example-org/model-api")
    p.add_argument("--tag", help="new tag")
    p.add_argument("--digest", help="new digest (sha256:<64 hex>)")
    p.add_argument(
        "--resolve-digest",
        action="store_true",
        help="read the --tag's digest from the registry (OCI distribution API) and pin both; "
        "credentials from REGISTRY_USERNAME/REGISTRY_PASSWORD when the registry asks",
    )
    add_shipping_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return bump(
        args.env,
        args.image,
        options_from(args),
        tag=args.tag,
        digest=args.digest,
        resolve_digest=args.resolve_digest,
    )
