"""``python -m tests.service.fake_server``: the real server (service.server.run) around the
numpy predictor from tests/service/fakes.py, configured like production through the environment."""

from __future__ import annotations

import sys

from service.server import run
from service.settings import ServeSettings

if __name__ == "__main__":
    sys.exit(run(ServeSettings(), predictor_factory="tests.service.fakes:predictor_from_env"))
