"""``python -m training``: the same as ``model-api train``."""

from __future__ import annotations

import sys

from training.cli import main

sys.exit(main())
