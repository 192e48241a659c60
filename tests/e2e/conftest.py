"""One rehearsal environment (models, Prometheus, stable API) shared by every scenario."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.paths import REPO_ROOT
from tools.rehearsal.scenarios import Rehearsal, Timing


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsal]:
    workdir = tmp_path_factory.mktemp("rehearsal")
    # Scaled down from the templates' 2m window and 5 x 1m: an 8s window, 3 x 4s.
    timing = Timing(window="8s", interval="4s", count=3, error_retry="1s", warmup=8.0)
    with Rehearsal(workdir=workdir, timing=timing, repo=REPO_ROOT, log=False) as shared:
        yield shared
