package main

import rego.v1

exempt_pod(annotations) := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": annotations}, "spec": {"containers": [{"name": "c", "image": "docker.io/library/busybox:1.36"}]}}

exempt_with_reason := exempt_pod({
	"policy.gitops.example.org/exempt": "image_registry, writable_root_fs",
	"policy.gitops.example.org/exempt-reason": "vendor debug image, removed after incident 42",
})

exempt_without_reason := exempt_pod({"policy.gitops.example.org/exempt": "image_registry"})

test_exception_lists_rules if {
	exception == {["image_registry", "writable_root_fs"]} with input as exempt_with_reason
}

test_no_exception_without_reason if {
	count(exception) == 0 with input as exempt_without_reason
}

test_missing_reason_denied if {
	count(deny_exemption_reason) == 1 with input as exempt_without_reason
}
