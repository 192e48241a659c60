package main

import rego.v1

seccomp_pod(pod_ctx, container_ctx) := {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"securityContext": pod_ctx, "containers": [{"name": "c", "securityContext": container_ctx}]}}

seccomp_pod_runtime_default := seccomp_pod({"seccompProfile": {"type": "RuntimeDefault"}}, {})

seccomp_container_localhost := seccomp_pod({}, {"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}})

seccomp_unset := seccomp_pod({}, {})

seccomp_unconfined := seccomp_pod({"seccompProfile": {"type": "RuntimeDefault"}}, {"seccompProfile": {"type": "Unconfined"}})

test_runtime_default_allowed if {
	count(deny_seccomp) == 0 with input as seccomp_pod_runtime_default
}

test_localhost_allowed if {
	count(deny_seccomp) == 0 with input as seccomp_container_localhost
}

test_unset_denied if {
	some result in deny_seccomp with input as seccomp_unset
	contains(result.msg, "seccomp profile is unset")
}

test_unconfined_container_denied if {
	count(deny_seccomp) == 1 with input as seccomp_unconfined
}
