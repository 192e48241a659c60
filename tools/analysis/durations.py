"""Go duration strings (``time.ParseDuration``): ``10s``, ``1m30s``, ``1.5h``, ``300ms``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> timedelta:
    """Parse a Go duration; raise ValueError with Go's wording for anything else."""
    source = text
    sign = 1.0
    if text[:1] in "+-" and text:
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if text == "0":
        return timedelta(0)
    if not text:
        raise ValueError(f'time: invalid duration "{source}"')
    seconds = 0.0
    pos = 0
    while pos < len(text):
        match = _PART.match(text, pos)
        if match is None:
            if re.match(r"\d+\.?\d*|\.\d+", text[pos:]):
                rest = text[pos:].lstrip("0123456789.")
                if not rest:
                    raise ValueError(f'time: missing unit in duration "{source}"')
                raise ValueError(f'time: unknown unit "{rest[:2]}" in duration "{source}"')
            raise ValueError(f'time: invalid duration "{source}"')
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return timedelta(seconds=sign * seconds)


def format_duration(value: timedelta) -> str:
    """Short human form, e.g. ``10s``, ``1m30s``, ``250ms``."""
    total = value.total_seconds()
    if total < 1 and total != 0:
        return f"{round(total * 1000)}ms"
    minutes, seconds = divmod(round(total), 60)
    hours, minutes = divmod(minutes, 60)
    out = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return out + (f"{seconds}s" if seconds or not out else "")
