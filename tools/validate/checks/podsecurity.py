"""Pod Security Standards, check by check, as the PodSecurity admission controller decides them.

A pure function over one object: :func:`evaluate` takes a manifest, a level (``privileged``,
``baseline``, ``restricted``) and a policy version (``latest`` or ``v1.N``) and returns one
:class:`Violation` per offending field. The checks, their ids, levels and versions mirror
``k8s.io/pod-security-admission/policy`` (``check_*.go``; facts from upstream, our own code):

* ``privileged`` runs nothing; ``baseline`` runs the baseline checks; ``restricted`` runs the
  restricted checks plus every baseline check that no restricted check overrides at that version
  (``restrictedVolumes`` replaces ``hostPathVolumes``, ``capabilities_restricted`` replaces
  ``capabilities_baseline``, ``seccompProfile_restricted`` replaces ``seccompProfile_baseline``,
  ``procMount_restricted`` replaces ``procMount`` from v1.35).
* Each check has versions; a policy version runs the newest revision at or below it, and a
  version newer than the newest revision of any check is that newest one (as ``latest`` is).
* Every container means init, regular and ephemeral containers, in that order.
* ``spec.os.name: windows`` exempts a pod from ``allowPrivilegeEscalation``,
  ``capabilities_restricted`` and ``seccompProfile_restricted`` from v1.25; ``spec.hostUsers:
  false`` relaxes ``runAsNonRoot``, ``runAsUser`` and baseline ``procMount`` from v1.35.

Which objects carry pods, and where, is the shared list of :mod:`tools.validate.checks.workloads`.
Template kinds get the verdict of the pods they create. Argo Workflows templates
(``container``, ``script``, ``containerSet``, plus ``initContainers`` and ``sidecars``) are
evaluated as the pod Argo builds from them: the template's ``securityContext`` (else the
workflow's), the workflow's ``hostNetwork``, workflow plus template ``volumes`` and pod metadata,
with ``templateDefaults`` merged under each template. ``podSpecPatch`` is not evaluated (it is a
free-form patch applied by the controller), nor are the executor containers Argo adds.
A Rollout with ``workloadRef`` has no template of its own: the referenced Deployment is what
runs, and it is checked as itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from tools.validate.checks.workloads import kind_list

if TYPE_CHECKING:
    from tools.validate.checks.base import Context, Report
    from tools.validate.checks.scope import Scope
    from tools.validate.findings import Resource

Parts = tuple[str | int, ...]
Version = tuple[int, int]

LEVELS = ("privileged", "baseline", "restricted")
VERSION_PATTERN = re.compile(r"v1\.(0|[1-9][0-9]*)")


@dataclass(frozen=True)
class Violation:
    """One field the admission controller refuses: check id, where (path parts), why."""

    check: str  # upstream check id, e.g. "runAsNonRoot"
    parts: Parts  # path of the offending field inside the object
    message: str  # names the object, the container and the value
    hint: str

    @property
    def path(self) -> str:
        out = "$"
        for part in self.parts:
            if isinstance(part, int):
                out += f"[{part}]"
            elif re.fullmatch(r"[A-Za-z0-9_-]+", part):
                out += f".{part}"
            else:
                out += "['" + part.replace("'", "\\'") + "']"
        return out


# -- the pod as the checks see it ----------------------------------------------------------


@dataclass(frozen=True)
class Container:
    obj: dict[str, Any]
    parts: Parts
    label: str  # 'container "api"', 'init container "setup"', 'template "x" container "main"'
    name: str

    def security(self) -> dict[str, Any] | None:
        value = self.obj.get("securityContext")
        return value if isinstance(value, dict) else None

    def security_value(self, key: str) -> Any:
        context = self.security()
        return None if context is None else context.get(key)


@dataclass(frozen=True)
class Pod:
    """Pod-level fields and containers of one pod, each with its path inside the object."""

    subject: str  # 'Deployment web' or 'WorkflowTemplate build: template "main"'
    spec_parts: Parts  # where pod-level fields go when they are not set
    fields: dict[str, tuple[Any, Parts]]  # securityContext, hostNetwork, hostPID, hostIPC, ...
    annotations: dict[str, tuple[Any, Parts]]
    volumes: list[tuple[dict[str, Any], Parts]]
    containers: list[Container]

    def value(self, key: str) -> Any:
        found = self.fields.get(key)
        return None if found is None else found[0]

    def where(self, key: str, *more: str | int) -> Parts:
        found = self.fields.get(key)
        base = found[1] if found is not None else (*self.spec_parts, key)
        return (*base, *more)

    def security(self) -> dict[str, Any] | None:
        value = self.value("securityContext")
        return value if isinstance(value, dict) else None

    def security_value(self, key: str) -> Any:
        context = self.security()
        return None if context is None else context.get(key)

    @property
    def windows(self) -> bool:
        os = self.value("os")
        return isinstance(os, dict) and os.get("name") == "windows"

    @property
    def user_namespace(self) -> bool:
        """``hostUsers: false``: the pod runs in its own user namespace (KEP-127)."""
        return self.value("hostUsers") is False


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _name(obj: dict[str, Any], default: str = "(unnamed)") -> str:
    value = obj.get("name")
    return value if isinstance(value, str) and value else default


CONTAINER_FIELDS = (
    ("initContainers", "init container"),
    ("containers", "container"),
    ("ephemeralContainers", "ephemeral container"),
)
POD_FIELDS = ("securityContext", "hostNetwork", "hostPID", "hostIPC", "hostUsers", "os")


def _pod_from_template(subject: str, template: dict[str, Any], base: Parts) -> Pod | None:
    spec = template.get("spec")
    if not isinstance(spec, dict):
        return None
    annotations = _dict(_dict(template.get("metadata")).get("annotations"))
    return Pod(
        subject=subject,
        spec_parts=(*base, "spec"),
        fields={k: (spec[k], (*base, "spec", k)) for k in POD_FIELDS if k in spec},
        annotations={
            str(k): (v, (*base, "metadata", "annotations", str(k))) for k, v in annotations.items()
        },
        volumes=[
            (v, (*base, "spec", "volumes", i))
            for i, v in enumerate(_list(spec.get("volumes")))
            if isinstance(v, dict)
        ],
        containers=[
            Container(c, (*base, "spec", key, i), f'{label} "{_name(c)}"', _name(c, ""))
            for key, label in CONTAINER_FIELDS
            for i, c in enumerate(_list(spec.get(key)))
            if isinstance(c, dict)
        ],
    )


def _merged(defaults: Any, value: Any) -> Any:
    """*value* over *defaults*, maps merged key by key (Argo's templateDefaults)."""
    if isinstance(defaults, dict) and isinstance(value, dict):
        out = dict(defaults)
        for key, item in value.items():
            out[key] = _merged(defaults.get(key), item)
        return out
    return defaults if value is None else value


WORKFLOW_MAIN = (("container", None), ("script", None), ("containerSet", "containers"))


def _workflow_pods(subject: str, spec: dict[str, Any], base: Parts) -> Iterator[Pod]:
    defaults = _dict(spec.get("templateDefaults"))
    workflow_annotations = _dict(_dict(spec.get("podMetadata")).get("annotations"))
    for index, raw in enumerate(_list(spec.get("templates"))):
        if not isinstance(raw, dict):
            continue
        template = _merged(defaults, raw)
        here: Parts = (*base, "templates", index)
        name = _name(template)
        containers: list[Container] = []
        for key, label in (("initContainers", "init container"), ("sidecars", "sidecar")):
            for i, c in enumerate(_list(template.get(key))):
                if isinstance(c, dict):
                    containers.append(
                        Container(c, (*here, key, i), f'{label} "{_name(c)}"', _name(c))
                    )
        runs = False
        for key, nested in WORKFLOW_MAIN:
            value = template.get(key)
            if not isinstance(value, dict):
                continue
            runs = True
            if nested is None:
                cname = _name(value, "main")
                containers.append(Container(value, (*here, key), f'{key} "{cname}"', cname))
                continue
            for i, c in enumerate(_list(value.get(nested))):
                if isinstance(c, dict):
                    label = f'container "{_name(c)}"'
                    containers.append(Container(c, (*here, key, nested, i), label, _name(c)))
        if not runs:
            continue  # steps, dag, resource, suspend, http, plugin: no pod of the template's own
        fields: dict[str, tuple[Any, Parts]] = {}
        if "hostNetwork" in spec:
            fields["hostNetwork"] = (spec["hostNetwork"], (*base, "hostNetwork"))
        if template.get("securityContext") is not None:
            fields["securityContext"] = (template["securityContext"], (*here, "securityContext"))
        elif "securityContext" in spec:
            fields["securityContext"] = (spec["securityContext"], (*base, "securityContext"))
        annotations = {
            str(k): (v, (*base, "podMetadata", "annotations", str(k)))
            for k, v in workflow_annotations.items()
        }
        for k, v in _dict(_dict(template.get("metadata")).get("annotations")).items():
            annotations[str(k)] = (v, (*here, "metadata", "annotations", str(k)))
        volumes = [
            (v, (*base, "volumes", i))
            for i, v in enumerate(_list(spec.get("volumes")))
            if isinstance(v, dict)
        ] + [
            (v, (*here, "volumes", i))
            for i, v in enumerate(_list(template.get("volumes")))
            if isinstance(v, dict)
        ]
        yield Pod(f'{subject}: template "{name}"', base, fields, annotations, volumes, containers)


def pods_of(obj: dict[str, Any]) -> list[Pod]:
    """The pods an object creates (empty for kinds that carry none)."""
    metadata = _dict(obj.get("metadata"))
    subject = f"{obj.get('kind')} {_name(metadata)}"
    kinds = kind_list()
    entry = kinds.pod_kind(obj)
    if entry is not None:
        template = _dig(obj, entry.path)
        if not isinstance(template, dict):
            return []
        pod = _pod_from_template(subject, template, entry.path)
        return [pod] if pod is not None else []
    entry = kinds.workflow_kind(obj)
    if entry is not None:
        spec = _dig(obj, entry.path)
        return list(_workflow_pods(subject, spec, entry.path)) if isinstance(spec, dict) else []
    return []


def _dig(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


# -- the checks ----------------------------------------------------------------------------

Issue = tuple[Parts, str]  # (path, detail)
CheckFn = Callable[[Pod], Iterator[Issue]]


def _setters(pod: Pod, key: str) -> Iterator[tuple[str, Any, Parts]]:
    """(who, securityContext.<key> value, path) for the pod and every container that sets it."""
    context = pod.security()
    if context is not None and context.get(key) is not None:
        yield "pod", context[key], pod.where("securityContext", key)
    for c in pod.containers:
        context = c.security()
        if context is not None and context.get(key) is not None:
            yield c.label, context[key], (*c.parts, "securityContext", key)


def host_namespaces(pod: Pod) -> Iterator[Issue]:
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.value(key) is True:
            yield pod.where(key), f"{key}: true shares the node's namespace"


def privileged(pod: Pod) -> Iterator[Issue]:
    for c in pod.containers:
        if c.security_value("privileged") is True:
            yield (*c.parts, "securityContext", "privileged"), f"{c.label} is privileged"


BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)


def capabilities_baseline(pod: Pod) -> Iterator[Issue]:
    for c in pod.containers:
        added = _list(_dict(c.security_value("capabilities")).get("add"))
        for i, cap in enumerate(added):
            if not isinstance(cap, str) or cap not in BASELINE_CAPABILITIES:  # exact match
                where = (*c.parts, "securityContext", "capabilities", "add", i)
                yield where, f"{c.label} adds capability {cap!r}, which is not a default one"


def host_path_volumes(pod: Pod) -> Iterator[Issue]:
    for volume, parts in pod.volumes:
        if volume.get("hostPath") is not None:
            path = _dict(volume["hostPath"]).get("path", "")
            yield (*parts, "hostPath"), f'volume "{_name(volume)}" mounts hostPath {path!r}'


def host_ports(pod: Pod) -> Iterator[Issue]:
    # The API server defaults hostPort to containerPort in the Pods of a hostNetwork pod spec
    # (init and regular containers), so the Pods a template creates trip this check too.
    host_network = pod.value("hostNetwork") is True
    for c in pod.containers:
        defaulted = host_network and not c.label.startswith("ephemeral")
        for i, port in enumerate(_list(c.obj.get("ports"))):
            port = _dict(port)
            host_port = port.get("hostPort")
            where = (*c.parts, "ports", i, "hostPort")
            if host_port not in (None, 0):
                yield where, f"{c.label} uses hostPort {host_port}"
            elif defaulted and port.get("containerPort") not in (None, 0):
                yield (
                    where,
                    (
                        f"{c.label} gets hostPort {port['containerPort']} "
                        "(hostNetwork defaults it to the containerPort)"
                    ),
                )


APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def app_armor_profile(pod: Pod) -> Iterator[Issue]:
    for who, profile, parts in _setters(pod, "appArmorProfile"):
        kind = _dict(profile).get("type", "")
        if kind not in ("RuntimeDefault", "Localhost"):
            yield (*parts, "type"), f"{who} sets AppArmor profile type {kind!r}"
    for key, (value, parts) in sorted(pod.annotations.items()):
        if not key.startswith(APPARMOR_PREFIX):
            continue
        text = value if isinstance(value, str) else str(value)
        if not (text in ("", "runtime/default") or text.startswith("localhost/")):
            yield parts, f"annotation {key}={text!r} sets a forbidden AppArmor profile"


def se_linux_options(types: frozenset[str]) -> CheckFn:
    def check(pod: Pod) -> Iterator[Issue]:
        for who, options, parts in _setters(pod, "seLinuxOptions"):
            options = _dict(options)
            kind = options.get("type") or ""
            if not isinstance(kind, str) or kind not in types:
                yield (*parts, "type"), f"{who} sets seLinuxOptions.type {kind!r}"
            for key in ("user", "role"):
                if options.get(key):
                    yield (*parts, key), f"{who} sets seLinuxOptions.{key} {options[key]!r}"

    return check


SELINUX_TYPES_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
SELINUX_TYPES_1_31 = SELINUX_TYPES_1_0 | {"container_engine_t"}


def proc_mount(relax_user_namespace: bool) -> CheckFn:
    def check(pod: Pod) -> Iterator[Issue]:
        if relax_user_namespace and pod.user_namespace:
            return
        for c in pod.containers:
            value = c.security_value("procMount")
            if value is not None and value != "Default":
                where = (*c.parts, "securityContext", "procMount")
                yield where, f"{c.label} sets procMount {value!r}"

    return check


SECCOMP_TYPES = ("RuntimeDefault", "Localhost")
SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"


def _seccomp_annotation_ok(value: Any) -> bool:
    return value in ("runtime/default", "docker/default") or (
        isinstance(value, str) and value.startswith("localhost/")
    )


def seccomp_profile_baseline_1_0(pod: Pod) -> Iterator[Issue]:
    """Before v1.19 the seccomp annotations are what counts."""
    keys = [SECCOMP_POD_ANNOTATION] + [SECCOMP_CONTAINER_PREFIX + c.name for c in pod.containers]
    for key in dict.fromkeys(keys):
        if key in pod.annotations:
            value, parts = pod.annotations[key]
            if not _seccomp_annotation_ok(value):
                yield parts, f"annotation {key}={value!r} sets a forbidden seccomp profile"


def _bad_seccomp(pod: Pod) -> Iterator[tuple[str, Parts, str]]:
    for who, profile, parts in _setters(pod, "seccompProfile"):
        kind = _dict(profile).get("type", "")
        if kind not in SECCOMP_TYPES:
            yield who, (*parts, "type"), kind


def seccomp_profile_baseline(pod: Pod) -> Iterator[Issue]:
    for who, parts, kind in _bad_seccomp(pod):
        yield parts, f"{who} sets seccompProfile.type {kind!r}"


def sysctls(allowed: frozenset[str]) -> CheckFn:
    def check(pod: Pod) -> Iterator[Issue]:
        for i, sysctl in enumerate(_list(pod.security_value("sysctls"))):
            name = _dict(sysctl).get("name")
            if not isinstance(name, str) or name not in allowed:
                yield pod.where("securityContext", "sysctls", i, "name"), f"sysctl {name!r}"

    return check


SYSCTLS_1_0 = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    }
)
SYSCTLS_1_27 = SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
SYSCTLS_1_29 = SYSCTLS_1_27 | {
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SYSCTLS_1_32 = SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
SYSCTLS_1_37 = SYSCTLS_1_32 | {"net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat"}


def windows_host_process(pod: Pod) -> Iterator[Issue]:
    for who, options, parts in _setters(pod, "windowsOptions"):
        if _dict(options).get("hostProcess") is True:
            yield (*parts, "hostProcess"), f"{who} sets windowsOptions.hostProcess: true"


PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


def host_probes_and_host_lifecycle(pod: Pod) -> Iterator[Issue]:
    for c in pod.containers:
        handlers: list[tuple[Any, Parts]] = [(c.obj.get(p), (*c.parts, p)) for p in PROBES]
        lifecycle = _dict(c.obj.get("lifecycle"))
        handlers += [
            (lifecycle.get(h), (*c.parts, "lifecycle", h)) for h in ("postStart", "preStop")
        ]
        for handler, parts in handlers:
            for action in ("httpGet", "tcpSocket"):
                host = _dict(_dict(handler).get(action)).get("host")
                if host:
                    where = (*parts, action, "host")
                    yield where, f"{c.label} {parts[-1]}.{action} sets host {host!r}"


RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)


def restricted_volumes(pod: Pod) -> Iterator[Issue]:
    for volume, parts in pod.volumes:
        # A volume without a source is defaulted to emptyDir by the API server.
        sources = [k for k, v in volume.items() if k != "name" and v is not None]
        for source in sources:
            if source not in RESTRICTED_VOLUMES:
                yield (*parts, source), f'volume "{_name(volume)}" uses volume type {source}'


def _windows_exempt(check: CheckFn) -> CheckFn:
    """The v1.25 revision of a check: pods with spec.os.name windows are exempt."""

    def exempt(pod: Pod) -> Iterator[Issue]:
        if not pod.windows:
            yield from check(pod)

    return exempt


def allow_privilege_escalation(pod: Pod) -> Iterator[Issue]:
    for c in pod.containers:
        value = c.security_value("allowPrivilegeEscalation")
        if value is not False:
            shown = "unset" if value is None else repr(value)
            where = (*c.parts, "securityContext", "allowPrivilegeEscalation")
            yield where, f"{c.label} leaves allowPrivilegeEscalation {shown}; it must be false"


def run_as_non_root(relax_user_namespace: bool) -> CheckFn:
    def check(pod: Pod) -> Iterator[Issue]:
        if relax_user_namespace and pod.user_namespace:
            return
        explicit = [(who, parts) for who, v, parts in _setters(pod, "runAsNonRoot") if v is False]
        for who, parts in explicit:
            yield parts, f"{who} sets runAsNonRoot: false"
        if explicit:
            return
        if pod.security_value("runAsNonRoot") is True:
            return
        for c in pod.containers:
            if c.security_value("runAsNonRoot") is None:
                where = (*c.parts, "securityContext", "runAsNonRoot")
                detail = f"neither the pod nor {c.label} sets runAsNonRoot: true"
                uid = c.security_value("runAsUser")
                uid = pod.security_value("runAsUser") if uid is None else uid
                if uid:
                    detail += f" (runAsUser {uid} does not count)"
                yield where, detail

    return check


def run_as_user(relax_user_namespace: bool) -> CheckFn:
    def check(pod: Pod) -> Iterator[Issue]:
        if relax_user_namespace and pod.user_namespace:
            return
        for who, value, parts in _setters(pod, "runAsUser"):
            if value == 0 and not isinstance(value, bool):
                yield parts, f"{who} sets runAsUser: 0 (root)"

    return check


def seccomp_profile_restricted(pod: Pod) -> Iterator[Issue]:
    explicit = list(_bad_seccomp(pod))
    for who, parts, kind in explicit:
        yield parts, f"{who} sets seccompProfile.type {kind!r}"
    if explicit:
        return
    pod_profile = _dict(pod.security_value("seccompProfile"))
    if (
        pod.security_value("seccompProfile") is not None
        and pod_profile.get("type") in SECCOMP_TYPES
    ):
        return
    for c in pod.containers:
        if c.security_value("seccompProfile") is None:
            where = (*c.parts, "securityContext", "seccompProfile", "type")
            yield where, f"neither the pod nor {c.label} sets seccompProfile.type"


def capabilities_restricted(pod: Pod) -> Iterator[Issue]:
    for c in pod.containers:
        capabilities = c.security_value("capabilities")
        base = (*c.parts, "securityContext", "capabilities")
        if capabilities is None:
            yield (*base, "drop"), f'{c.label} does not drop capabilities; drop ["ALL"]'
            continue
        capabilities = _dict(capabilities)
        drop = _list(capabilities.get("drop"))
        if "ALL" not in drop:
            yield (*base, "drop"), f'{c.label} drops {drop} instead of ["ALL"]'
        for i, cap in enumerate(_list(capabilities.get("add"))):
            if cap != "NET_BIND_SERVICE":  # exact: "net_bind_service" fails too
                yield (*base, "add", i), f"{c.label} adds capability {cap!r}"


# -- the registry --------------------------------------------------------------------------


@dataclass(frozen=True)
class Revision:
    since: Version
    run: CheckFn
    overrides: tuple[str, ...] = ()  # baseline check ids this restricted revision replaces


@dataclass(frozen=True)
class Check:
    id: str
    level: str  # "baseline" or "restricted"
    revisions: tuple[Revision, ...]  # oldest first
    reason: str  # what the check is about, for messages
    hint: str

    def at(self, version: Version) -> Revision | None:
        found = None
        for revision in self.revisions:
            if revision.since <= version:
                found = revision
        return found


CHECKS: tuple[Check, ...] = (
    Check(
        "hostNamespaces",
        "baseline",
        (Revision((1, 0), host_namespaces),),
        "host namespaces",
        "remove hostNetwork/hostPID/hostIPC (or set them to false)",
    ),
    Check(
        "privileged",
        "baseline",
        (Revision((1, 0), privileged),),
        "privileged containers",
        "remove securityContext.privileged (or set it to false)",
    ),
    Check(
        "capabilities_baseline",
        "baseline",
        (Revision((1, 0), capabilities_baseline),),
        "non-default capabilities",
        "add only capabilities of the default set (AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, "
        "FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT)",
    ),
    Check(
        "hostPathVolumes",
        "baseline",
        (Revision((1, 0), host_path_volumes),),
        "hostPath volumes",
        "use an emptyDir, configMap, secret or persistentVolumeClaim volume instead of hostPath",
    ),
    Check(
        "hostPorts",
        "baseline",
        (Revision((1, 0), host_ports),),
        "host ports",
        "remove ports[].hostPort (or set it to 0) and reach the pod through a Service",
    ),
    Check(
        "appArmorProfile",
        "baseline",
        (Revision((1, 0), app_armor_profile),),
        "forbidden AppArmor profile",
        "use appArmorProfile.type RuntimeDefault or Localhost (annotation: runtime/default or "
        "localhost/<profile>)",
    ),
    Check(
        "seLinuxOptions",
        "baseline",
        (
            Revision((1, 0), se_linux_options(SELINUX_TYPES_1_0)),
            Revision((1, 31), se_linux_options(SELINUX_TYPES_1_31)),
        ),
        "seLinuxOptions",
        "leave seLinuxOptions.user and .role empty and type empty, container_t, "
        "container_init_t, container_kvm_t or container_engine_t",
    ),
    Check(
        "procMount",
        "baseline",
        (Revision((1, 0), proc_mount(False)), Revision((1, 35), proc_mount(True))),
        "procMount",
        "remove securityContext.procMount (or set it to Default)",
    ),
    Check(
        "seccompProfile_baseline",
        "baseline",
        (
            Revision((1, 0), seccomp_profile_baseline_1_0),
            Revision((1, 19), seccomp_profile_baseline),
        ),
        "seccompProfile",
        "use seccompProfile.type RuntimeDefault or Localhost",
    ),
    Check(
        "sysctls",
        "baseline",
        (
            Revision((1, 0), sysctls(SYSCTLS_1_0)),
            Revision((1, 27), sysctls(SYSCTLS_1_27)),
            Revision((1, 29), sysctls(SYSCTLS_1_29)),
            Revision((1, 32), sysctls(SYSCTLS_1_32)),
            Revision((1, 37), sysctls(SYSCTLS_1_37)),
        ),
        "forbidden sysctls",
        "set only the namespaced, safe sysctls the Pod Security Standards list",
    ),
    Check(
        "windowsHostProcess",
        "baseline",
        (Revision((1, 0), windows_host_process),),
        "hostProcess",
        "remove windowsOptions.hostProcess (or set it to false)",
    ),
    Check(
        "hostProbesAndHostLifecycle",
        "baseline",
        (Revision((1, 34), host_probes_and_host_lifecycle),),
        "probe or lifecycle host",
        "remove the host of httpGet/tcpSocket probes and lifecycle handlers (the pod IP is used)",
    ),
    Check(
        "restrictedVolumes",
        "restricted",
        (Revision((1, 0), restricted_volumes, ("hostPathVolumes",)),),
        "restricted volume types",
        "use only configMap, csi, downwardAPI, emptyDir, ephemeral, image, "
        "persistentVolumeClaim, projected or secret volumes",
    ),
    Check(
        "allowPrivilegeEscalation",
        "restricted",
        (
            Revision((1, 8), allow_privilege_escalation),
            Revision((1, 25), _windows_exempt(allow_privilege_escalation)),
        ),
        "allowPrivilegeEscalation != false",
        "set securityContext.allowPrivilegeEscalation: false on every container",
    ),
    Check(
        "runAsNonRoot",
        "restricted",
        (Revision((1, 0), run_as_non_root(False)), Revision((1, 35), run_as_non_root(True))),
        "runAsNonRoot != true",
        "set securityContext.runAsNonRoot: true on the pod (or on every container); "
        "a non-zero runAsUser does not count",
    ),
    Check(
        "runAsUser",
        "restricted",
        (Revision((1, 23), run_as_user(False)), Revision((1, 35), run_as_user(True))),
        "runAsUser=0",
        "run as a non-zero user id (or leave runAsUser unset and set runAsNonRoot: true)",
    ),
    Check(
        "seccompProfile_restricted",
        "restricted",
        (
            Revision((1, 19), seccomp_profile_restricted, ("seccompProfile_baseline",)),
            Revision(
                (1, 25),
                _windows_exempt(seccomp_profile_restricted),
                ("seccompProfile_baseline",),
            ),
        ),
        "seccompProfile",
        "set securityContext.seccompProfile.type: RuntimeDefault on the pod (or Localhost)",
    ),
    Check(
        "capabilities_restricted",
        "restricted",
        (
            Revision((1, 22), capabilities_restricted, ("capabilities_baseline",)),
            Revision((1, 25), _windows_exempt(capabilities_restricted), ("capabilities_baseline",)),
        ),
        "unrestricted capabilities",
        'set securityContext.capabilities.drop: ["ALL"] on every container and add at most '
        "NET_BIND_SERVICE",
    ),
    Check(
        "procMount_restricted",
        "restricted",
        (Revision((1, 35), proc_mount(False), ("procMount",)),),
        "procMount",
        "remove securityContext.procMount (or set it to Default), also with hostUsers: false",
    ),
)
CHECK_IDS = frozenset(check.id for check in CHECKS)
# The newest policy version: "latest", and any version above it, evaluate as this one.
LATEST: Version = max(r.since for check in CHECKS for r in check.revisions)


def parse_version(text: str) -> Version | None:
    """``latest`` or ``v1.N`` as (1, N), clamped to :data:`LATEST`; None if invalid."""
    if text == "latest":
        return LATEST
    match = VERSION_PATTERN.fullmatch(text)
    return min((1, int(match[1])), LATEST) if match else None


def format_version(version: Version) -> str:
    return f"v{version[0]}.{version[1]}"


@cache
def checks_for(level: str, version: Version) -> tuple[tuple[Check, Revision], ...]:
    """The checks *level* runs at *version*, baseline ones first (upstream's order)."""
    if level == "privileged":
        return ()
    active = [(check, check.at(version)) for check in CHECKS]
    running = [(c, r) for c, r in active if r is not None]
    baseline = [(c, r) for c, r in running if c.level == "baseline"]
    if level == "baseline":
        return tuple(baseline)
    restricted = [(c, r) for c, r in running if c.level == "restricted"]
    overridden = {id for _, r in restricted for id in r.overrides}
    return tuple([(c, r) for c, r in baseline if c.id not in overridden] + restricted)


def evaluate(
    obj: dict[str, Any], level: str, version: str = "latest", context: str = ""
) -> list[Violation]:
    """Every Pod Security violation of *obj* at *level* and policy *version*.

    *context* (where the level comes from) is added to the messages.

    Raises ValueError for a level or version the admission controller does not know (the
    caller decides what a bad namespace label means).
    """
    if level not in LEVELS:
        raise ValueError(f"unknown Pod Security level {level!r}; expected one of {LEVELS}")
    parsed = parse_version(version)
    if parsed is None:
        raise ValueError(f"unknown Pod Security version {version!r}; expected latest or v1.N")
    checks = checks_for(level, parsed)
    if not checks:
        return []
    shown = f"{level}:{version if version == 'latest' else format_version(parsed)}"
    if context:
        shown += f", {context}"
    out: list[Violation] = []
    seen: set[tuple[str, Parts]] = set()
    for pod in pods_of(obj):
        for check, revision in checks:
            for parts, detail in revision.run(pod):
                if (check.id, parts) in seen:
                    continue  # a field reached twice (templateDefaults merged into a template)
                seen.add((check.id, parts))
                message = f"{pod.subject}: {detail} ({check.reason}; Pod Security {shown})"
                out.append(Violation(check.id, parts, message, check.hint))
    return out


# -- which level applies: namespace labels in the render, else the configured default -------

LABEL_PREFIX = "pod-security.kubernetes.io/"
MODES = ("enforce", "audit", "warn")


@dataclass(frozen=True)
class NamespacePolicy:
    """The enforce level and version that admit the pods of one namespace."""

    level: str
    version: str  # "latest" or "v1.N", before clamping to the target cluster
    source: str  # where it came from, for messages: 'Namespace apps', 'the default'


def label_problems(labels: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(label key, problem) for pod-security labels the API server refuses on a Namespace."""
    for mode in MODES:
        level = labels.get(LABEL_PREFIX + mode)
        if level is not None and level not in LEVELS:
            yield LABEL_PREFIX + mode, f"level {level!r} is not one of {', '.join(LEVELS)}"
        version = labels.get(f"{LABEL_PREFIX}{mode}-version")
        if version is not None and (not isinstance(version, str) or not _known_version(version)):
            yield f"{LABEL_PREFIX}{mode}-version", f"version {version!r} is not latest or v1.N"


def _known_version(text: str) -> bool:
    return text == "latest" or VERSION_PATTERN.fullmatch(text) is not None


def policy_from_labels(
    labels: dict[str, Any], default: NamespacePolicy, source: str
) -> NamespacePolicy:
    """The enforce level and version *labels* select, as the admission controller reads them.

    A missing label takes the default's value; a bad level counts as restricted and a bad
    version as latest (the Namespace itself is refused: :func:`label_problems`).
    """
    level = labels.get(LABEL_PREFIX + "enforce")
    version = labels.get(LABEL_PREFIX + "enforce-version")
    if level is None and version is None:
        return default
    if level is None:
        level = default.level
    elif level not in LEVELS:
        level = "restricted"
    if version is None:
        version = default.version
    elif not isinstance(version, str) or not _known_version(version):
        version = "latest"
    return NamespacePolicy(str(level), str(version), source)


class Namespaces:
    """The Pod Security labels of the namespaces a run renders, and where objects land.

    A namespace's labels come from a Namespace object of the same scope (one kustomization's
    render), else from one elsewhere in the run, else from an Argo CD Application that creates
    it (``CreateNamespace=true`` with ``managedNamespaceMetadata.labels``). Objects without a
    namespace land in the destination namespace of the Application whose path rendered them.
    """

    def __init__(self, scope: Scope, run: Scope, default: NamespacePolicy) -> None:
        self.default = default
        self.scope = scope
        self.run = run
        self.destinations: dict[str, str] = {}  # Application source path -> namespace
        self.managed: dict[str, tuple[dict[str, Any], str]] = {}
        for app in run.by_kind.get("Application", ()):
            if app.group == "argoproj.io":
                self._application(app)

    def _application(self, app: Resource) -> None:
        spec = _dict(app.obj.get("spec"))
        namespace = _dict(spec.get("destination")).get("namespace")
        if not isinstance(namespace, str) or not namespace:
            return
        for source in [spec.get("source"), *_list(spec.get("sources"))]:
            path = _dict(source).get("path")
            if isinstance(path, str) and path.strip("/"):
                self.destinations.setdefault(path.strip("/"), namespace)
        sync = _dict(spec.get("syncPolicy"))
        if "CreateNamespace=true" in _list(sync.get("syncOptions")):
            labels = _dict(_dict(sync.get("managedNamespaceMetadata")).get("labels"))
            if labels:
                source = f"Application {app.name} (managedNamespaceMetadata)"
                self.managed.setdefault(namespace, (labels, source))

    def namespace_of(self, resource: Resource) -> str | None:
        if resource.namespace:
            return resource.namespace
        rendered = (resource.rendered_from or "").strip("/")
        return self.destinations.get(rendered) if rendered else None

    def _labels(self, name: str) -> tuple[dict[str, Any], str] | None:
        for scope in (self.scope, self.run):
            for namespace in scope.by_kind.get("Namespace", ()):
                if namespace.name == name and namespace.api_version == "v1":
                    labels = _dict(_dict(namespace.obj.get("metadata")).get("labels"))
                    return labels, f"Namespace {name}"
        return self.managed.get(name)

    def policy(self, resource: Resource) -> tuple[NamespacePolicy, str | None]:
        """(policy, namespace) for the pods of *resource*."""
        namespace = self.namespace_of(resource)
        found = self._labels(namespace) if namespace else None
        if found is None:
            return self.default, namespace
        labels, source = found
        return policy_from_labels(labels, self.default, source), namespace


def check_scope(scope: Scope, context: Context, report: Report) -> None:
    """``pod-security/<check id>``: every pod-bearing object at its namespace's level;
    ``pod-security/labels``: labels the API server refuses on a Namespace.

    The policy version is capped at the target cluster (``kubernetes-version``), as ``latest``
    is on that cluster.
    """
    options = context.options
    default = NamespacePolicy(
        options.pod_security_level, options.pod_security_version, "the default"
    )
    namespaces = Namespaces(scope, context.run_scope, default)
    server = parse_version(f"v{options.kubernetes_version}") or LATEST
    kinds = kind_list()
    for resource in scope.resources:
        if resource.kind in ("Namespace", "Application"):
            _label_findings(resource, report)
            continue
        if kinds.pod_kind(resource.obj) is None and kinds.workflow_kind(resource.obj) is None:
            continue
        policy, namespace = namespaces.policy(resource)
        if policy.level == "privileged":
            continue
        version = min(parse_version(policy.version) or LATEST, server)
        where = f"namespace {namespace}" if namespace else "no namespace"
        context_text = f"{where}, {policy.source}"
        for found in evaluate(resource.obj, policy.level, format_version(version), context_text):
            rule = f"pod-security/{found.check}"
            report(resource, "error", rule, found.message, found.parts, found.hint)


LABELS_HINT = (
    "pod-security.kubernetes.io/<enforce|audit|warn> takes privileged, baseline or restricted; "
    "<mode>-version takes latest or v1.N"
)


def _label_findings(resource: Resource, report: Report) -> None:
    if resource.kind == "Namespace" and resource.api_version == "v1":
        labels = _dict(_dict(resource.obj.get("metadata")).get("labels"))
        base: Parts = ("metadata", "labels")
        what = f"Namespace {resource.name}"
    elif resource.kind == "Application" and resource.group == "argoproj.io":
        sync = _dict(_dict(resource.obj.get("spec")).get("syncPolicy"))
        labels = _dict(_dict(sync.get("managedNamespaceMetadata")).get("labels"))
        base = ("spec", "syncPolicy", "managedNamespaceMetadata", "labels")
        what = f"Application {resource.name}: managedNamespaceMetadata"
    else:
        return
    for key, problem in label_problems(labels):
        message = f"{what}: label {key}: {problem}; the API server refuses such a Namespace"
        report(resource, "error", "pod-security/labels", message, (*base, key), LABELS_HINT)
