"""Analysis phases and their order of badness (Argo's ``analysisStatusOrder``)."""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    ERROR = "Error"
    INCONCLUSIVE = "Inconclusive"

    @property
    def completed(self) -> bool:
        return self in (Phase.SUCCESSFUL, Phase.FAILED, Phase.ERROR, Phase.INCONCLUSIVE)


# Successful < Running < Pending < Inconclusive < Error < Failed
_ORDER = [
    Phase.SUCCESSFUL,
    Phase.RUNNING,
    Phase.PENDING,
    Phase.INCONCLUSIVE,
    Phase.ERROR,
    Phase.FAILED,
]


def is_worse(current: Phase, candidate: Phase) -> bool:
    """True if ``candidate`` is worse than ``current``."""
    return _ORDER.index(candidate) > _ORDER.index(current)
