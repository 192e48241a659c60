"""``gitops promote``: copy the exact image reference one environment runs into another.

The flow is :mod:`tools.release.promote` (read the source overlay) and then the same as
``gitops bump`` (:mod:`tools.release.ship`).
"""

from __future__ import annotations

import argparse
from typing import Any

from tools.release.options import add_shipping_arguments, options_from
from tools.release.promote import promote


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "promote",
        help="copy the image reference of one environment into another (PR or push)",
        description="Copy the exact image reference (digest, and tag if any) that one environment "
        "runs on the base branch into another, as a pull request (default) or a commit.",
    )
    p.add_argument("--from", dest="source", required=True, metavar="ENV", help="e.g. staging")
    p.add_argument("--to", dest="target", required=True, metavar="ENV", help="e.g. production")
    p.add_argument("--image", help="image name (default: the only image of the source overlay)")
    add_shipping_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return promote(args.source, args.target, options_from(args), image=args.image)
