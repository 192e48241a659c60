"""One module per ``gitops`` subcommand; each exposes ``add_parser(subparsers)`` and ``run(args)``."""
