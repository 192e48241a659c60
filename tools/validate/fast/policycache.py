"""Policy results cached by content: (policy set, object) -> results.

Rego evaluation costs up to milliseconds per object, far more than parsing or schema
checks, and in CI most objects are unchanged between runs. A result depends only on the object,
the Rego modules, the data and the engine and its build, so those are hashed into the key; nothing
else can make a cached result stale. One JSON file per policy-set fingerprint, rewritten
atomically; disabled with ``--no-cache``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

from tools.files import write_atomic
from tools.validate.checks.policies import Evaluator, PolicyResult, PolicySet

MAX_ENTRIES = 200_000

try:
    import orjson

    def _canonical(obj: Any) -> bytes:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)

except ImportError:  # pragma: no cover - orjson is a core dependency

    def _canonical(obj: Any) -> bytes:
        return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def fingerprint(policies: PolicySet, engine_id: str) -> str:
    digest = hashlib.sha256()
    digest.update(f"{engine_id} rego {policies.rego_version}\n".encode())
    for module in sorted(policies.modules, key=lambda m: str(m.path)):
        digest.update(str(module.path.name).encode() + b"\0" + module.source.encode() + b"\0")
    digest.update(_canonical(policies.data))
    digest.update(",".join(policies.rules).encode())
    return digest.hexdigest()[:32]


class PolicyCache:
    def __init__(self, evaluator: Evaluator, cache_dir: Path):
        fingerprinted = fingerprint(evaluator.policies, evaluator.engine_id)
        self.path = cache_dir / "policy-results" / f"{fingerprinted}.json"
        self.entries: dict[str, list[list[Any]]] = {}
        self.dirty = False
        if self.path.is_file():
            with contextlib.suppress(OSError, ValueError):
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
                if isinstance(loaded, dict):
                    self.entries = loaded

    @staticmethod
    def key(obj: dict[str, Any]) -> str:
        return hashlib.sha256(_canonical(obj)).hexdigest()

    def get(self, key: str) -> list[PolicyResult] | None:
        raw = self.entries.get(key)
        if raw is None:
            return None
        return [PolicyResult(r[0], r[1], r[2], r[3], r[4]) for r in raw]

    def put(self, key: str, results: list[PolicyResult]) -> None:
        if any(r.rule == "policy-error" for r in results):
            return  # evaluation failures are retried next time
        self.entries[key] = [[r.rule, r.severity, r.message, r.path, r.details] for r in results]
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        if len(self.entries) > MAX_ENTRIES:
            return  # an unbounded cache is worse than none; the next run starts over
        with contextlib.suppress(OSError):
            write_atomic(self.path, json.dumps(self.entries, separators=(",", ":")), durable=False)
