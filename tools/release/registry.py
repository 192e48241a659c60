"""The digest a tag points at, read from the image registry (OCI distribution API).

``HEAD /v2/<repository>/manifests/<tag>`` answers the manifest's digest in the
``Docker-Content-Digest`` header; a registry that leaves it out is asked with ``GET`` and the
digest is computed from the manifest bytes (the digest of the manifest *is* its sha256). A
``401`` with a ``WWW-Authenticate: Bearer realm=…,service=…,scope=…`` challenge is answered as
the distribution token specification says: a token from the realm (with the credentials of
``REGISTRY_USERNAME``/``REGISTRY_PASSWORD`` when set, anonymously otherwise), then the same
request with ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from tools.errors import UserError
from tools.release.images import DIGEST_RE

# What we accept, newest first: a multi-platform index resolves to the index's own digest, the
# digest `docker pull` and Kubernetes use for that tag.
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # the limit registries put on a manifest
MAX_TOKEN_BYTES = 64 * 1024
DOCKER_HUB = "registry-1.docker.io"
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')
_LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


@dataclass(frozen=True)
class Repository:
    """Where an image name lives: registry base URL and repository path."""

    base: str  # e.g. https://ghcr.io
    path: str  # e.g. example-org/model-api

    @property
    def scope(self) -> str:
        return f"repository:{self.path}:pull"


def repository(image: str) -> Repository:
    """``ghcr.io/org/app`` → https://ghcr.io + org/app; Docker Hub names as docker does.

    A registry on the loopback interface is spoken to over plain HTTP, as docker does for
    localhost; every other registry over HTTPS.
    """
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
    else:
        host, path = DOCKER_HUB, image if rest else f"library/{image}"
    if host == "docker.io":
        host = DOCKER_HUB
    loopback = host.rsplit(":", 1)[0] in _LOOPBACK or host.startswith("[::1]")
    return Repository(f"{'http' if loopback else 'https'}://{host}", path)


def resolve_digest(
    image: str,
    tag: str,
    *,
    timeout: float = 30.0,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The ``sha256:…`` digest of ``image:tag`` in its registry; UserError when it cannot say."""
    env = os.environ if environ is None else environ
    repo = repository(image)
    credentials = (env.get("REGISTRY_USERNAME"), env.get("REGISTRY_PASSWORD"))
    url = f"{repo.base}/v2/{repo.path}/manifests/{tag}"
    headers = {"Accept": ", ".join(MANIFEST_TYPES)}
    where = f"{image}:{tag}"
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            response = client.head(url, headers=headers)
            if response.status_code == 401:
                headers["Authorization"] = _authorize(client, response, repo, credentials, where)
                response = client.head(url, headers=headers)
            _check(response, where)
            digest = response.headers.get("Docker-Content-Digest")
            if digest is None:
                digest = _digest_of_body(client, url, headers, where)
    except httpx.HTTPError as exc:
        raise UserError(f"cannot reach the registry of {where}: {exc}") from exc
    if not DIGEST_RE.match(digest):
        raise UserError(f"the registry answered {digest[:80]!r} as the digest of {where}")
    return str(digest)


def _check(response: httpx.Response, where: str) -> None:
    if response.status_code == 404:
        raise UserError(f"the registry has no {where}", hint="check the image name and the tag")
    if response.status_code in (401, 403):
        raise UserError(
            f"the registry refused to show {where} (HTTP {response.status_code})",
            hint="set REGISTRY_USERNAME and REGISTRY_PASSWORD (e.g. a token with read access)",
        )
    if response.status_code != 200:
        raise UserError(f"the registry answered HTTP {response.status_code} for {where}")


def _authorize(
    client: httpx.Client,
    challenged: httpx.Response,
    repo: Repository,
    credentials: tuple[str | None, str | None],
    where: str,
) -> str:
    """The Authorization header that answers the registry's challenge."""
    challenge = challenged.headers.get("WWW-Authenticate", "")
    scheme, _, params = challenge.partition(" ")
    user, password = credentials
    if scheme.lower() == "basic":
        if not (user and password):
            _check(challenged, where)
        pair = base64.b64encode(f"{user}:{password}".encode()).decode()
        return f"Basic {pair}"
    if scheme.lower() != "bearer":
        raise UserError(f"the registry of {where} asks for {scheme or 'an'} authentication")
    fields = dict(_CHALLENGE.findall(params))
    realm = fields.get("realm", "")
    if not realm.startswith(("https://", "http://")):
        raise UserError(f"the registry of {where} names no usable token realm ({realm!r})")
    query = {"scope": fields.get("scope") or repo.scope}
    if fields.get("service"):
        query["service"] = fields["service"]
    auth = (user, password) if user and password else None
    answer = client.get(realm, params=query, auth=auth)
    if answer.status_code != 200:
        raise UserError(
            f"the token service of {where} refused (HTTP {answer.status_code})",
            hint="set REGISTRY_USERNAME and REGISTRY_PASSWORD (e.g. a token with read access)",
        )
    if len(answer.content) > MAX_TOKEN_BYTES:
        raise UserError(f"the token service of {where} answered more than a token")
    try:
        body = answer.json()
    except ValueError:
        body = None
    token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise UserError(f"the token service of {where} answered no token")
    return f"Bearer {token}"


def _digest_of_body(client: httpx.Client, url: str, headers: dict[str, str], where: str) -> str:
    """GET the manifest and hash it (bounded): for registries whose HEAD has no digest."""
    with client.stream("GET", url, headers=headers) as response:
        _check(response, where)
        hasher, size = hashlib.sha256(), 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_MANIFEST_BYTES:
                raise UserError(f"the manifest of {where} is larger than 4 MiB")
            hasher.update(chunk)
        computed = f"sha256:{hasher.hexdigest()}"
        stated = response.headers.get("Docker-Content-Digest")
    if stated is not None and stated != computed:
        raise UserError(f"the registry states {stated} for {where}, its manifest is {computed}")
    return computed
