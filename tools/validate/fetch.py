"""CRDs from pinned URLs (cached forever: a pinned URL does not change) or a live cluster."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tools.errors import UserError
from tools.files import write_atomic

TIMEOUT = 10.0
MAX_BYTES = 20 * 1024 * 1024


class FetchError(UserError):
    """A CRD URL that could not be fetched; ``offline`` when no connection could be made."""

    def __init__(self, message: str, *, offline: bool = False):
        super().__init__(message)
        self.offline = offline


def fetch_url(url: str, cache_dir: Path | None, *, network: bool = True) -> bytes:
    """The body of *url*, from the cache when fetched before (only from there without network)."""
    key = hashlib.sha256(url.encode()).hexdigest()
    cached = cache_dir / "urls" / key if cache_dir else None
    if cached is not None and cached.is_file():
        try:
            return cached.read_bytes()
        except OSError:
            pass
    if not network:
        raise FetchError(f"skipped CRD {url}: an earlier URL could not connect", offline=True)
    import httpx

    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=True) as client:
            response = client.get(url)
    except (httpx.ConnectError, httpx.TimeoutException) as exc:
        raise FetchError(f"cannot fetch CRD {url}: {exc}", offline=True) from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"cannot fetch CRD {url}: {exc}") from exc
    if response.status_code != 200:
        raise FetchError(f"cannot fetch CRD {url}: HTTP {response.status_code}")
    data = response.content
    if len(data) > MAX_BYTES:
        raise FetchError(f"CRD {url} is larger than {MAX_BYTES // 1048576} MiB")
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(cached, data.decode("utf-8", errors="replace"), durable=False)
        except OSError:
            pass
    return data


def cluster_crds() -> list[dict[str, Any]]:
    """Every CRD of the cluster the current kubeconfig points at."""
    try:
        from kubernetes import client, config
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise UserError("--crd-from-cluster needs the kubernetes package") from exc
    try:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    except Exception as exc:
        try:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        except Exception:
            raise UserError(
                f"--crd-from-cluster: no usable kubeconfig ({exc})",
                hint="set KUBECONFIG or run inside a cluster",
            ) from exc
    try:
        api = client.ApiextensionsV1Api()
        items = api.list_custom_resource_definition(_request_timeout=TIMEOUT).items
        sanitized = client.ApiClient().sanitize_for_serialization(items)  # type: ignore[no-untyped-call]
    except Exception as exc:
        raise UserError(f"--crd-from-cluster: cannot list CRDs: {exc}") from exc
    return [
        {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", **item}
        for item in sanitized
        if isinstance(item, dict)
    ]
