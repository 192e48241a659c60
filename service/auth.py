"""Optional bearer-token check for the inference routes.

The token lives in a file (in Kubernetes a Secret volume that External Secrets fills from Vault).
The file is re-read when its modification time changes, checked at most every few seconds, so a
rotated Secret takes effect without a restart. Comparison is constant-time.
"""

from __future__ import annotations

import hmac
import time
from pathlib import Path

from service.errors import UNAUTHENTICATED, ApiError

_RECHECK_SECONDS = 5.0
_SCHEME = b"bearer "


class TokenError(Exception):
    """The configured token file is missing, unreadable or empty."""


class BearerAuth:
    """Checks ``Authorization: Bearer <token>`` against the token file."""

    def __init__(self, token_file: Path) -> None:
        self._path = token_file
        self._token = b""
        self._mtime = -1.0
        self._checked = 0.0
        self._reload()

    def _reload(self) -> None:
        try:
            mtime = self._path.stat().st_mtime
            if mtime != self._mtime:
                token = self._path.read_bytes().strip()
                if not token:
                    raise TokenError(f"token file {self._path} is empty")
                self._token, self._mtime = token, mtime
        except OSError as exc:
            raise TokenError(f"cannot read token file {self._path}: {exc.strerror}") from None
        self._checked = time.monotonic()

    def _current(self) -> bytes:
        if time.monotonic() - self._checked > _RECHECK_SECONDS:
            try:
                self._reload()
            except TokenError:
                # Keep the last good token while a Secret update is half-written.
                self._checked = time.monotonic()
        return self._token

    def check(self, authorization: bytes | None) -> None:
        """Raise a 401 :class:`ApiError` unless the header carries the current token."""
        if authorization is None:
            raise _unauthorized(
                "missing Authorization header; send 'Authorization: Bearer <token>'"
            )
        if authorization[: len(_SCHEME)].lower() != _SCHEME:
            raise _unauthorized("the Authorization header must use the Bearer scheme")
        presented = authorization[len(_SCHEME) :].strip()
        if not hmac.compare_digest(presented, self._current()):
            raise _unauthorized("invalid bearer token")


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, UNAUTHENTICATED, message)
