"""Request parsing for the two wire protocols, free of any web framework.

Every function here turns request bytes into a validated float64 matrix ordered like the model
signature (or raises :class:`service.errors.ApiError`) and turns predictions into response bytes.
"""

from __future__ import annotations

from service.protocol.schema import InputSchema

__all__ = ["InputSchema"]
