"""``python -m service train|serve`` — the same as the ``model-api`` command."""

from __future__ import annotations

import sys

from service.cli import main

sys.exit(main())
