package main

import rego.v1

non_root_pod(pod_ctx, container_ctx) := {
	"apiVersion": "v1",
	"kind": "Pod",
	"metadata": {"name": "p"},
	"spec": {"securityContext": pod_ctx, "containers": [{"name": "c", "image": "i", "securityContext": container_ctx}]},
}

non_root_pod_level := non_root_pod({"runAsNonRoot": true}, {})

non_root_container_level := non_root_pod({}, {"runAsNonRoot": true})

non_root_uid_only := non_root_pod({"runAsUser": 10001}, {})

non_root_missing := non_root_pod({}, {})

non_root_uid_zero := non_root_pod({"runAsNonRoot": true}, {"runAsUser": 0})

non_root_container_overrides := non_root_pod({"runAsNonRoot": true}, {"runAsNonRoot": false})

test_non_root_pod_level_allowed if {
	count(deny_run_as_root) == 0 with input as non_root_pod_level
}

test_non_root_container_level_allowed if {
	count(deny_run_as_root) == 0 with input as non_root_container_level
}

test_non_root_uid_allowed if {
	count(deny_run_as_root) == 0 with input as non_root_uid_only
}

test_non_root_missing_denied if {
	deny_run_as_root == {{
		"msg": "Pod p: container \"c\" does not set runAsNonRoot: true (or a non-zero runAsUser)",
		"path": "$.spec.containers[0]",
	}} with input as non_root_missing
}

test_non_root_uid_zero_denied if {
	count(deny_run_as_root) == 1 with input as non_root_uid_zero
}

test_non_root_container_false_denied if {
	count(deny_run_as_root) == 1 with input as non_root_container_overrides
}
