"""One module per ``gitops`` subcommand.

Each exposes ``add_parser(subparsers)`` and ``run(args)``.
"""
