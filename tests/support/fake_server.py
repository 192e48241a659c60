"""``python -m tests.support.fake_server``: the real server (service.server.run) around the
numpy predictor from tests/support/fakes.py, configured like production through the environment."""

from __future__ import annotations

import sys

from service.server import run
from service.settings import ServeSettings

if __name__ == "__main__":
    sys.exit(run(ServeSettings(), predictor_factory="tests.support.fakes:predictor_from_env"))
