"""The one user-facing error type of the ``gitops`` CLI and its exit codes.

Every command raises :class:`UserError` for problems the user can fix (bad flag values,
unreadable files, a missing binary, a refused push). ``tools.cli.main`` turns it into a
one-line message on stderr and the exit code it carries; nothing else prints tracebacks.
"""

from __future__ import annotations

# Exit codes shared by all subcommands.
EXIT_OK = 0
EXIT_FINDINGS = 1  # validate: error findings; analyze: Failed; bump: refused change
EXIT_USAGE = 2  # usage errors, unreadable input, tool failures
EXIT_INCONCLUSIVE = 3  # analyze: Inconclusive


class UserError(Exception):
    """A failure to report as ``gitops: error: <message>`` (plus an optional hint)."""

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int = EXIT_USAGE):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code
