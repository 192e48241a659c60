"""Submit the committed WorkflowTemplate to an Argo Server with hera's ``WorkflowsService``.

hera builds the ``WorkflowSubmitRequest`` and makes the ``POST /api/v1/workflows/{ns}/submit``
call; this module checks the input first and turns every failure (unreachable server, a refusal,
an answer that is not a Workflow) into one :class:`~tools.errors.UserError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from tools.errors import UserError


@dataclass(frozen=True)
class Submitted:
    name: str
    namespace: str
    url: str  # the workflow in the Argo UI


class _Session(requests.Session):
    """A session with a timeout on every request (hera passes none) that keeps the last answer."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout
        self.last: requests.Response | None = None

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        self.last = super().request(method, url, *args, **kwargs)
        return self.last


def check_parameters(pairs: list[str]) -> list[str]:
    """``NAME=VALUE`` pairs naming parameters the WorkflowTemplate declares."""
    from tools.pipeline.workflow import PARAMETERS

    for pair in pairs:
        name, sep, _value = pair.partition("=")
        if not sep or not name:
            raise UserError(f"parameter {pair!r} is not NAME=VALUE")
        if name not in PARAMETERS:
            known = ", ".join(PARAMETERS)
            raise UserError(f"unknown workflow parameter {name!r}", hint=f"known: {known}")
    return list(pairs)


def submit(
    server: str | None,
    token: str | None,
    *,
    namespace: str,
    template: str,
    parameters: list[str],
    timeout: float,
    verify: bool = True,
) -> Submitted:
    from hera.exceptions import HeraException
    from hera.workflows import WorkflowsService
    from hera.workflows.models import SubmitOpts, WorkflowSubmitRequest
    from pydantic import ValidationError

    if not server:
        raise UserError("no Argo Server given", hint="pass --argo-server URL or set ARGO_SERVER")
    if not server.startswith(("http://", "https://")):
        raise UserError(f"--argo-server {server!r} must start with http:// or https://")
    if not token:
        raise UserError("no token for the Argo Server", hint="pass --token or set ARGO_TOKEN")
    request = WorkflowSubmitRequest(
        namespace=namespace,
        resource_kind="WorkflowTemplate",
        resource_name=template,
        submit_options=SubmitOpts(
            generate_name=f"{template}-", parameters=check_parameters(parameters) or None
        ),
    )
    session = _Session(timeout)
    # `argo auth token` prints "Bearer <token>"; hera adds the scheme only when it is missing.
    service = WorkflowsService(
        host=server.rstrip("/") + "/", token=token, verify_ssl=verify, session=session
    )
    try:
        with service:
            workflow = service.submit_workflow(request, namespace=namespace)
    except (HeraException, ValueError, KeyError, TypeError) as exc:
        # A refusal (hera raises by status), or a 2xx answer that is not a Workflow.
        answer = session.last
        if answer is None or answer.ok or isinstance(exc, ValidationError):
            text = answer.text[:200] if answer is not None else str(exc)
            raise UserError(f"unexpected answer from the Argo Server: {text!r}") from exc
        raise UserError(
            f"Argo Server refused the submission ({answer.status_code}): {_message(answer)}",
            hint="check the token (401/403) and that the template exists in the namespace (404)",
        ) from exc
    except requests.RequestException as exc:  # after ValueError: requests' JSONDecodeError is both
        raise UserError(f"cannot reach the Argo Server at {server}: {exc}") from exc
    name = workflow.metadata.name if workflow.metadata else None
    if not name:
        raise UserError("unexpected answer from the Argo Server: the Workflow has no name")
    return Submitted(name, namespace, f"{server.rstrip('/')}/workflows/{namespace}/{name}")


def _message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200] or response.reason
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return response.text[:200]
